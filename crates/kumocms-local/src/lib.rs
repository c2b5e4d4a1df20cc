//! KumoCMS local mode: the core's ports implemented on one machine, with no AWS.
//!
//! - [`SqliteMetadataStore`]: records in `<data_dir>/kumocms.sqlite3` (WAL).
//! - [`FsBlobStore`]: content as files under `<data_dir>/blobs/`, with archive and
//!   restore emulated (a restore completes after a configurable delay).
//! - [`LinkSigner`] and [`blob_router`]: HMAC-signed, expiring upload and download
//!   links, served by the same server as the API.
//! - [`InProcessEvents`]: storage events to the core's `EventProcessor`, in-process.
//! - [`LocalKeys`]: API keys from the operator, or generated on first start.
//!
//! [`LocalBackend::open`] puts them together, recovers from a crash, and
//! [`LocalBackend::start_background`] runs the event worker, the restore ticker
//! and the sweeper of abandoned uploads.

pub mod blobs;
pub mod defaults;
pub mod events;
mod fsutil;
pub mod http;
pub mod keys;
pub mod lock;
mod multipart;
mod multipart_hash;
pub mod range;
mod recovery;
pub mod signer;
pub mod sqlite;
mod sqlite_group_commit;
mod sqlite_metadata;
mod sqlite_search;
mod sqlite_term_scores;
mod sweep;
mod verified;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kumocms_core::cursor::CursorCodec;
use kumocms_core::events::EventProcessor;
use kumocms_core::ports::{
    BlobError, Clock, EventSink, KeySource, MetadataStore, StoreError, SystemClock,
};
use kumocms_core::service::{DocumentService, ServiceConfig};

pub use blobs::{FsBlobConfig, FsBlobStore};
pub use events::InProcessEvents;
pub use http::{LinkLimits, blob_router, blob_router_with_records};
pub use keys::{KeyError, LocalKeys, generate_api_key};
pub use recovery::RecoveryReport;
pub use signer::{LinkError, LinkMethod, LinkQuery, LinkSigner, VerifiedLink};
pub use sqlite::SqliteMetadataStore;
use sweep::run_sweeper;

/// How the local backend is set up. Start from [`LocalConfig::new`] (the values in
/// [`defaults`]).
#[derive(Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    pub service: ServiceConfig,
    /// How long a restore takes (default 5 s).
    pub restore_delay: Duration,
    /// How long one "day" of a restored copy lasts (default 86400 s; tests shorten it).
    pub restore_day_length: Duration,
    /// How often due restores and expired copies are looked for (default 500 ms).
    pub restore_tick: Duration,
    /// How often abandoned uploads are expired (default 60 s).
    pub sweep_interval: Duration,
    /// Uploads received at once (default 64); more get 503 with `Retry-After`.
    pub max_concurrent_uploads: usize,
    /// Longest wait for the next bytes of an upload's body (default 30 s; 408).
    pub upload_body_timeout: Duration,
    /// `KUMOCMS_API_KEY`, when the operator set it.
    pub api_key: Option<String>,
    /// `KUMOCMS_API_KEY_PREVIOUS`, during a key rotation.
    pub api_key_previous: Option<String>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("LocalConfig")
            .field("data_dir", &self.data_dir)
            .field("service", &self.service)
            .field("restore_delay", &self.restore_delay)
            .field("restore_day_length", &self.restore_day_length)
            .field("restore_tick", &self.restore_tick)
            .field("sweep_interval", &self.sweep_interval)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field(
                "api_key_previous",
                &self.api_key_previous.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

impl LocalConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            service: ServiceConfig::default(),
            restore_delay: defaults::RESTORE_DELAY,
            restore_day_length: defaults::RESTORE_DAY_LENGTH,
            restore_tick: defaults::RESTORE_TICK,
            sweep_interval: defaults::SWEEP_INTERVAL,
            max_concurrent_uploads: defaults::MAX_CONCURRENT_UPLOADS,
            upload_body_timeout: defaults::BODY_TIMEOUT,
            api_key: None,
            api_key_previous: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self::new(defaults::DATA_DIR)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load or create the link signing key: {0}")]
    SigningKey(std::io::Error),
    #[error("cannot generate an API key: {0}")]
    GenerateKey(std::io::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("metadata store: {0}")]
    Metadata(#[from] StoreError),
    #[error("blob store: {0}")]
    Blobs(#[from] BlobError),
}

/// The local backend, assembled.
pub struct LocalBackend {
    pub service: Arc<DocumentService>,
    pub processor: Arc<EventProcessor>,
    pub events: Arc<InProcessEvents>,
    pub blobs: Arc<FsBlobStore>,
    pub metadata: Arc<SqliteMetadataStore>,
    pub keys: Arc<dyn KeySource>,
    /// The API key generated on this start (first start without `KUMOCMS_API_KEY`);
    /// print it once, it is not stored.
    pub generated_api_key: Option<String>,
    pub recovery: RecoveryReport,
    config: LocalConfig,
    /// Held while this backend lives: one server per data directory.
    _lock: lock::DataDirLock,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("config", &self.config)
            .field("recovery", &self.recovery)
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// Opens (or creates) the data directory, assembles the adapters and the
    /// service, and runs crash recovery. The events recovery queues are processed
    /// once [`start_background`](Self::start_background) runs.
    pub async fn open(config: LocalConfig) -> Result<Self, LocalError> {
        let data_dir = config.data_dir.clone();
        let dir_error = |source| LocalError::DataDir {
            path: data_dir.clone(),
            source,
        };
        let setup = {
            let data_dir = data_dir.clone();
            let api_key_given = config.api_key.is_some();
            tokio::task::spawn_blocking(move || {
                fsutil::create_dir_all_durable(&data_dir).map_err(|source| {
                    LocalError::DataDir {
                        path: data_dir.clone(),
                        source,
                    }
                })?;
                // A directory from an earlier release (0755, files 0644) or made by
                // hand: only this user may read documents, the database or keys.
                let tightened =
                    fsutil::tighten_data_dir(&data_dir).map_err(|source| LocalError::DataDir {
                        path: data_dir.clone(),
                        source,
                    })?;
                for (path, mode) in &tightened {
                    tracing::warn!(
                        path = %path.display(),
                        was = %format!("{mode:04o}"),
                        "took group and other permissions away (the data directory is private: 0700, files 0600)"
                    );
                }
                // Before anything touches the directory's contents.
                let lock = lock::DataDirLock::acquire(&data_dir)?;
                let signer =
                    LinkSigner::load_or_create(&data_dir).map_err(LocalError::SigningKey)?;
                let generated = if api_key_given {
                    None
                } else {
                    generate_api_key(&data_dir).map_err(LocalError::GenerateKey)?
                };
                let metadata = SqliteMetadataStore::open(&data_dir)?;
                Ok::<_, LocalError>((lock, signer, generated, metadata))
            })
        };
        let (lock, signer, generated_api_key, metadata) = setup
            .await
            .map_err(|e| dir_error(std::io::Error::other(e.to_string())))??;
        let keys = LocalKeys::load(
            &data_dir,
            config.api_key.as_deref(),
            config.api_key_previous.as_deref(),
        )?;
        let metadata = Arc::new(metadata);
        let events = Arc::new(InProcessEvents::new());
        let blobs = Arc::new(
            FsBlobStore::new(
                FsBlobConfig {
                    data_dir: data_dir.clone(),
                    restore_delay: config.restore_delay,
                    restore_day_length: config.restore_day_length,
                    max_file_size: config.service.limits.max_file_size,
                },
                signer.clone(),
                events.clone() as Arc<dyn EventSink>,
                config.clock.clone(),
            )
            .map_err(dir_error)?,
        );
        // Cursors get their own key, derived so that a cursor can never be replayed
        // as a link signature or the other way round.
        let cursors = CursorCodec::new(&signer.derive_key("kumocms listing cursors"));
        let service = Arc::new(DocumentService::new(
            metadata.clone(),
            blobs.clone(),
            config.clock.clone(),
            cursors,
            config.service.clone(),
        ));
        let processor = Arc::new(
            EventProcessor::new(
                metadata.clone(),
                blobs.clone(),
                config.clock.clone(),
                config.service.limits,
            )
            .with_retention(config.service.retention),
        );
        let mut backend = Self {
            service,
            processor,
            events,
            blobs,
            metadata,
            keys: Arc::new(keys),
            generated_api_key,
            recovery: RecoveryReport::default(),
            config,
            _lock: lock,
        };
        backend.recovery = backend.recover().await?;
        if backend.recovery != RecoveryReport::default() {
            tracing::info!(recovery = ?backend.recovery, "recovered from an unclean stop");
        }
        Ok(backend)
    }

    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// Sets the base URL of the links (`http://127.0.0.1:8080`), once bound.
    pub fn set_base_url(&self, url: &str) {
        self.blobs.set_base_url(url);
    }

    /// The routes that serve signed links; merge them into the API's router.
    pub fn blob_router(&self) -> axum::Router {
        blob_router_with_records(
            self.blobs.clone(),
            self.metadata.clone() as Arc<dyn MetadataStore>,
            LinkLimits {
                max_concurrent_uploads: self.config.max_concurrent_uploads,
                body_timeout: self.config.upload_body_timeout,
            },
        )
    }

    /// Starts the event worker, the restore ticker and the sweeper. They stop when
    /// the returned value is dropped or shut down.
    pub fn start_background(&self) -> BackgroundTasks {
        let worker = tokio::spawn(self.events.clone().run_worker(self.processor.clone()));
        let ticker = tokio::spawn(
            self.blobs
                .clone()
                .run_restore_ticker(self.config.restore_tick),
        );
        let sweeper = tokio::spawn(run_sweeper(
            self.service.clone(),
            self.blobs.clone(),
            self.config.sweep_interval,
        ));
        BackgroundTasks {
            handles: vec![worker, ticker, sweeper],
        }
    }

    /// Waits until every queued storage event has been processed. Needs the
    /// background tasks running.
    pub async fn wait_idle(&self) {
        self.events.wait_idle().await;
    }
}

/// The background tasks of a [`LocalBackend`]; aborted when dropped.
#[derive(Debug)]
pub struct BackgroundTasks {
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl BackgroundTasks {
    /// Stops the tasks and waits until they are gone (so that the data directory
    /// can be reopened at once).
    pub async fn shutdown(mut self) {
        let handles = std::mem::take(&mut self.handles);
        for handle in &handles {
            handle.abort();
        }
        for handle in handles {
            let _ = handle.await;
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
    }
}
