output "state_bucket" {
  description = "State bucket: the action's state-bucket input and every stack's -backend-config=bucket."
  value       = aws_s3_bucket.state.id
}

output "region" {
  description = "Region of the state bucket."
  value       = var.region
}

output "oidc_provider_arn" {
  description = "GitHub OIDC identity provider."
  value       = module.github_oidc.oidc_provider_arn
}

output "environment" {
  description = "Environment these roles and this bucket serve (its name in ecs-poc.yml's environments:)."
  value       = var.environment
}

output "preview_role_arn" {
  description = "role-to-assume for pull-request workflows (preview stacks): the environment's preview-role-to-assume; null when previews is false."
  value       = module.github_oidc.preview_role_arn
}

output "shared_role_arn" {
  description = "role-to-assume of the default branch's (or the github_environment's) workflow: the environment's role-to-assume."
  value       = module.github_oidc.shared_role_arn
}

output "promote_source_role_arn" {
  description = "Read-only role the promotion_targets' jobs assume to promote this environment's image: the environment's promote-source-role; null without promotion_targets."
  value       = module.github_oidc.promote_source_role_arn
}

output "task_permissions_boundary_arn" {
  description = "Permissions boundary of production's task and execution roles (the shared stack looks it up by name)."
  value       = module.github_oidc.task_permissions_boundary_arn
}

output "preview_task_permissions_boundary_arn" {
  description = "Permissions boundary of every pull-request preview task and execution role (looked up by name); null when previews is false."
  value       = module.github_oidc.preview_task_permissions_boundary_arn
}

output "infra_permissions_boundary_arn" {
  description = "Permissions boundary of the shared stack's instance and flow-log roles (looked up by name)."
  value       = module.github_oidc.infra_permissions_boundary_arn
}
