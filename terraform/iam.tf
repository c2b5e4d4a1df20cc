################################################################################
# IAM (admin mode, create_iam_roles = true). One role per function, with an
# inline least-privilege policy scoped to this module's resources. Role names
# include the region (IAM is global) so multi-region deployments don't collide.
#
# Power user mode (create_iam_roles = false) takes the role ARNs as inputs; the
# module README lists the permissions each role needs.
################################################################################

locals {
  lambda_role_suffix = {
    api        = "api"
    authorizer = "authz"
    events     = "events"
    dlq        = "dlq"
  }

  # --- statement building blocks --------------------------------------------

  kms_statements = local.use_kms ? [{
    Sid      = "UseModuleKmsKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.kms_key_arn]
  }] : []

  xray_statements = var.enable_xray_tracing ? [{
    Sid      = "XRayWrite"
    Effect   = "Allow"
    Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    Resource = ["*"]
  }] : []

  # A partial secret ARN (no "-" and six random characters at the end, as in the
  # published module's examples) works for GetSecretValue, but IAM compares the
  # full ARN: grant the name followed by any suffix.
  secret_is_partial_arn = var.api_authorizer_secrets_arn == null ? false : !can(regex("-[A-Za-z0-9]{6}$", var.api_authorizer_secrets_arn))
  secret_statements = local.use_api_key_auth ? [{
    Sid      = "ReadApiKeySecret"
    Effect   = "Allow"
    Action   = ["secretsmanager:GetSecretValue"]
    Resource = local.secret_is_partial_arn ? ["${var.api_authorizer_secrets_arn}-??????"] : [var.api_authorizer_secrets_arn]
  }] : []

  dlq_send_statements = var.enable_dlq ? [{
    Sid      = "SendToDeadLetterQueue"
    Effect   = "Allow"
    Action   = ["sqs:SendMessage"]
    Resource = [local.dlq_arn]
  }] : []

  # The events and dlq functions finish deletes and sweeps: a document's
  # content is removed with all its versions (list the versions, delete each).
  # Each action below is one the code calls (crates/kumocms-aws); e2e/contract.py
  # holds the same list and the e2e suite fails on a grant the code never uses.
  events_statements = [
    {
      Sid      = "ListDocumentVersions"
      Effect   = "Allow"
      Action   = ["s3:ListBucketVersions"]
      Resource = [local.s3_bucket_arn]
    },
    {
      Sid      = "ReadAndDeleteDocuments"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
      Resource = [local.s3_documents_arn]
    },
    {
      # The processor reads a record and writes it back conditionally (PutItem).
      Sid      = "WriteMetadata"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource = [local.dynamodb_table_arn]
    },
  ]

  # Multi-region: a document's record names the bucket (and region) holding its
  # content, so this region's api function reads the other regions' buckets.
  peer_read_statements = length(var.peer_bucket_arns) > 0 ? [{
    Sid      = "ReadPeerRegionDocuments"
    Effect   = "Allow"
    Action   = ["s3:GetObject"]
    Resource = [for arn in var.peer_bucket_arns : "${arn}/documents/*"]
  }] : []

  # Multi-region (eventually consistent global table): every change to a document
  # is written to the replica in its home region, and its uploads go to the home
  # region's bucket, whichever region's API receives the request.
  peer_table_statements = length(var.peer_table_arns) > 0 ? [{
    Sid      = "WritePeerRegionReplicas"
    Effect   = "Allow"
    Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    Resource = var.peer_table_arns
  }] : []
  # The events function only reads and conditionally puts records (it never deletes
  # one), at home as in its own region.
  peer_table_events_statements = length(var.peer_table_arns) > 0 ? [{
    Sid      = "WritePeerRegionReplicas"
    Effect   = "Allow"
    Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    Resource = var.peer_table_arns
  }] : []
  peer_write_statements = length(var.peer_bucket_arns) > 0 ? [
    {
      Sid      = "ListPeerRegionDocuments"
      Effect   = "Allow"
      Action   = ["s3:ListBucketVersions"]
      Resource = var.peer_bucket_arns
    },
    {
      Sid      = "ManagePeerRegionDocuments"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      Resource = [for arn in var.peer_bucket_arns : "${arn}/documents/*"]
    },
  ] : []

  lambda_statements = {
    api = concat(
      [
        {
          # HeadBucket (health) and ListObjectVersions (a deleted document's versions).
          Sid      = "ListDocumentsBucket"
          Effect   = "Allow"
          Action   = ["s3:ListBucket", "s3:ListBucketVersions"]
          Resource = [local.s3_bucket_arn]
        },
        {
          # Presigned PUT/GET, HeadObject, archive's copy in place (of a given
          # version, single or multipart), restore, deletes of every version;
          # multipart uploads: PutObject covers CreateMultipartUpload, the
          # presigned UploadPart and CompleteMultipartUpload, ListParts needs
          # ListMultipartUploadParts, an abort AbortMultipartUpload.
          Sid    = "ManageDocuments"
          Effect = "Allow"
          Action = [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
            "s3:RestoreObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
          ]
          Resource = [local.s3_documents_arn]
        },
        {
          # Records: conditional PutItem, GetItem, DeleteItem; listings Scan the
          # table or Query the document-type index.
          Sid    = "ManageMetadata"
          Effect = "Allow"
          Action = [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
          ]
          Resource = [local.dynamodb_table_arn, local.dynamodb_index_arn]
        },
      ],
      local.peer_read_statements,
      local.peer_write_statements,
      local.peer_table_statements,
    )
    # Only the authorizer reads the API key.
    authorizer = local.secret_statements
    events     = concat(local.events_statements, local.peer_table_events_statements, local.dlq_send_statements)
    dlq = concat(
      local.events_statements,
      local.peer_table_statements,
      [{
        # The expire-pending sweep scans the table for uploads never completed
        # and deletes the records of those that never had content.
        Sid      = "SweepPendingUploads"
        Effect   = "Allow"
        Action   = ["dynamodb:Scan", "dynamodb:DeleteItem"]
        Resource = [local.dynamodb_table_arn]
      }],
      [{
        # The same sweep aborts the multipart uploads of expired pending uploads
        # (the bucket's lifecycle rule is the backstop).
        Sid      = "AbortAbandonedMultipartUploads"
        Effect   = "Allow"
        Action   = ["s3:AbortMultipartUpload"]
        Resource = [local.s3_documents_arn]
      }],
      [{
        Sid      = "DrainDeadLetterQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource = [coalesce(local.dlq_arn, "none")]
      }],
      # Lambda itself sends a failed asynchronous invocation of this function to
      # its dead-letter target with this role.
      local.dlq_send_statements,
    )
  }

  lambda_policies = {
    for k in keys(local.functions) : k => {
      Version = "2012-10-17"
      Statement = concat(
        [{
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${local.log_group_arn_prefix}:/aws/lambda/${local.function_names[k]}:*"]
        }],
        local.lambda_statements[k],
        local.kms_statements,
        local.xray_statements,
      )
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = var.create_iam_roles ? local.functions : {}

  name                 = "${local.iam_name_prefix}-${local.lambda_role_suffix[each.key]}"
  description          = "KumoCMS ${each.key} function (${var.environment}, ${var.aws_region})"
  permissions_boundary = var.iam_role_permissions_boundary

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = local.tags
}

resource "aws_iam_role_policy" "lambda" {
  for_each = var.create_iam_roles ? local.functions : {}

  name   = "${local.iam_name_prefix}-${local.lambda_role_suffix[each.key]}"
  role   = aws_iam_role.lambda[each.key].id
  policy = jsonencode(local.lambda_policies[each.key])
}

################################################################################
# API Gateway -> Lambda authorizer invocation role (api_key auth)
################################################################################

resource "aws_iam_role" "authorizer_invocation" {
  count = var.create_iam_roles && local.use_api_key_auth ? 1 : 0

  name                 = "${local.iam_name_prefix}-authz-invoke"
  description          = "API Gateway invokes the KumoCMS authorizer (${var.environment}, ${var.aws_region})"
  permissions_boundary = var.iam_role_permissions_boundary

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = local.tags
}

resource "aws_iam_role_policy" "authorizer_invocation" {
  count = var.create_iam_roles && local.use_api_key_auth ? 1 : 0

  name = "${local.iam_name_prefix}-authz-invoke"
  role = aws_iam_role.authorizer_invocation[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeAuthorizer"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = ["${local.lambda_function_arn}:${local.function_names.authorizer}"]
    }]
  })
}

################################################################################
# API Gateway account CloudWatch role (only with manage_api_gateway_account)
################################################################################

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.create_iam_roles && var.manage_api_gateway_account ? 1 : 0

  name                 = "${local.iam_name_prefix}-apigw-logs"
  description          = "API Gateway account setting: push logs to CloudWatch (${var.aws_region})"
  permissions_boundary = var.iam_role_permissions_boundary

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.create_iam_roles && var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}
