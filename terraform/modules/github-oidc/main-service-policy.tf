# The default branch's own service stack, `main` (terraform/stacks/preview with
# stack_name = main): deployed on the production cluster <base>, behind the production load
# balancer <base>, from the production repository <base>, by the shared role in the same run
# that applies the shared stack. Everything it creates is named <base>-main*; its task roles
# carry the task boundary. Teardown (`ecs-poc destroy main --force`) deletes its images.

data "aws_iam_policy_document" "shared_main_service" {
  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "ProductionImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchDeleteImage",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:ListImages",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [local.repository_arn]
  }
  statement {
    sid = "MainTargetGroups"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = ["${local.elb_prefix}:targetgroup/${local.base}-main*/*"]
  }
  statement {
    sid = "RulesOnTheProductionListeners"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = ["${local.elb_prefix}:listener/app/${local.base}/*", "${local.elb_prefix}:listener-rule/app/${local.base}/*"]
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
    sid = "MainService"
    actions = [
      "ecs:CreateService",
      "ecs:DeleteService",
      "ecs:DescribeServices",
      "ecs:ListTagsForResource",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateService",
    ]
    resources = [
      "${local.ecs_arn}:service/${local.base}/${local.base}-main*",
      "${local.ecs_arn}:task-definition/${local.base}-main*:*",
    ]
  }
  statement {
    sid     = "WatchRollouts"
    actions = ["ecs:DescribeTasks", "ecs:ListTasks"]
    # ListTasks is authorised against container instances, DescribeTasks against tasks.
    resources = ["${local.ecs_arn}:task/${local.base}/*", "${local.ecs_arn}:container-instance/${local.base}/*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    sid       = "CreateTaskRolesWithTheBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"]
    resources = [local.role_main]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }
  statement {
    sid = "ManageTaskRoles"
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
    resources = [local.role_main]
  }
  statement {
    sid       = "PassTaskRolesToEcs"
    actions   = ["iam:PassRole"]
    resources = [local.role_main]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
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
    resources = ["arn:${local.part}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-service/${local.base}/${local.base}-main*"]
  }
  statement {
    sid       = "ReadAppLogs"
    actions   = ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"]
    resources = ["${local.app_log_group}:*"]
  }
}
