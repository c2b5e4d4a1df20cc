//! The web interface's routes and CORS on a real `kumocms serve`.

use reqwest::{Method, StatusCode};

use crate::common::TestServer;

const ORIGIN: &str = "http://localhost:3000";

#[tokio::test]
async fn the_interface_is_served_open_and_the_api_still_needs_the_key() {
    let server = TestServer::start().await;
    let root = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::FOUND);
    assert_eq!(root.headers()["location"], "ui/");
    let page = server.http.get(server.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let etag = page.headers()["etag"].to_str().unwrap().to_owned();
    assert!(page.text().await.unwrap().contains("app.js"));
    let again = server
        .http
        .get(server.url("/ui/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let config: serde_json::Value = server
        .http
        .get(server.url("/ui/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, serde_json::json!({"auth": "api_key"}));
    let missing = server
        .http
        .get(server.url("/ui/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let (status, _, _) = server
        .call_with_key(Method::GET, "/documents", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the API still needs the key"
    );
    // No CORS headers unless origins are configured.
    let plain = server
        .http
        .get(server.url("/healthcheck"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn allowed_origins_get_cors_on_the_api_and_the_links_and_others_do_not() {
    let server = TestServer::start_with(|options| {
        options.web.cors_allowed_origins = vec![ORIGIN.to_owned()];
    })
    .await;
    // A preflight, without a key, is answered before authentication.
    let preflight = server
        .http
        .request(Method::OPTIONS, server.url("/documents"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");

    // A real request carries the header and exposes the ETag.
    let created = server
        .http
        .post(server.url("/documents"))
        .header("origin", ORIGIN)
        .bearer_auth(crate::common::KEY)
        .json(&serde_json::json!({"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = created.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    let body: serde_json::Value = created.json().await.unwrap();
    let upload = body["upload"]["url"].as_str().unwrap().to_owned();

    // The upload link, served by the same server, answers the browser's preflight.
    let link_preflight = server
        .http
        .request(Method::OPTIONS, &upload)
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(
        link_preflight.headers()["access-control-allow-origin"],
        ORIGIN
    );

    // Another origin gets no CORS headers.
    let other = server
        .http
        .request(Method::OPTIONS, server.url("/documents"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_interface_can_be_turned_off() {
    let server = TestServer::start_with(|options| options.web.ui = None).await;
    let page = server.http.get(server.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}
