# Every feature switched on (besides Cognito, which excludes the API key
# authorizer; see cognito-new-pool): a PRIVATE API with a module-created VPC
# endpoint and security group, a customer managed KMS key for S3, DynamoDB,
# SQS, logs and Lambda environments, WAF, lifecycle rules, a global table
# replica, the API Gateway account setting, X-Ray, throttling and custom
# retention. The test script also runs checkov on this example so that the
# module's conditional resources are scanned.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "kumocms" {
  description             = "KumoCMS prod: S3, DynamoDB, SQS, CloudWatch Logs, Lambda environment"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${var.aws_region}:${data.aws_caller_identity.current.account_id}:*" }
        }
      },
      {
        Sid       = "EventBridgeToEncryptedDlq"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })
}

resource "aws_wafv2_web_acl" "kumocms" {
  name  = "kumocms-prod-complete-waf"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "KnownBadInputs"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "KnownBadInputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "kumocms-prod-complete-waf"
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_338:Example keeps WAF logs for 90 days; pick your own retention.
  name              = "aws-waf-logs-kumocms-prod-complete"
  retention_in_days = 90
  kms_key_id        = aws_kms_key.kumocms.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "kumocms" {
  resource_arn            = aws_wafv2_web_acl.kumocms.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  lambda_architecture            = "arm64"
  lambda_memory_size             = 1024
  lambda_timeout                 = 60
  lambda_log_level               = "debug"
  enable_xray_tracing            = true

  kms_key_arn           = aws_kms_key.kumocms.arn
  log_retention_in_days = 90

  s3_bucket_name       = var.s3_bucket_name
  enable_s3_versioning = true
  s3_lifecycle_rules = [{
    id                            = "archive-old-documents"
    expiration_days               = 3650
    noncurrent_version_expiration = 90
    transitions                   = [{ days = 180, storage_class = "GLACIER" }]
  }]

  dynamodb_table_name                  = "kumocms-prod-metadata"
  create_dynamodb_table                = true
  dynamodb_replica_regions             = ["eu-west-1"]
  dynamodb_replica_kms_key_arns        = { "eu-west-1" = var.replica_kms_key_arn }
  dynamodb_deletion_protection_enabled = true

  auth_method                      = "api_key"
  api_authorizer_secrets_arn       = var.api_authorizer_secrets_arn
  authorizer_result_ttl_in_seconds = 60

  api_gateway_endpoint_type  = "PRIVATE"
  create_vpc_endpoint        = true
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  enable_api_gateway_logs    = true
  manage_api_gateway_account = true
  api_throttling_burst_limit = 100
  api_throttling_rate_limit  = 50

  enable_waf      = true
  waf_web_acl_arn = aws_wafv2_web_acl.kumocms.arn

  enable_dlq                             = true
  enable_eventbridge_metadata_extraction = true

  tags = {
    Team = "Platform"
  }
}
