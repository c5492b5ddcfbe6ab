# What the default branch's workflow may do: apply the shared stack of this environment and
# deploy (and tear down) the default branch's own service stack, `main`.
#
# AWS allows 10 managed policies per role, 6,144 characters per managed policy and 10,240 for
# all inline policies of a role together, so the permissions are customer-managed policies,
# one per concern, and the role has no inline policy. tests/terraform/test_policy_quotas.py
# renders them with the longest names the variables allow and checks every quota.
#
# Bounds: EC2 writes need the Project tag (on the request when creating, on the resource
# otherwise); Route53 record changes only under the private zone's name; every role it
# creates must carry one of the bootstrap's permissions boundaries; it attaches no policy but
# the ECS agent's; it cannot touch the deploy roles, their policies or the boundaries.

locals {
  ec2_any     = "arn:${local.part}:ec2:${local.region}:${local.account}:*"
  iam_arn     = "arn:${local.part}:iam::${local.account}"
  ecs_arn     = "arn:${local.part}:ecs:${local.region}:${local.account}"
  role_inst   = "${local.iam_arn}:role/${local.base}-instance"
  role_flow   = "${local.iam_arn}:role/${local.base}-flow-*"
  role_main   = "${local.iam_arn}:role/${local.base}-main*"
  profile_arn = "${local.iam_arn}:instance-profile/${local.base}-instance"
  # The production cluster on EC2 and, with previews, the pull requests' cluster on Fargate.
  cluster_arns   = concat([local.cluster_arn], var.previews ? ["${local.ecs_arn}:cluster/${local.previews_name}"] : [])
  capacity_arn   = "${local.ecs_arn}:capacity-provider/${local.base}"
  ecs_agent_role = "arn:${local.part}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
  # The production load balancer (<base>) and, with previews, the pull requests' one (<base>-pv).
  lb_names  = concat([local.base], var.previews ? ["${local.base}-pv"] : [])
  albs      = [for n in local.lb_names : "${local.elb_prefix}:loadbalancer/app/${n}/*"]
  listeners = [for n in local.lb_names : "${local.elb_prefix}:listener/app/${n}/*"]
  zone      = lower(trimsuffix(var.private_zone_name, "."))
  # Tag keys the shared stack sets (default_tags, Name, the subnets' Tier, the capacity
  # provider's AmazonECSManaged).
  tag_keys = ["AmazonECSManaged", "Environment", "ManagedBy", "Name", "Project", "PullRequest", "Repository", "Stack", "Tier"]
  # EC2 calls that create a tagged resource; CreateTags is allowed as part of these only.
  ec2_creates = [
    "ec2:AllocateAddress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateFlowLogs",
    "ec2:CreateInternetGateway",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:CreateNatGateway",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateVpc",
    "ec2:RunInstances",
  ]
}

# State -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "shared_state" {
  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket]
  }
  statement {
    sid       = "SharedAndMainState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_bucket}/shared/*", "${local.state_bucket}/preview/main.tfstate", "${local.state_bucket}/preview/main.tfstate.tflock"]
  }
}

# Network and private DNS -------------------------------------------------------------------

data "aws_iam_policy_document" "shared_network" {
  statement {
    sid       = "CreateTagged"
    actions   = [for a in local.ec2_creates : a if !startswith(a, "ec2:Authorize") && !strcontains(a, "Launch") && a != "ec2:RunInstances"]
    resources = [local.ec2_any]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Project"
      values   = [var.name]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = local.tag_keys
    }
  }
  statement {
    sid = "ChangeOwn"
    # Creating a subnet, route, NAT gateway, group or flow log in (or on) a resource of ours.
    actions = [
      "ec2:AssociateRouteTable",
      "ec2:AttachInternetGateway",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:CreateFlowLogs",
      "ec2:CreateNatGateway",
      "ec2:CreateRoute",
      "ec2:CreateRouteTable",
      "ec2:CreateSecurityGroup",
      "ec2:CreateSubnet",
      "ec2:CreateTags",
      "ec2:DeleteFlowLogs",
      "ec2:DeleteInternetGateway",
      "ec2:DeleteNatGateway",
      "ec2:DeleteRoute",
      "ec2:DeleteRouteTable",
      "ec2:DeleteSecurityGroup",
      "ec2:DeleteSubnet",
      "ec2:DeleteTags",
      "ec2:DeleteVpc",
      "ec2:DetachInternetGateway",
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
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/Project"
      values   = [var.name]
    }
  }
  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = [local.ec2_any]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = [for a in local.ec2_creates : trimprefix(a, "ec2:")]
    }
  }
  statement {
    sid = "AdoptDefaultSecurityGroup"
    # AWS creates a VPC's default security group untagged; the stack tags it (then empties
    # it). Only an untagged group can be claimed this way, never another project's.
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.part}:ec2:${local.region}:${local.account}:security-group/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Project"
      values   = [var.name]
    }
    condition {
      test     = "Null"
      variable = "ec2:ResourceTag/Project"
      values   = ["true"]
    }
  }
  statement {
    sid = "Disassociations"
    # No resource-level permissions: AWS accepts only "*" (the association IDs name nothing).
    actions   = ["ec2:DisassociateAddress", "ec2:DisassociateRouteTable"]
    resources = ["*"]
  }
  statement {
    sid = "SecurityGroupRules"
    # Rules are new resources of a group of ours (the group is checked by ChangeOwn).
    actions = [
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:ModifySecurityGroupRules",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    ]
    resources = ["arn:${local.part}:ec2:${local.region}:${local.account}:security-group-rule/*"]
  }

  statement {
    sid = "CreatePrivateZone"
    # CreateHostedZone has no resource-level permissions (the zone ID does not exist yet).
    actions   = ["route53:CreateHostedZone"]
    resources = ["*"]
  }
  statement {
    sid       = "RecordsUnderThePrivateZoneOnly"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:${local.part}:route53:::hostedzone/*"]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
      values   = [local.zone, "*.${local.zone}"]
    }
    # ForAllValues holds for a request without the key: require it.
    condition {
      test     = "Null"
      variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
      values   = ["false"]
    }
  }
  statement {
    sid = "ZoneLifecycle"
    # Zone IDs are assigned by AWS and Route53 has no tag conditions: tagging and deleting
    # (which AWS allows only for a zone without records) name zones by ID.
    actions   = ["route53:ChangeTagsForResource", "route53:DeleteHostedZone", "route53:GetChange"]
    resources = ["arn:${local.part}:route53:::hostedzone/*", "arn:${local.part}:route53:::change/*"]
  }
}

# Cluster and instances ---------------------------------------------------------------------

data "aws_iam_policy_document" "shared_cluster" {
  statement {
    sid       = "CreateLaunchTemplate"
    actions   = ["ec2:CreateLaunchTemplate"]
    resources = [local.ec2_any]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Project"
      values   = [var.name]
    }
  }
  statement {
    sid = "ChangeOwnLaunchTemplates"
    # RunInstances: checked when the autoscaling group is created on a launch template of
    # ours, against the template, subnets and security groups, all tagged.
    actions = [
      "ec2:CreateLaunchTemplateVersion",
      "ec2:DeleteLaunchTemplate",
      "ec2:DeleteLaunchTemplateVersions",
      "ec2:GetLaunchTemplateData",
      "ec2:ModifyLaunchTemplate",
      "ec2:RunInstances",
    ]
    resources = [local.ec2_any]
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/Project"
      values   = [var.name]
    }
  }
  statement {
    sid     = "LaunchInstances"
    actions = ["ec2:RunInstances"]
    # What RunInstances creates; the subnets, groups and template it uses are checked above.
    resources = [
      "arn:${local.part}:ec2:${local.region}:${local.account}:instance/*",
      "arn:${local.part}:ec2:${local.region}:${local.account}:network-interface/*",
      "arn:${local.part}:ec2:${local.region}:${local.account}:volume/*",
    ]
  }
  statement {
    sid = "PublicAmis"
    # The ECS-optimised AMI is Amazon's: public AMI ARNs have no account, nor tags of ours.
    actions   = ["ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:RunInstances"]
    resources = ["arn:${local.part}:ec2:${local.region}::image/*"]
  }
  statement {
    sid       = "EcsOptimisedAmi"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.part}:ssm:${local.region}::parameter/aws/service/ecs/*"]
  }
  statement {
    sid = "Clusters"
    actions = [
      "ecs:CreateCapacityProvider",
      "ecs:CreateCluster",
      "ecs:DeleteCapacityProvider",
      "ecs:DeleteCluster",
      "ecs:PutClusterCapacityProviders",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateCapacityProvider",
      "ecs:UpdateCluster",
      "ecs:UpdateClusterSettings",
    ]
    resources = concat(local.cluster_arns, [local.capacity_arn])
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
}

# Load balancing ----------------------------------------------------------------------------

data "aws_iam_policy_document" "shared_load_balancing" {
  statement {
    sid = "LoadBalancers"
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
    resources = concat(local.albs, local.listeners)
  }
}

# Images and logs ---------------------------------------------------------------------------

data "aws_iam_policy_document" "shared_images_logs" {
  statement {
    sid = "Repositories"
    actions = [
      "ecr:CreateRepository",
      "ecr:DeleteLifecyclePolicy",
      "ecr:DeleteRepository",
      "ecr:PutImageScanningConfiguration",
      "ecr:PutImageTagMutability",
      "ecr:PutLifecyclePolicy",
      "ecr:TagResource",
      "ecr:UntagResource",
    ]
    resources = local.repository_arns
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
  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:PutRetentionPolicy",
      "logs:TagLogGroup",
      "logs:TagResource",
      "logs:UntagLogGroup",
      "logs:UntagResource",
    ]
    resources = concat(local.env_log_groups, [for g in local.env_log_groups : "${g}:*"])
  }
}

# IAM: the shared stack's own roles, always bounded ---------------------------------------

data "aws_iam_policy_document" "shared_iam" {
  statement {
    sid       = "CreateInfraRolesWithTheBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"]
    resources = [local.role_inst, local.role_flow]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.infra_boundary_arn]
    }
  }
  statement {
    sid       = "InstanceRoleGetsTheEcsAgentPolicyOnly"
    actions   = ["iam:AttachRolePolicy"]
    resources = [local.role_inst]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.infra_boundary_arn]
    }
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [local.ecs_agent_role]
    }
  }
  statement {
    sid = "ManageInfraRoles"
    actions = [
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = [local.role_inst, local.role_flow]
  }
  statement {
    sid       = "PassInstanceRoleToEc2"
    actions   = ["iam:PassRole"]
    resources = [local.role_inst]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }
  statement {
    sid       = "PassFlowRoleToFlowLogs"
    actions   = ["iam:PassRole"]
    resources = [local.role_flow]
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
      "iam:RemoveRoleFromInstanceProfile",
      "iam:TagInstanceProfile",
      "iam:UntagInstanceProfile",
    ]
    resources = [local.profile_arn]
  }
  statement {
    sid     = "ServiceLinkedRoles"
    actions = ["iam:CreateServiceLinkedRole"]
    resources = [
      "${local.iam_arn}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
      "${local.iam_arn}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
      "${local.iam_arn}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
      "${local.iam_arn}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService",
    ]
  }
}

# Guardrails for both deploy roles: explicit denies that no other statement can outweigh.
data "aws_iam_policy_document" "guardrails" {
  statement {
    sid       = "KeepEveryBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }
  statement {
    sid    = "DeployRolesAndBoundariesAreTheAdministrators"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PassRole",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
      "iam:SetDefaultPolicyVersion",
      "iam:TagPolicy",
      "iam:TagRole",
      "iam:UntagPolicy",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
    ]
    resources = [
      "${local.iam_arn}:role/${local.base}-deploy-*",
      "${local.iam_arn}:policy/${local.base}-deploy-*",
      "${local.iam_arn}:policy/${local.base}-*-boundary",
    ]
  }
}

# Reading the shared stack (what `terraform plan` of it refreshes) ---------------------------

# Refreshing the shared stack without changing it: what `terraform plan` of the shared stack
# needs. Pull requests show the shared stack's plan (the preview role), the default branch
# applies it (the shared role).
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
    actions = ["iam:GetInstanceProfile", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListPolicyVersions", "iam:ListRolePolicies"]
    resources = [
      local.role_inst,
      local.role_flow,
      local.profile_arn,
      "${local.iam_arn}:policy/${local.base}-*-boundary",
    ]
  }
  statement {
    sid       = "ReadSharedNetwork"
    actions   = ["ec2:DescribeVpcAttribute", "ec2:GetLaunchTemplateData"]
    resources = [local.ec2_any]
  }
  statement {
    sid       = "ReadSharedCluster"
    actions   = ["ecs:DescribeCapacityProviders", "ecs:DescribeClusters", "ecs:ListTagsForResource"]
    resources = concat(local.cluster_arns, [local.capacity_arn])
  }
  statement {
    sid       = "ReadSharedRepositories"
    actions   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"]
    resources = local.repository_arns
  }
  statement {
    sid       = "ReadSharedLogs"
    actions   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = concat(local.env_log_groups, [for g in local.env_log_groups : "${g}:*"])
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

# The policies and their attachments ---------------------------------------------------------

locals {
  # The deploy roles this environment has (no preview role without previews).
  deploy_roles = merge(
    { shared = aws_iam_role.shared.name },
    var.previews ? { preview = aws_iam_role.preview[0].name } : {},
  )
  shared_policies = {
    state          = data.aws_iam_policy_document.shared_state.json
    network        = data.aws_iam_policy_document.shared_network.json
    cluster        = data.aws_iam_policy_document.shared_cluster.json
    load-balancing = data.aws_iam_policy_document.shared_load_balancing.json
    images-logs    = data.aws_iam_policy_document.shared_images_logs.json
    iam            = data.aws_iam_policy_document.shared_iam.json
    main-service   = data.aws_iam_policy_document.shared_main_service.json
  }
}

resource "aws_iam_policy" "shared" {
  for_each    = local.shared_policies
  name        = "${local.base}-deploy-shared-${each.key}"
  description = "Deploy role of the default branch of ${var.repository}: ${each.key} of ${local.base}"
  policy      = each.value
}

resource "aws_iam_role_policy_attachment" "shared" {
  for_each   = aws_iam_policy.shared
  role       = aws_iam_role.shared.name
  policy_arn = each.value.arn
}

# Planning the shared stack: the default branch applies it, pull requests show its plan, so
# both roles carry this one.
resource "aws_iam_policy" "read_shared_stack" {
  name        = "${local.base}-deploy-read-shared-stack"
  description = "Deploy roles of ${var.repository}: read (plan) the shared stack of ${local.base}"
  policy      = data.aws_iam_policy_document.shared_read.json
}

resource "aws_iam_role_policy_attachment" "read_shared_stack" {
  for_each   = local.deploy_roles
  role       = each.value
  policy_arn = aws_iam_policy.read_shared_stack.arn
}

resource "aws_iam_policy" "guardrails" {
  name        = "${local.base}-deploy-guardrails"
  description = "Denies both deploy roles of ${local.base} any change to themselves, their policies and the permissions boundaries"
  policy      = data.aws_iam_policy_document.guardrails.json
}

resource "aws_iam_role_policy_attachment" "guardrails" {
  for_each   = local.deploy_roles
  role       = each.value
  policy_arn = aws_iam_policy.guardrails.arn
}
