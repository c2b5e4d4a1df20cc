//! Listing pages bounded by bytes as well as by count (issue 16, item 5).
//!
//! A page of 1,000 documents with 16 KiB of metadata each is about 16 MB of JSON:
//! past Lambda's 6 MiB response limit (API Gateway answers 502, and the client
//! cannot page past it), and a memory spike on the local server. A page whose
//! records would serialise to more than the budget is read again with fewer
//! records, from the same position, until it fits; the store's own position after
//! that shorter page is the next cursor, so no record is skipped or repeated, on
//! any backend, with no change to the stores.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::document::{
    ContentVersion, Document, DocumentStatus, Extracted, PendingUpload, RestoreState, StorageClass,
};
use crate::id::DocumentId;
use crate::ports::{ListPage, ListQuery, MetadataStore, StoreError};
use crate::revision::TrashState;

/// The default byte budget of a listing page: the records' JSON. The Lambda
/// response carries the body as a JSON string, which at worst doubles it (every
/// `"` and `\` escaped again), so 2 MiB stays well under 6 MiB with room for the
/// envelope.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The size of a record as JSON without its retained revisions, the measure of the
/// budget: the listing's answer does not carry them (`GET /documents/{id}/revisions`
/// does), so counting them would shorten pages of documents with long histories for
/// bytes that are never sent, and read each such page twice (issue 11).
pub fn record_bytes(document: &Document) -> usize {
    serde_json::to_vec(&ListedRecord::from(document)).map_or(0, |json| json.len())
}

/// A record as a listing page carries it: every field of [`Document`] but
/// `revisions`, borrowed, in the record's own field names and order.
#[derive(Serialize)]
struct ListedRecord<'a> {
    schema_version: u32,
    id: &'a DocumentId,
    version: u64,
    status: DocumentStatus,
    document_type: &'a str,
    created_at: &'a DateTime<Utc>,
    updated_at: &'a DateTime<Utc>,
    storage_class: StorageClass,
    metadata: &'a Map<String, Value>,
    content: &'a Option<ContentVersion>,
    pending_upload: &'a Option<PendingUpload>,
    restore: &'a Option<RestoreState>,
    extracted: &'a Option<Extracted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trash: &'a Option<TrashState>,
}

impl<'a> From<&'a Document> for ListedRecord<'a> {
    fn from(document: &'a Document) -> Self {
        // Destructured in full, so a field added to `Document` fails to compile here
        // until it is either measured or deliberately left out like `revisions`.
        let Document {
            schema_version,
            id,
            version,
            status,
            document_type,
            created_at,
            updated_at,
            storage_class,
            metadata,
            content,
            pending_upload,
            restore,
            extracted,
            revisions: _,
            trash,
        } = document;
        Self {
            schema_version: *schema_version,
            id,
            version: *version,
            status: *status,
            document_type,
            created_at,
            updated_at,
            storage_class: *storage_class,
            metadata,
            content,
            pending_upload,
            restore,
            extracted,
            trash,
        }
    }
}

/// How many of `documents`, from the first, fit in `budget` bytes (at least one:
/// a single record is far below any sensible budget, and a page must progress).
fn fitting(documents: &[Document], budget: usize) -> usize {
    let mut total = 0usize;
    for (n, document) in documents.iter().enumerate() {
        total = total.saturating_add(record_bytes(document));
        if total > budget {
            return n.max(1);
        }
    }
    documents.len()
}

/// Lists `query`, shortening the page until its records fit in `budget` bytes.
pub async fn list_within(
    store: &dyn MetadataStore,
    mut query: ListQuery,
    budget: usize,
) -> Result<ListPage, StoreError> {
    loop {
        let page = store.list(&query).await?;
        let fit = fitting(&page.documents, budget);
        if fit >= page.documents.len() || query.limit <= 1 {
            return Ok(page);
        }
        // Strictly fewer each round, so this ends (at one record at the latest).
        query.limit = fit.min(query.limit - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::sample_document;
    use crate::memory::MemoryMetadataStore;
    use crate::revision::RetainedRevision;

    /// `document` keeping `replaced` replaced revisions beside its current content.
    fn with_history(mut document: Document, replaced: u32) -> Document {
        let current = document.content.clone().expect("sample has content");
        for n in 1..=replaced {
            let mut content = current.clone();
            content.revision = n;
            content.key = crate::blob_key::content_key(&document.id, n);
            document.revisions.get_mut().expect("loaded").insert(
                0,
                RetainedRevision {
                    content,
                    storage_class: StorageClass::Standard,
                    extracted: document.extracted.clone(),
                    superseded_at: current.arrived_at,
                },
            );
        }
        document
    }

    #[test]
    fn a_record_weighs_what_it_serialises_to_without_its_revisions() {
        let mut document = sample_document("report", DocumentStatus::Active);
        document.trash = Some(TrashState {
            previous_status: DocumentStatus::Active,
            deleted_at: document.updated_at,
            purge_at: document.updated_at,
        });
        let bare = serde_json::to_vec(&document).expect("json").len();
        let with_50 = with_history(document.clone(), 49);
        assert!(with_50.revisions.to_json().expect("loaded").len() > 10 * bare);
        assert_eq!(record_bytes(&document), bare);
        assert_eq!(record_bytes(&with_50), bare);
    }

    #[tokio::test]
    async fn long_histories_do_not_shorten_a_page() {
        let store = MemoryMetadataStore::new();
        let mut bare = 0;
        for _ in 0..20 {
            let document = sample_document("report", DocumentStatus::Active);
            bare += serde_json::to_vec(&document).expect("json").len();
            let document = with_history(document, 49);
            store.insert(&document).await.expect("seeded");
        }
        let query = ListQuery {
            document_type: None,
            status: None,
            limit: 20,
            after: None,
        };
        // The 20 records fit the budget as the listing answers them, and would be
        // ten times over it with their revisions.
        let page = list_within(&store, query.clone(), bare)
            .await
            .expect("listed");
        assert_eq!(page.documents.len(), 20);
        let shorter = list_within(&store, query, bare - 1).await.expect("listed");
        assert_eq!(shorter.documents.len(), 19);
    }
}
