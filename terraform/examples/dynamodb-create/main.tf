# Usage example of the published module README: DynamoDB Table Management, Option A (module creates the table)

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # PK/SK, DocumentTypeIndex, streams, PITR, SSE, TTL on expiresAt.
  create_dynamodb_table                = true
  dynamodb_deletion_protection_enabled = true
}
