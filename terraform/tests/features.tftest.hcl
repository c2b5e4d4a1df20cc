# One run per seed usage example and per feature toggle, against a mocked aws
# provider. Each run starts from the basic inputs below and changes one thing.

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
  create_dynamodb_table          = true # Option A, so the table's settings can be checked; runs that test an existing table set false
  enable_api_gateway_logs        = true # as examples/basic; the module's default is false
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
}

# Seed: "Without Event-Driven Metadata Extraction"
run "without_eventbridge" {
  command = apply

  variables {
    enable_eventbridge_metadata_extraction = false
  }

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["api", "authorizer"])
    error_message = "no events and no dlq function without event extraction"
  }
  assert {
    condition     = length(aws_cloudwatch_event_rule.s3) == 0 && length(aws_cloudwatch_event_rule.dlq_drain) == 0 && length(aws_s3_bucket_notification.documents) == 0 && length(aws_lambda_permission.eventbridge) == 0
    error_message = "no EventBridge rules and no S3 notification"
  }
  assert {
    condition     = output.lambda_event_processor_arn == null && output.eventbridge_rule_arn == null
    error_message = "event outputs are null"
  }
}

# Seed: "Multi-Region Deployment Example", region 1 creates the global table
run "multi_region_primary" {
  command = apply

  variables {
    dynamodb_table_name      = "kumocms-prod-global-metadata"
    dynamodb_replica_regions = ["eu-west-1"]
    peer_bucket_arns         = ["arn:aws:s3:::kumocms-prod-documents-eu-west-1"]
  }

  assert {
    condition     = one(aws_dynamodb_table.this[0].replica).region_name == "eu-west-1" && one(aws_dynamodb_table.this[0].replica).point_in_time_recovery
    error_message = "the global table gets a PITR replica in eu-west-1"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement :
      st.Sid == "ReadPeerRegionDocuments" && st.Resource == ["arn:aws:s3:::kumocms-prod-documents-eu-west-1/documents/*"] && contains(st.Action, "s3:GetObject")
    ])
    error_message = "the api role reads documents/* of the peer region's bucket"
  }
  assert {
    condition     = alltrue([for k in ["authorizer", "events", "dlq"] : !strcontains(aws_iam_role_policy.lambda[k].policy, "kumocms-prod-documents-eu-west-1")])
    error_message = "only the api function reads the peer buckets"
  }
}

# Seed: "Multi-Region Deployment Example", region 2 uses the same global table
run "multi_region_secondary" {
  command = apply

  variables {
    aws_region                 = "eu-west-1"
    s3_bucket_name             = "kumocms-prod-documents-eu-west-1"
    dynamodb_table_name        = "kumocms-prod-global-metadata"
    create_dynamodb_table      = false
    api_authorizer_secrets_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kumocms/api-keys"
  }

  override_data {
    target = data.aws_region.current
    values = {
      name = "eu-west-1"
    }
  }

  assert {
    condition     = alltrue([for r in concat(values(aws_iam_role.lambda), aws_iam_role.authorizer_invocation) : strcontains(r.name, "-eu-west-1-")])
    error_message = "role names carry the region, so both regions can be applied in one account"
  }
  assert {
    condition     = aws_iam_role.lambda["api"].name == "kumocms-prod-eu-west-1-api"
    error_message = "region-2 api role name"
  }
  assert {
    condition     = output.dynamodb_table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-global-metadata"
    error_message = "the existing table's ARN is built from partition, region and account"
  }
}

# Multi-region, eventually consistent global table: each change to a document is
# written to the replica in its home region (peer_table_arns), uploads go to the
# home region's bucket (peer_bucket_arns).
run "multi_region_home_region_writes" {
  command = apply

  variables {
    dynamodb_table_name      = "kumocms-prod-global-metadata"
    dynamodb_replica_regions = ["eu-west-1"]
    peer_bucket_arns         = ["arn:aws:s3:::kumocms-prod-documents-eu-west-1"]
    peer_table_arns          = ["arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-global-metadata"]
  }

  assert {
    condition = alltrue([for k in ["api", "dlq"] : anytrue([for st in jsondecode(aws_iam_role_policy.lambda[k].policy).Statement :
      st.Sid == "WritePeerRegionReplicas" && st.Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-global-metadata"] && toset(st.Action) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"])
    ])])
    error_message = "api and dlq write the peer replica (items only, the table only)"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.lambda["events"].policy).Statement :
      st.Sid == "WritePeerRegionReplicas" && st.Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-global-metadata"] && toset(st.Action) == toset(["dynamodb:GetItem", "dynamodb:PutItem"])
    ])
    error_message = "events reads and puts records in the peer replica, and never deletes one"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.lambda["authorizer"].policy, "eu-west-1")
    error_message = "the authorizer gets nothing in the peer region"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement :
      st.Sid == "ManagePeerRegionDocuments" && st.Resource == ["arn:aws:s3:::kumocms-prod-documents-eu-west-1/documents/*"] && contains(st.Action, "s3:PutObject")
    ])
    error_message = "the api role signs uploads to (and deletes, archives, restores in) the home region's bucket"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["KUMOCMS_MULTI_REGION_CONSISTENCY"] == "EVENTUAL"])
    error_message = "the functions are told the table is eventually consistent (home-region writes)"
  }
  assert {
    condition     = length(data.aws_dynamodb_table.strong) == 0
    error_message = "no MRSC check without STRONG"
  }
}

# Multi-Region strong consistency: a table created outside the module, checked at plan.
run "multi_region_strong_consistency" {
  command = apply

  variables {
    dynamodb_table_name               = "kumocms-prod-global-metadata"
    create_dynamodb_table             = false
    dynamodb_multi_region_consistency = "STRONG"
  }

  override_data {
    target = data.aws_dynamodb_table.strong[0]
    values = {
      replica = [
        { region_name = "us-east-2", kms_key_arn = "" },
        { region_name = "us-west-2", kms_key_arn = "" },
      ]
    }
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["KUMOCMS_MULTI_REGION_CONSISTENCY"] == "STRONG"])
    error_message = "the functions are told the table is strongly consistent (local writes)"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.lambda["api"].policy, "WritePeerRegionReplicas")
    error_message = "without peer_table_arns no peer replica is writable"
  }
}

# Seed: "With S3 Lifecycle Policies"
run "s3_lifecycle_rules" {
  command = apply

  variables {
    s3_lifecycle_rules = [
      {
        id                            = "archive-old-documents"
        enabled                       = true
        prefix                        = "documents/"
        expiration_days               = 365
        noncurrent_version_expiration = 90
        transitions                   = [{ days = 90, storage_class = "GLACIER" }]
      },
      {
        id                            = "delete-temp-files"
        enabled                       = true
        prefix                        = "temp/"
        expiration_days               = 7
        noncurrent_version_expiration = 1
      },
      {
        id = "minimal"
      },
    ]
  }

  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.documents.rule) == 4
    error_message = "three user rules plus the abort-incomplete-multipart rule"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.documents.rule[1].id == "archive-old-documents" && aws_s3_bucket_lifecycle_configuration.documents.rule[1].expiration[0].days == 365 && aws_s3_bucket_lifecycle_configuration.documents.rule[1].noncurrent_version_expiration[0].noncurrent_days == 90 && aws_s3_bucket_lifecycle_configuration.documents.rule[1].filter[0].prefix == "documents/"
    error_message = "archive-old-documents rule"
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.documents.rule[1].transition).storage_class == "GLACIER"
    error_message = "transitions are passed through"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.documents.rule[2].filter[0].prefix == "temp/" && aws_s3_bucket_lifecycle_configuration.documents.rule[2].expiration[0].days == 7
    error_message = "delete-temp-files rule"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.documents.rule[3].status == "Enabled" && aws_s3_bucket_lifecycle_configuration.documents.rule[3].filter[0].prefix == "documents/" && length(aws_s3_bucket_lifecycle_configuration.documents.rule[3].expiration) == 0
    error_message = "optional fields default to enabled, prefix documents/, no expiration"
  }
}

# Seed: "DynamoDB Table Management", Option B (existing table)
run "dynamodb_existing_table" {
  command = apply

  variables {
    create_dynamodb_table = false
    dynamodb_table_name   = "kumocms-prod-global-metadata"
  }

  assert {
    condition     = length(aws_dynamodb_table.this) == 0
    error_message = "no table is created"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["DYNAMODB_TABLE_NAME"] == "kumocms-prod-global-metadata"
    error_message = "functions use the existing table"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement : s.Resource]), "arn:aws:dynamodb:us-east-1:123456789012:table/kumocms-prod-global-metadata")
    error_message = "IAM is scoped to the existing table's ARN"
  }
  assert {
    condition     = output.dynamodb_table_stream_arn == null && output.dynamodb_table_name == "kumocms-prod-global-metadata"
    error_message = "outputs for an existing table"
  }
}

# Seed: "Cognito, Option A: Create new Cognito User Pool"
run "cognito_new_pool" {
  command = apply

  variables {
    auth_method                 = "cognito"
    api_authorizer_secrets_arn  = null
    create_cognito_user_pool    = true
    cognito_password_min_length = 12
    cognito_mfa_configuration   = "OPTIONAL"
    cognito_deletion_protection = true
    cognito_callback_urls       = ["https://app.example.com/callback"]
    cognito_logout_urls         = ["https://app.example.com/logout"]
    cognito_domain_prefix       = "kumocms-prod"
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this), "authorizer") && length(aws_api_gateway_authorizer.lambda) == 0 && length(aws_iam_role.authorizer_invocation) == 0
    error_message = "with Cognito no Lambda authorizer, no authorizer function and no invocation role are created"
  }
  assert {
    condition     = aws_api_gateway_authorizer.cognito[0].type == "COGNITO_USER_POOLS" && toset(aws_api_gateway_authorizer.cognito[0].provider_arns) == toset([aws_cognito_user_pool.this[0].arn])
    error_message = "the Cognito authorizer uses the new pool"
  }
  assert {
    condition     = alltrue([for k, m in aws_api_gateway_method.this : m.authorization == (contains(["GET /healthcheck", "GET /openapi.json", "GET /ui", "GET /ui/{proxy+}"], k) ? "NONE" : "COGNITO_USER_POOLS")])
    error_message = "protected routes use the Cognito authorizer (the web interface's /ui routes are open)"
  }
  assert {
    condition     = aws_cognito_user_pool.this[0].password_policy[0].minimum_length == 12 && aws_cognito_user_pool.this[0].mfa_configuration == "OPTIONAL" && aws_cognito_user_pool.this[0].deletion_protection == "ACTIVE"
    error_message = "user pool settings from the inputs"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.this[0].allowed_oauth_flows) == toset(["code"]) && toset(aws_cognito_user_pool_client.this[0].callback_urls) == toset(["https://app.example.com/callback", "https://abc123defg.execute-api.us-east-1.amazonaws.com/v1/ui/"])
    error_message = "app client: code flow only, callback URLs from the inputs and the web interface's page"
  }
  assert {
    condition     = aws_cognito_user_pool_domain.this[0].domain == "kumocms-prod" && output.cognito_domain == "https://kumocms-prod.auth.us-east-1.amazoncognito.com"
    error_message = "hosted UI domain"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this["api"].environment[0].variables), "SECRETS_ARN") && !strcontains(aws_iam_role_policy.lambda["api"].policy, "secretsmanager")
    error_message = "no secret and no Secrets Manager permission with Cognito"
  }
  assert {
    condition     = output.cognito_user_pool_arn == aws_cognito_user_pool.this[0].arn && output.cognito_app_client_id == aws_cognito_user_pool_client.this[0].id && output.lambda_authorizer_arn == null
    error_message = "Cognito outputs"
  }
}

# Seed: "Cognito, Option B: Use existing Cognito User Pool"
run "cognito_existing_pool" {
  command = apply

  variables {
    auth_method                = "cognito"
    api_authorizer_secrets_arn = null
    create_cognito_user_pool   = false
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_ABC123"
  }

  # No hosted UI domain or app client given: the web interface (on by default)
  # could not sign anyone in, which the plan reports (a warning outside tests).
  expect_failures = [check.web_ui_cognito_sign_in]

  assert {
    condition     = length(aws_cognito_user_pool.this) == 0 && toset(aws_api_gateway_authorizer.cognito[0].provider_arns) == toset(["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_ABC123"])
    error_message = "the existing pool is used, none is created"
  }
  assert {
    condition     = output.cognito_user_pool_arn == var.cognito_user_pool_arn && output.cognito_user_pool_id == null
    error_message = "outputs for an existing pool"
  }
}

# Seed: "Private API Gateway, Admin Mode" (security group given)
run "private_admin_mode" {
  command = apply

  variables {
    api_gateway_endpoint_type = "PRIVATE"
    create_vpc_endpoint       = true
    vpc_id                    = "vpc-12345678"
    subnet_ids                = ["subnet-11111111", "subnet-22222222"]
    security_group_ids        = ["sg-33333333"]
  }

  assert {
    condition     = aws_api_gateway_rest_api.this.endpoint_configuration[0].types == tolist(["PRIVATE"])
    error_message = "PRIVATE endpoint"
  }
  assert {
    condition     = aws_vpc_endpoint.execute_api[0].service_name == "com.amazonaws.us-east-1.execute-api" && aws_vpc_endpoint.execute_api[0].vpc_endpoint_type == "Interface" && toset(aws_vpc_endpoint.execute_api[0].subnet_ids) == toset(["subnet-11111111", "subnet-22222222"])
    error_message = "an execute-api interface endpoint in the given subnets"
  }
  assert {
    condition     = length(aws_security_group.vpc_endpoint) == 0 && toset(aws_vpc_endpoint.execute_api[0].security_group_ids) == toset(["sg-33333333"])
    error_message = "given security groups are used, none is created"
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_api_gateway_rest_api_policy.this[0].policy).Statement : values(s.Condition)[0]["aws:SourceVpce"] == aws_vpc_endpoint.execute_api[0].id])
    error_message = "the resource policy is limited to the VPC endpoint"
  }
  assert {
    condition     = output.vpc_endpoint_id == aws_vpc_endpoint.execute_api[0].id
    error_message = "vpc_endpoint_id output"
  }
}

# Admin mode without security groups: the module creates one
run "private_admin_mode_creates_security_group" {
  command = apply

  variables {
    api_gateway_endpoint_type = "PRIVATE"
    vpc_id                    = "vpc-12345678"
    subnet_ids                = ["subnet-11111111"]
  }

  assert {
    condition     = length(aws_security_group.vpc_endpoint) == 1 && length(aws_security_group.vpc_endpoint[0].egress) == 0
    error_message = "a security group without egress rules is created"
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.vpc_endpoint_https : r.cidr_ipv4]) == toset(["10.0.0.0/16", "10.1.0.0/16"]) && alltrue([for r in aws_vpc_security_group_ingress_rule.vpc_endpoint_https : r.from_port == 443 && r.to_port == 443 && r.ip_protocol == "tcp"])
    error_message = "ingress 443 from every VPC CIDR block, nothing else"
  }
}

# Seed: "Private API Gateway, Power User Mode" (pre-created VPC endpoint)
run "private_power_user_mode" {
  command = apply

  variables {
    api_gateway_endpoint_type = "PRIVATE"
    create_vpc_endpoint       = false
    vpc_endpoint_id           = "vpce-0abcdef1234567890"
  }

  assert {
    condition     = length(aws_vpc_endpoint.execute_api) == 0 && length(aws_security_group.vpc_endpoint) == 0
    error_message = "no endpoint and no security group are created"
  }
  assert {
    condition     = toset(aws_api_gateway_rest_api.this.endpoint_configuration[0].vpc_endpoint_ids) == toset(["vpce-0abcdef1234567890"]) && strcontains(aws_api_gateway_rest_api_policy.this[0].policy, "vpce-0abcdef1234567890")
    error_message = "the API and its policy use the given endpoint"
  }
  assert {
    condition     = output.vpc_endpoint_id == "vpce-0abcdef1234567890"
    error_message = "vpc_endpoint_id output shows the given endpoint"
  }
}

# Seed: "With WAF Integration"
run "waf" {
  command = apply

  variables {
    enable_waf      = true
    waf_web_acl_arn = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/kumocms-prod-waf/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_wafv2_web_acl_association.this[0].web_acl_arn == var.waf_web_acl_arn && aws_wafv2_web_acl_association.this[0].resource_arn == aws_api_gateway_stage.this.arn
    error_message = "the web ACL is associated with the stage"
  }
}

# Seed: "Power User Mode - IAM Policy Examples" (roles created elsewhere)
run "power_user_iam_roles" {
  command = apply

  variables {
    create_iam_roles                           = false
    lambda_api_role_arn                        = "arn:aws:iam::123456789012:role/kumocms-prod-lambda-api-role"
    lambda_authorizer_role_arn                 = "arn:aws:iam::123456789012:role/kumocms-prod-lambda-authorizer-role"
    lambda_event_processor_role_arn            = "arn:aws:iam::123456789012:role/kumocms-prod-lambda-event-processor-role"
    api_gateway_authorizer_invocation_role_arn = "arn:aws:iam::123456789012:role/kumocms-prod-api-gateway-auth-invocation-role"
  }

  assert {
    condition     = length(aws_iam_role.lambda) == 0 && length(aws_iam_role.authorizer_invocation) == 0 && length(aws_iam_role_policy.lambda) == 0
    error_message = "no IAM is created in power user mode"
  }
  assert {
    condition     = aws_lambda_function.this["api"].role == var.lambda_api_role_arn && aws_lambda_function.this["authorizer"].role == var.lambda_authorizer_role_arn && aws_lambda_function.this["events"].role == var.lambda_event_processor_role_arn
    error_message = "functions use the given roles"
  }
  assert {
    condition     = aws_lambda_function.this["dlq"].role == var.lambda_event_processor_role_arn
    error_message = "without lambda_dlq_role_arn the dlq function uses the event processor role"
  }
  assert {
    condition     = aws_api_gateway_authorizer.lambda[0].authorizer_credentials == var.api_gateway_authorizer_invocation_role_arn
    error_message = "the authorizer is invoked through the given invocation role"
  }
}

run "power_user_dlq_role" {
  command = apply

  variables {
    create_iam_roles                           = false
    lambda_api_role_arn                        = "arn:aws:iam::123456789012:role/api"
    lambda_authorizer_role_arn                 = "arn:aws:iam::123456789012:role/authz"
    lambda_event_processor_role_arn            = "arn:aws:iam::123456789012:role/events"
    lambda_dlq_role_arn                        = "arn:aws:iam::123456789012:role/dlq"
    api_gateway_authorizer_invocation_role_arn = "arn:aws:iam::123456789012:role/invoke"
  }

  assert {
    condition     = aws_lambda_function.this["dlq"].role == "arn:aws:iam::123456789012:role/dlq" && output.lambda_role_arns["dlq"] == "arn:aws:iam::123456789012:role/dlq"
    error_message = "lambda_dlq_role_arn is used for the dlq function"
  }
}

run "kms_key" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn && one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).bucket_key_enabled
    error_message = "S3 uses SSE-KMS with the key and a bucket key"
  }
  assert {
    condition     = aws_dynamodb_table.this[0].server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "DynamoDB uses the key"
  }
  assert {
    condition     = aws_sqs_queue.dlq[0].kms_master_key_id == var.kms_key_arn
    error_message = "SQS uses the key instead of SQS-managed SSE"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.lambda : g.kms_key_id == var.kms_key_arn]) && aws_cloudwatch_log_group.api_gateway_access[0].kms_key_id == var.kms_key_arn
    error_message = "log groups use the key"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.kms_key_arn == var.kms_key_arn])
    error_message = "Lambda environment is encrypted with the key"
  }
  assert {
    condition     = alltrue([for p in aws_iam_role_policy.lambda : contains(flatten([for s in jsondecode(p.policy).Statement : s.Action]), "kms:Decrypt")])
    error_message = "every function role may use the key"
  }
}

run "lambda_settings" {
  command = apply

  variables {
    lambda_architecture                   = "arm64"
    lambda_memory_size                    = 1024
    lambda_timeout                        = 120
    lambda_reserved_concurrent_executions = 10
    lambda_log_level                      = "debug"
    lambda_runtime                        = "provided.al2"
    log_retention_in_days                 = 30
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.architectures == tolist(["arm64"]) && f.memory_size == 1024 && f.reserved_concurrent_executions == 10 && f.runtime == "provided.al2" && f.environment[0].variables["KUMOCMS_LOG_LEVEL"] == "debug"])
    error_message = "architecture, memory, concurrency, runtime and log level apply to every function"
  }
  assert {
    condition     = aws_lambda_function.this["api"].timeout == 29 && aws_lambda_function.this["events"].timeout == 120 && aws_lambda_function.this["dlq"].timeout == 120
    error_message = "the api function stays within API Gateway's 29 s"
  }
  assert {
    condition     = [for k in ["api", "authorizer", "events", "dlq"] : aws_lambda_function.this[k].handler] == ["api", "authorizer", "events", "dlq"]
    error_message = "each function's handler is the bootstrap role it runs, whatever the other settings"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.lambda : g.retention_in_days == 30])
    error_message = "log retention is configurable"
  }
}

run "tracing_and_logs_off" {
  command = apply

  variables {
    enable_xray_tracing        = false
    enable_api_gateway_logs    = false
    api_throttling_burst_limit = 50
    api_throttling_rate_limit  = 25
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.tracing_config[0].mode == "PassThrough"]) && !aws_api_gateway_stage.this.xray_tracing_enabled
    error_message = "X-Ray off"
  }
  assert {
    condition     = alltrue([for p in aws_iam_role_policy.lambda : !strcontains(p.policy, "xray:")])
    error_message = "no X-Ray permissions when tracing is off"
  }
  assert {
    condition     = length(aws_api_gateway_stage.this.access_log_settings) == 0 && length(aws_cloudwatch_log_group.api_gateway_access) == 0 && aws_api_gateway_method_settings.all.settings[0].logging_level == "OFF"
    error_message = "no API Gateway logs"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 50 && aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 25
    error_message = "throttling is configurable"
  }
}

run "dlq_off" {
  command = apply

  variables {
    enable_dlq = false
  }

  assert {
    condition     = length(aws_sqs_queue.dlq) == 0 && !contains(keys(aws_lambda_function.this), "dlq") && length(aws_cloudwatch_event_rule.dlq_drain) == 0
    error_message = "no queue and no dlq function"
  }
  assert {
    condition     = length(aws_lambda_function.this["events"].dead_letter_config) == 0 && alltrue([for t in aws_cloudwatch_event_target.s3 : length(t.dead_letter_config) == 0])
    error_message = "no dead letter configuration without a queue"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.lambda["events"].policy, "sqs:")
    error_message = "no SQS permissions without a queue"
  }
  assert {
    condition     = output.dlq_url == null && output.dlq_arn == null
    error_message = "DLQ outputs are null"
  }
}

run "versioning_off" {
  command = apply

  variables {
    enable_s3_versioning = false
  }

  assert {
    condition     = length(aws_s3_bucket_versioning.documents) == 0
    error_message = "no versioning resource"
  }
}

run "api_gateway_account_opt_in" {
  command = apply

  variables {
    manage_api_gateway_account = true
  }

  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == aws_iam_role.api_gateway_cloudwatch[0].arn && aws_iam_role.api_gateway_cloudwatch[0].name == "kumocms-prod-us-east-1-apigw-logs"
    error_message = "opting in manages the account setting with a module role"
  }
}

run "api_gateway_account_power_user" {
  command = apply

  variables {
    manage_api_gateway_account                 = true
    create_iam_roles                           = false
    api_gateway_cloudwatch_role_arn            = "arn:aws:iam::123456789012:role/apigw-logs"
    lambda_api_role_arn                        = "arn:aws:iam::123456789012:role/api"
    lambda_authorizer_role_arn                 = "arn:aws:iam::123456789012:role/authz"
    lambda_event_processor_role_arn            = "arn:aws:iam::123456789012:role/events"
    api_gateway_authorizer_invocation_role_arn = "arn:aws:iam::123456789012:role/invoke"
  }

  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == "arn:aws:iam::123456789012:role/apigw-logs" && length(aws_iam_role.api_gateway_cloudwatch) == 0
    error_message = "power user mode passes the account CloudWatch role"
  }
}

run "authorizer_ttl_and_boundary" {
  command = apply

  variables {
    authorizer_result_ttl_in_seconds = 0
    iam_role_permissions_boundary    = "arn:aws:iam::123456789012:policy/boundary"
  }

  assert {
    condition     = aws_api_gateway_authorizer.lambda[0].authorizer_result_ttl_in_seconds == 0
    error_message = "authorizer TTL is configurable"
  }
  assert {
    condition     = alltrue([for r in aws_iam_role.lambda : r.permissions_boundary == var.iam_role_permissions_boundary]) && aws_iam_role.authorizer_invocation[0].permissions_boundary == var.iam_role_permissions_boundary
    error_message = "the permissions boundary is attached to every created role"
  }
}

# The published module's examples pass the secret's partial ARN (no random
# suffix). GetSecretValue accepts it, but IAM matches the full ARN, so the
# policy must name the secret with any six-character suffix.
run "partial_secret_arn" {
  command = plan

  variables {
    api_authorizer_secrets_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys"
  }

  assert {
    condition = alltrue([for k in ["authorizer"] : contains(flatten([
      for st in jsondecode(aws_iam_role_policy.lambda[k].policy).Statement : st.Resource if contains(flatten([st.Action]), "secretsmanager:GetSecretValue")
    ]), "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-??????")])
    error_message = "a partial secret ARN is granted with the -?????? suffix the real ARN has"
  }
  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["SECRETS_ARN"] == "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys"
    error_message = "the function still gets the ARN as given (GetSecretValue resolves a partial ARN)"
  }
}

run "full_secret_arn_granted_exactly" {
  command = plan

  assert {
    condition = alltrue([for k in ["authorizer"] : flatten([
      for st in jsondecode(aws_iam_role_policy.lambda[k].policy).Statement : st.Resource if contains(flatten([st.Action]), "secretsmanager:GetSecretValue")
    ]) == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"]])
    error_message = "a full secret ARN is granted as given, without a wildcard"
  }
}
