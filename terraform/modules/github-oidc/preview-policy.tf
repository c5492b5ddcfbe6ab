# What the preview role, which pull requests assume, may do to deploy and tear down a preview
# stack: only resources named <name>-<environment>-pr-*, only in the Fargate preview cluster,
# only rules on the previews' load balancer, only the preview image repository, log group and
# task-role boundary, only preview/pr-* state. It may not touch the network, a cluster, a load
# balancer itself, or any other IAM; it may never update a role's trust policy (terraform needs
# that only when the trust changes, which no preview does), attach a managed policy, or change
# a boundary. Planning the shared stack (read-only, without a lock) comes from the managed
# read-shared-stack policy (shared-policy.tf); the default branch's own service stack from
# main-service-policy.tf.

locals {
  ecs_prefix  = "arn:${local.part}:ecs:${local.region}:${local.account}"
  iam_prefix  = "arn:${local.part}:iam::${local.account}"
  logs_prefix = "arn:${local.part}:logs:${local.region}:${local.account}:log-group"
  ecr_prefix  = "arn:${local.part}:ecr:${local.region}:${local.account}:repository"
  stack_scopes = {
    previews = {
      names         = ["${local.base}-pr-*"]
      cluster       = "${local.base}-previews"
      load_balancer = "${local.base}-pv"
      repository    = "${local.ecr_prefix}/${local.base}-previews"
      boundary      = "${local.iam_prefix}:policy/${local.base}-preview-task-boundary"
      log_group     = "${local.logs_prefix}:/${var.name}/${var.environment}/previews"
      state         = ["${local.state_bucket}/preview/pr-*"]
    }
  }
}

data "aws_iam_policy_document" "stack" {
  for_each = local.stack_scopes

  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket]
  }
  statement {
    sid       = "StateReadShared"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket}/shared/terraform.tfstate"]
  }
  statement {
    sid       = "StateOwn"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = each.value.state
  }

  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "EcrPushPullDelete"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchDeleteImage",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:ListImages",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [each.value.repository]
  }

  statement {
    sid = "LoadBalancerRead"
    # Elastic Load Balancing Describe* calls have no resource-level permissions.
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }
  statement {
    sid = "OwnTargetGroups"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = [for n in each.value.names : "${local.elb_prefix}:targetgroup/${n}/*"]
  }
  statement {
    sid       = "RulesOnOwnListeners"
    actions   = ["elasticloadbalancing:CreateRule"]
    resources = ["${local.elb_prefix}:listener/app/${each.value.load_balancer}/*"]
  }
  statement {
    sid = "OwnRules"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = ["${local.elb_prefix}:listener-rule/app/${each.value.load_balancer}/*"]
  }

  statement {
    sid = "TaskDefinitions"
    # Register/Deregister/DescribeTaskDefinition have no resource-level permissions (see the
    # security model in terraform/README.md for what that leaves open).
    actions = [
      "ecs:DeregisterTaskDefinition",
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitions",
      "ecs:RegisterTaskDefinition",
    ]
    resources = ["*"]
  }
  statement {
    sid = "OwnServices"
    actions = [
      "ecs:CreateService",
      "ecs:DeleteService",
      "ecs:DescribeServices",
      "ecs:UpdateService",
    ]
    resources = [for n in each.value.names : "${local.ecs_prefix}:service/${each.value.cluster}/${n}"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["${local.ecs_prefix}:cluster/${each.value.cluster}"]
    }
  }
  statement {
    sid = "TagOwnServicesAndTaskDefinitions"
    actions = [
      "ecs:ListTagsForResource",
      "ecs:TagResource",
      "ecs:UntagResource",
    ]
    resources = concat(
      [for n in each.value.names : "${local.ecs_prefix}:service/${each.value.cluster}/${n}"],
      [for n in each.value.names : "${local.ecs_prefix}:task-definition/${n}:*"],
    )
  }
  statement {
    sid     = "WatchRollouts"
    actions = ["ecs:DescribeTasks", "ecs:ListTasks"]
    # ListTasks is authorised against container instances, DescribeTasks against tasks.
    resources = [
      "${local.ecs_prefix}:task/${each.value.cluster}/*",
      "${local.ecs_prefix}:container-instance/${each.value.cluster}/*",
    ]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["${local.ecs_prefix}:cluster/${each.value.cluster}"]
    }
  }

  statement {
    sid       = "CreateBoundedTaskRoles"
    actions   = ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy"]
    resources = [for n in each.value.names : "${local.iam_prefix}:role/${n}"]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [each.value.boundary]
    }
  }
  statement {
    sid = "ManageOwnTaskRoles"
    # No iam:UpdateAssumeRolePolicy: a task role's trust (ecs-tasks.amazonaws.com) is set at
    # creation and never widened afterwards.
    actions = [
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [for n in each.value.names : "${local.iam_prefix}:role/${n}"]
  }
  statement {
    sid       = "PassOwnTaskRolesToEcs"
    actions   = ["iam:PassRole"]
    resources = [for n in each.value.names : "${local.iam_prefix}:role/${n}"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid     = "ServiceLinkedRoles"
    actions = ["iam:CreateServiceLinkedRole"]
    resources = [
      "${local.iam_prefix}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
      "${local.iam_prefix}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService",
    ]
  }

  statement {
    sid = "ServiceAutoscalingRead"
    # Application Auto Scaling Describe calls have no resource-level permissions.
    actions = [
      "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingActivities",
      "application-autoscaling:DescribeScalingPolicies",
    ]
    resources = ["*"]
  }
  statement {
    sid = "ServiceAutoscaling"
    # Scalable target ARNs carry random IDs assigned at registration, so this account and
    # region's scalable targets are the narrowest resource that can be named in advance.
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:ListTagsForResource",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:TagResource",
      "application-autoscaling:UntagResource",
    ]
    resources = ["arn:${local.part}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]
  }
  statement {
    sid       = "TargetTrackingAlarms"
    actions   = ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"]
    resources = [for n in each.value.names : "arn:${local.part}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-service/${each.value.cluster}/${n}-*"]
  }

  statement {
    sid       = "ReadAppLogs"
    actions   = ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["${each.value.log_group}:*"]
  }
}

resource "aws_iam_role_policy" "preview" {
  count  = var.previews ? 1 : 0
  name   = "deploy-preview-stacks"
  role   = aws_iam_role.preview[0].id
  policy = data.aws_iam_policy_document.stack["previews"].json
}

moved {
  from = aws_iam_role_policy.preview
  to   = aws_iam_role_policy.preview[0]
}
