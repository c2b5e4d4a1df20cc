//! Shared setup for the handler tests: moto resources in the Terraform module's shapes,
//! AWS-shaped events from `tests/fixtures`, and calls through `lambda_http` exactly as
//! the `api` function makes them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use aws_config::SdkConfig;
use bytes::Bytes;
use kumocms_aws::testing::{create_bucket, create_table, moto_config, unique_name};
use kumocms_lambda::api::{self, Core};
use kumocms_lambda::events::EventsHandler;
use kumocms_lambda::{Role, Settings};
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::{Value, json};

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One deployment (a region): its bucket and table on moto, and the core over them.
pub struct Deployment {
    pub config: SdkConfig,
    pub bucket: String,
    pub table: String,
    pub settings: Settings,
    pub core: Core,
}

impl Deployment {
    pub async fn new(region: &str) -> Self {
        let config = moto_config(region).await;
        let bucket = unique_name("kumocms");
        let table = unique_name("kumocms");
        create_bucket(&config, &bucket).await;
        create_table(&config, &table).await;
        let settings = settings(&bucket, &table);
        let core = Core::from_settings(&config, &settings);
        Self {
            config,
            bucket,
            table,
            settings,
            core,
        }
    }

    pub fn events(&self) -> EventsHandler {
        EventsHandler::new(self.core.processor.clone())
    }

    pub fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default()
    }

    /// Sends a REST API proxy event through `lambda_http` and the router, as the
    /// `api` function does; returns API Gateway's response object.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        invoke_api(&self.core, method, path, body).await
    }

    /// An EventBridge S3 event for `key` in this deployment's bucket.
    pub fn s3_event(&self, fixture_name: &str, key: &str) -> Value {
        s3_event(fixture_name, &self.bucket, &self.region(), key)
    }
}

pub fn settings(bucket: &str, table: &str) -> Settings {
    let vars = [
        ("S3_BUCKET_NAME", bucket.to_owned()),
        ("DYNAMODB_TABLE_NAME", table.to_owned()),
    ];
    Settings::from_lookup(Role::Api, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

pub fn s3_event(fixture_name: &str, bucket: &str, region: &str, key: &str) -> Value {
    let mut event = fixture(fixture_name);
    event["id"] = json!(ulid::Ulid::new().to_string());
    event["region"] = json!(region);
    event["resources"] = json!([format!("arn:aws:s3:::{bucket}")]);
    event["detail"]["bucket"]["name"] = json!(bucket);
    event["detail"]["object"]["key"] = json!(key);
    event
}

/// A REST API proxy event (stage `v1`) for `method path`.
pub fn rest_event(method: &str, path: &str, body: Option<Value>) -> Value {
    let mut event = fixture("apigw-rest-proxy.json");
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    event["httpMethod"] = json!(method);
    event["path"] = json!(path_only);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["path"] = json!(format!("/v1{path_only}"));
    event["requestContext"]["requestId"] = json!(ulid::Ulid::new().to_string());
    if !query.is_empty() {
        let pairs: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        let multi: serde_json::Map<String, Value> =
            pairs.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
        event["queryStringParameters"] = Value::Object(pairs);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    event["body"] = match body {
        Some(body) => json!(body.to_string()),
        None => Value::Null,
    };
    event
}

pub async fn invoke_api(core: &Core, method: &str, path: &str, body: Option<Value>) -> Value {
    let event = rest_event(method, path, body);
    let request: LambdaRequest = serde_json::from_value(event).expect("a REST proxy event");
    let service = lambda_http::tower::ServiceBuilder::new()
        .map_request(api::prepare)
        .service(api::router(core.service.clone()));
    let mut adapter = lambda_http::Adapter::from(service);
    let mut context = Context::default();
    context.request_id = ulid::Ulid::new().to_string();
    let response = adapter
        .call(LambdaEvent::new(request, context))
        .await
        .expect("the api answers every request");
    serde_json::to_value(response).unwrap()
}

/// The JSON body of an API Gateway response object.
pub fn body(response: &Value) -> Value {
    let text = response["body"].as_str().unwrap_or("null");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

pub fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().unwrap_or(0)
}

/// Sends bytes to an upload link, as a client does.
pub async fn upload(link: &Value, bytes: Bytes) {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(link["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut request = client
        .request(method, link["url"].as_str().unwrap())
        .body(bytes);
    for (name, value) in link["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Creates a document through the API and uploads its content; returns the id and
/// the content key (the event that activates it is left to the caller).
pub async fn create_and_upload(deployment: &Deployment, bytes: &'static [u8]) -> (String, String) {
    let created = deployment
        .api(
            "POST",
            "/documents",
            Some(json!({
                "file_name": "Rapport d'été.pdf",
                "file_size": bytes.len(),
                "content_type": "application/pdf",
                "document_type": "invoice",
            })),
        )
        .await;
    assert_eq!(status(&created), 201, "{created}");
    let created = body(&created);
    let id = created["document_id"].as_str().unwrap().to_owned();
    upload(&created["upload"], Bytes::from_static(bytes)).await;
    (id.clone(), format!("documents/{id}/r1"))
}

pub async fn document(deployment: &Deployment, id: &str) -> Value {
    let response = deployment
        .api("GET", &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status(&response), 200, "{response}");
    body(&response)
}

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 1/Kids[3 0 R]>>endobj\n3 0 obj<</Type/Page>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

pub fn arc<T>(value: T) -> Arc<T> {
    Arc::new(value)
}
