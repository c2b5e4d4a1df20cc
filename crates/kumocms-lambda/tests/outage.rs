//! AWS going away during an API call: the `api` function answers 503 with the
//! retryable code `service_unavailable` and a `Retry-After`, and leaves no partial
//! state behind. "Down" is an endpoint where nothing listens, for one store or both,
//! while the other keeps talking to moto (`scripts/with-moto.sh`).

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{Deployment, PDF, body, create_and_upload, document, invoke_api, status};
use kumocms_aws::testing::REGION_A;
use kumocms_aws::{DynamoMetadataStore, S3BlobStore};
use kumocms_lambda::api::Core;
use serde_json::{Value, json};

async fn down() -> aws_config::SdkConfig {
    kumocms_aws::sdk_config_for("http://127.0.0.1:9", REGION_A, "testing", "testing").await
}

fn assert_retryable(response: &Value) {
    assert_eq!(status(response), 503, "{response}");
    assert_eq!(body(response)["error"], "service_unavailable", "{response}");
    // REST API responses carry headers in `multiValueHeaders`.
    let retry_after = ["headers", "multiValueHeaders"].iter().find_map(|field| {
        response[field]
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| v.clone())
    });
    assert!(
        retry_after.is_some(),
        "a 503 says when to retry: {response}"
    );
}

async fn active_document(deployment: &Deployment) -> String {
    let (id, key) = create_and_upload(deployment, PDF).await;
    let event = deployment.s3_event("eventbridge-s3-object-created.json", &key);
    deployment.events().handle(event).await.unwrap();
    assert_eq!(document(deployment, &id).await["status"], "active");
    id
}

#[tokio::test]
async fn with_aws_unreachable_every_route_is_a_retryable_503_and_nothing_changes() {
    let deployment = Deployment::new(REGION_A).await;
    let id = active_document(&deployment).await;
    let before = document(&deployment, &id).await;
    let unreachable = Core::from_settings(&down().await, &deployment.settings);

    let create = json!({"file_name": "a.txt", "file_size": 3});
    for (method, path, request) in [
        ("POST", "/documents".to_owned(), Some(create)),
        ("GET", "/documents".to_owned(), None),
        ("GET", format!("/documents/{id}"), None),
        ("GET", format!("/documents/{id}/content"), None),
        (
            "PATCH",
            format!("/documents/{id}"),
            Some(json!({"metadata": {"k": "v"}})),
        ),
        ("POST", format!("/documents/{id}/archive"), None),
        ("DELETE", format!("/documents/{id}"), None),
    ] {
        let response = invoke_api(&unreachable, method, &path, request).await;
        assert_retryable(&response);
    }
    let health = invoke_api(&unreachable, "GET", "/healthcheck", None).await;
    assert_eq!(status(&health), 503, "{health}");

    // Back on the live stores: the same document, and nothing was created.
    let after = document(&deployment, &id).await;
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["metadata"], before["metadata"]);
    let listing = body(&deployment.api("GET", "/documents", None).await);
    assert_eq!(listing["count"], 1, "{listing}");
}

#[tokio::test]
async fn s3_going_down_between_the_claim_and_the_copy_undoes_the_archive() {
    let deployment = Deployment::new(REGION_A).await;
    let id = active_document(&deployment).await;
    // DynamoDB answers, S3 does not: archive claims the status, the copy fails.
    let half = Core::new(
        Arc::new(DynamoMetadataStore::new(
            &deployment.config,
            &deployment.table,
        )),
        Arc::new(S3BlobStore::new(&down().await, &deployment.bucket)),
        &deployment.settings,
    );
    let response = invoke_api(&half, "POST", &format!("/documents/{id}/archive"), None).await;
    assert_retryable(&response);

    let after = document(&deployment, &id).await;
    assert_eq!(after["status"], "active", "the claim was undone: {after}");
    assert_eq!(after["storage_class"], "STANDARD");
    assert!(after["download"]["url"].is_string());
    // And the archive succeeds once S3 is back.
    let archived = deployment
        .api("POST", &format!("/documents/{id}/archive"), None)
        .await;
    assert_eq!(status(&archived), 202, "{archived}");
}
