//! The defaults of the local backend, in one place: [`LocalConfig::new`](crate::LocalConfig::new),
//! `kumocms serve`'s `ServeOptions::new` and its flags (`--help` shows them) all read
//! them from here. The service's own defaults (TTLs, limits, retention) are
//! `kumocms_core::service::ServiceConfig::default`'s.

use std::time::Duration;

/// Where documents, the database and keys are kept (`--data-dir`).
pub const DATA_DIR: &str = "./kumocms-data";
/// How long a local restore takes (S3 takes minutes to hours; `--restore-delay`).
pub const RESTORE_DELAY: Duration = Duration::from_secs(5);
/// How long one "day" of a restored copy lasts (tests shorten it).
pub const RESTORE_DAY_LENGTH: Duration = Duration::from_secs(86_400);
/// How often due restores and expired copies are looked for.
pub const RESTORE_TICK: Duration = Duration::from_millis(500);
/// How often abandoned uploads are expired and the trash is purged.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// Uploads received at once, over all links (`--max-concurrent-uploads`); one more
/// gets 503 with `Retry-After`.
pub const MAX_CONCURRENT_UPLOADS: usize = 64;
/// Longest wait for the next bytes of an upload's body before 408 (`--body-timeout`).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
