locals {
  https = var.certificate_arn != ""
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public load balancer: HTTP(S) in from clients, out only to the containers"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  #checkov:skip=CKV_AWS_260:A public web endpoint: port 80 open to clients is its purpose (it only answers 404 or redirects to HTTPS when a certificate is set).
  for_each          = toset(var.ingress_cidr_blocks)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each          = local.https ? toset(var.ingress_cidr_blocks) : toset([])
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs need a dedicated S3 bucket with an ELB-account policy; left to adopters (flow logs and Container Insights cover the PoC).
  #checkov:skip=CKV2_AWS_28:WAF costs about $6/month plus per-request fees; an adopter attaches a web ACL to this ARN.
  #checkov:skip=CKV_AWS_150:deletion_protection is a variable, off by default so preview environments can be torn down.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "defensive"
  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:HTTP is kept for the PoC without a domain; with certificate_arn set this listener only redirects to HTTPS.
  #checkov:skip=CKV_AWS_103:TLS policy applies to the HTTPS listener, not this one.
  #checkov:skip=CKV2_AWS_20:Redirects to HTTPS whenever a certificate is configured; without one there is no HTTPS to redirect to.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = local.https ? "redirect" : "fixed-response"

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = local.https ? [] : [1]
      content {
        content_type = "text/plain"
        message_body = "not found"
        status_code  = "404"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
}
