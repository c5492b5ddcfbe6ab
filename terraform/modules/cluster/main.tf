locals {
  # Dynamic host ports for bridge-mode containers. Fixed here (and in the agent config) so the
  # security group can admit exactly this range and nothing else.
  host_port_from = 49153
  host_port_to   = 65535
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# Instances ----------------------------------------------------------------------------------

resource "aws_security_group" "instances" {
  name        = "${var.name}-instances"
  description = "ECS container instances: reachable only from the load balancer"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-instances" }
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  security_group_id            = aws_security_group.instances.id
  description                  = "Load balancer to containers on dynamic host ports"
  referenced_security_group_id = var.alb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.host_port_from
  to_port                      = local.host_port_to
}

resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  security_group_id            = var.alb_security_group_id
  description                  = "Load balancer to containers on dynamic host ports"
  referenced_security_group_id = aws_security_group.instances.id
  ip_protocol                  = "tcp"
  from_port                    = local.host_port_from
  to_port                      = local.host_port_to
}

resource "aws_vpc_security_group_egress_rule" "https_out" {
  security_group_id = aws_security_group.instances.id
  description       = "HTTPS to AWS APIs (ECS, ECR, CloudWatch Logs, SSM) through NAT"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name                 = "${var.name}-instance"
  assume_role_policy   = data.aws_iam_policy_document.instance_assume.json
  permissions_boundary = var.permissions_boundary
}

# The ECS agent's own permissions, nothing else: tasks get their own roles.
resource "aws_iam_role_policy_attachment" "instance_ecs" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

data "aws_partition" "current" {}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

resource "aws_launch_template" "this" {
  name_prefix   = "${var.name}-"
  image_id      = nonsensitive(data.aws_ssm_parameter.ami.value)
  instance_type = var.instance_type
  user_data = base64encode(templatefile("${path.module}/user-data.sh.tftpl", {
    cluster_name    = aws_ecs_cluster.this.name
    stop_timeout    = var.container_stop_timeout
    host_port_range = "${local.host_port_from}-${local.host_port_to}"
  }))
  update_default_version = true
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  vpc_security_group_ids = [aws_security_group.instances.id]

  # IMDSv2 only, one hop: bridge-mode containers sit one hop further and cannot reach the
  # instance role's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-instance" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.name}-instance" })
  }
}

resource "aws_autoscaling_group" "this" {
  name                = var.name
  vpc_zone_identifier = var.private_subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  health_check_type   = "EC2"
  # Managed termination protection is off: managed draining moves tasks off an instance
  # before scale-in instead, and teardown of a stack is not blocked by protected instances.
  protect_from_scale_in = false

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  # The capacity provider requires this tag on the groups it manages.
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  dynamic "tag" {
    for_each = var.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # Managed scaling owns the desired capacity.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_ecs_capacity_provider" "this" {
  name = var.name

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.this.arn
    managed_termination_protection = "DISABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = var.target_capacity
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = 2
      instance_warmup_period    = 90
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [aws_ecs_capacity_provider.this.name]

  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this.name
    weight            = 1
    base              = 0
  }
}
