################################################################################
# General
################################################################################

variable "project_name" {
  description = "Name of the KumoCMS project (used for resource naming)"
  type        = string
  default     = "kumocms"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project_name))
    error_message = "project_name must be 2-20 characters of lowercase letters, digits and hyphens, starting with a letter (it is part of IAM role, Lambda and queue names)."
  }
}

variable "environment" {
  description = "Environment name (e.g., dev, staging, prod)"
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must be 1-12 characters of lowercase letters, digits and hyphens, starting with a letter, e.g. \"dev\", \"staging\" or \"prod\"."
  }
}

variable "aws_region" {
  description = "AWS region for regional resources. Must be the region of the aws provider passed to the module"
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be an AWS region code such as \"us-east-1\" or \"eu-west-1\"."
  }
}

variable "tags" {
  description = "Additional tags to apply to all resources"
  type        = map(string)
  default     = {}
}

################################################################################
# Lambda
################################################################################

variable "lambda_deployment_package_path" {
  description = "Path to the Lambda deployment package: the bootstrap.zip built by scripts/build-lambda.sh (target/lambda/bootstrap/bootstrap.zip; with --arm64, target/lambda-arm64/bootstrap/bootstrap.zip), containing the Rust `bootstrap` binary"
  type        = string

  validation {
    condition     = endswith(var.lambda_deployment_package_path, ".zip")
    error_message = "lambda_deployment_package_path must point to a .zip file (build it with scripts/build-lambda.sh; it writes target/lambda/bootstrap/bootstrap.zip)."
  }
}

variable "lambda_handler" {
  description = "Handler of the API function. The Rust bootstrap picks its role from the handler, and the API function's role is `api`; the only accepted value (kept as an input for configurations written for the published module)"
  type        = string
  default     = "api"

  validation {
    condition     = var.lambda_handler == "api"
    error_message = "lambda_handler must be \"api\" (or left unset): the KumoCMS bootstrap binary runs the role its handler names (\"api\", \"authorizer\", \"events\" or \"dlq\"), and the API function is \"api\". A Python handler path such as \"src.handlers.api.main.lambda_handler\" would deploy a function that fails at init; remove the setting."
  }
}

variable "lambda_runtime" {
  description = "Lambda function runtime. The package is a Rust `bootstrap` binary, so only the OS-only custom runtimes are accepted"
  type        = string
  default     = "provided.al2023"

  validation {
    condition     = contains(["provided.al2023", "provided.al2"], var.lambda_runtime)
    error_message = "lambda_runtime must be \"provided.al2023\" (default) or \"provided.al2\": KumoCMS ships a Rust bootstrap binary, which runs only on the OS-only custom runtimes."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the Lambda functions; must match the bootstrap binary (x86_64 or arm64)"
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "lambda_memory_size" {
  description = "Memory size for Lambda function (MB)"
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "lambda_timeout" {
  description = "Timeout for Lambda function (seconds). The api and authorizer functions are capped at 29 s (API Gateway's integration timeout); the events and dlq functions use the full value"
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "lambda_reserved_concurrent_executions" {
  description = "Reserved concurrency for each Lambda function; -1 leaves the functions on the unreserved account pool"
  type        = number
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrent_executions >= -1 && floor(var.lambda_reserved_concurrent_executions) == var.lambda_reserved_concurrent_executions
    error_message = "lambda_reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0."
  }
}

variable "lambda_log_level" {
  description = "Value of KUMOCMS_LOG_LEVEL for every function"
  type        = string
  default     = "info"

  validation {
    condition     = contains(["trace", "debug", "info", "warn", "error"], var.lambda_log_level)
    error_message = "lambda_log_level must be one of trace, debug, info, warn, error."
  }
}

variable "enable_xray_tracing" {
  description = "Enable AWS X-Ray active tracing on the Lambda functions and the API Gateway stage"
  type        = bool
  default     = true
}

################################################################################
# Encryption and logs
################################################################################

variable "kms_key_arn" {
  description = "Optional customer managed KMS key ARN used for S3, DynamoDB, SQS, CloudWatch Logs and Lambda environment encryption. null uses AWS owned/managed keys. The key policy must allow the logs, sqs and events service principals"
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>); aliases are not accepted."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the CloudWatch log groups created by the module (Lambda and API Gateway)"
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

################################################################################
# S3
################################################################################

variable "s3_bucket_name" {
  description = "Name for the S3 bucket for document storage (must be globally unique)"
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket_name)) && !can(regex("\\.\\.|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$|^xn--|-s3alias$|--ol-s3$", var.s3_bucket_name))
    error_message = "s3_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address, no '..'."
  }
}

variable "peer_bucket_arns" {
  description = "ARNs of the document buckets of the other regions of a multi-region deployment (sharing one global table); the api function gets s3:GetObject and s3:GetObjectVersion on their documents/* so that it serves documents uploaded in those regions, and s3:PutObject, DeleteObject, DeleteObjectVersion, RestoreObject there (plus s3:ListBucketVersions on the buckets) because a document's uploads, deletion, archive and restore happen in its home region's bucket whichever region receives the request"
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.peer_bucket_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))])
    error_message = "peer_bucket_arns must contain S3 bucket ARNs such as \"arn:aws:s3:::kumocms-prod-documents-eu-west-1\" (the bucket, not an object path)."
  }

  validation {
    condition     = !contains([for arn in var.peer_bucket_arns : element(split(":::", arn), 1)], var.s3_bucket_name)
    error_message = "peer_bucket_arns must not contain this region's own bucket (s3_bucket_name): list only the other regions' buckets."
  }
}

variable "peer_table_arns" {
  description = "ARNs of the other regions' replicas of the global table (same table name, one ARN per peer region). Every change to a document is written to the replica in its home region (the region that created it), so this region's api, events and dlq functions get dynamodb:GetItem, PutItem and DeleteItem (conditional writes) on these tables only. Not needed with dynamodb_multi_region_consistency = \"STRONG\""
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.peer_table_arns : can(regex("^arn:aws[a-z-]*:dynamodb:[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", arn))])
    error_message = "peer_table_arns must contain DynamoDB table ARNs such as \"arn:aws:dynamodb:eu-west-1:123456789012:table/kumocms-prod-global-metadata\" (the table, not an index or stream)."
  }

  validation {
    condition     = alltrue([for arn in var.peer_table_arns : element(split("table/", arn), 1) == var.dynamodb_table_name])
    error_message = "peer_table_arns must name the same table as dynamodb_table_name: a global table has one name in every region, only the region in the ARN differs."
  }

  validation {
    condition     = !contains([for arn in var.peer_table_arns : element(split(":", arn), 3)], var.aws_region)
    error_message = "peer_table_arns must not contain this region's own replica (aws_region): list only the other regions' replicas."
  }
}

variable "dynamodb_multi_region_consistency" {
  description = "Consistency mode of the global table. EVENTUAL (default): replicas converge by last-writer-wins, and the functions write each document in its home region (list the other replicas in peer_table_arns). STRONG: multi-Region strong consistency (three regions, or two plus a witness), every replica checks writes globally and the functions write locally. hashicorp/aws 5.100.0 cannot create an MRSC table: create it outside the module (see README) and set create_dynamodb_table = false; the module checks at plan time that the table exists and has replicas"
  type        = string
  default     = "EVENTUAL"

  validation {
    condition     = contains(["EVENTUAL", "STRONG"], var.dynamodb_multi_region_consistency)
    error_message = "dynamodb_multi_region_consistency must be \"EVENTUAL\" or \"STRONG\" (upper case)."
  }

  validation {
    condition     = var.dynamodb_multi_region_consistency == "EVENTUAL" || !var.create_dynamodb_table
    error_message = "dynamodb_multi_region_consistency = \"STRONG\" needs create_dynamodb_table = false: the pinned hashicorp/aws 5.100.0 cannot create a table with multi-Region strong consistency. Create it with the AWS CLI (terraform/README.md, \"Multi-Region strong consistency\") and pass its name in dynamodb_table_name."
  }
}

variable "enable_s3_versioning" {
  description = "Enable versioning for S3 bucket"
  type        = bool
  default     = true
}

variable "s3_force_destroy" {
  description = "Allow Terraform to delete the document bucket even when it still holds objects"
  type        = bool
  default     = false
}

variable "s3_lifecycle_rules" {
  description = "Lifecycle rules for S3 bucket. Each rule: id, enabled (default true), prefix (default \"documents/\"), expiration_days (optional, >= 1), noncurrent_version_expiration (optional days, >= 1), transitions (optional list of {days, storage_class})"
  type = list(object({
    id                            = string
    enabled                       = optional(bool, true)
    prefix                        = optional(string, "documents/")
    expiration_days               = optional(number)
    noncurrent_version_expiration = optional(number)
    transitions = optional(list(object({
      days          = number
      storage_class = string
    })), [])
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.s3_lifecycle_rules : r.expiration_days == null || try(r.expiration_days >= 1, false)])
    error_message = "s3_lifecycle_rules: expiration_days must be >= 1 (S3 rejects 0). Leave it unset (null) for objects that never expire."
  }

  validation {
    condition     = alltrue([for r in var.s3_lifecycle_rules : r.noncurrent_version_expiration == null || try(r.noncurrent_version_expiration >= 1, false)])
    error_message = "s3_lifecycle_rules: noncurrent_version_expiration must be >= 1 day, or unset (null)."
  }

  validation {
    condition     = length(distinct([for r in var.s3_lifecycle_rules : r.id])) == length(var.s3_lifecycle_rules) && !contains([for r in var.s3_lifecycle_rules : r.id], "abort-incomplete-multipart-uploads")
    error_message = "s3_lifecycle_rules: every id must be unique and must not be \"abort-incomplete-multipart-uploads\" (the module adds that rule itself)."
  }

  validation {
    condition = alltrue(flatten([for r in var.s3_lifecycle_rules : [for t in r.transitions : contains(
      ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"], t.storage_class
    ) && t.days >= 0]]))
    error_message = "s3_lifecycle_rules: transitions[].storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, GLACIER_IR, DEEP_ARCHIVE and days must be >= 0."
  }
}

variable "s3_abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted (a lifecycle rule the module always adds)"
  type        = number
  default     = 7

  validation {
    condition     = var.s3_abort_incomplete_multipart_upload_days >= 1 && floor(var.s3_abort_incomplete_multipart_upload_days) == var.s3_abort_incomplete_multipart_upload_days
    error_message = "s3_abort_incomplete_multipart_upload_days must be a whole number of days >= 1; keep it at least as long as the pending-upload TTL (1 day by default) so that no multipart upload is aborted while its client may still complete it."
  }
}

################################################################################
# DynamoDB
################################################################################

variable "dynamodb_table_name" {
  description = "Name of the DynamoDB table for metadata storage (created when create_dynamodb_table is true, otherwise an existing table)"
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.dynamodb_table_name))
    error_message = "dynamodb_table_name must be 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "create_dynamodb_table" {
  description = "Create the DynamoDB table (PK/SK, DocumentTypeIndex, streams, PITR, SSE, TTL, replicas): Option A. Default false (Option B): use the existing table dynamodb_table_name, which must have that schema"
  type        = bool
  default     = false
}

variable "dynamodb_replica_regions" {
  description = "Regions in which to create Global Table replicas of the created table (must not include aws_region)"
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.dynamodb_replica_regions, var.aws_region)
    error_message = "dynamodb_replica_regions must not contain aws_region: the table itself lives there. List only the other regions."
  }

  validation {
    condition     = length(var.dynamodb_replica_regions) == 0 || var.create_dynamodb_table
    error_message = "dynamodb_replica_regions needs create_dynamodb_table = true: replicas of an existing table are managed where that table is managed."
  }

  validation {
    condition     = alltrue([for r in var.dynamodb_replica_regions : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$", r))])
    error_message = "dynamodb_replica_regions must contain AWS region codes such as \"eu-west-1\"."
  }
}

variable "dynamodb_replica_kms_key_arns" {
  description = "Customer managed KMS key ARN per replica region (map of region => key ARN); required for every replica when kms_key_arn is set, because KMS keys are regional"
  type        = map(string)
  default     = {}

  validation {
    condition     = var.kms_key_arn == null || alltrue([for r in var.dynamodb_replica_regions : contains(keys(var.dynamodb_replica_kms_key_arns), r)])
    error_message = "With kms_key_arn set, dynamodb_replica_kms_key_arns must give a key ARN for every region in dynamodb_replica_regions (a KMS key cannot be used outside its region)."
  }
}

variable "dynamodb_deletion_protection_enabled" {
  description = "Enable deletion protection on the created DynamoDB table"
  type        = bool
  default     = false
}

################################################################################
# API Gateway
################################################################################

variable "api_gateway_stage_name" {
  description = "API Gateway deployment stage name"
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,128}$", var.api_gateway_stage_name))
    error_message = "api_gateway_stage_name must be 1-128 characters of letters, digits, '_' and '-'."
  }
}

variable "api_gateway_endpoint_type" {
  description = "API Gateway endpoint type: REGIONAL (public) or PRIVATE (VPC-only)"
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "PRIVATE"], var.api_gateway_endpoint_type)
    error_message = "api_gateway_endpoint_type must be \"REGIONAL\" (public) or \"PRIVATE\" (VPC-only). EDGE is not supported."
  }
}

variable "enable_api_gateway_logs" {
  description = "Enable CloudWatch logging for API Gateway (JSON access logs without the Authorization header, ERROR-level execution logs, data trace off). Off by default: it needs a CloudWatch Logs role in the region's API Gateway account settings, which a fresh account does not have; set manage_api_gateway_account = true in one module instance per account and region, or check `aws apigateway get-account`"
  type        = bool
  default     = false
}

variable "manage_api_gateway_account" {
  description = "Manage the region-wide API Gateway account setting (its CloudWatch Logs role). It is a singleton per account and region shared by every API, so leave false unless this module instance should own it"
  type        = bool
  default     = false
}

variable "api_gateway_cloudwatch_role_arn" {
  description = "Pre-created IAM role for the API Gateway account setting (required if manage_api_gateway_account is true and create_iam_roles is false)"
  type        = string
  default     = null

  validation {
    condition     = !var.manage_api_gateway_account || var.create_iam_roles || var.api_gateway_cloudwatch_role_arn != null
    error_message = "manage_api_gateway_account = true with create_iam_roles = false needs api_gateway_cloudwatch_role_arn: set it to a role that apigateway.amazonaws.com can assume with AmazonAPIGatewayPushToCloudWatchLogs."
  }

  validation {
    condition     = var.api_gateway_cloudwatch_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.api_gateway_cloudwatch_role_arn))
    error_message = "api_gateway_cloudwatch_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "api_throttling_burst_limit" {
  description = "API Gateway stage throttling burst limit (requests)"
  type        = number
  default     = 200

  validation {
    condition     = var.api_throttling_burst_limit >= 0 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number >= 0."
  }
}

variable "api_throttling_rate_limit" {
  description = "API Gateway stage throttling steady-state rate limit (requests per second)"
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_rate_limit >= 0
    error_message = "api_throttling_rate_limit must be >= 0."
  }
}

variable "enable_web_ui" {
  description = "Serve the web interface at /ui/ from the api function: GET /ui and GET /ui/{proxy+} without the authorizer (static assets and the sign-in configuration ui/config.json; the API calls the interface makes still go through the authorizer), and the interface's origin in the document bucket's CORS rule. Passed to the api function as KUMOCMS_WEB_UI"
  type        = bool
  default     = true
}

variable "cors_allowed_origins" {
  description = "Origins of browser applications allowed to call the API and the document bucket (CORS), each `*` or `scheme://host[:port]` without a path, e.g. [\"https://app.example.com\", \"http://localhost:3000\"]. Empty (default): no CORS. Adds an open OPTIONS method (answered by the api function) to every path, CORS headers on API Gateway's own error responses and a bucket CORS rule (GET, HEAD, PUT, exposing ETag); passed to the api function as KUMOCMS_CORS_ALLOWED_ORIGINS"
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : o == "*" || can(regex("^[a-z][a-z0-9+.-]*://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\\[[0-9a-f:.]+\\])(:[0-9]{1,5})?$", o))])
    error_message = "cors_allowed_origins must contain \"*\" or origins as a browser sends them: scheme://host[:port] in lower case, with no path, query or trailing slash, e.g. \"https://app.example.com\" or \"http://localhost:3000\" (not \"https://app.example.com/\")."
  }

  validation {
    condition     = length(distinct(var.cors_allowed_origins)) == length(var.cors_allowed_origins)
    error_message = "cors_allowed_origins lists an origin twice: remove the duplicate."
  }
}

################################################################################
# Private API / VPC endpoint
################################################################################

variable "vpc_id" {
  description = "VPC ID for private API Gateway (required if api_gateway_endpoint_type is PRIVATE and create_vpc_endpoint is true)"
  type        = string
  default     = null

  validation {
    condition     = var.api_gateway_endpoint_type != "PRIVATE" || !var.create_vpc_endpoint || var.vpc_id != null
    error_message = "api_gateway_endpoint_type = \"PRIVATE\" with create_vpc_endpoint = true needs vpc_id: set vpc_id (and subnet_ids), or set create_vpc_endpoint = false and pass vpc_endpoint_id."
  }

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like \"vpc-0123456789abcdef0\"."
  }
}

variable "subnet_ids" {
  description = "Subnet IDs for VPC endpoint (required if api_gateway_endpoint_type is PRIVATE and create_vpc_endpoint is true)"
  type        = list(string)
  default     = []

  validation {
    condition     = var.api_gateway_endpoint_type != "PRIVATE" || !var.create_vpc_endpoint || length(var.subnet_ids) > 0
    error_message = "api_gateway_endpoint_type = \"PRIVATE\" with create_vpc_endpoint = true needs subnet_ids: set at least one subnet of vpc_id, or set create_vpc_endpoint = false and pass vpc_endpoint_id."
  }
}

variable "security_group_ids" {
  description = "Security group IDs for VPC endpoint (optional, will create default if not provided)"
  type        = list(string)
  default     = []
}

variable "vpc_endpoint_allowed_cidr_blocks" {
  description = "CIDR blocks allowed to reach the created VPC endpoint on 443; empty uses every CIDR block associated with vpc_id"
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.vpc_endpoint_allowed_cidr_blocks : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "vpc_endpoint_allowed_cidr_blocks must contain valid IPv4 CIDR blocks other than 0.0.0.0/0."
  }
}

variable "vpc_endpoint_private_dns_enabled" {
  description = "Enable private DNS on the created execute-api VPC endpoint. Note: it routes every execute-api hostname in the VPC (also other public APIs) through the endpoint"
  type        = bool
  default     = true
}

variable "create_vpc_endpoint" {
  description = "Whether to create VPC endpoint for private API Gateway (admin mode)"
  type        = bool
  default     = true
}

variable "vpc_endpoint_id" {
  description = "Pre-created VPC endpoint ID for private API Gateway (required if api_gateway_endpoint_type is PRIVATE and create_vpc_endpoint is false)"
  type        = string
  default     = null

  validation {
    condition     = var.api_gateway_endpoint_type != "PRIVATE" || var.create_vpc_endpoint || var.vpc_endpoint_id != null
    error_message = "api_gateway_endpoint_type = \"PRIVATE\" with create_vpc_endpoint = false needs vpc_endpoint_id: set it to your execute-api interface endpoint (vpce-...), or set create_vpc_endpoint = true with vpc_id and subnet_ids."
  }

  validation {
    condition     = var.vpc_endpoint_id == null || can(regex("^vpce-[0-9a-f]{8,17}$", var.vpc_endpoint_id))
    error_message = "vpc_endpoint_id must look like \"vpce-0abcdef1234567890\"."
  }
}

################################################################################
# Authentication
################################################################################

variable "auth_method" {
  description = "Authentication method: 'api_key' (custom Lambda authorizer) or 'cognito' (AWS Cognito)"
  type        = string
  default     = "api_key"

  validation {
    condition     = contains(["api_key", "cognito"], var.auth_method)
    error_message = "auth_method must be \"api_key\" or \"cognito\"."
  }
}

variable "api_authorizer_secrets_arn" {
  description = "ARN of AWS Secrets Manager secret containing API keys for authorization, JSON {\"api_key\": ..., \"api_key_previous\": ...} (required if auth_method is 'api_key')"
  type        = string
  default     = null

  validation {
    condition     = var.auth_method != "api_key" || var.api_authorizer_secrets_arn != null
    error_message = "auth_method = \"api_key\" needs api_authorizer_secrets_arn: set it to a Secrets Manager secret holding {\"api_key\": \"...\", \"api_key_previous\": \"...\"} (the module never generates keys), or use auth_method = \"cognito\"."
  }

  validation {
    condition     = var.api_authorizer_secrets_arn == null || can(regex("^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.api_authorizer_secrets_arn))
    error_message = "api_authorizer_secrets_arn must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>)."
  }
}

variable "authorizer_result_ttl_in_seconds" {
  description = "How long API Gateway caches the Lambda authorizer's policy per Authorization header value (0 disables caching). A rotated-out key keeps working for up to this plus the authorizer's own key cache (60 s): 120 s by default"
  type        = number
  default     = 60

  validation {
    condition     = var.authorizer_result_ttl_in_seconds >= 0 && var.authorizer_result_ttl_in_seconds <= 3600
    error_message = "authorizer_result_ttl_in_seconds must be between 0 and 3600."
  }
}

variable "create_cognito_user_pool" {
  description = "Whether to create a new Cognito User Pool (true) or use an existing one (false)"
  type        = bool
  default     = false

  validation {
    condition     = !var.create_cognito_user_pool || var.auth_method == "cognito"
    error_message = "create_cognito_user_pool = true only makes sense with auth_method = \"cognito\": set auth_method = \"cognito\", or create_cognito_user_pool = false."
  }
}

variable "cognito_user_pool_arn" {
  description = "ARN of existing AWS Cognito User Pool (required if auth_method is 'cognito' and create_cognito_user_pool is false)"
  type        = string
  default     = null

  validation {
    condition     = var.auth_method != "cognito" || var.create_cognito_user_pool || var.cognito_user_pool_arn != null
    error_message = "auth_method = \"cognito\" needs a user pool: set create_cognito_user_pool = true, or set cognito_user_pool_arn to an existing pool's ARN."
  }

  validation {
    condition     = var.cognito_user_pool_arn == null || can(regex("^arn:aws[a-zA-Z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/.+$", var.cognito_user_pool_arn))
    error_message = "cognito_user_pool_arn must be a user pool ARN (arn:<partition>:cognito-idp:<region>:<account>:userpool/<id>)."
  }
}

variable "cognito_password_min_length" {
  description = "Minimum password length for Cognito User Pool"
  type        = number
  default     = 8

  validation {
    condition     = var.cognito_password_min_length >= 6 && var.cognito_password_min_length <= 99
    error_message = "cognito_password_min_length must be between 6 and 99."
  }
}

variable "cognito_mfa_configuration" {
  description = "MFA configuration for Cognito User Pool: OFF, ON, or OPTIONAL"
  type        = string
  default     = "OPTIONAL"

  validation {
    condition     = contains(["OFF", "ON", "OPTIONAL"], var.cognito_mfa_configuration)
    error_message = "cognito_mfa_configuration must be OFF, ON or OPTIONAL."
  }
}

variable "cognito_deletion_protection" {
  description = "Enable deletion protection for Cognito User Pool"
  type        = bool
  default     = true
}

variable "cognito_callback_urls" {
  description = "List of callback URLs for Cognito User Pool Client"
  type        = list(string)
  default     = ["http://localhost:3000/callback"]

  validation {
    condition     = alltrue([for u in var.cognito_callback_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "cognito_callback_urls must be https:// URLs (http:// is accepted only for localhost)."
  }
}

variable "cognito_logout_urls" {
  description = "List of logout URLs for Cognito User Pool Client"
  type        = list(string)
  default     = ["http://localhost:3000/logout"]

  validation {
    condition     = alltrue([for u in var.cognito_logout_urls : can(regex("^(https://|http://localhost[:/])", u))])
    error_message = "cognito_logout_urls must be https:// URLs (http:// is accepted only for localhost)."
  }
}

variable "cognito_domain_prefix" {
  description = "Domain prefix for Cognito User Pool (optional, creates hosted UI)"
  type        = string
  default     = null

  validation {
    condition     = var.cognito_domain_prefix == null || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix))
    error_message = "cognito_domain_prefix must be 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }

  validation {
    condition     = var.cognito_domain_prefix == null || var.create_cognito_user_pool
    error_message = "cognito_domain_prefix needs create_cognito_user_pool = true (the module only adds a hosted-UI domain to a pool it creates)."
  }
}

variable "cognito_domain" {
  description = "Base URL of the Cognito hosted UI the web interface signs in through, for an existing user pool or a custom domain, e.g. https://PREFIX.auth.REGION.amazoncognito.com. null: the domain the module creates from cognito_domain_prefix, if any. Passed to the api function as KUMOCMS_COGNITO_DOMAIN"
  type        = string
  default     = null

  validation {
    condition     = var.cognito_domain == null || can(regex("^https://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+/?$", var.cognito_domain))
    error_message = "cognito_domain must be the hosted UI's base URL: https:// and a host name, no path, e.g. \"https://kumocms-prod.auth.us-east-1.amazoncognito.com\"."
  }

  validation {
    condition     = var.cognito_domain == null || var.auth_method == "cognito"
    error_message = "cognito_domain only makes sense with auth_method = \"cognito\": remove it, or set auth_method = \"cognito\"."
  }
}

variable "cognito_app_client_id" {
  description = "Id of an existing user pool's app client (public, no secret, authorization-code flow) that the web interface signs in with; its callback URLs must include the output web_ui_url. Only with an existing pool: the module's own pool gets its client. Passed to the api function as KUMOCMS_COGNITO_CLIENT_ID"
  type        = string
  default     = null

  validation {
    condition     = var.cognito_app_client_id == null || can(regex("^[a-zA-Z0-9_+]{1,128}$", var.cognito_app_client_id))
    error_message = "cognito_app_client_id must be a Cognito app client id: 1-128 letters, digits, '_' or '+'."
  }

  validation {
    condition     = var.cognito_app_client_id == null || (var.auth_method == "cognito" && !var.create_cognito_user_pool)
    error_message = "cognito_app_client_id is for an existing user pool (auth_method = \"cognito\", create_cognito_user_pool = false): with create_cognito_user_pool = true the module creates the app client, so remove cognito_app_client_id."
  }
}

################################################################################
# WAF
################################################################################

variable "enable_waf" {
  description = "Enable AWS WAF for API Gateway"
  type        = bool
  default     = false
}

variable "waf_web_acl_arn" {
  description = "ARN of AWS WAF Web ACL (required if enable_waf is true)"
  type        = string
  default     = null

  validation {
    condition     = !var.enable_waf || var.waf_web_acl_arn != null
    error_message = "enable_waf = true needs waf_web_acl_arn: set it to a REGIONAL-scope aws_wafv2_web_acl ARN, or set enable_waf = false."
  }

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-zA-Z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/.+$", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a REGIONAL WAFv2 web ACL ARN (arn:<partition>:wafv2:<region>:<account>:regional/webacl/<name>/<id>)."
  }
}

################################################################################
# Events and DLQ
################################################################################

variable "enable_dlq" {
  description = "Enable Dead Letter Queue for failed Lambda invocations (SQS, encrypted) and the scheduled `dlq` function that drains it"
  type        = bool
  default     = true
}

variable "dlq_drain_schedule_expression" {
  description = "EventBridge schedule expression on which the `dlq` function is invoked"
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.dlq_drain_schedule_expression))
    error_message = "dlq_drain_schedule_expression must be a rate(...) or cron(...) expression."
  }
}

variable "enable_eventbridge_metadata_extraction" {
  description = "Enable EventBridge rule for automated metadata extraction"
  type        = bool
  default     = true
}

variable "eventbridge_retry_maximum_attempts" {
  description = "Retry attempts of the EventBridge targets before an event goes to the DLQ"
  type        = number
  default     = 8

  validation {
    condition     = var.eventbridge_retry_maximum_attempts >= 0 && var.eventbridge_retry_maximum_attempts <= 185
    error_message = "eventbridge_retry_maximum_attempts must be between 0 and 185."
  }
}

variable "eventbridge_retry_maximum_event_age_seconds" {
  description = "Maximum age of an event that EventBridge still retries (seconds)"
  type        = number
  default     = 3600

  validation {
    condition     = var.eventbridge_retry_maximum_event_age_seconds >= 60 && var.eventbridge_retry_maximum_event_age_seconds <= 86400
    error_message = "eventbridge_retry_maximum_event_age_seconds must be between 60 and 86400."
  }
}

################################################################################
# IAM
################################################################################

variable "create_iam_roles" {
  description = "Whether to create IAM roles (admin mode) or use pre-created roles (power user mode)"
  type        = bool
  default     = true
}

variable "iam_role_permissions_boundary" {
  description = "Optional permissions boundary policy ARN attached to every IAM role the module creates"
  type        = string
  default     = null

  validation {
    condition     = var.iam_role_permissions_boundary == null || can(regex("^arn:aws[a-zA-Z-]*:iam::([0-9]{12}|aws):policy/.+$", var.iam_role_permissions_boundary))
    error_message = "iam_role_permissions_boundary must be an IAM policy ARN."
  }
}

variable "lambda_api_role_arn" {
  description = "ARN of pre-created IAM role for API handler Lambda (required if create_iam_roles is false)"
  type        = string
  default     = null

  validation {
    condition     = var.create_iam_roles || var.lambda_api_role_arn != null
    error_message = "create_iam_roles = false (power user mode) needs lambda_api_role_arn: set it to the pre-created API handler role, or set create_iam_roles = true."
  }

  validation {
    condition     = var.lambda_api_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.lambda_api_role_arn))
    error_message = "lambda_api_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "lambda_authorizer_role_arn" {
  description = "ARN of pre-created IAM role for authorizer Lambda (required if create_iam_roles is false)"
  type        = string
  default     = null

  validation {
    condition     = var.create_iam_roles || var.auth_method != "api_key" || var.lambda_authorizer_role_arn != null
    error_message = "create_iam_roles = false with auth_method = \"api_key\" needs lambda_authorizer_role_arn: set it to the pre-created authorizer role, or set create_iam_roles = true."
  }

  validation {
    condition     = var.lambda_authorizer_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.lambda_authorizer_role_arn))
    error_message = "lambda_authorizer_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "lambda_event_processor_role_arn" {
  description = "ARN of pre-created IAM role for event processor Lambda (required if create_iam_roles is false)"
  type        = string
  default     = null

  validation {
    condition     = var.create_iam_roles || !var.enable_eventbridge_metadata_extraction || var.lambda_event_processor_role_arn != null
    error_message = "create_iam_roles = false with enable_eventbridge_metadata_extraction = true needs lambda_event_processor_role_arn: set it to the pre-created event processor role, or set create_iam_roles = true."
  }

  validation {
    condition     = var.lambda_event_processor_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.lambda_event_processor_role_arn))
    error_message = "lambda_event_processor_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "lambda_dlq_role_arn" {
  description = "ARN of pre-created IAM role for the DLQ drain Lambda (power user mode, optional: defaults to lambda_event_processor_role_arn, which then also needs the SQS receive/delete permissions)"
  type        = string
  default     = null

  validation {
    condition     = var.lambda_dlq_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.lambda_dlq_role_arn))
    error_message = "lambda_dlq_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

variable "api_gateway_authorizer_invocation_role_arn" {
  description = "ARN of pre-created IAM role for API Gateway authorizer invocation (required if create_iam_roles is false)"
  type        = string
  default     = null

  validation {
    condition     = var.create_iam_roles || var.auth_method != "api_key" || var.api_gateway_authorizer_invocation_role_arn != null
    error_message = "create_iam_roles = false with auth_method = \"api_key\" needs api_gateway_authorizer_invocation_role_arn: set it to a role apigateway.amazonaws.com can assume with lambda:InvokeFunction on the authorizer, or set create_iam_roles = true."
  }

  validation {
    condition     = var.api_gateway_authorizer_invocation_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", var.api_gateway_authorizer_invocation_role_arn))
    error_message = "api_gateway_authorizer_invocation_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)."
  }
}

################################################################################
# Content history and the trash
################################################################################

variable "revision_retention_count" {
  description = "Revisions kept per document, the current one included, when content is replaced; older ones are deleted from the record and the bucket together. 0 keeps all"
  type        = number
  default     = 0

  validation {
    condition     = var.revision_retention_count >= 0 && floor(var.revision_retention_count) == var.revision_retention_count
    error_message = "revision_retention_count must be a whole number >= 0 (0 keeps every revision)."
  }
}

variable "revision_retention_days" {
  description = "Days a replaced revision is kept after it stopped being current; then it is deleted from the record and the bucket. 0 keeps revisions for ever"
  type        = number
  default     = 0

  validation {
    condition     = var.revision_retention_days >= 0 && floor(var.revision_retention_days) == var.revision_retention_days
    error_message = "revision_retention_days must be a whole number >= 0 (0 keeps revisions for ever)."
  }
}

variable "multipart_threshold_mib" {
  description = "Uploads of at least this many MiB are multipart (the client sends parts in parallel and can resume) unless it asks for a single PUT; sets KUMOCMS_MULTIPART_THRESHOLD on the api function, like `kumocms serve --multipart-threshold`. S3 parts are at least 5 MiB, and a single PUT at most 5 GiB"
  type        = number
  default     = 64

  validation {
    condition     = var.multipart_threshold_mib >= 5 && var.multipart_threshold_mib <= 5120 && floor(var.multipart_threshold_mib) == var.multipart_threshold_mib
    error_message = "multipart_threshold_mib must be a whole number of MiB from 5 (S3's smallest part) to 5120 (S3's largest single PUT); the default is 64."
  }
}

variable "trash_retention_days" {
  description = "Days a deleted document stays in the trash (status deleted, undeletable) before the dlq function's sweep purges it with every revision. 0 purges on DELETE"
  type        = number
  default     = 30

  validation {
    condition     = var.trash_retention_days >= 0 && floor(var.trash_retention_days) == var.trash_retention_days
    error_message = "trash_retention_days must be a whole number >= 0 (0 purges documents on DELETE, with no trash)."
  }
}
