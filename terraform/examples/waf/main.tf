# Usage example of the published module README: With WAF Integration
#
# The web ACL is the caller's; the module only associates it with the stage.

resource "aws_wafv2_web_acl" "kumocms" {
  name  = "kumocms-prod-waf"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "RateLimitRule"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = 2000
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "RateLimitRule"
      sampled_requests_enabled   = true
    }
  }

  # AWS managed rules for known bad inputs (includes the Log4j/Log4Shell rules).
  rule {
    name     = "KnownBadInputs"
    priority = 2

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
    metric_name                = "kumocms-prod-waf"
    sampled_requests_enabled   = true
  }
}

# WAF log group names must start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_338:Example keeps WAF logs for 30 days; pick your own retention.
  #checkov:skip=CKV_AWS_158:Example uses CloudWatch Logs' default encryption; pass kms_key_id for a CMK.
  name              = "aws-waf-logs-kumocms-prod"
  retention_in_days = 30
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
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # Option A: the module creates the table. create_dynamodb_table defaults to
  # false, which expects an existing table (see examples/dynamodb-existing).
  create_dynamodb_table = true

  enable_waf      = true
  waf_web_acl_arn = aws_wafv2_web_acl.kumocms.arn
}
