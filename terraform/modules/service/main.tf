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
  # Fargate takes task-level sizes from a fixed list: the smallest one that holds cpu/memory.
  fargate_cpu    = [for c in [256, 512, 1024, 2048, 4096] : c if c >= var.cpu][0]
  fargate_min    = max(var.memory, 2 * local.fargate_cpu)
  fargate_memory = local.fargate_min <= 512 ? 512 : ceil(local.fargate_min / 1024) * 1024
  # Bridge mode: hostPort 0 lets Docker pick a port from the instance's dynamic range, so
  # several copies (and several services) share one instance. awsvpc: the task has its own
  # address and the port is the container's.
  port_mapping = { containerPort = var.container_port, hostPort = var.fargate ? var.container_port : 0, protocol = "tcp" }
  # The root filesystem is read-only; the app and gunicorn get a scratch /tmp: a tmpfs on EC2,
  # a task-local volume on Fargate (which has no tmpfs).
  linux_parameters = merge(
    { initProcessEnabled = true },
    var.fargate ? {} : { tmpfs = [{ containerPath = "/tmp", size = 64, mountOptions = ["noexec", "nosuid", "nodev"] }] },
  )
  scratch_mount = var.fargate ? { mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }] } : {}
  # A first apply has no image yet: answer 200 everywhere so the service comes up healthy.
  placeholder_command = [
    "python", "-c",
    "import http.server as h\nclass H(h.BaseHTTPRequestHandler):\n def do_GET(s):\n  s.send_response(200);s.end_headers();s.wfile.write(b'placeholder: no image deployed yet\\n')\nh.ThreadingHTTPServer(('',${var.container_port}),H).serve_forever()",
  ]
}

# Load balancing -----------------------------------------------------------------------------

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:ALB to container stays inside the VPC, admitted only from the ALB's security group; TLS ends at the ALB.
  name                 = var.name
  vpc_id               = var.vpc_id
  target_type          = var.fargate ? "ip" : "instance"
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
  network_mode             = var.fargate ? "awsvpc" : "bridge"
  requires_compatibilities = [var.fargate ? "FARGATE" : "EC2"]
  cpu                      = var.fargate ? tostring(local.fargate_cpu) : null
  memory                   = var.fargate ? tostring(local.fargate_memory) : null
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  dynamic "volume" {
    for_each = var.fargate ? ["tmp"] : []
    content {
      name = volume.value
    }
  }

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
        portMappings           = [local.port_mapping]
        linuxParameters        = local.linux_parameters
        environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = var.log_group_name
            awslogs-region        = var.region
            awslogs-stream-prefix = var.log_stream_prefix
          }
        }
      },
      local.scratch_mount,
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

  # awsvpc (Fargate): each task gets an interface in the private subnets, in the given groups.
  dynamic "network_configuration" {
    for_each = var.fargate ? [1] : []
    content {
      subnets          = var.subnet_ids
      security_groups  = var.security_group_ids
      assign_public_ip = false
    }
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

  # On EC2: spread over the AZs, then pack instances full. Fargate places tasks itself.
  dynamic "ordered_placement_strategy" {
    for_each = var.fargate ? [] : [{ type = "spread", field = "attribute:ecs.availability-zone" }, { type = "binpack", field = "memory" }]
    content {
      type  = ordered_placement_strategy.value.type
      field = ordered_placement_strategy.value.field
    }
  }

  lifecycle {
    # The pipeline rolls out new task definitions and autoscaling sets the count: terraform
    # owns the service's shape only, so the three never fight.
    ignore_changes = [task_definition, desired_count]
    precondition {
      condition     = !var.fargate || (length(var.subnet_ids) > 0 && length(var.security_group_ids) > 0)
      error_message = "A Fargate service needs subnet_ids and security_group_ids."
    }
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
