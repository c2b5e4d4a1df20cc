################################################################################
# Log groups, created before the functions and the stage so that retention and
# encryption apply from the first log line.
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 14 days, as in the published module); one year of debug logs is a cost decision for the caller, not a module default.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "api_gateway_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 14 days, as in the published module); see the lambda log groups.
  count = var.enable_api_gateway_logs ? 1 : 0

  name              = "/aws/apigateway/${local.name_prefix}-access"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

# The group API Gateway writes execution logs to; managing it here gives it a
# retention instead of the never-expiring group API Gateway would create.
resource "aws_cloudwatch_log_group" "api_gateway_execution" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 14 days, as in the published module); see the lambda log groups.
  count = var.enable_api_gateway_logs ? 1 : 0

  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.api_gateway_stage_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}
