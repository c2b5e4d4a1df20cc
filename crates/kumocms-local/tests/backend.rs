//! The assembled local backend: the document lifecycle end to end through the
//! service, the links and the in-process events; restart and crash recovery; the
//! sweeper of abandoned uploads.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kumocms_core::DocumentStatus;
use kumocms_core::ports::MetadataStore;
use kumocms_core::service::{NewContent, NewDocument};
use kumocms_core::{DocumentId, RestoreTier, StorageClass};
use kumocms_local::{BackgroundTasks, LocalBackend, LocalConfig};
use sha2::{Digest, Sha256};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\ntrailer\n%%EOF\n";

fn config(dir: &std::path::Path) -> LocalConfig {
    let mut config = LocalConfig::new(dir);
    config.restore_delay = Duration::from_millis(200);
    config.restore_day_length = Duration::from_millis(300);
    config.restore_tick = Duration::from_millis(50);
    config
}

async fn start(config: LocalConfig) -> (Arc<LocalBackend>, BackgroundTasks) {
    let backend = Arc::new(LocalBackend::open(config).await.unwrap());
    let base = common::serve(backend.blob_router()).await;
    backend.set_base_url(&base);
    let tasks = backend.start_background();
    (backend, tasks)
}

async fn create(
    backend: &LocalBackend,
    body: &[u8],
) -> (DocumentId, kumocms_core::ports::SignedLink) {
    let upload = backend
        .service
        .create(NewDocument {
            file_name: "report.pdf".into(),
            file_size: body.len() as u64,
            content_type: Some("application/pdf".into()),
            checksum_sha256: Some(hex::encode(Sha256::digest(body))),
            ..NewDocument::default()
        })
        .await
        .unwrap();
    (
        upload.document.id,
        upload.upload.single_link().expect("one PUT").clone(),
    )
}

async fn status_of(backend: &LocalBackend, id: &DocumentId) -> DocumentStatus {
    backend.service.get(id).await.unwrap().document.status
}

/// Polls until `id` reaches `status` (the restore ticker runs on real time).
async fn wait_for_status(backend: &LocalBackend, id: &DocumentId, status: DocumentStatus) {
    for _ in 0..200 {
        backend.wait_idle().await;
        if status_of(backend, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{id} never reached {status:?}; it is {:?}",
        status_of(backend, id).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_goes_round_the_whole_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, _tasks) = start(config(dir.path())).await;
    assert!(
        backend
            .generated_api_key
            .as_deref()
            .is_some_and(|k| k.starts_with("kcms_"))
    );
    let keys = backend.keys.api_keys().await.unwrap();
    assert!(
        keys.verify(backend.generated_api_key.as_deref().unwrap())
            .is_some()
    );

    let (id, link) = create(&backend, PDF).await;
    let uploader = common::HttpUploader::default();
    kumocms_core::conformance::ConformanceUploader::upload(
        &uploader,
        &link,
        Bytes::from_static(PDF),
    )
    .await
    .unwrap();
    backend.wait_idle().await;
    let view = backend.service.get(&id).await.unwrap();
    assert_eq!(view.document.status, DocumentStatus::Active);
    let extracted = view.document.extracted.clone().unwrap();
    assert_eq!(extracted.sha256, hex::encode(Sha256::digest(PDF)));
    assert_eq!(
        extracted.sniffed_content_type.as_deref(),
        Some("application/pdf")
    );
    let download = view.download.expect("active content has a download link");
    let fetched = kumocms_core::conformance::ConformanceUploader::download(&uploader, &download)
        .await
        .unwrap();
    assert_eq!(fetched, PDF);

    backend
        .service
        .archive(&id, StorageClass::Glacier)
        .await
        .unwrap();
    assert!(backend.service.content_link(&id).await.is_err());
    backend
        .service
        .restore(&id, 1, RestoreTier::Standard)
        .await
        .unwrap();
    assert_eq!(status_of(&backend, &id).await, DocumentStatus::Restoring);
    wait_for_status(&backend, &id, DocumentStatus::Restored).await;
    let restored = backend.service.get(&id).await.unwrap();
    assert!(restored.document.restore.unwrap().available_until.is_some());
    let fetched = kumocms_core::conformance::ConformanceUploader::download(
        &uploader,
        &restored.download.expect("restored content is readable"),
    )
    .await
    .unwrap();
    assert_eq!(fetched, PDF);
    // One "day" is 300 ms here: the copy expires and the document is archived again.
    wait_for_status(&backend, &id, DocumentStatus::Archived).await;

    // A replacement arriving for an archived document makes it active again.
    let replaced = backend
        .service
        .replace(
            &id,
            NewContent {
                file_size: 5,
                content_type: Some("text/plain".into()),
                ..NewContent::default()
            },
        )
        .await
        .unwrap();
    kumocms_core::conformance::ConformanceUploader::upload(
        &uploader,
        replaced.upload.single_link().expect("one PUT"),
        Bytes::from_static(b"hello"),
    )
    .await
    .unwrap();
    wait_for_status(&backend, &id, DocumentStatus::Active).await;
    let document = backend.service.get(&id).await.unwrap().document;
    assert_eq!(document.content.unwrap().revision, 2);
    assert!(
        common::files_under(&dir.path().join("blobs/cold"))
            .iter()
            .any(|f| f.contains("/r1")),
        "the replaced, archived revision is kept as a revision, still archived"
    );
    let page = backend.service.revisions(&id, None, None).await.unwrap();
    assert_eq!(page.revisions[1].storage_class, StorageClass::Glacier);
    let old = backend.service.revision(&id, "1").await.unwrap();
    assert!(
        old.download.is_none(),
        "an archived revision offers no link"
    );

    backend
        .service
        .delete_with(
            &id,
            kumocms_core::DeleteOptions {
                permanent: true,
                if_match: None,
            },
        )
        .await
        .unwrap();
    let left: Vec<String> = common::files_under(&dir.path().join("blobs"))
        .into_iter()
        .filter(|f| f.contains(&id.to_string()))
        .collect();
    assert!(left.is_empty(), "delete removes every blob: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reopens_the_same_data_and_keeps_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, tasks) = start(config(dir.path())).await;
    let key = backend.generated_api_key.clone().unwrap();
    let (id, link) = create(&backend, PDF).await;
    let uploader = common::HttpUploader::default();
    kumocms_core::conformance::ConformanceUploader::upload(
        &uploader,
        &link,
        Bytes::from_static(PDF),
    )
    .await
    .unwrap();
    backend.wait_idle().await;
    let before = backend.service.get(&id).await.unwrap().document;
    let cursor_page = backend
        .service
        .list(kumocms_core::service::ListRequest {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();

    // While the first server runs, a second one on the same directory is refused.
    let error = LocalBackend::open(config(dir.path())).await.unwrap_err();
    assert!(
        matches!(error, kumocms_local::LocalError::Lock(_)),
        "{error}"
    );
    tasks.shutdown().await;
    drop(backend);

    let (backend, _tasks) = start(config(dir.path())).await;
    assert_eq!(backend.generated_api_key, None, "the key is generated once");
    assert!(
        backend
            .keys
            .api_keys()
            .await
            .unwrap()
            .verify(&key)
            .is_some()
    );
    assert_eq!(backend.service.get(&id).await.unwrap().document, before);
    assert_eq!(backend.recovery, kumocms_local::RecoveryReport::default());
    // A cursor issued before the restart still works: its key is derived from the
    // persisted signing key.
    if let Some(cursor) = cursor_page.next_cursor {
        backend
            .service
            .list(kumocms_core::service::ListRequest {
                limit: Some(1),
                cursor: Some(cursor),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_finishes_what_a_crash_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let (id, archived_id, restored_id, restoring_id) = {
        // No background tasks: events published here are lost, as in a kill -9.
        let backend = LocalBackend::open(config(dir.path())).await.unwrap();
        backend.set_base_url("http://127.0.0.1:9");
        let (id, _) = create(&backend, PDF).await;
        // The upload was renamed into place but its ObjectCreated never processed.
        let key = kumocms_core::blob_key::content_key(&id, 1);
        let hot = dir.path().join("blobs/hot").join(&key);
        std::fs::create_dir_all(hot.parent().unwrap()).unwrap();
        std::fs::write(&hot, PDF).unwrap();
        std::fs::write(dir.path().join("tmp/upload-stray"), b"half").unwrap();

        // A record claimed as archived whose content never moved, and one restored
        // whose copy expired while the event was lost.
        let mut archived = active_record(&backend, "archived").await;
        archived.status = DocumentStatus::Archived;
        archived.storage_class = StorageClass::Glacier;
        archived.version += 1;
        backend
            .metadata
            .update(&archived, archived.version - 1)
            .await
            .unwrap();
        let mut restored = active_record(&backend, "restored").await;
        std::fs::create_dir_all(
            dir.path()
                .join("blobs/cold/GLACIER")
                .join(kumocms_core::blob_key::document_prefix(&restored.id)),
        )
        .unwrap();
        let key = restored.content.as_ref().unwrap().key.clone();
        std::fs::rename(
            dir.path().join("blobs/hot").join(&key),
            dir.path().join("blobs/cold/GLACIER").join(&key),
        )
        .unwrap();
        restored.status = DocumentStatus::Restored;
        restored.storage_class = StorageClass::Glacier;
        restored.version += 1;
        backend
            .metadata
            .update(&restored, restored.version - 1)
            .await
            .unwrap();
        // A record claimed as restoring whose restore request was never written.
        let mut restoring = active_record(&backend, "restoring").await;
        move_to_glacier(dir.path(), &restoring);
        restoring.status = DocumentStatus::Restoring;
        restoring.storage_class = StorageClass::Glacier;
        restoring.restore = Some(kumocms_core::RestoreState {
            days: 1,
            tier: RestoreTier::Bulk,
            requested_at: chrono::Utc::now(),
            available_until: None,
        });
        restoring.version += 1;
        backend
            .metadata
            .update(&restoring, restoring.version - 1)
            .await
            .unwrap();
        (id, archived.id, restored.id, restoring.id)
    };

    let (backend, _tasks) = start(config(dir.path())).await;
    assert_eq!(
        backend.recovery,
        kumocms_local::RecoveryReport {
            temp_files_removed: 1,
            uploads_republished: 1,
            archives_redone: 1,
            restores_expired: 1,
            restores_reissued: 1,
            ..Default::default()
        }
    );
    assert!(common::files_under(&dir.path().join("tmp")).is_empty());
    backend.wait_idle().await;
    assert_eq!(status_of(&backend, &id).await, DocumentStatus::Active);
    assert_eq!(
        status_of(&backend, &restored_id).await,
        DocumentStatus::Archived
    );
    wait_for_status(&backend, &restoring_id, DocumentStatus::Restored).await;
    let archived = backend.metadata.get(&archived_id).await.unwrap().unwrap();
    let key = archived.content.unwrap().key;
    assert!(dir.path().join("blobs/cold/GLACIER").join(&key).is_file());
    assert!(!dir.path().join("blobs/hot").join(&key).exists());
}

/// Moves `document`'s content from hot/ to cold/GLACIER, as a finished archive would.
fn move_to_glacier(dir: &std::path::Path, document: &kumocms_core::Document) {
    let key = &document.content.as_ref().unwrap().key;
    let cold = dir.join("blobs/cold/GLACIER").join(key);
    std::fs::create_dir_all(cold.parent().unwrap()).unwrap();
    std::fs::rename(dir.join("blobs/hot").join(key), cold).unwrap();
}

/// An active record whose content is in hot/, made through the real path but
/// with the event applied directly (no worker runs in the crash scenario).
async fn active_record(backend: &LocalBackend, name: &str) -> kumocms_core::Document {
    let (id, _) = create(backend, name.as_bytes()).await;
    let key = kumocms_core::blob_key::content_key(&id, 1);
    let hot = backend.config().data_dir.join("blobs/hot").join(&key);
    std::fs::create_dir_all(hot.parent().unwrap()).unwrap();
    std::fs::write(&hot, name.as_bytes()).unwrap();
    backend
        .processor
        .handle(&kumocms_core::events::StorageEvent::ObjectCreated {
            location: kumocms_core::BlobLocation {
                store: "local".into(),
                region: None,
            },
            key,
        })
        .await
        .unwrap();
    let document = backend.metadata.get(&id).await.unwrap().unwrap();
    assert_eq!(document.status, DocumentStatus::Active);
    document
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_discards_abandoned_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.service.pending_upload_ttl = Duration::from_millis(100);
    config.sweep_interval = Duration::from_millis(50);
    let (backend, _tasks) = start(config).await;
    let (id, _) = create(&backend, PDF).await;
    for _ in 0..100 {
        if backend.metadata.get(&id).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the abandoned upload was never swept");
}

#[tokio::test]
async fn operator_keys_are_used_and_no_key_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.api_key = Some("operator-key".into());
    config.api_key_previous = Some("old-key".into());
    let backend = LocalBackend::open(config.clone()).await.unwrap();
    assert_eq!(backend.generated_api_key, None);
    assert!(!dir.path().join("api-key.sha256").exists());
    let keys = backend.keys.api_keys().await.unwrap();
    assert!(keys.verify("operator-key").is_some() && keys.verify("old-key").is_some());
    assert!(
        !format!("{config:?}").contains("operator-key"),
        "keys never in Debug output"
    );

    config.api_key = Some(" ".into());
    assert!(
        LocalBackend::open(config).await.is_err(),
        "a blank key is refused"
    );
}

/// Issue 13: up to 1 MiB of text per revision is indexed locally, though the record
/// keeps only its first 32 KiB; a later write of the record (a PATCH) and a
/// reindex keep that text, new content replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_word_deep_in_a_long_text_file_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, _tasks) = start(config(dir.path())).await;
    let mut body = String::from("opening aardvark\n");
    while body.len() < 900 * 1024 {
        body.push_str("filler line of plain words\n");
    }
    body.push_str("the zanzibar clause\n");
    while body.len() < 1000 * 1024 {
        body.push_str("more filler words\n");
    }
    let body = Bytes::from(body);
    let upload = backend
        .service
        .create(NewDocument {
            file_name: "long.txt".into(),
            file_size: body.len() as u64,
            content_type: Some("text/plain".into()),
            checksum_sha256: Some(hex::encode(Sha256::digest(&body))),
            ..NewDocument::default()
        })
        .await
        .unwrap();
    let id = upload.document.id;
    let link = upload.upload.single_link().expect("one PUT").clone();
    let uploader = common::HttpUploader::default();
    kumocms_core::conformance::ConformanceUploader::upload(&uploader, &link, body)
        .await
        .unwrap();
    backend.wait_idle().await;
    let found = |q: &'static str| {
        let backend = backend.clone();
        async move {
            backend
                .service
                .query(&[("q".to_owned(), q.to_owned())])
                .await
                .unwrap()
                .hits
                .iter()
                .map(|h| h.document.id)
                .collect::<Vec<_>>()
        }
    };
    let record = backend.metadata.get(&id).await.unwrap().unwrap();
    let text = record.extracted.unwrap().text.unwrap();
    assert!(text.len() <= kumocms_core::search::MAX_RECORD_TEXT);
    assert!(!text.contains("zanzibar"), "the record keeps 32 KiB only");
    assert_eq!(found("aardvark").await, [id]);
    assert_eq!(found("zanzibar").await, [id], "a word at 900 KiB");
    let page = backend
        .service
        .query(&[("q".to_owned(), "zanzibar clause".to_owned())])
        .await
        .unwrap();
    let snippet = page.hits[0].search.clone().unwrap().snippet.unwrap();
    assert!(snippet.contains("<mark>zanzibar</mark>"), "{snippet}");

    // A PATCH writes the record (and its index row) again: the long text stays.
    backend
        .service
        .patch(
            &id,
            kumocms_core::service::Patch {
                metadata: serde_json::json!({"customer": "Initech"})
                    .as_object()
                    .cloned(),
                document_type: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(found("zanzibar initech").await, [id]);
    backend.metadata.reindex().await.unwrap();
    assert_eq!(found("zanzibar").await, [id], "reindex keeps it");

    // New content without the word: gone from the index.
    let short = Bytes::from_static(b"a short replacement");
    let upload = backend
        .service
        .replace(
            &id,
            NewContent {
                file_size: short.len() as u64,
                content_type: Some("text/plain".into()),
                checksum_sha256: Some(hex::encode(Sha256::digest(&short))),
                ..NewContent::default()
            },
        )
        .await
        .unwrap();
    let link = upload.upload.single_link().expect("one PUT").clone();
    kumocms_core::conformance::ConformanceUploader::upload(&uploader, &link, short)
        .await
        .unwrap();
    backend.wait_idle().await;
    assert_eq!(found("replacement").await, [id]);
    assert!(found("zanzibar").await.is_empty(), "the old text is gone");
}
