variable "name" {
  description = "Service name, also the task family, target group and role prefix (e.g. ecs-poc-pr-12)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens (a target group name is at most 32)."
  }
}

variable "region" {
  description = "AWS region (for the awslogs driver)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster the service runs on."
  type        = string
}

variable "capacity_provider_name" {
  description = "Capacity provider that places the tasks: the EC2 cluster's (which scales its instances), or FARGATE / FARGATE_SPOT."
  type        = string
}

variable "fargate" {
  description = "Run on Fargate with awsvpc networking and an ip target group (previews); false: EC2 with bridge networking, dynamic host ports and an instance target group (production)."
  type        = bool
  default     = false
}

variable "subnet_ids" {
  description = "Subnets of the tasks' interfaces (Fargate only; the private subnets)."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the tasks' interfaces (Fargate only)."
  type        = list(string)
  default     = []
}

variable "listener_arn" {
  description = "ALB listener that receives the service's listener rule."
  type        = string
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB, for request-count autoscaling."
  type        = string
}

variable "listener_priority" {
  description = "Priority of the listener rule; unique per listener (1-50000, lower wins)."
  type        = number
  validation {
    condition     = var.listener_priority >= 1 && var.listener_priority <= 50000 && floor(var.listener_priority) == var.listener_priority
    error_message = "listener_priority must be a whole number between 1 and 50000."
  }
}

variable "path_prefix" {
  description = "Path the service is served under, e.g. /pr-12 (sent to the app as SCRIPT_NAME); empty serves /."
  type        = string
  default     = ""
  validation {
    condition     = var.path_prefix == "" || can(regex("^/[A-Za-z0-9._-]+$", var.path_prefix))
    error_message = "path_prefix must be empty or one path segment such as /pr-12."
  }
}

variable "host_header" {
  description = "Host name that routes to the service (host-based routing); empty: path-based routing only."
  type        = string
  default     = ""
  validation {
    condition     = var.host_header == "" || can(regex("^[a-z0-9.-]+$", var.host_header))
    error_message = "host_header must be empty or a lower-case host name."
  }
}

variable "image" {
  description = "Container image (the pipeline passes a digest). Empty: a small placeholder that answers 200 so a first apply succeeds before any image exists."
  type        = string
  default     = ""
}

variable "placeholder_image" {
  description = "Image used while image is empty."
  type        = string
  default     = "public.ecr.aws/docker/library/python:3.13-alpine"
}

variable "app_version" {
  description = "Version string given to the app as APP_VERSION."
  type        = string
  default     = "unknown"
}

variable "container_name" {
  description = "Name of the app container in the task definition."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the app listens on inside the container."
  type        = number
  default     = 8000
  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be a TCP port."
  }
}

variable "cpu" {
  description = "CPU units reserved for the container (1024 = one vCPU); on Fargate the task gets the smallest Fargate size that holds it."
  type        = number
  default     = 256
  validation {
    condition     = var.cpu >= 128 && var.cpu <= 10240
    error_message = "cpu must be between 128 and 10240 units."
  }
}

variable "memory" {
  description = "Hard memory limit of the container in MiB."
  type        = number
  default     = 256
  validation {
    condition     = var.memory >= 64 && var.memory <= 30720
    error_message = "memory must be between 64 and 30720 MiB."
  }
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL; must exceed the app's graceful shutdown (gunicorn: 20 s, GRACEFUL_TIMEOUT)."
  type        = number
  default     = 40
  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds."
  }
}

variable "environment" {
  description = "Extra environment variables for the container (never secrets: they are visible in the task definition)."
  type        = map(string)
  default     = {}
}

variable "desired_count" {
  description = "Tasks at creation; afterwards autoscaling owns the count."
  type        = number
  default     = 2
  validation {
    condition     = var.desired_count >= 0
    error_message = "desired_count must be 0 or more."
  }
}

variable "min_count" {
  description = "Autoscaling minimum number of tasks."
  type        = number
  default     = 1
  validation {
    condition     = var.min_count >= 0
    error_message = "min_count must be 0 or more."
  }
}

variable "max_count" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 4
  validation {
    condition     = var.max_count >= 1
    error_message = "max_count must be 1 or more."
  }
}

variable "cpu_target" {
  description = "Target average CPU utilisation (percent) for autoscaling."
  type        = number
  default     = 60
  validation {
    condition     = var.cpu_target >= 10 && var.cpu_target <= 90
    error_message = "cpu_target must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute for autoscaling."
  type        = number
  default     = 3000
  validation {
    condition     = var.requests_per_target >= 1
    error_message = "requests_per_target must be positive."
  }
}

variable "health_check_path" {
  description = "Path the load balancer probes; it must answer 200 without the path prefix rewriting."
  type        = string
  default     = "/healthz"
  validation {
    condition     = can(regex("^/", var.health_check_path))
    error_message = "health_check_path must start with /."
  }
}

variable "deregistration_delay" {
  description = "Seconds the load balancer drains a stopping task (AWS default 300 is the main cause of slow deploys)."
  type        = number
  default     = 15
  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 30
    error_message = "deregistration_delay must be between 0 and 30 seconds for fast deploys."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group of the container logs."
  type        = string
}

variable "log_group_arn" {
  description = "ARN of that log group (scopes the execution role's write permission)."
  type        = string
}

variable "log_stream_prefix" {
  description = "awslogs stream prefix: streams are PREFIX/CONTAINER/TASK_ID."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull from."
  type        = string
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the execution and task roles (the preview deploy role may only create roles that carry it); null for none."
  type        = string
  default     = null
}
