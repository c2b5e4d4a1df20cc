# Seed "Basic Example": the default REGIONAL / api_key / admin-mode deployment.
# Plans and applies against a mocked aws provider (no credentials, no network).

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
  create_dynamodb_table          = true # as examples/basic (Option A); the module's default is false
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
  api_gateway_stage_name         = "v1"
  enable_s3_versioning           = true
  enable_dlq                     = true
  enable_api_gateway_logs        = true
  tags = {
    Team = "Platform"
    Cost = "Engineering"
  }
  enable_eventbridge_metadata_extraction = true
}

run "basic_functions" {
  command = apply

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["api", "authorizer", "events", "dlq"])
    error_message = "basic deployment must create the api, authorizer, events and dlq functions"
  }
  assert {
    condition     = aws_lambda_function.this["api"].handler == "api" && aws_lambda_function.this["authorizer"].handler == "authorizer" && aws_lambda_function.this["events"].handler == "events" && aws_lambda_function.this["dlq"].handler == "dlq"
    error_message = "handlers must be api, authorizer, events, dlq"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.runtime == "provided.al2023" && f.architectures == tolist(["x86_64"])])
    error_message = "every function runs the bootstrap on provided.al2023 / x86_64"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : !contains(keys(f.environment[0].variables), "AWS_REGION")])
    error_message = "AWS_REGION is reserved by Lambda and must never be set"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["S3_BUCKET_NAME"] == "kumocms-prod-documents-us-east-1" && f.environment[0].variables["DYNAMODB_TABLE_NAME"] == "kumocms-prod-metadata" && f.environment[0].variables["KUMOCMS_LOG_LEVEL"] == "info"])
    error_message = "S3_BUCKET_NAME, DYNAMODB_TABLE_NAME and KUMOCMS_LOG_LEVEL must be set on every function"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["KUMOCMS_REVISION_RETENTION_COUNT"] == "0" && f.environment[0].variables["KUMOCMS_REVISION_RETENTION_DAYS"] == "0" && f.environment[0].variables["KUMOCMS_TRASH_RETENTION_DAYS"] == "30"])
    error_message = "every function gets the retention settings: keep every revision, 30 days of trash by default"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_MULTIPART_THRESHOLD"] == "67108864" && alltrue([for k in ["authorizer", "events", "dlq"] : !contains(keys(aws_lambda_function.this[k].environment[0].variables), "KUMOCMS_MULTIPART_THRESHOLD")])
    error_message = "the api function (only) gets KUMOCMS_MULTIPART_THRESHOLD in bytes: 64 MiB by default"
  }
  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["SECRETS_ARN"] == var.api_authorizer_secrets_arn
    error_message = "the authorizer gets SECRETS_ARN with api_key auth"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this["api"].environment[0].variables), "SECRETS_ARN")
    error_message = "the api function never reads the API key: no SECRETS_ARN (issue 16, item 6)"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this["events"].environment[0].variables), "SECRETS_ARN")
    error_message = "the events function has no use for the secret"
  }
  assert {
    condition     = aws_lambda_function.this["dlq"].environment[0].variables["KUMOCMS_DLQ_URL"] == aws_sqs_queue.dlq[0].url
    error_message = "the dlq function gets KUMOCMS_DLQ_URL"
  }
  assert {
    condition     = length(aws_lambda_function.this["api"].dead_letter_config) == 0 && length(aws_lambda_function.this["authorizer"].dead_letter_config) == 0
    error_message = "synchronously invoked functions get no DLQ"
  }
  assert {
    condition     = aws_lambda_function.this["events"].dead_letter_config[0].target_arn == aws_sqs_queue.dlq[0].arn && aws_lambda_function.this["dlq"].dead_letter_config[0].target_arn == aws_sqs_queue.dlq[0].arn
    error_message = "asynchronously invoked functions (events, dlq) send failures to the DLQ"
  }
  assert {
    condition     = aws_lambda_function.this["api"].timeout == 29 && aws_lambda_function.this["authorizer"].timeout == 29 && aws_lambda_function.this["events"].timeout == 30
    error_message = "api/authorizer are capped at API Gateway's 29 s; events uses lambda_timeout"
  }
  assert {
    condition     = aws_lambda_function.this["api"].tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing is on by default"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.lambda : g.retention_in_days == 14])
    error_message = "log groups keep 14 days by default"
  }
}

run "basic_api_gateway" {
  command = apply

  assert {
    condition     = aws_api_gateway_rest_api.this.endpoint_configuration[0].types == tolist(["REGIONAL"])
    error_message = "default endpoint type is REGIONAL"
  }
  assert {
    condition     = length(aws_api_gateway_rest_api_policy.this) == 0 && length(aws_vpc_endpoint.execute_api) == 0
    error_message = "a REGIONAL API has no resource policy and no VPC endpoint"
  }
  assert {
    condition     = aws_api_gateway_authorizer.lambda[0].type == "REQUEST" && aws_api_gateway_authorizer.lambda[0].identity_source == "method.request.header.Authorization"
    error_message = "the api_key authorizer is a REQUEST authorizer on the Authorization header"
  }
  assert {
    condition     = aws_api_gateway_authorizer.lambda[0].authorizer_credentials == aws_iam_role.authorizer_invocation[0].arn && aws_api_gateway_authorizer.lambda[0].authorizer_result_ttl_in_seconds == 60
    error_message = "the authorizer is invoked through the invocation role, with a result TTL"
  }
  assert {
    condition     = length(aws_api_gateway_authorizer.cognito) == 0
    error_message = "no Cognito authorizer with api_key auth"
  }
  assert {
    condition = toset(keys(aws_api_gateway_method.this)) == toset([
      "GET /healthcheck", "GET /openapi.json", "GET /documents", "POST /documents",
      "GET /documents/{id}", "PUT /documents/{id}", "PATCH /documents/{id}", "DELETE /documents/{id}",
      "GET /documents/{id}/content", "POST /documents/{id}/archive", "POST /documents/{id}/restore",
      "POST /documents/{id}/undelete", "GET /documents/{id}/revisions", "GET /documents/{id}/revisions/{n}",
      "GET /documents/{id}/revisions/{n}/content", "POST /documents/{id}/revisions/{n}/restore",
      "GET /ui", "GET /ui/{proxy+}",
      "DELETE /documents/{id}/uploads/{upload_id}", "GET /documents/{id}/uploads/{upload_id}/parts",
      "POST /documents/{id}/uploads/{upload_id}/parts", "POST /documents/{id}/uploads/{upload_id}/complete",
    ])
    error_message = "the route table must match the API contract plus the web interface (enable_web_ui, default true); {proxy+} only under /ui"
  }
  assert {
    condition     = aws_api_gateway_method.this["GET /healthcheck"].authorization == "NONE" && aws_api_gateway_method.this["GET /openapi.json"].authorization == "NONE"
    error_message = "/healthcheck and /openapi.json are open"
  }
  assert {
    condition     = alltrue([for k, m in aws_api_gateway_method.this : m.authorization == "CUSTOM" && m.authorizer_id == aws_api_gateway_authorizer.lambda[0].id if !contains(["GET /healthcheck", "GET /openapi.json", "GET /ui", "GET /ui/{proxy+}"], k)])
    error_message = "every other route uses the Lambda authorizer"
  }
  assert {
    condition     = aws_api_gateway_method.this["PATCH /documents/{id}"].request_parameters["method.request.path.id"] == true
    error_message = "routes with {id} declare the path parameter"
  }
  assert {
    condition     = alltrue([for i in aws_api_gateway_integration.this : i.type == "AWS_PROXY" && i.uri == aws_lambda_function.this["api"].invoke_arn])
    error_message = "every route is an AWS_PROXY integration to the api function"
  }
  assert {
    condition     = length(aws_api_gateway_resource.level1) + length(aws_api_gateway_resource.level2) + length(aws_api_gateway_resource.level3) + length(aws_api_gateway_resource.level4) + length(aws_api_gateway_resource.level5) == 18
    error_message = "18 resources: healthcheck, openapi.json, documents, {id}, content, archive, restore, undelete, revisions, {n}, {n}/content, {n}/restore, uploads, {upload_id}, {upload_id}/parts, {upload_id}/complete, ui, ui/{proxy+}"
  }
  assert {
    condition     = aws_api_gateway_stage.this.stage_name == "v1" && aws_api_gateway_stage.this.xray_tracing_enabled
    error_message = "stage v1 with X-Ray"
  }
  assert {
    condition     = length(regexall("(?i)authorization|header", aws_api_gateway_stage.this.access_log_settings[0].format)) == 0
    error_message = "access logs must never include the Authorization header (or any header)"
  }
  assert {
    condition     = aws_api_gateway_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.api_gateway_access[0].arn
    error_message = "access logs go to the module's log group"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].data_trace_enabled == false && aws_api_gateway_method_settings.all.settings[0].logging_level == "ERROR"
    error_message = "execution logs: ERROR level, no data trace"
  }
  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 200 && aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 100
    error_message = "stage throttling defaults"
  }
  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.api_gateway_cloudwatch) == 0
    error_message = "the region-wide API Gateway account singleton is opt-in only"
  }
  assert {
    condition     = length(aws_wafv2_web_acl_association.this) == 0
    error_message = "WAF is off by default"
  }
  assert {
    condition     = aws_lambda_permission.api_gateway.source_arn == "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
    error_message = "API Gateway may invoke the api function only from this API"
  }
  assert {
    condition     = length(aws_api_gateway_deployment.this.triggers["redeployment"]) == 40
    error_message = "the deployment is re-created when the hash of routes, methods, integrations, authorizers or policy changes"
  }
  assert {
    condition     = length(output.api_routes) == 22 && output.api_routes["GET /healthcheck"] == true && output.api_routes["POST /documents"] == false
    error_message = "api_routes output lists the route table"
  }
}

run "basic_iam" {
  command = apply

  assert {
    condition     = aws_iam_role.lambda["api"].name == "kumocms-prod-us-east-1-api" && aws_iam_role.authorizer_invocation[0].name == "kumocms-prod-us-east-1-authz-invoke"
    error_message = "IAM role names include the region so multi-region deployments do not collide"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement : s.Action if s.Sid != "WriteOwnLogs" && s.Sid != "XRayWrite"])) == toset(
      ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"])
    error_message = "the api role allows exactly the S3 and DynamoDB actions the api function calls, and no Secrets Manager action"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement : s.Resource]), "arn:aws:s3:::kumocms-prod-documents-us-east-1/documents/*")
    error_message = "S3 object access is scoped to documents/"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.lambda["api"].policy).Statement : s.Resource]), "arn:aws:dynamodb:us-east-1:123456789012:table/kumocms-prod-metadata/index/*")
    error_message = "the api role can query the table's indexes"
  }
  assert {
    condition     = alltrue([for k, p in aws_iam_role_policy.lambda : alltrue([for r in flatten([for s in jsondecode(p.policy).Statement : s.Resource]) : r == "*" || length(regexall(":\\*:|^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\\*", r)) == 0])])
    error_message = "no account or region wildcards in resource ARNs"
  }
  assert {
    condition     = alltrue([for k, p in aws_iam_role_policy.lambda : alltrue([for s in jsondecode(p.policy).Statement : s.Resource == tolist(["*"]) ? s.Sid == "XRayWrite" : true])])
    error_message = "only X-Ray (which has no resource-level permissions) may use Resource *"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.lambda["events"].policy).Statement : s.Action if s.Sid != "WriteOwnLogs" && s.Sid != "XRayWrite"])) == toset(
    ["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions", "dynamodb:GetItem", "dynamodb:PutItem", "sqs:SendMessage"])
    error_message = "the events role allows exactly S3 read and delete of every version, DynamoDB GetItem/PutItem and sqs:SendMessage to its DLQ"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.lambda["dlq"].policy).Statement : s.Action if s.Sid != "WriteOwnLogs" && s.Sid != "XRayWrite"])) == toset(
    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:DeleteItem", "s3:AbortMultipartUpload"])
    error_message = "the dlq role drains the queue, sweeps expired pending uploads (Scan, DeleteItem, AbortMultipartUpload) and does what events does; nothing more"
  }
  assert {
    condition     = flatten([for s in jsondecode(aws_iam_role_policy.lambda["authorizer"].policy).Statement : s.Action if s.Sid != "WriteOwnLogs" && s.Sid != "XRayWrite"]) == ["secretsmanager:GetSecretValue"]
    error_message = "the authorizer role only reads the secret"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.authorizer_invocation[0].policy).Statement[0].Resource == ["arn:aws:lambda:us-east-1:123456789012:function:kumocms-prod-authorizer"]
    error_message = "the invocation role may invoke only the authorizer"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.lambda["api"].policy, "ReadPeerRegionDocuments")
    error_message = "without peer_bucket_arns the api role reads only its own bucket"
  }
}

run "basic_storage_and_events" {
  command = apply

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "S3 uses SSE-S3 without a KMS key"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.documents.block_public_acls && aws_s3_bucket_public_access_block.documents.restrict_public_buckets
    error_message = "public access is blocked"
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.documents.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(aws_s3_bucket_policy.documents.policy).Statement[0].Effect == "Deny"
    error_message = "the bucket policy denies non-TLS access"
  }
  assert {
    condition     = aws_s3_bucket_versioning.documents[0].versioning_configuration[0].status == "Enabled"
    error_message = "versioning enabled"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.documents.rule[0].id == "abort-incomplete-multipart-uploads" && aws_s3_bucket_lifecycle_configuration.documents.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 7
    error_message = "the abort-incomplete-multipart rule is always present"
  }
  assert {
    condition     = aws_s3_bucket_notification.documents[0].eventbridge
    error_message = "S3 sends events to EventBridge"
  }
  assert {
    condition     = aws_dynamodb_table.this[0].hash_key == "PK" && aws_dynamodb_table.this[0].range_key == "SK" && aws_dynamodb_table.this[0].billing_mode == "PAY_PER_REQUEST"
    error_message = "table keys PK/SK, on demand"
  }
  assert {
    condition     = one(aws_dynamodb_table.this[0].global_secondary_index).name == "DocumentTypeIndex" && one(aws_dynamodb_table.this[0].global_secondary_index).hash_key == "documentType" && one(aws_dynamodb_table.this[0].global_secondary_index).range_key == "uploadedAt" && one(aws_dynamodb_table.this[0].global_secondary_index).projection_type == "ALL"
    error_message = "GSI DocumentTypeIndex(documentType, uploadedAt), projection ALL"
  }
  assert {
    condition     = aws_dynamodb_table.this[0].ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.this[0].stream_view_type == "NEW_AND_OLD_IMAGES" && aws_dynamodb_table.this[0].point_in_time_recovery[0].enabled && aws_dynamodb_table.this[0].server_side_encryption[0].enabled
    error_message = "TTL expiresAt, streams NEW_AND_OLD_IMAGES, PITR, SSE"
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.s3)) == toset(["object-created", "object-restore"])
    error_message = "rules for Object Created and Object Restore Completed/Expired"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.s3["object-restore"].event_pattern)["detail-type"] == ["Object Restore Completed", "Object Restore Expired"] && jsondecode(aws_cloudwatch_event_rule.s3["object-created"].event_pattern)["detail-type"] == ["Object Created"]
    error_message = "event patterns match the events function's contract"
  }
  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.s3 : t.arn == aws_lambda_function.this["events"].arn && t.dead_letter_config[0].arn == aws_sqs_queue.dlq[0].arn && t.retry_policy[0].maximum_retry_attempts == 8])
    error_message = "S3 event targets: the events function, with a retry policy and the DLQ"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.dlq_drain[0].schedule_expression == "rate(5 minutes)" && aws_cloudwatch_event_target.dlq_drain[0].arn == aws_lambda_function.this["dlq"].arn
    error_message = "the dlq function runs every 5 minutes"
  }
  assert {
    condition     = aws_sqs_queue.dlq[0].sqs_managed_sse_enabled == true
    error_message = "the DLQ is encrypted (SQS-managed SSE without a KMS key)"
  }
  assert {
    condition     = anytrue([for s in jsondecode(aws_sqs_queue_policy.dlq[0].policy).Statement : s.Principal == { Service = "events.amazonaws.com" } && s.Action == "sqs:SendMessage"])
    error_message = "EventBridge may send dead letters to the queue"
  }
  assert {
    condition     = output.dynamodb_table_name == "kumocms-prod-metadata" && output.dynamodb_table_arn == aws_dynamodb_table.this[0].arn
    error_message = "table name and ARN outputs"
  }
}

run "multipart_threshold_in_bytes" {
  command = plan
  variables {
    multipart_threshold_mib = 16
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_MULTIPART_THRESHOLD"] == "16777216"
    error_message = "multipart_threshold_mib = 16 sets KUMOCMS_MULTIPART_THRESHOLD = 16777216 (bytes) on the api function"
  }
}
