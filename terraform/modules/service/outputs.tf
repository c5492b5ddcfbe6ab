output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "Task definition terraform rendered; the pipeline uses it as the template of each rollout."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the task definition."
  value       = aws_ecs_task_definition.this.family
}

output "container_name" {
  description = "Name of the app container."
  value       = var.container_name
}

output "target_group_arn" {
  description = "Target group of the service."
  value       = aws_lb_target_group.this.arn
}

output "listener_rule_arn" {
  description = "Listener rule routing to the service."
  value       = aws_lb_listener_rule.this.arn
}

output "execution_role_arn" {
  description = "Role ECS uses to pull the image and write logs."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Role of the app itself."
  value       = aws_iam_role.task.arn
}
