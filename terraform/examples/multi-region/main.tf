# Usage example of the published module README: Multi-Region Deployment Example
#
# Two regions of one account share one DynamoDB global table: region 1 creates
# it with a replica in region 2, region 2 uses it (create_dynamodb_table =
# false). IAM role names carry the region, so both module instances can use
# the same project_name and environment. A document's record names the bucket
# of its content, so each region's api function may read the other's bucket
# (peer_bucket_arns). Every change to a document is written to the replica in its
# home region, the region that created it, so each region's functions may write
# the other's replica (peer_table_arns).

data "aws_caller_identity" "current" {
  provider = aws.us_east_1
}

locals {
  table_name = "kumocms-prod-global-metadata"
  replica_arn = {
    for region in ["us-east-1", "eu-west-1"] :
    region => "arn:aws:dynamodb:${region}:${data.aws_caller_identity.current.account_id}:table/${local.table_name}"
  }
}

module "kumocms_us_east_1" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = "us-east-1"

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = "kumocms-prod-documents-us-east-1"
  dynamodb_table_name            = local.table_name
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn_us_east_1

  create_dynamodb_table    = true
  dynamodb_replica_regions = var.dynamodb_replica_regions

  # Documents uploaded in eu-west-1 are read from its bucket.
  peer_bucket_arns = ["arn:aws:s3:::kumocms-prod-documents-eu-west-1"]
  peer_table_arns  = [local.replica_arn["eu-west-1"]]

  providers = {
    aws = aws.us_east_1
  }
}

module "kumocms_eu_west_1" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = "eu-west-1"

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = "kumocms-prod-documents-eu-west-1"
  dynamodb_table_name            = module.kumocms_us_east_1.dynamodb_table_name # same global table
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn_eu_west_1

  create_dynamodb_table = false

  # Documents uploaded in us-east-1 are read from its bucket.
  peer_bucket_arns = ["arn:aws:s3:::kumocms-prod-documents-us-east-1"]
  peer_table_arns  = [local.replica_arn["us-east-1"]]

  providers = {
    aws = aws.eu_west_1
  }
}
