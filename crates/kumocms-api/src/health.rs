use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::ApiState;
use crate::dto::{CheckBody, HealthBody};

fn check<E: std::fmt::Display>(name: &str, result: Result<(), E>) -> CheckBody {
    let status = match result {
        Ok(()) => "healthy",
        Err(error) => {
            // The detail is for operators' logs, not for unauthenticated callers.
            tracing::warn!(check = name, %error, "health check failed");
            "unhealthy"
        }
    };
    CheckBody {
        status: status.to_owned(),
    }
}

/// Health of the service and its storage
///
/// Open (no API key): for load balancers and monitoring.
#[utoipa::path(
    get, path = "/healthcheck", tag = "operations",
    responses(
        (status = 200, description = "Every dependency answered", body = HealthBody),
        (status = 503, description = "A dependency failed; `checks` says which", body = HealthBody),
    )
)]
pub async fn healthcheck(State(state): State<ApiState>) -> (StatusCode, Json<HealthBody>) {
    let (metadata, blobs) = futures_util::future::join(
        state.service.metadata_store().health(),
        state.service.blob_store().health(),
    )
    .await;
    let checks = BTreeMap::from([
        ("metadata".to_owned(), check("metadata", metadata)),
        ("blobs".to_owned(), check("blobs", blobs)),
    ]);
    let healthy = checks.values().all(|c| c.status == "healthy");
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = HealthBody {
        status: if healthy { "healthy" } else { "unhealthy" }.to_owned(),
        checks,
    };
    (status, Json(body))
}
