//! The `kumocms` client subcommands (issue 14) run as a separate process against a
//! real `kumocms serve` on an ephemeral port: every command, `--json` parsed, the
//! exit codes, conflicts, many files, resumed downloads, progress bars on a terminal.

// Test helpers panic with a message on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../http/common/mod.rs"]
mod common;

mod commands;
mod multipart;
mod multipart_protocol;
mod progress;
mod small_files;
mod transfers;

use std::path::{Path, PathBuf};
use std::process::Output;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::TryStreamExt;
use serde_json::Value;

/// The client binary with its own config and cache directories, pointed at a server.
pub struct Client {
    pub url: String,
    pub home: tempfile::TempDir,
}

impl Client {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            home: tempfile::tempdir().expect("home"),
        }
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir().join("config")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir().join("cache")
    }

    /// The command, with the key and URL in the environment (as a script would).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = self.bare_command(args);
        command
            .env("KUMOCMS_URL", &self.url)
            .env("KUMOCMS_API_KEY", common::KEY);
        command
    }

    /// The command with no URL or key from the environment.
    pub fn bare_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kumocms"));
        command
            .args(args)
            .current_dir(self.dir())
            .env_remove("KUMOCMS_URL")
            .env_remove("KUMOCMS_API_KEY")
            .env_remove("KUMOCMS_API_KEY_FILE")
            .env_remove("KUMOCMS_PROFILE")
            // Tests that count bytes set their own proxy; no other may intercept.
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env("HOME", self.dir())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("XDG_CACHE_HOME", self.cache_dir())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("kumocms runs")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "kumocms {args:?} failed ({:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Runs a command with `--json` that must succeed; returns its parsed stdout.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let stdout = self.ok(&with_json).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    pub async fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "kumocms {args:?}: stdout {} stderr {stderr}",
            String::from_utf8_lossy(&output.stdout)
        );
        stderr
    }

    /// Writes a file under the client's directory; returns its path as a string.
    pub fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&path, bytes).expect("write");
        path.to_string_lossy().into_owned()
    }
}

pub fn id_of(doc: &Value) -> String {
    doc["document_id"].as_str().expect("document_id").to_owned()
}

/// Deterministic, incompressible-looking bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(u64::from(seed)) as u8
        })
        .collect()
}

/// A forward HTTP proxy (set as HTTP_PROXY) that counts the body bytes passing
/// through it: (its URL, bytes sent by the client, bytes received by the client).
pub async fn counting_proxy() -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let counted = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    async fn forward(
        State((http, counted, received)): State<(reqwest::Client, Arc<AtomicU64>, Arc<AtomicU64>)>,
        request: Request,
    ) -> Response {
        let (parts, body) = request.into_parts();
        let stream = body.into_data_stream().inspect_ok(move |chunk| {
            counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
        let mut outgoing = http
            .request(parts.method, parts.uri.to_string())
            .body(reqwest::Body::wrap_stream(stream));
        for (name, value) in &parts.headers {
            if name != "host" && name != "proxy-connection" {
                outgoing = outgoing.header(name, value);
            }
        }
        match outgoing.send().await {
            Ok(answer) => {
                let mut response = Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    response = response.header(name, value);
                }
                let stream = answer.bytes_stream().inspect_ok(move |chunk| {
                    received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                });
                response.body(Body::from_stream(stream)).unwrap()
            }
            Err(_) => Response::builder().status(502).body(Body::empty()).unwrap(),
        }
    }
    let app =
        axum::Router::new()
            .fallback(forward)
            .with_state((http, counted.clone(), received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), counted, received)
}
