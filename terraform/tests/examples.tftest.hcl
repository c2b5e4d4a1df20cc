# Plans every example under examples/ (as the root module) against mocked aws
# providers, so the examples are not only valid but also accepted by every
# validation and precondition of the module.

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "eu_west_1"
  source = "./tests/mocks/eu-west-1"
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
