data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

# Only read when the module creates the VPC endpoint security group and the
# caller did not pass the CIDR blocks allowed to reach it.
data "aws_vpc" "this" {
  count = local.create_vpce_security_group && length(var.vpc_endpoint_allowed_cidr_blocks) == 0 ? 1 : 0

  id = var.vpc_id
}
