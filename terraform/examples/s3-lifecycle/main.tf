# Usage example of the published module README: With S3 Lifecycle Policies

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

  s3_lifecycle_rules = [
    {
      id                            = "archive-old-documents"
      enabled                       = true
      prefix                        = "documents/"
      expiration_days               = 365
      noncurrent_version_expiration = 90
      transitions                   = [{ days = 90, storage_class = "GLACIER" }]
    },
    {
      id                            = "delete-temp-files"
      enabled                       = true
      prefix                        = "temp/"
      expiration_days               = 7
      noncurrent_version_expiration = 1
    },
  ]
}
