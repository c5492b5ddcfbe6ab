locals {
  placeholder = var.image == ""
  image       = local.placeholder ? var.placeholder_image : var.image
  # The ALB keeps the prefix on forwarded paths: the app strips it using SCRIPT_NAME.
  path_patterns = var.path_prefix == "" ? ["/*"] : [var.path_prefix, "${var.path_prefix}/*"]
  # Health checks go to the prefixed path, the way real requests arrive.
  health_path = "${var.path_prefix}${var.health_check_path}"
  environment = merge(
    var.environment,
    { APP_VERSION = var.app_version },
    var.path_prefix == "" ? {} : { SCRIPT_NAME = var.path_prefix },
  )
  # A first apply has no image yet: answer 200 everywhere so the service comes up healthy.
  placeholder_command = [
    "python", "-c",
    "import http.server as h\nclass H(h.BaseHTTPRequestHandler):\n def do_GET(s):\n  s.send_response(200);s.end_headers();s.wfile.write(b'placeholder: no image deployed yet\\n')\nh.ThreadingHTTPServer(('',${var.container_port}),H).serve_forever()",
  ]
}

# Load balancing -----------------------------------------------------------------------------

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:ALB to container stays inside the VPC on the instances' dynamic ports, admitted only from the ALB's security group; TLS ends at the ALB.
  name                 = var.name
  vpc_id               = var.vpc_id
  target_type          = "instance"
  protocol             = "HTTP"
  port                 = var.container_port
  deregistration_delay = var.deregistration_delay

  health_check {
    path                = local.health_path
    matcher             = "200"
    interval            = 5
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener_rule" "this" {
  listener_arn = var.listener_arn
  priority     = var.listener_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  dynamic "condition" {
    for_each = var.host_header == "" ? [] : [var.host_header]
    content {
      host_header {
        values = [condition.value]
      }
    }
  }

  dynamic "condition" {
    for_each = var.host_header == "" ? [local.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }
}

# IAM: one role for ECS to start the task, another (empty) for the app itself ----------------

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-exec"
  description          = "ECS pulls the image and writes logs for ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullAppImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "WriteOwnLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:log-stream:${var.log_stream_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The app calls no AWS API; an adopter adds statements here when it does.
resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "Permissions of the ${var.name} app itself (none)"
  assume_role_policy   = data.aws_iam_policy_document.tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

# Task and service ---------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([
    merge(
      {
        name                   = var.container_name
        image                  = local.image
        essential              = true
        cpu                    = var.cpu
        memory                 = var.memory
        stopTimeout            = var.stop_timeout
        readonlyRootFilesystem = true
        privileged             = false
        # hostPort 0: Docker picks a port from the instance's dynamic range, so several
        # copies (and several pull requests) share one instance.
        portMappings = [{ containerPort = var.container_port, hostPort = 0, protocol = "tcp" }]
        environment  = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
        linuxParameters = {
          initProcessEnabled = true
          # The root filesystem is read-only; the app and gunicorn get a scratch /tmp.
          tmpfs = [{ containerPath = "/tmp", size = 64, mountOptions = ["noexec", "nosuid", "nodev"] }]
        }
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = var.log_group_name
            awslogs-region        = var.region
            awslogs-stream-prefix = var.log_stream_prefix
          }
        }
      },
      local.placeholder ? { command = local.placeholder_command } : {},
    )
  ])
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = var.cluster_name
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 10
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider_name
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = var.container_name
    container_port   = var.container_port
  }

  ordered_placement_strategy {
    type  = "spread"
    field = "attribute:ecs.availability-zone"
  }

  ordered_placement_strategy {
    type  = "binpack"
    field = "memory"
  }

  lifecycle {
    # The pipeline rolls out new task definitions and autoscaling sets the count: terraform
    # owns the service's shape only, so the three never fight.
    ignore_changes = [task_definition, desired_count]
  }

  # The target group must be attached to the load balancer before a service can use it.
  depends_on = [aws_lb_listener_rule.this]
}

# Autoscaling --------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 30
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 30
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }
}
