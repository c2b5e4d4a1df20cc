//! The KumoCMS HTTP API. The same [`router`] serves `kumocms serve` and the `api`
//! Lambda function (through `lambda_http`), so a client changes only its base URL.

mod auth;
mod body;
mod documents;
mod dto;
mod error;
pub mod error_codes;
mod health;
pub mod openapi;
mod revisions;
mod trace;
mod uploads;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use kumocms_core::ports::KeySource;
use kumocms_core::service::DocumentService;

pub use error::ApiError;
pub use trace::{drop_unsafe_request_id, is_safe_request_id, trace_layer};
pub use web::WebOptions;

/// Largest JSON request body the API reads. Metadata is capped at 16 KiB; the rest
/// of a request is small.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// How requests prove who they are.
#[derive(Clone)]
pub enum AuthMode {
    /// `Authorization: Bearer <key>`, checked against these keys (local mode).
    ApiKeys(Arc<dyn KeySource>),
    /// API Gateway's authorizer (Lambda or Cognito) already checked the request.
    Gateway,
}

#[derive(Clone)]
pub struct ApiState {
    pub service: Arc<DocumentService>,
    pub auth: AuthMode,
}

/// One route of the API: what API Gateway must expose for the router to be reachable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: bool,
}

/// Every route the router serves. The Terraform module's route table is checked
/// against this list.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthcheck",
        auth: false,
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        auth: false,
    },
    Route {
        method: "GET",
        path: "/documents",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}",
        auth: true,
    },
    Route {
        method: "PUT",
        path: "/documents/{id}",
        auth: true,
    },
    Route {
        method: "PATCH",
        path: "/documents/{id}",
        auth: true,
    },
    Route {
        method: "DELETE",
        path: "/documents/{id}",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}/content",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/archive",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/restore",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/undelete",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}/revisions",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}/revisions/{n}",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}/revisions/{n}/content",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/revisions/{n}/restore",
        auth: true,
    },
    Route {
        method: "DELETE",
        path: "/documents/{id}/uploads/{upload_id}",
        auth: true,
    },
    Route {
        method: "GET",
        path: "/documents/{id}/uploads/{upload_id}/parts",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/uploads/{upload_id}/parts",
        auth: true,
    },
    Route {
        method: "POST",
        path: "/documents/{id}/uploads/{upload_id}/complete",
        auth: true,
    },
];

/// Builds the API router.
pub fn router(state: ApiState) -> Router {
    let documents = documents::routes()
        .merge(revisions::routes())
        .merge(uploads::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/healthcheck", get(health::healthcheck))
        .route("/openapi.json", get(openapi::serve))
        .merge(documents)
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(state)
}

/// The API router with the web interface under `/ui/` (when enabled): what
/// `kumocms serve` and the `api` function serve, before [`with_cors`].
pub fn app(state: ApiState, web: &WebOptions) -> Router {
    let app = router(state);
    match &web.ui {
        // The merged router answers a wrong method with the API's JSON 405 too.
        Some(auth) => app
            .merge(web::routes(auth.clone()))
            .method_not_allowed_fallback(error::method_not_allowed),
        None => app,
    }
}

/// CORS for the allowed origins around everything a browser may call: applied
/// last, so that `kumocms serve` covers its upload and download links as well.
pub fn with_cors(app: Router, web: &WebOptions) -> Router {
    match web::cors_layer(&web.cors_allowed_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    }
}
