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
    condition     = length(var.environment) <= 20 && can(regex("^[a-z]([a-z0-9]|-[a-z0-9])*$", var.environment)) && length("${var.name}-${var.environment}") <= 21
    error_message = "environment must be 1-20 lower-case letters, digits or single inner hyphens, starting with a letter, and <name>-<environment> at most 21 characters."
  }
}

variable "previews" {
  description = "Create the preview role, which pull requests assume to deploy preview stacks; false for an environment without previews (e.g. production): no preview role, no preview task boundary, and the shared role names no preview resource."
  type        = bool
  default     = true
}

variable "github_environment" {
  description = "GitHub environment whose jobs alone may assume the shared role (sub repo:OWNER/NAME:environment:<name>), never a pull request's or a branch's token; empty: the default branch's ref."
  type        = string
  default     = ""
  validation {
    condition     = var.github_environment == "" || can(regex("^[A-Za-z0-9_.-]{1,100}$", var.github_environment))
    error_message = "github_environment must be empty or a GitHub environment name of 1-100 letters, digits, '.', '_' or '-'."
  }
}

variable "promotion_targets" {
  description = "GitHub environments that promote from this one (at most 3): their jobs may assume the read-only <name>-<environment>-promote-source role; empty: no such role."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.promotion_targets) <= 3 && alltrue([for t in var.promotion_targets : can(regex("^[A-Za-z0-9_.-]{1,100}$", t))]) && length(distinct(var.promotion_targets)) == length(var.promotion_targets)
    error_message = "promotion_targets must list at most 3 distinct GitHub environment names of 1-100 letters, digits, '.', '_' or '-'."
  }
}

variable "region" {
  description = "Region the deploy roles may act in (the environment's)."
  type        = string
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,39}/[A-Za-z0-9_.-]{1,100}$", var.repository))
    error_message = "repository must be owner/name (owner up to 39 characters, name up to 100), e.g. octo-org/ecs-poc."
  }
}

variable "default_branch" {
  description = "Branch whose workflows may assume the shared (environment) role."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,100}$", var.default_branch))
    error_message = "default_branch must be a branch name of at most 100 characters."
  }
}

variable "state_bucket_name" {
  description = "S3 bucket of the terraform state."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "private_zone_name" {
  description = "Private Route53 zone of the shared stack: the shared role may change records only at or under this name."
  type        = string
  default     = "myorg.local"
  validation {
    condition     = length(var.private_zone_name) <= 100 && can(regex("^([a-z0-9-]+\\.)+[a-z0-9-]+$", var.private_zone_name))
    error_message = "private_zone_name must be a DNS name of at most 100 characters without trailing dot, such as myorg.local."
  }
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
