//! Transfers: many small files at once, a streamed large file, resumed and verified
//! downloads.

use std::collections::HashSet;

use crate::common::TestServer;
use crate::{Client, id_of, pattern};

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_of_1000_small_files() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    for i in 0..1000 {
        client.file(
            &format!("many/{:02}/file-{i:04}.txt", i % 10),
            format!("file number {i}\n").as_bytes(),
        );
    }
    let dir = client.dir().join("many").to_string_lossy().into_owned();
    let put = client.json(&["put", &dir, "--type", "bulk"]).await;
    let docs = put.as_array().unwrap();
    assert_eq!(docs.len(), 1000);
    let ids: HashSet<String> = docs.iter().map(id_of).collect();
    assert_eq!(ids.len(), 1000, "one document per file");
    let listed = client
        .json(&["ls", "--type", "bulk", "--all", "--limit", "300"])
        .await;
    assert_eq!(listed["count"], 1000);
    let listed_ids: HashSet<String> = listed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(listed_ids, ids);
    // Spot-check content.
    let doc = docs
        .iter()
        .find(|d| d["file_name"] == "file-0777.txt")
        .unwrap();
    let id = id_of(doc);
    server.wait_for_status(&id, "active").await;
    assert_eq!(
        client.ok(&["get", &id, "-o", "-"]).await,
        "file number 777\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_is_streamed_and_its_download_verified() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let bytes = pattern(12 * 1024 * 1024 + 17, 3);
    let path = client.file("big.bin", &bytes);
    let id = id_of(&client.json(&["put", &path]).await[0]);
    server.wait_for_status(&id, "active").await;
    let out = client.dir().join("big.out");
    client.ok(&["get", &id, "-o", out.to_str().unwrap()]).await;
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "the bytes round-trip"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_download_is_resumed_and_verified() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    let bytes = pattern(3 * 1024 * 1024 + 5, 9);
    let path = client.file("resume.bin", &bytes);
    let id = id_of(&client.json(&["put", &path]).await[0]);
    server.wait_for_status(&id, "active").await;
    let out = client.dir().join("resume.out");
    let partial = client.dir().join("resume.out.kumocms-partial");

    // An interrupted run left the first half: only the rest is fetched (Range),
    // counted by a proxy the download goes through.
    std::fs::write(&partial, &bytes[..bytes.len() / 2]).unwrap();
    let (proxy, _, received) = crate::counting_proxy().await;
    let output = client
        .command(&["get", &id, "-o", out.to_str().unwrap()])
        .env("HTTP_PROXY", &proxy)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&out).unwrap() == bytes);
    assert!(!partial.exists(), "the partial file became the output");
    let fetched = received.load(std::sync::atomic::Ordering::Relaxed) as usize;
    let rest = bytes.len() - bytes.len() / 2;
    assert!(
        fetched >= rest && fetched < rest + 64 * 1024,
        "{fetched} bytes received for the {rest} missing (plus the document's JSON)"
    );

    // A partial file with wrong bytes never ends up in the output: the SHA-256 check
    // catches it and the download starts again from zero.
    let mut wrong = bytes[..bytes.len() / 3].to_vec();
    wrong[10] ^= 0xff;
    std::fs::write(&partial, &wrong).unwrap();
    let out2 = client.dir().join("resume2.out");
    std::fs::rename(&partial, client.dir().join("resume2.out.kumocms-partial")).unwrap();
    client.ok(&["get", &id, "-o", out2.to_str().unwrap()]).await;
    assert!(std::fs::read(&out2).unwrap() == bytes);
}

/// The server takes one upload at a time and answers 503 (Retry-After) to the others:
/// the client retries them with backoff until every file is in.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_refused_with_503_are_retried_until_every_file_is_in() {
    let server = TestServer::start_with(|options| options.max_concurrent_uploads = 1).await;
    let client = Client::new(&server.base);
    for i in 0..10u8 {
        client.file(&format!("busy/f{i:02}.bin"), &pattern(1024 * 1024, i));
    }
    let dir = client.dir().join("busy").to_string_lossy().into_owned();
    let put = client.json(&["put", &dir, "--jobs", "4"]).await;
    assert_eq!(put.as_array().unwrap().len(), 10);
    for doc in put.as_array().unwrap() {
        let id = id_of(doc);
        server.wait_for_status(&id, "active").await;
    }
}
