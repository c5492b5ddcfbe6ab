output "stack" {
  description = "Stack name (main or pr-N)."
  value       = var.stack_name
}

output "cluster_name" {
  description = "ECS cluster the service runs on (the EC2 cluster for main, the Fargate preview cluster for pr-N)."
  value       = local.cluster_name
}

output "service_name" {
  description = "ECS service of this stack."
  value       = module.service.service_name
}

output "task_definition_arn" {
  description = "Task definition rendered by terraform: the template of each rollout."
  value       = module.service.task_definition_arn
}

output "task_definition_family" {
  description = "Task definition family."
  value       = module.service.task_definition_family
}

output "container_name" {
  description = "Name of the app container."
  value       = module.service.container_name
}

output "ecr_repository_url" {
  description = "Where the pipeline pushes the image (production's repository for main, the preview repository for pr-N)."
  value       = local.ecr_repository_url
}

output "ecr_repository_name" {
  description = "ECR repository name."
  value       = local.ecr_repository
}

output "log_group_name" {
  description = "Log group of the containers; this stack's streams start with its name."
  value       = local.log_group_name
}

output "endpoint_url" {
  description = "Where the service answers, with a trailing slash (http://ALB/pr-12/, or http://ALB/ for main)."
  value       = local.endpoint_url
}

output "path_prefix" {
  description = "Path prefix of the service (/pr-12, or empty)."
  value       = local.path_prefix
}

output "target_group_arn" {
  description = "Target group of the service."
  value       = module.service.target_group_arn
}

output "listener_rule_arn" {
  description = "Listener rule routing to the service."
  value       = module.service.listener_rule_arn
}
