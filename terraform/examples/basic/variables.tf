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

variable "api_authorizer_secrets_arn" {
  description = "Secrets Manager secret holding {\"api_key\": ..., \"api_key_previous\": ...}"
  type        = string
  default     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
}

variable "s3_bucket_name" {
  description = "Globally unique bucket name"
  type        = string
  default     = "kumocms-prod-documents-us-east-1"
}

variable "manage_api_gateway_account" {
  description = "Let this deployment set the region's API Gateway account CloudWatch Logs role (needed once per account and region for enable_api_gateway_logs)"
  type        = bool
  default     = false
}
