output "api_gateway_endpoints" {
  description = "API endpoint per region"
  value = {
    "us-east-1" = module.kumocms_us_east_1.api_gateway_endpoint
    "eu-west-1" = module.kumocms_eu_west_1.api_gateway_endpoint
  }
}

output "lambda_api_handler_names" {
  description = "API function per region"
  value = {
    "us-east-1" = module.kumocms_us_east_1.lambda_api_handler_name
    "eu-west-1" = module.kumocms_eu_west_1.lambda_api_handler_name
  }
}

output "dynamodb_table_name" {
  description = "The shared global table"
  value       = module.kumocms_us_east_1.dynamodb_table_name
}
