use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestServer, assert_error, minimal_pdf, sha256_hex};

#[tokio::test]
async fn create_upload_read_download_and_delete() {
    let server = TestServer::start().await;
    let pdf = minimal_pdf(3);
    let created = server
        .create(json!({
            "file_name": "report.pdf",
            "file_size": pdf.len(),
            "content_type": "application/pdf",
            "checksum_sha256": sha256_hex(&pdf),
            "document_type": "invoice",
            "metadata": {"author": "Ada"}
        }))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    assert!(id.parse::<ulid::Ulid>().is_ok(), "{id}");
    assert_eq!(created["status"], "pending_upload");
    assert_eq!(created["upload"]["method"], "PUT");
    let headers = created["upload"]["headers"].as_object().expect("headers");
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v);
    assert_eq!(content_type, Some(&json!("application/pdf")), "{headers:?}");
    assert!(created["upload"]["expires_at"].is_string());

    // Before the content arrives there is nothing to read.
    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{id}/content"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_pending");
    let (_, _, pending) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert!(pending.get("download").is_none(), "{pending}");

    let (status, body) = server.upload(&created["upload"], &pdf).await;
    assert!(status.is_success(), "{status} {body}");
    let document = server.wait_for_status(&id, "active").await;
    assert_eq!(document["revision"], 1);
    assert_eq!(document["size"], pdf.len());
    assert_eq!(document["metadata"], json!({"author": "Ada"}));
    assert_eq!(document["extracted"]["sha256"], sha256_hex(&pdf));
    assert_eq!(document["extracted"]["page_count"], 3);
    assert_eq!(
        document["extracted"]["sniffed_content_type"],
        "application/pdf"
    );
    assert_eq!(document["extracted"]["content_type_mismatch"], false);

    // The download link in the record, and the redirect, both serve the bytes.
    let (status, bytes) = server
        .fetch(document["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, pdf);
    let (status, headers, _) = server
        .call(Method::GET, &format!("/documents/{id}/content"), None)
        .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    let response = server.http.get(&location).send().await.expect("follow");
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''report.pdf"),
        "{disposition}"
    );
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        pdf.as_slice()
    );

    // Into the trash first (`history.rs` covers it), then purged for good.
    let (status, _, body) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = server
        .call(
            Method::DELETE,
            &format!("/documents/{id}?permanent=true"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
    let (status, _) = server.fetch(&location).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let leftovers: Vec<_> = walk(&server.data_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.contains(&id))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (status, _, body) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn replacing_content_serves_the_old_version_until_the_new_one_arrives() {
    let server = TestServer::start().await;
    let id = server
        .create_active("notes.txt", "text/plain", b"version one", json!({}))
        .await;
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(
                json!({"file_size": 11, "content_type": "text/plain", "file_name": "notes-v2.txt"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["status"], "active");
    assert_eq!(replaced["pending_upload"]["revision"], 2);

    // Still version one while the upload is pending.
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["revision"], 1);
    let old_link = document["download"]["url"]
        .as_str()
        .expect("download")
        .to_owned();
    let (_, bytes) = server.fetch(&old_link).await;
    assert_eq!(bytes, b"version one");

    let (status, body) = server.upload(&replaced["upload"], b"version two").await;
    assert!(status.is_success(), "{body}");
    server.idle().await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["revision"], 2, "{document}");
    assert_eq!(document["file_name"], "notes-v2.txt");
    assert!(document.get("pending_upload").is_none());
    assert!(document["version"].as_u64() > replaced["version"].as_u64());
    let (_, bytes) = server
        .fetch(document["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(bytes, b"version two");
    // The replaced bytes are kept as revision 1 (`history.rs` covers the rest).
    let (status, bytes) = server.fetch(&old_link).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"version one");
}

#[tokio::test]
async fn archive_restore_and_expiry_go_round_the_loop() {
    let server =
        TestServer::start_with(|o| o.restore_day_length = std::time::Duration::from_secs(2)).await;
    let id = server
        .create_active("a.txt", "text/plain", b"cold data", json!({}))
        .await;
    let path = format!("/documents/{id}");

    let (status, _, body) = server
        .call(Method::POST, &format!("{path}/restore"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_archived");

    let (status, _, archived) = server
        .call(
            Method::POST,
            &format!("{path}/archive"),
            Some(json!({"storage_class": "DEEP_ARCHIVE"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{archived}");
    assert_eq!(archived["status"], "archived");
    assert_eq!(archived["storage_class"], "DEEP_ARCHIVE");
    server.idle().await;

    let (status, _, body) = server
        .call(Method::POST, &format!("{path}/archive"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_archived");
    let (status, _, body) = server
        .call(Method::GET, &format!("{path}/content"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "document_archived");
    let (_, _, document) = server.call(Method::GET, &path, None).await;
    assert_eq!(
        document["status"], "archived",
        "the copy in place must not reset the document"
    );
    assert!(document.get("download").is_none());

    for bad in [
        json!({"days": 0}),
        json!({"days": 366}),
        json!({"tier": "SuperFast"}),
        json!({"days": "1"}),
    ] {
        let (status, _, body) = server
            .call(Method::POST, &format!("{path}/restore"), Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }
    let (status, _, restoring) = server
        .call(
            Method::POST,
            &format!("{path}/restore"),
            Some(json!({"days": 1, "tier": "Expedited"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{restoring}");
    assert_eq!(restoring["status"], "restoring");
    let (status, _, body) = server
        .call(Method::POST, &format!("{path}/restore"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "restore_in_progress");
    let (status, _, body) = server
        .call(Method::GET, &format!("{path}/content"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "restore_in_progress");

    let restored = server.wait_for_status(&id, "restored").await;
    assert!(
        restored["restore"]["available_until"].is_string(),
        "{restored}"
    );
    let (_, bytes) = server
        .fetch(restored["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(bytes, b"cold data");
    let (status, _, body) = server
        .call(Method::POST, &format!("{path}/restore"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_restored");

    // The restored copy expires after `days` (a 2-second day here).
    let expired = server.wait_for_status(&id, "archived").await;
    assert!(expired.get("download").is_none());
}

#[tokio::test]
async fn racing_transitions_give_one_success_and_one_conflict() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let id = server
            .create_active("r.txt", "text/plain", b"race", json!({}))
            .await;
        let path = format!("/documents/{id}/archive");
        let (a, b) = tokio::join!(
            server.call(Method::POST, &path, None),
            server.call(Method::POST, &path, None)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::ACCEPTED, StatusCode::CONFLICT],
            "{} / {}",
            a.2,
            b.2
        );
        let (_, _, document) = server
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        assert_eq!(document["status"], "archived");
    }
}

#[tokio::test]
async fn patch_merges_metadata_and_honours_if_match() {
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "m.txt",
            "text/plain",
            b"meta",
            json!({"metadata": {"a": 1, "nested": {"x": 1, "y": 2}}}),
        )
        .await;
    let path = format!("/documents/{id}");
    let (_, headers, document) = server.call(Method::GET, &path, None).await;
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_owned();
    assert_eq!(etag, document["etag"]);

    let patch = |if_match: &str| {
        server
            .http
            .patch(server.url(&path))
            .header("Authorization", format!("Bearer {}", crate::common::KEY))
            .header("If-Match", if_match)
            .json(&json!({"metadata": {"a": null, "nested": {"y": 3}, "b": true}, "document_type": "memo"}))
            .send()
    };
    let response = patch(&etag).await.expect("sent");
    let (status, headers, patched) = crate::common::read(response).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["metadata"],
        json!({"nested": {"x": 1, "y": 3}, "b": true})
    );
    assert_eq!(patched["document_type"], "memo");
    assert_ne!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );

    // The same ETag again is now stale.
    let (status, _, body) = crate::common::read(patch(&etag).await.expect("sent")).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let (status, _, body) = crate::common::read(patch("garbage").await.expect("sent")).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let (_, _, unchanged) = server.call(Method::GET, &path, None).await;
    assert_eq!(unchanged["metadata"], patched["metadata"]);
}

#[tokio::test]
async fn pending_uploads_that_never_complete_expire() {
    let server = TestServer::start_with(|o| {
        o.service.pending_upload_ttl = std::time::Duration::from_secs(1)
    })
    .await;
    let created = server
        .create(json!({"file_name": "never.bin", "file_size": 10}))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, _, _) = server
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pending upload never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Its link is dead too.
    let (status, _) = server.upload(&created["upload"], b"0123456789").await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn sidecar_metadata_is_merged_without_touching_system_fields() {
    let server = TestServer::start().await;
    let created = server
        .create(json!({"file_name": "s.txt", "file_size": 4, "content_type": "text/plain", "metadata": {"owner": "api"}}))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    // A migration tool drops a sidecar next to the content before uploading it.
    let sidecar = server
        .data_dir
        .join(format!("blobs/hot/documents/{id}/r1.meta.json"));
    std::fs::create_dir_all(sidecar.parent().expect("parent")).expect("dir");
    std::fs::write(&sidecar, br#"{"owner": "sidecar", "project": "kumo", "status": "active", "document_id": "X", "version": 99}"#)
        .expect("sidecar");
    let (status, body) = server.upload(&created["upload"], b"data").await;
    assert!(status.is_success(), "{body}");
    let document = server.wait_for_status(&id, "active").await;
    assert_eq!(document["document_id"], id.as_str());
    assert_eq!(
        document["metadata"]["owner"], "api",
        "values set through the API win"
    );
    assert_eq!(document["metadata"]["project"], "kumo");
    assert_eq!(document["metadata"]["status"], "active");
    assert_eq!(document["metadata"]["version"], 99);
    assert_ne!(document["version"], 99);
    assert_eq!(document["extracted"]["sidecar_applied"], true);
}
