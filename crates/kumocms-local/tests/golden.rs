//! A data directory written by the previous release (fc2895e, before revisions and
//! the trash) opens under this code and serves its documents, each with one revision.
//! `tests/fixtures/release-fc2895e/make.py` says how the directory was made.

// Test helpers panic on failure like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use kumocms_core::conformance::ConformanceUploader;
use kumocms_core::ports::MetadataStore;
use kumocms_core::{DocumentId, DocumentStatus, SCHEMA_VERSION};
use kumocms_local::{LocalBackend, LocalConfig};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-fc2895e")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A golden fixture's manifest, and a copy of its data directory (in a temporary
/// directory that lives as long as the returned guard).
fn copy_fixture(fixture: &Path) -> (Value, tempfile::TempDir, PathBuf) {
    let manifest =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("manifest.json")).unwrap())
            .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    copy_dir(&fixture.join("data"), &dir);
    (manifest, temp, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_from_release_fc2895e_opens_with_one_revision_per_document() {
    // A copy: opening upgrades nothing on disk by itself, but the test must not be
    // able to change the committed fixture either way.
    let (manifest, _temp, dir) = copy_fixture(&fixture());

    let backend = LocalBackend::open(LocalConfig::new(&dir)).await.unwrap();
    let base = common::serve(backend.blob_router()).await;
    backend.set_base_url(&base);
    let uploader = common::HttpUploader::default();

    let documents = manifest["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 4);
    for expected in documents {
        let name = expected["name"].as_str().unwrap();
        let id: DocumentId = expected["id"].as_str().unwrap().parse().unwrap();
        let view = backend.service.get(&id).await.unwrap();
        let document = &view.document;
        assert_eq!(
            document.schema_version, SCHEMA_VERSION,
            "{name}: upgraded on read"
        );
        assert_eq!(
            document.status.as_str(),
            expected["status"].as_str().unwrap(),
            "{name}"
        );
        let page = backend.service.revisions(&id, None, None).await.unwrap();
        let revision = expected["revision"].as_u64().unwrap() as u32;
        if revision == 0 {
            assert!(page.revisions.is_empty(), "{name}: no content, no revision");
            continue;
        }
        assert_eq!(page.revisions.len(), 1, "{name}: exactly one revision");
        let only = &page.revisions[0];
        assert_eq!(only.revision, revision, "{name}");
        assert!(only.current, "{name}");
        assert_eq!(
            only.checksum_sha256.as_deref(),
            expected["sha256"].as_str(),
            "{name}"
        );
        if document.status == DocumentStatus::Active {
            let bytes = uploader
                .download(&view.download.clone().unwrap())
                .await
                .unwrap();
            assert_eq!(
                bytes,
                expected["content"].as_str().unwrap().as_bytes(),
                "{name}"
            );
            let link = backend
                .service
                .revision_content_link(&id, &revision.to_string())
                .await
                .unwrap();
            assert_eq!(uploader.download(&link).await.unwrap(), bytes, "{name}");
        }
    }

    // The old records are written back in the new shape at their next change, and
    // the new features work on them: replace, then the trash.
    let replaced = documents.iter().find(|d| d["name"] == "replaced").unwrap();
    let id: DocumentId = replaced["id"].as_str().unwrap().parse().unwrap();
    backend.service.delete(&id).await.unwrap();
    let stored = backend.metadata.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, DocumentStatus::Deleted);
    let raw = rusqlite::Connection::open(dir.join("kumocms.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT record FROM documents WHERE id = ?1",
            [id.to_string()],
            |row| row.get::<_, String>(0),
        )
        .unwrap();
    let raw: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        raw["schema_version"], SCHEMA_VERSION,
        "written back as the current schema"
    );
    let back = backend.service.undelete(&id, None).await.unwrap();
    assert_eq!(back.status, DocumentStatus::Active);
    drop(backend);
}

#[test]
fn a_record_from_a_newer_release_is_refused_not_misread() {
    let mut record: Value = serde_json::to_value(kumocms_core::conformance::sample_document(
        "x",
        DocumentStatus::Active,
    ))
    .unwrap();
    record["schema_version"] = Value::from(SCHEMA_VERSION + 1);
    let error = kumocms_core::Document::from_record(&record.to_string()).unwrap_err();
    assert!(error.to_string().contains("newer"), "{error}");
}

/// The ids of the first page `GET /documents` gives for these parameters.
async fn search_ids(backend: &LocalBackend, pairs: &[(&str, &str)]) -> Vec<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let page = backend.service.query(&pairs).await.unwrap();
    page.hits
        .iter()
        .map(|h| h.document.id.to_string())
        .collect()
}

/// Schema version 2 (search) builds its index from the records already there: the
/// previous release's documents are found by `q` and by the structured filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_documents_are_found_by_search_after_the_migration() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    copy_dir(&fixture().join("data"), &dir);
    let backend = LocalBackend::open(LocalConfig::new(&dir)).await.unwrap();
    // By file name, by a metadata value (accent-folded), with a structured filter.
    assert_eq!(
        search_ids(&backend, &[("q", "archived")]).await,
        ["01M8N3VBWNTZYPBY18BRJFZ76J"]
    );
    assert_eq!(
        search_ids(&backend, &[("q", "ASA")]).await,
        ["01M8N3VBR6FDJDWF7ZR05DK19A"]
    );
    assert_eq!(
        search_ids(
            &backend,
            &[("q", "txt"), ("type", "invoice"), ("sort", "file_name")]
        )
        .await,
        [
            "01M8N3VBR6FDJDWF7ZR05DK19A",
            "01M8N3VC3SXT30MJYZ77Z9KWEH",
            "01M8N3VC46MF9CQ9CJP3K2K5W7"
        ]
    );
    assert_eq!(
        search_ids(&backend, &[("file_name", "repl"), ("min_size", "1")]).await,
        ["01M8N3VC46MF9CQ9CJP3K2K5W7"]
    );
    // `kumocms reindex` rebuilds the same index.
    assert_eq!(backend.metadata.reindex().await.unwrap(), 4);
    assert_eq!(
        search_ids(&backend, &[("q", "archived")]).await,
        ["01M8N3VBWNTZYPBY18BRJFZ76J"]
    );
}

/// Checks each document of a golden manifest against `backend`: its status (a
/// trashed one is undeleted, with its history), every revision listed newest
/// first with its checksum, and each hot revision's bytes. Returns how many
/// revisions were downloaded.
async fn assert_documents_as_written(
    backend: &LocalBackend,
    uploader: &common::HttpUploader,
    documents: &[Value],
) -> usize {
    let mut downloaded = 0;
    for expected in documents {
        let name = expected["name"].as_str().unwrap();
        let id: DocumentId = expected["id"].as_str().unwrap().parse().unwrap();
        let document = backend.service.get(&id).await.unwrap().document;
        if expected["status"] == "pending" {
            assert_eq!(document.status, DocumentStatus::PendingUpload, "{name}");
            assert!(document.pending_upload.is_some(), "{name}");
            continue;
        }
        assert_eq!(
            document.status.as_str(),
            expected["status"].as_str().unwrap(),
            "{name}"
        );
        if document.status == DocumentStatus::Deleted {
            assert_eq!(
                document.trash.as_ref().unwrap().previous_status.as_str(),
                expected["previous_status"].as_str().unwrap(),
                "{name}"
            );
            let back = backend.service.undelete(&id, None).await.unwrap();
            assert_eq!(back.status, DocumentStatus::Active, "{name}");
        }
        let page = backend.service.revisions(&id, None, None).await.unwrap();
        let listed: Vec<(u32, bool, Option<String>)> = page
            .revisions
            .iter()
            .map(|r| (r.revision, r.current, r.checksum_sha256.clone()))
            .collect();
        let want: Vec<(u32, bool, Option<String>)> = expected["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(n, r)| {
                (
                    r["revision"].as_u64().unwrap() as u32,
                    n == 0,
                    r["sha256"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(listed, want, "{name}: every revision, newest first");
        for (info, revision) in page
            .revisions
            .iter()
            .zip(expected["revisions"].as_array().unwrap())
        {
            if info.storage_class != kumocms_core::StorageClass::Standard
                || (info.current && document.status == DocumentStatus::Archived)
            {
                continue;
            }
            let link = backend
                .service
                .revision_content_link(&id, &info.revision.to_string())
                .await
                .unwrap();
            assert_eq!(
                uploader.download(&link).await.unwrap(),
                revision["content"].as_str().unwrap().as_bytes(),
                "{name} r{}",
                info.revision
            );
            downloaded += 1;
        }
    }

    downloaded
}

fn fixture_d220d75() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-d220d75")
}

/// A data directory written by release d220d75 (SQLite schema v3, each record
/// keeping its replaced revisions inside its JSON, the trash) opens under this code
/// with every revision: listed in order with its checksum, each hot one readable
/// byte for byte, the trashed document undeletable with its history, and a
/// permanent delete removing every revision's blob.
/// `tests/fixtures/release-d220d75/make.sh` says how the directory was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_from_release_d220d75_opens_with_every_revision() {
    let (manifest, _temp, dir) = copy_fixture(&fixture_d220d75());
    let version: i64 = rusqlite::Connection::open(dir.join("kumocms.sqlite3"))
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3, "the fixture is a schema v3 database");

    let backend = LocalBackend::open(LocalConfig::new(&dir)).await.unwrap();
    let base = common::serve(backend.blob_router()).await;
    backend.set_base_url(&base);
    let uploader = common::HttpUploader::default();

    let documents = manifest["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 4);
    let downloaded = assert_documents_as_written(&backend, &uploader, documents).await;

    // Every revision but the archived document's current one (in GLACIER).
    assert_eq!(downloaded, 9);

    // A permanent delete purges every revision's blob, as it did in d220d75.
    let history = documents.iter().find(|d| d["name"] == "history").unwrap();
    let id: DocumentId = history["id"].as_str().unwrap().parse().unwrap();
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
    assert!(backend.metadata.get(&id).await.unwrap().is_none());
    let left: Vec<String> = common::files_under(&dir.join("blobs"))
        .into_iter()
        .filter(|f| f.contains(&id.to_string()))
        .collect();
    assert!(left.is_empty(), "every revision's blob is gone: {left:?}");
    drop(backend);
}

/// The `record` and `history` columns of `id`'s row, read straight from the file.
fn stored_row(dir: &Path, id: &DocumentId) -> (Value, Option<Value>) {
    let connection = rusqlite::Connection::open(dir.join("kumocms.sqlite3")).unwrap();
    let (record, history): (String, Option<String>) = connection
        .query_row(
            "SELECT record, history FROM documents WHERE id = ?1",
            [id.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    (
        serde_json::from_str(&record).unwrap(),
        history.map(|h| serde_json::from_str(&h).unwrap()),
    )
}

/// Issue 11, fix 2: opening a d220d75 database (history inside each record's JSON)
/// moves every record's history into the `history` column, and a write of the
/// record keeps it there, whole: the record's JSON never carries `revisions` again,
/// and the revision listing still lists every revision. Reads for display leave it
/// out, and a write of such a read is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_d220d75_database_keeps_history_apart_once_written_again() {
    let (manifest, _temp, dir) = copy_fixture(&fixture_d220d75());
    let history = manifest["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "history")
        .unwrap();
    let id: DocumentId = history["id"].as_str().unwrap().parse().unwrap();
    let want: Vec<u32> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_u64().unwrap() as u32)
        .collect();
    let before: Value = {
        let connection = rusqlite::Connection::open(dir.join("kumocms.sqlite3")).unwrap();
        let record: String = connection
            .query_row(
                "SELECT record FROM documents WHERE id = ?1",
                [id.to_string()],
                |row| row.get(0),
            )
            .unwrap();
        serde_json::from_str(&record).unwrap()
    };
    assert_eq!(
        before["revisions"].as_array().map(Vec::len),
        Some(want.len() - 1),
        "the fixture keeps the history inside the record"
    );

    let backend = LocalBackend::open(LocalConfig::new(&dir)).await.unwrap();
    let retained = |history: &Option<Value>| -> Vec<u32> {
        history
            .as_ref()
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|r| r["revision"].as_u64().unwrap() as u32)
            .collect()
    };
    let (record, column) = stored_row(&dir, &id);
    assert!(record.get("revisions").is_none(), "moved out: {record}");
    assert_eq!(record["schema_version"], 3);
    assert_eq!(
        retained(&column),
        want[1..],
        "moved into the history column"
    );

    // Written again (a PATCH): the history stays in its column, whole.
    let patch = kumocms_core::service::Patch {
        metadata: Some(serde_json::from_value(serde_json::json!({"written": "again"})).unwrap()),
        document_type: None,
    };
    backend.service.patch(&id, patch, None).await.unwrap();
    let (record, column) = stored_row(&dir, &id);
    assert_eq!(record["metadata"]["written"], "again");
    assert!(record.get("revisions").is_none(), "{record}");
    assert_eq!(retained(&column), want[1..]);
    let page = backend.service.revisions(&id, None, None).await.unwrap();
    assert_eq!(
        page.revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        want,
        "every revision is still listed, newest first"
    );

    // A read for display has no history, and cannot be written back.
    let mut shown = backend.metadata.get_nearby(&id).await.unwrap().unwrap();
    assert!(!shown.revisions.is_loaded());
    let expected = shown.version;
    shown.version += 1;
    assert_eq!(
        backend.metadata.update(&shown, expected).await,
        Err(kumocms_core::ports::StoreError::HistoryNotLoaded(
            kumocms_core::revision::HistoryNotLoaded
        ))
    );
    assert_eq!(retained(&stored_row(&dir, &id).1), want[1..]);
    drop(backend);
}

fn fixture_adb93b8() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-adb93b8")
}

/// `user_version`, the `documents` table's definition and the names of its indexes
/// (those SQLite makes for a key included), read straight from the file.
fn documents_schema(dir: &Path) -> (i64, String, Vec<String>) {
    let connection = rusqlite::Connection::open(dir.join("kumocms.sqlite3")).unwrap();
    let version = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    let table: String = connection
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'documents'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let mut statement = connection
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'documents'
             ORDER BY name",
        )
        .unwrap();
    let indexes = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    (version, table, indexes)
}

/// Schema step 7 (issue 13): a data directory written by release adb93b8 (schema
/// v6, `documents` a `WITHOUT ROWID` table) opens under this code with `documents`
/// rebuilt as a rowid table keeping every index it had, and every document as it
/// was: each revision listed and readable byte for byte, the trashed one
/// undeletable, the pending upload still pending, each found by `q` on its
/// extracted text and by its metadata, and written again without loss.
/// `tests/fixtures/release-adb93b8/make.sh` says how the directory was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_from_release_adb93b8_opens_with_documents_in_a_rowid_table() {
    let (manifest, _temp, dir) = copy_fixture(&fixture_adb93b8());
    let (version, table, indexes_before) = documents_schema(&dir);
    assert_eq!(version, 6, "the fixture is a schema v6 database");
    assert!(table.contains("WITHOUT ROWID"), "{table}");

    let backend = LocalBackend::open(LocalConfig::new(&dir)).await.unwrap();
    let base = common::serve(backend.blob_router()).await;
    backend.set_base_url(&base);
    let uploader = common::HttpUploader::default();

    let (version, table, indexes_after) = documents_schema(&dir);
    assert_eq!(version, 7);
    assert!(!table.contains("WITHOUT ROWID"), "{table}");
    // The rowid table's key has an index of its own; every other index is kept.
    let expected: Vec<String> = indexes_before
        .iter()
        .cloned()
        .chain(["sqlite_autoindex_documents_1".to_owned()])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(indexes_after, expected);

    // Found by the words of their extracted text and by their metadata, before
    // the trashed one is undeleted.
    let id_of = |name: &str| -> String {
        manifest["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        search_ids(&backend, &[("q", "golden"), ("sort", "created_at")]).await,
        [
            id_of("history"),
            id_of("restored"),
            id_of("archived"),
            id_of("pending")
        ],
        "by text or by a metadata value (`golden-pending`); the trashed one left out"
    );
    assert_eq!(
        search_ids(&backend, &[("q", "current content")]).await,
        [id_of("history")]
    );
    assert_eq!(
        search_ids(&backend, &[("meta.customer", "golden-restored")]).await,
        [id_of("restored")]
    );
    assert_eq!(
        search_ids(
            &backend,
            &[
                ("status", "pending_upload"),
                ("meta.customer", "golden-pending")
            ]
        )
        .await,
        [id_of("pending")]
    );

    let documents = manifest["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 5);
    let downloaded = assert_documents_as_written(&backend, &uploader, documents).await;
    // Every revision but the archived document's current one (in GLACIER).
    assert_eq!(downloaded, 9);

    // Written again: a PATCH keeps every revision, and the new metadata is found.
    let id: DocumentId = id_of("history").parse().unwrap();
    let patch = kumocms_core::service::Patch {
        metadata: Some(serde_json::from_value(serde_json::json!({"written": "again"})).unwrap()),
        document_type: None,
    };
    backend.service.patch(&id, patch, None).await.unwrap();
    assert_eq!(
        backend
            .service
            .revisions(&id, None, None)
            .await
            .unwrap()
            .revisions
            .len(),
        3
    );
    assert_eq!(
        search_ids(&backend, &[("meta.written", "again")]).await,
        [id.to_string()]
    );
    drop(backend);
}
