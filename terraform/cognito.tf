################################################################################
# Cognito (auth_method = "cognito"): a new user pool, or an existing one via
# cognito_user_pool_arn. No Lambda authorizer is created in this mode.
################################################################################

locals {
  create_cognito        = local.use_cognito_auth && var.create_cognito_user_pool
  cognito_user_pool_arn = local.use_cognito_auth ? (local.create_cognito ? aws_cognito_user_pool.this[0].arn : var.cognito_user_pool_arn) : null
}

resource "aws_cognito_user_pool" "this" {
  count = local.create_cognito ? 1 : 0

  name                     = "${local.name_prefix}-users"
  deletion_protection      = var.cognito_deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = var.cognito_mfa_configuration
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  password_policy {
    minimum_length                   = var.cognito_password_min_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 7
  }

  dynamic "software_token_mfa_configuration" {
    for_each = var.cognito_mfa_configuration == "OFF" ? [] : [1]

    content {
      enabled = true
    }
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  tags = local.tags
}

resource "aws_cognito_user_pool_client" "this" {
  count = local.create_cognito ? 1 : 0

  name         = "${local.name_prefix}-app"
  user_pool_id = aws_cognito_user_pool.this[0].id

  generate_secret                      = false
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  # The web interface's own page (enable_web_ui) is added: it is the
  # redirect_uri of its sign-in (web_ui.tf, local.web_ui_urls).
  callback_urls       = distinct(concat(var.cognito_callback_urls, local.web_ui_urls))
  logout_urls         = distinct(concat(var.cognito_logout_urls, local.web_ui_urls))
  explicit_auth_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

  access_token_validity  = 60
  id_token_validity      = 60
  refresh_token_validity = 30

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  count = local.create_cognito && var.cognito_domain_prefix != null ? 1 : 0

  domain       = var.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.this[0].id
}
