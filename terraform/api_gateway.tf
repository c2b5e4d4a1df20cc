################################################################################
# REST API
################################################################################

resource "aws_api_gateway_rest_api" "this" {
  name        = "${local.name_prefix}-api"
  description = "KumoCMS document API (${var.environment}, ${var.aws_region})"

  # No binary media types: the interface's assets are text (HTML, CSS, JavaScript,
  # SVG), which lambda_http returns as text, so API Gateway passes them unchanged.

  endpoint_configuration {
    types            = [var.api_gateway_endpoint_type]
    vpc_endpoint_ids = local.is_private_api ? [local.vpc_endpoint_id] : null
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.aws_region == local.region
      error_message = "aws_region (${var.aws_region}) differs from the region of the aws provider passed to the module (${local.region}): set aws_region to the provider's region, or pass the provider for ${var.aws_region} in `providers`."
    }

    precondition {
      condition     = max([for r in values(local.api_resources) : r.depth]...) <= 5
      error_message = "routes.tf declares a path deeper than 5 segments; add an aws_api_gateway_resource level in api_gateway.tf."
    }
  }
}

# PRIVATE: only requests that arrive through the VPC endpoint may invoke the API.
resource "aws_api_gateway_rest_api_policy" "this" {
  count = local.is_private_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowInvokeThroughVpcEndpoint"
        Effect    = "Allow"
        Principal = "*"
        Action    = "execute-api:Invoke"
        Resource  = "${aws_api_gateway_rest_api.this.execution_arn}/*"
        Condition = { StringEquals = { "aws:SourceVpce" = local.vpc_endpoint_id } }
      },
      {
        Sid       = "DenyInvokeFromElsewhere"
        Effect    = "Deny"
        Principal = "*"
        Action    = "execute-api:Invoke"
        Resource  = "${aws_api_gateway_rest_api.this.execution_arn}/*"
        Condition = { StringNotEquals = { "aws:SourceVpce" = local.vpc_endpoint_id } }
      },
    ]
  })
}

################################################################################
# Resources (paths), derived from routes.tf. API Gateway needs each parent's
# id, so paths are created level by level.
################################################################################

resource "aws_api_gateway_resource" "level1" {
  for_each = { for p, r in local.api_resources : p => r if r.depth == 1 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "level2" {
  for_each = { for p, r in local.api_resources : p => r if r.depth == 2 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level1[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "level3" {
  for_each = { for p, r in local.api_resources : p => r if r.depth == 3 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level2[each.value.parent].id
  path_part   = each.value.path_part
}

# /documents/{id}/revisions/{n} and /documents/{id}/revisions/{n}/content|restore.
resource "aws_api_gateway_resource" "level4" {
  for_each = { for p, r in local.api_resources : p => r if r.depth == 4 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level3[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "level5" {
  for_each = { for p, r in local.api_resources : p => r if r.depth == 5 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level4[each.value.parent].id
  path_part   = each.value.path_part
}

locals {
  api_resource_ids = merge(
    { "/" = aws_api_gateway_rest_api.this.root_resource_id },
    { for p, r in aws_api_gateway_resource.level1 : p => r.id },
    { for p, r in aws_api_gateway_resource.level2 : p => r.id },
    { for p, r in aws_api_gateway_resource.level3 : p => r.id },
    { for p, r in aws_api_gateway_resource.level4 : p => r.id },
    { for p, r in aws_api_gateway_resource.level5 : p => r.id },
  )

  authorization_type = local.use_api_key_auth ? "CUSTOM" : "COGNITO_USER_POOLS"
  authorizer_id      = local.use_api_key_auth ? aws_api_gateway_authorizer.lambda[0].id : aws_api_gateway_authorizer.cognito[0].id
}

################################################################################
# Authorizers
################################################################################

resource "aws_api_gateway_authorizer" "lambda" {
  count = local.use_api_key_auth ? 1 : 0

  name                             = "${local.name_prefix}-api-key"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  identity_source                  = "method.request.header.Authorization"
  authorizer_uri                   = aws_lambda_function.this["authorizer"].invoke_arn
  authorizer_credentials           = local.authorizer_invocation_role_arn
  authorizer_result_ttl_in_seconds = var.authorizer_result_ttl_in_seconds
}

resource "aws_api_gateway_authorizer" "cognito" {
  count = local.use_cognito_auth ? 1 : 0

  name            = "${local.name_prefix}-cognito"
  rest_api_id     = aws_api_gateway_rest_api.this.id
  type            = "COGNITO_USER_POOLS"
  identity_source = "method.request.header.Authorization"
  provider_arns   = [local.cognito_user_pool_arn]
}

################################################################################
# Methods and integrations: one per route, all AWS_PROXY to the api function
################################################################################

resource "aws_api_gateway_request_validator" "this" {
  name                        = "${local.name_prefix}-parameters"
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  validate_request_body       = false
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:Only GET /healthcheck, GET /openapi.json and the web interface's GET /ui and GET /ui/{proxy+} (enable_web_ui: static assets and the sign-in configuration, no data) are open (public = true in routes.tf); every other route uses the Lambda or Cognito authorizer, asserted by tests/defaults.tftest.hcl and tests/web_ui_cors.tftest.hcl.
  for_each = local.routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = local.api_resource_ids[each.value.path]
  http_method          = each.value.method
  authorization        = each.value.public ? "NONE" : local.authorization_type
  authorizer_id        = each.value.public ? null : local.authorizer_id
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_parameters   = local.route_path_parameters[each.key]
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.this[each.key].resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this["api"].invoke_arn
  timeout_milliseconds    = 29000
}

################################################################################
# CORS (cors_allowed_origins): preflights and gateway responses
################################################################################

# One OPTIONS method per path of the API, open and proxied to the api function:
# the Rust router answers the preflight (it knows each route's methods and the
# allowed origins), so API Gateway needs no MOCK integration to keep in step.
resource "aws_api_gateway_method" "preflight" {
  #checkov:skip=CKV_AWS_59:CORS preflights (OPTIONS) carry no credentials by the Fetch standard, so they cannot be behind an authorizer; the api function answers them with headers only, no data (tests/web_ui_cors.tftest.hcl).
  for_each = toset(local.preflight_paths)

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = local.api_resource_ids[each.key]
  http_method          = "OPTIONS"
  authorization        = "NONE"
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_parameters   = local.preflight_path_parameters[each.key]
}

resource "aws_api_gateway_integration" "preflight" {
  for_each = toset(local.preflight_paths)

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.preflight[each.key].resource_id
  http_method             = aws_api_gateway_method.preflight[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this["api"].invoke_arn
  timeout_milliseconds    = 29000
}

locals {
  # A gateway response carries one static header value, so it cannot pick the
  # caller's origin from a list: the only origin when there is one, `*` when the
  # list allows every origin, else the first origin (README, "Web interface and
  # CORS"). The api function's own responses match each allowed origin.
  gateway_response_allow_origin = (
    length(var.cors_allowed_origins) == 1 ? var.cors_allowed_origins[0] :
    contains(var.cors_allowed_origins, "*") ? "*" : try(var.cors_allowed_origins[0], "")
  )

  # Errors that API Gateway answers itself (the authorizer's 401 and 403, an
  # unknown path, throttling, an integration failure), in the API's error shape
  # {"error": <code>, "message": <text>}. Without CORS headers a browser hides
  # these answers from the application.
  gateway_responses = local.cors_enabled ? {
    DEFAULT_4XX   = "request_refused"
    DEFAULT_5XX   = "gateway_error"
    UNAUTHORIZED  = "unauthorized"
    ACCESS_DENIED = "forbidden"
  } : {}
}

resource "aws_api_gateway_gateway_response" "cors" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key

  response_parameters = {
    "gatewayresponse.header.Access-Control-Allow-Origin"   = "'${local.gateway_response_allow_origin}'"
    "gatewayresponse.header.Access-Control-Allow-Headers"  = "'Authorization,Content-Type,If-Match,If-None-Match'"
    "gatewayresponse.header.Access-Control-Expose-Headers" = "'ETag,Location,Retry-After,x-amzn-RequestId,x-amzn-ErrorType'"
  }

  response_templates = {
    "application/json" = "{\"error\":\"${each.value}\",\"message\":$context.error.messageString}"
  }
}

################################################################################
# Deployment and stage
################################################################################

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "KumoCMS ${var.environment}"

  # Redeploy whenever a route, method, integration, authorizer, gateway response or
  # the resource policy changes.
  triggers = {
    redeployment = sha1(jsonencode([
      local.routes,
      local.api_resource_ids,
      { for k, m in aws_api_gateway_method.this : k => [m.id, m.authorization, m.authorizer_id, m.request_parameters] },
      { for k, i in aws_api_gateway_integration.this : k => [i.id, i.uri, i.type] },
      { for k, m in aws_api_gateway_method.preflight : k => [m.id, m.authorization] },
      { for k, i in aws_api_gateway_integration.preflight : k => [i.id, i.uri, i.type] },
      { for k, r in aws_api_gateway_gateway_response.cors : k => [r.response_parameters, r.response_templates] },
      aws_api_gateway_authorizer.lambda[*].id,
      aws_api_gateway_authorizer.cognito[*].id,
      aws_api_gateway_rest_api_policy.this[*].policy,
      var.api_gateway_endpoint_type,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  # A PRIVATE API cannot be deployed before its resource policy exists.
  depends_on = [
    aws_api_gateway_method.this,
    aws_api_gateway_integration.this,
    aws_api_gateway_method.preflight,
    aws_api_gateway_integration.preflight,
    aws_api_gateway_gateway_response.cors,
    aws_api_gateway_rest_api_policy.this,
  ]
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per-document and authorization-dependent; a stage cache would serve stale or cross-tenant data.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to HTTP backends; every integration here is AWS_PROXY to Lambda, so there is no backend to present one to.
  #checkov:skip=CKV2_AWS_77:The module does not create the Web ACL; which managed rule groups it holds is the caller's choice.
  #checkov:skip=CKV2_AWS_4:Logging is opt-in (enable_api_gateway_logs, default false) because API Gateway needs the region's account-level CloudWatch Logs role, which a fresh account lacks; when on, execution logs are at ERROR (tests/defaults.tftest.hcl).
  stage_name           = var.api_gateway_stage_name
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  xray_tracing_enabled = var.enable_xray_tracing

  dynamic "access_log_settings" {
    for_each = var.enable_api_gateway_logs ? [1] : []

    content {
      destination_arn = aws_cloudwatch_log_group.api_gateway_access[0].arn
      # Deliberately no request headers: the Authorization header (an API key
      # or a JWT) must never reach the logs.
      format = jsonencode({
        requestId          = "$context.requestId"
        extendedRequestId  = "$context.extendedRequestId"
        requestTime        = "$context.requestTime"
        sourceIp           = "$context.identity.sourceIp"
        userAgent          = "$context.identity.userAgent"
        httpMethod         = "$context.httpMethod"
        resourcePath       = "$context.resourcePath"
        path               = "$context.path"
        protocol           = "$context.protocol"
        status             = "$context.status"
        responseLength     = "$context.responseLength"
        responseLatency    = "$context.responseLatency"
        integrationStatus  = "$context.integration.status"
        integrationLatency = "$context.integration.latency"
        integrationError   = "$context.integration.error"
        authorizerError    = "$context.authorizer.error"
        principalId        = "$context.authorizer.principalId"
        wafResponseCode    = "$context.wafResponseCode"
      })
    }
  }

  tags = local.tags

  depends_on = [aws_cloudwatch_log_group.api_gateway_execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching is off on purpose: responses depend on the caller's authorization and on documents that change (see CKV_AWS_120).
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled = true
    # ERROR-level execution logs only, and never full request/response data:
    # data trace would write the Authorization header and bodies to the logs.
    logging_level          = var.enable_api_gateway_logs ? "ERROR" : "OFF"
    data_trace_enabled     = false
    caching_enabled        = false
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }
}

################################################################################
# API Gateway account settings (region-wide singleton, opt-in)
################################################################################

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = var.create_iam_roles ? aws_iam_role.api_gateway_cloudwatch[0].arn : var.api_gateway_cloudwatch_role_arn
}
