variable "region" {
  description = "AWS region (the shared stack's)."
  type        = string
  default     = "eu-west-2"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "environment" {
  description = "Environment this stack belongs to (the shared stack's, e.g. staging); empty: the one the shared state names. When given, a shared state of another environment is refused."
  type        = string
  default     = ""
  validation {
    condition     = var.environment == "" || (length(var.environment) <= 20 && can(regex("^[a-z]([a-z0-9]|-[a-z0-9])*$", var.environment)))
    error_message = "environment must be empty or 1-20 lower-case letters, digits or single inner hyphens, starting with a letter."
  }
}

variable "state_bucket" {
  description = "S3 bucket holding the shared stack's state (the same bucket as this stack's backend)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name."
  }
}

variable "shared_state_key" {
  description = "State key of the shared stack."
  type        = string
  default     = "shared/terraform.tfstate"
}

variable "stack_name" {
  description = "main (the default branch, served at /) or pr-<N> for pull request N (1-49999, served at /pr-N/)."
  type        = string
  validation {
    condition     = can(regex("^(main|pr-[1-9][0-9]{0,4})$", var.stack_name)) && (var.stack_name == "main" || try(tonumber(trimprefix(var.stack_name, "pr-")) < 50000, false))
    error_message = "stack_name must be main or pr-<N> with N between 1 and 49999 (N is the listener rule priority)."
  }
}

variable "image" {
  description = "Image to run (the pipeline passes the digest it built); empty: a placeholder, so a first apply succeeds."
  type        = string
  default     = ""
  validation {
    condition     = var.image == "" || can(regex("^[a-z0-9][a-z0-9._:/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$", var.image))
    error_message = "image must be empty or an image reference such as 123456789012.dkr.ecr.eu-west-2.amazonaws.com/repo@sha256:<digest> (lower-case repository, no spaces)."
  }
}

variable "app_version" {
  description = "Version string given to the app as APP_VERSION (e.g. the commit SHA)."
  type        = string
  default     = "unknown"
  validation {
    condition     = can(regex("^[A-Za-z0-9._+/:-]{1,128}$", var.app_version))
    error_message = "app_version must be 1-128 characters of letters, digits and . _ + / : - (e.g. a commit SHA)."
  }
}

variable "repository" {
  description = "GitHub repository (owner/name), recorded in tags."
  type        = string
  default     = "owner/name"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must be owner/name."
  }
}

variable "desired_count" {
  description = "Tasks at creation; autoscaling owns the count afterwards."
  type        = number
  default     = 2
  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 20
    error_message = "desired_count must be between 0 and 20."
  }
}

variable "min_count" {
  description = "Autoscaling minimum number of tasks."
  type        = number
  default     = 1
  validation {
    condition     = var.min_count >= 0 && var.min_count <= 20
    error_message = "min_count must be between 0 and 20."
  }
}

variable "max_count" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 4
  validation {
    condition     = var.max_count >= 1 && var.max_count <= 20
    error_message = "max_count must be between 1 and 20."
  }
}

variable "cpu" {
  description = "CPU units per task (1024 = one vCPU)."
  type        = number
  default     = 256
  validation {
    condition     = var.cpu >= 128 && var.cpu <= 4096
    error_message = "cpu must be between 128 and 4096 units."
  }
}

variable "memory" {
  description = "Memory per task in MiB (hard limit)."
  type        = number
  default     = 256
  validation {
    condition     = var.memory >= 64 && var.memory <= 8192
    error_message = "memory must be between 64 and 8192 MiB."
  }
}

variable "container_port" {
  description = "Port the app listens on in the container."
  type        = number
  default     = 8000
  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be a TCP port."
  }
}

variable "health_check_path" {
  description = "Health endpoint of the app (below the stack's path prefix)."
  type        = string
  default     = "/healthz"
  validation {
    condition     = can(regex("^/", var.health_check_path))
    error_message = "health_check_path must start with /."
  }
}
