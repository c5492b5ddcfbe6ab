variable "name" {
  description = "Name prefix for every resource (e.g. ecs-poc-main)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC; each subnet takes a /20 of it (public first, then private)."
  type        = string
  default     = "10.20.0.0/16"
  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 18
    error_message = "cidr_block must be a valid IPv4 CIDR of /18 or larger (room for four /20 subnets per AZ pair)."
  }
}

variable "availability_zones" {
  description = "Availability zones to span (the caller reads them from its region); one public and one private subnet in each."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "availability_zones must list 2 to 4 zones (an ALB needs at least two)."
  }
}

variable "single_nat_gateway" {
  description = "true: one NAT gateway for all private subnets (cheaper, one AZ's NAT is a single point of failure); false: one per AZ."
  type        = bool
  default     = false
}

variable "private_zone_name" {
  description = "Private Route53 zone associated with the VPC."
  type        = string
  default     = "myorg.local"
  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z0-9-]+\\.?$", var.private_zone_name))
    error_message = "private_zone_name must be a DNS name such as myorg.local."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of the values CloudWatch Logs accepts (e.g. 7, 30, 90, 365)."
  }
}

variable "flow_log_traffic_type" {
  description = "Which traffic the flow log records: ACCEPT, REJECT or ALL."
  type        = string
  default     = "ALL"
  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "permissions_boundary" {
  description = "ARN of the permissions boundary the VPC flow logs' role carries; null for none."
  type        = string
  default     = null
  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/", var.permissions_boundary))
    error_message = "permissions_boundary must be null or the ARN of a customer-managed IAM policy."
  }
}
