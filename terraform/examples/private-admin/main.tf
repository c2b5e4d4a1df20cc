# Usage example of the published module README: Private API Gateway, Admin Mode (module creates the VPC endpoint)

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # Option A: the module creates the table. create_dynamodb_table defaults to
  # false, which expects an existing table (see examples/dynamodb-existing).
  create_dynamodb_table = true

  api_gateway_endpoint_type = "PRIVATE"

  create_vpc_endpoint = true
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  # Optional: leave empty and the module creates a security group allowing
  # HTTPS from the VPC's CIDR blocks.
  security_group_ids = var.security_group_ids
}
