use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestServer, manual_clock, read, sha256_hex};

fn with_query(url: &str, name: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let replaced = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), replaced)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

async fn send(
    server: &TestServer,
    upload: &Value,
    url: &str,
    headers: &[(&str, String)],
    bytes: &[u8],
) -> (StatusCode, Value) {
    // The link's headers, with `headers` replacing any of the same name.
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in upload["headers"].as_object().expect("headers") {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name");
        map.insert(name, value.as_str().expect("value").parse().expect("value"));
    }
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name");
        map.insert(name, value.parse().expect("value"));
    }
    let request = server.http.put(url).headers(map);
    let (status, _, body) = read(request.body(bytes.to_vec()).send().await.expect("sent")).await;
    (status, body)
}

#[tokio::test]
async fn tampered_or_mismatched_uploads_store_nothing() {
    let server = TestServer::start().await;
    let bytes = b"exactly these bytes";
    let created = server
        .create(
            json!({"file_name": "t.txt", "file_size": bytes.len(), "content_type": "text/plain",
            "checksum_sha256": sha256_hex(bytes)}),
        )
        .await;
    let id = created["document_id"].as_str().expect("id").to_owned();
    let upload = &created["upload"];
    let url = upload["url"].as_str().expect("url");
    let signature = reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .expect("a signature parameter");
    let mut flipped = signature.clone();
    let last = if flipped.ends_with('A') { 'B' } else { 'A' };
    flipped.pop();
    flipped.push(last);

    let other_key = url.replace(
        &format!("documents/{id}/r1"),
        &format!("documents/{}/r1", ulid::Ulid::new()),
    );
    // (url, headers replacing the link's, body)
    type Case<'a> = (String, Vec<(&'a str, String)>, Vec<u8>);
    let cases: Vec<Case> = vec![
        (with_query(url, "sig", &flipped), vec![], bytes.to_vec()),
        (with_query(url, "length", "5"), vec![], bytes[..5].to_vec()),
        (
            with_query(url, "expires", "9999999999"),
            vec![],
            bytes.to_vec(),
        ),
        (other_key, vec![], bytes.to_vec()),
        // Right link, wrong content: length, checksum and type are all bound.
        (url.to_owned(), vec![], b"too short".to_vec()),
        (url.to_owned(), vec![], b"exactly these bytez".to_vec()),
        (
            url.to_owned(),
            vec![],
            [bytes.as_slice(), b"and more"].concat(),
        ),
        (
            url.to_owned(),
            vec![("content-type", "application/pdf".to_owned())],
            bytes.to_vec(),
        ),
    ];
    for (url, headers, body) in cases {
        let (status, response) = send(&server, upload, &url, &headers, &body).await;
        assert!(status.is_client_error(), "{url} -> {status} {response}");
        assert!(response["error"].is_string(), "{response}");
        server.idle().await;
        let (_, _, document) = server
            .call(Method::GET, &format!("/documents/{id}"), None)
            .await;
        assert_eq!(document["status"], "pending_upload", "{url}");
    }
    // Nothing half-written is visible.
    assert!(
        !server
            .data_dir
            .join(format!("blobs/hot/documents/{id}/r1"))
            .exists()
    );

    // The genuine upload still works afterwards.
    let (status, response) = send(&server, upload, url, &[], bytes).await;
    assert!(status.is_success(), "{response}");
    server.wait_for_status(&id, "active").await;

    // A download link cannot be turned into an upload or pointed elsewhere.
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let download = document["download"]["url"]
        .as_str()
        .expect("download")
        .to_owned();
    let response = server
        .http
        .put(&download)
        .body("overwrite")
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_client_error());
    let (_, again) = server.fetch(&download).await;
    assert_eq!(again, bytes);
    let (status, _) = server
        .fetch(&with_query(&download, "expires", "9999999999"))
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn expired_links_are_refused() {
    // The server's clock is a manual one: links expire when it is moved past their
    // lifetime, not after a real wait.
    let clock = manual_clock();
    let server = TestServer::start_with({
        let clock = clock.clone();
        move |o| {
            o.service.upload_link_ttl = std::time::Duration::from_secs(60);
            o.service.download_link_ttl = std::time::Duration::from_secs(60);
            o.clock = clock;
        }
    })
    .await;
    let created = server
        .create(json!({"file_name": "e.txt", "file_size": 3}))
        .await;
    let id = server
        .create_active("f.txt", "text/plain", b"abc", json!({}))
        .await;
    let (_, _, document) = server
        .call(Method::GET, &format!("/documents/{id}"), None)
        .await;
    let download = document["download"]["url"].as_str().expect("download");
    // Just before the end of its lifetime, the download link still works.
    clock.advance(chrono::Duration::seconds(58));
    let (status, _) = server.fetch(download).await;
    assert_eq!(status, StatusCode::OK);
    clock.advance(chrono::Duration::seconds(3));
    let (status, body) = server.upload(&created["upload"], b"abc").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "link_expired");
    let (status, _) = server.fetch(download).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
