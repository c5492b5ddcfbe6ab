locals {
  base    = "${var.name}-${var.environment}"
  account = data.aws_caller_identity.current.account_id
  part    = data.aws_partition.current.partition
  region  = var.region
  issuer  = "token.actions.githubusercontent.com"

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn

  # IAM compares condition values case-sensitively while GitHub keeps the owner's case in
  # `sub`: accept the spelling given and its lower-case form.
  repos       = distinct([var.repository, lower(var.repository)])
  default_ref = "ref:refs/heads/${var.default_branch}"
  # A job that names a GitHub environment gets `repo:OWNER/NAME:environment:ENV` as its sub,
  # whatever its ref or event: with github_environment set, the shared role trusts that alone,
  # so neither a pull request's token nor a branch's can assume it, and the environment's
  # protection rules (deployment branches, reviewers) decide which jobs get it.
  shared_subs = (var.github_environment != ""
    ? [for r in local.repos : "repo:${r}:environment:${var.github_environment}"]
    : [for r in local.repos : "repo:${r}:${local.default_ref}"]
  )
  preview_subs = concat([for r in local.repos : "repo:${r}:pull_request"], local.shared_subs)
  # Jobs of the environments this one promotes into read its main service and images.
  promote_subs = flatten([for t in var.promotion_targets : [for r in local.repos : "repo:${r}:environment:${t}"]])
  trusts = merge(
    { shared = local.shared_subs },
    var.previews ? { preview = local.preview_subs } : {},
    length(var.promotion_targets) > 0 ? { promote-source = local.promote_subs } : {},
  )
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
  for_each = local.trusts
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
  count                = var.previews ? 1 : 0
  name                 = "${local.base}-deploy-preview"
  description          = "GitHub Actions of ${var.repository}: deploy and destroy preview stacks of ${local.base}"
  assume_role_policy   = data.aws_iam_policy_document.trust["preview"].json
  max_session_duration = var.max_session_duration
}

moved {
  from = aws_iam_role.preview
  to   = aws_iam_role.preview[0]
}

resource "aws_iam_role" "shared" {
  name                 = "${local.base}-deploy-shared"
  description          = "GitHub Actions of ${var.repository} ${var.github_environment != "" ? "in environment ${var.github_environment}" : "on ${var.default_branch}"}: apply the shared stack of ${local.base}"
  assume_role_policy   = data.aws_iam_policy_document.trust["shared"].json
  max_session_duration = var.max_session_duration
}
