################################################################################
# Metadata table (create_dynamodb_table = true), or an existing table used as is.
################################################################################

resource "aws_dynamodb_table" "this" {
  count = var.create_dynamodb_table ? 1 : 0

  name                        = var.dynamodb_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = var.dynamodb_deletion_protection_enabled

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  attribute {
    name = "documentType"
    type = "S"
  }

  attribute {
    name = "uploadedAt"
    type = "S"
  }

  global_secondary_index {
    name            = "DocumentTypeIndex"
    hash_key        = "documentType"
    range_key       = "uploadedAt"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "replica" {
    for_each = var.dynamodb_replica_regions

    content {
      region_name            = replica.value
      kms_key_arn            = lookup(var.dynamodb_replica_kms_key_arns, replica.value, null)
      point_in_time_recovery = true
      propagate_tags         = true
    }
  }

  tags = local.tags
}

################################################################################
# Multi-Region strong consistency (dynamodb_multi_region_consistency = "STRONG")
#
# hashicorp/aws 5.100.0 has no argument for MRSC, so the table is created outside
# the module (README: "Multi-Region strong consistency") and used as an existing
# table. The provider cannot read the consistency mode either; what it can check at
# plan time is that the table exists and is a global table with one or two peer
# replicas (three regions, or two plus a witness, which DescribeTable does not
# list as a replica).
################################################################################

data "aws_dynamodb_table" "strong" {
  count = var.dynamodb_multi_region_consistency == "STRONG" ? 1 : 0

  name = var.dynamodb_table_name

  lifecycle {
    postcondition {
      condition     = length(self.replica) >= 1 && length(self.replica) <= 2
      error_message = "dynamodb_multi_region_consistency = \"STRONG\": table ${var.dynamodb_table_name} has ${length(self.replica)} peer replicas; a table with multi-Region strong consistency has replicas in three regions (or two plus a witness). Create it as terraform/README.md (\"Multi-Region strong consistency\") shows, or set dynamodb_multi_region_consistency = \"EVENTUAL\"."
    }
  }
}
