//! The web interface and what browsers need to use the API: the static assets of
//! `/ui/` (compiled into the binary from `crates/kumocms-api/ui/`), the open
//! `/ui/config.json` that tells the interface how to sign in, and CORS.
//!
//! The interface is a client of the public API like any other: the assets and
//! the config are open (they hold no data), every API call it makes carries the
//! key or token the user signed in with.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The files under `ui/`, in the binary in every build profile.
#[derive(rust_embed::RustEmbed)]
#[folder = "ui/"]
struct Assets;

/// Where the interface is. `kumocms serve` also redirects `/` here.
pub const UI_PATH: &str = "/ui/";

/// How the interface signs a user in, as `GET /ui/config.json` says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "auth", rename_all = "snake_case")]
pub enum UiAuth {
    /// An API key typed into the sign-in form (local mode, and the Lambda authorizer).
    ApiKey,
    /// The Cognito hosted UI, authorization-code flow with PKCE.
    Cognito { cognito: CognitoUi },
}

/// What the interface needs to send a user to the Cognito hosted UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CognitoUi {
    /// The hosted UI's base URL, `https://<domain>.auth.<region>.amazoncognito.com`.
    pub domain: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// The browser-facing options of the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOptions {
    /// Serve `/ui/` (and its config) with this sign-in; `None` turns the interface off.
    pub ui: Option<UiAuth>,
    /// Origins allowed to call the API from a browser (`*` for any); empty: no CORS.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self {
            ui: Some(UiAuth::ApiKey),
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// A CORS origin that is not `*` or `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a CORS origin: give `*` or scheme://host[:port] with no path, e.g. http://localhost:3000"
)]
pub struct InvalidOrigin(pub String);

/// Splits a comma-separated origin list (the flag and `KUMOCMS_CORS_ALLOWED_ORIGINS`)
/// and checks each origin.
pub fn parse_origins(list: &str) -> Result<Vec<String>, InvalidOrigin> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            if origin == "*" || is_origin(origin) {
                Ok(origin.to_owned())
            } else {
                Err(InvalidOrigin(origin.to_owned()))
            }
        })
        .collect()
}

fn is_origin(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(host, port)| {
        if port.parse::<u16>().is_ok() {
            host
        } else {
            ""
        }
    });
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        && HeaderValue::from_str(text).is_ok()
}

/// The CORS layer for these origins; `None` when there are none. Preflights are
/// answered before authentication (a browser sends them without the key).
pub fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                header::RANGE,
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                header::CONTENT_RANGE,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The routes of the interface. State-free: merged into the API router.
pub fn routes<S: Clone + Send + Sync + 'static>(auth: UiAuth) -> Router<S> {
    Router::new()
        .route("/", get(redirect_to_ui))
        .route("/ui", get(redirect_to_ui))
        .route("/ui/", get(|headers: HeaderMap| async move { asset("index.html", &headers) }))
        .route(
            "/ui/config.json",
            get(move || {
                let auth = auth.clone();
                async move { ([(header::CACHE_CONTROL, "no-store")], Json(auth)) }
            }),
        )
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                asset(&path, &headers)
            }),
        )
}

/// A relative redirect (`ui/` from `/` and from `/ui` alike), so it is right behind
/// API Gateway's stage path too.
async fn redirect_to_ui() -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, "ui/"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
    )
        .into_response()
}

/// The page's policy: scripts and styles from here only; links and previews may
/// point at the store (signed S3 URLs) and the token call at Cognito.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: data: blob:; frame-src 'self' https:; connect-src 'self' https:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("the interface has no file {path:?}"),
        )
        .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, file.metadata.mimetype().to_owned())],
            file.data.into_owned(),
        )
            .into_response()
    };
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    // Small files, revalidated on every load with the ETag: a new release shows at once.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response_headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert_eq!(
            parse_origins(" http://localhost:3000 , https://docs.example.com").unwrap(),
            vec!["http://localhost:3000", "https://docs.example.com"]
        );
        assert_eq!(parse_origins("*").unwrap(), vec!["*"]);
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        for bad in [
            "localhost:3000",
            "https://example.com/path",
            "ftp://example.com",
            "https://",
            "https://example.com:port",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        let index = Assets::get("index.html").expect("index.html");
        let html = String::from_utf8_lossy(&index.data);
        for needed in ["style.css", "app.js", "icon.svg"] {
            assert!(html.contains(needed), "{needed} is linked");
            assert!(Assets::get(needed).is_some(), "{needed} is embedded");
        }
        for module in ["api.js", "auth.js", "upload.js"] {
            assert!(Assets::get(module).is_some(), "{module} is embedded");
        }
    }
}
