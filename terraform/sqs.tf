################################################################################
# Dead-letter queue for the asynchronously invoked functions (events, dlq) and
# for the EventBridge targets. Drained by the `dlq` function.
################################################################################

resource "aws_sqs_queue" "dlq" {
  count = var.enable_dlq ? 1 : 0

  name                       = "${local.name_prefix}-dlq"
  message_retention_seconds  = 1209600
  visibility_timeout_seconds = max(30, var.lambda_timeout * 6)

  # Encrypted either way: with the module's KMS key, or SQS-managed SSE.
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null
  sqs_managed_sse_enabled           = local.use_kms ? null : true

  tags = local.tags
}

resource "aws_sqs_queue_policy" "dlq" {
  count = var.enable_dlq ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = aws_sqs_queue.dlq[0].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }],
      local.enable_events ? [{
        Sid       = "AllowEventBridgeRuleDeadLetters"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.dlq[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.s3 : r.arn] } }
      }] : [],
    )
  })
}
