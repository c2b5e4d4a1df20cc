//! The sweeper: expires abandoned uploads, removes multipart uploads no record
//! names, and purges the trash and expired revisions, once per interval.

use std::sync::Arc;
use std::time::Duration;

use kumocms_core::service::DocumentService;

use crate::FsBlobStore;

/// How many abandoned uploads the sweeper handles per store query.
const SWEEP_BATCH: usize = 100;

pub(crate) async fn run_sweeper(
    service: Arc<DocumentService>,
    blobs: Arc<FsBlobStore>,
    every: Duration,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        // Bounded, so that records that keep conflicting cannot spin the loop.
        for _ in 0..100 {
            match service.expire_pending_uploads(SWEEP_BATCH).await {
                Ok(changed) if changed == SWEEP_BATCH => continue,
                Ok(changed) => {
                    if changed > 0 {
                        tracing::info!(changed, "expired abandoned uploads");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "sweeping abandoned uploads failed; retrying later");
                    break;
                }
            }
        }
        // Multipart uploads no record names any more (their document was deleted
        // mid-upload, or the record was never written): a pending upload lives at
        // most `pending_upload_ttl`, so anything older than that (and an hour) is
        // abandoned. Uploads a record names are aborted above when they expire.
        let ttl = kumocms_core::service::chrono_duration_of(service.config().pending_upload_ttl);
        let before = ttl
            .checked_add(&chrono::Duration::hours(1))
            .and_then(|age| service.clock().now().checked_sub_signed(age));
        if let Some(before) = before {
            match blobs.clean_multipart(before).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed abandoned multipart uploads"),
                Err(error) => tracing::warn!(%error, "removing abandoned multipart uploads failed"),
            }
        }
        // The trash and the revision retention, one batch per tick.
        match service.purge_expired(SWEEP_BATCH).await {
            Ok(0) => {}
            Ok(changed) => tracing::info!(changed, "purged the trash and expired revisions"),
            Err(error) => {
                tracing::warn!(%error, "purging the trash failed; retrying later");
            }
        }
    }
}
