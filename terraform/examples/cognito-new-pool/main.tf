# Usage example of the published module README: Authentication Methods, 2. Cognito, Option A (new user pool)

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
  create_cognito_user_pool = true

  cognito_password_min_length = 12
  cognito_mfa_configuration   = "OPTIONAL"
  cognito_deletion_protection = true
  cognito_callback_urls       = ["https://app.example.com/callback"]
  cognito_logout_urls         = ["https://app.example.com/logout"]
  cognito_domain_prefix       = var.cognito_domain_prefix

  # The web interface (enable_web_ui, on by default) signs in through this pool's
  # hosted UI; the module adds its page to the app client's callback URLs. The
  # application at app.example.com calls the API and the bucket from the browser.
  cors_allowed_origins = ["https://app.example.com"]
}
