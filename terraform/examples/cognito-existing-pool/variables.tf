variable "aws_region" {
  description = "Region to deploy to"
  type        = string
  default     = "us-east-1"
}

variable "lambda_deployment_package_path" {
  description = "bootstrap.zip built by scripts/build-lambda.sh"
  type        = string
  default     = "../../../target/lambda/bootstrap/bootstrap.zip"
}

variable "s3_bucket_name" {
  description = "Globally unique bucket name"
  type        = string
  default     = "kumocms-prod-documents-us-east-1"
}

variable "cognito_user_pool_arn" {
  description = "Existing user pool"
  type        = string
  default     = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_ABC123"
}

variable "cognito_domain" {
  description = "Hosted UI base URL of the existing pool (the web interface signs in through it)"
  type        = string
  default     = "https://kumocms-prod.auth.us-east-1.amazoncognito.com"
}

variable "cognito_app_client_id" {
  description = "Existing public app client (code flow, no secret) whose callback URLs include the output web_ui_url"
  type        = string
  default     = "1example23456789abcdefghij"
}
