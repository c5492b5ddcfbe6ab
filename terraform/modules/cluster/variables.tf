variable "name" {
  description = "Name of the ECS cluster, also the prefix of its autoscaling group, launch template and roles."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the instances."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the instances run in (one per AZ)."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "private_subnet_ids must name at least one subnet."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer: the only source allowed to reach the containers."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of the container instances."
  type        = string
  default     = "t3.small"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like t3.small."
  }
}

variable "min_size" {
  description = "Minimum number of container instances."
  type        = number
  default     = 1
  validation {
    condition     = var.min_size >= 0
    error_message = "min_size must be 0 or more."
  }
}

variable "max_size" {
  description = "Maximum number of container instances (managed scaling never goes above it)."
  type        = number
  default     = 4
  validation {
    condition     = var.max_size >= 1 && var.max_size <= 100
    error_message = "max_size must be between 1 and 100."
  }
}

variable "target_capacity" {
  description = "Capacity provider target utilisation in percent: 100 packs instances full, lower keeps headroom for fast task starts."
  type        = number
  default     = 90
  validation {
    condition     = var.target_capacity >= 1 && var.target_capacity <= 100
    error_message = "target_capacity must be between 1 and 100."
  }
}

variable "root_volume_size" {
  description = "Root volume size in GiB (the ECS-optimised AL2023 AMI needs at least 30)."
  type        = number
  default     = 30
  validation {
    condition     = var.root_volume_size >= 30
    error_message = "root_volume_size must be at least 30 GiB."
  }
}

variable "ami_ssm_parameter" {
  description = "SSM public parameter holding the ECS-optimised AMI ID."
  type        = string
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

variable "container_stop_timeout" {
  description = "Seconds the ECS agent waits after SIGTERM before SIGKILL when a task definition does not set stopTimeout."
  type        = number
  default     = 45
  validation {
    condition     = var.container_stop_timeout >= 2 && var.container_stop_timeout <= 120
    error_message = "container_stop_timeout must be between 2 and 120 seconds."
  }
}

variable "tags" {
  description = "Tags for resources that provider default_tags do not reach (instances and volumes launched by the autoscaling group)."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary" {
  description = "ARN of the permissions boundary the container instances' role carries; null for none."
  type        = string
  default     = null
  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/", var.permissions_boundary))
    error_message = "permissions_boundary must be null or the ARN of a customer-managed IAM policy."
  }
}
