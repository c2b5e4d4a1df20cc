//! The HTTP client under every SDK call: hyper 1 through hyper-util's pooled client,
//! TLS by hyper-rustls on rustls with ring, trusting the Mozilla root set compiled
//! into the binary (`webpki-roots`).
//!
//! Why not `aws_smithy_http_client::Builder`: its rustls trust store reads and
//! PEM-decodes every file in the platform's certificate directory when a client is
//! built, which was a quarter of the Lambda function's cold-start CPU (BENCHMARKS.md,
//! "Cold start"). The compiled-in roots are a table of borrowed DER slices, so
//! trusting them costs no I/O and no parsing. Nothing is lost by not reading the
//! platform's store: Lambda's own base images ship the same Mozilla set, and AWS
//! endpoints, VPC interface endpoints included, present Amazon Trust Services
//! certificates, which that set holds; a private CA would only be needed to reach
//! something that is not AWS. The builder offers no public way to plug in another
//! TLS connector, so this module implements the SDK's [`HttpClient`] and
//! [`HttpConnector`] itself, on the same crates the SDK's own client uses.
//!
//! Errors are sorted into the [`ConnectorError`] kinds the SDK's retry classifier
//! acts on, as `aws-smithy-http-client` sorts them: connect failures and I/O errors
//! are `io` and timeouts `timeout` (both retried), request-side mistakes `user`,
//! anything else `other`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy;
use hyper_util::client::legacy::connect::{
    CaptureConnection, HttpConnector as TcpConnector, HttpInfo, capture_connection,
};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;

/// What can go wrong in this client itself (transport errors come from hyper and
/// are passed on inside a [`ConnectorError`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpClientError {
    /// The rustls configuration could not be built; every request fails with this.
    #[error("the TLS client configuration could not be built: {0}")]
    Tls(#[source] rustls::Error),
    /// No response headers arrived within the read timeout of the SDK's settings.
    #[error("no response within the read timeout of {0:?}")]
    ReadTimeout(Duration),
}

/// The Mozilla root set compiled into the binary: copying the table of borrowed
/// trust anchors is all the work, nothing is read or decoded.
pub(crate) fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// An SDK HTTP client that trusts exactly `roots`.
pub(crate) fn with_roots(roots: RootCertStore) -> SharedHttpClient {
    SharedHttpClient::new(RustlsHttpClient {
        tls: tls_config(roots).map(Arc::new).map_err(|error| {
            tracing::error!(%error, "TLS client configuration failed; AWS calls will fail");
            HttpClientError::Tls(error)
        }),
        connectors: RwLock::new(HashMap::new()),
    })
}

/// rustls on ring, explicitly: asking for the process-wide default provider would
/// panic if another crate ever enabled a second one.
fn tls_config(roots: RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/2 where the server offers it (one connection multiplexes concurrent
    // calls), HTTP/1.1 otherwise; hyper-util picks the protocol ALPN agreed on.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The timeouts a connector is built with; the SDK asks for a connector on every
/// operation, and each distinct pair gets one connector and one connection pool.
type Timeouts = (Option<Duration>, Option<Duration>);

struct RustlsHttpClient {
    tls: Result<Arc<rustls::ClientConfig>, HttpClientError>,
    connectors: RwLock<HashMap<Timeouts, SharedHttpConnector>>,
}

impl fmt::Debug for RustlsHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsHttpClient")
            .field("tls_ready", &self.tls.is_ok())
            .finish_non_exhaustive()
    }
}

impl RustlsHttpClient {
    fn build_connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let (connect_timeout, read_timeout) = timeouts;
        let tls = match &self.tls {
            Ok(tls) => Arc::clone(tls),
            Err(error) => return SharedHttpConnector::new(Unusable(error.clone())),
        };
        let mut tcp = TcpConnector::new();
        // The HTTPS connector decides per scheme: http (moto on loopback) goes
        // straight through, https is wrapped in TLS.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        // Bounds the TCP connect only; a stalled TLS handshake is bounded by the read
        // timeout (which covers the whole exchange up to the response headers) and
        // by the SDK's attempt timeout.
        tcp.set_connect_timeout(connect_timeout);
        let https = HttpsConnector::from((tcp, tls));
        let mut builder = legacy::Client::builder(TokioExecutor::new());
        // Without a timer the pool never expires idle connections.
        builder.pool_timer(TokioTimer::new());
        tracing::debug!(?connect_timeout, ?read_timeout, "new HTTP connector");
        SharedHttpConnector::new(RustlsConnector {
            client: builder.build(https),
            read_timeout,
        })
    }
}

impl HttpClient for RustlsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        // A panic elsewhere cannot leave the map half-written (insert is the only
        // write), so a poisoned lock is still a valid cache.
        if let Some(connector) = self
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return connector.clone();
        }
        let mut connectors = self
            .connectors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| self.build_connector(key))
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// Stands in for a connector when the TLS configuration failed, so that the failure
/// reaches each caller as an error instead of a panic at start-up.
#[derive(Debug)]
struct Unusable(HttpClientError);

impl HttpConnector for Unusable {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::other(Box::new(self.0.clone()), None)))
    }
}

struct RustlsConnector {
    client: legacy::Client<HttpsConnector<TcpConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl fmt::Debug for RustlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsConnector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for RustlsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        // Lets the SDK poison the connection after a failed attempt (a timeout, a
        // 5xx) so that the retry does not go out on the same, possibly stuck, one.
        let captured = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || connection_metadata(&captured));
        }
        let pending = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, pending).await {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        return Err(ConnectorError::timeout(Box::new(
                            HttpClientError::ReadTimeout(limit),
                        )));
                    }
                },
                None => pending.await,
            }
            .map_err(to_connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = captured.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let handle = captured.clone();
    let mut builder = ConnectionMetadata::builder()
        .proxied(connected.is_proxied())
        .poison_fn(move || {
            if let Some(connected) = handle.connection_metadata().as_ref() {
                connected.poison();
            }
        });
    builder
        .set_remote_addr(info.map(HttpInfo::remote_addr))
        .set_local_addr(info.map(HttpInfo::local_addr));
    Some(builder.build())
}

/// How the SDK should treat a failed exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Timeout,
    Io,
    User,
    Transient,
    Other,
}

fn to_connector_error(error: legacy::Error) -> ConnectorError {
    let class = classify(&error);
    if class == Class::Other {
        tracing::warn!(error = ?error, "unrecognised HTTP client error, not retried");
    }
    let error: BoxError = Box::new(error);
    match class {
        Class::Timeout => ConnectorError::timeout(error),
        Class::Io => ConnectorError::io(error),
        Class::User => ConnectorError::user(error),
        Class::Transient => ConnectorError::other(error, Some(ErrorKind::TransientError)),
        Class::Other => ConnectorError::other(error, None),
    }
}

/// The order matters and follows aws-smithy-http-client: a timeout anywhere wins,
/// then what hyper says about the exchange, then connect and I/O failures.
fn classify(error: &legacy::Error) -> Class {
    // hyper-util's connect timeout surfaces as an `io::Error` of kind `TimedOut`. So
    // does the kernel's ETIMEDOUT, which aws-smithy-http-client calls `io`: both
    // kinds are retried, so the difference only shows in the error's wording.
    if chain(error).any(|e| {
        e.downcast_ref::<io::Error>().map(io::Error::kind) == Some(io::ErrorKind::TimedOut)
    }) {
        return Class::Timeout;
    }
    if let Some(kind) = chain(error).find_map(hyper_kind) {
        match kind {
            HyperKind::User => return Class::User,
            HyperKind::ClosedOrCanceled | HyperKind::Http2Refused => return Class::Io,
            // Seen from S3: the server closed the connection mid-response.
            HyperKind::IncompleteMessage => return Class::Transient,
            HyperKind::Other => {}
        }
        return if chain(error).any(|e| e.is::<io::Error>()) {
            Class::Io
        } else {
            Class::Other
        };
    }
    if error.is_connect() || chain(error).any(|e| e.is::<io::Error>()) {
        return Class::Io;
    }
    Class::Other
}

/// The parts of `hyper::Error` the classification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HyperKind {
    User,
    ClosedOrCanceled,
    IncompleteMessage,
    /// HTTP/2 GOAWAY, or the stream refused: the request was not processed.
    Http2Refused,
    Other,
}

/// What hyper says about a failed exchange, if the error is hyper's.
fn hyper_kind(error: &(dyn StdError + 'static)) -> Option<HyperKind> {
    let error = error.downcast_ref::<hyper::Error>()?;
    Some(if error.is_user() {
        HyperKind::User
    } else if error.is_canceled() || error.is_closed() {
        HyperKind::ClosedOrCanceled
    } else if error.is_incomplete_message() {
        HyperKind::IncompleteMessage
    } else if chain(error)
        .filter_map(|e| e.downcast_ref::<h2::Error>())
        .any(|h2| h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
    {
        HyperKind::Http2Refused
    } else {
        HyperKind::Other
    })
}

/// The error and its causes. `io::Error::source` skips the error it wraps (it
/// returns that error's own source), so for an `io::Error` the wrapped error is
/// visited too: that is where hyper-rustls puts rustls' certificate errors and
/// hyper-util its connect timeout.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io_error) => io_error
            .get_ref()
            .map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}
