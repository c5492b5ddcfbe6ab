output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in availability_zones order."
  value       = [for az in var.availability_zones : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in availability_zones order."
  value       = [for az in var.availability_zones : aws_subnet.private[az].id]
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs (one, or one per AZ)."
  value       = [for k in local.nat_keys : aws_nat_gateway.this[k].id]
}

output "private_zone_id" {
  description = "ID of the private Route53 zone."
  value       = aws_route53_zone.private.zone_id
}

output "private_zone_name" {
  description = "Name of the private Route53 zone (no trailing dot)."
  value       = trimsuffix(aws_route53_zone.private.name, ".")
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow.name
}
