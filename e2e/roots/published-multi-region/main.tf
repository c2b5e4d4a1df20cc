# The "Multi-Region Deployment Example" of the published terraform-aws-kumocms-regional
# README, verbatim except `source` (the git URL) pointing at this repository's module.
# e2e/test_examples.py::test_published_multi_region creates its prerequisites first
# (the table kumocms-prod-global-metadata in both regions, the secrets kumocms/api-keys,
# the package at ./lambda/kumocms-lambda.zip) and applies it unchanged.

# Region 1: us-east-1
module "kumocms_us_east_1" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = "us-east-1"

  lambda_deployment_package_path = "./lambda/kumocms-lambda.zip"
  s3_bucket_name                 = "kumocms-prod-documents-us-east-1"
  dynamodb_table_name            = "kumocms-prod-global-metadata"
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys"

  providers = {
    aws = aws.us_east_1
  }
}

# Region 2: eu-west-1
module "kumocms_eu_west_1" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = "eu-west-1"

  lambda_deployment_package_path = "./lambda/kumocms-lambda.zip"
  s3_bucket_name                 = "kumocms-prod-documents-eu-west-1"
  dynamodb_table_name            = "kumocms-prod-global-metadata"  # Same Global Table
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kumocms/api-keys"

  providers = {
    aws = aws.eu_west_1
  }
}
