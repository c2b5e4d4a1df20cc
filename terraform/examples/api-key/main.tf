# Usage example of the published module README: Authentication Methods, 1. API Key Authentication

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"

  # Option A: the module creates the table. create_dynamodb_table defaults to
  # false, which expects an existing table (see examples/dynamodb-existing).
  create_dynamodb_table = true

  # Lambda REQUEST authorizer on the Authorization header; the secret holds
  # {"api_key": "...", "api_key_previous": "..."}. The module never creates it.
  auth_method                      = "api_key"
  api_authorizer_secrets_arn       = var.api_authorizer_secrets_arn
  authorizer_result_ttl_in_seconds = 60
}
