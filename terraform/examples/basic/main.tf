# Seed usage: Basic Example

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  api_gateway_stage_name = "v1"

  enable_s3_versioning                   = true
  enable_dlq                             = true
  enable_eventbridge_metadata_extraction = true
  enable_api_gateway_logs                = true

  tags = {
    Team = "Platform"
    Cost = "Engineering"
  }
}
