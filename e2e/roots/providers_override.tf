# Test-only override of providers.tf: every service at moto.
provider "aws" {
  region = var.aws_region

  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    apigateway     = var.apigateway_endpoint
    cloudwatch     = var.moto_endpoint
    cognitoidp     = var.moto_endpoint
    dynamodb       = var.moto_endpoint
    ec2            = var.moto_endpoint
    events         = var.moto_endpoint
    iam            = var.moto_endpoint
    kms            = var.moto_endpoint
    lambda         = var.moto_endpoint
    logs           = var.moto_endpoint
    s3             = var.moto_endpoint
    secretsmanager = var.moto_endpoint
    sqs            = var.moto_endpoint
    sts            = var.moto_endpoint
    wafv2          = var.moto_endpoint
  }
}
