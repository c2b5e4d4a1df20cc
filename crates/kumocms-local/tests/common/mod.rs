//! Shared test helpers: a blob store served on an ephemeral port, a recording
//! event sink, and an HTTP uploader for the conformance suite.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use kumocms_core::clock::ManualClock;
use kumocms_core::conformance::ConformanceUploader;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::{Clock, EventSink, SignedLink};
use kumocms_local::{FsBlobConfig, FsBlobStore, LinkSigner, blob_router};

#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<StorageEvent>>);

impl Recorder {
    pub fn events(&self) -> Vec<StorageEvent> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventSink for Recorder {
    async fn publish(&self, event: StorageEvent) {
        self.0.lock().unwrap().push(event);
    }
}

/// Serves `router` on 127.0.0.1 and returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

pub struct Served {
    pub dir: tempfile::TempDir,
    pub store: Arc<FsBlobStore>,
    pub events: Arc<Recorder>,
    pub clock: Arc<ManualClock>,
    pub base: String,
}

/// A file blob store with a manual clock and a recording sink, served over HTTP.
pub async fn served_store(max_file_size: u64) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Recorder::default());
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(
        FsBlobStore::new(
            FsBlobConfig {
                data_dir: dir.path().to_owned(),
                restore_delay: Duration::from_secs(5),
                restore_day_length: Duration::from_secs(60),
                max_file_size,
            },
            LinkSigner::load_or_create(dir.path()).unwrap(),
            events.clone() as Arc<dyn EventSink>,
            clock.clone() as Arc<dyn Clock>,
        )
        .unwrap(),
    );
    let base = serve(blob_router(store.clone())).await;
    store.set_base_url(&base);
    Served {
        dir,
        store,
        events,
        clock,
        base,
    }
}

pub struct HttpUploader(pub reqwest::Client);

impl Default for HttpUploader {
    fn default() -> Self {
        Self(reqwest::Client::new())
    }
}

/// Sends a link's request with its headers; returns the response.
pub async fn send(client: &reqwest::Client, link: &SignedLink, body: Bytes) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(link.method.as_bytes()).unwrap();
    let mut request = client.request(method, &link.url).body(body);
    for (name, value) in &link.headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[async_trait]
impl ConformanceUploader for HttpUploader {
    async fn upload(&self, link: &SignedLink, body: Bytes) -> Result<(), String> {
        let response = send(&self.0, link, body).await;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ))
        }
    }

    async fn download(&self, link: &SignedLink) -> Result<Bytes, String> {
        let response = self
            .0
            .get(&link.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(response.status().to_string());
        }
        response.bytes().await.map_err(|e| e.to_string())
    }
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
