################################################################################
# The web interface (enable_web_ui) and CORS (cors_allowed_origins): what the
# api function is told, and the document bucket's CORS rule. The routes are in
# routes.tf, the preflights and gateway responses in api_gateway.tf.
################################################################################

locals {
  # The execute-api origin the interface is served from, computed from the API's
  # id (not the stage) so that the Cognito app client can name it without a cycle.
  # A PRIVATE API is also reached through its VPC endpoint's own host name.
  web_ui_origins = var.enable_web_ui ? concat(
    ["https://${aws_api_gateway_rest_api.this.id}.execute-api.${local.region}.${data.aws_partition.current.dns_suffix}"],
    local.is_private_api ? ["https://${aws_api_gateway_rest_api.this.id}-${local.vpc_endpoint_id}.execute-api.${local.region}.${data.aws_partition.current.dns_suffix}"] : [],
  ) : []

  # The interface's address(es) under the stage: where Cognito sends the browser
  # back after sign-in (the interface's redirect_uri is its own page, /ui/).
  web_ui_urls = [for o in local.web_ui_origins : "${o}/${var.api_gateway_stage_name}/ui/"]

  # Origins allowed to use the document bucket from a browser: uploads (PUT to a
  # signed link, multipart parts) and downloads go straight to S3, so both the
  # interface's own origin and the caller's origins need the bucket's CORS rule.
  bucket_cors_origins = distinct(concat(var.cors_allowed_origins, local.web_ui_origins))

  # The Cognito hosted UI (sign-in with the authorization-code flow and PKCE):
  # an explicit domain wins (an existing pool's, or a custom domain), else the
  # domain the module creates from cognito_domain_prefix.
  web_ui_cognito_domain = !local.use_cognito_auth ? null : (
    var.cognito_domain != null ? trimsuffix(var.cognito_domain, "/") :
    var.cognito_domain_prefix != null && local.create_cognito ? "https://${var.cognito_domain_prefix}.auth.${local.region}.amazoncognito.com" : null
  )
  # Known at plan time (the created client's id is not), so that the function's
  # environment keeps a known set of keys.
  web_ui_cognito_client_known = local.use_cognito_auth && (local.create_cognito || var.cognito_app_client_id != null)
  web_ui_cognito_client_id = !local.web_ui_cognito_client_known ? null : (
    local.create_cognito ? aws_cognito_user_pool_client.this[0].id : var.cognito_app_client_id
  )

  # What the api function reads (the Rust side's settings): KUMOCMS_WEB_UI always,
  # KUMOCMS_CORS_ALLOWED_ORIGINS (comma-separated) only when there are origins,
  # the Cognito hosted UI's base URL and app client id only when they are known.
  web_ui_environment = merge(
    { KUMOCMS_WEB_UI = tostring(var.enable_web_ui) },
    local.cors_enabled ? { KUMOCMS_CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins) } : {},
    local.web_ui_cognito_domain != null ? { KUMOCMS_COGNITO_DOMAIN = local.web_ui_cognito_domain } : {},
    local.web_ui_cognito_client_known ? { KUMOCMS_COGNITO_CLIENT_ID = local.web_ui_cognito_client_id } : {},
  )
}

resource "aws_s3_bucket_cors_configuration" "documents" {
  count = local.cors_enabled || var.enable_web_ui ? 1 : 0

  bucket = aws_s3_bucket.documents.id

  cors_rule {
    id              = "kumocms-browser-transfers"
    allowed_methods = ["GET", "HEAD", "PUT"]
    allowed_origins = local.bucket_cors_origins
    allowed_headers = ["*"]
    # Multipart uploads: the browser reads each part's ETag to complete the upload.
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

# Not an error (enable_web_ui is on by default, and an API-only Cognito deployment
# is fine): the interface's sign-in needs the hosted UI and an app client.
check "web_ui_cognito_sign_in" {
  assert {
    condition     = !var.enable_web_ui || !local.use_cognito_auth || (local.web_ui_cognito_domain != null && local.web_ui_cognito_client_known)
    error_message = "enable_web_ui with auth_method = \"cognito\": the web interface cannot sign anyone in without the Cognito hosted UI and an app client. Set cognito_domain_prefix (with create_cognito_user_pool = true), or cognito_domain and cognito_app_client_id for an existing pool; or set enable_web_ui = false."
  }
}
