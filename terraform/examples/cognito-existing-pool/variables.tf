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
