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
                    // The error body, narrowed to the operation's codes for that status.
                    let schema =
                        &response["content"]["application/json"]["schema"]["allOf"][0]["$ref"];
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

/// The codes of an operation's error response for `status` (its `enum` on `error`).
fn documented_codes(operation: &serde_json::Value, status: &str) -> Vec<String> {
    operation["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
        ["properties"]["error"]["enum"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 17: every operation behind the API key documents the `error` codes it can
/// answer, per status, each with its meaning, and in `x-error-codes`; and what the
/// server really answers for a made-up document is among them.
#[tokio::test]
async fn every_operation_lists_its_error_codes_and_the_server_keeps_to_them() {
    let spec: serde_json::Value = serde_json::from_str(kumocms_api::openapi::json()).expect("json");
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            if operation["security"].is_null() {
                continue;
            }
            let all: Vec<&str> = operation["x-error-codes"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no x-error-codes"))
                .iter()
                .filter_map(|c| c.as_str())
                .collect();
            assert!(all.contains(&"unauthorized"), "{method} {path}: {all:?}");
            assert!(
                all.contains(&"service_unavailable"),
                "{method} {path}: {all:?}"
            );
            if path.contains("{id}") {
                assert!(
                    all.contains(&"invalid_document_id") && all.contains(&"document_not_found"),
                    "{method} {path}: {all:?}"
                );
            }
            let mut listed = Vec::new();
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let codes = documented_codes(operation, status);
                assert!(!codes.is_empty(), "{method} {path} {status}: no codes");
                let description = response["description"].as_str().unwrap_or_default();
                for code in &codes {
                    assert!(
                        description.contains(&format!("`{code}`: ")),
                        "{method} {path} {status}: {code} is not explained in {description:?}"
                    );
                    let entry = kumocms_api::error_codes::ERROR_CODES
                        .iter()
                        .find(|c| c.code == code && c.status.to_string() == *status);
                    assert!(entry.is_some(), "{method} {path}: {code} under {status}");
                    listed.push(code.clone());
                }
            }
            for code in all {
                assert!(
                    listed.iter().any(|c| c == code),
                    "{method} {path}: {code} has no response"
                );
            }
        }
    }

    // What the server answers, with and without the key, is documented.
    let server = TestServer::start().await;
    let id = ulid::Ulid::new().to_string();
    for route in kumocms_api::ROUTES.iter().filter(|r| r.auth) {
        let operation = &spec["paths"][route.path][route.method.to_lowercase()];
        let path = route
            .path
            .replace("{id}", &id)
            .replace("{n}", "1")
            .replace("{upload_id}", "01J0000000000000000000000Z");
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        for key in [Some(crate::common::KEY), None] {
            let (status, _, body) = server.call_with_key(method.clone(), &path, None, key).await;
            if !(status.is_client_error() || status.is_server_error()) {
                continue;
            }
            let code = body["error"].as_str().unwrap_or_default();
            assert!(
                documented_codes(operation, status.as_str())
                    .iter()
                    .any(|c| c == code),
                "{} {} answered {status} {code}, which is not documented",
                route.method,
                route.path
            );
        }
    }
}
