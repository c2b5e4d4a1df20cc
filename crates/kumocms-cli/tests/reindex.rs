//! `kumocms reindex`: rebuilds the search index of a data directory, and refuses a
//! directory that holds no database or is in use.

// Test helpers panic with a message on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn reindex(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kumocms"))
        .args(["reindex", "--data-dir"])
        .arg(data_dir)
        .env_remove("KUMOCMS_DATA_DIR")
        .output()
        .expect("kumocms runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_rebuilds_the_index_of_a_data_directory() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");

    let refused = reindex(&data);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("holds no KumoCMS database"),
        "{refused:?}"
    );

    // A data directory with two documents, made by the local backend.
    {
        let backend = kumocms_local::LocalBackend::open(kumocms_local::LocalConfig::new(&data))
            .await
            .unwrap();
        backend.set_base_url("http://127.0.0.1:9");
        for name in ["alpha report.txt", "beta.txt"] {
            backend
                .service
                .create(kumocms_core::service::NewDocument {
                    file_name: name.into(),
                    file_size: 1,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        // In use: refused.
        let busy = reindex(&data);
        assert!(!busy.status.success(), "{busy:?}");
        assert!(
            String::from_utf8_lossy(&busy.stderr).contains("in use"),
            "{busy:?}"
        );
    }

    let done = reindex(&data);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "reindexed 2 documents\n"
    );

    let backend = kumocms_local::LocalBackend::open(kumocms_local::LocalConfig::new(&data))
        .await
        .unwrap();
    let page = backend
        .service
        .query(&[("q".to_owned(), "report".to_owned())])
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 1);
}
