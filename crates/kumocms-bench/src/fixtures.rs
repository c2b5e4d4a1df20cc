//! Events in the shapes Lambda delivers them, for the warm-cost benches and for the
//! cold-start and memory driver.

use serde_json::{Value, json};

/// The stage of the REST API, as the Terraform module names it.
pub const STAGE: &str = "v1";

/// The body of a typical `POST /documents`.
pub fn create_body(n: usize) -> Value {
    json!({
        "file_name": format!("quarterly-report-{n}.pdf"),
        "file_size": 482_133,
        "content_type": "application/pdf",
        "document_type": "report",
        "metadata": {"author": "Ada Lovelace", "department": "engineering", "tags": ["bench"]}
    })
}

/// An API Gateway REST proxy event (the `api` function's input) for `method` on
/// `path` (without the stage), with an optional query and JSON body.
pub fn apigw_rest(method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> Value {
    let resource = if path.starts_with("/documents/") {
        "/documents/{id}"
    } else {
        path
    };
    let query_map: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let multi_query: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    let has_query = !query.is_empty();
    let mut headers = json!({
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate, br",
        "Authorization": "Bearer checked-by-the-authorizer",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Viewer-Country": "US",
        "Host": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "Via": "2.0 a3650115c5e21e2b5d133ce84464bea3.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": "0nDeiXnReyHYCkv8cc150MWCFCLFPbJoTs1mexDuKe2WJwK5ANgv2A==",
        "X-Amzn-Trace-Id": "Root=1-597079de-75fec8453f6fd4812414a4cd",
        "X-Forwarded-For": "198.51.100.1, 130.176.0.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https"
    });
    if body.is_some() {
        headers["Content-Type"] = json!("application/json");
    }
    let multi_headers: serde_json::Map<String, Value> = headers
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    let path_parameters = path
        .strip_prefix("/documents/")
        .map(|id| json!({ "id": id }))
        .unwrap_or(Value::Null);
    json!({
        "resource": resource,
        "path": format!("/{STAGE}{path}"),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": if has_query { Value::Object(query_map) } else { Value::Null },
        "multiValueQueryStringParameters": if has_query { Value::Object(multi_query) } else { Value::Null },
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "roq9wj",
            "authorizer": {"principalId": "kumocms-api-key", "key": "current", "integrationLatency": 12},
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "BQGojGkBoAMFrZA=",
            "requestTime": "12/Nov/2021:00:00:00 +0000",
            "path": format!("/{STAGE}{path}"),
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "abcdef123",
            "requestTimeEpoch": 1_636_675_200_000_u64,
            "requestId": "e6f5f3f1-0d8a-4b5e-8f6c-3b2a1d0c9e8f",
            "identity": {"sourceIp": "198.51.100.1", "userAgent": "curl/8.5.0"},
            "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef123"
        },
        "body": body.map(|b| Value::String(b.to_string())).unwrap_or(Value::Null),
        "isBase64Encoded": false
    })
}

/// An API Gateway REQUEST authorizer event presenting `key`.
pub fn authorizer(key: &str, document_id: &str) -> Value {
    let bearer = format!("Bearer {key}");
    json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:us-east-1:123456789012:abcdef123/{STAGE}/GET/documents/{document_id}"),
        "resource": "/documents/{id}",
        "path": format!("/documents/{document_id}"),
        "httpMethod": "GET",
        "headers": {
            "Accept": "*/*",
            "Authorization": bearer,
            "Host": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "User-Agent": "curl/8.5.0",
            "X-Forwarded-For": "198.51.100.1"
        },
        "multiValueHeaders": {
            "Accept": ["*/*"],
            "Authorization": [bearer],
            "Host": ["abcdef123.execute-api.us-east-1.amazonaws.com"],
            "User-Agent": ["curl/8.5.0"],
            "X-Forwarded-For": ["198.51.100.1"]
        },
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {"id": document_id},
        "stageVariables": {},
        "requestContext": {
            "resourceId": "s4x3opwd6i",
            "resourcePath": "/documents/{id}",
            "httpMethod": "GET",
            "path": format!("/{STAGE}/documents/{document_id}"),
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "requestId": "2f4a8c3e-1b5d-4e6f-9a7b-8c9d0e1f2a3b",
            "identity": {"sourceIp": "198.51.100.1", "userAgent": "curl/8.5.0"},
            "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef123"
        }
    })
}

/// An EventBridge `Object Created` event for `key` in `bucket`.
pub fn object_created(bucket: &str, region: &str, key: &str, size: u64) -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2021-11-12T00:00:00Z",
        "region": region,
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
        }
    })
}

/// The hello-world function's event.
pub fn hello() -> Value {
    json!({"hello": "world"})
}
