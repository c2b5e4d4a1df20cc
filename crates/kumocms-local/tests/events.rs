//! The in-process event worker: transient failures are retried with backoff, a
//! bounded number of times, and `wait_idle` returns either way.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kumocms_core::events::{EventProcessor, StorageEvent};
use kumocms_core::ports::{
    BlobStore, EventSink, ListPage, ListQuery, MetadataStore, StoreError, SystemClock,
};
use kumocms_core::validate::Limits;
use kumocms_core::{Document, DocumentId};
use kumocms_local::{InProcessEvents, SqliteMetadataStore};

/// A metadata store whose `get` fails with `Unavailable` a number of times first.
struct Flaky {
    inner: SqliteMetadataStore,
    failures_left: AtomicUsize,
    gets: AtomicUsize,
}

#[async_trait]
impl MetadataStore for Flaky {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        self.inner.insert(document).await
    }
    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Unavailable("down for the test".into()));
        }
        self.inner.get(id).await
    }
    async fn update(&self, document: &Document, expected: u64) -> Result<(), StoreError> {
        self.inner.update(document, expected).await
    }
    async fn delete(&self, id: &DocumentId, expected: u64) -> Result<(), StoreError> {
        self.inner.delete(id, expected).await
    }
    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.inner.list(query).await
    }
    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        self.inner.expired_pending(now, limit).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
}

async fn run(failures: usize) -> (usize, bool) {
    let served = common::served_store(1 << 20).await;
    let flaky = Arc::new(Flaky {
        inner: SqliteMetadataStore::open(served.dir.path()).unwrap(),
        failures_left: AtomicUsize::new(failures),
        gets: AtomicUsize::new(0),
    });
    let processor = Arc::new(EventProcessor::new(
        flaky.clone(),
        served.store.clone(),
        Arc::new(SystemClock),
        Limits::default(),
    ));
    let events = Arc::new(InProcessEvents::new());
    let worker = tokio::spawn(events.clone().run_worker(processor));

    // Content for a document that does not exist: the processor deletes it.
    let key = kumocms_core::blob_key::content_key(&DocumentId::new(), 1);
    let hot = served.dir.path().join("blobs/hot").join(&key);
    std::fs::create_dir_all(hot.parent().unwrap()).unwrap();
    std::fs::write(&hot, b"orphan").unwrap();
    events
        .publish(StorageEvent::ObjectCreated {
            location: served.store.location(),
            key,
        })
        .await;
    tokio::time::timeout(Duration::from_secs(10), events.wait_idle())
        .await
        .expect("wait_idle must return once the event is done with");
    assert_eq!(events.pending(), 0);
    worker.abort();
    (flaky.gets.load(Ordering::SeqCst), hot.exists())
}

#[tokio::test]
async fn transient_failures_are_retried_until_the_event_applies() {
    let (gets, still_there) = run(2).await;
    assert_eq!(gets, 3, "two failures, then success");
    assert!(
        !still_there,
        "the orphan was deleted once the store came back"
    );
}

#[tokio::test]
async fn a_store_that_stays_down_is_given_up_after_five_tries() {
    let (gets, still_there) = run(usize::MAX).await;
    assert_eq!(gets, 5, "bounded retries");
    assert!(still_there);
}
