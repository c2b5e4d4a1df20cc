//! Listing pages bounded by bytes as well as by count (issue 16, item 5).
//!
//! A page of 1,000 documents with 16 KiB of metadata each is about 16 MB of JSON:
//! past Lambda's 6 MiB response limit (API Gateway answers 502, and the client
//! cannot page past it), and a memory spike on the local server. A page whose
//! records would serialise to more than the budget is read again with fewer
//! records, from the same position, until it fits; the store's own position after
//! that shorter page is the next cursor, so no record is skipped or repeated, on
//! any backend, with no change to the stores.

use crate::document::Document;
use crate::ports::{ListPage, ListQuery, MetadataStore, StoreError};

/// The default byte budget of a listing page: the records' JSON. The Lambda
/// response carries the body as a JSON string, which at worst doubles it (every
/// `"` and `\` escaped again), so 2 MiB stays well under 6 MiB with room for the
/// envelope.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The size of a record as JSON, the measure of the budget.
pub fn record_bytes(document: &Document) -> usize {
    serde_json::to_vec(document).map_or(0, |json| json.len())
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
