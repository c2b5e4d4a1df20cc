//! An in-memory [`MetadataStore`]: what the real stores do (conditional writes on the
//! version, listings in id order with a continuation position, expired pending
//! uploads) minus the I/O. For benchmarks and fuzzing, where a disk or a network would
//! measure or exercise something else; nothing persists. It passes the same
//! conformance suite as the SQLite and DynamoDB stores.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::document::Document;
use crate::id::DocumentId;
use crate::ports::{ListPage, ListQuery, MetadataStore, StoreError};

/// The records, keyed by id, for [`MemoryMetadataStore::snapshot`] and `restore`.
pub type Records = BTreeMap<String, Document>;

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Other("lock poisoned".to_owned())
}

/// Records in a `BTreeMap` keyed by id, so listings come in id order as in the real
/// stores.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    records: RwLock<Records>,
}

impl MemoryMetadataStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.records.read().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a record as it is, replacing any with the same id (for seeding).
    pub fn put(&self, document: Document) {
        self.records
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(document.id.to_string(), document);
    }

    /// A copy of every record, to [`restore`](Self::restore) later.
    pub fn snapshot(&self) -> Records {
        self.records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces every record with `records`.
    pub fn restore(&self, records: Records) {
        *self.records.write().unwrap_or_else(PoisonError::into_inner) = records;
    }
}

#[async_trait]
impl MetadataStore for MemoryMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let id = document.id.to_string();
        if records.contains_key(&id) {
            return Err(StoreError::Conflict);
        }
        records.insert(id, document.clone());
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records.get(&id.to_string()).cloned())
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        match records.get_mut(&document.id.to_string()) {
            Some(stored) if stored.version == expected_version => {
                *stored = document.clone();
                stored.version = expected_version + 1;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let key = id.to_string();
        match records.get(&key) {
            Some(stored) if stored.version == expected_version => {
                records.remove(&key);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        let start = match &query.after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        let mut documents = Vec::with_capacity(query.limit.min(1000));
        let mut more = false;
        for document in records
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, d)| d)
            .filter(|d| query.status.is_none_or(|s| d.status == s))
            .filter(|d| {
                query
                    .document_type
                    .as_deref()
                    .is_none_or(|t| d.document_type == t)
            })
        {
            if documents.len() == query.limit {
                more = true;
                break;
            }
            documents.push(document.clone());
        }
        let next = if more {
            documents.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok(ListPage { documents, next })
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records
            .values()
            .filter(|d| {
                d.pending_upload
                    .as_ref()
                    .is_some_and(|p| p.expires_at < now)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(all(test, feature = "conformance"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_metadata_conformance_suite() {
        crate::conformance::metadata_store(&MemoryMetadataStore::new()).await;
    }

    #[tokio::test]
    async fn a_snapshot_restores_what_it_saw() {
        let store = MemoryMetadataStore::new();
        let document =
            crate::conformance::sample_document("report", crate::document::DocumentStatus::Active);
        store.put(document.clone());
        let saved = store.snapshot();
        store
            .delete(&document.id, document.version)
            .await
            .expect("deleted");
        assert!(store.is_empty());
        store.restore(saved);
        assert_eq!(store.get(&document.id).await.expect("read"), Some(document));
    }
}
