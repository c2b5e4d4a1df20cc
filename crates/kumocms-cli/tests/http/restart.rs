use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestServer;

#[tokio::test]
async fn a_restart_on_the_same_data_directory_keeps_everything() {
    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let first = TestServer::start_in(&data_dir, |_| {}).await;
    let id = first
        .create_active(
            "keep.txt",
            "text/plain",
            b"kept across restarts",
            json!({"metadata": {"k": "v"}}),
        )
        .await;
    let pending = first
        .create(json!({"file_name": "later.txt", "file_size": 5}))
        .await;
    first.stop().await;

    let second = TestServer::start_in(&data_dir, |_| {}).await;
    let (status, _, document) = second
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["metadata"], json!({"k": "v"}));
    // Links carry the old port; the content is reachable through the new server.
    let (status, headers, _) = second
        .call(Method::GET, &format!("/documents/{id}/content"), None)
        .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location");
    let (_, bytes) = second.fetch(location).await;
    assert_eq!(bytes, b"kept across restarts");

    // An upload link issued before the restart still works (same signing key) once
    // pointed at the new address.
    let old_url = pending["upload"]["url"].as_str().expect("url");
    let path_and_query = &old_url[old_url.find("/blobs/").expect("blob path")..];
    let mut upload = pending["upload"].clone();
    upload["url"] = json!(second.url(path_and_query));
    let (status, body) = second.upload(&upload, b"hello").await;
    assert!(status.is_success(), "{body}");
    let pending_id = pending["document_id"].as_str().expect("id");
    second.wait_for_status(pending_id, "active").await;
    second.stop().await;
}

#[tokio::test]
async fn a_generated_key_is_printed_once_and_only_its_hash_is_kept() {
    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let first = TestServer::start_in(&data_dir, |o| {
        o.api_key = None;
        o.api_key_previous = None;
    })
    .await;
    let key = first
        .server
        .as_ref()
        .and_then(|s| s.generated_api_key.clone())
        .expect("a key is generated on first start");
    let (status, _, _) = first
        .call_with_key(Method::GET, "/documents", None, Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK);
    first.stop().await;

    let stored: Vec<u8> = walk_bytes(&data_dir);
    assert!(
        !stored.windows(key.len()).any(|w| w == key.as_bytes()),
        "the plain key must not be stored"
    );
    let second = TestServer::start_in(&data_dir, |o| {
        o.api_key = None;
        o.api_key_previous = None;
    })
    .await;
    assert!(
        second
            .server
            .as_ref()
            .is_some_and(|s| s.generated_api_key.is_none())
    );
    let (status, _, _) = second
        .call_with_key(Method::GET, "/documents", None, Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK);
    second.stop().await;
}

fn walk_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                all.extend(walk_bytes(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                all.extend(bytes);
            }
        }
    }
    all
}
