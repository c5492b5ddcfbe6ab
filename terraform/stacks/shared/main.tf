locals {
  # Every shared resource is named <name>-<environment>[-suffix]; preview stacks use
  # <name>-<environment>-<stack>-..., which the preview deploy role is scoped to.
  base = "${var.name}-${var.environment}"
  tags = {
    Project     = var.name
    Stack       = "shared"
    Environment = var.environment
    ManagedBy   = "terraform"
    Repository  = var.repository
  }
}


module "network" {
  source                  = "../../modules/network"
  name                    = local.base
  cidr_block              = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  private_zone_name       = var.private_zone_name
  flow_log_retention_days = var.log_retention_days
  permissions_boundary    = data.aws_iam_policy.boundary["infra"].arn
}

module "load_balancer" {
  source            = "../../modules/load-balancer"
  name              = local.base
  vpc_id            = module.network.vpc_id
  public_subnet_ids = module.network.public_subnet_ids
  certificate_arn   = var.certificate_arn
}

module "cluster" {
  source                = "../../modules/cluster"
  name                  = local.base
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.load_balancer.security_group_id
  instance_type         = var.instance_type
  min_size              = var.asg_min_size
  max_size              = var.asg_max_size
  tags                  = local.tags
  permissions_boundary  = data.aws_iam_policy.boundary["infra"].arn
}

resource "aws_route53_record" "service" {
  zone_id = module.network.private_zone_id
  name    = "${var.service_record_name}.${module.network.private_zone_name}"
  type    = "A"
  alias {
    name                   = module.load_balancer.dns_name
    zone_id                = module.load_balancer.zone_id
    evaluate_target_health = false
  }
}

# Images ------------------------------------------------------------------------------------

resource "aws_ecr_repository" "app" {
  name                 = local.base
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  # KMS with the AWS-managed aws/ecr key: encrypted, no key to administer or pay for.
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire pull-request images"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["pr-"]
          countType     = "sinceImagePushed"
          countUnit     = "days"
          countNumber   = var.pr_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Expire untagged layers left by rebuilds"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "Keep at most 200 images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 200
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Logs -------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; a customer-managed KMS key costs $1/month and needs a key policy for logs.<region>.amazonaws.com, out of scope for the PoC.
  name              = "/${var.name}/${var.environment}/app"
  retention_in_days = var.log_retention_days
}

# Permissions boundaries -------------------------------------------------------------------

# Created by terraform/bootstrap (an administrator), never by this stack: the deploy role may
# create roles only with one of them attached and cannot change them. Reading them here fails
# the plan early, with the missing policy's name, when bootstrap has not been applied.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy" "boundary" {
  for_each = toset(["task", "preview-task", "infra"])
  arn      = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${local.base}-${each.key}-boundary"
}
