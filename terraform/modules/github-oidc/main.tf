locals {
  base    = "${var.name}-${var.environment}"
  account = data.aws_caller_identity.current.account_id
  part    = data.aws_partition.current.partition
  region  = var.region
  issuer  = "token.actions.githubusercontent.com"

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn

  # IAM compares condition values case-sensitively while GitHub keeps the owner's case in
  # `sub`: accept the spelling given and its lower-case form.
  repos          = distinct([var.repository, lower(var.repository)])
  default_ref    = "ref:refs/heads/${var.default_branch}"
  shared_subs    = [for r in local.repos : "repo:${r}:${local.default_ref}"]
  preview_subs   = concat([for r in local.repos : "repo:${r}:pull_request"], local.shared_subs)
  state_bucket   = "arn:${local.part}:s3:::${var.state_bucket_name}"
  repository_arn = "arn:${local.part}:ecr:${local.region}:${local.account}:repository/${local.base}"
  cluster_arn    = "arn:${local.part}:ecs:${local.region}:${local.account}:cluster/${local.base}"
  boundary_arn   = "arn:${local.part}:iam::${local.account}:policy/${local.base}-task-boundary"
  app_log_group  = "arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${var.name}/${var.environment}/app"
  elb_prefix     = "arn:${local.part}:elasticloadbalancing:${local.region}:${local.account}"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS no longer uses the thumbprint for this issuer (it trusts GitHub's CA); the API still
  # wants a syntactically valid one on older provider versions.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_policy_document" "trust" {
  for_each = { preview = local.preview_subs, shared = local.shared_subs }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "preview" {
  name                 = "${local.base}-deploy-preview"
  description          = "GitHub Actions of ${var.repository}: deploy and destroy preview stacks of ${local.base}"
  assume_role_policy   = data.aws_iam_policy_document.trust["preview"].json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role" "shared" {
  name                 = "${local.base}-deploy-shared"
  description          = "GitHub Actions of ${var.repository} on ${var.default_branch}: apply the shared stack of ${local.base}"
  assume_role_policy   = data.aws_iam_policy_document.trust["shared"].json
  max_session_duration = var.max_session_duration
}
