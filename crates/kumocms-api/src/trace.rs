//! Request logging: one span per request with its id, method and path. The query
//! string is never recorded (signed links carry their signature there) and neither
//! are headers (the API key travels in `Authorization`).

use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::Level;

/// The longest request id kept from a client (issue 16, item 10).
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client-sent request id may reach the logs as it is: 1 to 64 characters
/// of `[A-Za-z0-9._-]`. Anything else (spaces, `=`, quotes, control characters)
/// could forge log fields, so it is replaced by a generated id.
pub fn is_safe_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes an `X-Request-Id` a client sent in an unsafe shape (or more than one), so
/// that the server generates one instead. Use with `axum::middleware::map_request`
/// outside the layer that sets the id.
pub async fn drop_unsafe_request_id<B>(mut request: Request<B>) -> Request<B> {
    let headers = request.headers_mut();
    let mut values = headers.get_all("x-request-id").iter();
    let keep = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().is_ok_and(is_safe_request_id),
        (None, _) => true,
        _ => false,
    };
    if !keep {
        headers.remove("x-request-id");
    }
    request
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PathOnlySpan;

impl<B> MakeSpan<B> for PathOnlySpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            // Never an unsafe id in a log line, whoever forgot to drop it.
            .filter(|id| is_safe_request_id(id))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for good in ["01J0ABC", "a.b_c-d", &"x".repeat(64)] {
            assert!(is_safe_request_id(good), "{good}");
        }
        for bad in [
            "",
            "x request_id=spoofed status=200",
            "a\"b",
            "a=b",
            "tab\there",
            "\u{202e}x",
            &"x".repeat(65),
        ] {
            assert!(!is_safe_request_id(bad), "{bad:?}");
        }
    }
}
