//! Revisions, the trash and preconditions over HTTP, on a real server.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, sha256_hex};

/// Replaces the content of `id` with `bytes` and waits for it to become current.
async fn replace(server: &TestServer, id: &str, bytes: &[u8]) -> Value {
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": bytes.len(), "content_type": "text/plain"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let (status, body) = server.upload(&replaced["upload"], bytes).await;
    assert!(status.is_success(), "{body}");
    server.idle().await;
    replaced
}

async fn location(server: &TestServer, path: &str) -> String {
    let (status, headers, body) = server.call(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{body}");
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned()
}

#[tokio::test]
async fn replace_keeps_revisions_that_list_download_and_restore() {
    let server = TestServer::start().await;
    let id = server
        .create_active("notes.txt", "text/plain", b"version one", json!({}))
        .await;
    replace(&server, &id, b"version two!").await;

    let (status, _, page) = server
        .call(Method::GET, &format!("/documents/{id}/revisions"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 2, "{page}");
    let revisions = page["revisions"].as_array().expect("revisions");
    assert_eq!(revisions[0]["revision"], 2);
    assert_eq!(revisions[0]["current"], true);
    assert_eq!(revisions[1]["revision"], 1);
    assert_eq!(revisions[1]["current"], false);
    assert_eq!(revisions[1]["size"], 11);
    assert_eq!(revisions[1]["checksum_sha256"], sha256_hex(b"version one"));
    assert_eq!(revisions[1]["file_name"], "notes.txt");
    assert_eq!(revisions[1]["content_type"], "text/plain");
    assert_eq!(revisions[1]["storage_class"], "STANDARD");
    assert_eq!(
        revisions[1]["extracted"]["sha256"],
        sha256_hex(b"version one")
    );
    assert!(revisions[1]["created_at"].is_string());

    // Paginated like the listing.
    let (_, _, first) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/revisions?limit=1"),
            None,
        )
        .await;
    assert_eq!(first["count"], 1);
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    let (_, _, second) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/revisions?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["revisions"][0]["revision"], 1, "{second}");
    assert!(second.get("next_cursor").is_none(), "{second}");

    // Revision 1: a download link, and the redirect.
    let (status, _, one) = server
        .call(Method::GET, &format!("/documents/{id}/revisions/1"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let (_, bytes) = server
        .fetch(one["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(bytes, b"version one");
    let link = location(&server, &format!("/documents/{id}/revisions/1/content")).await;
    assert_eq!(server.fetch(&link).await.1, b"version one");

    // Restore revision 1: it comes back as revision 3, history unchanged.
    let (status, _, restored) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/revisions/1/restore"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{restored}");
    assert_eq!(restored["pending_upload"]["revision"], 3, "{restored}");
    server.idle().await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["revision"], 3, "{document}");
    assert_eq!(document["checksum_sha256"], sha256_hex(b"version one"));
    let link = location(&server, &format!("/documents/{id}/content")).await;
    assert_eq!(server.fetch(&link).await.1, b"version one");
    let (_, _, page) = server
        .call(Method::GET, &format!("/documents/{id}/revisions"), None)
        .await;
    let numbers: Vec<u64> = page["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .filter_map(|r| r["revision"].as_u64())
        .collect();
    assert_eq!(numbers, vec![3, 2, 1]);
}

#[tokio::test]
async fn bad_revision_numbers_get_clear_errors() {
    let server = TestServer::start().await;
    let id = server
        .create_active("a.txt", "text/plain", b"only one", json!({}))
        .await;
    for bad in ["0", "-1", "abc", "1.5", "%2B1", "99999999999"] {
        for suffix in ["", "/content"] {
            let (status, _, body) = server
                .call(
                    Method::GET,
                    &format!("/documents/{id}/revisions/{bad}{suffix}"),
                    None,
                )
                .await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_revision");
        }
    }
    for path in [
        format!("/documents/{id}/revisions/2"),
        format!("/documents/{id}/revisions/2/content"),
    ] {
        let (status, _, body) = server.call(Method::GET, &path, None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "revision_not_found");
    }
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/revisions/7/restore"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "revision_not_found");
    let missing = ulid::Ulid::new().to_string();
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents/{missing}/revisions"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
    let (status, _, body) = server
        .call(
            Method::GET,
            &format!("/documents/{id}/revisions?limit=0"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_limit");
}

#[tokio::test]
async fn revision_retention_expires_old_revisions_from_listing_and_disk() {
    let server = TestServer::start_with(|options| {
        options.service.retention.revision_count = 2;
    })
    .await;
    let id = server
        .create_active("a.txt", "text/plain", b"one", json!({}))
        .await;
    replace(&server, &id, b"two").await;
    replace(&server, &id, b"three").await;
    let (_, _, page) = server
        .call(Method::GET, &format!("/documents/{id}/revisions"), None)
        .await;
    let numbers: Vec<u64> = page["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .filter_map(|r| r["revision"].as_u64())
        .collect();
    assert_eq!(numbers, vec![3, 2], "{page}");
    let (status, _, body) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/revisions/1/restore"),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "revision_not_found");
    let r1 = server
        .data_dir
        .join("blobs/hot/documents")
        .join(&id)
        .join("r1");
    assert!(!r1.exists(), "an expired revision leaves the disk too");
}

#[tokio::test]
async fn delete_moves_to_the_trash_and_undelete_brings_it_back() {
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "a.txt",
            "text/plain",
            b"keep me",
            json!({"document_type": "invoice"}),
        )
        .await;
    let (_, headers, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_owned();

    // A stale If-Match refuses the delete.
    let stale = format!("\"{}\"", document["version"].as_u64().expect("version") - 1);
    let response = server
        .http
        .delete(server.url(&format!("/documents/{id}")))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("If-Match", &stale)
        .send()
        .await
        .expect("sent");
    let (status, _, body) = crate::common::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );

    let response = server
        .http
        .delete(server.url(&format!("/documents/{id}")))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("If-Match", &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let (status, _, trashed) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{trashed}");
    assert_eq!(trashed["status"], "deleted");
    assert!(trashed["purge_at"].is_string(), "{trashed}");
    assert!(trashed.get("download").is_none());
    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{id}/content"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "document_deleted");
    let (status, _, body) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": 3})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "document_deleted");

    // Hidden from the default listing, listed by status=deleted.
    let (_, _, listed) = server.call(Method::GET, "/documents", None).await;
    assert!(
        !listed["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .any(|d| d["document_id"] == id.as_str()),
        "{listed}"
    );
    let (_, _, listed) = server
        .call(Method::GET, "/documents?status=deleted", None)
        .await;
    assert_eq!(
        listed["documents"][0]["document_id"],
        id.as_str(),
        "{listed}"
    );

    let (status, _, back) = server
        .call(Method::POST, &format!("/documents/{id}/undelete"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["status"], "active");
    assert!(back.get("purge_at").is_none());
    let link = location(&server, &format!("/documents/{id}/content")).await;
    assert_eq!(server.fetch(&link).await.1, b"keep me");
    let (status, _, body) = server
        .call(Method::POST, &format!("/documents/{id}/undelete"), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_deleted");

    // Permanent delete, with a stale If-Match refused first.
    let response = server
        .http
        .delete(server.url(&format!("/documents/{id}?permanent=true")))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("If-Match", &etag)
        .send()
        .await
        .expect("sent");
    let (status, _, body) = crate::common::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
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
    assert!(
        !server
            .data_dir
            .join("blobs/hot/documents")
            .join(&id)
            .exists(),
        "a permanent delete removes the content"
    );
    let (status, _, body) = server
        .call(
            Method::DELETE,
            &format!("/documents/{id}?permanent=maybe"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_trash_retention_of_zero_purges_on_delete() {
    let server = TestServer::start_with(|options| {
        options.service.retention.trash_days = 0;
    })
    .await;
    let id = server
        .create_active("a.txt", "text/plain", b"gone", json!({}))
        .await;
    let (status, _, _) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
    let (status, _, body) = server
        .call(Method::POST, &format!("/documents/{id}/undelete"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
}

#[tokio::test]
async fn preconditions_on_get_put_and_an_empty_patch() {
    let server = TestServer::start().await;
    let id = server
        .create_active("a.txt", "text/plain", b"abc", json!({}))
        .await;
    let (_, headers, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_owned();
    let get = |value: String| {
        server
            .http
            .get(server.url(&format!("/documents/{id}")))
            .header("Authorization", format!("Bearer {}", crate::common::KEY))
            .header("If-None-Match", value)
            .send()
    };
    let response = get(etag.clone()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        response.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    let response = get("\"999\"".to_owned()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);

    // An empty PATCH changes nothing, not even the version.
    let (status, _, patched) = server
        .call(Method::PATCH, &format!("/documents/{id}"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["version"], document["version"]);
    let response = get(etag.clone()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // PUT with a stale If-Match.
    let response = server
        .http
        .put(server.url(&format!("/documents/{id}")))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("If-Match", "\"1\"")
        .json(&json!({"file_size": 3}))
        .send()
        .await
        .expect("sent");
    let (status, _, body) = crate::common::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let response = server
        .http
        .put(server.url(&format!("/documents/{id}")))
        .header("Authorization", format!("Bearer {}", crate::common::KEY))
        .header("If-Match", &etag)
        .json(&json!({"file_size": 3}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}
