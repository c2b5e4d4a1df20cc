//! The core's adapter conformance suite, run against the local adapters.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use kumocms_core::conformance;
use kumocms_core::events::StorageEvent;
use kumocms_local::SqliteMetadataStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_metadata_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    conformance::metadata_store(&store).await;
    // Reopened, the same file still conforms (and holds nothing the suite left).
    drop(store);
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    conformance::metadata_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_metadata_store_passes_the_search_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path()).unwrap();
    conformance::metadata_search(std::sync::Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_blob_store_conforms() {
    let served = common::served_store(1 << 30).await;
    conformance::blob_store(served.store.as_ref(), &common::HttpUploader::default()).await;

    // Exactly the four accepted uploads were announced (the content, the
    // write-once check's first upload, the sidecar, another document); the refused
    // ones were not.
    let created: Vec<String> = served
        .events
        .events()
        .into_iter()
        .map(|event| match event {
            StorageEvent::ObjectCreated { key, .. } => key,
            other => panic!("only ObjectCreated expected, got {other:?}"),
        })
        .collect();
    assert_eq!(created.len(), 4, "{created:?}");
    assert!(created[2].ends_with(".meta.json"), "{created:?}");
    // Nothing is left behind: no temporary files, no content, no restore requests.
    let left: Vec<String> = common::files_under(served.dir.path())
        .into_iter()
        .filter(|f| f != "signing.key")
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_blob_store_takes_multipart_uploads() {
    let served = common::served_store(1 << 30).await;
    conformance::blob_multipart(served.store.as_ref(), &common::HttpUploader::default()).await;
    // The completed upload was announced once, like a single PUT; the aborted one not.
    let created = served.events.events().len();
    assert_eq!(created, 1, "{:?}", served.events.events());
    let left: Vec<String> = common::files_under(served.dir.path())
        .into_iter()
        .filter(|f| f != "signing.key")
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_blob_store_copies_and_announces_the_copy() {
    let served = common::served_store(1 << 30).await;
    conformance::blob_copy(served.store.as_ref(), &common::HttpUploader::default()).await;
    let created: Vec<String> = served
        .events
        .events()
        .into_iter()
        .filter_map(|event| match event {
            StorageEvent::ObjectCreated { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 2, "the upload and the copy: {created:?}");
    assert!(created[1].ends_with("/r2"), "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_retention_and_trash_conform_on_sqlite_and_files() {
    let served = common::served_store(1 << 30).await;
    let dir = tempfile::tempdir().unwrap();
    let metadata = std::sync::Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    conformance::service_history(
        metadata,
        served.store.clone(),
        &common::HttpUploader::default(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_declared_at_completion_is_verified_on_sqlite_and_files() {
    let served = common::served_store(1 << 30).await;
    let dir = tempfile::tempdir().unwrap();
    let metadata = std::sync::Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    conformance::service_multipart_checksum(
        metadata,
        served.store.clone(),
        &common::HttpUploader::default(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_put_activates_with_its_verified_checksum_on_sqlite_and_files() {
    let served = common::served_store(1 << 30).await;
    let dir = tempfile::tempdir().unwrap();
    let metadata = std::sync::Arc::new(SqliteMetadataStore::open(dir.path()).unwrap());
    let reported = conformance::service_single_put_extraction(
        metadata,
        served.store.clone(),
        &common::HttpUploader::default(),
    )
    .await;
    assert_eq!(
        reported, 2,
        "the file store hashes every byte of a single PUT and reports it"
    );
}
