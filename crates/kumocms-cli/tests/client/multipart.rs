//! The multipart path (issue 12's protocol): parts in parallel, and a `put` killed
//! half-way that resumes from the parts already received, sending fewer than 1.5×
//! the file's bytes in total (counted by an HTTP proxy every request goes through).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::{Client, id_of, pattern};

const PART: usize = 5 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_multipart_put_resumes_from_the_parts_received() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let (proxy, counted, _) = crate::counting_proxy().await;
    let size = 10 * PART + 123;
    let bytes = pattern(size, 5);
    let path = client.file("large.bin", &bytes);
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
        .env("HTTP_PROXY", &proxy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = first.spawn().unwrap();
    // Killed once about half the parts are in.
    let uploads = client.cache_dir().join("kumocms/uploads");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = std::fs::read_dir(&uploads)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read(e.path()).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        if let Some(state) = state {
            let listed = server
                .call(
                    reqwest::Method::GET,
                    &format!(
                        "/documents/{}/uploads/{}/parts",
                        state["document_id"].as_str().unwrap(),
                        state["upload_id"].as_str().unwrap()
                    ),
                    None,
                )
                .await
                .2;
            if listed["parts"].as_array().map_or(0, Vec::len) >= 5 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the upload did not get half-way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap();
    let _ = child.wait().await;
    let sent_before = counted.load(Ordering::Relaxed);
    assert!(
        sent_before < size as u64,
        "killed before the end ({sent_before} bytes)"
    );

    let output = client
        .command(&args)
        .env("HTTP_PROXY", &proxy)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let put: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = id_of(&put[0]);
    assert_eq!(put[0]["status"], "active");
    let total = counted.load(Ordering::Relaxed);
    assert!(
        (total as f64) < 1.5 * size as f64,
        "{total} bytes sent in total for a {size}-byte file"
    );
    assert!(
        total >= size as u64,
        "every byte went through the proxy: {total}"
    );
    assert!(
        std::fs::read_dir(&uploads).unwrap().next().is_none(),
        "the resume state is removed once complete"
    );
    let out = client.dir().join("large.out");
    client.ok(&["get", &id, "-o", out.to_str().unwrap()]).await;
    assert!(std::fs::read(&out).unwrap() == bytes);
}
