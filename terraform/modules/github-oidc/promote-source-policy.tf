# What promotion reads in this (the source) environment: jobs of the environments listed in
# promotion_targets (e.g. production, in its own account) assume this role to check that the
# default branch's service `main` rolled out, find the image digest it runs, and pull that image
# to copy it into their own registry. Read-only: no ECS, ECR, state or IAM write of any kind.

locals {
  main_service_arn = "arn:${local.part}:ecs:${local.region}:${local.account}:service/${local.base}/${local.base}-main"
}

data "aws_iam_policy_document" "promote_source" {
  statement {
    sid       = "ReadMainService"
    actions   = ["ecs:DescribeServices"]
    resources = [local.main_service_arn]
  }
  statement {
    sid = "ReadTaskDefinitions"
    # DescribeTaskDefinition has no resource-level permissions.
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid = "RegistryLogin"
    # GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "PullMainImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [local.repository_arn]
  }
  statement {
    # The main stack's outputs (cluster, service, repository names) without a lock.
    sid       = "ReadMainState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket}/preview/main.tfstate"]
  }
}

resource "aws_iam_role" "promote_source" {
  count                = length(var.promotion_targets) > 0 ? 1 : 0
  name                 = "${local.base}-promote-source"
  description          = "GitHub Actions of ${var.repository} in ${join(", ", var.promotion_targets)}: read ${local.base}-main and pull its images to promote them"
  assume_role_policy   = data.aws_iam_policy_document.trust["promote-source"].json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role_policy" "promote_source" {
  count  = length(var.promotion_targets) > 0 ? 1 : 0
  name   = "read-main-pull-images"
  role   = aws_iam_role.promote_source[0].id
  policy = data.aws_iam_policy_document.promote_source.json
}
