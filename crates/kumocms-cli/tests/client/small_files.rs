//! `put` of many small files against a small in-test server that counts what it is
//! asked: each file costs one create and one signed PUT (no `GET` of the document
//! afterwards), the printed document is the create answer without its signed link,
//! each file is read and hashed once (the declared SHA-256 is the file's), and
//! `--jobs` files are in flight at once; a retried PUT whose first try landed (the
//! link answers 409 `already_uploaded`) counts as uploaded.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::KEY;
use crate::{Client, id_of};

#[derive(Clone, Default)]
struct Counting {
    base: Arc<Mutex<String>>,
    /// document_id -> the declared checksum_sha256.
    declared: Arc<Mutex<HashMap<String, String>>>,
    /// document_id -> the SHA-256 of the bytes received.
    received: Arc<Mutex<BTreeMap<String, String>>>,
    creates: Arc<AtomicUsize>,
    uploads: Arc<AtomicUsize>,
    gets: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

async fn create(
    State(c): State<Counting>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
    c.creates.fetch_add(1, Ordering::Relaxed);
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Slow enough that the files overlap, so the count in flight is the client's.
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    let id = ulid::Ulid::new().to_string();
    let checksum = body["checksum_sha256"].as_str().unwrap().to_owned();
    c.declared
        .lock()
        .unwrap()
        .insert(id.clone(), checksum.clone());
    let base = c.base.lock().unwrap().clone();
    let answer = json!({
        "document_id": id, "status": "pending_upload", "version": 1, "etag": "\"1\"",
        "document_type": body["document_type"].as_str().unwrap_or("default"),
        "file_name": body["file_name"], "content_type": body["content_type"],
        "revision": 0, "metadata": body.get("metadata").cloned().unwrap_or(json!({})),
        "pending_upload": {"revision": 1, "size": body["file_size"], "checksum_sha256": checksum},
        "upload": {"mode": "single", "method": "PUT", "url": format!("{base}/blob/{id}?signature=secret"),
            "headers": {"Content-Type": body["content_type"]}, "expires_at": "2099-01-01T00:00:00Z"},
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Stores the bytes once per link (409 `already_uploaded` after that, as `kumocms
/// serve` answers); the very first upload's answer is "lost" (a 500 after the bytes
/// were stored), so the client's retry meets the 409 and must count it as done.
async fn upload(
    State(c): State<Counting>,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Response {
    let first = c.uploads.fetch_add(1, Ordering::Relaxed) == 0;
    let mut received = c.received.lock().unwrap();
    if received.contains_key(&id) {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "already_uploaded", "message": "content was already uploaded through this link"})),
        )
            .into_response();
    }
    received.insert(id.clone(), hex::encode(Sha256::digest(&bytes)));
    if first {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "internal", "message": "the answer is lost"})),
        )
            .into_response();
    }
    Json(json!({"key": format!("documents/{id}/r1"), "size": bytes.len()})).into_response()
}

async fn show(State(c): State<Counting>, Path(id): Path<String>) -> Response {
    c.gets.fetch_add(1, Ordering::Relaxed);
    Json(json!({"document_id": id, "status": "active"})).into_response()
}

async fn start() -> (String, Counting) {
    let counting = Counting::default();
    let app = axum::Router::new()
        .route("/documents", post(create))
        .route("/documents/{id}", get(show))
        .route("/blob/{id}", put(upload))
        .with_state(counting.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *counting.base.lock().unwrap() = base.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, counting)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_small_file_is_one_create_and_one_put_with_jobs_in_flight() {
    let (base, counting) = start().await;
    let client = Client::new(&base);
    let files = 120;
    for i in 0..files {
        // Sizes on both sides of the old 256 KiB in-memory bound.
        let mut bytes = format!("file {i}\n").into_bytes();
        bytes.resize(if i % 40 == 0 { 300 * 1024 } else { 10 * 1024 }, b'x');
        client.file(&format!("small/{i:03}.txt"), &bytes);
    }
    let dir = client.dir().join("small").to_string_lossy().into_owned();
    let put = client
        .json(&["put", &dir, "--type", "bulk", "--meta", "batch=7"])
        .await;
    let docs = put.as_array().unwrap();
    assert_eq!(docs.len(), files);
    assert_eq!(counting.creates.load(Ordering::Relaxed), files);
    assert_eq!(
        counting.uploads.load(Ordering::Relaxed),
        files + 1,
        "one PUT per file, and one retry of the PUT whose answer was lost"
    );
    assert_eq!(
        counting.gets.load(Ordering::Relaxed),
        0,
        "no GET of the document after its upload"
    );
    for doc in docs {
        assert!(
            doc.get("upload").is_none(),
            "the spent signed link is not printed: {doc}"
        );
        assert_eq!(doc["status"], "pending_upload", "the create answer: {doc}");
        assert_eq!(doc["document_type"], "bulk");
        assert_eq!(doc["metadata"], json!({"batch": "7"}));
    }
    // Printed in the order of the files, each with the checksum of its own bytes.
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["file_name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let declared = counting.declared.lock().unwrap();
    let received = counting.received.lock().unwrap();
    for doc in docs {
        let id = id_of(doc);
        assert_eq!(declared[&id], received[&id], "declared SHA-256 of {id}");
    }
    let max = counting.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (24..=32).contains(&max),
        "the default --jobs (32) files at once, got {max}"
    );
}
