variable "name" {
  description = "Project name, as given to the shared stack."
  type        = string
  default     = "ecs-poc"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.name))
    error_message = "name must be 2-12 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, as given to the shared stack; resources are scoped to <name>-<environment>."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,7}$", var.environment))
    error_message = "environment must be 1-8 lower-case letters or digits, starting with a letter."
  }
}

variable "region" {
  description = "Region the deploy roles may act in."
  type        = string
  default     = "eu-west-2"
}

variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must be owner/name, e.g. octo-org/ecs-poc."
  }
}

variable "default_branch" {
  description = "Branch whose workflows may assume the shared (environment) role."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.default_branch))
    error_message = "default_branch must be a branch name."
  }
}

variable "state_bucket_name" {
  description = "S3 bucket of the terraform state."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC identity provider (an account has at most one); false: use oidc_provider_arn."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com provider, when create_oidc_provider is false."
  type        = string
  default     = ""
  validation {
    condition     = var.oidc_provider_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token.actions.githubusercontent.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be empty or the ARN of a token.actions.githubusercontent.com provider."
  }
}

variable "max_session_duration" {
  description = "Longest session (seconds) a workflow may request; deploys that wait long need more than the default hour."
  type        = number
  default     = 3600
  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}
