//! The HTTP API client: one authenticated JSON call with retries on network errors
//! and 5xx, and the mapping of API errors to the client's errors.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

use super::config::Target;
use super::error::{ClientError, ErrorKind, Result};

/// A JSON answer: status, headers, body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Backoff for network errors and 5xx: 5 retries, 200 ms doubling to 5 s, with jitter.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(5)
        .with_jitter()
}

/// Backoff for sending content through links: more tries than for API calls, since
/// a busy local server answers 503 to every upload past its limit.
pub fn transfer_backoff() -> ExponentialBuilder {
    backoff().with_max_times(10)
}

/// A failure worth another try: the network, or the server's 5xx / 429.
#[derive(Debug)]
pub enum CallError {
    Retryable(ClientError),
    /// 503/429 with `Retry-After`: wait at least that long.
    Busy(ClientError, Duration),
    Final(ClientError),
}

impl CallError {
    pub fn into_inner(self) -> ClientError {
        match self {
            Self::Retryable(e) | Self::Busy(e, _) | Self::Final(e) => e,
        }
    }

    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Final(_))
    }

    /// For backon's `adjust`: a server's `Retry-After` lengthens the next wait (never
    /// shortens it, keeping the jitter that spreads the retries of many uploads).
    pub fn wait(&self, planned: Option<Duration>) -> Option<Duration> {
        match (self, planned) {
            (Self::Busy(_, after), Some(planned)) => Some(planned.max(*after)),
            (_, planned) => planned,
        }
    }

    /// The retryable error for an answer with this status and headers.
    pub fn for_status(status: StatusCode, headers: &HeaderMap, error: ClientError) -> Self {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(60)));
        match retry_after {
            Some(after)
                if status == StatusCode::SERVICE_UNAVAILABLE
                    || status == StatusCode::TOO_MANY_REQUESTS =>
            {
                Self::Busy(error, after)
            }
            _ => Self::Retryable(error),
        }
    }
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub target: Target,
}

impl Api {
    pub fn new(target: Target) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("kumocms/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A connection idle this long is not reused: `kumocms serve` closes an
            // idle keep-alive connection after its 10 s header-read timeout, and a
            // request sent on it just then fails ("connection closed before message
            // completed"), which a create (POST) cannot safely retry.
            .pool_idle_timeout(Duration::from_secs(5))
            // Downloads follow the API's 307 to a signed link themselves; no
            // redirect may carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::server(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, target })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.target.url)
    }

    /// A network failure as one line saying what to check.
    pub fn network_error(&self, error: &reqwest::Error) -> ClientError {
        let mut cause = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            cause = format!("{cause}: {inner}");
            source = inner.source();
        }
        if error.is_builder() {
            return ClientError::usage(format!(
                "the URL {} is not valid ({cause}); check --url, KUMOCMS_URL or the profile",
                self.target.url
            ));
        }
        ClientError::server(format!(
            "cannot reach {} ({cause}); check --url, KUMOCMS_URL or the profile, and that the server is running",
            self.target.url
        ))
    }

    /// An error answer from the API as a client error, naming what to check.
    pub fn api_error(&self, status: StatusCode, body: &Value) -> ClientError {
        let code = body.get("error").and_then(Value::as_str);
        let message = body.get("message").and_then(Value::as_str).unwrap_or("");
        let kind = ClientError::kind_of_status(status.as_u16());
        match (kind, code) {
            (ErrorKind::Auth, _) => {
                let what = if self.target.api_key.is_none() {
                    "no API key given"
                } else {
                    "the API key was refused"
                };
                ClientError::new(
                    kind,
                    format!(
                        "{what} by {} ({status}); check --api-key, --api-key-file, KUMOCMS_API_KEY or the profile (`kumocms login`)",
                        self.target.url
                    ),
                )
            }
            // The server is a KumoCMS API but has no such route: the URL's path is off
            // (a stage name missing or extra).
            (_, Some("route_not_found")) => ClientError::new(
                kind,
                format!(
                    "{} has no such API route ({status}); check that --url (KUMOCMS_URL or the profile) is the API's base URL",
                    self.target.url
                ),
            ),
            (_, Some(code)) => ClientError::new(kind, format!("{code}: {message} ({status})")),
            // Not the API's error shape: most likely a URL that is not a KumoCMS API
            // (a wrong host, port or stage path).
            (_, None) => ClientError::new(
                kind,
                format!(
                    "{} answered {status} without a KumoCMS error body; check that --url (KUMOCMS_URL or the profile) is the API's base URL",
                    self.target.url
                ),
            ),
        }
    }

    /// One authenticated request, retried on network errors and 5xx when `idempotent`
    /// (a POST that creates is retried only when it never reached the server).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        headers: &[(&str, String)],
        idempotent: bool,
    ) -> Result<Answer> {
        let attempt = || async {
            let mut request = self.http.request(method.clone(), self.url(path));
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(key) = &self.target.api_key {
                request = request.bearer_auth(key);
            }
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    let error = self.network_error(&e);
                    return Err(if idempotent || e.is_connect() {
                        CallError::Retryable(error)
                    } else {
                        CallError::Final(error)
                    });
                }
            };
            let status = response.status();
            let response_headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| CallError::Retryable(self.network_error(&e)))?;
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(Answer {
                    status,
                    headers: response_headers,
                    body,
                });
            }
            let error = self.api_error(status, &body);
            if idempotent && (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                Err(CallError::for_status(status, &response_headers, error))
            } else {
                Err(CallError::Final(error))
            }
        };
        attempt
            .retry(backoff())
            .when(CallError::is_retryable)
            .adjust(CallError::wait)
            .await
            .map_err(CallError::into_inner)
    }

    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value> {
        Ok(self
            .call(Method::GET, path, query, None, &[], true)
            .await?
            .body)
    }

    pub async fn post(&self, path: &str, body: &Value, idempotent: bool) -> Result<Value> {
        Ok(self
            .call(Method::POST, path, &[], Some(body), &[], idempotent)
            .await?
            .body)
    }

    /// `GET /documents/{id}`.
    pub async fn document(&self, id: &str) -> Result<Value> {
        self.get(&format!("/documents/{}", path_segment(id)?), &[])
            .await
    }
}

/// A document id (or other value) checked to be safe as one path segment.
pub fn path_segment(id: &str) -> Result<&str> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ClientError::usage(format!(
            "{id:?} is not a document id (26 letters and digits, as `kumocms ls` prints)"
        )));
    }
    Ok(id)
}

/// Any opaque id the server hands out (an `upload_id` may be an S3 upload id, with
/// characters such as `.` or `~`), percent-encoded as one path segment.
pub fn encode_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}
