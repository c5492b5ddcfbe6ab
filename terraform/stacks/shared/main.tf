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

  # An explicit list wins; otherwise the region's first az_count zones in name order, so
  # London keeps eu-west-2a and eu-west-2b (the subnets are keyed by zone name).
  availability_zones = length(var.availability_zones) > 0 ? var.availability_zones : slice(sort(data.aws_availability_zones.available.names), 0, var.az_count)
}

# The region's availability zones (not Local or Wavelength Zones, which cannot hold a load
# balancer's subnets), whatever their current state: a zone that is impaired for a while must
# not move the network to another one. Read at plan time, so a region that cannot host the
# stack is refused before anything is created.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:The stack uses the first az_count zones in name order (or the explicit availability_zones list); a zone AWS adds later sorts after them and changes nothing.
  filter {
    name   = "zone-type"
    values = ["availability-zone"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) >= 2
      error_message = "region ${var.region} has ${length(self.names)} availability zones; ecs-poc needs at least 2 (an application load balancer spans two)."
    }
    postcondition {
      condition     = length(var.availability_zones) > 0 || length(self.names) >= var.az_count
      error_message = "region ${var.region} has ${length(self.names)} availability zones (${join(", ", sort(self.names))}); az_count asks for ${var.az_count}."
    }
    postcondition {
      condition     = alltrue([for z in var.availability_zones : contains(self.names, z)])
      error_message = "availability_zones must be zones of ${var.region}: ${join(", ", sort(self.names))}."
    }
  }
}

module "network" {
  source                  = "../../modules/network"
  name                    = local.base
  cidr_block              = var.vpc_cidr
  availability_zones      = local.availability_zones
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

# Pull-request previews get their own load balancer and Fargate cluster: a preview can never
# add a rule to the listener that serves production, nor run on production's instances.
module "preview_load_balancer" {
  source            = "../../modules/load-balancer"
  name              = "${local.base}-pv"
  vpc_id            = module.network.vpc_id
  public_subnet_ids = module.network.public_subnet_ids
  certificate_arn   = var.certificate_arn
}

module "preview_cluster" {
  source                    = "../../modules/preview-cluster"
  name                      = "${local.base}-previews"
  vpc_id                    = module.network.vpc_id
  alb_security_group_id     = module.preview_load_balancer.security_group_id
  container_port            = var.preview_container_port
  default_capacity_provider = var.preview_capacity_provider
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

# Production's repository: only the default branch pushes here. Only untagged images expire:
# every tag the pipeline writes (c-<hash>, stack-main.c-<hash>) may be the one production runs
# or rolls back to, and an age or count rule cannot know which, so tagged images stay until
# someone deletes them.
resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images left by rebuilds"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Pull requests push here and only here (the preview deploy role may push, pull and delete in
# this repository alone), so production never runs an image a pull request built.
resource "aws_ecr_repository" "previews" {
  name                 = "${local.base}-previews"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

# Every preview image expires, whatever its tag: the teardown deletes a closed pull request's
# images, and this rule catches what a failed teardown left behind.
resource "aws_ecr_lifecycle_policy" "previews" {
  repository = aws_ecr_repository.previews.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire every preview image ${var.pr_image_expiry_days} days after its push"
        selection = {
          tagStatus   = "any"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.pr_image_expiry_days
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

# Preview tasks write here, so a pull request's task can never write into production's streams.
resource "aws_cloudwatch_log_group" "previews" {
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; a customer-managed KMS key costs $1/month and needs a key policy for logs.<region>.amazonaws.com, out of scope for the PoC.
  name              = "/${var.name}/${var.environment}/previews"
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
