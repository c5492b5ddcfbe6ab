terraform {
  # S3-native state locking (use_lockfile) needs 1.10.
  required_version = ">= 1.10"

  # Partial configuration: bucket, key (preview/<stack>.tfstate), region and use_lockfile=true
  # come from -backend-config (see terraform/README.md).
  backend "s3" {}

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
    tags = local.tags
  }
}
