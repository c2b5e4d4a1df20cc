//! A stand-in for AWS that answers at once with replies recorded from moto.
//!
//! The cold-start floor (`hello-bootstrap`) answers without any I/O, while `api`,
//! `authorizer` and `events` must call DynamoDB, Secrets Manager or S3 before their
//! first answer. Against moto that call is a round trip to a Python server (several
//! times the floor's whole cold start), which measures moto, not KumoCMS. This proxy
//! sits where the function expects AWS: in [`Mode::Record`] it forwards every request
//! to moto and keeps the reply; in [`Mode::Replay`] it answers each request with the
//! reply recorded for the same call, in the same order, without forwarding. A cold
//! start measured in replay still makes every request (connection, SigV4 signing,
//! serialisation, parsing the reply) and differs from the recorded one only in the
//! time the emulator takes.
//!
//! A call is identified by method, path and query, and `X-Amz-Target` (the
//! DynamoDB/Secrets Manager operation). Bodies are not part of it: writes carry
//! timestamps. A call with no recorded reply left is answered 502 and counted in
//! [`RecordedAws::misses`], so a replayed run that strays from its recording fails
//! instead of being measured.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// What the proxy does with the next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Forward to the upstream and keep the replies under this recording's name.
    Record(String),
    /// Answer from this recording, in order, without forwarding.
    Replay(String),
}

#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Recording {
    replies: HashMap<String, Vec<Reply>>,
    /// How many replies of each call were served since the last [`RecordedAws::rewind`].
    served: HashMap<String, usize>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    mode: Mutex<Option<Mode>>,
    recordings: Mutex<HashMap<String, Recording>>,
    misses: Mutex<u64>,
}

/// The proxy; cheap to clone.
#[derive(Clone)]
pub struct RecordedAws {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// Headers that describe one hop, not the message; reqwest and hyper set their own.
const HOP_HEADERS: [&str; 5] = [
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "transfer-encoding",
];

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in HOP_HEADERS {
        kept.remove(HeaderName::from_static(name));
    }
    kept
}

fn call_of(request: &Request) -> String {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    format!("{} {path} {target}", request.method())
}

impl RecordedAws {
    /// Starts the proxy on an ephemeral loopback port, in front of `upstream`
    /// (e.g. moto's `http://127.0.0.1:5000`).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            mode: Mutex::new(None),
            recordings: Mutex::new(HashMap::new()),
            misses: Mutex::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { shared, addr })
    }

    /// The endpoint to give the function as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches mode and rewinds the recording about to be replayed.
    pub fn set_mode(&self, mode: Mode) {
        if let Mode::Replay(name) = &mode {
            self.rewind(name);
        }
        *self
            .shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(mode);
    }

    /// Serves a recording from its first reply again (before each replayed start).
    pub fn rewind(&self, name: &str) {
        let mut recordings = self
            .shared
            .recordings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(recording) = recordings.get_mut(name) {
            recording.served.clear();
        }
    }

    /// Requests answered 502 in replay because nothing was recorded for them.
    pub fn misses(&self) -> u64 {
        *self
            .shared
            .misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Replies recorded under `name`, all calls together.
    pub fn recorded(&self, name: &str) -> usize {
        self.shared
            .recordings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map_or(0, |r| r.replies.values().map(Vec::len).sum())
    }
}

fn bad_gateway(message: String) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        axum::Json(serde_json::json!({ "error": "recorded_aws", "message": message })),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let call = call_of(&request);
    let mode = shared
        .mode
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match mode {
        None => bad_gateway("no mode set".to_owned()),
        Some(Mode::Replay(name)) => {
            let reply = {
                let mut recordings = shared
                    .recordings
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                recordings.get_mut(&name).and_then(|recording| {
                    let served = recording.served.entry(call.clone()).or_default();
                    let reply = recording.replies.get(&call)?.get(*served)?.clone();
                    *served += 1;
                    Some(reply)
                })
            };
            match reply {
                Some(reply) => (reply.status, reply.headers, reply.body).into_response(),
                None => {
                    *shared.misses.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    bad_gateway(format!("nothing recorded for {call} in {name}"))
                }
            }
        }
        Some(Mode::Record(name)) => match forward(&shared, request).await {
            Ok(reply) => {
                shared
                    .recordings
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(name)
                    .or_default()
                    .replies
                    .entry(call)
                    .or_default()
                    .push(reply.clone());
                (reply.status, reply.headers, reply.body).into_response()
            }
            Err(e) => bad_gateway(format!("forwarding {call}: {e}")),
        },
    }
}

async fn forward(shared: &Shared, request: Request) -> Result<Reply, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let response = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(end_to_end(&parts.headers))
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let headers = end_to_end(response.headers());
    let body = response.bytes().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    /// An upstream that numbers its answers, so a replay can be told from a forward.
    async fn counting_upstream() -> String {
        let counter = Arc::new(Mutex::new(0u32));
        let app = Router::new().fallback(move |request: Request| {
            let counter = Arc::clone(&counter);
            async move {
                let mut n = counter.lock().unwrap();
                *n += 1;
                format!("{} {} #{n}", request.method(), request.uri().path())
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn get(client: &reqwest::Client, url: &str, target: &str) -> (u16, String) {
        let response = client
            .post(url)
            .header("x-amz-target", target)
            .body("{}")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    #[tokio::test]
    async fn replays_recorded_replies_in_order_and_counts_strays() {
        let proxy = RecordedAws::start(&counting_upstream().await)
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let url = format!("{}/table", proxy.endpoint());

        proxy.set_mode(Mode::Record("api".into()));
        assert_eq!(get(&client, &url, "GetItem").await.1, "POST /table #1");
        assert_eq!(get(&client, &url, "GetItem").await.1, "POST /table #2");
        assert_eq!(get(&client, &url, "PutItem").await.1, "POST /table #3");
        assert_eq!(proxy.recorded("api"), 3);

        for _ in 0..2 {
            proxy.set_mode(Mode::Replay("api".into()));
            // Same call, same order as recorded; nothing reaches the upstream.
            assert_eq!(get(&client, &url, "GetItem").await.1, "POST /table #1");
            assert_eq!(get(&client, &url, "PutItem").await.1, "POST /table #3");
            assert_eq!(get(&client, &url, "GetItem").await.1, "POST /table #2");
        }
        assert_eq!(proxy.misses(), 0);

        // A third GetItem was never recorded, nor was another operation.
        assert_eq!(get(&client, &url, "GetItem").await.0, 502);
        assert_eq!(get(&client, &url, "DeleteItem").await.0, 502);
        assert_eq!(proxy.misses(), 2);

        // Recording again forwards: the upstream counts on from where it was.
        proxy.set_mode(Mode::Record("other".into()));
        assert_eq!(get(&client, &url, "GetItem").await.1, "POST /table #4");
    }
}
