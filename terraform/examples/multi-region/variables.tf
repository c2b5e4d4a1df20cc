variable "lambda_deployment_package_path" {
  description = "bootstrap.zip built by scripts/build-lambda.sh"
  type        = string
  default     = "../../../target/lambda/bootstrap/bootstrap.zip"
}

variable "api_authorizer_secrets_arn_us_east_1" {
  description = "API key secret in us-east-1"
  type        = string
  default     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
}

variable "api_authorizer_secrets_arn_eu_west_1" {
  description = "API key secret in eu-west-1 (a replica of the us-east-1 secret, or its own)"
  type        = string
  default     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kumocms/api-keys-abcdef"
}

variable "dynamodb_replica_regions" {
  description = "Replica regions of the global table created in us-east-1 (the second module instance runs in eu-west-1)"
  type        = list(string)
  default     = ["eu-west-1"]
}
