# Permissions boundaries: the most any role created by the deploy roles may ever do. They are
# created here, by the administrator who applies bootstrap, and neither deploy role may change
# or remove them (see the guardrails policy): a deploy role can only create roles that carry one.

locals {
  previews_name       = "${local.base}-previews"
  infra_boundary_name = "${local.base}-infra-boundary"
  # Built from the names (not the resources' attributes) so that every policy document is
  # known at plan time, where the quota test measures it.
  infra_boundary_arn = "${local.iam_arn}:policy/${local.infra_boundary_name}"
  # The production repository (<base>) and, with previews, the pull requests' one (<base>-previews).
  repository_arns = concat([local.repository_arn], var.previews ? ["${local.repository_arn}-previews"] : [])
  # Every log group of this environment: /<name>/<environment>/... (app and preview logs) and
  # /<base>/... (VPC flow logs).
  env_log_groups = [
    "arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${var.name}/${var.environment}/*",
    "arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${local.base}/*",
  ]
}

# ECS task and execution roles: production's (the default branch's stack `main`) pull from the
# production repository and write the production log group; the pull requests' pull from the
# preview repository and write the preview log group. The preview deploy role can create roles
# only with the preview boundary, so a pull request cannot mint a role that reaches production.
# An environment without previews has no preview boundary.
locals {
  task_boundaries = merge(
    {
      task = {
        repository = local.repository_arn
        log_group  = local.app_log_group
        of         = "production (default branch)"
      }
    },
    var.previews ? {
      preview-task = {
        repository = "${local.repository_arn}-previews"
        log_group  = "arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${var.name}/${var.environment}/previews"
        of         = "pull-request preview"
      }
    } : {},
  )
}

data "aws_iam_policy_document" "task_boundary" {
  for_each = local.task_boundaries
  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [each.value.repository]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value.log_group}:log-stream:*"]
  }
}

resource "aws_iam_policy" "task_boundary" {
  for_each    = local.task_boundaries
  name        = "${local.base}-${each.key}-boundary"
  description = "Permissions boundary of every ${each.value.of} ECS task and execution role in ${local.base}"
  policy      = data.aws_iam_policy_document.task_boundary[each.key].json
}

# The shared stack's infrastructure roles: the container instances' role (what the ECS agent
# needs on this environment's cluster) and the VPC flow logs' role.
data "aws_iam_policy_document" "infra_boundary" {
  statement {
    sid = "AgentUnscoped"
    # No resource-level permissions for these: AWS accepts only "*".
    actions   = ["ec2:DescribeTags", "ecr:GetAuthorizationToken", "ecs:DiscoverPollEndpoint"]
    resources = ["*"]
  }
  statement {
    sid = "AgentOnTheCluster"
    actions = [
      "ecs:DeregisterContainerInstance",
      "ecs:Poll",
      "ecs:RegisterContainerInstance",
      "ecs:StartTelemetrySession",
      "ecs:SubmitAttachmentStateChanges",
      "ecs:SubmitContainerStateChange",
      "ecs:SubmitTaskStateChange",
      "ecs:TagResource",
      "ecs:UpdateContainerInstancesState",
    ]
    resources = [local.cluster_arn, "arn:${local.part}:ecs:${local.region}:${local.account}:container-instance/${local.base}/*"]
  }
  statement {
    sid       = "AgentPullsImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [local.repository_arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [for g in local.env_log_groups : "${g}:*"]
  }
}

resource "aws_iam_policy" "infra_boundary" {
  name        = local.infra_boundary_name
  description = "Permissions boundary of the shared stack's infrastructure roles in ${local.base}"
  policy      = data.aws_iam_policy_document.infra_boundary.json
}
