//! Large content through the signed links: bodies bigger than the upload queue, the
//! write buffer, the background-sync step and the download read-ahead arrive whole
//! and hash right; a client that goes away mid-upload leaves no file and no event.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use kumocms_core::blob_key;
use kumocms_core::ports::{BlobStore, DownloadSpec, SignedLink, UploadSpec};
use kumocms_core::{BlobRef, DocumentId};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible-enough bytes, so that misplaced blocks show.
fn content(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn new_blob(served: &common::Served) -> BlobRef {
    BlobRef {
        key: blob_key::content_key(&DocumentId::new(), 1),
        location: served.store.location(),
    }
}

async fn upload_link(
    served: &common::Served,
    blob: &BlobRef,
    size: usize,
    checksum: Option<String>,
) -> SignedLink {
    served
        .store
        .upload_link(&UploadSpec {
            blob: blob.clone(),
            content_type: "application/octet-stream".into(),
            size: size as u64,
            checksum_sha256: checksum,
            expires_in: Duration::from_secs(600),
        })
        .await
        .unwrap()
}

async fn download_link(served: &common::Served, blob: &BlobRef) -> SignedLink {
    served
        .store
        .download_link(&DownloadSpec {
            blob: blob.clone(),
            content_type: "application/octet-stream".into(),
            file_name: "big.bin".into(),
            expires_in: Duration::from_secs(600),
        })
        .await
        .unwrap()
}

/// PUTs `bytes` in uneven chunks (no Content-Length), as a streaming client would.
async fn put_streamed(link: &SignedLink, bytes: &[u8]) -> (u16, Value) {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(MIB / 3 + 17)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let response = reqwest::Client::new()
        .put(&link.url)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Files under the data directory other than the signing key.
fn stored_files(served: &common::Served) -> Vec<String> {
    common::files_under(served.dir.path())
        .into_iter()
        .filter(|f| f != "signing.key")
        .collect()
}

/// Waits until `check` holds (the server finishes a request after its client left).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_streamed_upload_is_stored_whole_and_a_wrong_one_leaves_nothing() {
    // Past the 16 MiB background-sync step and many times the upload queue.
    let len = 37 * MIB + 12_345;
    let served = common::served_store(64 * MIB as u64).await;
    let bytes = content(len);
    let sha256 = hex::encode(Sha256::digest(&bytes));

    // One byte changed in the middle: the checksum the link binds does not match.
    let blob = new_blob(&served);
    let link = upload_link(&served, &blob, len, Some(sha256.clone())).await;
    let mut wrong = bytes.clone();
    wrong[len / 2] ^= 1;
    let (status, json) = put_streamed(&link, &wrong).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("checksum_mismatch")),
        "{json}"
    );
    assert_eq!(stored_files(&served), Vec::<String>::new());
    assert!(served.events.events().is_empty());

    // The right bytes through the same link.
    let (status, json) = put_streamed(&link, &bytes).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["sha256"].as_str(), Some(sha256.as_str()));
    assert_eq!(json["size"].as_u64(), Some(len as u64));
    let stored = std::fs::read(served.dir.path().join("blobs/hot").join(&blob.key)).unwrap();
    assert!(stored == bytes, "the stored file differs from the body");
    assert_eq!(
        stored_files(&served),
        vec![format!("blobs/hot/{}", blob.key)],
        "nothing but the content may be left"
    );
    assert_eq!(served.events.events().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_upload_leaves_no_file_and_no_event() {
    disconnect_mid_upload(8 * MIB).await;
}

/// The same below the small-upload size (1 MiB), where the body is read into memory
/// and stored in one blocking step (issue 14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_upload_cut_off_midway_leaves_no_file_and_no_event() {
    disconnect_mid_upload(100 * 1024).await;
}

/// Small uploads in parallel, through both sizes of the one-step path's limit: each
/// stored whole under its key and announced once, nothing left in `tmp/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_uploads_at_once_are_each_stored_whole_and_announced_once() {
    let served = common::served_store(64 * MIB as u64).await;
    let sizes = [0, 1, 10 * 1024, MIB - 1, MIB, MIB + 1];
    let mut uploads = Vec::new();
    for (n, len) in sizes.iter().copied().cycle().take(24).enumerate() {
        let blob = new_blob(&served);
        let bytes = content(len + n);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let link = upload_link(&served, &blob, bytes.len(), Some(sha256)).await;
        uploads.push((blob, bytes, link));
    }
    let answers = futures_util::future::join_all(
        uploads
            .iter()
            .map(|(_, bytes, link)| put_streamed(link, bytes)),
    )
    .await;
    for ((blob, bytes, _), (status, json)) in uploads.iter().zip(answers) {
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["size"].as_u64(), Some(bytes.len() as u64));
        let stored = std::fs::read(served.dir.path().join("blobs/hot").join(&blob.key)).unwrap();
        assert!(&stored == bytes, "{} differs from its body", blob.key);
    }
    assert_eq!(served.events.events().len(), uploads.len());
    assert_eq!(
        stored_files(&served).len(),
        uploads.len(),
        "nothing but the content may be left"
    );
}

async fn disconnect_mid_upload(len: usize) {
    let served = common::served_store(64 * MIB as u64).await;
    let blob = new_blob(&served);
    let link = upload_link(&served, &blob, len, None).await;
    let bytes = content(len);

    // Half the declared body, then the connection closes.
    let url = reqwest::Url::parse(&link.url).unwrap();
    let mut socket = tokio::net::TcpStream::connect((
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap(),
    ))
    .await
    .unwrap();
    let path_and_query = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n",
        url.host_str().unwrap()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&bytes[..len / 2]).await.unwrap();
    socket.flush().await.unwrap();
    // Let the server take in what was sent before it is cut off.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(socket);

    eventually("the interrupted upload's temporary file is removed", || {
        stored_files(&served).is_empty()
    })
    .await;
    // A little longer: nothing may appear late either.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored_files(&served), Vec::<String>::new());
    assert!(
        served.events.events().is_empty(),
        "nothing may be announced"
    );

    // The link still works: nothing of the first attempt was kept.
    let (status, json) = put_streamed(&link, &bytes).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(served.events.events().len(), 1);
}

/// Uploads `bytes` under a new key and returns it.
async fn stored(served: &common::Served, bytes: &[u8]) -> BlobRef {
    let blob = new_blob(served);
    let link = upload_link(served, &blob, bytes.len(), None).await;
    let (status, json) = put_streamed(&link, bytes).await;
    assert_eq!(status, 200, "{json}");
    blob
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_reads_larger_than_the_read_ahead_stream_every_byte() {
    let served = common::served_store(64 * MIB as u64).await;
    // Far past the reader's 4 × 1 MiB read-ahead; an odd size, an exact multiple of
    // the read size (the last read finds the end), and less than one read.
    for len in [11 * MIB + 7, 6 * MIB, 1000] {
        let bytes = content(len);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let blob = stored(&served, &bytes).await;

        let link = download_link(&served, &blob).await;
        let response = reqwest::get(&link.url).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(len as u64));
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), len, "download of {len} bytes");
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            sha256,
            "download of {len} bytes"
        );

        // The same stream feeds extraction (`BlobStore::read`).
        let mut stream = served.store.read(&blob).await.unwrap();
        let mut hasher = Sha256::new();
        let mut read = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            read += chunk.len();
            hasher.update(&chunk);
        }
        assert_eq!(read, len, "read of {len} bytes");
        assert_eq!(
            hex::encode(hasher.finalize()),
            sha256,
            "read of {len} bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_abandoned_midway_does_not_stop_the_next_ones() {
    let served = common::served_store(64 * MIB as u64).await;
    let bytes = content(16 * MIB);
    let blob = stored(&served, &bytes).await;
    let link = download_link(&served, &blob).await;

    // Several clients read a little and hang up; each reader thread must notice
    // and stop, not stay blocked on a full queue.
    for _ in 0..8 {
        let mut response = reqwest::get(&link.url).await.unwrap();
        assert_eq!(response.status(), 200);
        let first = response.chunk().await.unwrap().unwrap();
        assert!(!first.is_empty());
        drop(response);
    }
    let url = reqwest::Url::parse(&link.url).unwrap();
    // And one over a raw socket that never reads the body at all.
    let mut socket = tokio::net::TcpStream::connect((
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap(),
    ))
    .await
    .unwrap();
    let request = format!(
        "GET {}?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        url.path(),
        url.query().unwrap_or_default()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut some = [0u8; 512];
    let _ = socket.read(&mut some).await.unwrap();
    drop(socket);

    let body = reqwest::get(&link.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        body == bytes,
        "a full download after abandoned ones differs"
    );

    // A missing blob is still a 404 with the same error as before.
    served.store.delete(&blob).await.unwrap();
    let response = reqwest::get(&link.url).await.unwrap();
    assert_eq!(response.status(), 404);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"].as_str(), Some("not_found"));
}
