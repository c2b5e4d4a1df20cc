# The module with nothing but its required inputs (and the API key secret): what
# a configuration written for the published module gets. Its defaults must work
# in a fresh account: no table is created (the published module lists it as a
# prerequisite; creating it is Option A, create_dynamodb_table = true), and API
# Gateway logging, which needs the account-level CloudWatch Logs role, is off.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment                    = "prod"
  aws_region                     = "us-east-1"
  lambda_deployment_package_path = "tests/fixtures/bootstrap.zip"
  s3_bucket_name                 = "kumocms-prod-documents-us-east-1"
  dynamodb_table_name            = "kumocms-prod-global-metadata"
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys"
}

run "existing_table_by_default" {
  command = apply

  assert {
    condition     = !var.create_dynamodb_table && length(aws_dynamodb_table.this) == 0
    error_message = "create_dynamodb_table defaults to false: the module creates no table"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["DYNAMODB_TABLE_NAME"] == "kumocms-prod-global-metadata"])
    error_message = "every function uses the existing table by name"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement : s.Resource]), "arn:aws:dynamodb:us-east-1:123456789012:table/kumocms-prod-global-metadata")
    error_message = "the api role may use the existing table"
  }
  assert {
    condition     = output.dynamodb_table_name == "kumocms-prod-global-metadata"
    error_message = "the output names the existing table"
  }
}

run "no_api_gateway_logging_by_default" {
  command = apply

  assert {
    condition     = !var.enable_api_gateway_logs && length(aws_api_gateway_stage.this.access_log_settings) == 0
    error_message = "enable_api_gateway_logs defaults to false: no access logs, which would need the account's CloudWatch Logs role"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].logging_level == "OFF"
    error_message = "no execution logs by default"
  }
  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_cloudwatch_log_group.api_gateway_access) == 0 && length(aws_cloudwatch_log_group.api_gateway_execution) == 0
    error_message = "no account setting and no API Gateway log groups by default"
  }
}

run "handlers_are_the_roles" {
  command = apply

  assert {
    condition     = { for k, f in aws_lambda_function.this : k => f.handler } == { api = "api", authorizer = "authorizer", events = "events", dlq = "dlq" }
    error_message = "each function's handler is the bootstrap role it runs"
  }
}
