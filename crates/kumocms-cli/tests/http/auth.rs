use reqwest::{Method, StatusCode};

use crate::common::{KEY, PREVIOUS_KEY, TestServer, assert_error, read};

#[tokio::test]
async fn healthcheck_and_openapi_need_no_key() {
    let server = TestServer::start().await;
    let (status, _, body) = server
        .call_with_key(Method::GET, "/healthcheck", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["checks"]["metadata"]["status"], "healthy");
    assert_eq!(body["checks"]["blobs"]["status"], "healthy");
    let (status, _, body) = server
        .call_with_key(Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        body["openapi"]
    );
}

#[tokio::test]
async fn document_routes_refuse_missing_wrong_and_blank_keys() {
    let server = TestServer::start().await;
    for key in [
        None,
        Some("wrong"),
        Some(""),
        Some("   "),
        Some("test-key-current-x"),
        Some("tеst-key-current"),
    ] {
        let (status, headers, body) = server
            .call_with_key(Method::GET, "/documents", None, key)
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default()),
            Some("Bearer")
        );
    }
    // Another scheme, or no scheme, is refused too.
    for header in [format!("Basic {KEY}"), KEY.to_owned(), "Bearer".to_owned()] {
        let response = server
            .http
            .get(server.url("/documents"))
            .header("Authorization", header)
            .send()
            .await
            .expect("sent");
        let (status, _, body) = read(response).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn current_and_previous_keys_work_with_any_header_case() {
    let server = TestServer::start().await;
    for (name, value) in [
        ("Authorization", format!("Bearer {KEY}")),
        ("authorization", format!("bearer {KEY}")),
        ("AUTHORIZATION", format!("BEARER {PREVIOUS_KEY}")),
    ] {
        let response = server
            .http
            .get(server.url("/documents"))
            .header(name, value)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
