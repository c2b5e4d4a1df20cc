# Usage example of the published module README: Without Event-Driven Metadata Extraction

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # Option A: the module creates the table. create_dynamodb_table defaults to
  # false, which expects an existing table (see examples/dynamodb-existing).
  create_dynamodb_table = true

  # No EventBridge rules, no events function and no dlq drain function.
  enable_eventbridge_metadata_extraction = false
}
