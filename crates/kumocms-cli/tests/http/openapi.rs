use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::common::TestServer;

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let server = TestServer::start().await;
    let (status, _, spec) = server
        .call_with_key(Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<_> = kumocms_api::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);

    // Every listed route is really served: it answers something other than the
    // router's own 404/405 (a made-up id gives the handler's 404 instead).
    let id = ulid::Ulid::new().to_string();
    for route in kumocms_api::ROUTES {
        let path = route.path.replace("{id}", &id);
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        let (status, _, body) = server.call(method, &path, None).await;
        assert_ne!(
            body["error"], "route_not_found",
            "{} {}",
            route.method, route.path
        );
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn every_documented_response_names_its_error_schema() {
    let spec: serde_json::Value = serde_json::from_str(kumocms_api::openapi::json()).expect("json");
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            for (code, response) in operation["responses"].as_object().expect("responses") {
                if code.starts_with('4') || (code.starts_with('5') && path != "/healthcheck") {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_operation_has_a_summary_a_description_and_a_unique_operation_id() {
    let spec: serde_json::Value = serde_json::from_str(kumocms_api::openapi::json()).expect("json");
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path}: no summary");
            assert!(
                !operation["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{method} {path}: no description"
            );
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: no operationId");
            assert!(ids.insert(id.to_owned()), "{method} {path}: {id} twice");
        }
    }
    // Relative to where the document is served, so the same document is right
    // behind API Gateway's stage path and on `kumocms serve`.
    assert_eq!(spec["servers"][0]["url"], ".");
}
