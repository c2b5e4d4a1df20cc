# Test-only: the two aliased providers the published example names (aws.us_east_1,
# aws.eu_west_1), with every service at moto. The example itself declares no
# provider, so this is an ordinary file, not an override.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

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

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"

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

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}
