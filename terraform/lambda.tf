################################################################################
# Lambda functions: one bootstrap.zip, the handler selects the function's role
# (api, authorizer, events, dlq). See local.all_functions in locals.tf.
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions only call regional AWS APIs (S3, DynamoDB, Secrets Manager, SQS); a VPC would add NAT or five interface endpoints per VPC without reducing exposure. Private access to the API itself is offered by api_gateway_endpoint_type = PRIVATE.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a signed artifact from the release pipeline, which the project does not have; the package's hash is pinned through source_code_hash.
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = each.value.description
  role             = local.function_role_arns[each.key]
  filename         = var.lambda_deployment_package_path
  source_code_hash = filebase64sha256(var.lambda_deployment_package_path)
  handler          = each.value.handler
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = each.value.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions

  environment {
    variables = each.value.environment
  }

  tracing_config {
    mode = var.enable_xray_tracing ? "Active" : "PassThrough"
  }

  dynamic "dead_letter_config" {
    for_each = each.value.async && var.enable_dlq ? [1] : []

    content {
      target_arn = local.dlq_arn
    }
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
  ]
}

################################################################################
# Invoke permissions
################################################################################

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["api"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}

resource "aws_lambda_permission" "eventbridge" {
  for_each = local.enable_events ? local.event_rules : {}

  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["events"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.s3[each.key].arn
}

resource "aws_lambda_permission" "dlq_schedule" {
  count = local.enable_dlq_function ? 1 : 0

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["dlq"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.dlq_drain[0].arn
}
