# What the default branch's workflow may do: apply the shared stack of this environment
# (network, cluster, load balancer, repository, logs, private zone, the task boundary). Writes
# are scoped to this account and region and, where AWS names resources, to <name>-<environment>.
# Read-only calls use Describe*/List*/Get* prefixes; no statement grants a whole service.

locals {
  ec2_any        = "arn:${local.part}:ec2:${local.region}:${local.account}:*"
  shared_roles   = ["arn:${local.part}:iam::${local.account}:role/${local.base}-instance", "arn:${local.part}:iam::${local.account}:role/${local.base}-flow-*"]
  log_groups     = ["arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${var.name}/${var.environment}/*", "arn:${local.part}:logs:${local.region}:${local.account}:log-group:/${local.base}/*"]
  ecs_agent_role = "arn:${local.part}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

data "aws_iam_policy_document" "shared" {
  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket]
  }
  statement {
    sid       = "StateOwn"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_bucket}/shared/*"]
  }
  statement {
    sid       = "StateReadPreviews"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket}/preview/*"]
  }

  statement {
    sid = "Network"
    actions = [
      "ec2:AllocateAddress",
      "ec2:AssociateRouteTable",
      "ec2:AttachInternetGateway",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:CreateFlowLogs",
      "ec2:CreateInternetGateway",
      "ec2:CreateNatGateway",
      "ec2:CreateRoute",
      "ec2:CreateRouteTable",
      "ec2:CreateSecurityGroup",
      "ec2:CreateSubnet",
      "ec2:CreateTags",
      "ec2:CreateVpc",
      "ec2:DeleteFlowLogs",
      "ec2:DeleteInternetGateway",
      "ec2:DeleteNatGateway",
      "ec2:DeleteRoute",
      "ec2:DeleteRouteTable",
      "ec2:DeleteSecurityGroup",
      "ec2:DeleteSubnet",
      "ec2:DeleteTags",
      "ec2:DeleteVpc",
      "ec2:DescribeVpcAttribute",
      "ec2:DetachInternetGateway",
      "ec2:DisassociateAddress",
      "ec2:DisassociateRouteTable",
      "ec2:ModifySecurityGroupRules",
      "ec2:ModifySubnetAttribute",
      "ec2:ModifyVpcAttribute",
      "ec2:ReleaseAddress",
      "ec2:ReplaceRoute",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    ]
    resources = [local.ec2_any]
  }

  statement {
    sid = "LaunchTemplatesAndInstances"
    actions = [
      "ec2:CreateLaunchTemplate",
      "ec2:CreateLaunchTemplateVersion",
      "ec2:DeleteLaunchTemplate",
      "ec2:DeleteLaunchTemplateVersions",
      "ec2:GetLaunchTemplateData",
      "ec2:ModifyLaunchTemplate",
      "ec2:RunInstances",
    ]
    # RunInstances is checked against the AMI too, and public AMI ARNs have no account.
    resources = [local.ec2_any, "arn:${local.part}:ec2:${local.region}::image/*"]
  }

  statement {
    sid       = "EcsOptimisedAmi"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.part}:ssm:${local.region}::parameter/aws/service/ecs/*"]
  }

  statement {
    sid = "LoadBalancer"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
    ]
    resources = [
      "${local.elb_prefix}:loadbalancer/app/${local.base}/*",
      "${local.elb_prefix}:listener/app/${local.base}/*",
    ]
  }

  statement {
    sid = "Cluster"
    actions = [
      "ecs:CreateCapacityProvider",
      "ecs:CreateCluster",
      "ecs:DeleteCapacityProvider",
      "ecs:DeleteCluster",
      "ecs:DescribeCapacityProviders",
      "ecs:DescribeClusters",
      "ecs:ListTagsForResource",
      "ecs:PutClusterCapacityProviders",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateCapacityProvider",
      "ecs:UpdateCluster",
      "ecs:UpdateClusterSettings",
    ]
    resources = [
      local.cluster_arn,
      "arn:${local.part}:ecs:${local.region}:${local.account}:capacity-provider/${local.base}",
    ]
  }

  statement {
    sid = "AutoscalingGroup"
    actions = [
      "autoscaling:CancelInstanceRefresh",
      "autoscaling:CreateAutoScalingGroup",
      "autoscaling:CreateOrUpdateTags",
      "autoscaling:DeleteAutoScalingGroup",
      "autoscaling:DeleteTags",
      "autoscaling:SetInstanceProtection",
      "autoscaling:StartInstanceRefresh",
      "autoscaling:UpdateAutoScalingGroup",
    ]
    resources = ["arn:${local.part}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${local.base}"]
  }

  statement {
    sid = "OwnRoles"
    # No PutRolePolicy on the instance role: it only ever gets the ECS agent's managed policy.
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = local.shared_roles
  }
  statement {
    sid       = "FlowLogRolePolicy"
    actions   = ["iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy"]
    resources = ["arn:${local.part}:iam::${local.account}:role/${local.base}-flow-*"]
  }
  statement {
    sid       = "InstanceRoleEcsAgentPolicyOnly"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["arn:${local.part}:iam::${local.account}:role/${local.base}-instance"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [local.ecs_agent_role]
    }
  }
  statement {
    sid       = "PassInstanceRoleToEc2"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.part}:iam::${local.account}:role/${local.base}-instance"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }
  statement {
    sid       = "PassFlowRoleToFlowLogs"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.part}:iam::${local.account}:role/${local.base}-flow-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["vpc-flow-logs.amazonaws.com"]
    }
  }
  statement {
    sid = "InstanceProfile"
    actions = [
      "iam:AddRoleToInstanceProfile",
      "iam:CreateInstanceProfile",
      "iam:DeleteInstanceProfile",
      "iam:GetInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile",
      "iam:TagInstanceProfile",
      "iam:UntagInstanceProfile",
    ]
    resources = ["arn:${local.part}:iam::${local.account}:instance-profile/${local.base}-instance"]
  }
  statement {
    sid = "TaskBoundaryPolicy"
    actions = [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:ListPolicyVersions",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ]
    resources = [local.boundary_arn]
  }
  statement {
    sid     = "ServiceLinkedRoles"
    actions = ["iam:CreateServiceLinkedRole"]
    resources = [
      "arn:${local.part}:iam::${local.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
      "arn:${local.part}:iam::${local.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
      "arn:${local.part}:iam::${local.account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
    ]
  }

  statement {
    sid = "Logs"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "logs:PutRetentionPolicy",
      "logs:TagLogGroup",
      "logs:TagResource",
      "logs:UntagLogGroup",
      "logs:UntagResource",
    ]
    resources = concat(local.log_groups, [for g in local.log_groups : "${g}:*"])
  }

  statement {
    sid = "CreatePrivateZone"
    # CreateHostedZone has no resource-level permissions (the zone ID does not exist yet).
    actions   = ["route53:CreateHostedZone"]
    resources = ["*"]
  }
  statement {
    sid = "ManageZones"
    # Hosted zone IDs are assigned by AWS, so zones cannot be named in advance.
    actions = [
      "route53:AssociateVPCWithHostedZone",
      "route53:ChangeResourceRecordSets",
      "route53:ChangeTagsForResource",
      "route53:DeleteHostedZone",
      "route53:DisassociateVPCFromHostedZone",
      "route53:GetChange",
      "route53:GetHostedZone",
      "route53:ListResourceRecordSets",
      "route53:ListTagsForResource",
      "route53:UpdateHostedZoneComment",
    ]
    resources = ["arn:${local.part}:route53:::hostedzone/*", "arn:${local.part}:route53:::change/*"]
  }

  statement {
    sid = "Repository"
    actions = [
      "ecr:CreateRepository",
      "ecr:DeleteLifecyclePolicy",
      "ecr:DeleteRepository",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:ListTagsForResource",
      "ecr:PutImageScanningConfiguration",
      "ecr:PutImageTagMutability",
      "ecr:PutLifecyclePolicy",
      "ecr:TagResource",
      "ecr:UntagResource",
    ]
    resources = [local.repository_arn]
  }
  statement {
    sid       = "RepositoryEncryption"
    actions   = ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"]
    resources = ["arn:${local.part}:kms:${local.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ecr.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "shared" {
  name   = "apply-shared-stack"
  role   = aws_iam_role.shared.id
  policy = data.aws_iam_policy_document.shared.json
}

resource "aws_iam_role_policy" "shared_read" {
  name   = "read-shared-stack"
  role   = aws_iam_role.shared.id
  policy = data.aws_iam_policy_document.shared_read.json
}

# The default branch also deploys its own service stack (`main`) in the same run, with the
# same role (see preview-policy.tf for its scope).
resource "aws_iam_role_policy" "shared_previews" {
  name   = "deploy-preview-stacks"
  role   = aws_iam_role.shared.id
  policy = data.aws_iam_policy_document.stack["main"].json
}

# Refreshing the shared stack without changing it: what `terraform plan` of the shared stack
# needs. Both roles get it: pull requests show the shared stack's plan (the preview role), the
# default branch applies it (the shared role).
data "aws_iam_policy_document" "shared_read" {
  statement {
    sid = "Read"
    # These Describe/List calls have no resource-level permissions (the ones that do are
    # granted below on this environment's resources).
    actions = [
      "autoscaling:Describe*",
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstances",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:DescribeLaunchTemplates",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribePrefixLists",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeTags",
      "ec2:DescribeVpcs",
      "ecr:DescribeRegistry",
      "elasticloadbalancing:Describe*",
      "logs:DescribeLogGroups",
      "route53:ListHostedZones",
      "route53:ListHostedZonesByName",
    ]
    resources = ["*"]
  }

  statement {
    sid     = "ReadSharedIam"
    actions = ["iam:GetInstanceProfile", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListPolicyVersions", "iam:ListRolePolicies"]
    resources = concat(local.shared_roles, [
      "arn:${local.part}:iam::${local.account}:instance-profile/${local.base}-instance",
      local.boundary_arn,
    ])
  }
  statement {
    sid       = "ReadSharedNetwork"
    actions   = ["ec2:DescribeVpcAttribute"]
    resources = [local.ec2_any]
  }
  statement {
    sid       = "ReadSharedCluster"
    actions   = ["ecs:DescribeCapacityProviders", "ecs:DescribeClusters", "ecs:ListTagsForResource"]
    resources = [local.cluster_arn, "arn:${local.part}:ecs:${local.region}:${local.account}:capacity-provider/${local.base}"]
  }
  statement {
    sid       = "ReadSharedRepository"
    actions   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"]
    resources = [local.repository_arn]
  }
  statement {
    sid       = "ReadSharedLogs"
    actions   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = concat(local.log_groups, [for g in local.log_groups : "${g}:*"])
  }
  statement {
    sid       = "ReadZones"
    actions   = ["route53:GetChange", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource"]
    resources = ["arn:${local.part}:route53:::hostedzone/*", "arn:${local.part}:route53:::change/*"]
  }
  statement {
    sid       = "EcsOptimisedAmi"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.part}:ssm:${local.region}::parameter/aws/service/ecs/*"]
  }
  statement {
    sid       = "ReadSharedState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_bucket}/shared/terraform.tfstate"]
  }
}
