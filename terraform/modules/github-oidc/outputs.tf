output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC identity provider."
  value       = local.provider_arn
}

output "preview_role_arn" {
  description = "Role for pull requests (and the default branch) to deploy preview stacks: the action's role-to-assume on pull_request."
  value       = aws_iam_role.preview.arn
}

output "shared_role_arn" {
  description = "Role for the default branch to apply the shared stack."
  value       = aws_iam_role.shared.arn
}
