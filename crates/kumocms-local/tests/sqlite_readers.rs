//! The SQLite store's read-only connections: reads go to a pool of readers while
//! writes stay on the one writer, so these check that a read never misses a write
//! that returned before it, and that reads work on every kind of runtime.

// Tests panic on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use kumocms_core::conformance::sample_document;
use kumocms_core::document::DocumentStatus;
use kumocms_core::ports::{ListQuery, MetadataStore};
use kumocms_local::SqliteMetadataStore;

/// Writes, then reads at once, from many tasks at a time. Each read must see the
/// write that returned just before it. It would fail if a reader connection kept a
/// read transaction (and so an old WAL snapshot) open between reads, or if reads
/// went anywhere that is not the committed database.
async fn writes_then_reads(store: Arc<SqliteMetadataStore>, tasks: usize, rounds: usize) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let document_type = format!("readers-{task}");
            for round in 0..rounds {
                let mut document = sample_document(&document_type, DocumentStatus::Active);
                store.insert(&document).await.expect("insert");
                let read = store.get(&document.id).await.expect("get after insert");
                assert_eq!(
                    read.as_ref().map(|d| d.version),
                    Some(1),
                    "task {task} round {round}: a get right after the insert missed it"
                );

                document.version = 2;
                document.metadata.insert("round".into(), round.into());
                store.update(&document, 1).await.expect("update");
                let read = store.get(&document.id).await.expect("get after update");
                assert_eq!(
                    read.as_ref()
                        .map(|d| (d.version, d.metadata.get("round").cloned())),
                    Some((2, Some(round.into()))),
                    "task {task} round {round}: a get right after the update saw an older version"
                );
                let page = store
                    .list(&ListQuery {
                        document_type: Some(document_type.clone()),
                        limit: 1000,
                        ..ListQuery::default()
                    })
                    .await
                    .expect("list after update");
                assert_eq!(
                    page.documents.iter().map(|d| d.version).collect::<Vec<_>>(),
                    vec![2],
                    "task {task} round {round}: a listing right after the update missed it"
                );

                store.delete(&document.id, 2).await.expect("delete");
                assert!(
                    store
                        .get(&document.id)
                        .await
                        .expect("get after delete")
                        .is_none(),
                    "task {task} round {round}: a get right after the delete still found it"
                );
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_a_write_sees_it_on_a_multi_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    // More tasks than reader connections, so connections are shared and reused
    // across writes, and reads run while other tasks commit.
    writes_then_reads(store, 12, 20).await;
}

#[tokio::test]
async fn a_read_right_after_a_write_sees_it_on_a_current_thread_runtime() {
    // The tests of the other crates and the HTTP tests run on this runtime, where
    // `block_in_place` would panic.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    writes_then_reads(store, 4, 10).await;
}

#[test]
fn reads_work_inside_block_on_and_outside_any_worker() {
    // `kumocms serve` runs its start-up (crash recovery reads) in `Runtime::block_on`
    // on the main thread, which is not one of the runtime's workers.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let document = sample_document("block-on", DocumentStatus::Active);
        store.insert(&document).await.unwrap();
        assert!(store.get(&document.id).await.unwrap().is_some());
        store.health().await.unwrap();
        assert!(store.with_pending_upload().await.unwrap().is_empty());
    });
    // And from a blocking-pool thread that drives a future itself.
    let inner = Arc::clone(&store);
    let found = runtime
        .block_on(runtime.spawn_blocking(move || {
            tokio::runtime::Handle::current().block_on(async {
                inner
                    .list(&ListQuery {
                        document_type: Some("block-on".into()),
                        limit: 10,
                        ..ListQuery::default()
                    })
                    .await
            })
        }))
        .unwrap()
        .unwrap();
    assert_eq!(found.documents.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_reads_share_the_readers() {
    // Far more concurrent reads than connections: they wait for a free reader
    // instead of failing, and each gets the right record.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    let mut ids = Vec::new();
    for _ in 0..8 {
        let document = sample_document("shared", DocumentStatus::Active);
        store.insert(&document).await.unwrap();
        ids.push(document.id);
    }
    let mut handles = Vec::new();
    for n in 0..256 {
        let store = Arc::clone(&store);
        let id = ids[n % ids.len()];
        handles.push(tokio::spawn(async move {
            let found = store.get(&id).await.unwrap().unwrap();
            assert_eq!(found.id, id);
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
}
