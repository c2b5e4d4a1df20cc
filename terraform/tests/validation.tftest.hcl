# Every wrong input combination from issue 4 point 4 (and a few more) must be
# rejected at plan time by a validation or precondition naming what to set.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  project_name                   = "kumocms"
  environment                    = "prod"
  aws_region                     = "us-east-1"
  lambda_deployment_package_path = "tests/fixtures/bootstrap.zip"
  s3_bucket_name                 = "kumocms-prod-documents-us-east-1"
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
  # Off, so that the web interface's Cognito sign-in check (tests/web_ui_cors.tftest.hcl)
  # does not add to the failures each run here expects.
  enable_web_ui = false
}

run "cognito_without_pool" {
  command = plan
  variables {
    auth_method              = "cognito"
    create_cognito_user_pool = false
    cognito_user_pool_arn    = null
  }
  expect_failures = [var.cognito_user_pool_arn]
}

run "cognito_pool_with_api_key_auth" {
  command = plan
  variables {
    auth_method              = "api_key"
    create_cognito_user_pool = true
  }
  expect_failures = [var.create_cognito_user_pool]
}

run "power_user_without_role_arns" {
  command = plan
  variables {
    create_iam_roles = false
  }
  expect_failures = [
    var.lambda_api_role_arn,
    var.lambda_authorizer_role_arn,
    var.lambda_event_processor_role_arn,
    var.api_gateway_authorizer_invocation_role_arn,
  ]
}

run "power_user_without_api_role_only" {
  command = plan
  variables {
    create_iam_roles                           = false
    lambda_authorizer_role_arn                 = "arn:aws:iam::123456789012:role/authz"
    lambda_event_processor_role_arn            = "arn:aws:iam::123456789012:role/events"
    api_gateway_authorizer_invocation_role_arn = "arn:aws:iam::123456789012:role/invoke"
  }
  expect_failures = [var.lambda_api_role_arn]
}

run "power_user_account_logging_without_role" {
  command = plan
  variables {
    manage_api_gateway_account                 = true
    create_iam_roles                           = false
    lambda_api_role_arn                        = "arn:aws:iam::123456789012:role/api"
    lambda_authorizer_role_arn                 = "arn:aws:iam::123456789012:role/authz"
    lambda_event_processor_role_arn            = "arn:aws:iam::123456789012:role/events"
    api_gateway_authorizer_invocation_role_arn = "arn:aws:iam::123456789012:role/invoke"
  }
  expect_failures = [var.api_gateway_cloudwatch_role_arn]
}

run "waf_without_acl" {
  command = plan
  variables {
    enable_waf = true
  }
  expect_failures = [var.waf_web_acl_arn]
}

run "private_create_endpoint_without_vpc" {
  command = plan
  variables {
    api_gateway_endpoint_type = "PRIVATE"
    create_vpc_endpoint       = true
    subnet_ids                = ["subnet-11111111"]
  }
  expect_failures = [var.vpc_id]
}

run "private_create_endpoint_without_subnets" {
  command = plan
  variables {
    api_gateway_endpoint_type = "PRIVATE"
    create_vpc_endpoint       = true
    vpc_id                    = "vpc-12345678"
  }
  expect_failures = [var.subnet_ids]
}

run "private_without_endpoint_id" {
  command = plan
  variables {
    api_gateway_endpoint_type = "PRIVATE"
    create_vpc_endpoint       = false
  }
  expect_failures = [var.vpc_endpoint_id]
}

run "api_key_without_secret" {
  command = plan
  variables {
    auth_method                = "api_key"
    api_authorizer_secrets_arn = null
  }
  expect_failures = [var.api_authorizer_secrets_arn]
}

run "bad_environment_name" {
  command = plan
  variables {
    environment = "Prod_Env"
  }
  expect_failures = [var.environment]
}

run "bad_region" {
  command = plan
  variables {
    aws_region = "us-east"
  }
  expect_failures = [var.aws_region]
}

run "region_differs_from_provider" {
  command = plan
  variables {
    aws_region = "eu-west-1"
  }
  expect_failures = [aws_api_gateway_rest_api.this]
}

run "bad_bucket_name" {
  command = plan
  variables {
    s3_bucket_name = "KumoCMS_Documents"
  }
  expect_failures = [var.s3_bucket_name]
}

run "unknown_runtime" {
  command = plan
  variables {
    lambda_runtime = "python3.12"
  }
  expect_failures = [var.lambda_runtime]
}

run "unknown_endpoint_type" {
  command = plan
  variables {
    api_gateway_endpoint_type = "EDGE"
  }
  expect_failures = [var.api_gateway_endpoint_type]
}

run "unknown_auth_method" {
  command = plan
  variables {
    auth_method = "iam"
  }
  expect_failures = [var.auth_method]
}

run "unknown_architecture" {
  command = plan
  variables {
    lambda_architecture = "arm32"
  }
  expect_failures = [var.lambda_architecture]
}

run "replica_in_own_region" {
  command = plan
  variables {
    dynamodb_replica_regions = ["us-east-1", "eu-west-1"]
  }
  expect_failures = [var.dynamodb_replica_regions]
}

run "replicas_with_cmk_need_regional_keys" {
  command = plan
  variables {
    kms_key_arn              = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    create_dynamodb_table    = true
    dynamodb_replica_regions = ["eu-west-1"]
  }
  expect_failures = [var.dynamodb_replica_kms_key_arns]
}

run "lifecycle_expiration_zero" {
  command = plan
  variables {
    s3_lifecycle_rules = [{ id = "never", expiration_days = 0 }]
  }
  expect_failures = [var.s3_lifecycle_rules]
}

run "lambda_timeout_out_of_range" {
  command = plan
  variables {
    lambda_timeout = 901
  }
  expect_failures = [var.lambda_timeout]
}

run "log_retention_not_allowed" {
  command = plan
  variables {
    log_retention_in_days = 10
  }
  expect_failures = [var.log_retention_in_days]
}

run "cognito_domain_without_created_pool" {
  command = plan
  variables {
    auth_method                = "cognito"
    api_authorizer_secrets_arn = null
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_ABC123"
    cognito_domain_prefix      = "kumocms-prod"
  }
  expect_failures = [var.cognito_domain_prefix]
}

run "insecure_callback_url" {
  command = plan
  variables {
    auth_method              = "cognito"
    create_cognito_user_pool = true
    cognito_callback_urls    = ["http://app.example.com/callback"]
  }
  expect_failures = [var.cognito_callback_urls]
}

run "peer_bucket_arns_not_a_bucket_arn" {
  command = plan
  variables {
    peer_bucket_arns = ["kumocms-prod-documents-eu-west-1"]
  }
  expect_failures = [var.peer_bucket_arns]
}

run "peer_bucket_arns_with_an_object_path" {
  command = plan
  variables {
    peer_bucket_arns = ["arn:aws:s3:::kumocms-prod-documents-eu-west-1/documents/*"]
  }
  expect_failures = [var.peer_bucket_arns]
}

run "peer_bucket_arns_with_own_bucket" {
  command = plan
  variables {
    peer_bucket_arns = ["arn:aws:s3:::kumocms-prod-documents-us-east-1"]
  }
  expect_failures = [var.peer_bucket_arns]
}

run "multipart_threshold_below_the_smallest_part" {
  command = plan
  variables {
    multipart_threshold_mib = 4
  }
  expect_failures = [var.multipart_threshold_mib]
}

run "fractional_multipart_threshold" {
  command = plan
  variables {
    multipart_threshold_mib = 5.5
  }
  expect_failures = [var.multipart_threshold_mib]
}

run "negative_trash_retention" {
  command = plan
  variables {
    trash_retention_days = -1
  }
  expect_failures = [var.trash_retention_days]
}

run "fractional_revision_retention" {
  command = plan
  variables {
    revision_retention_count = 2.5
    revision_retention_days  = -3
  }
  expect_failures = [var.revision_retention_count, var.revision_retention_days]
}

# The bootstrap binary runs only the roles it knows (api, authorizer, events,
# dlq); the handler of the Python functions would deploy an API function that
# fails at init.
run "lambda_handler_python_path" {
  command = plan
  variables {
    lambda_handler = "src.handlers.api.main.lambda_handler"
  }
  expect_failures = [var.lambda_handler]
}

run "lambda_handler_other_role" {
  command = plan
  variables {
    lambda_handler = "events"
  }
  expect_failures = [var.lambda_handler]
}

run "lambda_handler_api_accepted" {
  command = plan
  variables {
    lambda_handler = "api"
  }
  assert {
    condition     = aws_lambda_function.this["api"].handler == "api" && aws_lambda_function.this["authorizer"].handler == "authorizer"
    error_message = "lambda_handler = \"api\" is accepted and the authorizer keeps its own role"
  }
}

run "peer_table_arns_not_a_table_arn" {
  command = plan
  variables {
    peer_table_arns = ["arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-metadata/index/DocumentTypeIndex"]
  }
  expect_failures = [var.peer_table_arns]
}

run "peer_table_arns_with_another_table_name" {
  command = plan
  variables {
    peer_table_arns = ["arn:aws:dynamodb:eu-west-1:123456789012:table/some-other-table"]
  }
  expect_failures = [var.peer_table_arns]
}

run "peer_table_arns_with_own_region" {
  command = plan
  variables {
    peer_table_arns = ["arn:aws:dynamodb:us-east-1:123456789012:table/kumocms-prod-metadata"]
  }
  expect_failures = [var.peer_table_arns]
}

run "multi_region_consistency_lower_case" {
  command = plan
  variables {
    dynamodb_multi_region_consistency = "strong"
  }
  expect_failures = [var.dynamodb_multi_region_consistency]
}

run "strong_consistency_with_a_created_table" {
  command = plan
  variables {
    dynamodb_multi_region_consistency = "STRONG"
    create_dynamodb_table             = true
  }
  expect_failures = [var.dynamodb_multi_region_consistency]
}

run "strong_consistency_on_a_table_without_replicas" {
  command = plan
  variables {
    dynamodb_multi_region_consistency = "STRONG"
    create_dynamodb_table             = false
  }
  override_data {
    target = data.aws_dynamodb_table.strong[0]
    values = {
      replica = []
    }
  }
  expect_failures = [data.aws_dynamodb_table.strong]
}
