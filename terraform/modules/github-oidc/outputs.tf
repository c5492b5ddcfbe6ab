output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC identity provider."
  value       = local.provider_arn
}

output "preview_role_arn" {
  description = "Role for pull requests (and the default branch) to deploy preview stacks: the action's role-to-assume on pull_request; null when previews is false."
  value       = one(aws_iam_role.preview[*].arn)
}

output "shared_role_arn" {
  description = "Role for the default branch (or, with github_environment, that GitHub environment's jobs) to apply the shared stack and deploy main."
  value       = aws_iam_role.shared.arn
}

output "task_permissions_boundary_arn" {
  description = "Permissions boundary of production's (the default branch's) task and execution roles (the shared stack's task_permissions_boundary_arn)."
  value       = aws_iam_policy.task_boundary["task"].arn
}

output "preview_task_permissions_boundary_arn" {
  description = "Permissions boundary every pull-request preview task and execution role must carry; null when previews is false."
  value       = var.previews ? aws_iam_policy.task_boundary["preview-task"].arn : null
}

output "infra_permissions_boundary_arn" {
  description = "Permissions boundary of the shared stack's infrastructure roles (container instances, VPC flow logs)."
  value       = aws_iam_policy.infra_boundary.arn
}

output "shared_policy_arns" {
  description = "Customer-managed policies attached to the shared role, by concern."
  value       = { for k, p in aws_iam_policy.shared : k => p.arn }
}

output "promote_source_role_arn" {
  description = "Read-only role the promotion_targets' jobs assume to read this environment's main service and pull its images (the environment's promote-source-role); null without promotion_targets."
  value       = one(aws_iam_role.promote_source[*].arn)
}
