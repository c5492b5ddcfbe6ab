output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "capacity_provider_name" {
  description = "Capacity provider services should use."
  value       = aws_ecs_capacity_provider.this.name
}

output "autoscaling_group_name" {
  description = "Autoscaling group of the container instances."
  value       = aws_autoscaling_group.this.name
}

output "instance_security_group_id" {
  description = "Security group of the container instances."
  value       = aws_security_group.instances.id
}

output "instance_role_name" {
  description = "IAM role of the container instances (ECS agent permissions only)."
  value       = aws_iam_role.instance.name
}
