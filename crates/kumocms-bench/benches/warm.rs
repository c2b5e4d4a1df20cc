//! Warm cost of one API event, in process, with no network: the router as a tower
//! service (`oneshot`), and the whole `api` function path from the event's JSON to the
//! response's JSON through `lambda_http`'s conversion.
//!
//! - `router_memory`: `kumocms_api::router` with API-key auth (local mode) over the
//!   in-memory metadata and blob stores (HMAC-signed links);
//! - `router_s3presign`: the `api` function's router (`AuthMode::Gateway`, trace
//!   layer) over in-memory metadata and the real `S3BlobStore`, which presigns links
//!   locally (SigV4) without calling S3;
//! - `lambda_event`: as `router_s3presign`, entered as Lambda enters it: the event
//!   JSON is parsed, converted by `lambda_http`, the stage prefix dropped
//!   (`kumocms_lambda::api::prepare`), and the response serialised back to JSON.
//!
//! `cargo bench -p kumocms-bench --bench warm`; scripts/bench.sh reads the medians
//! from target/criterion/<group>/<bench>/new/estimates.json.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use kumocms_api::{ApiState, AuthMode};
use kumocms_bench::fixtures;
use kumocms_bench::memory::{self, MemoryBlobStore, MemoryMetadataStore, StaticKeys};
use kumocms_core::auth::ApiKeys;
use kumocms_core::ports::{BlobStore, MetadataStore};
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Context, LambdaEvent};
use tokio::runtime::Runtime;
use tower::{ServiceBuilder, ServiceExt};

const KEY: &str = "bench-api-key-0123456789";
/// Documents in the store the reads and the listing run against.
const SEEDED: usize = 1000;

fn runtime() -> Runtime {
    // One thread, as one Lambda invocation runs.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn seed(metadata: &MemoryMetadataStore, blobs: &dyn BlobStore) -> String {
    let location = blobs.location();
    let mut first = None;
    for n in 0..SEEDED {
        let document = memory::active_document(&location, n);
        first.get_or_insert_with(|| document.id.to_string());
        metadata.insert(&document).await.expect("seed");
    }
    first.expect("seeded")
}

async fn s3_blobs() -> Arc<dyn BlobStore> {
    let credentials = aws_credential_types::Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "bench",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(kumocms_aws::http_client())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await;
    Arc::new(kumocms_aws::S3BlobStore::new(
        &config,
        "kumocms-bench-content",
    ))
}

struct Setup {
    router: Router,
    /// A fresh store for the creates, so that they do not grow the listing's.
    create_router: Router,
    id: String,
    auth: Option<String>,
}

fn router_memory(rt: &Runtime) -> Setup {
    rt.block_on(async {
        let keys = AuthMode::ApiKeys(Arc::new(StaticKeys(
            ApiKeys::from_plain(KEY, None).expect("keys"),
        )));
        let build = |metadata: Arc<MemoryMetadataStore>| {
            let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobStore::new());
            kumocms_api::router(ApiState {
                service: Arc::new(memory::service(metadata, blobs)),
                auth: keys.clone(),
            })
        };
        let metadata = Arc::new(MemoryMetadataStore::new());
        let id = seed(&metadata, &MemoryBlobStore::new()).await;
        Setup {
            router: build(metadata),
            create_router: build(Arc::new(MemoryMetadataStore::new())),
            id,
            auth: Some(format!("Bearer {KEY}")),
        }
    })
}

fn router_s3presign(rt: &Runtime) -> Setup {
    rt.block_on(async {
        let blobs = s3_blobs().await;
        let build = |metadata: Arc<MemoryMetadataStore>| {
            kumocms_lambda::api::router(Arc::new(memory::service(metadata, blobs.clone())))
        };
        let metadata = Arc::new(MemoryMetadataStore::new());
        let id = seed(&metadata, blobs.as_ref()).await;
        Setup {
            router: build(metadata),
            create_router: build(Arc::new(MemoryMetadataStore::new())),
            id,
            auth: None,
        }
    })
}

fn request(method: &str, uri: &str, auth: Option<&str>, body: Option<&[u8]>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", "application/json");
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_vec())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

async fn call(router: &Router, request: Request<Body>, expect: u16) -> bytes::Bytes {
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status().as_u16(), expect);
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
}

fn bench_router(c: &mut Criterion, group_name: &str, setup: Setup, rt: &Runtime) {
    let mut group = c.benchmark_group(group_name);
    let get_uri = format!("/documents/{}", setup.id);
    let auth = setup.auth.as_deref();
    let create = fixtures::create_body(1).to_string().into_bytes();
    // Sanity: the answers are what a client gets.
    rt.block_on(async {
        let body = call(&setup.router, request("GET", &get_uri, auth, None), 200).await;
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert!(value["download"]["url"].is_string(), "{value}");
        let body = call(
            &setup.router,
            request("GET", "/documents?limit=100", auth, None),
            200,
        )
        .await;
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["documents"].as_array().map(Vec::len), Some(100));
    });
    group.bench_function("get_document", |b| {
        b.to_async(rt).iter(|| async {
            black_box(call(&setup.router, request("GET", &get_uri, auth, None), 200).await)
        });
    });
    group.bench_function("create_document", |b| {
        b.to_async(rt).iter(|| async {
            black_box(
                call(
                    &setup.create_router,
                    request("POST", "/documents", auth, Some(&create)),
                    201,
                )
                .await,
            )
        });
    });
    group.bench_function("list_100", |b| {
        b.to_async(rt).iter(|| async {
            black_box(
                call(
                    &setup.router,
                    request("GET", "/documents?limit=100", auth, None),
                    200,
                )
                .await,
            )
        });
    });
    group.finish();
}

fn bench_lambda(c: &mut Criterion, rt: &Runtime) {
    let setup = router_s3presign(rt);
    let adapter = |router: Router| {
        lambda_http::Adapter::from(
            ServiceBuilder::new()
                .map_request(kumocms_lambda::api::prepare)
                .service(router),
        )
    };
    let read = adapter(setup.router.clone());
    let write = adapter(setup.create_router.clone());
    let get_event =
        fixtures::apigw_rest("GET", &format!("/documents/{}", setup.id), &[], None).to_string();
    let list_event =
        fixtures::apigw_rest("GET", "/documents", &[("limit", "100")], None).to_string();
    let create_event =
        fixtures::apigw_rest("POST", "/documents", &[], Some(&fixtures::create_body(1)))
            .to_string();
    let invoke = |service, event: &str| {
        let payload: LambdaRequest = serde_json::from_str(event).expect("event");
        let event = LambdaEvent::new(payload, Context::default());
        async move {
            let response = ServiceExt::oneshot(service, event)
                .await
                .expect("infallible");
            serde_json::to_vec(&response).expect("response json")
        }
    };
    rt.block_on(async {
        for (service, event, status) in [
            (read.clone(), &get_event, 200),
            (read.clone(), &list_event, 200),
            (write.clone(), &create_event, 201),
        ] {
            let out = invoke(service, event).await;
            let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
            assert_eq!(value["statusCode"], status, "{value}");
        }
    });
    let mut group = c.benchmark_group("lambda_event");
    group.bench_function("get_document", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(invoke(read.clone(), &get_event).await) });
    });
    group.bench_function("create_document", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(invoke(write.clone(), &create_event).await) });
    });
    group.bench_function("list_100", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(invoke(read.clone(), &list_event).await) });
    });
    group.finish();
}

/// The cost of keeping history: the same reads over records that keep 1 revision and
/// records that keep 50 (49 replaced ones beside the current), on the in-memory
/// router. The document read and the listing must not grow beyond what the larger
/// records cost to copy; the revision listing grows with what it lists.
fn bench_history(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("history");
    for revisions in [1u32, 50] {
        let (router, id) = rt.block_on(async {
            let keys = AuthMode::ApiKeys(Arc::new(StaticKeys(
                ApiKeys::from_plain(KEY, None).expect("keys"),
            )));
            let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobStore::new());
            let metadata = Arc::new(MemoryMetadataStore::new());
            let mut first = None;
            for n in 0..SEEDED {
                let document = memory::with_revisions(
                    memory::active_document(&blobs.location(), n),
                    revisions - 1,
                );
                first.get_or_insert_with(|| document.id.to_string());
                metadata.insert(&document).await.expect("seed");
            }
            let router = kumocms_api::router(ApiState {
                service: Arc::new(memory::service(metadata, blobs)),
                auth: keys,
            });
            (router, first.expect("seeded"))
        });
        let auth = Some(format!("Bearer {KEY}"));
        let get_uri = format!("/documents/{id}");
        let revisions_uri = format!("/documents/{id}/revisions");
        rt.block_on(async {
            let body = call(
                &router,
                request("GET", &revisions_uri, auth.as_deref(), None),
                200,
            )
            .await;
            let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(value["count"], revisions as usize, "{value}");
        });
        group.bench_function(format!("get_document_{revisions}_revisions"), |b| {
            b.to_async(rt).iter(|| async {
                black_box(
                    call(
                        &router,
                        request("GET", &get_uri, auth.as_deref(), None),
                        200,
                    )
                    .await,
                )
            });
        });
        group.bench_function(format!("list_100_{revisions}_revisions"), |b| {
            b.to_async(rt).iter(|| async {
                black_box(
                    call(
                        &router,
                        request("GET", "/documents?limit=100", auth.as_deref(), None),
                        200,
                    )
                    .await,
                )
            });
        });
        group.bench_function(format!("list_revisions_{revisions}_revisions"), |b| {
            b.to_async(rt).iter(|| async {
                black_box(
                    call(
                        &router,
                        request("GET", &revisions_uri, auth.as_deref(), None),
                        200,
                    )
                    .await,
                )
            });
        });
    }
    group.finish();
}

fn warm(c: &mut Criterion) {
    let rt = runtime();
    bench_router(c, "router_memory", router_memory(&rt), &rt);
    bench_router(c, "router_s3presign", router_s3presign(&rt), &rt);
    bench_lambda(c, &rt);
    bench_history(c, &rt);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = warm
}
criterion_main!(benches);
