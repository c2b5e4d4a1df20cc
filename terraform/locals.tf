locals {
  name_prefix = "${var.project_name}-${var.environment}"

  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  # IAM is global: role names carry the region so that the same project and
  # environment can be deployed to several regions of one account.
  iam_name_prefix = "${local.name_prefix}-${var.aws_region}"

  tags = merge(
    {
      "kumocms:project"     = var.project_name
      "kumocms:environment" = var.environment
      "kumocms:module"      = "terraform-aws-kumocms-regional"
    },
    var.tags,
  )

  ##############################################################################
  # Feature switches
  ##############################################################################

  use_api_key_auth = var.auth_method == "api_key"
  use_cognito_auth = var.auth_method == "cognito"
  is_private_api   = var.api_gateway_endpoint_type == "PRIVATE"
  enable_events    = var.enable_eventbridge_metadata_extraction
  # The dlq function re-runs failed S3 events, so it exists only when both the
  # queue and the event processing exist.
  enable_dlq_function = var.enable_dlq && var.enable_eventbridge_metadata_extraction

  create_vpc_endpoint        = local.is_private_api && var.create_vpc_endpoint
  create_vpce_security_group = local.create_vpc_endpoint && length(var.security_group_ids) == 0
  vpc_endpoint_id            = local.is_private_api ? (local.create_vpc_endpoint ? aws_vpc_endpoint.execute_api[0].id : var.vpc_endpoint_id) : null

  use_kms = var.kms_key_arn != null

  ##############################################################################
  # ARNs of this module's resources (partition/account/region aware)
  ##############################################################################

  s3_bucket_arn        = "arn:${local.partition}:s3:::${var.s3_bucket_name}"
  s3_documents_arn     = "${local.s3_bucket_arn}/documents/*"
  dynamodb_table_arn   = var.create_dynamodb_table ? aws_dynamodb_table.this[0].arn : "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.dynamodb_table_name}"
  dynamodb_index_arn   = "${local.dynamodb_table_arn}/index/*"
  dynamodb_table_name  = var.create_dynamodb_table ? aws_dynamodb_table.this[0].name : var.dynamodb_table_name
  dlq_arn              = var.enable_dlq ? aws_sqs_queue.dlq[0].arn : null
  lambda_function_arn  = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function"
  log_group_arn_prefix = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"

  ##############################################################################
  # Lambda functions: one deployment package, the role is chosen by the handler
  # (the bootstrap's roles: api, authorizer, events, dlq; anything else fails at init)
  ##############################################################################

  function_names = {
    api        = "${local.name_prefix}-api"
    authorizer = "${local.name_prefix}-authorizer"
    events     = "${local.name_prefix}-events"
    dlq        = "${local.name_prefix}-dlq"
  }

  common_environment = {
    S3_BUCKET_NAME      = var.s3_bucket_name
    DYNAMODB_TABLE_NAME = local.dynamodb_table_name
    KUMOCMS_LOG_LEVEL   = var.lambda_log_level
    # Content history and the trash (read by api, events and dlq).
    KUMOCMS_REVISION_RETENTION_COUNT = tostring(var.revision_retention_count)
    KUMOCMS_REVISION_RETENTION_DAYS  = tostring(var.revision_retention_days)
    KUMOCMS_TRASH_RETENTION_DAYS     = tostring(var.trash_retention_days)
    # EVENTUAL: each change is written in the document's home region.
    KUMOCMS_MULTI_REGION_CONSISTENCY = var.dynamodb_multi_region_consistency
  }

  secrets_environment = local.use_api_key_auth ? { SECRETS_ARN = var.api_authorizer_secrets_arn } : {}

  all_functions = {
    api = {
      enabled     = true
      handler     = var.lambda_handler
      description = "KumoCMS API (API Gateway REST proxy for every route)"
      timeout     = min(var.lambda_timeout, 29)
      async       = false
      # No SECRETS_ARN: API Gateway's authorizer checks the key; the api function
      # never reads the secret, and its role cannot. The web interface's and
      # CORS settings are the api function's only (web_ui.tf).
      environment = merge(local.common_environment, local.web_ui_environment, {
        # Bytes, as the binary (and `kumocms serve --multipart-threshold`) reads it.
        KUMOCMS_MULTIPART_THRESHOLD = tostring(var.multipart_threshold_mib * 1048576)
      })
    }
    authorizer = {
      enabled     = local.use_api_key_auth
      handler     = "authorizer"
      description = "KumoCMS API Gateway REQUEST authorizer (Authorization header)"
      timeout     = min(var.lambda_timeout, 29)
      async       = false
      environment = merge(local.common_environment, local.secrets_environment)
    }
    events = {
      enabled     = local.enable_events
      handler     = "events"
      description = "KumoCMS EventBridge S3 event processor"
      timeout     = var.lambda_timeout
      async       = true
      environment = local.common_environment
    }
    dlq = {
      enabled     = local.enable_dlq_function
      handler     = "dlq"
      description = "KumoCMS dead-letter queue drain (re-runs failed events)"
      timeout     = var.lambda_timeout
      async       = true
      environment = merge(local.common_environment, { KUMOCMS_DLQ_URL = try(aws_sqs_queue.dlq[0].url, null) })
    }
  }

  functions = { for k, v in local.all_functions : k => v if v.enabled }

  function_role_arns = var.create_iam_roles ? {
    for k in keys(local.functions) : k => aws_iam_role.lambda[k].arn
    } : {
    api        = var.lambda_api_role_arn
    authorizer = var.lambda_authorizer_role_arn
    events     = var.lambda_event_processor_role_arn
    dlq        = coalesce(var.lambda_dlq_role_arn, var.lambda_event_processor_role_arn, "unset")
  }

  authorizer_invocation_role_arn = var.create_iam_roles ? try(aws_iam_role.authorizer_invocation[0].arn, null) : var.api_gateway_authorizer_invocation_role_arn
}
