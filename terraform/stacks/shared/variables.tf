variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-2"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "availability_zones" {
  description = "Availability zones the network spans (2 to 4, for the load balancer); empty: the region's first az_count zones in name order (eu-west-2a and eu-west-2b in London)."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.availability_zones) == 0 || (length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4 && length(distinct(var.availability_zones)) == length(var.availability_zones))
    error_message = "availability_zones must be empty (the region's own zones) or list 2 to 4 distinct zones."
  }
}

variable "az_count" {
  description = "How many of the region's availability zones the network spans when availability_zones is empty (2 to 4; each zone adds a NAT gateway unless single_nat_gateway)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 4 (a load balancer needs two zones)."
  }
}

variable "name" {
  description = "Project name: the prefix of every resource name."
  type        = string
  default     = "ecs-poc"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.name))
    error_message = "name must be 2-12 lower-case letters, digits or hyphens, starting with a letter (it prefixes names limited to 32 characters)."
  }
}

variable "environment" {
  description = "Environment this shared stack serves (one per account/region, e.g. staging or production; main when the repository has one environment)."
  type        = string
  default     = "main"
  validation {
    condition     = length(var.environment) <= 20 && can(regex("^[a-z]([a-z0-9]|-[a-z0-9])*$", var.environment)) && length("${var.name}-${var.environment}") <= 21
    error_message = "environment must be 1-20 lower-case letters, digits or single inner hyphens, starting with a letter, and <name>-<environment> at most 21 characters (it prefixes load balancer and target group names, limited to 32 by AWS)."
  }
}

variable "repository" {
  description = "GitHub repository (owner/name) this environment deploys, recorded in tags."
  type        = string
  default     = "owner/name"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must be owner/name."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  type        = string
  default     = "10.20.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (saves about $35/month, loses egress when that AZ fails)."
  type        = bool
  default     = false
}

variable "private_zone_name" {
  description = "Private Route53 zone associated with the VPC."
  type        = string
  default     = "myorg.local"
  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z0-9-]+$", var.private_zone_name))
    error_message = "private_zone_name must be a DNS name without trailing dot, such as myorg.local."
  }
}

variable "service_record_name" {
  description = "Record in the private zone that points at the load balancer (hello -> hello.myorg.local)."
  type        = string
  default     = "hello"
  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.service_record_name))
    error_message = "service_record_name must be one DNS label."
  }
}

variable "preview_domain" {
  description = "Public domain for host-based preview routing (pr-12.<domain>); empty: path-based (/pr-12/)."
  type        = string
  default     = ""
  validation {
    condition     = var.preview_domain == "" || can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.preview_domain))
    error_message = "preview_domain must be empty or a DNS name such as preview.example.com."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (covering preview_domain and *.preview_domain) for an HTTPS listener; empty: HTTP only."
  type        = string
  default     = ""
  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the container instances."
  type        = string
  default     = "t3.small"
}

variable "asg_min_size" {
  description = "Minimum number of container instances."
  type        = number
  default     = 1
  validation {
    condition     = var.asg_min_size >= 0
    error_message = "asg_min_size must be 0 or more."
  }
}

variable "asg_max_size" {
  description = "Maximum number of container instances."
  type        = number
  default     = 4
  validation {
    condition     = var.asg_max_size >= 1
    error_message = "asg_max_size must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Retention of the container and flow log groups, in days."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 7, 30, 90, 365)."
  }
}

variable "pr_image_expiry_days" {
  description = "Days after which every image in the preview repository expires (production's repository expires only untagged images)."
  type        = number
  default     = 14
  validation {
    condition     = var.pr_image_expiry_days >= 1
    error_message = "pr_image_expiry_days must be at least 1."
  }
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the repository even when it holds images."
  type        = bool
  default     = false
}

variable "preview_container_port" {
  description = "Port preview containers listen on; the preview tasks' security group admits the preview load balancer on it only."
  type        = number
  default     = 8000
  validation {
    condition     = var.preview_container_port >= 1 && var.preview_container_port <= 65535
    error_message = "preview_container_port must be a TCP port."
  }
}

variable "preview_capacity_provider" {
  description = "Default capacity provider of the preview cluster: FARGATE, or FARGATE_SPOT (about 70 % cheaper, tasks may be interrupted)."
  type        = string
  default     = "FARGATE"
  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.preview_capacity_provider)
    error_message = "preview_capacity_provider must be FARGATE or FARGATE_SPOT."
  }
}
