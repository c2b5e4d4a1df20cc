//! The `api` function: the `kumocms-api` router behind `lambda_http`, over the AWS
//! adapters. API Gateway's authorizer has already checked the caller.

use std::sync::Arc;

use aws_config::SdkConfig;
use axum::Router;
use kumocms_api::{ApiState, AuthMode};
use kumocms_aws::{DynamoMetadataStore, S3BlobStore};
use kumocms_core::cursor::CursorCodec;
use kumocms_core::events::EventProcessor;
use kumocms_core::ports::{BlobStore, MetadataStore, SystemClock};
use kumocms_core::service::{DocumentService, ServiceConfig};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::Settings;
use crate::settings::MultiRegionConsistency;

/// The core over one metadata store and one blob store.
#[derive(Clone)]
pub struct Core {
    pub service: Arc<DocumentService>,
    pub processor: Arc<EventProcessor>,
}

impl Core {
    /// Wires the core over the given adapters (tests pass their own, e.g. a region-B
    /// API whose metadata store is region A's table).
    pub fn new(
        metadata: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        settings: &Settings,
    ) -> Self {
        let config = ServiceConfig {
            retention: settings.retention,
            multipart_threshold: settings.multipart_threshold,
            ..ServiceConfig::default()
        };
        let clock = Arc::new(SystemClock);
        let processor = Arc::new(
            EventProcessor::new(
                metadata.clone(),
                blobs.clone(),
                clock.clone(),
                config.limits,
            )
            .with_retention(config.retention),
        );
        let service = Arc::new(DocumentService::new(
            metadata,
            blobs,
            clock,
            CursorCodec::new(&settings.cursor_key),
            config,
        ));
        Self { service, processor }
    }

    /// The core over the table and bucket that `settings` name. On an eventually
    /// consistent (global) table each change is written in the document's home
    /// region; with multi-Region strong consistency, in the local replica.
    pub fn from_settings(config: &SdkConfig, settings: &Settings) -> Self {
        let metadata: Arc<dyn MetadataStore> = match settings.multi_region_consistency {
            MultiRegionConsistency::Eventual => {
                Arc::new(kumocms_aws::home_region_store(config, &settings.table))
            }
            MultiRegionConsistency::Strong => {
                Arc::new(DynamoMetadataStore::new(config, &settings.table))
            }
        };
        Self::new(
            metadata,
            Arc::new(S3BlobStore::new(config, &settings.bucket)),
            settings,
        )
    }
}

/// The router as the `api` function serves it, with the default web options.
pub fn router(service: Arc<DocumentService>) -> Router {
    router_with(service, &kumocms_api::WebOptions::default())
}

/// The router as the `api` function serves it: the API, the web interface and CORS
/// as the function's settings say.
pub fn router_with(service: Arc<DocumentService>, web: &kumocms_api::WebOptions) -> Router {
    let app = kumocms_api::app(
        ApiState {
            service,
            auth: AuthMode::Gateway,
        },
        web,
    );
    kumocms_api::with_cors(app, web).layer(kumocms_api::trace_layer())
}

/// Prepares a request from `lambda_http` for the router: drops the stage prefix that
/// `lambda_http` adds to REST API paths (the routes have no stage), and carries the
/// Lambda request id as `x-request-id` for the request log line.
pub fn prepare(mut request: lambda_http::Request) -> lambda_http::Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        _ => None,
    };
    if let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") {
        let prefix = format!("/{stage}");
        let path = request.uri().path();
        let stripped = match path.strip_prefix(&prefix) {
            Some("") => Some("/".to_owned()),
            Some(rest) if rest.starts_with('/') => Some(rest.to_owned()),
            _ => None,
        };
        if let Some(stripped) = stripped {
            let path_and_query = match request.uri().query() {
                Some(query) => format!("{stripped}?{query}"),
                None => stripped,
            };
            let mut parts = request.uri().clone().into_parts();
            if let Ok(value) = path_and_query.parse() {
                parts.path_and_query = Some(value);
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = uri;
                }
            }
        }
    }
    let request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone());
    if let Some(value) = request_id.and_then(|id| http::HeaderValue::from_str(&id).ok()) {
        request.headers_mut().insert("x-request-id", value);
    }
    request
}
