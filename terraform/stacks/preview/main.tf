data "terraform_remote_state" "shared" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = var.shared_state_key
    region = var.region
  }

  # A state bucket, region or environment that do not belong together would deploy into the
  # wrong environment's cluster: refused at plan time instead.
  lifecycle {
    postcondition {
      condition     = var.environment == "" || try(self.outputs.environment, "") == var.environment
      error_message = "the shared stack in s3://${var.state_bucket}/${var.shared_state_key} belongs to environment ${try(self.outputs.environment, "unknown")}, not ${var.environment}."
    }
    postcondition {
      condition     = try(self.outputs.region, var.region) == var.region
      error_message = "the shared stack in s3://${var.state_bucket}/${var.shared_state_key} is in region ${try(self.outputs.region, "unknown")}; pass region = that region, not ${var.region}."
    }
  }
}

locals {
  shared    = data.terraform_remote_state.shared.outputs
  is_main   = var.stack_name == "main"
  pr_number = local.is_main ? null : tonumber(trimprefix(var.stack_name, "pr-"))
  name      = "${local.shared.name_prefix}-${var.stack_name}"

  # The default branch's service runs on the EC2 cluster behind production's load balancer;
  # pull requests run on the Fargate preview cluster behind the previews' load balancer, with
  # their own image repository, log group and task-role boundary.
  cluster_name       = local.is_main ? local.shared.cluster_name : local.shared.preview_cluster_name
  alb_dns_name       = local.is_main ? local.shared.alb_dns_name : local.shared.preview_alb_dns_name
  alb_arn_suffix     = local.is_main ? local.shared.alb_arn_suffix : local.shared.preview_alb_arn_suffix
  http_listener_arn  = local.is_main ? local.shared.alb_listener_arn : local.shared.preview_alb_listener_arn
  https_listener_arn = try(local.is_main ? local.shared.alb_https_listener_arn : local.shared.preview_alb_https_listener_arn, null)
  ecr_repository_arn = local.is_main ? local.shared.ecr_repository_arn : local.shared.preview_ecr_repository_arn
  ecr_repository_url = local.is_main ? local.shared.ecr_repository_url : local.shared.preview_ecr_repository_url
  ecr_repository     = local.is_main ? local.shared.ecr_repository_name : local.shared.preview_ecr_repository_name
  log_group_name     = local.is_main ? local.shared.log_group_name : local.shared.preview_log_group_name
  log_group_arn      = local.is_main ? local.shared.log_group_arn : local.shared.preview_log_group_arn
  boundary_arn       = local.is_main ? local.shared.task_permissions_boundary_arn : local.shared.preview_task_permissions_boundary_arn

  # main is alone on production's listener and catches everything ("/*", last priority);
  # a pull request's rule priority is its number, so two previews never collide.
  listener_priority = local.is_main ? 50000 : local.pr_number

  host_routing = !local.is_main && local.shared.preview_domain != ""
  host_header  = local.host_routing ? "${var.stack_name}.${local.shared.preview_domain}" : ""
  path_prefix  = local.is_main || local.host_routing ? "" : "/${var.stack_name}"

  # A null output is absent from remote state: no HTTPS listener then.
  https        = local.https_listener_arn != null
  listener_arn = local.https ? local.https_listener_arn : local.http_listener_arn
  endpoint_url = format(
    "%s://%s%s/",
    local.https ? "https" : "http",
    local.host_routing ? local.host_header : local.alb_dns_name,
    local.path_prefix,
  )

  tags = merge(
    {
      Project     = local.shared.name
      Stack       = var.stack_name
      Environment = local.shared.environment
      ManagedBy   = "terraform"
      Repository  = var.repository
    },
    local.is_main ? {} : { PullRequest = tostring(local.pr_number) },
  )
}

module "service" {
  source                   = "../../modules/service"
  name                     = local.name
  region                   = var.region
  vpc_id                   = local.shared.vpc_id
  cluster_name             = local.cluster_name
  fargate                  = !local.is_main
  capacity_provider_name   = local.is_main ? local.shared.capacity_provider_name : "FARGATE"
  subnet_ids               = local.is_main ? [] : local.shared.private_subnet_ids
  security_group_ids       = local.is_main ? [] : [local.shared.preview_task_security_group_id]
  listener_arn             = local.listener_arn
  alb_arn_suffix           = local.alb_arn_suffix
  listener_priority        = local.listener_priority
  path_prefix              = local.path_prefix
  host_header              = local.host_header
  image                    = var.image
  app_version              = var.app_version
  container_port           = var.container_port
  cpu                      = var.cpu
  memory                   = var.memory
  desired_count            = var.desired_count
  min_count                = var.min_count
  max_count                = var.max_count
  health_check_path        = var.health_check_path
  log_group_name           = local.log_group_name
  log_group_arn            = local.log_group_arn
  log_stream_prefix        = var.stack_name
  ecr_repository_arn       = local.ecr_repository_arn
  permissions_boundary_arn = local.boundary_arn
}
