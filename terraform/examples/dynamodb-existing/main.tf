# Usage example of the published module README: DynamoDB Table Management, Option B (existing table)

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # Use an existing table with the required schema (PK/SK, DocumentTypeIndex).
  create_dynamodb_table = false
  dynamodb_table_name   = var.dynamodb_table_name
}
