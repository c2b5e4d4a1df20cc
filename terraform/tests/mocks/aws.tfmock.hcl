# The mocked AWS data every terraform test plans against (no credentials, no network).
# Shared by the test files through `mock_provider "aws" { source = "./tests/mocks" }`.

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}
mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
    user_id    = "AIDATEST"
  }
}
mock_data "aws_region" {
  defaults = {
    name     = "us-east-1"
    endpoint = "ec2.us-east-1.amazonaws.com"
  }
}
mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock-role"
  }
}
mock_resource "aws_lambda_function" {
  defaults = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:mock"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mock/invocations"
  }
}
mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/mock"
  }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock"
  }
}
mock_resource "aws_api_gateway_rest_api" {
  defaults = {
    id               = "abc123defg"
    root_resource_id = "rootid1234"
    execution_arn    = "arn:aws:execute-api:us-east-1:123456789012:abc123defg"
  }
}
mock_resource "aws_api_gateway_stage" {
  defaults = {
    arn        = "arn:aws:apigateway:us-east-1::/restapis/abc123defg/stages/v1"
    invoke_url = "https://abc123defg.execute-api.us-east-1.amazonaws.com/v1"
  }
}
mock_resource "aws_cognito_user_pool" {
  defaults = {
    arn = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_MOCK"
  }
}
mock_resource "aws_vpc_endpoint" {
  defaults = {
    id = "vpce-0123456789abcdef0"
  }
}
mock_data "aws_vpc" {
  defaults = {
    cidr_block = "10.0.0.0/16"
    cidr_block_associations = [
      { association_id = "vpc-cidr-assoc-1", cidr_block = "10.0.0.0/16", state = "associated" },
      { association_id = "vpc-cidr-assoc-2", cidr_block = "10.1.0.0/16", state = "associated" },
    ]
  }
}
mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:kumocms-prod-dlq"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/kumocms-prod-dlq"
  }
}
mock_resource "aws_dynamodb_table" {
  defaults = {
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/kumocms-prod-metadata"
  }
}
mock_resource "aws_s3_bucket" {
  defaults = {
    arn = "arn:aws:s3:::kumocms-prod-documents-us-east-1"
  }
}
