# Plans every example under examples/ (as the root module) against mocked aws
# providers, so the examples are not only valid but also accepted by every
# validation and precondition of the module.

mock_provider "aws" {
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
}

mock_provider "aws" {
  alias = "us_east_1"

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
}

mock_provider "aws" {
  alias = "eu_west_1"

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
      name     = "eu-west-1"
      endpoint = "ec2.eu-west-1.amazonaws.com"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock-role"
    }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mock"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mock/invocations"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:eu-west-1:123456789012:rule/mock"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
    }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = {
      id               = "abc123defg"
      root_resource_id = "rootid1234"
      execution_arn    = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg"
    }
  }
  mock_resource "aws_api_gateway_stage" {
    defaults = {
      arn        = "arn:aws:apigateway:eu-west-1::/restapis/abc123defg/stages/v1"
      invoke_url = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1"
    }
  }
  mock_resource "aws_cognito_user_pool" {
    defaults = {
      arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_MOCK"
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
      arn = "arn:aws:sqs:eu-west-1:123456789012:kumocms-prod-dlq"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/kumocms-prod-dlq"
    }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-metadata"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::kumocms-prod-documents-eu-west-1"
    }
  }
}

variables {
  lambda_deployment_package_path = "tests/fixtures/bootstrap.zip"
}

run "example_basic" {
  command = plan

  module {
    source = "./examples/basic"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/basic plans with the expected lambda_api_handler_name"
  }
}

run "example_without_eventbridge" {
  command = plan

  module {
    source = "./examples/without-eventbridge"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/without-eventbridge plans with the expected lambda_api_handler_name"
  }
}

run "example_s3_lifecycle" {
  command = plan

  module {
    source = "./examples/s3-lifecycle"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/s3-lifecycle plans with the expected lambda_api_handler_name"
  }
}

run "example_dynamodb_create" {
  command = plan

  module {
    source = "./examples/dynamodb-create"
  }

  assert {
    condition     = output.dynamodb_table_name == "kumocms-prod-metadata"
    error_message = "examples/dynamodb-create plans with the expected dynamodb_table_name"
  }
}

run "example_dynamodb_existing" {
  command = plan

  module {
    source = "./examples/dynamodb-existing"
  }

  assert {
    condition     = output.dynamodb_table_name == "kumocms-prod-global-metadata"
    error_message = "examples/dynamodb-existing plans with the expected dynamodb_table_name"
  }
}

run "example_api_key" {
  command = plan

  module {
    source = "./examples/api-key"
  }

  assert {
    condition     = output.lambda_authorizer_name == "kumocms-prod-authorizer"
    error_message = "examples/api-key plans with the expected lambda_authorizer_name"
  }
}

run "example_cognito_new_pool" {
  command = plan

  module {
    source = "./examples/cognito-new-pool"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/cognito-new-pool plans with the expected lambda_api_handler_name"
  }
}

run "example_cognito_existing_pool" {
  command = plan

  module {
    source = "./examples/cognito-existing-pool"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/cognito-existing-pool plans with the expected lambda_api_handler_name"
  }
}

run "example_private_admin" {
  command = plan

  module {
    source = "./examples/private-admin"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/private-admin plans with the expected lambda_api_handler_name"
  }
}

run "example_private_power_user" {
  command = plan

  module {
    source = "./examples/private-power-user"
  }

  assert {
    condition     = output.vpc_endpoint_id == "vpce-0abcdef1234567890"
    error_message = "examples/private-power-user plans with the expected vpc_endpoint_id"
  }
}

run "example_waf" {
  command = plan

  module {
    source = "./examples/waf"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/waf plans with the expected lambda_api_handler_name"
  }
}

run "example_power_user_iam" {
  command = plan

  module {
    source = "./examples/power-user-iam"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/power-user-iam plans with the expected lambda_api_handler_name"
  }
}

run "example_complete" {
  command = plan

  module {
    source = "./examples/complete"
  }

  assert {
    condition     = output.lambda_api_handler_name == "kumocms-prod-api"
    error_message = "examples/complete plans with the expected lambda_api_handler_name"
  }
}

run "example_multi_region" {
  command = plan

  module {
    source = "./examples/multi-region"
  }

  providers = {
    aws.us_east_1 = aws.us_east_1
    aws.eu_west_1 = aws.eu_west_1
  }

  assert {
    condition     = output.lambda_api_handler_names == { "us-east-1" = "kumocms-prod-api", "eu-west-1" = "kumocms-prod-api" } && output.dynamodb_table_name == "kumocms-prod-global-metadata"
    error_message = "both regions plan and share one table"
  }
}
