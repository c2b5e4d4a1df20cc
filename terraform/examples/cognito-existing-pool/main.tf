# Usage example of the published module README: Authentication Methods, 2. Cognito, Option B (existing user pool)

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

  auth_method              = "cognito"
  create_cognito_user_pool = false
  cognito_user_pool_arn    = var.cognito_user_pool_arn

  # The web interface (enable_web_ui, on by default) signs in through the pool's
  # hosted UI with this app client; add the output web_ui_url to its callback URLs.
  cognito_domain        = var.cognito_domain
  cognito_app_client_id = var.cognito_app_client_id
}
