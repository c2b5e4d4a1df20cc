//! Issue 16 (hardening, round two): late and dead upload links, slow clients,
//! request ids, duplicate credentials, file permissions.

use std::time::Duration;

use kumocms_core::ports::EventSink as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestServer, assert_error, files_under, sha256_hex};

/// An upload sent by hand over TCP, so that a test can hold it half-way.
struct HeldUpload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HeldUpload {
    /// Sends the request head and the first `sent` bytes of `body`.
    async fn start(upload: &Value, body: &[u8], sent: usize) -> Self {
        let url = reqwest::Url::parse(upload["url"].as_str().expect("url")).expect("url");
        let address = format!(
            "{}:{}",
            url.host_str().expect("host"),
            url.port().expect("port")
        );
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let mut head = format!(
            "PUT {}?{} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            url.path(),
            url.query().unwrap_or_default(),
            url.host_str().expect("host"),
            body.len()
        );
        for (name, value) in upload["headers"].as_object().expect("headers") {
            head.push_str(&format!("{name}: {}\r\n", value.as_str().expect("value")));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&body[..sent]).await.expect("first part");
        stream.flush().await.expect("flush");
        Self {
            stream,
            rest: body[sent..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the status and the JSON body.
    async fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(&self.rest).await.expect("rest");
        self.stream.flush().await.expect("flush");
        let mut response = Vec::new();
        let mut buffer = [0_u8; 4096];
        // The server answers with Content-Length; read until the body is complete.
        loop {
            let read = tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut buffer))
                .await
                .expect("response in time")
                .expect("read");
            if read == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..read]);
            if let Some((status, body)) = parse_response(&response) {
                return (status, body);
            }
        }
        parse_response(&response).expect("a whole response")
    }
}

fn parse_response(bytes: &[u8]) -> Option<(u16, Value)> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    if body.len() < length {
        return None;
    }
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Item 3: upload B is started on a pending document and held. Meanwhile the same
/// revision's content arrives another way (a second link to the same key cannot:
/// item 2 refuses it while B runs), becomes active and is archived; then B
/// finishes. B must be refused and store nothing: no bytes in hot/, an old download
/// link serves nothing while the record is archived, and after the restore the
/// served bytes are the first ones.
#[tokio::test]
async fn a_late_upload_cannot_swap_the_content_of_an_archived_document() {
    let server = TestServer::start().await;
    let first = b"AAAAAAAAAAAAAAAA".to_vec();
    let late = b"BBBBBBBBBBBBBBBB".to_vec();
    let created = server
        .create(
            json!({"file_name": "a.txt", "file_size": first.len(), "content_type": "text/plain"}),
        )
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    let held = HeldUpload::start(&created["upload"], &late, 4).await;
    // Let the server start receiving B.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A second upload through the same link is refused while B runs (item 2).
    let (status, body) = server.upload(&created["upload"], &first).await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_in_progress");
    // The content arrives as a concurrent writer would put it: in hot/, then its
    // event.
    let key = format!("documents/{id}/r1");
    let hot = server.data_dir.join("blobs/hot").join(&key);
    std::fs::create_dir_all(hot.parent().expect("parent")).expect("dir");
    std::fs::write(&hot, &first).expect("content");
    let backend = &server.server.as_ref().expect("running").backend;
    backend
        .events
        .publish(kumocms_core::events::StorageEvent::ObjectCreated {
            location: kumocms_core::ports::BlobStore::location(backend.blobs.as_ref()),
            key: key.clone(),
        })
        .await;
    let active = server.wait_for_status(&id, "active").await;
    let old_download = active["download"]["url"]
        .as_str()
        .expect("download")
        .to_owned();
    let (status, _, archived) = server
        .call(Method::POST, &format!("/documents/{id}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{archived}");
    server.idle().await;

    let (status, body) = held.finish().await;
    assert_eq!(status, 409, "the late upload must be refused: {body}");
    server.idle().await;
    let hot_files = files_under(&server.data_dir.join("blobs/hot"));
    assert!(
        hot_files.iter().all(|p| !p.contains(&id)),
        "bytes in hot/: {hot_files:?}"
    );
    let (status, _) = server.fetch(&old_download).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) = server
        .call(Method::POST, &format!("/documents/{id}/restore"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let restored = server.wait_for_status(&id, "restored").await;
    assert_eq!(
        restored["checksum_sha256"],
        sha256_hex(&first),
        "{restored}"
    );
    let (status, bytes) = server
        .fetch(restored["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, first);
}

/// Item 2: one upload per link at a time (a second concurrent PUT gets 409 at
/// once), a cap on all uploads (503 with Retry-After), and the API answers while
/// uploads hold every slot.
#[tokio::test]
async fn uploads_are_one_per_link_and_capped_and_the_api_never_waits_behind_them() {
    let server = TestServer::start_with(|o| o.max_concurrent_uploads = 2).await;
    let mut held = Vec::new();
    let mut uploads = Vec::new();
    for n in 0..3 {
        let created = server
            .create(json!({"file_name": format!("{n}.bin"), "file_size": 1000}))
            .await;
        uploads.push(created["upload"].clone());
    }
    for upload in &uploads[..2] {
        held.push(HeldUpload::start(upload, &[7_u8; 1000], 10).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (status, body) = server.upload(&uploads[0], &[7_u8; 1000]).await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_in_progress");
    let response = server
        .http
        .put(uploads[2]["url"].as_str().expect("url"))
        .header("Content-Type", "application/octet-stream")
        .body(vec![7_u8; 1000])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["retry-after"], "5");
    let (status, _, body) = crate::common::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_uploads",
    );
    // Refusals come at once, not after the body.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (status, _, _) = server.call(Method::GET, "/healthcheck", None).await;
    assert_eq!(status, StatusCode::OK);
    server
        .create(json!({"file_name": "more.txt", "file_size": 1}))
        .await;
    for upload in held {
        let (status, body) = upload.finish().await;
        assert_eq!(status, 200, "{body}");
    }
    // Slots are given back: the third upload now goes through.
    let (status, body) = server.upload(&uploads[2], &[7_u8; 1000]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Item 3, the serving side: bytes put in hot/ by hand beside archived content are
/// never served through a link while the record is not readable.
#[tokio::test]
async fn hot_files_are_not_served_for_an_archived_record() {
    let server = TestServer::start().await;
    let id = server
        .create_active("a.txt", "text/plain", b"real", json!({}))
        .await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let link = document["download"]["url"]
        .as_str()
        .expect("download")
        .to_owned();
    let (status, _, _) = server
        .call(Method::POST, &format!("/documents/{id}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.idle().await;
    let stray = server.data_dir.join(format!("blobs/hot/documents/{id}/r1"));
    std::fs::create_dir_all(stray.parent().expect("parent")).expect("dir");
    std::fs::write(&stray, b"fake").expect("stray file");
    let (status, bytes) = server.fetch(&link).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

/// Item 12: an upload link for a deleted document answers 410, one for a revision
/// already superseded 409, both with a JSON error, and nothing is stored.
#[tokio::test]
async fn dead_upload_links_answer_409_or_410_and_store_nothing() {
    let server = TestServer::start().await;
    let created = server
        .create(json!({"file_name": "gone.txt", "file_size": 4}))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    let (status, _, _) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.upload(&created["upload"], b"late").await;
    assert_error(status, &body, StatusCode::GONE, "document_gone");

    let created = server
        .create(json!({"file_name": "old.txt", "file_size": 4}))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": 3})),
        )
        .await;
    assert!(status.is_success(), "{replaced}");
    let (status, body) = server.upload(&created["upload"], b"old!").await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_superseded");
    let (status, body) = server.upload(&replaced["upload"], b"new").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let document = server.wait_for_status(&id, "active").await;
    assert_eq!(document["size"], 3, "{document}");
    let hot = files_under(&server.data_dir.join("blobs/hot"));
    assert!(
        hot.iter().all(|p| !p.ends_with(&format!("{id}/r1"))),
        "{hot:?}"
    );
}

/// Item 5: listing pages are capped by bytes as well as count (local backend).
#[tokio::test]
async fn listing_pages_are_capped_by_bytes() {
    let server = TestServer::start().await;
    let heavy = "m".repeat(16_000);
    let mut created = std::collections::BTreeSet::new();
    for n in 0..150 {
        let document = server
            .create(json!({"file_name": format!("{n}.txt"), "file_size": 1,
                "document_type": "heavy", "metadata": {"blob": heavy}}))
            .await;
        created.insert(document["document_id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/documents?type=heavy&limit=1000".to_owned();
    loop {
        let response = server
            .http
            .get(server.url(&path))
            .header("Authorization", format!("Bearer {}", crate::common::KEY))
            .send()
            .await
            .expect("listed");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.bytes().await.expect("body");
        assert!(
            bytes.len() < 3 * 1024 * 1024,
            "a page of {} bytes",
            bytes.len()
        );
        let page: Value = serde_json::from_slice(&bytes).expect("json");
        for document in page["documents"].as_array().expect("documents") {
            seen.push(document["document_id"].as_str().expect("id").to_owned());
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/documents?type=heavy&limit=1000&cursor={cursor}"),
            None => break,
        }
    }
    assert!(pages >= 2, "150 records of 16 KiB must not fit one page");
    assert_eq!(seen.len(), created.len(), "each record exactly once");
    assert_eq!(
        seen.into_iter().collect::<std::collections::BTreeSet<_>>(),
        created
    );
}

/// Item 13: more than one Authorization header is refused, in either order.
#[tokio::test]
async fn two_authorization_headers_are_refused_in_either_order() {
    let server = TestServer::start().await;
    let good = format!("Bearer {}", crate::common::KEY);
    for (first, second) in [
        (good.as_str(), "Bearer bad"),
        ("Bearer bad", good.as_str()),
        (good.as_str(), good.as_str()),
    ] {
        let response = server
            .http
            .get(server.url("/documents"))
            .header("Authorization", first)
            .header("Authorization", second)
            .send()
            .await
            .expect("sent");
        let (status, _, body) = crate::common::read(response).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let (status, _, _) = server.call(Method::GET, "/documents", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// Item 10: a client's request id reaches the logs and the response only in a
/// safe shape; anything else is replaced by a generated one.
#[tokio::test]
async fn unsafe_request_ids_are_replaced() {
    let server = TestServer::start().await;
    let id_for = |sent: &'static str| {
        let request = server
            .http
            .get(server.url("/healthcheck"))
            .header("X-Request-Id", sent);
        async move {
            let response = request.send().await.expect("sent");
            response.headers()["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_owned()
        }
    };
    assert_eq!(id_for("client-id_1.2").await, "client-id_1.2");
    for forged in [
        "x request_id=spoofed status=200",
        "a\"b",
        "x=y",
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    ] {
        let got = id_for(forged).await;
        assert_ne!(got, forged);
        assert_eq!(got.len(), 26, "a generated ULID: {got}");
        assert!(kumocms_api::is_safe_request_id(&got), "{got}");
    }
}

/// Item 9: a key no request could present stops the server at start, saying why.
#[tokio::test]
async fn keys_no_request_could_present_refuse_to_start() {
    let temp = tempfile::tempdir().expect("temp");
    for (current, previous, why) in [
        ("k".repeat(513), None, "513 bytes"),
        (" padded-key".to_owned(), None, "whitespace"),
        ("inner space".to_owned(), None, "whitespace"),
        (
            "good-key".to_owned(),
            Some("old key".to_owned()),
            "previous",
        ),
        ("cl\u{e9}".to_owned(), None, "printable ASCII"),
    ] {
        let mut options = crate::common::options(&temp.path().join("data"));
        options.api_key = Some(current.clone());
        options.api_key_previous = previous.clone();
        let error = match kumocms_cli::server::start(options).await {
            Ok(_) => panic!("{current:?}/{previous:?} must not start"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(why), "{why}: {error}");
    }
}

/// Item 8: the data directory is 0700 and what is in it 0600, whatever the
/// umask, and an existing directory is tightened at start.
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let server = TestServer::start().await;
    let id = server
        .create_active("a.txt", "text/plain", b"private", json!({}))
        .await;
    let data = server.data_dir.clone();
    assert_eq!(mode(&data), 0o700);
    for dir in ["blobs", "blobs/hot", "tmp", "blobs/restores"] {
        assert_eq!(mode(&data.join(dir)), 0o700, "{dir}");
    }
    assert_eq!(mode(&data.join(format!("blobs/hot/documents/{id}"))), 0o700);
    assert_eq!(
        mode(&data.join(format!("blobs/hot/documents/{id}/r1"))),
        0o600
    );
    for entry in std::fs::read_dir(&data).expect("dir") {
        let path = entry.expect("entry").path();
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), wanted, "{}", path.display());
    }
    let (status, _, _) = server
        .call(Method::POST, &format!("/documents/{id}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.stop().await;

    // A directory left world-readable (an earlier release, or by hand).
    let temp = tempfile::tempdir().expect("temp");
    let data = temp.path().join("data");
    std::fs::create_dir(&data).expect("dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(data.join("notes.txt"), b"x").expect("file");
    std::fs::set_permissions(
        data.join("notes.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let server = TestServer::start_in(&data, |_| {}).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("notes.txt")), 0o600);
    server.stop().await;
}

/// Item 15: JSON 405s on link routes, 413 for an oversized chunked JSON body and
/// for a file_size past u64, If-Match lists.
#[tokio::test]
async fn smaller_hardening_items() {
    let server = TestServer::start().await;
    let created = server
        .create(json!({"file_name": "a.txt", "file_size": 3}))
        .await;
    let url = created["upload"]["url"].as_str().expect("url").to_owned();
    for method in [Method::POST, Method::DELETE, Method::PATCH] {
        let response = server
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .expect("sent");
        let allow = response.headers().get("allow").cloned();
        let (status, _, body) = crate::common::read(response).await;
        assert_error(
            status,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
        assert!(allow.is_some(), "{method}: an Allow header");
    }

    // A chunked body (no Content-Length) over 64 KiB.
    let big = format!(
        "{{\"file_name\": \"a.txt\", \"file_size\": 1, \"metadata\": {{\"x\": \"{}\"}}}}",
        "y".repeat(70_000)
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let response = server
        .http
        .post(server.url("/documents"))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("sent");
    let (status, _, body) = crate::common::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );

    for size in ["1e20", "18446744073709551616", "100000000000000000000"] {
        let response = server
            .http
            .post(server.url("/documents"))
            .header("Authorization", format!("Bearer {}", crate::common::KEY))
            .header("Content-Type", "application/json")
            .body(format!(
                "{{\"file_name\": \"a.txt\", \"file_size\": {size}}}"
            ))
            .send()
            .await
            .expect("sent");
        let (status, _, body) = crate::common::read(response).await;
        assert_error(
            status,
            &body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
        );
    }

    let id = server
        .create_active("m.txt", "text/plain", b"abc", json!({}))
        .await;
    let (_, headers, _) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let patch = |if_match: String| {
        server
            .http
            .patch(server.url(&format!("/documents/{id}")))
            .header("Authorization", format!("Bearer {}", crate::common::KEY))
            .header("If-Match", if_match)
            .json(&json!({"metadata": {"k": "v"}}))
            .send()
    };
    let response = patch(format!("\"999\", {etag}")).await.expect("sent");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a list holding the current ETag"
    );
    let response = patch("\"998\", \"999\"".to_owned()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
}
