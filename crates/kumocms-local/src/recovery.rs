//! Start-up recovery: repairs what a crash (`kill -9`, power loss) may have left
//! half done, before the server takes requests.

use kumocms_core::blob_key;
use kumocms_core::events::StorageEvent;
use kumocms_core::ports::{BlobStore, EventSink, ListQuery, MetadataStore, StoreError};
use kumocms_core::{Document, DocumentStatus, StorageClass};

use crate::{LocalBackend, LocalError};

/// What start-up recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub temp_files_removed: usize,
    /// Uploads whose content is stored but whose `ObjectCreated` may have been lost.
    pub uploads_republished: usize,
    pub restores_republished: usize,
    /// Archived records whose content had not been moved yet.
    pub archives_redone: usize,
    /// Restoring records whose restore request was never written.
    pub restores_reissued: usize,
    /// Restored records whose copy expired without the event being applied.
    pub restores_expired: usize,
}

impl LocalBackend {
    /// Repairs what a crash (`kill -9`, power loss) may have left half done. Every
    /// step is safe to repeat: events go to the idempotent processor.
    pub async fn recover(&self) -> Result<RecoveryReport, LocalError> {
        let mut report = RecoveryReport {
            temp_files_removed: self.blobs.clean_tmp().await?,
            ..RecoveryReport::default()
        };
        // Content renamed into place whose ObjectCreated died with the process.
        for document in self.metadata.with_pending_upload().await? {
            let Some(blob) = document.pending_blob() else {
                continue;
            };
            if blob.location == self.blobs.location()
                && blob_key::is_safe(&blob.key)
                && self.blobs.is_hot(&blob.key).await?
            {
                self.events
                    .publish(StorageEvent::ObjectCreated {
                        location: blob.location,
                        key: blob.key,
                    })
                    .await;
                report.uploads_republished += 1;
            }
        }
        report.restores_republished = self.blobs.republish_completed_restores().await?;
        for status in [
            DocumentStatus::Archived,
            DocumentStatus::Restoring,
            DocumentStatus::Restored,
        ] {
            for document in self.all_with_status(status).await? {
                self.recover_archived(&document, &mut report).await?;
            }
        }
        Ok(report)
    }

    async fn all_with_status(&self, status: DocumentStatus) -> Result<Vec<Document>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .metadata
                .list(&ListQuery {
                    document_type: None,
                    status: Some(status),
                    limit: 1000,
                    after,
                })
                .await?;
            all.extend(page.documents);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    async fn recover_archived(
        &self,
        document: &Document,
        report: &mut RecoveryReport,
    ) -> Result<(), LocalError> {
        let Some(blob) = document.content_blob() else {
            return Ok(());
        };
        if blob.location != self.blobs.location() || !blob_key::is_safe(&blob.key) {
            return Ok(());
        }
        // The record was claimed as archived but the move never happened.
        if document.storage_class != StorageClass::Standard && self.blobs.is_hot(&blob.key).await? {
            self.blobs.archive(&blob, document.storage_class).await?;
            report.archives_redone += 1;
        }
        let requested = self.blobs.has_restore_request(&blob.key).await?;
        match (document.status, &document.restore) {
            (DocumentStatus::Restoring, Some(restore)) if !requested => {
                self.blobs
                    .restore(&blob, restore.days, restore.tier)
                    .await?;
                report.restores_reissued += 1;
            }
            (DocumentStatus::Restored, _) if !requested => {
                self.events
                    .publish(StorageEvent::RestoreExpired {
                        location: blob.location,
                        key: blob.key,
                    })
                    .await;
                report.restores_expired += 1;
            }
            _ => {}
        }
        Ok(())
    }
}
