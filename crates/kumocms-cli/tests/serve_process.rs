//! The real `kumocms serve` process: how it treats slow and idle connections at its
//! open-file limit, and where it prints a generated key (issue 16, items 1 and 11).

// Test helpers panic with a message on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `kumocms serve` child, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `kumocms serve` through `sh -c "<shell prefix>; exec kumocms ..."`.
    async fn start(shell_prefix: &str, args: &[&str], env: &[(&str, &str)], out: &Path) -> Self {
        let port = free_port();
        let data = out.join("data");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{shell_prefix}; exec \"$@\""))
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_kumocms"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .args(args)
            .env_remove("KUMOCMS_API_KEY")
            .env_remove("KUMOCMS_API_KEY_PREVIOUS")
            .env("KUMOCMS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out.join("stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(out.join("stderr")).expect("stderr file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let served = Self {
            child: command.spawn().expect("kumocms starts"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http
                .get(format!("{}/healthcheck", served.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return served;
            }
            assert!(Instant::now() < deadline, "kumocms did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Threads and resident memory (kB) of a process, from /proc.
fn threads_and_rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

/// Item 1: under `ulimit -n 256`, 300 connections that each send half a request
/// header do not take the server down: /healthcheck keeps answering, new
/// connections past the cap are closed instead of failing `accept`, and the held
/// connections are closed by the header-read timeout.
#[tokio::test]
async fn slow_connections_at_the_open_file_limit_leave_the_healthcheck_answering() {
    let temp = tempfile::tempdir().expect("temp");
    let served = Served::start(
        "ulimit -n 256",
        &["--header-read-timeout", "4"],
        &[("KUMOCMS_API_KEY", "process-test-key")],
        temp.path(),
    )
    .await;
    let address = served.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..300 {
        let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
            continue;
        };
        let _ = stream
            .write_all(b"GET /documents HTTP/1.1\r\nHost: kumocms\r\nX-Slow: ")
            .await;
        held.push(stream);
    }
    // The overflow connections' 1 s header timeout passes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (threads, rss) = threads_and_rss(served.pid());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let response = http
            .get(format!("{}/healthcheck", served.base))
            .send()
            .await
            .expect("the health check answers while slow connections are held");
        assert!(response.status().is_success(), "{}", response.status());
        slowest = slowest.max(started.elapsed());
    }
    eprintln!(
        "held {} half-header connections; /healthcheck slowest of 10: {slowest:?}; threads {threads}, RSS {rss} kB",
        held.len()
    );
    // The header-read timeout closes the held connections.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = 0;
    for stream in &mut held {
        let mut buffer = [0_u8; 256];
        // End of stream, a 408, or a reset (a connection closed with unread bytes):
        // anything but still waiting.
        if tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer))
            .await
            .is_ok()
        {
            closed += 1;
        }
    }
    assert_eq!(closed, held.len(), "every slow connection is closed");
    let log = std::fs::read_to_string(temp.path().join("stdout")).expect("log");
    assert!(!log.contains("Too many open files"), "{log}");
}

/// Item 11: a generated key is printed to stderr, never with the log lines on
/// stdout; `--api-key-file` keeps a key out of the process's command line.
#[tokio::test]
async fn a_generated_key_goes_to_stderr_and_a_key_file_keeps_it_off_the_command_line() {
    let temp = tempfile::tempdir().expect("temp");
    let served = Served::start("true", &[], &[], temp.path()).await;
    let stderr = std::fs::read_to_string(temp.path().join("stderr")).expect("stderr");
    let key = stderr
        .lines()
        .find_map(|l| l.split(": ").nth(1).filter(|_| l.contains("Your API key")))
        .expect("the generated key on stderr")
        .trim()
        .to_owned();
    let stdout = std::fs::read_to_string(temp.path().join("stdout")).expect("stdout");
    assert!(
        !stdout.contains(&key),
        "the key must not reach stdout: {stdout}"
    );
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/documents", served.base))
        .bearer_auth(&key)
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    drop(served);

    let temp = tempfile::tempdir().expect("temp");
    let key_file = temp.path().join("key");
    std::fs::write(&key_file, "from-a-file-key-0123\n").expect("key file");
    let served = Served::start(
        "true",
        &["--api-key-file", key_file.to_str().expect("path")],
        &[],
        temp.path(),
    )
    .await;
    let response = http
        .get(format!("{}/documents", served.base))
        .bearer_auth("from-a-file-key-0123")
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", served.pid())).expect("cmdline");
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("from-a-file-key-0123"),
        "the key is not on the command line"
    );
}
