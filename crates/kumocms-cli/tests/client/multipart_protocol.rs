//! The client's side of the multipart protocol (/work/notes/multipart-contract.md,
//! issue 12) against a small in-test server that speaks exactly that contract and
//! counts the part bytes it receives: part links signed in batches, parts sent in
//! parallel, and a `put` killed half-way that resumes from the parts received,
//! sending fewer than 1.5× the file's bytes in total. (`multipart.rs` runs the same
//! against the real `kumocms serve` once issue 12 is merged.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::KEY;
use crate::{Client, id_of, pattern};

#[derive(Default)]
struct Upload {
    document_id: String,
    size: u64,
    part_size: u64,
    part_count: u64,
    checksum: String,
    parts: BTreeMap<u64, Vec<u8>>,
    completed: bool,
}

#[derive(Clone, Default)]
struct Contract {
    base: Arc<Mutex<String>>,
    uploads: Arc<Mutex<BTreeMap<String, Upload>>>,
    part_bytes: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    sign_requests: Arc<AtomicUsize>,
    part_delay: Duration,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

fn document(upload: &Upload, status: &str) -> Value {
    let mut doc = json!({
        "document_id": upload.document_id, "status": status, "version": 1,
        "etag": "\"1\"", "document_type": "default", "file_name": "large.bin",
        "content_type": "application/octet-stream", "revision": 0, "metadata": {},
    });
    if status == "active" {
        doc["size"] = json!(upload.size);
        doc["checksum_sha256"] = json!(upload.checksum);
        doc["revision"] = json!(1);
    } else {
        doc["pending_upload"] = json!({"revision": 1, "size": upload.size});
    }
    doc
}

async fn create(
    State(c): State<Contract>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert!(authorized(&headers));
    assert_eq!(body["upload_mode"], "multipart", "{body}");
    let size = body["file_size"].as_u64().unwrap();
    let part_size = body["part_size"].as_u64().unwrap();
    // Not only ULID characters: an S3 upload id may hold `.` or `~`.
    let upload_id = format!("up.{}~x", ulid::Ulid::new());
    let upload = Upload {
        document_id: ulid::Ulid::new().to_string(),
        size,
        part_size,
        part_count: size.div_ceil(part_size),
        // The client hashes while it sends and declares the SHA-256 at completion.
        checksum: body["checksum_sha256"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        ..Upload::default()
    };
    let mut doc = document(&upload, "pending_upload");
    doc["upload"] = json!({"mode": "multipart", "upload_id": upload_id, "part_size": part_size,
        "part_count": upload.part_count, "expires_at": "2099-01-01T00:00:00Z"});
    c.uploads.lock().unwrap().insert(upload_id, upload);
    (StatusCode::CREATED, Json(doc)).into_response()
}

async fn sign(
    State(c): State<Contract>,
    Path((_, upload_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    c.sign_requests.fetch_add(1, Ordering::Relaxed);
    let uploads = c.uploads.lock().unwrap();
    let Some(upload) = uploads.get(&upload_id).filter(|u| !u.completed) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "upload_not_found", "message": "no"})),
        )
            .into_response();
    };
    let numbers = body["part_numbers"].as_array().unwrap();
    assert!(!numbers.is_empty() && numbers.len() <= 1000);
    let base = c.base.lock().unwrap().clone();
    let parts: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let n = n.as_u64().unwrap();
            let size = if n == upload.part_count {
                upload.size - (n - 1) * upload.part_size
            } else {
                upload.part_size
            };
            json!({"part_number": n, "size": size, "method": "PUT",
                "url": format!("{base}/blob/{}/{n}", upload_id.replace('~', "%7E")),
                "headers": {"Content-Length": size.to_string(), "x-part-signature": "ok"},
                "expires_at": "2099-01-01T00:00:00Z"})
        })
        .collect();
    Json(json!({"upload_id": upload_id, "parts": parts})).into_response()
}

async fn list(State(c): State<Contract>, Path((_, upload_id)): Path<(String, String)>) -> Response {
    let uploads = c.uploads.lock().unwrap();
    let Some(upload) = uploads.get(&upload_id).filter(|u| !u.completed) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "upload_not_found", "message": "no"})),
        )
            .into_response();
    };
    let parts: Vec<Value> = upload
        .parts
        .iter()
        .map(|(n, b)| json!({"part_number": n, "size": b.len(), "etag": format!("\"{n}\"")}))
        .collect();
    Json(
        json!({"upload_id": upload_id, "part_size": upload.part_size,
        "part_count": upload.part_count, "parts": parts}),
    )
    .into_response()
}

async fn put_part(
    State(c): State<Contract>,
    Path((upload_id, n)): Path<(String, u64)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    assert_eq!(
        headers.get("x-part-signature").unwrap(),
        "ok",
        "the link's headers are sent"
    );
    assert!(
        headers.get("authorization").is_none(),
        "no key on a signed link"
    );
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let Ok(chunk) = chunk else { break };
        c.part_bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        bytes.extend_from_slice(&chunk);
        tokio::time::sleep(c.part_delay / 20).await;
    }
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut uploads = c.uploads.lock().unwrap();
    let upload = uploads.get_mut(&upload_id).unwrap();
    let expected = if n == upload.part_count {
        upload.size - (n - 1) * upload.part_size
    } else {
        upload.part_size
    };
    if bytes.len() as u64 != expected {
        return StatusCode::BAD_REQUEST.into_response();
    }
    upload.parts.insert(n, bytes);
    ([("ETag", format!("\"{n}\""))], StatusCode::OK).into_response()
}

async fn complete(
    State(c): State<Contract>,
    Path((_, upload_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut uploads = c.uploads.lock().unwrap();
    let upload = uploads.get_mut(&upload_id).unwrap();
    let declared = body["checksum_sha256"]
        .as_str()
        .expect("the client declares the SHA-256 at completion");
    if upload.checksum.is_empty() {
        upload.checksum = declared.to_owned();
    }
    assert_eq!(declared, upload.checksum, "one checksum per upload");
    let missing: Vec<u64> = (1..=upload.part_count)
        .filter(|n| !upload.parts.contains_key(n))
        .collect();
    if !missing.is_empty() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "missing_parts", "message": format!("{missing:?}")})),
        )
            .into_response();
    }
    let mut hasher = Sha256::new();
    for bytes in upload.parts.values() {
        hasher.update(bytes);
    }
    assert_eq!(
        hex::encode(hasher.finalize()),
        upload.checksum,
        "the parts assemble to the declared SHA-256"
    );
    upload.completed = true;
    (
        StatusCode::ACCEPTED,
        Json(document(upload, "pending_upload")),
    )
        .into_response()
}

async fn show(State(c): State<Contract>, Path(id): Path<String>) -> Response {
    let uploads = c.uploads.lock().unwrap();
    let upload = uploads.values().find(|u| u.document_id == id).unwrap();
    let status = if upload.completed {
        "active"
    } else {
        "pending_upload"
    };
    Json(document(upload, status)).into_response()
}

async fn start(part_delay: Duration) -> (String, Contract) {
    let contract = Contract {
        part_delay,
        ..Contract::default()
    };
    let app = axum::Router::new()
        .route("/documents", post(create))
        .route("/documents/{id}", get(show))
        .route(
            "/documents/{id}/uploads/{upload_id}/parts",
            post(sign).get(list),
        )
        .route(
            "/documents/{id}/uploads/{upload_id}/complete",
            post(complete),
        )
        .route("/blob/{upload_id}/{n}", put(put_part))
        .with_state(contract.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *contract.base.lock().unwrap() = base.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, contract)
}

const PART: usize = 5 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn parts_go_in_parallel_and_complete_into_an_active_document() {
    let (base, contract) = start(Duration::from_millis(100)).await;
    let client = Client::new(&base);
    let size = 6 * PART + 1;
    let path = client.file("large.bin", &pattern(size, 2));
    let part_size = PART.to_string();
    let put = client
        .json(&[
            "put",
            &path,
            "--multipart-threshold",
            "1",
            "--part-size",
            &part_size,
            "--parallel",
            "3",
        ])
        .await;
    assert_eq!(put[0]["status"], "active");
    assert_eq!(put[0]["size"], size);
    assert_eq!(
        contract.part_bytes.load(Ordering::Relaxed),
        size as u64,
        "each byte sent once"
    );
    let max = contract.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=3).contains(&max), "--parallel 3: {max} parts at once");
    assert_eq!(
        contract.sign_requests.load(Ordering::Relaxed),
        1,
        "7 parts signed in one batch"
    );
    let uploads = client.cache_dir().join("kumocms/uploads");
    assert!(
        std::fs::read_dir(&uploads).unwrap().next().is_none(),
        "no state left"
    );
    let _ = id_of(&put[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_put_resumes_from_the_parts_received_sending_under_1_5x() {
    let (base, contract) = start(Duration::from_millis(300)).await;
    let client = Client::new(&base);
    let size = 10 * PART + 123;
    let path = client.file("large.bin", &pattern(size, 4));
    let part_size = PART.to_string();
    let args = [
        "put",
        &path,
        "--multipart-threshold",
        "1",
        "--part-size",
        &part_size,
        "--parallel",
        "2",
        "--json",
    ];

    let mut first = client.command(&args);
    first
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = first.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while contract
        .uploads
        .lock()
        .unwrap()
        .values()
        .map(|u| u.parts.len())
        .sum::<usize>()
        < 5
    {
        assert!(Instant::now() < deadline, "the upload did not get half-way");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    let _ = child.wait().await;
    let received = contract
        .uploads
        .lock()
        .unwrap()
        .values()
        .map(|u| u.parts.len())
        .sum::<usize>();
    assert!(received < 11, "killed before the end: {received} parts");

    let output = client.command(&args).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "resuming: {received} of 11 parts already received"
        )),
        "{stderr}"
    );
    let put: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(put[0]["status"], "active");
    assert_eq!(
        contract.uploads.lock().unwrap().len(),
        1,
        "the same upload, not a new document"
    );
    let total = contract.part_bytes.load(Ordering::Relaxed);
    assert!(
        (total as f64) < 1.5 * size as f64,
        "{total} bytes sent for a {size}-byte file"
    );
    assert!(total >= size as u64);
}
