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

variable "dynamodb_table_name" {
  description = "Metadata table (created by the module)"
  type        = string
  default     = "kumocms-prod-metadata"
}
