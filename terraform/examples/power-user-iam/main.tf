# Usage example of the published module README: Power User Mode - IAM Policy Examples
#
# The IAM roles are created outside the module (here, in the same root; in
# practice often by a separate, privileged pipeline) and passed in with
# create_iam_roles = false. The policies below are exactly what the functions
# need; they fix the published README's example (sqs:SendMessage for the DLQ,
# s3:RestoreObject, GetItem/PutItem for the event processor, the GSI ARN, no
# account wildcards, region in the role names).

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  prefix     = "kumocms-prod"
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  bucket_arn    = "arn:${local.partition}:s3:::${var.s3_bucket_name}"
  table_arn     = "arn:${local.partition}:dynamodb:${var.aws_region}:${local.account_id}:table/${var.dynamodb_table_name}"
  dlq_arn       = "arn:${local.partition}:sqs:${var.aws_region}:${local.account_id}:${local.prefix}-dlq"
  function_arn  = "arn:${local.partition}:lambda:${var.aws_region}:${local.account_id}:function:${local.prefix}"
  log_group_arn = "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/lambda/${local.prefix}"

  lambda_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  xray = {
    Sid      = "XRayWrite"
    Effect   = "Allow"
    Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    Resource = ["*"]
  }

  # Also the dlq function's: it scans for expired pending uploads (aborting their
  # multipart uploads) and, like events, deletes content with all its versions.
  event_processing = [
    {
      Sid      = "ListDocumentVersions"
      Effect   = "Allow"
      Action   = ["s3:ListBucketVersions"]
      Resource = [local.bucket_arn]
    },
    {
      Sid      = "ReadAndDeleteDocuments"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
      Resource = ["${local.bucket_arn}/documents/*"]
    },
    {
      # The dlq function's sweep aborts the multipart uploads of expired uploads.
      Sid      = "AbortAbandonedMultipartUploads"
      Effect   = "Allow"
      Action   = ["s3:AbortMultipartUpload"]
      Resource = ["${local.bucket_arn}/documents/*"]
    },
    {
      Sid      = "WriteMetadata"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"]
      Resource = [local.table_arn]
    },
  ]
}

# 1. Lambda API handler role
resource "aws_iam_role" "lambda_api" {
  name               = "${local.prefix}-${var.aws_region}-lambda-api-role"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "lambda_api" {
  name = "${local.prefix}-lambda-api-policy"
  role = aws_iam_role.lambda_api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}-api:*"]
      },
      {
        Sid      = "ListBucket"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:ListBucketVersions"]
        Resource = [local.bucket_arn]
      },
      {
        Sid    = "Documents"
        Effect = "Allow"
        Action = [
          "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
          "s3:DeleteObjectVersion", "s3:RestoreObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
        ]
        Resource = ["${local.bucket_arn}/documents/*"]
      },
      {
        Sid    = "Metadata"
        Effect = "Allow"
        Action = [
          "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
          "dynamodb:Query", "dynamodb:Scan",
        ]
        Resource = [local.table_arn, "${local.table_arn}/index/*"]
      },
      local.xray,
    ]
  })
}

# 2. Lambda authorizer role
resource "aws_iam_role" "lambda_authorizer" {
  name               = "${local.prefix}-${var.aws_region}-lambda-authorizer-role"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "lambda_authorizer" {
  name = "${local.prefix}-lambda-authorizer-policy"
  role = aws_iam_role.lambda_authorizer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}-authorizer:*"]
      },
      {
        Sid      = "ApiKeySecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [var.api_authorizer_secrets_arn]
      },
      local.xray,
    ]
  })
}

# 3. Lambda event processor role; also used by the dlq drain function
#    (lambda_dlq_role_arn unset), so it may receive from the DLQ too.
resource "aws_iam_role" "lambda_event_processor" {
  name               = "${local.prefix}-${var.aws_region}-lambda-event-processor-role"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "lambda_event_processor" {
  name = "${local.prefix}-lambda-event-processor-policy"
  role = aws_iam_role.lambda_event_processor.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.event_processing, [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}-events:*", "${local.log_group_arn}-dlq:*"]
      },
      {
        Sid      = "DeadLetterQueue"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource = [local.dlq_arn]
      },
      local.xray,
    ])
  })
}

# 4. API Gateway authorizer invocation role
resource "aws_iam_role" "api_gateway_authorizer_invocation" {
  name = "${local.prefix}-${var.aws_region}-apigw-auth-invocation-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "api_gateway_authorizer_invocation" {
  name = "${local.prefix}-apigw-auth-invocation-policy"
  role = aws_iam_role.api_gateway_authorizer_invocation.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeAuthorizer"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = ["${local.function_arn}-authorizer"]
    }]
  })
}

module "kumocms_regional" {
  source = "../../"

  project_name = "kumocms"
  environment  = "prod"
  aws_region   = var.aws_region

  lambda_deployment_package_path = var.lambda_deployment_package_path
  s3_bucket_name                 = var.s3_bucket_name
  dynamodb_table_name            = var.dynamodb_table_name
  api_authorizer_secrets_arn     = var.api_authorizer_secrets_arn

  # Option A: the module creates the table. create_dynamodb_table defaults to
  # false, which expects an existing table (see examples/dynamodb-existing).
  create_dynamodb_table = true

  create_iam_roles                           = false
  lambda_api_role_arn                        = aws_iam_role.lambda_api.arn
  lambda_authorizer_role_arn                 = aws_iam_role.lambda_authorizer.arn
  lambda_event_processor_role_arn            = aws_iam_role.lambda_event_processor.arn
  api_gateway_authorizer_invocation_role_arn = aws_iam_role.api_gateway_authorizer_invocation.arn

  # The functions must not start before their permissions exist.
  depends_on = [
    aws_iam_role_policy.lambda_api,
    aws_iam_role_policy.lambda_authorizer,
    aws_iam_role_policy.lambda_event_processor,
    aws_iam_role_policy.api_gateway_authorizer_invocation,
  ]
}
