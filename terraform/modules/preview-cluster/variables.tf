variable "name" {
  description = "Name of the preview ECS cluster, also the prefix of its security group (e.g. ecs-poc-main-previews)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,253}[a-z0-9]$", var.name))
    error_message = "name must be lower-case letters, digits and hyphens."
  }
}

variable "vpc_id" {
  description = "VPC the preview tasks run in."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the preview load balancer: the only source allowed to reach preview tasks."
  type        = string
}

variable "container_port" {
  description = "Port preview containers listen on (the only port the load balancer may reach)."
  type        = number
  default     = 8000
  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be a TCP port."
  }
}

variable "default_capacity_provider" {
  description = "Capacity provider of services that name none: FARGATE, or FARGATE_SPOT (about 70 % cheaper, may be interrupted)."
  type        = string
  default     = "FARGATE"
  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.default_capacity_provider)
    error_message = "default_capacity_provider must be FARGATE or FARGATE_SPOT."
  }
}
