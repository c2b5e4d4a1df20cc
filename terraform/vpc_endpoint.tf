################################################################################
# PRIVATE API, admin mode: the execute-api interface endpoint and, unless
# security_group_ids are given, a security group allowing 443 from the VPC.
################################################################################

resource "aws_security_group" "vpc_endpoint" {
  count = local.create_vpce_security_group ? 1 : 0

  name_prefix = "${local.name_prefix}-execute-api-"
  description = "KumoCMS private API: HTTPS from the VPC to the execute-api endpoint"
  vpc_id      = var.vpc_id

  # No egress rules: an interface endpoint only answers; Terraform removes the
  # default allow-all egress rule.

  tags = merge(local.tags, { Name = "${local.name_prefix}-execute-api" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "vpc_endpoint_https" {
  for_each = local.create_vpce_security_group ? toset(
    length(var.vpc_endpoint_allowed_cidr_blocks) > 0 ? var.vpc_endpoint_allowed_cidr_blocks : data.aws_vpc.this[0].cidr_block_associations[*].cidr_block
  ) : toset([])

  security_group_id = aws_security_group.vpc_endpoint[0].id
  description       = "HTTPS to the KumoCMS API from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value

  tags = local.tags
}

resource "aws_vpc_endpoint" "execute_api" {
  count = local.create_vpc_endpoint ? 1 : 0

  vpc_id              = var.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.execute-api"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = local.create_vpce_security_group ? [aws_security_group.vpc_endpoint[0].id] : var.security_group_ids
  private_dns_enabled = var.vpc_endpoint_private_dns_enabled

  tags = merge(local.tags, { Name = "${local.name_prefix}-execute-api" })
}
