################################################################################
# S3 events -> events function, with retries and the DLQ; schedule -> dlq.
################################################################################

locals {
  event_rules = {
    object-created = {
      description  = "KumoCMS: document uploaded (S3 Object Created)"
      detail_types = ["Object Created"]
    }
    object-restore = {
      description  = "KumoCMS: archived document restored or restore expired"
      detail_types = ["Object Restore Completed", "Object Restore Expired"]
    }
  }
}

resource "aws_cloudwatch_event_rule" "s3" {
  for_each = local.enable_events ? local.event_rules : {}

  name        = "${local.name_prefix}-${each.key}"
  description = each.value.description
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = each.value.detail_types
    detail = {
      bucket = { name = [aws_s3_bucket.documents.id] }
      object = { key = [{ prefix = "documents/" }] }
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "s3" {
  for_each = local.enable_events ? local.event_rules : {}

  rule      = aws_cloudwatch_event_rule.s3[each.key].name
  target_id = "events-function"
  arn       = aws_lambda_function.this["events"].arn

  retry_policy {
    maximum_retry_attempts       = var.eventbridge_retry_maximum_attempts
    maximum_event_age_in_seconds = var.eventbridge_retry_maximum_event_age_seconds
  }

  dynamic "dead_letter_config" {
    for_each = var.enable_dlq ? [1] : []

    content {
      arn = local.dlq_arn
    }
  }
}

resource "aws_cloudwatch_event_rule" "dlq_drain" {
  count = local.enable_dlq_function ? 1 : 0

  name                = "${local.name_prefix}-dlq-drain"
  description         = "KumoCMS: drain the dead-letter queue"
  schedule_expression = var.dlq_drain_schedule_expression

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "dlq_drain" {
  count = local.enable_dlq_function ? 1 : 0

  rule      = aws_cloudwatch_event_rule.dlq_drain[0].name
  target_id = "dlq-function"
  arn       = aws_lambda_function.this["dlq"].arn

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 300
  }
}
