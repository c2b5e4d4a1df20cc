//! Request bodies, paths and query strings through the real API router (JSON DTOs,
//! the extractors and `kumocms_core::validate`), over in-memory stores. Every store
//! call succeeds, so any 5xx is the API's fault; every 4xx must be a JSON error.
//!
//! Input: byte 0 picks the route, byte 1 the document id (pending, active, archived
//! fixture, or a raw id taken from the input up to `\n`) and the Content-Type; the
//! rest is the body (or the query string for listings).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use http::{Method, Request};
use http_body_util::BodyExt;
use kumocms_api::{ApiState, AuthMode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "common/mod.rs"]
mod common;

struct World {
    rt: tokio::runtime::Runtime,
    fixture: common::mem::Fixture,
    router: axum::Router,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let fixture = common::mem::Fixture::new(&rt);
        let router = kumocms_api::router(ApiState {
            service: fixture.service.clone(),
            auth: AuthMode::Gateway,
        });
        World {
            rt,
            fixture,
            router,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let world = world();
    world.fixture.reset();
    let (route, selector, mut rest) = (data[0] % 10, data[1], &data[2..]);
    let id = match selector % 4 {
        n @ 0..=2 => world.fixture.ids[n as usize].clone(),
        _ => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let id = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = rest.get(end + 1..).unwrap_or_default();
            id
        }
    };
    let content_type = match (selector >> 2) % 4 {
        0 => Some("application/json"),
        1 => None,
        2 => Some("application/merge-patch+json; charset=utf-8"),
        _ => Some("text/plain"),
    };
    let text = String::from_utf8_lossy(rest);
    let (method, uri) = match route {
        0 => (Method::POST, "/documents".to_owned()),
        1 => (Method::GET, format!("/documents?{text}")),
        2 => (Method::GET, format!("/documents/{id}")),
        3 => (Method::PUT, format!("/documents/{id}")),
        4 => (Method::PATCH, format!("/documents/{id}")),
        5 => (Method::DELETE, format!("/documents/{id}")),
        6 => (Method::GET, format!("/documents/{id}/content")),
        7 => (Method::POST, format!("/documents/{id}/archive")),
        8 => (Method::POST, format!("/documents/{id}/restore")),
        _ => (
            Method::GET,
            format!("/documents?cursor={}&{text}", world.fixture.cursor),
        ),
    };
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if selector & 0x10 != 0 {
        request = request.header("if-match", "\"1\"");
    }
    let body = if matches!(route, 1 | 9) {
        Body::empty()
    } else {
        Body::from(rest.to_vec())
    };
    // Paths the HTTP layer itself would refuse never reach the router.
    let Ok(request) = request.body(body) else {
        return;
    };
    world.rt.block_on(async {
        let response = world
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "{status} for a client's input: {}",
            String::from_utf8_lossy(&bytes)
        );
        if status.is_client_error() {
            let error: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{status} without a JSON body"));
            assert!(error["error"].is_string(), "{status} {error}");
            assert!(error["message"].is_string(), "{status} {error}");
        }
    });
});
