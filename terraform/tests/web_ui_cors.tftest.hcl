# The web interface (enable_web_ui) and CORS (cors_allowed_origins), issue 15
# item 2: the open /ui routes, the preflights, API Gateway's own error responses,
# the document bucket's CORS rule and what the api function is told.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  project_name                   = "kumocms"
  environment                    = "prod"
  aws_region                     = "us-east-1"
  lambda_deployment_package_path = "tests/fixtures/bootstrap.zip"
  s3_bucket_name                 = "kumocms-prod-documents-us-east-1"
  dynamodb_table_name            = "kumocms-prod-metadata"
  api_authorizer_secrets_arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kumocms/api-keys-abcdef"
}

# Defaults: the interface is on, CORS is off.
run "defaults_web_ui_on_cors_off" {
  command = apply

  assert {
    condition     = length(aws_api_gateway_method.preflight) == 0 && length(aws_api_gateway_integration.preflight) == 0 && length([for k in keys(aws_api_gateway_method.this) : k if startswith(k, "OPTIONS ")]) == 0
    error_message = "no OPTIONS method without cors_allowed_origins"
  }
  assert {
    condition     = length(aws_api_gateway_gateway_response.cors) == 0
    error_message = "no gateway responses without cors_allowed_origins"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this["api"].environment[0].variables), "KUMOCMS_CORS_ALLOWED_ORIGINS")
    error_message = "KUMOCMS_CORS_ALLOWED_ORIGINS is not set without origins"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_WEB_UI"] == "true"
    error_message = "the api function is told the interface is on (KUMOCMS_WEB_UI=true)"
  }
  assert {
    condition     = alltrue([for k in ["authorizer", "events", "dlq"] : !contains(keys(aws_lambda_function.this[k].environment[0].variables), "KUMOCMS_WEB_UI")])
    error_message = "only the api function gets the interface's settings"
  }
  assert {
    condition     = aws_api_gateway_method.this["GET /ui"].authorization == "NONE" && aws_api_gateway_method.this["GET /ui"].authorizer_id == null
    error_message = "GET /ui has no authorizer"
  }
  assert {
    condition     = aws_api_gateway_method.this["GET /ui/{proxy+}"].authorization == "NONE" && aws_api_gateway_method.this["GET /ui/{proxy+}"].authorizer_id == null && aws_api_gateway_method.this["GET /ui/{proxy+}"].request_parameters["method.request.path.proxy"] == true
    error_message = "GET /ui/{proxy+} has no authorizer and declares the proxy path parameter"
  }
  assert {
    condition     = aws_api_gateway_resource.level1["/ui"].path_part == "ui" && aws_api_gateway_resource.level2["/ui/{proxy+}"].path_part == "{proxy+}" && aws_api_gateway_resource.level2["/ui/{proxy+}"].parent_id == aws_api_gateway_resource.level1["/ui"].id
    error_message = "the /ui and /ui/{proxy+} resources"
  }
  assert {
    condition     = aws_api_gateway_integration.this["GET /ui"].uri == aws_lambda_function.this["api"].invoke_arn && aws_api_gateway_integration.this["GET /ui/{proxy+}"].type == "AWS_PROXY" && aws_api_gateway_integration.this["GET /ui/{proxy+}"].uri == aws_lambda_function.this["api"].invoke_arn
    error_message = "/ui is proxied to the api function"
  }
  assert {
    condition     = aws_api_gateway_method.this["GET /documents"].authorization == "CUSTOM" && aws_api_gateway_method.this["GET /documents"].authorizer_id == aws_api_gateway_authorizer.lambda[0].id
    error_message = "the API the interface calls keeps its authorizer"
  }
  assert {
    condition     = output.web_ui_url == "https://abc123defg.execute-api.us-east-1.amazonaws.com/v1/ui/"
    error_message = "web_ui_url is the stage URL + /ui/"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_origins == toset(["https://abc123defg.execute-api.us-east-1.amazonaws.com"])
    error_message = "the interface's uploads go straight to S3, so its own origin (only) gets the bucket's CORS rule"
  }
}

run "web_ui_off" {
  command = apply

  variables {
    enable_web_ui = false
  }

  assert {
    condition     = length([for k in keys(aws_api_gateway_method.this) : k if strcontains(k, " /ui")]) == 0 && !contains(keys(aws_api_gateway_resource.level1), "/ui")
    error_message = "no /ui routes or resources when the interface is off"
  }
  assert {
    condition     = alltrue([for k, m in aws_api_gateway_method.this : m.authorization == "CUSTOM" if !contains(["GET /healthcheck", "GET /openapi.json"], k)])
    error_message = "without the interface only /healthcheck and /openapi.json are open"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_WEB_UI"] == "false"
    error_message = "KUMOCMS_WEB_UI=false"
  }
  assert {
    condition     = length(aws_s3_bucket_cors_configuration.documents) == 0
    error_message = "no interface and no CORS: no bucket CORS rule"
  }
  assert {
    condition     = output.web_ui_url == null
    error_message = "web_ui_url is null when the interface is off"
  }
}

run "cors_on" {
  command = apply

  variables {
    cors_allowed_origins = ["https://app.example.com", "http://localhost:3000"]
  }

  assert {
    condition     = toset(keys(aws_api_gateway_method.preflight)) == toset([for k in keys(aws_api_gateway_method.this) : split(" ", k)[1]])
    error_message = "one OPTIONS method on every path that has a route (the router's and /ui's)"
  }
  assert {
    condition     = length(aws_api_gateway_method.preflight) == 17 && contains(keys(aws_api_gateway_method.preflight), "/documents/{id}/revisions/{n}/restore") && contains(keys(aws_api_gateway_method.preflight), "/ui/{proxy+}")
    error_message = "17 preflight paths: the 15 of the API and the 2 of the interface"
  }
  assert {
    condition     = alltrue([for m in aws_api_gateway_method.preflight : m.http_method == "OPTIONS" && m.authorization == "NONE" && m.authorizer_id == null])
    error_message = "preflights are OPTIONS without an authorizer (a browser sends no credentials with them)"
  }
  assert {
    condition     = aws_api_gateway_method.preflight["/documents/{id}"].resource_id == aws_api_gateway_resource.level2["/documents/{id}"].id && aws_api_gateway_method.preflight["/documents/{id}"].request_parameters["method.request.path.id"] == true
    error_message = "the preflight sits on the route's resource and declares its path parameters"
  }
  assert {
    condition     = alltrue([for i in aws_api_gateway_integration.preflight : i.type == "AWS_PROXY" && i.uri == aws_lambda_function.this["api"].invoke_arn])
    error_message = "preflights are proxied to the api function (the router answers them)"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_CORS_ALLOWED_ORIGINS"] == "https://app.example.com,http://localhost:3000"
    error_message = "KUMOCMS_CORS_ALLOWED_ORIGINS is the comma-separated list"
  }
  assert {
    condition     = toset(keys(aws_api_gateway_gateway_response.cors)) == toset(["DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED"])
    error_message = "gateway responses for 4xx, 5xx, 401 and 403"
  }
  assert {
    condition     = alltrue([for r in aws_api_gateway_gateway_response.cors : r.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://app.example.com'"])
    error_message = "several specific origins: the gateway responses carry the first (one static value)"
  }
  assert {
    condition     = alltrue([for r in aws_api_gateway_gateway_response.cors : strcontains(r.response_parameters["gatewayresponse.header.Access-Control-Allow-Headers"], "Authorization") && strcontains(r.response_parameters["gatewayresponse.header.Access-Control-Expose-Headers"], "ETag")])
    error_message = "gateway responses allow the Authorization header and expose ETag"
  }
  assert {
    condition     = jsondecode(replace(aws_api_gateway_gateway_response.cors["UNAUTHORIZED"].response_templates["application/json"], "$context.error.messageString", "\"Unauthorized\"")) == { error = "unauthorized", message = "Unauthorized" }
    error_message = "API Gateway's 401 has the API's error shape {error, message}"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_origins == toset(["https://app.example.com", "http://localhost:3000", "https://abc123defg.execute-api.us-east-1.amazonaws.com"])
    error_message = "the bucket allows the listed origins and the interface's own"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_methods == toset(["GET", "HEAD", "PUT"]) && one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_headers == toset(["*"])
    error_message = "the bucket rule allows GET, HEAD and PUT with any request header"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).expose_headers == toset(["ETag"]) && one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).max_age_seconds > 0
    error_message = "the bucket rule exposes ETag (multipart completion needs it) and lets browsers cache the preflight"
  }
  assert {
    condition     = length(aws_api_gateway_deployment.this.triggers["redeployment"]) == 40
    error_message = "the deployment hash covers the preflights and gateway responses"
  }
}

run "cors_single_origin_and_wildcard" {
  command = apply

  variables {
    cors_allowed_origins = ["http://localhost:3000"]
  }

  assert {
    condition     = alltrue([for r in aws_api_gateway_gateway_response.cors : r.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'http://localhost:3000'"])
    error_message = "one origin: the gateway responses carry it"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_CORS_ALLOWED_ORIGINS"] == "http://localhost:3000"
    error_message = "one origin, no comma"
  }
}

run "cors_wildcard_without_web_ui" {
  command = apply

  variables {
    enable_web_ui        = false
    cors_allowed_origins = ["https://app.example.com", "*"]
  }

  assert {
    condition     = alltrue([for r in aws_api_gateway_gateway_response.cors : r.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"])
    error_message = "`*` in the list: the gateway responses allow every origin"
  }
  assert {
    condition     = one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_origins == toset(["https://app.example.com", "*"])
    error_message = "without the interface, the bucket allows only the listed origins"
  }
  assert {
    condition     = length(aws_api_gateway_method.preflight) == 15 && !contains(keys(aws_api_gateway_method.preflight), "/ui")
    error_message = "without the interface, preflights only on the API's 15 paths"
  }
}

run "cognito_new_pool_web_ui" {
  command = apply

  variables {
    auth_method                = "cognito"
    create_cognito_user_pool   = true
    cognito_domain_prefix      = "kumocms-prod"
    api_authorizer_secrets_arn = null
  }

  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_COGNITO_DOMAIN"] == "https://kumocms-prod.auth.us-east-1.amazoncognito.com"
    error_message = "KUMOCMS_COGNITO_DOMAIN is the created hosted UI's base URL"
  }
  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_COGNITO_CLIENT_ID"] == aws_cognito_user_pool_client.this[0].id
    error_message = "KUMOCMS_COGNITO_CLIENT_ID is the module's app client"
  }
  assert {
    condition     = contains(aws_cognito_user_pool_client.this[0].callback_urls, "https://abc123defg.execute-api.us-east-1.amazonaws.com/v1/ui/") && contains(aws_cognito_user_pool_client.this[0].callback_urls, "http://localhost:3000/callback")
    error_message = "the interface's page is added to the app client's callback URLs, next to cognito_callback_urls"
  }
  assert {
    condition     = aws_api_gateway_method.this["GET /ui/{proxy+}"].authorization == "NONE" && aws_api_gateway_method.this["GET /documents"].authorization == "COGNITO_USER_POOLS"
    error_message = "with Cognito too, /ui is open and the API is not"
  }
}

run "cognito_existing_pool_web_ui" {
  command = apply

  variables {
    auth_method                = "cognito"
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_EXAMPLE"
    cognito_domain             = "https://auth.example.com/"
    cognito_app_client_id      = "1example23456789"
    api_authorizer_secrets_arn = null
  }

  assert {
    condition     = aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_COGNITO_DOMAIN"] == "https://auth.example.com" && aws_lambda_function.this["api"].environment[0].variables["KUMOCMS_COGNITO_CLIENT_ID"] == "1example23456789"
    error_message = "an existing pool's hosted UI and client come from cognito_domain (trailing slash dropped) and cognito_app_client_id"
  }
}

run "cognito_existing_pool_without_hosted_ui_warns" {
  command = plan

  variables {
    auth_method                = "cognito"
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_EXAMPLE"
    api_authorizer_secrets_arn = null
  }

  expect_failures = [check.web_ui_cognito_sign_in]
}

run "api_key_has_no_cognito_settings" {
  command = plan

  assert {
    condition     = length([for k in keys(aws_lambda_function.this["api"].environment[0].variables) : k if startswith(k, "KUMOCMS_COGNITO_")]) == 0
    error_message = "no Cognito settings with api_key auth"
  }
}

# Validation: the messages say what to do.
run "origin_with_trailing_slash" {
  command = plan
  variables {
    cors_allowed_origins = ["https://app.example.com/"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "origin_with_path" {
  command = plan
  variables {
    cors_allowed_origins = ["https://app.example.com/ui"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "origin_without_scheme" {
  command = plan
  variables {
    cors_allowed_origins = ["app.example.com"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "origin_in_upper_case" {
  command = plan
  variables {
    cors_allowed_origins = ["https://App.example.com"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "origin_twice" {
  command = plan
  variables {
    cors_allowed_origins = ["http://localhost:3000", "http://localhost:3000"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "good_origins" {
  command = plan
  variables {
    cors_allowed_origins = ["*", "https://app.example.com", "http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:3000", "chrome-extension://abcdefghijklmnop"]
  }
  assert {
    condition     = length(aws_api_gateway_gateway_response.cors) == 4
    error_message = "valid origins are accepted"
  }
}

run "cognito_domain_not_https" {
  command = plan
  variables {
    auth_method                = "cognito"
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_EXAMPLE"
    cognito_domain             = "http://kumocms.auth.us-east-1.amazoncognito.com"
    api_authorizer_secrets_arn = null
  }
  expect_failures = [var.cognito_domain]
}

run "cognito_domain_with_path" {
  command = plan
  variables {
    auth_method                = "cognito"
    cognito_user_pool_arn      = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_EXAMPLE"
    cognito_domain             = "https://kumocms.auth.us-east-1.amazoncognito.com/oauth2/authorize"
    api_authorizer_secrets_arn = null
  }
  expect_failures = [var.cognito_domain]
}

run "cognito_client_with_created_pool" {
  command = plan
  variables {
    auth_method                = "cognito"
    create_cognito_user_pool   = true
    cognito_app_client_id      = "1example23456789"
    api_authorizer_secrets_arn = null
  }
  expect_failures = [var.cognito_app_client_id]
}
