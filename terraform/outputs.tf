################################################################################
# API Gateway
################################################################################

output "api_gateway_endpoint" {
  description = "API Gateway endpoint URL"
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_gateway_id" {
  description = "API Gateway REST API ID"
  value       = aws_api_gateway_rest_api.this.id
}

output "api_gateway_stage" {
  description = "API Gateway stage name"
  value       = aws_api_gateway_stage.this.stage_name
}

output "api_gateway_endpoint_type" {
  description = "API Gateway endpoint type (REGIONAL or PRIVATE)"
  value       = var.api_gateway_endpoint_type
}

output "api_gateway_execution_arn" {
  description = "Execution ARN of the REST API (for extra lambda permissions or IAM policies)"
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "api_routes" {
  description = "The route table (\"METHOD /path\" => whether it is public), as declared in routes.tf"
  value       = { for k, r in local.routes : k => r.public }
}

output "web_ui_url" {
  description = "Address of the web interface (the stage URL + /ui/), null when enable_web_ui is false"
  value       = var.enable_web_ui ? "${aws_api_gateway_stage.this.invoke_url}/ui/" : null
}

output "auth_method" {
  description = "Authentication method used (api_key or cognito)"
  value       = var.auth_method
}

################################################################################
# Cognito
################################################################################

output "cognito_user_pool_arn" {
  description = "Cognito User Pool ARN (if using Cognito auth)"
  value       = local.cognito_user_pool_arn
}

output "cognito_user_pool_id" {
  description = "Cognito User Pool ID (if created)"
  value       = try(aws_cognito_user_pool.this[0].id, null)
}

output "cognito_user_pool_endpoint" {
  description = "Cognito User Pool endpoint (if created)"
  value       = try(aws_cognito_user_pool.this[0].endpoint, null)
}

output "cognito_app_client_id" {
  description = "Cognito User Pool Client ID (if created)"
  value       = try(aws_cognito_user_pool_client.this[0].id, null)
}

output "cognito_domain" {
  description = "Cognito User Pool domain URL (if created with domain)"
  value       = try("https://${aws_cognito_user_pool_domain.this[0].domain}.auth.${local.region}.amazoncognito.com", null)
}

################################################################################
# Storage
################################################################################

output "s3_bucket_name" {
  description = "S3 bucket name for document storage"
  value       = aws_s3_bucket.documents.id
}

output "s3_bucket_arn" {
  description = "S3 bucket ARN"
  value       = aws_s3_bucket.documents.arn
}

output "dynamodb_table_name" {
  description = "Name of the DynamoDB metadata table (created or existing)"
  value       = local.dynamodb_table_name
}

output "dynamodb_table_arn" {
  description = "ARN of the DynamoDB metadata table (created or existing)"
  value       = local.dynamodb_table_arn
}

output "dynamodb_table_stream_arn" {
  description = "Stream ARN of the DynamoDB table (if created)"
  value       = try(aws_dynamodb_table.this[0].stream_arn, null)
}

################################################################################
# Lambda
################################################################################

output "lambda_api_handler_arn" {
  description = "ARN of the API handler Lambda function"
  value       = aws_lambda_function.this["api"].arn
}

output "lambda_api_handler_name" {
  description = "Name of the API handler Lambda function"
  value       = aws_lambda_function.this["api"].function_name
}

output "lambda_authorizer_arn" {
  description = "ARN of the Lambda authorizer function (if using API key auth)"
  value       = try(aws_lambda_function.this["authorizer"].arn, null)
}

output "lambda_authorizer_name" {
  description = "Name of the Lambda authorizer function (if using API key auth)"
  value       = try(aws_lambda_function.this["authorizer"].function_name, null)
}

output "lambda_event_processor_arn" {
  description = "ARN of the event processor Lambda function (if enabled)"
  value       = try(aws_lambda_function.this["events"].arn, null)
}

output "lambda_event_processor_name" {
  description = "Name of the event processor Lambda function (if enabled)"
  value       = try(aws_lambda_function.this["events"].function_name, null)
}

output "lambda_dlq_processor_arn" {
  description = "ARN of the DLQ drain Lambda function (if enable_dlq and event extraction are enabled)"
  value       = try(aws_lambda_function.this["dlq"].arn, null)
}

output "lambda_dlq_processor_name" {
  description = "Name of the DLQ drain Lambda function (if enable_dlq and event extraction are enabled)"
  value       = try(aws_lambda_function.this["dlq"].function_name, null)
}

output "lambda_role_arns" {
  description = "IAM role ARN used by each Lambda function (created or passed in), keyed by api, authorizer, events, dlq"
  value       = { for k in keys(local.functions) : k => local.function_role_arns[k] }
}

################################################################################
# Events and DLQ
################################################################################

output "dlq_url" {
  description = "URL of the Dead Letter Queue (if enabled)"
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dlq_arn" {
  description = "ARN of the Dead Letter Queue (if enabled)"
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "eventbridge_rule_arn" {
  description = "ARN of the EventBridge rule for metadata extraction (if enabled)"
  value       = try(aws_cloudwatch_event_rule.s3["object-created"].arn, null)
}

output "eventbridge_restore_rule_arn" {
  description = "ARN of the EventBridge rule for Object Restore Completed/Expired (if enabled)"
  value       = try(aws_cloudwatch_event_rule.s3["object-restore"].arn, null)
}

################################################################################
# Private API
################################################################################

output "vpc_endpoint_id" {
  description = "ID of the VPC endpoint for private API Gateway (created, or the one passed in)"
  value       = local.vpc_endpoint_id
}

output "vpc_endpoint_dns_entries" {
  description = "DNS entries for the VPC endpoint (if created)"
  value       = try(aws_vpc_endpoint.execute_api[0].dns_entry, null)
}

output "vpc_endpoint_security_group_id" {
  description = "ID of the security group created for the VPC endpoint (if created)"
  value       = try(aws_security_group.vpc_endpoint[0].id, null)
}

################################################################################
# Logs
################################################################################

output "api_gateway_access_log_group_name" {
  description = "CloudWatch log group of the API Gateway access logs (if enabled)"
  value       = try(aws_cloudwatch_log_group.api_gateway_access[0].name, null)
}

output "lambda_log_group_names" {
  description = "CloudWatch log group of each Lambda function, keyed by api, authorizer, events, dlq"
  value       = { for k, g in aws_cloudwatch_log_group.lambda : k => g.name }
}
