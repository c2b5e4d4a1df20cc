output "api_gateway_endpoint" {
  description = "API Gateway endpoint URL"
  value       = module.kumocms_regional.api_gateway_endpoint
}

output "s3_bucket_name" {
  description = "Document bucket"
  value       = module.kumocms_regional.s3_bucket_name
}

output "dynamodb_table_name" {
  description = "Metadata table"
  value       = module.kumocms_regional.dynamodb_table_name
}

output "lambda_api_handler_name" {
  description = "API function"
  value       = module.kumocms_regional.lambda_api_handler_name
}

output "web_ui_url" {
  description = "The web interface (sign in with the API key)"
  value       = module.kumocms_regional.web_ui_url
}
