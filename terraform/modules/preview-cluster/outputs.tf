output "cluster_name" {
  description = "Name of the preview ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the preview ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "task_security_group_id" {
  description = "Security group every preview task is placed in."
  value       = aws_security_group.tasks.id
}
