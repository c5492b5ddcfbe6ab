data "aws_caller_identity" "current" {}

locals {
  # Bucket names are global: the account and region make the default unique, the environment
  # keeps two environments of one account and region apart. The environment main (a repository
  # with a single environment) keeps the name it always had.
  bucket_prefix = var.environment == "main" ? var.name : "${var.name}-${var.environment}"
  bucket        = var.state_bucket_name != "" ? var.state_bucket_name : "${local.bucket_prefix}-tfstate-${data.aws_caller_identity.current.account_id}-${var.region}"
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket (and its own logging); CloudTrail data events are the better audit trail for a state bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles the cost; versioning already keeps every state revision.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of a state bucket.
  bucket        = local.bucket
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    # SSE-KMS with the AWS-managed aws/s3 key: encrypted without a key to administer.
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state_tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = [
      aws_s3_bucket.state.arn,
      "${aws_s3_bucket.state.arn}/*",
    ]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = data.aws_iam_policy_document.state_tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

module "github_oidc" {
  source            = "../modules/github-oidc"
  name              = var.name
  environment       = var.environment
  region            = var.region
  repository        = var.repository
  default_branch    = var.default_branch
  private_zone_name = var.private_zone_name
  # The name, not the resource: the policies that name it are then known at plan time.
  state_bucket_name    = local.bucket
  create_oidc_provider = var.create_oidc_provider
  oidc_provider_arn    = var.oidc_provider_arn
  previews             = var.previews
  github_environment   = var.github_environment
  promotion_targets    = var.promotion_targets
}
