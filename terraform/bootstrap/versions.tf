terraform {
  required_version = ">= 1.10"

  # Local state, kept by the administrator who applies this once (see README: it can be
  # migrated into the bucket it creates afterwards).

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = var.name
      Stack       = "bootstrap"
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = var.repository
    }
  }
}
