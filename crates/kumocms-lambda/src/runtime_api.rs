//! A local Lambda Runtime API: the HTTP interface a `provided.al2023` function polls
//! for invocations and answers on. The `bootstrap` tests and the cold-start benchmark
//! start the real binary against it, as Lambda would, and read what it reported.
//!
//! Feature `test-support`; never part of the shipped binary.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;

/// How long each invocation may run (`lambda-runtime-deadline-ms`).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// One thing the function did, in the order it did them.
#[derive(Debug, Clone)]
pub enum Report {
    /// `GET …/invocation/next`: the function is ready for an invocation.
    Next { at: Instant },
    Response {
        at: Instant,
        request_id: String,
        body: Value,
    },
    Error {
        at: Instant,
        request_id: String,
        body: Value,
        /// `lambda-runtime-function-error-type`.
        error_type: Option<String>,
    },
    InitError {
        at: Instant,
        body: Value,
        error_type: Option<String>,
    },
}

impl Report {
    pub fn at(&self) -> Instant {
        match self {
            Self::Next { at }
            | Self::Response { at, .. }
            | Self::Error { at, .. }
            | Self::InitError { at, .. } => *at,
        }
    }

    /// An answer to an invocation (a response or an error).
    pub fn is_answer(&self) -> bool {
        matches!(self, Self::Response { .. } | Self::Error { .. })
    }
}

/// Called with every report as it arrives, on the server's task (the benchmark reads
/// the function's CPU time at its first answer).
pub type Observer = Box<dyn Fn(&Report) + Send + Sync>;

/// The invocations still to hand out and what the function reported.
#[derive(Default)]
struct Session {
    queue: VecDeque<(String, Value)>,
    reports: Vec<Report>,
}

struct Shared {
    session: Mutex<Session>,
    /// A report arrived.
    reported: Notify,
    /// An invocation was queued.
    queued: Notify,
    function_arn: String,
    observer: Option<Observer>,
}

impl Shared {
    fn session(&self) -> MutexGuard<'_, Session> {
        // A panicking test thread must not hide the reports from the others.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn report(&self, report: Report) {
        if let Some(observer) = &self.observer {
            observer(&report);
        }
        self.session().reports.push(report);
        self.reported.notify_waiters();
    }
}

/// A Runtime API server on 127.0.0.1 (an ephemeral port), until dropped with its runtime.
pub struct FakeRuntimeApi {
    shared: Arc<Shared>,
    address: SocketAddr,
}

/// `wait_until` gave up.
#[derive(Debug, thiserror::Error)]
#[error("the function did not report what was awaited within {0:?}")]
pub struct TimedOut(pub Duration);

impl FakeRuntimeApi {
    /// Serves the Runtime API for a function with this ARN.
    pub async fn start(function_arn: &str) -> std::io::Result<Self> {
        Self::start_observed(function_arn, None).await
    }

    pub async fn start_observed(
        function_arn: &str,
        observer: Option<Observer>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            session: Mutex::default(),
            reported: Notify::new(),
            queued: Notify::new(),
            function_arn: function_arn.to_owned(),
            observer,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { shared, address })
    }

    /// What `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts afresh for a new process: these invocations, no reports.
    pub fn reset(&self, invocations: Vec<(String, Value)>) {
        let mut session = self.shared.session();
        session.queue = invocations.into();
        session.reports.clear();
        drop(session);
        self.shared.queued.notify_waiters();
    }

    /// Queues one invocation.
    pub fn invoke(&self, request_id: &str, event: Value) {
        self.shared
            .session()
            .queue
            .push_back((request_id.to_owned(), event));
        self.shared.queued.notify_waiters();
    }

    /// Everything reported since the last `reset`.
    pub fn reports(&self) -> Vec<Report> {
        self.shared.session().reports.clone()
    }

    /// Waits until `found` picks something out of the reports.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        found: impl Fn(&[Report]) -> Option<T>,
    ) -> Result<T, TimedOut> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before reading, so a report between the two is not missed.
            let reported = self.shared.reported.notified();
            if let Some(value) = found(&self.shared.session().reports) {
                return Ok(value);
            }
            if tokio::time::timeout_at(deadline, reported).await.is_err() {
                return Err(TimedOut(timeout));
            }
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.report(Report::Next { at: Instant::now() });
    loop {
        let queued = shared.queued.notified();
        let invocation = shared.session().queue.pop_front();
        if let Some((request_id, event)) = invocation {
            return invocation_response(&shared.function_arn, &request_id, &event);
        }
        // As Lambda does: the request waits until there is an invocation.
        queued.await;
    }
}

fn invocation_response(function_arn: &str, request_id: &str, event: &Value) -> Response {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + INVOCATION_TIMEOUT;
    let headers = [
        ("lambda-runtime-aws-request-id", request_id.to_owned()),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            function_arn.to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
        ),
    ];
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                map.insert(name, value);
            }
            Err(_) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{name} is not a header value: {value:?}"),
                )
                    .into_response();
            }
        }
    }
    (StatusCode::OK, map, event.to_string()).into_response()
}

/// The body as JSON, or as a JSON string when it is not JSON.
fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    shared.report(Report::Response {
        at: Instant::now(),
        request_id,
        body: parse(&body),
    });
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared.report(Report::Error {
        at: Instant::now(),
        request_id,
        body: parse(&body),
        error_type: error_type(&headers),
    });
    StatusCode::ACCEPTED
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared.report(Report::InitError {
        at: Instant::now(),
        body: parse(&body),
        error_type: error_type(&headers),
    });
    StatusCode::ACCEPTED
}
