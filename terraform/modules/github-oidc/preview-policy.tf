# What a pull request's workflow may do: its own state, push the app image, and create or
# remove the per-PR resources (target group, listener rule, service, task definition, task
# roles bounded by the environment's boundary, autoscaling). Not the network, the cluster, the
# load balancer itself, or any other IAM.

data "aws_iam_policy_document" "preview" {
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
    resources = ["${local.state_bucket}/preview/*"]
  }

  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "EcrPushPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
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
    resources = [local.repository_arn]
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
    resources = [for n in local.preview_names : "${local.elb_prefix}:targetgroup/${n}/*"]
  }
  statement {
    sid       = "RulesOnSharedListeners"
    actions   = ["elasticloadbalancing:CreateRule"]
    resources = ["${local.elb_prefix}:listener/app/${local.base}/*"]
  }
  statement {
    sid = "OwnRules"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = ["${local.elb_prefix}:listener-rule/app/${local.base}/*"]
  }

  statement {
    sid = "TaskDefinitions"
    # Register/Deregister/DescribeTaskDefinition have no resource-level permissions.
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
      "ecs:ListTagsForResource",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateService",
    ]
    resources = concat(
      [for n in local.preview_names : "arn:${local.part}:ecs:${local.region}:${local.account}:service/${local.base}/${n}"],
      [for n in local.preview_names : "arn:${local.part}:ecs:${local.region}:${local.account}:task-definition/${n}:*"],
    )
  }
  statement {
    sid     = "WatchRollouts"
    actions = ["ecs:DescribeTasks", "ecs:ListTasks"]
    # ListTasks is authorised against container instances, DescribeTasks against tasks.
    resources = [
      "arn:${local.part}:ecs:${local.region}:${local.account}:task/${local.base}/*",
      "arn:${local.part}:ecs:${local.region}:${local.account}:container-instance/${local.base}/*",
    ]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }

  statement {
    sid       = "CreateBoundedTaskRoles"
    actions   = ["iam:CreateRole", "iam:PutRolePolicy"]
    resources = [for n in local.preview_names : "arn:${local.part}:iam::${local.account}:role/${n}"]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }
  statement {
    sid = "ManageOwnTaskRoles"
    actions = [
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [for n in local.preview_names : "arn:${local.part}:iam::${local.account}:role/${n}"]
  }
  statement {
    sid       = "PassOwnTaskRolesToEcs"
    actions   = ["iam:PassRole"]
    resources = [for n in local.preview_names : "arn:${local.part}:iam::${local.account}:role/${n}"]
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
      "arn:${local.part}:iam::${local.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
      "arn:${local.part}:iam::${local.account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService",
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
    resources = [for n in local.preview_names : "arn:${local.part}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-service/${local.base}/${n}-*"]
  }

  statement {
    sid       = "ReadAppLogs"
    actions   = ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["${local.app_log_group}:*"]
  }
}

resource "aws_iam_role_policy" "preview" {
  name   = "deploy-preview-stacks"
  role   = aws_iam_role.preview.id
  policy = data.aws_iam_policy_document.preview.json
}

# Pull requests show the shared stack's plan: read-only, plus its lock object.
resource "aws_iam_role_policy" "preview_plan_shared" {
  name   = "plan-shared-stack"
  role   = aws_iam_role.preview.id
  policy = data.aws_iam_policy_document.shared_read.json
}
