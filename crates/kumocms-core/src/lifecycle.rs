//! The document lifecycle as an explicit state machine.
//!
//! ```text
//! pending_upload ──content arrives──▶ active ──archive──▶ archived ──restore──▶ restoring
//!                                       ▲                    ▲                      │
//!                                       │                    └──copy expires── restored ◀─┘ completed
//!                  replacement arrives ─┘ (from any status)
//! any state ──delete──▶ deleted (the trash) ──undelete──▶ the status it had
//!                                            ──purge (retention, permanent)──▶ (gone)
//! ```
//! A document that never had content is purged on delete (it has nothing to lose).
//! Every function here is pure: callers apply the new status with a conditional write.

use crate::document::DocumentStatus;

/// Something that moves a document from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    ContentArrived,
    /// A client asks for a new upload of the next content version.
    Replace,
    Archive,
    RequestRestore,
    RestoreCompleted,
    RestoreExpired,
}

/// A transition that makes no sense from the current status. `code` is the API's
/// stable error code for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidTransition {
    pub code: &'static str,
    pub message: String,
    pub status: DocumentStatus,
}

fn refuse(status: DocumentStatus, code: &'static str, message: &str) -> InvalidTransition {
    InvalidTransition {
        code,
        message: format!("{message} (document status: {})", status.as_str()),
        status,
    }
}

/// The status after `transition`, or why it is refused.
pub fn next_status(
    status: DocumentStatus,
    transition: Transition,
) -> Result<DocumentStatus, InvalidTransition> {
    use DocumentStatus::*;
    use Transition::*;
    match (status, transition) {
        (Deleted, ContentArrived | Replace | Archive | RequestRestore) => Err(refuse(
            status,
            "document_deleted",
            "the document is in the trash; undelete it first with POST /documents/{id}/undelete",
        )),
        // A replacement asked for before a restore may still land during it; new
        // content supersedes the archived copy.
        (_, ContentArrived) => Ok(Active),
        (Restoring, Replace) => Err(refuse(
            status,
            "restore_in_progress",
            "wait for the restore to complete before replacing the content",
        )),
        (_, Replace) => Ok(status),
        (Active, Archive) => Ok(Archived),
        (PendingUpload, Archive) => Err(refuse(
            status,
            "upload_pending",
            "upload the content before archiving the document",
        )),
        (Archived | Restoring | Restored, Archive) => Err(refuse(
            status,
            "already_archived",
            "the document is already archived",
        )),
        (Archived, RequestRestore) => Ok(Restoring),
        (Restoring, RequestRestore) => Err(refuse(
            status,
            "restore_in_progress",
            "a restore is already in progress",
        )),
        (Restored, RequestRestore) => Err(refuse(
            status,
            "already_restored",
            "the document is already restored; read it before the copy expires",
        )),
        (PendingUpload | Active, RequestRestore) => Err(refuse(
            status,
            "not_archived",
            "only archived documents can be restored",
        )),
        (Restoring, RestoreCompleted) => Ok(Restored),
        (Restoring | Restored, RestoreExpired) => Ok(Archived),
        (_, RestoreCompleted | RestoreExpired) => Err(refuse(
            status,
            "no_restore",
            "no restore is in progress for this document",
        )),
    }
}

/// Why the content of a document in `status` cannot be read now, if it cannot.
pub fn content_unreadable(status: DocumentStatus) -> Option<InvalidTransition> {
    use DocumentStatus::*;
    match status {
        Active | Restored => None,
        PendingUpload => Some(refuse(
            status,
            "upload_pending",
            "the content has not been uploaded yet",
        )),
        Archived => Some(refuse(
            status,
            "document_archived",
            "the content is archived; restore it first with POST /documents/{id}/restore",
        )),
        Restoring => Some(refuse(
            status,
            "restore_in_progress",
            "the content is being restored; try again when the restore completes",
        )),
        Deleted => Some(refuse(
            status,
            "document_deleted",
            "the document is in the trash; undelete it first with POST /documents/{id}/undelete",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DocumentStatus::*;
    use Transition::*;

    #[test]
    fn the_happy_path_goes_round_the_archive_loop() {
        let mut status = PendingUpload;
        for (transition, expected) in [
            (ContentArrived, Active),
            (Archive, Archived),
            (RequestRestore, Restoring),
            (RestoreCompleted, Restored),
            (RestoreExpired, Archived),
            (RequestRestore, Restoring),
        ] {
            status = next_status(status, transition).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(status, expected);
        }
    }

    #[test]
    fn every_refusal_names_a_code() {
        let table = [
            (PendingUpload, Archive, "upload_pending"),
            (Archived, Archive, "already_archived"),
            (Restored, Archive, "already_archived"),
            (Active, RequestRestore, "not_archived"),
            (PendingUpload, RequestRestore, "not_archived"),
            (Restoring, RequestRestore, "restore_in_progress"),
            (Restored, RequestRestore, "already_restored"),
            (Restoring, Replace, "restore_in_progress"),
            (Active, RestoreCompleted, "no_restore"),
            (Archived, RestoreExpired, "no_restore"),
            (Deleted, Replace, "document_deleted"),
            (Deleted, Archive, "document_deleted"),
            (Deleted, RequestRestore, "document_deleted"),
            (Deleted, ContentArrived, "document_deleted"),
            (Deleted, RestoreCompleted, "no_restore"),
        ];
        for (status, transition, code) in table {
            let err = next_status(status, transition).expect_err("must be refused");
            assert_eq!(err.code, code, "{status:?} + {transition:?}");
        }
    }

    #[test]
    fn replacement_keeps_the_status_until_content_arrives() {
        for status in [PendingUpload, Active, Archived, Restored] {
            assert_eq!(next_status(status, Replace), Ok(status));
        }
        for status in DocumentStatus::ALL {
            if status != Deleted {
                assert_eq!(next_status(status, ContentArrived), Ok(Active));
            }
        }
    }

    #[test]
    fn only_active_and_restored_content_is_readable() {
        assert!(content_unreadable(Active).is_none());
        assert!(content_unreadable(Restored).is_none());
        assert_eq!(
            content_unreadable(Archived).map(|e| e.code),
            Some("document_archived")
        );
        assert_eq!(
            content_unreadable(Restoring).map(|e| e.code),
            Some("restore_in_progress")
        );
        assert_eq!(
            content_unreadable(PendingUpload).map(|e| e.code),
            Some("upload_pending")
        );
        assert_eq!(
            content_unreadable(Deleted).map(|e| e.code),
            Some("document_deleted")
        );
    }
}
