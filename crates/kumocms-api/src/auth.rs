//! API-key authentication for the local server. On AWS, API Gateway's authorizer
//! does this before the request reaches the function.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use kumocms_core::auth::bearer_key;

use crate::error::ApiError;
use crate::{ApiState, AuthMode};

pub async fn require_key(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let AuthMode::ApiKeys(source) = &state.auth else {
        return Ok(next.run(request).await);
    };
    // `HeaderMap` lookups are case-insensitive, so `authorization:` works too. More
    // than one Authorization header is refused whatever they hold: which one counts
    // would otherwise depend on the order (issue 16, item 13).
    let mut values = request
        .headers()
        .get_all(http::header::AUTHORIZATION)
        .iter();
    let presented = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().and_then(bearer_key),
        _ => None,
    };
    let Some(presented) = presented else {
        return Err(ApiError::unauthorized());
    };
    let keys = source.api_keys().await.map_err(|error| {
        tracing::error!(%error, "API keys unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the API keys cannot be read right now; retry shortly",
        )
    })?;
    match keys.verify(presented) {
        Some(matched) => {
            tracing::debug!(key = matched.as_str(), "authenticated");
            Ok(next.run(request).await)
        }
        None => Err(ApiError::unauthorized()),
    }
}
