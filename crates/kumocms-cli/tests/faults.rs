//! Faults, with nothing lost and nothing half-written:
//!
//! - `kill -9` of the real `kumocms` binary during concurrent uploads and during a
//!   storm of metadata writes, then a restart on the same data directory;
//! - storage events delivered twice or out of order;
//! - the event processor's stores failing.

// Test helpers panic with a message on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kumocms_core::document::BlobLocation;
use kumocms_core::events::{Outcome, StorageEvent};
use kumocms_core::ports::{Clock, MetadataStore, SystemClock};
use kumocms_core::service::{NewContent, NewDocument};
use kumocms_core::{Document, DocumentId, DocumentStatus};
use kumocms_local::{LocalBackend, LocalConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY: &str = "faults-test-key";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Deterministic, distinct bytes for document `n` (xorshift; no rand dependency).
fn content(n: usize, len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The real `kumocms serve`, as a child process.
struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
}

/// A test that fails part-way must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn spawn(data_dir: &Path, port: u16, pending_ttl: u64, log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kumocms"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .args(["--pending-upload-ttl", &pending_ttl.to_string()])
            .args(["--restore-delay", "1"])
            .env("KUMOCMS_API_KEY", KEY)
            .env_remove("KUMOCMS_API_KEY_PREVIOUS")
            .env("KUMOCMS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kumocms starts");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = server
                .http
                .get(format!("{}/healthcheck", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if ready {
                return server;
            }
            assert!(Instant::now() < deadline, "kumocms did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no shutdown handler runs.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {KEY}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, id: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, &format!("/documents/{id}"), None)
            .await
    }

    async fn all_documents(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/documents?limit=1000&cursor={c}"),
                None => "/documents?limit=1000".to_owned(),
            };
            let (status, page) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            all.extend(page["documents"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }

    async fn wait_for_status(&self, id: &str, wanted: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, document) = self.get(id).await;
            if document["status"] == wanted {
                return document;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never reached {wanted}: {document}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends bytes through an upload object; `None` when the connection failed.
async fn upload(http: &reqwest::Client, upload: &Value, bytes: Vec<u8>) -> Option<StatusCode> {
    let mut request = http.put(upload["url"].as_str().expect("url"));
    for (name, value) in upload["headers"].as_object().expect("headers") {
        request = request.header(name, value.as_str().expect("value"));
    }
    match request.body(bytes).send().await {
        Ok(response) => {
            let status = response.status();
            // The status line may arrive before the server dies; read the body too.
            response.bytes().await.ok().map(|_| status)
        }
        Err(_) => None,
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The invariants after a crash and restart, checked through the API and on disk:
/// every active record's content downloads and matches its SHA-256 (and the bytes
/// the client sent, when known); every file in the blob area is the current content
/// of an active record with exactly those bytes; the temporary directory is empty.
async fn assert_consistent(server: &Server, data_dir: &Path, sent: &BTreeMap<String, Vec<u8>>) {
    let documents = server.all_documents().await;
    let mut active = BTreeMap::new();
    for listed in &documents {
        let id = listed["document_id"].as_str().expect("id").to_owned();
        // The listing carries no links; the record read by id does.
        let (status, document) = server.get(&id).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        match document["status"].as_str() {
            Some("active") => {}
            Some("pending_upload") => {
                assert!(document.get("download").is_none(), "{document}");
                continue;
            }
            other => panic!("unexpected status {other:?}: {document}"),
        }
        let checksum = document["checksum_sha256"].as_str().expect("checksum");
        assert_eq!(document["extracted"]["sha256"], checksum, "{document}");
        let url = document["download"]["url"]
            .as_str()
            .expect("a download link");
        let response = server.http.get(url).send().await.expect("download");
        assert_eq!(response.status(), StatusCode::OK, "{id}: content missing");
        let bytes = response.bytes().await.expect("bytes");
        assert_eq!(
            sha256_hex(&bytes),
            checksum,
            "{id}: content differs from its record"
        );
        assert_eq!(document["size"], bytes.len(), "{id}");
        if let Some(expected) = sent.get(&id) {
            assert!(
                bytes.as_ref() == expected.as_slice(),
                "{id}: not the bytes sent"
            );
        }
        let revision = document["revision"].as_u64().expect("revision");
        active.insert(format!("documents/{id}/r{revision}"), checksum.to_owned());
    }
    let hot = data_dir.join("blobs/hot");
    for file in files_under(&hot) {
        let key = file
            .strip_prefix(&hot)
            .expect("under hot")
            .display()
            .to_string();
        let checksum = active
            .get(&key)
            .unwrap_or_else(|| panic!("{key} is in the blob area but no active record serves it"));
        let bytes = std::fs::read(&file).expect("read");
        assert_eq!(
            &sha256_hex(&bytes),
            checksum,
            "{key}: partial or foreign bytes"
        );
    }
    assert_eq!(
        files_under(&hot).len(),
        active.len(),
        "every active record has its content file"
    );
    let tmp = files_under(&data_dir.join("tmp"));
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_uploads_loses_nothing_and_leaves_nothing_half_written() {
    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let log = temp.path().join("server.log");
    let port = free_port();
    // Long enough for a loaded CI machine to upload, crash, restart and retry
    // within it; the test waits it out once, for the expiry check.
    let ttl = 30;
    // The bytes first, so that the links are fresh when the uploads start.
    let contents: Vec<Vec<u8>> = (0..48)
        .map(|n| content(n, if n % 4 == 0 { 1 << 20 } else { 1 + n * 997 }))
        .collect();
    let server = Server::spawn(&data_dir, port, ttl, &log).await;

    // Documents that will never get content: they must expire.
    let mut abandoned = Vec::new();
    for n in 0..5 {
        let (status, created) = server
            .call(
                reqwest::Method::POST,
                "/documents",
                Some(json!({"file_name": format!("abandoned-{n}.bin"), "file_size": 10})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        abandoned.push(created);
    }

    // Uploads, small and large (so that the kill lands in the middle of some bodies).
    let mut planned = Vec::new();
    for (n, bytes) in contents.into_iter().enumerate() {
        let len = bytes.len();
        let (status, created) = server
            .call(
                reqwest::Method::POST,
                "/documents",
                Some(json!({"file_name": format!("u{n}.bin"), "file_size": len,
                    "content_type": "application/octet-stream", "checksum_sha256": sha256_hex(&bytes)})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["document_id"].as_str().expect("id").to_owned();
        planned.push((id, created["upload"].clone(), bytes));
    }
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let uploads = {
        let http = server.http.clone();
        let planned = planned.clone();
        let acknowledged = acknowledged.clone();
        let done = done.clone();
        tokio::spawn(async move {
            futures_util::stream::iter(planned)
                .for_each_concurrent(8, |(id, link, bytes)| {
                    let http = http.clone();
                    let acknowledged = acknowledged.clone();
                    let done = done.clone();
                    async move {
                        let status = upload(&http, &link, bytes).await;
                        if status.is_some_and(|s| s.is_success()) {
                            acknowledged.lock().unwrap().insert(id);
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await;
        })
    };
    // More creates while the uploads run.
    let creating = Arc::new(AtomicBool::new(true));
    let creates = {
        let http = server.http.clone();
        let base = server.base.clone();
        let creating = creating.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while creating.load(Ordering::SeqCst) {
                let _ = http
                    .post(format!("{base}/documents"))
                    .header("Authorization", format!("Bearer {KEY}"))
                    .json(&json!({"file_name": format!("storm-{n}.txt"), "file_size": 5}))
                    .send()
                    .await;
                n += 1;
            }
        })
    };
    // Kill once some uploads finished and others are in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < 12 {
        assert!(Instant::now() < deadline, "uploads did not progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    // Every pending upload (abandoned, storm, interrupted) was created before this.
    let killed_at = Instant::now();
    creating.store(false, Ordering::SeqCst);
    uploads.await.expect("uploads task");
    creates.await.expect("creates task");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < planned.len(),
        "the kill should land mid-way: {} of {} acknowledged",
        acknowledged.len(),
        planned.len()
    );

    eprintln!(
        "kill -9 with {} of {} uploads acknowledged",
        acknowledged.len(),
        planned.len()
    );
    // Restart on the same data directory (and port, so the links stay valid).
    let server = Server::spawn(&data_dir, port, ttl, &log).await;
    let sent: BTreeMap<String, Vec<u8>> = planned
        .iter()
        .map(|(id, _, bytes)| (id.clone(), bytes.clone()))
        .collect();
    // Every acknowledged upload is served, with the bytes sent.
    for id in &acknowledged {
        server.wait_for_status(id, "active").await;
    }
    assert_consistent(&server, &data_dir, &sent).await;

    // An interrupted upload left nothing behind that blocks it: the same link works.
    for (id, link, bytes) in &planned {
        let (status, document) = server.get(id).await;
        assert_eq!(status, StatusCode::OK, "{id} lost: {document}");
        if document["status"] == "pending_upload" {
            let status = upload(&server.http, link, bytes.clone()).await;
            assert_eq!(status, Some(StatusCode::OK), "{id}: retry refused");
        }
    }
    for (id, _, _) in &planned {
        server.wait_for_status(id, "active").await;
    }
    assert_consistent(&server, &data_dir, &sent).await;

    // Pending uploads expire: past the TTL, a restart's sweeper discards them.
    server.kill9();
    let expiry = killed_at + Duration::from_secs(ttl + 1);
    tokio::time::sleep(expiry.saturating_duration_since(Instant::now())).await;
    let server = Server::spawn(&data_dir, port, ttl, &log).await;
    for created in &abandoned {
        let id = created["document_id"].as_str().expect("id");
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.get(id).await.0 != StatusCode::NOT_FOUND {
            assert!(Instant::now() < deadline, "{id} never expired");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Its link expired with it.
        let status = upload(&server.http, &created["upload"], vec![0; 10]).await;
        assert!(
            status.is_some_and(|s| s.is_client_error()),
            "{id}: {status:?}"
        );
    }
    // Storm creates expired too (the sweep may still be going); everything uploaded
    // is still there.
    let deadline = Instant::now() + Duration::from_secs(30);
    let left = loop {
        let left = server.all_documents().await;
        if left.iter().all(|d| d["status"] == "active") {
            break left;
        }
        assert!(
            Instant::now() < deadline,
            "pending documents survived their TTL"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(left.len(), planned.len());
    assert_consistent(&server, &data_dir, &sent).await;
    server.kill9();
}

/// (writer, document) -> (highest acknowledged value, highest attempted value).
type Progress = BTreeMap<(usize, String), (u64, u64)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_patch_storm_loses_no_acknowledged_write() {
    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let log = temp.path().join("server.log");
    let port = free_port();
    let server = Server::spawn(&data_dir, port, 3600, &log).await;
    let mut ids = Vec::new();
    let mut sent = BTreeMap::new();
    for n in 0..6 {
        let bytes = content(100 + n, 1000 + n);
        let (status, created) = server
            .call(
                reqwest::Method::POST,
                "/documents",
                Some(
                    json!({"file_name": format!("p{n}.bin"), "file_size": bytes.len(),
                    "metadata": {"origin": n}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["document_id"].as_str().expect("id").to_owned();
        assert_eq!(
            upload(&server.http, &created["upload"], bytes.clone()).await,
            Some(StatusCode::OK)
        );
        server.wait_for_status(&id, "active").await;
        sent.insert(id.clone(), bytes);
        ids.push(id);
    }

    // Writers: each sets its own key to 1, 2, 3, ... on every document, in turn,
    // so that any acknowledged value must survive (merges keep the other keys).
    // (writer, document) -> the highest acknowledged and the highest attempted value.
    let acknowledged: Arc<Mutex<Progress>> = Arc::default();
    let writes = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..6 {
        let http = server.http.clone();
        let base = server.base.clone();
        let ids = ids.clone();
        let acknowledged = acknowledged.clone();
        let writes = writes.clone();
        writers.push(tokio::spawn(async move {
            for value in 1u64.. {
                for id in &ids {
                    acknowledged
                        .lock()
                        .unwrap()
                        .entry((writer, id.clone()))
                        .or_default()
                        .1 = value;
                    let mut patch = json!({"metadata": {format!("w{writer}"): value,
                        "last": {"writer": writer, "value": value}}});
                    if writer == 0 {
                        patch["document_type"] = json!(format!("t{}", value % 3));
                    }
                    let result = http
                        .patch(format!("{base}/documents/{id}"))
                        .header("Authorization", format!("Bearer {KEY}"))
                        .json(&patch)
                        .send()
                        .await;
                    let Ok(response) = result else { return };
                    let status = response.status();
                    let Ok(body) = response.bytes().await else {
                        return;
                    };
                    if status == StatusCode::OK {
                        let body: Value = serde_json::from_slice(&body).expect("json");
                        assert_eq!(body["metadata"][format!("w{writer}")], value);
                        acknowledged
                            .lock()
                            .unwrap()
                            .entry((writer, id.clone()))
                            .or_default()
                            .0 = value;
                        writes.fetch_add(1, Ordering::SeqCst);
                    } else {
                        // Racing merges retry inside the service; a 409 is allowed,
                        // nothing else is.
                        assert_eq!(
                            status,
                            StatusCode::CONFLICT,
                            "{}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while writes.load(Ordering::SeqCst) < 150 {
        assert!(Instant::now() < deadline, "writes did not progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    eprintln!(
        "kill -9 after {} acknowledged metadata writes",
        writes.load(Ordering::SeqCst)
    );
    for writer in writers {
        writer.await.expect("writer");
    }

    let server = Server::spawn(&data_dir, port, 3600, &log).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    for id in &ids {
        let (status, document) = server.get(id).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        assert_eq!(document["status"], "active");
        assert_eq!(
            document["metadata"]["origin"].as_u64(),
            Some(ids.iter().position(|i| i == id).unwrap() as u64)
        );
        for writer in 0..6 {
            let (ack, attempted) = acknowledged
                .get(&(writer, id.clone()))
                .copied()
                .unwrap_or_default();
            let stored = document["metadata"][format!("w{writer}")]
                .as_u64()
                .unwrap_or(0);
            assert!(
                ack <= stored && stored <= attempted,
                "{id} w{writer}: acknowledged {ack}, attempted {attempted}, stored {stored}"
            );
        }
    }
    assert_consistent(&server, &data_dir, &sent).await;
    // And the records are still writable (no stuck lock, no torn version).
    for id in &ids {
        let (status, body) = server
            .call(
                reqwest::Method::PATCH,
                &format!("/documents/{id}"),
                Some(json!({"metadata": {"after": true}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    server.kill9();
}

// ---------------------------------------------------------------------------------
// Events: duplicates, order, and failing stores (the local adapters, driven directly).

struct Local {
    backend: LocalBackend,
    _temp: tempfile::TempDir,
}

async fn open_backend() -> Local {
    let temp = tempfile::tempdir().expect("temp");
    let mut config = LocalConfig::new(temp.path().join("data"));
    config.api_key = Some(KEY.to_owned());
    let backend = LocalBackend::open(config).await.expect("backend");
    backend.set_base_url("http://127.0.0.1:9");
    Local {
        backend,
        _temp: temp,
    }
}

impl Local {
    fn data_dir(&self) -> PathBuf {
        self.backend.config().data_dir.clone()
    }

    /// Puts bytes where an upload through the link would have put them.
    fn store(&self, key: &str, bytes: &[u8]) {
        let path = self.data_dir().join("blobs/hot").join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, bytes).expect("write");
    }

    fn location(&self) -> BlobLocation {
        use kumocms_core::ports::BlobStore;
        self.backend.blobs.location()
    }

    fn created(&self, key: &str) -> StorageEvent {
        StorageEvent::ObjectCreated {
            location: self.location(),
            key: key.to_owned(),
        }
    }

    async fn record(&self, id: &DocumentId) -> Document {
        self.backend
            .metadata
            .get(id)
            .await
            .expect("store")
            .expect("record")
    }
}

/// What must not depend on delivery order: everything but counters and clocks.
fn end_state(document: &Document, files: Vec<PathBuf>, root: &Path) -> Value {
    let mut value = serde_json::to_value(document).expect("json");
    // The history is kept beside the record, not serialised with it: add it back.
    value["revisions"] =
        serde_json::to_value(document.revisions.get().expect("read with its history"))
            .expect("json");
    for field in ["version", "updated_at"] {
        value.as_object_mut().expect("object").remove(field);
    }
    if let Some(extracted) = value["extracted"].as_object_mut() {
        extracted.remove("extracted_at");
    }
    if let Some(content) = value["content"].as_object_mut() {
        content.remove("arrived_at");
    }
    // Retained revisions carry the instants of their run too.
    if let Some(revisions) = value["revisions"].as_array_mut() {
        for revision in revisions.iter_mut().filter_map(Value::as_object_mut) {
            for field in ["arrived_at", "superseded_at"] {
                revision.remove(field);
            }
            if let Some(extracted) = revision.get_mut("extracted").and_then(Value::as_object_mut) {
                extracted.remove("extracted_at");
            }
        }
    }
    let id = document.id.to_string();
    for field in ["id", "created_at"] {
        value.as_object_mut().expect("object").remove(field);
    }
    let mut files: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(root)
                .expect("under root")
                .display()
                .to_string()
        })
        .collect();
    files.sort();
    let state = json!({"record": value, "files": files}).to_string();
    serde_json::from_str(&state.replace(&id, "<id>")).expect("json")
}

/// A document with content r1 active, then a replacement r2 uploaded with a sidecar,
/// before any of their events are applied.
async fn replaced_document(local: &Local) -> (DocumentId, Vec<StorageEvent>) {
    let service = &local.backend.service;
    let upload = service
        .create(NewDocument {
            file_name: "v1.txt".into(),
            file_size: 2,
            content_type: Some("text/plain".into()),
            metadata: Some(json!({"own": "api"})),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let id = upload.document.id;
    let r1 = kumocms_core::blob_key::content_key(&id, 1);
    local.store(&r1, b"v1");
    let outcome = local
        .backend
        .processor
        .handle(&local.created(&r1))
        .await
        .expect("r1");
    assert_eq!(outcome, Outcome::Applied("content_activated"));
    service
        .replace(
            &id,
            NewContent {
                file_name: Some("v2.txt".into()),
                file_size: 3,
                content_type: Some("text/plain".into()),
                checksum_sha256: Some(sha256_hex(b"v2!")),
                ..NewContent::default()
            },
        )
        .await
        .expect("replace");
    let r2 = kumocms_core::blob_key::content_key(&id, 2);
    let sidecar = kumocms_core::blob_key::sidecar_key(&r2);
    local.store(&r2, b"v2!");
    local.store(
        &sidecar,
        br#"{"own": "sidecar", "from_sidecar": true, "status": "archived"}"#,
    );
    // r1 again (a late duplicate), the sidecar, and the new content.
    let events = vec![
        local.created(&r1),
        local.created(&sidecar),
        local.created(&r2),
    ];
    (id, events)
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_events_twice_or_out_of_order_give_the_same_end_state() {
    let mut end_states = BTreeSet::new();
    let orders = permutations(&[0usize, 1, 2]);
    for (n, order) in orders.iter().enumerate() {
        for twice in [false, true] {
            let local = open_backend().await;
            let (id, events) = replaced_document(&local).await;
            let mut sequence: Vec<&StorageEvent> = order.iter().map(|&i| &events[i]).collect();
            if twice {
                // Every event delivered twice, the second round in reverse.
                let again: Vec<_> = sequence.iter().rev().copied().collect();
                sequence.extend(again);
            }
            for event in sequence {
                local
                    .backend
                    .processor
                    .handle(event)
                    .await
                    .unwrap_or_else(|e| panic!("order {n}: {e}"));
            }
            let record = local.record(&id).await;
            assert_eq!(record.status, DocumentStatus::Active);
            let content = record.content.as_ref().expect("content");
            assert_eq!(content.revision, 2, "order {order:?}");
            assert_eq!(
                content.checksum_sha256.as_deref(),
                Some(sha256_hex(b"v2!").as_str())
            );
            assert!(record.pending_upload.is_none());
            // User values win over the sidecar; the sidecar fills the rest, in metadata.
            assert_eq!(record.metadata["own"], "api");
            assert_eq!(record.metadata["from_sidecar"], true);
            let root = local.data_dir().join("blobs");
            let state = end_state(&record, files_under(&root), &root);
            end_states.insert(state.to_string());
        }
    }
    assert_eq!(end_states.len(), 1, "different end states: {end_states:#?}");
    let state: Value = serde_json::from_str(end_states.first().expect("one")).expect("json");
    // The replaced r1 is kept as a revision; r2 and its sidecar are current.
    assert_eq!(state["files"].as_array().map(Vec::len), Some(3), "{state}");
    assert_eq!(
        state["record"]["revisions"][0]["revision"], 1,
        "r1 is retained exactly once: {state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_events_twice_or_out_of_order_give_the_same_end_state() {
    let mut end_states = BTreeSet::new();
    for order in permutations(&[0usize, 1]) {
        for twice in [false, true] {
            let local = open_backend().await;
            let service = &local.backend.service;
            let upload = service
                .create(NewDocument {
                    file_name: "cold.txt".into(),
                    file_size: 4,
                    ..NewDocument::default()
                })
                .await
                .expect("create");
            let id = upload.document.id;
            let key = kumocms_core::blob_key::content_key(&id, 1);
            local.store(&key, b"cold");
            local
                .backend
                .processor
                .handle(&local.created(&key))
                .await
                .expect("content");
            service
                .archive(&id, kumocms_core::StorageClass::Glacier)
                .await
                .expect("archive");
            service
                .restore(&id, 1, kumocms_core::RestoreTier::Standard)
                .await
                .expect("restore");
            let until = SystemClock.now() + Duration::from_secs(86_400);
            let events = [
                StorageEvent::RestoreCompleted {
                    location: local.location(),
                    key: key.clone(),
                    available_until: Some(until),
                },
                StorageEvent::RestoreExpired {
                    location: local.location(),
                    key: key.clone(),
                },
            ];
            let mut sequence: Vec<&StorageEvent> = order.iter().map(|&i| &events[i]).collect();
            if twice {
                let again = sequence.clone();
                sequence.extend(again);
            }
            for event in sequence {
                local.backend.processor.handle(event).await.expect("event");
            }
            // Whatever the order, the copy is gone in the end: archived again.
            let record = local.record(&id).await;
            assert_eq!(record.status, DocumentStatus::Archived, "{order:?} {twice}");
            assert!(record.restore.is_none());
            let mut state = end_state(&record, Vec::new(), Path::new("/"));
            state["record"]
                .as_object_mut()
                .expect("object")
                .remove("id");
            end_states.insert(state["record"]["status"].to_string());
        }
    }
    assert_eq!(end_states.len(), 1, "{end_states:?}");
}

// The processor's failure path, with a real I/O fault: the content file is a
// symbolic link to itself (ELOOP on every read). A failing metadata store is covered
// by kumocms-local/tests/events.rs (a `Flaky` MetadataStore wrapper: retried, then
// given up after five tries); this crate cannot implement the async trait itself.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_processor_fails_loudly_when_a_store_fails_and_applies_on_retry() {
    let local = open_backend().await;
    let upload = local
        .backend
        .service
        .create(NewDocument {
            file_name: "f.txt".into(),
            file_size: 5,
            content_type: Some("text/plain".into()),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let id = upload.document.id;
    let key = kumocms_core::blob_key::content_key(&id, 1);
    let path = local.data_dir().join("blobs/hot").join(&key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::os::unix::fs::symlink(&path, &path).expect("symlink loop");
    let event = local.created(&key);
    let processor = &local.backend.processor;
    for _ in 0..2 {
        // The error every caller sees: the local worker logs it (and recovery
        // re-publishes the event at the next start), the `events` Lambda returns it
        // so that Lambda retries and then dead-letters the event.
        let error = processor
            .handle(&event)
            .await
            .expect_err("an unreadable store must fail the event");
        assert!(!error.to_string().is_empty());
        // Nothing half-applied: still pending at version 1.
        let record = local.record(&id).await;
        assert_eq!(record.status, DocumentStatus::PendingUpload);
        assert_eq!(record.version, 1);
        assert!(record.content.is_none() && record.extracted.is_none());
    }
    // The store is readable again: the retried event applies, exactly once.
    std::fs::remove_file(&path).expect("remove the loop");
    local.store(&key, b"fault");
    assert_eq!(
        processor.handle(&event).await.expect("applies"),
        Outcome::Applied("content_activated")
    );
    assert_eq!(
        processor.handle(&event).await.expect("duplicate"),
        Outcome::Ignored("already_current")
    );
    let record = local.record(&id).await;
    assert_eq!(record.status, DocumentStatus::Active);
    assert_eq!(record.version, 2);
    assert_eq!(
        record.content.and_then(|c| c.checksum_sha256),
        Some(sha256_hex(b"fault"))
    );
}

/// An upload that was stored (the client got its 200) but whose `ObjectCreated` died
/// with the process must not be discarded as abandoned when the server comes back
/// after the pending-upload TTL: start-up recovery re-publishes the event, and the
/// sweeper runs at the same moment. Here the sweeper goes first, the order that
/// lost the upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_stored_before_a_crash_survives_a_restart_past_its_pending_ttl() {
    let temp = tempfile::tempdir().expect("temp");
    let mut config = LocalConfig::new(temp.path().join("data"));
    config.api_key = Some(KEY.to_owned());
    config.service.pending_upload_ttl = Duration::from_secs(1);
    let backend = LocalBackend::open(config.clone()).await.expect("backend");
    backend.set_base_url("http://127.0.0.1:9");
    let upload = backend
        .service
        .create(NewDocument {
            file_name: "stored.txt".into(),
            file_size: 6,
            content_type: Some("text/plain".into()),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let id = upload.document.id;
    let key = kumocms_core::blob_key::content_key(&id, 1);
    // The upload handler renamed the bytes into place; then the process died before
    // the event was applied.
    let path = config.data_dir.join("blobs/hot").join(&key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, b"stored").expect("content");
    drop(backend);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backend = LocalBackend::open(config).await.expect("reopen");
    assert_eq!(backend.recovery.uploads_republished, 1);
    // The sweeper's pass, before the worker gets to the re-published event.
    backend
        .service
        .expire_pending_uploads(100)
        .await
        .expect("sweep");
    let tasks = backend.start_background();
    tokio::time::timeout(Duration::from_secs(20), backend.wait_idle())
        .await
        .expect("idle");
    let record = backend
        .metadata
        .get(&id)
        .await
        .expect("store")
        .expect("the acknowledged upload was discarded");
    assert_eq!(record.status, DocumentStatus::Active);
    assert_eq!(
        record.content.and_then(|c| c.checksum_sha256),
        Some(sha256_hex(b"stored"))
    );
    assert!(path.exists());
    tasks.shutdown().await;
}
