# Usage example of the published module README: Basic Example

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

  api_gateway_stage_name = "v1"

  enable_s3_versioning                   = true
  enable_dlq                             = true
  enable_eventbridge_metadata_extraction = true
  enable_api_gateway_logs                = true

  # API Gateway logging needs a CloudWatch Logs role in the region's API Gateway
  # account settings. A fresh account has none: pass
  # -var manage_api_gateway_account=true (once per account and region), or set
  # enable_api_gateway_logs = false. See README.md.
  manage_api_gateway_account = var.manage_api_gateway_account

  tags = {
    Team = "Platform"
    Cost = "Engineering"
  }
}
