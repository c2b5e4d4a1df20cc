//! A real `kumocms serve` on an ephemeral port, and a client for it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use kumocms_cli::server::{self, RunningServer, ServeOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const KEY: &str = "test-key-current";
pub const PREVIOUS_KEY: &str = "test-key-previous";

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

/// A clock that moves only when the test says so, starting now (links carry
/// absolute expiry times, so it starts at the real time).
pub fn manual_clock() -> std::sync::Arc<kumocms_core::clock::ManualClock> {
    std::sync::Arc::new(kumocms_core::clock::ManualClock::new(chrono::Utc::now()))
}

pub fn options(data_dir: &Path) -> ServeOptions {
    let mut options = ServeOptions::new(
        "127.0.0.1:0".parse().expect("address"),
        data_dir.to_path_buf(),
    );
    options.api_key = Some(KEY.to_owned());
    options.api_key_previous = Some(PREVIOUS_KEY.to_owned());
    options.restore_delay = Duration::from_millis(200);
    options.sweep_interval = Duration::from_millis(200);
    options
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServeOptions)) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut server = Self::start_in(&data_dir, configure).await;
        server._temp = Some(temp);
        server
    }

    /// Starts on an existing data directory (for restart tests).
    pub async fn start_in(data_dir: &Path, configure: impl FnOnce(&mut ServeOptions)) -> Self {
        let mut opts = options(data_dir);
        configure(&mut opts);
        let server = server::start(opts).await.expect("server starts");
        let base = server.base_url.clone();
        Self {
            server: Some(server),
            base,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        self._temp.take()
    }

    pub async fn idle(&self) {
        if let Some(server) = &self.server {
            tokio::time::timeout(Duration::from_secs(20), server.wait_idle())
                .await
                .expect("event queue drains");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An authenticated JSON request; returns status, headers and the body as JSON
    /// (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.call_with_key(method, path, body, Some(KEY)).await
    }

    pub async fn call_with_key(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    pub async fn create(&self, body: Value) -> Value {
        let (status, _, created) = self.call(Method::POST, "/documents", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "create: {created}");
        created
    }

    /// Sends `bytes` through an `upload` object exactly as a client would.
    pub async fn upload(&self, upload: &Value, bytes: &[u8]) -> (StatusCode, Value) {
        let method = Method::from_bytes(upload["method"].as_str().expect("method").as_bytes())
            .expect("method");
        let mut request = self
            .http
            .request(method, upload["url"].as_str().expect("url"));
        for (name, value) in upload["headers"].as_object().expect("headers") {
            request = request.header(name, value.as_str().expect("header value"));
        }
        let response = request
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload sent");
        let (status, _, body) = read(response).await;
        (status, body)
    }

    /// Creates a document and uploads its content; returns the document id.
    pub async fn create_active(
        &self,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
        extra: Value,
    ) -> String {
        let mut body = json!({
            "file_name": file_name,
            "file_size": bytes.len(),
            "content_type": content_type,
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let created = self.create(body).await;
        let (status, response) = self.upload(&created["upload"], bytes).await;
        assert!(status.is_success(), "upload: {status} {response}");
        self.idle().await;
        let id = created["document_id"].as_str().expect("id").to_owned();
        let (status, _, document) = self
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(document["status"], "active", "{document}");
        id
    }

    /// Downloads a link's bytes.
    pub async fn fetch(&self, url: &str) -> (StatusCode, Vec<u8>) {
        let response = self.http.get(url).send().await.expect("download sent");
        let status = response.status();
        (status, response.bytes().await.expect("body").to_vec())
    }

    pub async fn wait_for_status(&self, id: &str, wanted: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            self.idle().await;
            let (_, _, document) = self
                .call(Method::GET, &format!("/documents/{id}"), None)
                .await;
            if document["status"] == wanted {
                return document;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} never reached {wanted}: {document}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, headers, body)
}

/// Every file under `dir`, relative to it.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(relative) = path.strip_prefix(root) {
                    out.push(relative.display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every error body has a stable code and a message.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    wanted_status: StatusCode,
    wanted_code: &str,
) {
    assert_eq!(status, wanted_status, "{body}");
    assert_eq!(body["error"], wanted_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

pub fn minimal_pdf(pages: usize) -> Vec<u8> {
    let mut body = b"%PDF-1.7\n1 0 obj << /Type /Pages >> endobj\n".to_vec();
    for n in 0..pages {
        body.extend_from_slice(
            format!("{} 0 obj << /Type /Page /Parent 1 0 R >> endobj\n", n + 2).as_bytes(),
        );
    }
    body.extend_from_slice(b"trailer << >>\n%%EOF\n");
    body
}
