output "name" {
  description = "Project name."
  value       = var.name
}

output "environment" {
  description = "Environment name."
  value       = var.environment
}

output "name_prefix" {
  description = "Prefix of every resource of this environment; preview stacks append -<stack>."
  value       = local.base
}

output "region" {
  description = "AWS region."
  value       = var.region
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.cluster.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = module.cluster.cluster_arn
}

output "capacity_provider_name" {
  description = "Capacity provider services use."
  value       = module.cluster.capacity_provider_name
}

output "autoscaling_group_name" {
  description = "Autoscaling group of the container instances."
  value       = module.cluster.autoscaling_group_name
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = module.load_balancer.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (request-count autoscaling)."
  value       = module.load_balancer.arn_suffix
}

output "alb_dns_name" {
  description = "Public DNS name of the load balancer."
  value       = module.load_balancer.dns_name
}

output "alb_listener_arn" {
  description = "HTTP listener."
  value       = module.load_balancer.http_listener_arn
}

output "alb_https_listener_arn" {
  description = "HTTPS listener, or null without a certificate."
  value       = module.load_balancer.https_listener_arn
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = module.load_balancer.security_group_id
}

output "instance_security_group_id" {
  description = "Security group of the container instances."
  value       = module.cluster.instance_security_group_id
}

output "availability_zones" {
  description = "Availability zones the network spans (subnets are in this order)."
  value       = local.availability_zones
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets (container instances)."
  value       = module.network.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT)."
  value       = module.network.public_subnet_ids
}

output "ecr_repository_name" {
  description = "ECR repository of production images (the default branch's)."
  value       = aws_ecr_repository.app.name
}

output "ecr_repository_url" {
  description = "ECR repository URL (registry/name)."
  value       = aws_ecr_repository.app.repository_url
}

output "ecr_repository_arn" {
  description = "ECR repository ARN."
  value       = aws_ecr_repository.app.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers (streams are prefixed with the stack name)."
  value       = aws_cloudwatch_log_group.app.name
}

output "log_group_arn" {
  description = "ARN of the container log group."
  value       = aws_cloudwatch_log_group.app.arn
}

output "private_zone_id" {
  description = "Private Route53 zone."
  value       = module.network.private_zone_id
}

output "private_zone_name" {
  description = "Name of the private zone."
  value       = module.network.private_zone_name
}

output "service_record_fqdn" {
  description = "Private DNS name of the service (alias to the load balancer)."
  value       = aws_route53_record.service.fqdn
}

output "preview_domain" {
  description = "Domain for host-based preview routing, or empty."
  value       = var.preview_domain
}

output "task_permissions_boundary_arn" {
  description = "Permissions boundary every production (default branch) task role carries (created by terraform/bootstrap)."
  value       = data.aws_iam_policy.boundary["task"].arn
}

output "preview_task_permissions_boundary_arn" {
  description = "Permissions boundary every preview task role must carry (created by terraform/bootstrap; the preview deploy role can create no other role)."
  value       = data.aws_iam_policy.boundary["preview-task"].arn
}

output "preview_cluster_name" {
  description = "Fargate cluster of the pull-request previews."
  value       = module.preview_cluster.cluster_name
}

output "preview_cluster_arn" {
  description = "ARN of the preview cluster."
  value       = module.preview_cluster.cluster_arn
}

output "preview_task_security_group_id" {
  description = "Security group of every preview task (admits the preview load balancer only)."
  value       = module.preview_cluster.task_security_group_id
}

output "preview_alb_arn" {
  description = "ARN of the previews' load balancer."
  value       = module.preview_load_balancer.arn
}

output "preview_alb_arn_suffix" {
  description = "ARN suffix of the previews' load balancer (request-count autoscaling)."
  value       = module.preview_load_balancer.arn_suffix
}

output "preview_alb_dns_name" {
  description = "Public DNS name of the previews' load balancer."
  value       = module.preview_load_balancer.dns_name
}

output "preview_alb_listener_arn" {
  description = "HTTP listener of the previews' load balancer."
  value       = module.preview_load_balancer.http_listener_arn
}

output "preview_alb_https_listener_arn" {
  description = "HTTPS listener of the previews' load balancer, or null without a certificate."
  value       = module.preview_load_balancer.https_listener_arn
}

output "preview_alb_security_group_id" {
  description = "Security group of the previews' load balancer."
  value       = module.preview_load_balancer.security_group_id
}

output "preview_ecr_repository_name" {
  description = "ECR repository of preview images."
  value       = aws_ecr_repository.previews.name
}

output "preview_ecr_repository_url" {
  description = "ECR repository URL of preview images (registry/name)."
  value       = aws_ecr_repository.previews.repository_url
}

output "preview_ecr_repository_arn" {
  description = "ARN of the preview ECR repository."
  value       = aws_ecr_repository.previews.arn
}

output "preview_log_group_name" {
  description = "CloudWatch log group of preview containers (streams are prefixed with the stack name)."
  value       = aws_cloudwatch_log_group.previews.name
}

output "preview_log_group_arn" {
  description = "ARN of the preview log group."
  value       = aws_cloudwatch_log_group.previews.arn
}
