//! `kumocms serve`: the API router and the signed-link routes on one listener, over
//! SQLite and files in one data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderName;
use kumocms_api::{ApiState, AuthMode};
use kumocms_core::ports::{Clock, SystemClock};
use kumocms_core::service::ServiceConfig;
use kumocms_local::{BackgroundTasks, LocalBackend, LocalConfig, defaults};

use crate::listener::ConnectionLimits;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

/// Everything `kumocms serve` can be told. Start from [`ServeOptions::new`] (the
/// defaults of [`kumocms_local::defaults`] and [`ServiceConfig::default`]).
#[derive(Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub service: ServiceConfig,
    pub restore_delay: Duration,
    pub restore_day_length: Duration,
    pub sweep_interval: Duration,
    /// Uploads received at once; more get 503 with `Retry-After`.
    pub max_concurrent_uploads: usize,
    /// Longest wait for the next bytes of an upload's body (408 after it).
    pub body_timeout: Duration,
    /// Header-read and idle timeouts, and the connection cap.
    pub connections: ConnectionLimits,
    pub api_key: Option<String>,
    pub api_key_previous: Option<String>,
    /// The web interface and CORS.
    pub web: kumocms_api::WebOptions,
    /// The time links, uploads, restores and the trash expire by: the system clock,
    /// or a `kumocms_core::clock::ManualClock` in tests.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("ServeOptions")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("service", &self.service)
            .field("restore_delay", &self.restore_delay)
            .field("restore_day_length", &self.restore_day_length)
            .field("sweep_interval", &self.sweep_interval)
            .field("max_concurrent_uploads", &self.max_concurrent_uploads)
            .field("body_timeout", &self.body_timeout)
            .field("connections", &self.connections)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field(
                "api_key_previous",
                &self.api_key_previous.as_ref().map(|_| "<set>"),
            )
            .field("web", &self.web)
            .finish_non_exhaustive()
    }
}

impl ServeOptions {
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            addr,
            data_dir,
            service: ServiceConfig::default(),
            restore_delay: defaults::RESTORE_DELAY,
            restore_day_length: defaults::RESTORE_DAY_LENGTH,
            sweep_interval: defaults::SWEEP_INTERVAL,
            max_concurrent_uploads: defaults::MAX_CONCURRENT_UPLOADS,
            body_timeout: defaults::BODY_TIMEOUT,
            connections: ConnectionLimits::default(),
            api_key: None,
            api_key_previous: None,
            web: kumocms_api::WebOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub base_url: String,
    /// The API key generated on first start, to print once. `None` when the key
    /// came from the environment or was generated on an earlier start.
    pub generated_api_key: Option<String>,
    pub backend: LocalBackend,
    background: BackgroundTasks,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

#[derive(Clone, Copy, Default)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        axum::http::HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Binds, opens the data directory (recovering from any crash), and starts serving.
pub async fn start(options: ServeOptions) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let local_addr = listener.local_addr()?;
    let base_url = format!("http://{local_addr}");
    let mut config = LocalConfig::new(options.data_dir.clone());
    config.service = options.service.clone();
    config.restore_delay = options.restore_delay;
    config.restore_day_length = options.restore_day_length;
    config.sweep_interval = options.sweep_interval;
    config.max_concurrent_uploads = options.max_concurrent_uploads;
    config.upload_body_timeout = options.body_timeout;
    config.api_key = options.api_key.clone();
    config.api_key_previous = options.api_key_previous.clone();
    config.clock = options.clock.clone();
    let backend = LocalBackend::open(config).await.with_context(|| {
        format!(
            "cannot open the data directory {}",
            options.data_dir.display()
        )
    })?;
    backend.set_base_url(&base_url);
    let background = backend.start_background();

    let request_id = HeaderName::from_static("x-request-id");
    let app = kumocms_api::app(
        ApiState {
            service: backend.service.clone(),
            auth: AuthMode::ApiKeys(backend.keys.clone()),
        },
        &options.web,
    )
    .merge(backend.blob_router());
    let app = kumocms_api::with_cors(app, &options.web)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(kumocms_api::trace_layer())
        .layer(SetRequestIdLayer::new(request_id, UlidRequestId))
        // Outermost: a client's id in an unsafe shape is dropped before the one above
        // keeps it, so a generated id replaces it.
        .layer(axum::middleware::map_request(
            kumocms_api::drop_unsafe_request_id::<axum::body::Body>,
        ));

    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let limits = options.connections;
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout = ?limits.header_read_timeout,
        idle_timeout = ?limits.idle_timeout,
        "connection limits"
    );
    let server = tokio::spawn(crate::listener::serve(listener, app, limits, async {
        let _ = shutdown_signal.await;
    }));
    Ok(RunningServer {
        local_addr,
        base_url,
        generated_api_key: backend.generated_api_key.clone(),
        backend,
        background,
        shutdown: Some(shutdown),
        server,
    })
}

impl RunningServer {
    /// Waits until every queued storage event has been processed.
    pub async fn wait_idle(&self) {
        self.backend.wait_idle().await;
    }

    /// Stops accepting connections, lets requests in flight finish, then stops the
    /// background tasks.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let served = (&mut self.server).await;
        self.background.shutdown().await;
        served
            .context("the server task panicked")?
            .context("the server failed")?;
        Ok(())
    }

    /// Serves until the process gets SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
