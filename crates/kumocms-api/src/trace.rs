//! Request logging: one span per request with its id, method and path. The query
//! string is never recorded (signed links carry their signature there) and neither
//! are headers (the API key travels in `Authorization`).

use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::Level;

#[derive(Clone, Copy, Debug, Default)]
pub struct PathOnlySpan;

impl<B> MakeSpan<B> for PathOnlySpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %request_id,
        )
    }
}

pub fn trace_layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, PathOnlySpan, (), DefaultOnResponse> {
    TraceLayer::new_for_http()
        .make_span_with(PathOnlySpan)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}
