variable "aws_region" {
  description = "Region to deploy to"
  type        = string
  default     = "us-east-1"
}

variable "lambda_deployment_package_path" {
  description = "arm64 bootstrap.zip built by scripts/build-lambda.sh --arm64 (lambda_architecture is arm64 here)"
  type        = string
  default     = "../../../target/lambda-arm64/bootstrap/bootstrap.zip"
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

variable "vpc_id" {
  description = "VPC of the execute-api endpoint"
  type        = string
  default     = "vpc-12345678"
}

variable "subnet_ids" {
  description = "Subnets of the execute-api endpoint"
  type        = list(string)
  default     = ["subnet-11111111", "subnet-22222222"]
}

variable "replica_kms_key_arn" {
  description = "KMS key in eu-west-1 for the table replica"
  type        = string
  default     = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}
