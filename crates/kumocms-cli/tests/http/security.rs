//! Hostile input against a real server: each attempt is refused or has no effect.
//! Only what errors.rs, links.rs, listing.rs, auth.rs and lifecycle.rs do not
//! already cover (RELIABILITY.md maps every attack to its test).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{KEY, PREVIOUS_KEY, TestServer, assert_error, files_under, read, sha256_hex};

fn id_of(created: &Value) -> String {
    created["document_id"].as_str().expect("id").to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn with_query(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("url");
    let mut pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(value) = value {
        // Keep `sig` last, as issued.
        let at = pairs
            .iter()
            .position(|(k, _)| k == "sig")
            .unwrap_or(pairs.len());
        pairs.insert(at, (name.to_owned(), value.to_owned()));
    }
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test]
async fn patch_put_and_action_bodies_cannot_set_system_fields() {
    let server = TestServer::start().await;
    let id = server
        .create_active(
            "s.txt",
            "text/plain",
            b"system",
            json!({"metadata": {"k": 1}}),
        )
        .await;
    let path = format!("/documents/{id}");
    let (_, _, before) = server.call(Method::GET, &path, None).await;
    let system_fields = [
        ("document_id", json!("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("id", json!("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("status", json!("archived")),
        ("version", json!(99)),
        ("etag", json!("\"99\"")),
        ("storage_class", json!("GLACIER")),
        ("checksum_sha256", json!("0".repeat(64))),
        ("size", json!(1)),
        ("revision", json!(7)),
        ("key", json!("documents/01ARZ3NDEKTSV4RRFFQ69G5FAV/r1")),
        ("content", json!({"key": "../../signing.key"})),
        ("pending_upload", json!(null)),
        ("extracted", json!({"sha256": "0"})),
        ("restore", json!({"days": 1})),
        ("created_at", json!("2000-01-01T00:00:00Z")),
    ];
    for (field, value) in &system_fields {
        // PATCH: only `metadata` and `document_type` exist.
        let mut body = json!({"metadata": {"x": 1}});
        body[*field] = value.clone();
        let (status, _, response) = server.call(Method::PATCH, &path, Some(body)).await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "invalid_body");
        // PUT: a new upload names only the content (whose checksum it may give).
        if *field != "checksum_sha256" {
            let mut body = json!({"file_size": 3});
            body[*field] = value.clone();
            let (status, _, response) = server.call(Method::PUT, &path, Some(body)).await;
            assert_error(status, &response, StatusCode::BAD_REQUEST, "invalid_body");
        }
        // Archive and restore take only their options (`storage_class` is one of
        // archive's, so it is not a system field there).
        for action in ["archive", "restore"] {
            if (*field, action) == ("storage_class", "archive") {
                continue;
            }
            let body = json!({ *field: value.clone() });
            let (status, _, response) = server
                .call(Method::POST, &format!("{path}/{action}"), Some(body))
                .await;
            assert_error(status, &response, StatusCode::BAD_REQUEST, "invalid_body");
        }
    }
    // Metadata itself must be an object: no array or string smuggling.
    for metadata in [json!([{"status": "archived"}]), json!("status=archived")] {
        let (status, _, response) = server
            .call(Method::PATCH, &path, Some(json!({"metadata": metadata})))
            .await;
        assert_error(status, &response, StatusCode::BAD_REQUEST, "invalid_body");
    }
    // A merge patch that names system fields inside metadata stays in metadata.
    let (status, _, patched) = server
        .call(
            Method::PATCH,
            &path,
            Some(
                json!({"metadata": {"status": "archived", "storage_class": "GLACIER",
                "document_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "content": {"key": "../x"}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, _, after) = server.call(Method::GET, &path, None).await;
    for field in [
        "document_id",
        "status",
        "storage_class",
        "checksum_sha256",
        "revision",
        "size",
        "created_at",
    ] {
        assert_eq!(after[field], before[field], "{field} changed");
    }
    assert_eq!(after["version"], before["version"].as_u64().expect("v") + 1);
    assert_eq!(after["metadata"]["status"], "archived");
    // The content is still the one uploaded.
    let (_, bytes) = server
        .fetch(after["download"]["url"].as_str().expect("download"))
        .await;
    assert_eq!(bytes, b"system");
}

#[tokio::test]
async fn malformed_or_hostile_sidecars_never_touch_the_record() {
    let server = TestServer::start().await;
    // (sidecar bytes, what metadata must be afterwards)
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (b"{not json".to_vec(), json!({"own": 1})),
        (b"[1, 2, 3]".to_vec(), json!({"own": 1})),
        (
            format!("{{\"big\": \"{}\"}}", "x".repeat(20 * 1024)).into_bytes(),
            json!({"own": 1}),
        ),
        (
            br#"{"own": 2, "metadata": {"status": "archived"}, "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#
                .to_vec(),
            json!({"own": 1, "metadata": {"status": "archived"}, "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        ),
    ];
    for (sidecar, wanted) in cases {
        let created = server
            .create(
                json!({"file_name": "c.txt", "file_size": 4, "content_type": "text/plain",
                "metadata": {"own": 1}}),
            )
            .await;
        let id = id_of(&created);
        let path = server
            .data_dir
            .join(format!("blobs/hot/documents/{id}/r1.meta.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, &sidecar).expect("sidecar");
        let (status, body) = server.upload(&created["upload"], b"data").await;
        assert!(status.is_success(), "{body}");
        let document = server.wait_for_status(&id, "active").await;
        assert_eq!(document["metadata"], wanted);
        assert_eq!(document["document_id"], id.as_str());
        assert_eq!(document["revision"], 1);
        assert_eq!(document["size"], 4);
    }
}

#[tokio::test]
async fn file_names_never_reach_blob_keys_and_never_share_content() {
    let server = TestServer::start().await;
    let hostile = [
        "x.meta.json".to_owned(),
        "r1".to_owned(),
        "r1.meta.json".to_owned(),
        "r2".to_owned(),
        "..r2".to_owned(),
        "....".to_owned(),
        "%2e%2e%2fr2".to_owned(),
        "..%2F..%2Fsigning.key".to_owned(),
        "signing.key".to_owned(),
        "kumocms.sqlite3".to_owned(),
        // Unicode lookalikes of "../r2" and "/": one-dot leaders, fullwidth solidus,
        // division slash, fraction slash.
        "\u{2024}\u{2024}\u{ff0f}r2".to_owned(),
        "\u{2025}\u{2215}r2".to_owned(),
        "a\u{2044}b".to_owned(),
        "\u{ff52}\u{ff11}".to_owned(),
        " r1 ".to_owned(),
        "CON".to_owned(),
        // Exactly 255 bytes, in multi-byte characters (85 × 3 bytes).
        "\u{30c6}".repeat(85),
        format!("{}.pdf", "a".repeat(251)),
    ];
    let mut documents = BTreeMap::new();
    for (n, name) in hostile.iter().enumerate() {
        let bytes = format!("content of document {n}: {name}").into_bytes();
        let created = server
            .create(
                json!({"file_name": name, "file_size": bytes.len(), "content_type": "text/plain",
                "checksum_sha256": sha256_hex(&bytes)}),
            )
            .await;
        let id = id_of(&created);
        // The upload link names the document's own key: no part of the file name.
        let url = created["upload"]["url"].as_str().expect("url");
        let path = reqwest::Url::parse(url).expect("url").path().to_owned();
        assert_eq!(path, format!("/blobs/documents/{id}/r1"), "{name:?}");
        let (status, body) = server.upload(&created["upload"], &bytes).await;
        assert!(status.is_success(), "{name:?}: {body}");
        documents.insert(id, (name.clone(), bytes));
    }
    // 256 bytes, or a name that is a path, is refused outright.
    for bad in [
        format!("{}.pdf", "a".repeat(252)),
        format!("{}a", "\u{30c6}".repeat(85)),
        "../r2".to_owned(),
        "r1/../r2".to_owned(),
        "..\\r2".to_owned(),
        // Right-to-left override that makes "gpj.exe" read as "exe.jpg" (issue 16).
        "evil\u{202e}gpj.exe".to_owned(),
    ] {
        let (status, _, body) = server
            .call(
                Method::POST,
                "/documents",
                Some(json!({"file_name": bad, "file_size": 1})),
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_file_name");
    }
    server.idle().await;

    // Every document serves its own bytes, under the name it was given.
    for (id, (name, bytes)) in &documents {
        let (_, _, document) = server
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        assert_eq!(document["status"], "active", "{name:?}: {document}");
        assert_eq!(document["file_name"], name.as_str());
        let url = document["download"]["url"].as_str().expect("download");
        let response = server.http.get(url).send().await.expect("download");
        let disposition = response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .expect("an ASCII Content-Disposition")
            .to_owned();
        // The quoted fallback cannot carry a path separator or a quote.
        let fallback = disposition
            .split("filename=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("fallback name");
        assert!(!fallback.contains(['/', '\\']), "{disposition}");
        assert_eq!(response.bytes().await.expect("bytes").as_ref(), bytes);
    }
    // On disk: exactly one file per document, under its id, and nothing else.
    let stored = files_under(&server.data_dir.join("blobs/hot"));
    let expected: Vec<String> = documents
        .keys()
        .map(|id| format!("documents/{id}/r1"))
        .collect();
    assert_eq!(stored, expected);
    let contents: BTreeSet<Vec<u8>> = stored
        .iter()
        .map(|p| std::fs::read(server.data_dir.join("blobs/hot").join(p)).expect("read"))
        .collect();
    assert_eq!(
        contents.len(),
        documents.len(),
        "two documents share content"
    );
    // The data directory's own files were not touched by names that mimic them.
    assert!(server.data_dir.join("signing.key").exists());
    assert_eq!(
        std::fs::metadata(server.data_dir.join("signing.key"))
            .expect("key")
            .len(),
        32
    );
}

#[tokio::test]
async fn blob_routes_refuse_traversal_and_leak_nothing() {
    let server = TestServer::start().await;
    let signing_key = std::fs::read(server.data_dir.join("signing.key")).expect("key");
    let id = server
        .create_active("t.txt", "text/plain", b"mine", json!({}))
        .await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let download = document["download"]["url"].as_str().expect("download");
    let query = download.split_once('?').expect("query").1;
    for path in [
        "/blobs/../signing.key",
        "/blobs/..%2Fsigning.key",
        "/blobs/%2e%2e/%2e%2e/signing.key",
        "/blobs/documents/..%2F..%2F..%2Fsigning.key",
        "/blobs/signing.key",
        "/blobs/kumocms.sqlite3",
        "/blobs//etc/passwd",
        "/blobs/documents/%00/r1",
        "/blobs/documents/./r1",
    ] {
        for method in [Method::GET, Method::PUT] {
            // With the genuine signature of another key, too.
            let url = format!("{}{path}?{query}", server.base);
            let response = server
                .http
                .request(method.clone(), &url)
                .header("content-type", "text/plain")
                .body("overwrite")
                .send()
                .await
                .expect("sent");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            assert!(status.is_client_error(), "{method} {path}: {status}");
            assert!(
                !body
                    .windows(signing_key.len())
                    .any(|w| w == signing_key.as_slice()),
                "{path} leaked the signing key"
            );
        }
    }
    assert_eq!(
        std::fs::read(server.data_dir.join("signing.key")).expect("key"),
        signing_key
    );
    let (_, bytes) = server.fetch(download).await;
    assert_eq!(bytes, b"mine");
}

#[tokio::test]
async fn ids_that_are_not_canonical_ulids_reach_no_document() {
    let server = TestServer::start().await;
    let id = server
        .create_active("u.txt", "text/plain", b"ulid", json!({}))
        .await;
    // Crockford base32 decoders often read I/L as 1 and O as 0: such aliases of an
    // existing id must not reach it.
    let (_, _, before) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let alias = id.replacen('0', "O", 1);
    let lower = id.to_lowercase();
    let bad_ids = [
        lower.as_str(),
        alias.as_str(),
        &format!("{id}0"),
        &format!("%20{id}"),
        &format!("{id}%00"),
        &format!("{id}%2F..%2F{id}"),
        "%2e%2e",
        "..%252F..%252Fsigning.key",
        "01ARZ3NDEKTSV4RRFFQ69G5FA\u{0415}",
        "0000000000000000000000000-",
    ];
    let routes: [(Method, &str, Option<Value>); 7] = [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"metadata": {"x": 1}}))),
        (Method::PUT, "", Some(json!({"file_size": 1}))),
        (Method::DELETE, "", None),
        (Method::GET, "/content", None),
        (Method::POST, "/archive", None),
        (Method::POST, "/restore", None),
    ];
    for bad in bad_ids {
        for (method, suffix, body) in &routes {
            let (status, _, response) = server
                .call(
                    method.clone(),
                    &format!("/documents/{bad}{suffix}"),
                    body.clone(),
                )
                .await;
            // `%2e%2e` is `..` to the client's URL parser: /documents/%2e%2e is sent
            // as /, where GET redirects to the web interface and other methods get
            // 405: neither reaches a document.
            if suffix.is_empty() && bad == "%2e%2e" {
                let expected = if *method == Method::GET {
                    StatusCode::FOUND
                } else {
                    StatusCode::METHOD_NOT_ALLOWED
                };
                assert_eq!(status, expected, "{method} {bad}: {response}");
                if *method != Method::GET {
                    assert_eq!(response["error"], "method_not_allowed", "{response}");
                }
                continue;
            }
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
                "{method} {bad}{suffix}: {status} {response}"
            );
            assert!(response["error"].is_string(), "{response}");
        }
    }
    // The document is untouched by all of that.
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(document["status"], "active");
    assert_eq!(document["version"], before["version"], "{document}");
}

async fn get_page(
    server: &TestServer,
    path: String,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    server.call(Method::GET, &path, None).await
}

async fn list_status(server: &TestServer, key: &str) -> StatusCode {
    server
        .call_with_key(Method::GET, "/documents", None, Some(key))
        .await
        .0
}

#[tokio::test]
async fn cursors_from_elsewhere_or_rebuilt_are_refused() {
    let server = TestServer::start().await;
    let other = TestServer::start().await;
    for n in 0..3 {
        for s in [&server, &other] {
            s.create(json!({"file_name": format!("c{n}.txt"), "file_size": 1}))
                .await;
        }
    }
    let (_, _, theirs) = get_page(&other, "/documents?limit=1".to_owned()).await;
    let foreign = theirs["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, _, ours) = get_page(&server, "/documents?limit=1".to_owned()).await;
    let cursor = ours["next_cursor"].as_str().expect("cursor").to_owned();
    let (payload, tag) = cursor.split_once('.').expect("payload.tag");
    // A signed link's signature, from the same server, as a cursor tag.
    let created = server
        .create(json!({"file_name": "l.txt", "file_size": 1}))
        .await;
    let link_sig =
        query_param(created["upload"]["url"].as_str().expect("url"), "sig").expect("sig");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let position = json!({"p": "00000000000000000000000000"}).to_string();
    let rebuilt = engine.encode(position.as_bytes());
    for bad in [
        foreign.clone(),
        format!("{payload}.{}", &tag[..tag.len() - 2]),
        format!("{payload}.{tag}AA"),
        format!("{payload}.{link_sig}"),
        format!("{rebuilt}.{tag}"),
        format!("{rebuilt}."),
        format!("{payload}.{tag}.{tag}"),
        "a".repeat(5000),
        format!("{payload}%00.{tag}"),
    ] {
        let (status, _, body) = get_page(&server, format!("/documents?limit=1&cursor={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    // The genuine cursor still works.
    let (status, _, body) = get_page(&server, format!("/documents?limit=1&cursor={cursor}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn signed_links_work_once_for_their_own_method_path_length_and_checksum() {
    let server = TestServer::start().await;
    let bytes = b"signed content";
    let created = server
        .create(
            json!({"file_name": "l.txt", "file_size": bytes.len(), "content_type": "text/plain",
            "checksum_sha256": sha256_hex(bytes)}),
        )
        .await;
    let id = id_of(&created);
    let upload = &created["upload"];
    let url = upload["url"].as_str().expect("url").to_owned();
    let other = sha256_hex(b"other content!");
    // Changed or dropped checksum, type, length; another method on the same link.
    for changed in [
        with_query(&url, "sha256", Some(&other)),
        with_query(&url, "sha256", None),
        with_query(&url, "type", Some("text/html")),
        with_query(&url, "length", None),
        with_query(&url, "length", Some(&format!("{}", bytes.len() as u64 + 1))),
        with_query(&url, "name", Some("x.html")),
        url.replace("/blobs/documents/", "/blobs/documents//"),
        url.replace("/r1?", "/r2?"),
        url.replace("/r1?", "/r1.meta.json?"),
    ] {
        let response = server
            .http
            .put(&changed)
            .header("content-type", "text/plain")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("sent");
        let (status, _, body) = read(response).await;
        assert!(status.is_client_error(), "{changed}: {status} {body}");
    }
    // GET or HEAD with an upload link reads nothing.
    for method in [Method::GET, Method::HEAD, Method::POST, Method::DELETE] {
        let response = server
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .expect("sent");
        assert!(response.status().is_client_error(), "{method}");
    }
    let (status, body) = server.upload(upload, bytes).await;
    assert!(status.is_success(), "{body}");
    server.wait_for_status(&id, "active").await;
    // The same link again: refused, and the stored bytes stay.
    let (status, body) = server.upload(upload, b"signed cONTENT").await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_uploaded");
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let download = document["download"]["url"]
        .as_str()
        .expect("download")
        .to_owned();
    // Download links bind name and type; another method on them does nothing.
    for changed in [
        with_query(&download, "name", Some("evil.html")),
        with_query(&download, "type", Some("text/html")),
        with_query(&download, "name", None),
        with_query(&download, "length", Some("1")),
    ] {
        let (status, _) = server.fetch(&changed).await;
        assert!(status.is_client_error(), "{changed}: {status}");
    }
    let response = server.http.delete(&download).send().await.expect("sent");
    assert!(response.status().is_client_error());
    let (_, stored) = server.fetch(&download).await;
    assert_eq!(stored, bytes);
}

#[tokio::test]
async fn a_link_outliving_its_document_stores_nothing() {
    let server = TestServer::start().await;
    let created = server
        .create(json!({"file_name": "gone.txt", "file_size": 4}))
        .await;
    let id = id_of(&created);
    let (status, _, _) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The signature is genuine, but the record is gone: 410, nothing stored (issue
    // 16, item 12; before, the bytes were accepted and the event processor deleted
    // them as an orphan).
    let (status, body) = server.upload(&created["upload"], b"late").await;
    assert_error(status, &body, StatusCode::GONE, "document_gone");
    server.idle().await;
    let (status, _, body) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "document_not_found");
    let left = files_under(&server.data_dir.join("blobs/hot"));
    assert!(left.iter().all(|p| !p.contains(&id)), "{left:?}");
}

#[tokio::test]
async fn blank_overlong_and_confusable_keys_are_refused() {
    let server = TestServer::start().await;
    let huge = "k".repeat(100 * 1024);
    let long_prefix = format!("{KEY}{}", "x".repeat(600));
    let mut keys: Vec<Vec<u8>> = vec![
        b"\t".to_vec(),
        // (Trailing tabs and spaces are not part of an HTTP field value, so only inner
        // whitespace can be tested.)
        format!("{KEY}\tx").into_bytes(),
        format!("{KEY} extra").into_bytes(),
        format!("{KEY},{KEY}").into_bytes(),
        huge.into_bytes(),
        long_prefix.into_bytes(),
        KEY.to_uppercase().into_bytes(),
        // Zero-width space, fullwidth letters, Cyrillic 'е', Latin ligature, as
        // raw UTF-8 header bytes.
        format!("{KEY}\u{200b}").into_bytes(),
        "\u{ff54}est-key-current".as_bytes().to_vec(),
        KEY.replace('e', "\u{0435}").into_bytes(),
        format!("Bearer {KEY}").into_bytes(),
        PREVIOUS_KEY.as_bytes()[..PREVIOUS_KEY.len() - 1].to_vec(),
    ];
    keys.push(format!("{KEY}\u{00a0}").into_bytes());
    for key in keys {
        let mut header = b"Bearer ".to_vec();
        header.extend_from_slice(&key);
        let value = reqwest::header::HeaderValue::from_bytes(&header).expect("header");
        let response = server
            .http
            .get(server.url("/documents"))
            .header("Authorization", value)
            .send()
            .await
            .expect("sent");
        let status = response.status();
        assert!(
            status == StatusCode::UNAUTHORIZED
                || status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{:?}: {status}",
            String::from_utf8_lossy(&key[..key.len().min(40)])
        );
    }
    // Two Authorization headers, one good: refused (only the first is read, and a
    // smuggled second one must not help).
    let response = server
        .http
        .get(server.url("/documents"))
        .header("Authorization", "Bearer wrong")
        .header("Authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The key in the query string or another header is not a key.
    for (path, header) in [
        (format!("/documents?api_key={KEY}"), None),
        ("/documents".to_owned(), Some(("x-api-key", KEY))),
    ] {
        let mut request = server.http.get(server.url(&path));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let status = request.send().await.expect("sent").status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // A blank configured key is refused at start-up, not accepted as "any".
    for blank in ["", "   ", "\t\n"] {
        let temp = tempfile::tempdir().expect("temp");
        let mut options = crate::common::options(&temp.path().join("data"));
        options.api_key = Some(blank.to_owned());
        assert!(
            kumocms_cli::server::start(options).await.is_err(),
            "{blank:?}"
        );
    }
}

#[tokio::test]
async fn a_rotated_out_key_stops_working() {
    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let old = "rotation-key-old";
    let new = "rotation-key-new";
    let first = TestServer::start_in(&data_dir, |o| {
        o.api_key = Some(old.to_owned());
        o.api_key_previous = None;
    })
    .await;
    assert_eq!(list_status(&first, old).await, StatusCode::OK);
    assert_eq!(list_status(&first, new).await, StatusCode::UNAUTHORIZED);
    first.stop().await;

    // Rotation: the new key is current, the old one still accepted as previous.
    let during = TestServer::start_in(&data_dir, |o| {
        o.api_key = Some(new.to_owned());
        o.api_key_previous = Some(old.to_owned());
    })
    .await;
    assert_eq!(list_status(&during, new).await, StatusCode::OK);
    assert_eq!(list_status(&during, old).await, StatusCode::OK);
    during.stop().await;

    // Rotation finished: the old key is refused at once, on every route.
    let after = TestServer::start_in(&data_dir, |o| {
        o.api_key = Some(new.to_owned());
        o.api_key_previous = None;
    })
    .await;
    assert_eq!(list_status(&after, new).await, StatusCode::OK);
    let id = ulid::Ulid::new().to_string();
    for (method, path) in [
        (Method::GET, "/documents".to_owned()),
        (Method::POST, "/documents".to_owned()),
        (Method::GET, format!("/documents/{id}")),
        (Method::DELETE, format!("/documents/{id}")),
        (Method::POST, format!("/documents/{id}/archive")),
    ] {
        let (status, _, body) = after.call_with_key(method, &path, None, Some(old)).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // A blank previous key does not open the door either.
    after.stop().await;
    let blank_previous = TestServer::start_in(&data_dir, |o| {
        o.api_key = Some(new.to_owned());
        o.api_key_previous = Some("  ".to_owned());
    })
    .await;
    for key in ["", "  ", old] {
        let (status, _, _) = blank_previous
            .call_with_key(Method::GET, "/documents", None, Some(key))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}");
    }
    blank_previous.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn logs_never_contain_a_key_or_a_link_signature() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything at debug level, the server's own crates and the HTTP stack at trace.
    // The test client (reqwest, hyper-util's client pool) is left out: only what the
    // server logs matters.
    let filter = tracing_subscriber::EnvFilter::new(
        "debug,kumocms_api=trace,kumocms_core=trace,kumocms_local=trace,kumocms_cli=trace,\
         tower_http=trace,axum=trace,reqwest=off,hyper_util::client=off",
    );
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // nextest runs each test in its own process; under `cargo test` this is the only
    // test that sets a global subscriber.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let temp = tempfile::tempdir().expect("temp");
    let data_dir = temp.path().join("data");
    let server = TestServer::start_in(&data_dir, |_| {}).await;
    let mut signatures = BTreeSet::new();
    let mut remember = |url: &str| {
        if let Some(sig) = query_param(url, "sig") {
            signatures.insert(sig);
        }
    };

    // Failed attempts first: wrong key, prefix of the key, key in the wrong places.
    for key in [
        "wrong-key",
        &KEY[..KEY.len() - 1],
        &format!("{KEY}x"),
        "   ",
    ] {
        let (status, _, _) = server
            .call_with_key(Method::GET, "/documents", None, Some(key))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for header in [
        format!("Basic {KEY}"),
        KEY.to_owned(),
        format!("Token {PREVIOUS_KEY}"),
    ] {
        let status = server
            .http
            .get(server.url("/documents"))
            .header("Authorization", header)
            .send()
            .await
            .expect("sent")
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = server
        .http
        .get(server.url(&format!("/documents?api_key={KEY}&key={PREVIOUS_KEY}")))
        .header("Authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A whole lifecycle, with both keys.
    let bytes = b"log capture content";
    let created = server
        .create(
            json!({"file_name": "log.txt", "file_size": bytes.len(), "content_type": "text/plain",
            "checksum_sha256": sha256_hex(bytes), "metadata": {"note": "hello"}}),
        )
        .await;
    let id = id_of(&created);
    let upload_url = created["upload"]["url"].as_str().expect("url").to_owned();
    remember(&upload_url);
    // A tampered and a wrong-size upload first, then the genuine one.
    let (status, _) = server
        .upload(
            &json!({"method": "PUT", "url": with_query(&upload_url, "length", Some("3")),
                "headers": created["upload"]["headers"]}),
            b"abc",
        )
        .await;
    assert!(status.is_client_error());
    let (status, _) = server.upload(&created["upload"], b"short").await;
    assert!(status.is_client_error());
    let (status, body) = server.upload(&created["upload"], bytes).await;
    assert!(status.is_success(), "{body}");
    let document = server.wait_for_status(&id, "active").await;
    let download = document["download"]["url"].as_str().expect("download");
    remember(download);
    let (_, got) = server.fetch(download).await;
    assert_eq!(got, bytes);
    let (status, _) = server
        .fetch(&with_query(download, "name", Some("other.txt")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = server
        .call_with_key(
            Method::GET,
            &format!("/documents/{id}/content"),
            None,
            Some(PREVIOUS_KEY),
        )
        .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    remember(
        headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location"),
    );
    let (_, _, listed) = server.call(Method::GET, "/documents?limit=1", None).await;
    for document in listed["documents"].as_array().expect("documents") {
        if let Some(url) = document["download"]["url"].as_str() {
            remember(url);
        }
    }
    let (status, _, _) = server
        .call(
            Method::PATCH,
            &format!("/documents/{id}"),
            Some(json!({"metadata": {"note": "patched"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, replaced) = server
        .call(
            Method::PUT,
            &format!("/documents/{id}"),
            Some(json!({"file_size": 2, "content_type": "text/plain"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    remember(replaced["upload"]["url"].as_str().expect("url"));
    let (status, _) = server.upload(&replaced["upload"], b"v2").await;
    assert!(status.is_success());
    server.idle().await;
    let (status, _, _) = server
        .call(Method::POST, &format!("/documents/{id}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, _) = server
        .call(
            Method::POST,
            &format!("/documents/{id}/restore"),
            Some(json!({"days": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let restored = server.wait_for_status(&id, "restored").await;
    remember(restored["download"]["url"].as_str().expect("download"));
    let (status, _, _) = server
        .call(Method::DELETE, &format!("/documents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
    // And a restart, whose start-up recovery logs too.
    let again = TestServer::start_in(&data_dir, |_| {}).await;
    let (status, _, _) = again
        .call_with_key(Method::GET, "/documents", None, Some("wrong-again"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    again.stop().await;

    let logs = captured.text();
    // The capture worked: requests, failures and events were logged.
    assert!(logs.contains("/documents"), "no request lines captured");
    assert!(logs.contains("upload stored"), "no upload lines captured");
    assert!(
        logs.contains("storage event processed"),
        "no event lines captured"
    );
    assert!(signatures.len() >= 4, "{signatures:?}");
    for secret in [KEY, PREVIOUS_KEY] {
        assert!(!logs.contains(secret), "an API key appears in the logs");
    }
    for sig in &signatures {
        assert!(
            !logs.contains(sig.as_str()),
            "a link signature appears in the logs"
        );
    }
    assert!(
        !logs.contains("sig="),
        "a signed query string appears in the logs"
    );
}

/// Regression (found by the `api_request` fuzz target): error messages that quote
/// the client's input were cut at a fixed byte length, which panicked inside a
/// multi-byte character and dropped the connection instead of answering 400.
#[tokio::test]
async fn error_messages_quoting_multibyte_input_are_cut_safely() {
    let server = TestServer::start().await;
    for pad in 0..4 {
        let long = format!("{}{}", "a".repeat(pad), "日".repeat(150));
        let (status, _, body) = server
            .call(Method::GET, &format!("/documents?status={long}"), None)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_status");
        let (status, _, body) = server
            .call(Method::GET, &format!("/documents?{long}=1"), None)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_parameter");
        let mut create = json!({"file_name": "a", "file_size": 1});
        create[&long] = json!(1);
        let (status, _, body) = server.call(Method::POST, "/documents", Some(create)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
        let (status, _, body) = server
            .call(
                Method::POST,
                "/documents",
                Some(json!({"file_name": "a", "file_size": 1, "content_type": 1, "document_type": {"x": long}})),
            )
            .await;
        assert!(status.is_client_error(), "{body}");
        let restore = json!({"tier": long});
        let id = ulid::Ulid::new().to_string();
        let (status, _, body) = server
            .call(
                Method::POST,
                &format!("/documents/{id}/restore"),
                Some(restore),
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    }
}
