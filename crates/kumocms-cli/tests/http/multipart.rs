//! Multipart uploads and ranged downloads on a real `kumocms serve` (issue 12).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, files_under, manual_clock, read, sha256_hex};

const MIB: usize = 1024 * 1024;
const PART: usize = 5 * MIB;

/// Deterministic bytes that differ in every part (so a part at the wrong offset
/// changes the SHA-256).
fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 13)) as u8)
        .collect()
}

async fn start_multipart(server: &TestServer, bytes: &[u8], extra: Value) -> (String, Value) {
    let mut body = json!({
        "file_name": "big.bin",
        "file_size": bytes.len(),
        "upload_mode": "multipart",
        "part_size": PART,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let created = server.create(body).await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    (id, created["upload"].clone())
}

async fn part_links(server: &TestServer, id: &str, upload_id: &str, numbers: &[u32]) -> Vec<Value> {
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/uploads/{upload_id}/parts"),
            Some(json!({"part_numbers": numbers})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["parts"].as_array().expect("parts").clone()
}

/// Sends a part through its link exactly as a client would.
async fn put_part(
    server: &TestServer,
    link: &Value,
    bytes: &[u8],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = server.http.put(link["url"].as_str().expect("url"));
    for (name, value) in link["headers"].as_object().expect("headers") {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // reqwest sets it from the body
        }
        request = request.header(name, value.as_str().expect("header"));
    }
    let response = request
        .body(bytes.to_vec())
        .send()
        .await
        .expect("part sent");
    read(response).await
}

fn part_of(bytes: &[u8], number: u32) -> &[u8] {
    let start = (number as usize - 1) * PART;
    &bytes[start..(start + PART).min(bytes.len())]
}

async fn complete(server: &TestServer, id: &str, upload_id: &str) -> (StatusCode, Value) {
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/uploads/{upload_id}/complete"),
            None,
        )
        .await;
    (status, body)
}

async fn download(server: &TestServer, id: &str) -> Vec<u8> {
    let (status, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, bytes) = server
        .fetch(document["download"]["url"].as_str().expect("download url"))
        .await;
    assert_eq!(status, StatusCode::OK);
    bytes
}

#[tokio::test]
async fn three_parts_sent_in_reverse_order_become_the_content() {
    let server = TestServer::start().await;
    let bytes = content(3 * PART - 1000);
    let (id, upload) = start_multipart(
        &server,
        &bytes,
        json!({"checksum_sha256": sha256_hex(&bytes)}),
    )
    .await;
    assert_eq!(upload["mode"], "multipart", "{upload}");
    assert_eq!(upload["part_size"], PART);
    assert_eq!(upload["part_count"], 3);
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[3, 2, 1]).await;
    assert_eq!(links.len(), 3);
    assert_eq!(links[2]["size"], (3 * PART - 1000 - 2 * PART));
    for link in links.iter().rev() {
        let number = link["part_number"].as_u64().expect("n") as u32;
        let (status, headers, body) = put_part(&server, link, part_of(&bytes, number)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(headers.get("etag").is_some());
    }
    let (status, body) = complete(&server, &id, upload_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let document = server.wait_for_status(&id, "active").await;
    assert_eq!(document["size"], bytes.len(), "{document}");
    assert_eq!(download(&server, &id).await, bytes);
    // Completed: the upload id is gone everywhere.
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/uploads/{upload_id}/parts"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    assert!(
        !files_under(&server.data_dir.join("multipart"))
            .iter()
            .any(|f| f.contains(upload_id)),
        "the upload's directory is gone"
    );
}

#[tokio::test]
async fn a_client_resumes_after_listing_the_parts_received() {
    let server = TestServer::start().await;
    let bytes = content(3 * PART);
    let (id, upload) = start_multipart(&server, &bytes, json!({})).await;
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    // The client sends part 2 and "crashes".
    let links = part_links(&server, &id, upload_id, &[2]).await;
    let (status, _, _) = put_part(&server, &links[0], part_of(&bytes, 2)).await;
    assert_eq!(status, StatusCode::OK);
    // It comes back: which parts arrived?
    let (status, _, listed) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/uploads/{upload_id}/parts"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["part_count"], 3);
    assert_eq!(listed["part_size"], PART);
    let parts = listed["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 1, "{listed}");
    assert_eq!(parts[0]["part_number"], 2);
    assert_eq!(parts[0]["size"], PART);
    // The part's ETag is a CRC-32 of its bytes (the whole file's SHA-256 is kept
    // as the parts arrive, not per part).
    assert_eq!(
        parts[0]["etag"],
        format!("crc32-{:08x}", crc32fast::hash(part_of(&bytes, 2)))
    );
    // Completing now names what is missing, and makes nothing current.
    let (status, body) = complete(&server, &id, upload_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "missing_parts");
    assert!(body["message"].as_str().unwrap().contains("1, 3"), "{body}");
    // It sends the rest with fresh links and completes.
    for link in part_links(&server, &id, upload_id, &[1, 3]).await {
        let number = link["part_number"].as_u64().expect("n") as u32;
        let (status, _, body) = put_part(&server, &link, part_of(&bytes, number)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = complete(&server, &id, upload_id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.wait_for_status(&id, "active").await;
    assert_eq!(
        sha256_hex(&download(&server, &id).await),
        sha256_hex(&bytes)
    );
}

#[tokio::test]
async fn wrong_parts_are_refused_and_nothing_is_made_current() {
    let server = TestServer::start().await;
    let bytes = content(2 * PART + 10);
    let (id, upload) = start_multipart(&server, &bytes, json!({})).await;
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[1]).await;
    // Too short, then too long.
    let (status, _, body) = put_part(&server, &links[0], &bytes[..PART - 1]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "size_mismatch");
    let (status, _, body) = put_part(&server, &links[0], &bytes[..PART + 1]).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // A part beyond part_count gets no link.
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/uploads/{upload_id}/parts"),
            Some(json!({"part_numbers": [4]})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_part_number",
    );
    for numbers in [json!([]), json!([0])] {
        let (status, _, body) = server
            .call(
                Method::POST,
                &format!("/documents/{id}/uploads/{upload_id}/parts"),
                Some(json!({"part_numbers": numbers})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // A tampered link (another part number) is refused by its signature.
    let tampered = links[0]["url"]
        .as_str()
        .unwrap()
        .replace("part=1", "part=2");
    let (status, _, body) = put_part(
        &server,
        &json!({"url": tampered, "headers": {}}),
        part_of(&bytes, 2),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "invalid_signature");
    // Nothing arrived whole; completion names every part.
    let (status, _, listed) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/uploads/{upload_id}/parts"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["parts"], json!([]));
    let (status, body) = complete(&server, &id, upload_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "missing_parts");
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["status"], "pending_upload", "{document}");
    // An unknown upload id.
    let (status, body) = complete(&server, &id, "01J0000000000000000000000Z").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
}

#[tokio::test]
async fn a_part_link_expires() {
    let clock = manual_clock();
    let server = TestServer::start_with({
        let clock = clock.clone();
        move |o| {
            o.service.upload_link_ttl = Duration::from_secs(60);
            o.clock = clock;
        }
    })
    .await;
    let bytes = content(PART + 1);
    let (id, upload) = start_multipart(&server, &bytes, json!({})).await;
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[1]).await;
    clock.advance(chrono::Duration::seconds(61));
    let (status, _, body) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "link_expired");
    // Re-signing is allowed at any time.
    let links = part_links(&server, &id, upload_id, &[1]).await;
    let (status, _, body) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_checksum_mismatch_at_completion_leaves_the_current_content() {
    let server = TestServer::start().await;
    let first = server
        .create_active(
            "big.bin",
            "application/octet-stream",
            b"version one",
            json!({}),
        )
        .await;
    let bytes = content(2 * PART);
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{first}"),
            Some(json!({
                "file_size": bytes.len(),
                "upload_mode": "multipart",
                "part_size": PART,
                "checksum_sha256": sha256_hex(b"something else"),
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let upload_id = replaced["upload"]["upload_id"].as_str().expect("upload_id");
    for link in part_links(&server, &first, upload_id, &[1, 2]).await {
        let number = link["part_number"].as_u64().expect("n") as u32;
        let (status, _, _) = put_part(&server, &link, part_of(&bytes, number)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = complete(&server, &first, upload_id).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "checksum_mismatch");
    server.idle().await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{first}"), None)
        .await;
    assert_eq!(document["status"], "active");
    assert_eq!(document["revision"], 1, "{document}");
    assert_eq!(download(&server, &first).await, b"version one");
}

async fn complete_declaring(
    server: &TestServer,
    id: &str,
    upload_id: &str,
    checksum: &str,
) -> (StatusCode, Value) {
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/uploads/{upload_id}/complete"),
            Some(json!({"checksum_sha256": checksum})),
        )
        .await;
    (status, body)
}

/// Starts a multipart replacement of `id` with `bytes` and sends every part.
async fn replacement_sent(server: &TestServer, id: &str, bytes: &[u8], extra: Value) -> String {
    let mut request = json!({
        "file_size": bytes.len(),
        "upload_mode": "multipart",
        "part_size": PART,
    });
    if let (Some(request), Some(extra)) = (request.as_object_mut(), extra.as_object()) {
        request.extend(extra.clone());
    }
    let (status, _, replaced) = server
        .call(Method::PUT, &format!("/documents/{id}"), Some(request))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let upload_id = replaced["upload"]["upload_id"]
        .as_str()
        .expect("upload_id")
        .to_owned();
    let count = bytes.len().div_ceil(PART) as u32;
    let numbers: Vec<u32> = (1..=count).rev().collect();
    for link in part_links(server, id, &upload_id, &numbers).await {
        let number = link["part_number"].as_u64().expect("n") as u32;
        let (status, _, body) = put_part(server, &link, part_of(bytes, number)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    upload_id
}

#[tokio::test]
async fn a_checksum_declared_at_completion_is_verified_before_the_content_becomes_current() {
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "big.bin",
            "application/octet-stream",
            b"version one",
            json!({}),
        )
        .await;
    let bytes = content(2 * PART + 777);
    let upload_id = replacement_sent(&server, &id, &bytes, json!({})).await;
    // Wrong: refused, nothing current, and the refused checksum is not kept.
    let (status, body) =
        complete_declaring(&server, &id, &upload_id, &sha256_hex(b"something else")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "checksum_mismatch");
    server.idle().await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["revision"], 1, "{document}");
    assert_eq!(download(&server, &id).await, b"version one");
    // Malformed: refused.
    let (status, body) = complete_declaring(&server, &id, &upload_id, "abc").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_checksum");
    // Right (any case): joined, checked, current.
    let (status, body) = complete_declaring(
        &server,
        &id,
        &upload_id,
        &sha256_hex(&bytes).to_ascii_uppercase(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.idle().await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["status"], "active", "{document}");
    assert_eq!(document["revision"], 2, "{document}");
    assert_eq!(
        document["checksum_sha256"],
        sha256_hex(&bytes),
        "{document}"
    );
    assert_eq!(download(&server, &id).await, bytes);
}

#[tokio::test]
async fn checksums_declared_at_create_and_at_completion_must_agree() {
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "big.bin",
            "application/octet-stream",
            b"version one",
            json!({}),
        )
        .await;
    let bytes = content(PART + 10);
    let upload_id = replacement_sent(
        &server,
        &id,
        &bytes,
        json!({"checksum_sha256": sha256_hex(&bytes)}),
    )
    .await;
    let (status, body) =
        complete_declaring(&server, &id, &upload_id, &sha256_hex(b"something else")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "checksum_conflict");
    server.idle().await;
    assert_eq!(download(&server, &id).await, b"version one");
    let (status, body) = complete_declaring(&server, &id, &upload_id, &sha256_hex(&bytes)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.idle().await;
    assert_eq!(download(&server, &id).await, bytes);
}

#[tokio::test]
async fn a_part_sent_again_after_it_was_hashed_is_what_completion_checks() {
    // The running hash took part 1 when it first arrived; sending part 1 again
    // with other bytes must not let the old hash vouch for the new file.
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "big.bin",
            "application/octet-stream",
            b"version one",
            json!({}),
        )
        .await;
    let bytes = content(2 * PART);
    let upload_id = replacement_sent(&server, &id, &bytes, json!({})).await;
    let mut tampered = bytes.clone();
    tampered[10] ^= 0xff;
    let link = part_links(&server, &id, &upload_id, &[1]).await.remove(0);
    let (status, _, body) = put_part(&server, &link, part_of(&tampered, 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = complete_declaring(&server, &id, &upload_id, &sha256_hex(&bytes)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "checksum_mismatch");
    let (status, body) = complete_declaring(&server, &id, &upload_id, &sha256_hex(&tampered)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.idle().await;
    assert_eq!(download(&server, &id).await, tampered);
}

#[tokio::test]
async fn an_aborted_upload_is_gone_and_the_current_content_stays() {
    let server = TestServer::start().await;
    let id = server
        .create_active("a.bin", "application/octet-stream", b"kept", json!({}))
        .await;
    let bytes = content(PART + 5);
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": bytes.len(), "upload_mode": "multipart"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let upload_id = replaced["upload"]["upload_id"]
        .as_str()
        .expect("upload_id")
        .to_owned();
    let links = part_links(&server, &id, &upload_id, &[1]).await;
    assert_eq!(
        links[0]["size"],
        bytes.len(),
        "one part: the default part size is larger"
    );
    let (status, _, _) = put_part(&server, &links[0], &bytes).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = server
        .call(
            Method::DELETE,
            &format!("/documents/{id}/uploads/{upload_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The parts are gone, links to it store nothing, and every route says so.
    assert!(files_under(&server.data_dir.join("multipart")).is_empty());
    let (status, _, body) = put_part(&server, &links[0], &bytes).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    let (status, body) = complete(&server, &id, &upload_id).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    let (status, _, body) = server
        .call(
            Method::DELETE,
            &format!("/documents/{id}/uploads/{upload_id}"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["status"], "active");
    assert!(document["pending_upload"].is_null(), "{document}");
    assert_eq!(download(&server, &id).await, b"kept");
}

/// Issue 12: deleting a document (into the trash, or permanently) aborts its
/// unfinished multipart upload at once: its parts do not wait for the sweep of
/// orphans (TTL + 1 h), and its part links store nothing any more.
#[tokio::test]
async fn deleting_a_document_aborts_its_unfinished_multipart_upload_at_once() {
    // A sweep interval far beyond the test: only the delete can remove the parts.
    let server = TestServer::start_with(|o| o.sweep_interval = Duration::from_secs(3600)).await;
    let multipart_dir = server.data_dir.join("multipart");
    let bytes = content(PART + 1);

    // Permanently deleted while pending (never had content).
    let (id, upload) = start_multipart(&server, &bytes, json!({})).await;
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[1]).await;
    let (status, _, _) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!files_under(&multipart_dir).is_empty());
    let (status, _, body) = server
        .call(
            Method::DELETE,
            &format!("/documents/{id}?permanent=true"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(files_under(&multipart_dir), Vec::<String>::new());
    let (status, _, body) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(files_under(&multipart_dir), Vec::<String>::new());

    // Moved to the trash while a replacement is being uploaded in parts.
    let id = server
        .create_active("kept.bin", "application/octet-stream", b"kept", json!({}))
        .await;
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": bytes.len(), "upload_mode": "multipart", "part_size": PART})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let upload_id = replaced["upload"]["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[1]).await;
    let (status, _, _) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!files_under(&multipart_dir).is_empty());
    let (status, _, body) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(files_under(&multipart_dir), Vec::<String>::new());
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["status"], "deleted", "{document}");
}

#[tokio::test]
async fn the_sweeper_removes_an_abandoned_multipart_upload() {
    let server = TestServer::start_with(|o| {
        o.service.pending_upload_ttl = Duration::from_secs(5);
    })
    .await;
    let bytes = content(PART + 1);
    let (id, upload) = start_multipart(&server, &bytes, json!({})).await;
    let upload_id = upload["upload_id"].as_str().expect("upload_id");
    let links = part_links(&server, &id, upload_id, &[1]).await;
    let (status, _, _) = put_part(&server, &links[0], part_of(&bytes, 1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!files_under(&server.data_dir.join("multipart")).is_empty());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, _) = server
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        if status == StatusCode::NOT_FOUND
            && files_under(&server.data_dir.join("multipart")).is_empty()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn upload_mode_and_part_size_are_checked() {
    let server = TestServer::start().await;
    for (body, code) in [
        (
            json!({"file_name": "a", "file_size": 6u64 << 30, "upload_mode": "single"}),
            "invalid_upload_mode",
        ),
        (
            json!({"file_name": "a", "file_size": 100 * MIB, "part_size": MIB}),
            "invalid_part_size",
        ),
        (
            json!({"file_name": "a", "file_size": 100 * MIB, "upload_mode": "single", "part_size": PART}),
            "invalid_part_size",
        ),
    ] {
        let (status, _, answer) = server.call(Method::POST, "/documents", Some(body)).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, code);
    }
    // Over the threshold, multipart without asking; below it, one PUT.
    let big = server
        .create(json!({"file_name": "a", "file_size": 64 * MIB}))
        .await;
    assert_eq!(big["upload"]["mode"], "multipart", "{big}");
    let small = server
        .create(json!({"file_name": "a", "file_size": 10}))
        .await;
    assert_eq!(small["upload"]["mode"], "single", "{small}");
    assert!(small["upload"]["url"].is_string());
}

#[tokio::test]
async fn downloads_answer_single_ranges() {
    let server = TestServer::start().await;
    let bytes = content(1000);
    let id = server
        .create_active("r.bin", "application/octet-stream", &bytes, json!({}))
        .await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let url = document["download"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let ranged = |range: &'static str| {
        let request = server.http.get(&url).header("Range", range);
        async move { request.send().await.expect("sent") }
    };
    let whole = server.http.get(&url).send().await.expect("sent");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    for (range, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=-10", 990, 999),
        ("bytes=500-", 500, 999),
        ("bytes=990-5000", 990, 999),
    ] {
        let response = ranged(range).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {first}-{last}/1000").as_str(),
            "{range}"
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(&body[..], &bytes[first..=last], "{range}");
    }
    let response = ranged("bytes=1000-").await;
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()["content-range"], "bytes */1000");
    let (_, _, body) = read(response).await;
    assert_eq!(body["error"], "range_not_satisfiable");
    // If-Range: the same ETag gets the range, another one the whole content.
    let response = server
        .http
        .get(&url)
        .header("Range", "bytes=0-9")
        .header("If-Range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let response = server
        .http
        .get(&url)
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len(), 1000);
}
