//! The `api` function's input: an arbitrary API Gateway REST proxy event, parsed as
//! `lambda_http` does, prepared (`kumocms_lambda::api::prepare`) and sent through the
//! API router over in-memory stores. Never a panic, never a 5xx.
#![no_main]

use std::sync::OnceLock;

use http_body_util::BodyExt;
use lambda_http::request::LambdaRequest;
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
        let router = kumocms_lambda::api::router(fixture.service.clone());
        World {
            rt,
            fixture,
            router,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<LambdaRequest>(data) else {
        return;
    };
    let world = world();
    world.fixture.reset();
    let request: lambda_http::Request = event.into();
    let request = kumocms_lambda::api::prepare(request);
    world.rt.block_on(async {
        let response = world
            .router
            .clone()
            .oneshot(request.map(axum::body::Body::new))
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
            "{status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    });
});
