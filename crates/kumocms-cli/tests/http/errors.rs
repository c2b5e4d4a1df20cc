use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{KEY, TestServer, assert_error, read};

#[tokio::test]
async fn bad_create_requests_get_clear_4xx_errors() {
    let server = TestServer::start_with(|o| o.service.limits.max_file_size = 1000).await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"file_name": "a", "file_size": -1}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"file_name": "a", "file_size": 1.5}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"file_name": "a", "file_size": "1"}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"file_name": "a", "file_size": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_file_size",
        ),
        (
            json!({"file_name": "a", "file_size": 1001}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
        ),
        (
            json!({"file_name": "", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "../etc/passwd", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "..", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": ".", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "a\\b", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "a\u{0}b", "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "x".repeat(256), "file_size": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "content_type": "pdf"}),
            StatusCode::BAD_REQUEST,
            "invalid_content_type",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "checksum_sha256": "abc"}),
            StatusCode::BAD_REQUEST,
            "invalid_checksum",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "document_type": "a b"}),
            StatusCode::BAD_REQUEST,
            "invalid_document_type",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "metadata": [1, 2]}),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "metadata": {"k": "x".repeat(17 * 1024)}}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "metadata_too_large",
        ),
        // System fields cannot ride along at the top level.
        (
            json!({"file_name": "a", "file_size": 1, "status": "active"}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({"file_name": "a", "file_size": 1, "document_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (json!(null), StatusCode::BAD_REQUEST, "invalid_body"),
        (json!("text"), StatusCode::BAD_REQUEST, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let (got, _, response) = server
            .call(Method::POST, "/documents", Some(body.clone()))
            .await;
        assert_error(got, &response, status, code);
    }
    // Nothing above created a document.
    let (_, _, page) = server.call(Method::GET, "/documents", None).await;
    assert_eq!(page["count"], 0, "{page}");
}

#[tokio::test]
async fn malformed_bodies_ids_routes_and_methods_are_json_errors() {
    let server = TestServer::start().await;
    let raw = |method: Method, path: &str, content_type: Option<&str>, body: &'static str| {
        let mut request = server
            .http
            .request(method, server.url(path))
            .header("Authorization", format!("Bearer {KEY}"))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.send()
    };
    let (status, _, body) = read(
        raw(
            Method::POST,
            "/documents",
            Some("application/json"),
            "{not json",
        )
        .await
        .expect("sent"),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let (status, _, body) = read(
        raw(Method::POST, "/documents", None, "")
            .await
            .expect("sent"),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let (status, _, body) = read(
        raw(Method::POST, "/documents", Some("text/plain"), "{}")
            .await
            .expect("sent"),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let huge =
        Box::leak(format!("{{\"file_name\":\"{}\"}}", "a".repeat(100 * 1024)).into_boxed_str());
    let (status, _, body) = read(
        raw(Method::POST, "/documents", Some("application/json"), huge)
            .await
            .expect("sent"),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );

    for bad_id in [
        "not-a-ulid",
        "01arz3ndektsv4rrffq69g5fav",
        "..%2F..%2Fetc",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        let (status, _, body) = server
            .call(Method::GET, &format!("/documents/{bad_id}"), None)
            .await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid_document_id",
        );
    }
    let missing = ulid::Ulid::new().to_string();
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"metadata": {}}))),
        (Method::PUT, "", Some(json!({"file_size": 1}))),
        (Method::DELETE, "", None),
        (Method::GET, "/content", None),
        (Method::POST, "/archive", None),
        (Method::POST, "/restore", None),
    ] {
        let (status, _, response) = server
            .call(
                method.clone(),
                &format!("/documents/{missing}{suffix}"),
                body,
            )
            .await;
        assert_error(
            status,
            &response,
            StatusCode::NOT_FOUND,
            "document_not_found",
        );
    }
    let (status, _, body) = server.call(Method::GET, "/nowhere", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
    let (status, _, body) = server.call(Method::DELETE, "/documents", None).await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let (status, _, body) = server
        .call(
            Method::PATCH,
            &format!("/documents/{missing}"),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
}

#[tokio::test]
async fn metadata_cannot_overwrite_system_fields() {
    let server = TestServer::start().await;
    let hostile = json!({"document_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "status": "active", "version": 99,
        "storage_class": "GLACIER", "checksum_sha256": "0", "key": "../../x"});
    let created = server
        .create(json!({"file_name": "h.txt", "file_size": 2, "metadata": hostile.clone()}))
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    assert_ne!(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(created["status"], "pending_upload");
    assert_eq!(created["version"], 1);
    assert_eq!(created["storage_class"], "STANDARD");
    assert_eq!(created["metadata"], hostile);
    let (status, _, patched) = server
        .call(
            Method::PATCH,
            &format!("/documents/{id}"),
            Some(json!({"metadata": {"status": "archived", "version": 7}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["status"], "pending_upload");
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["metadata"]["status"], "archived");
}
