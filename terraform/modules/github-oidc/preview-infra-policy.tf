# The shared stack's preview infrastructure, applied by the shared role from the default
# branch: the Fargate preview cluster, the previews' load balancer, the preview image
# repository and the preview task-role boundary. Pull requests read it to plan the shared stack.

locals {
  preview_infra = {
    cluster       = "${local.ecs_prefix}:cluster/${local.base}-previews"
    load_balancer = "${local.elb_prefix}:loadbalancer/app/${local.base}-pv/*"
    listeners     = "${local.elb_prefix}:listener/app/${local.base}-pv/*"
    repository    = "${local.ecr_prefix}/${local.base}-previews"
    boundary      = "${local.iam_prefix}:policy/${local.base}-preview-task-boundary"
  }
}

data "aws_iam_policy_document" "preview_infra_read" {
  statement {
    sid       = "ReadPreviewCluster"
    actions   = ["ecs:DescribeClusters", "ecs:ListTagsForResource"]
    resources = [local.preview_infra.cluster]
  }
  statement {
    sid       = "ReadPreviewRepository"
    actions   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"]
    resources = [local.preview_infra.repository]
  }
  statement {
    sid       = "ReadPreviewBoundary"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"]
    resources = [local.preview_infra.boundary]
  }
}

data "aws_iam_policy_document" "preview_infra" {
  source_policy_documents = [data.aws_iam_policy_document.preview_infra_read.json]

  statement {
    sid = "PreviewCluster"
    actions = [
      "ecs:CreateCluster",
      "ecs:DeleteCluster",
      "ecs:PutClusterCapacityProviders",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateCluster",
      "ecs:UpdateClusterSettings",
    ]
    resources = [local.preview_infra.cluster]
  }
  statement {
    sid = "PreviewLoadBalancer"
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
    resources = [local.preview_infra.load_balancer, local.preview_infra.listeners]
  }
  statement {
    sid = "PreviewRepository"
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
    resources = [local.preview_infra.repository]
  }
  statement {
    sid = "PreviewTaskBoundary"
    actions = [
      "iam:CreatePolicy",
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ]
    resources = [local.preview_infra.boundary]
  }
}

resource "aws_iam_role_policy" "shared_preview_infra" {
  name   = "apply-preview-infrastructure"
  role   = aws_iam_role.shared.id
  policy = data.aws_iam_policy_document.preview_infra.json
}
