//! The accept loop of `kumocms serve`, hardened against slow and idle clients
//! (issue 16, item 1).
//!
//! `axum::serve` applies no header-read timeout (hyper's needs a timer it is not
//! given), no idle timeout and no connection limit: 300 connections that each sent
//! half a request header exhausted the file descriptors, and `accept` failing with
//! `EMFILE` took `/healthcheck` and the restore ticker down with it. Here:
//!
//! - each connection must send a request's headers within `header_read_timeout`,
//!   and is closed once no byte moved either way for `idle_timeout` (a stalled
//!   upload or download, a keep-alive connection left open);
//! - at most `max_connections` are served, a number derived from the process's
//!   open-file limit so that each connection can still open a file and the server
//!   keeps descriptors for its database, logs and background work;
//! - past the cap, a few more connections ([`OVERFLOW_CONNECTIONS`]) are served one
//!   request each with a 1-second header timeout, so `/healthcheck` keeps
//!   answering while the cap is reached; beyond those, a connection is closed at
//!   once. An `accept` error (the limit reached anyway) is retried after a pause
//!   instead of spinning.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

/// Seconds a client has to send a request's headers (at most 10 s, issue 16).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a connection may stay without a byte moving either way.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served past the cap, one request each with a short header timeout,
/// so that a health check gets through while the cap is reached.
pub const OVERFLOW_CONNECTIONS: usize = 16;
/// The header timeout of an overflow connection.
const OVERFLOW_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
/// File descriptors kept for everything but connections: the database and its
/// readers (3 each), the lock, logs, the runtime, restores, the overflow.
const RESERVED_DESCRIPTORS: u64 = 64;
/// Without a readable limit, the usual soft limit.
const FALLBACK_OPEN_FILES: u64 = 1024;
/// Pause after a failed `accept` (out of descriptors): the cause needs time to clear.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How connections are limited; every field has a `kumocms serve` flag.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: default_max_connections(),
        }
    }
}

/// The process's soft limit on open files.
pub fn open_file_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(FALLBACK_OPEN_FILES)
}

/// Connections the open-file limit allows: half of what is left after the
/// reserve, so that each connection can hold one file (an upload's temporary file,
/// a download) besides its socket. 96 at `ulimit -n 256`, 480 at 1024.
pub fn default_max_connections() -> usize {
    max_connections_for(open_file_limit())
}

fn max_connections_for(open_files: u64) -> usize {
    let usable = open_files.saturating_sub(RESERVED_DESCRIPTORS) / 2;
    usize::try_from(usable.max(1)).unwrap_or(usize::MAX)
}

/// Serves `app` on `listener` until `shutdown` fires, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let regular = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let (stop, stopping) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut refused_since_log: u64 = 0;
    let mut last_refusal_log = Instant::now() - Duration::from_secs(60);
    tokio::pin!(shutdown);
    loop {
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accept failed; pausing before the next one");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let (permit, header_timeout, keep_alive) = match regular.clone().try_acquire_owned() {
            Ok(permit) => (permit, limits.header_read_timeout, true),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(permit) => (permit, OVERFLOW_HEADER_READ_TIMEOUT, false),
                Err(_) => {
                    drop(stream);
                    refused_since_log += 1;
                    if last_refusal_log.elapsed() >= Duration::from_secs(10) {
                        tracing::warn!(
                            refused = refused_since_log,
                            max_connections = limits.max_connections,
                            "at the connection cap; closing new connections"
                        );
                        refused_since_log = 0;
                        last_refusal_log = Instant::now();
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stopping = stopping.clone();
        let idle_timeout = limits.idle_timeout;
        connections.spawn(async move {
            serve_connection(
                stream,
                app,
                header_timeout,
                keep_alive,
                idle_timeout,
                stopping,
            )
            .await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    header_timeout: Duration,
    keep_alive: bool,
    idle_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched {
        inner: stream,
        started,
        activity: activity.clone(),
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive);
    let connection = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(connection);
    let mut graceful = false;
    loop {
        let idle_for = started
            .elapsed()
            .saturating_sub(Duration::from_millis(activity.load(Ordering::Relaxed)));
        let check_in = idle_timeout.saturating_sub(idle_for);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            changed = stopping.changed(), if !graceful => {
                if changed.is_err() || *stopping.borrow() {
                    connection.as_mut().graceful_shutdown();
                    graceful = true;
                }
            }
            () = tokio::time::sleep(check_in) => {
                let idle_for = started.elapsed().saturating_sub(Duration::from_millis(
                    activity.load(Ordering::Relaxed),
                ));
                if idle_for >= idle_timeout {
                    // Dropping the connection cancels what it was doing (an upload
                    // stores nothing when cut short).
                    tracing::debug!(?idle_for, "closing an idle connection");
                    return;
                }
            }
        }
    }
}

/// A socket that records when a byte last moved, for the idle timeout.
struct Watched {
    inner: tokio::net::TcpStream,
    started: Instant,
    /// Milliseconds since `started` of the last read or write of at least a byte.
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(now, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_open_file_limit() {
        assert_eq!(max_connections_for(256), 96);
        assert_eq!(max_connections_for(1024), 480);
        assert_eq!(max_connections_for(10), 1);
    }
}
