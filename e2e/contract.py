"""What each function needs from what Terraform created: the contract the suite
checks on the resources read back from moto.

The IAM actions are those the Rust adapters call (crates/kumocms-aws) for each
role, on the resource each call names. `{bucket}`, `{table}`, `{secret}` and
`{queue}` are filled in from the function's own environment read back from moto.
"""

# (action, resource pattern) per handler. Resource patterns are concrete ARNs of
# this deployment; a policy statement allows them when one of its Resource entries
# matches (IAM wildcards) and one of its Actions matches.
S3_OBJECTS = "arn:aws:s3:::{bucket}/documents/*"
S3_BUCKET = "arn:aws:s3:::{bucket}"
TABLE = "{table_arn}"
INDEX = "{table_arn}/index/DocumentTypeIndex"

STORAGE_EVENTS = [
    # events: read the uploaded content (GetObject, HeadObject), finish deletes
    # (ListObjectVersions, DeleteObjects of every version), read and write records
    # (GetItem, conditional PutItem)
    ("s3:GetObject", S3_OBJECTS),
    ("s3:DeleteObject", S3_OBJECTS),
    ("s3:DeleteObjectVersion", S3_OBJECTS),
    ("s3:ListBucketVersions", S3_BUCKET),
    ("dynamodb:GetItem", TABLE),
    ("dynamodb:PutItem", TABLE),
]

NEEDED_ACTIONS = {
    "api": [
        ("s3:ListBucket", S3_BUCKET),  # HeadBucket (health)
        ("s3:ListBucketVersions", S3_BUCKET),
        ("s3:GetObject", S3_OBJECTS),
        ("s3:GetObjectVersion", S3_OBJECTS),  # archive copies a given version
        ("s3:PutObject", S3_OBJECTS),
        ("s3:DeleteObject", S3_OBJECTS),
        ("s3:DeleteObjectVersion", S3_OBJECTS),
        ("s3:RestoreObject", S3_OBJECTS),
        ("s3:AbortMultipartUpload", S3_OBJECTS),
        ("s3:ListMultipartUploadParts", S3_OBJECTS),  # ListParts (multipart resume)
        ("dynamodb:GetItem", TABLE),
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:DeleteItem", TABLE),
        ("dynamodb:Query", INDEX),
        ("dynamodb:Scan", TABLE),
    ],
    "authorizer": [
        ("secretsmanager:GetSecretValue", "{secret}"),
    ],
    "events": STORAGE_EVENTS + [
        # Lambda sends a failed asynchronous invocation to the DLQ with the role.
        ("sqs:SendMessage", "{queue_arn}"),
    ],
    "dlq": STORAGE_EVENTS + [
        ("s3:AbortMultipartUpload", S3_OBJECTS),  # the sweep aborts expired multipart uploads
        ("dynamodb:Scan", TABLE),
        ("dynamodb:DeleteItem", TABLE),
        ("sqs:ReceiveMessage", "{queue_arn}"),
        ("sqs:DeleteMessage", "{queue_arn}"),
        ("sqs:ChangeMessageVisibility", "{queue_arn}"),
        ("sqs:SendMessage", "{queue_arn}"),
    ],
}

# Multi-region: the api function reads documents uploaded in the peer regions.
PEER_READ = [
    ("s3:GetObject", "arn:aws:s3:::{peer_bucket}/documents/*"),
]

# Actions a role may hold beyond what its code calls: what the platform does with
# the role (logs, X-Ray, the module's KMS key). Any other granted action that is
# not in NEEDED_ACTIONS (or PEER_READ for the api) fails the suite (issue 16).
PLATFORM_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:GenerateDataKey",
}

# Every function writes its own logs.
LOGS = [
    ("logs:CreateLogStream", "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"),
    ("logs:PutLogEvents", "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"),
]

# Environment variables each handler reads (crates/kumocms-lambda/src/settings.rs);
# the bootstrap also reports a missing one at init, this names it up front.
NEEDED_ENV = {
    "api": ["S3_BUCKET_NAME", "DYNAMODB_TABLE_NAME"],
    "authorizer": ["SECRETS_ARN"],
    "events": ["S3_BUCKET_NAME", "DYNAMODB_TABLE_NAME"],
    "dlq": ["S3_BUCKET_NAME", "DYNAMODB_TABLE_NAME", "KUMOCMS_DLQ_URL"],
}

# Variables the functions read at all; anything else the module sets is a name
# no function reads (a renamed variable shows up here as well as missing).
KNOWN_ENV = {
    "S3_BUCKET_NAME",
    "DYNAMODB_TABLE_NAME",
    "SECRETS_ARN",
    "KUMOCMS_DLQ_URL",
    "KUMOCMS_LOG_LEVEL",
    "KUMOCMS_CURSOR_SECRET",
    "KUMOCMS_SECRETS_TTL_SECONDS",
    "KUMOCMS_MULTI_REGION_CONSISTENCY",
    "KUMOCMS_REVISION_RETENTION_COUNT",
    "KUMOCMS_REVISION_RETENTION_DAYS",
    "KUMOCMS_TRASH_RETENTION_DAYS",
    # Multipart uploads (issue 12), api function only.
    "KUMOCMS_MULTIPART_THRESHOLD",
    # The web interface and CORS (issue 15), api function only.
    "KUMOCMS_WEB_UI",
    "KUMOCMS_CORS_ALLOWED_ORIGINS",
    "KUMOCMS_COGNITO_DOMAIN",
    "KUMOCMS_COGNITO_CLIENT_ID",
}

# What the module adds to the router's route table itself (terraform/routes.tf):
# the web interface's routes (enable_web_ui) and, with CORS origins, an OPTIONS
# preflight on every path. API Gateway cannot express the router's wildcard
# under /ui, so these are checked on their own, not against `kumocms routes`.
WEB_UI_ROUTES = {("GET", "/ui"), ("GET", "/ui/{proxy+}")}

# API Gateway's own error answers that carry the CORS headers (with CORS origins).
CORS_GATEWAY_RESPONSES = {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED"}

RUNTIMES = {"provided.al2023", "provided.al2"}
