//! The search conformance suite: `GET /documents` with every parameter, through
//! [`DocumentService::query`] over the store under test, so that each store's
//! [`MetadataStore::search`] answers as the core's reference does. The documents
//! are written straight into the store (with content, sizes, times and extracted
//! text of the suite's choosing) under a document type of their own, which every
//! query names, so the suite shares the store with anything else.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::cursor::CursorCodec;
use crate::document::{BlobLocation, BlobRef, Document, DocumentStatus, RestoreTier, StorageClass};
use crate::error::CoreError;
use crate::id::DocumentId;
use crate::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, DownloadSpec, MetadataStore, SignedLink,
    SystemClock, UploadSpec,
};
use crate::query::QueryPage;
use crate::service::{DocumentService, ServiceConfig};

/// The search never touches content; a blob store that refuses everything proves it.
/// Also for adapters' own search tests.
pub struct NoBlobs;

#[async_trait]
impl BlobStore for NoBlobs {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: "none".into(),
            region: None,
        }
    }
    async fn upload_link(&self, _: &UploadSpec) -> Result<SignedLink, BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn download_link(&self, _: &DownloadSpec) -> Result<SignedLink, BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn head(&self, _: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn read(&self, _: &BlobRef) -> Result<BlobStream, BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn read_small(&self, _: &BlobRef, _: usize) -> Result<Option<bytes::Bytes>, BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn delete(&self, _: &BlobRef) -> Result<(), BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn delete_document(&self, _: &DocumentId, _: &BlobLocation) -> Result<(), BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn copy(&self, _: &BlobRef, _: &BlobRef) -> Result<(), BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn archive(&self, _: &BlobRef, _: StorageClass) -> Result<(), BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn restore(&self, _: &BlobRef, _: u16, _: RestoreTier) -> Result<(), BlobError> {
        Err(BlobError::other("not used by search"))
    }
    async fn health(&self) -> Result<(), BlobError> {
        Ok(())
    }
}

struct Spec<'a> {
    file_name: &'a str,
    content_type: &'a str,
    size: u64,
    metadata: Value,
    text: Option<String>,
    created_hours: i64,
    status: DocumentStatus,
}

fn document(document_type: &str, base: DateTime<Utc>, spec: Spec<'_>) -> Document {
    let mut document = super::sample_document(document_type, spec.status);
    document.created_at = base + Duration::hours(spec.created_hours);
    // As the service mints them: the id's time is the creation time (to within the
    // create request), which a store may use to narrow date filters (DynamoDB's
    // `uploadedAt` range key is the id's time).
    document.id = DocumentId::from_ulid(ulid::Ulid::from_datetime(document.created_at.into()));
    document.updated_at = document.created_at + Duration::minutes(30);
    document.restore = None;
    document.metadata = match spec.metadata {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(content) = document.content.as_mut() {
        content.file_name = spec.file_name.into();
        content.content_type = spec.content_type.into();
        content.size = spec.size;
    }
    if let Some(extracted) = document.extracted.as_mut() {
        extracted.size = spec.size;
        extracted.text = spec.text;
    }
    document
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

struct Suite {
    service: DocumentService,
    document_type: String,
}

impl Suite {
    async fn page(&self, params: &[(&str, &str)]) -> Result<QueryPage, CoreError> {
        let mut pairs: Vec<(String, String)> = vec![("type".into(), self.document_type.clone())];
        pairs.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.service.query(&pairs).await
    }

    /// Every page of a query, two at a time; panics on a repeated document.
    async fn all(&self, params: &[(&str, &str)]) -> Vec<DocumentId> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut with: Vec<(&str, &str)> = params.to_vec();
            with.push(("limit", "2"));
            if let Some(c) = cursor.as_deref() {
                with.push(("cursor", c));
            }
            let page = self
                .page(&with)
                .await
                .unwrap_or_else(|e| panic!("query {params:?} failed: {e}"));
            ids.extend(page.hits.iter().map(|h| h.document.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => {
                    let unique: HashSet<_> = ids.iter().collect();
                    assert_eq!(unique.len(), ids.len(), "{params:?} repeated a document");
                    return ids;
                }
            }
        }
        panic!("{params:?} did not end within 100 pages");
    }

    async fn set(&self, params: &[(&str, &str)]) -> HashSet<DocumentId> {
        self.all(params).await.into_iter().collect()
    }

    async fn refused(&self, params: &[(&str, &str)], code: &str, names: &str) {
        match self.page(params).await {
            Err(CoreError::Invalid(e)) => {
                assert_eq!(e.code, code, "{params:?}: {}", e.message);
                assert!(
                    e.message.contains(names),
                    "{params:?}: the message {:?} should name {names}",
                    e.message
                );
            }
            other => panic!("{params:?} should be refused with {code}, got {other:?}"),
        }
    }
}

fn ids<const N: usize>(documents: [&Document; N]) -> HashSet<DocumentId> {
    documents.iter().map(|d| d.id).collect()
}

/// Runs every search check against `store`.
pub async fn metadata_search(store: Arc<dyn MetadataStore>) {
    let document_type = super::unique_type("search");
    let suite = Suite {
        service: DocumentService::new(
            store.clone(),
            Arc::new(NoBlobs),
            Arc::new(SystemClock),
            CursorCodec::new(b"search conformance"),
            ServiceConfig::default(),
        ),
        document_type: document_type.clone(),
    };
    let base = DateTime::parse_from_rfc3339("2025-03-01T08:00:00Z")
        .expect("base time")
        .with_timezone(&Utc);
    let t = document_type.as_str();
    let invoice = document(
        t,
        base,
        Spec {
            file_name: "Invoice ACME 2024.pdf",
            content_type: "application/pdf",
            size: 1000,
            metadata: json!({"customer": "ACME", "amount": 12, "paid": true}),
            text: Some("Payment due date is the end of March. Thank you.".into()),
            created_hours: 0,
            status: DocumentStatus::Active,
        },
    );
    let photo = document(
        t,
        base,
        Spec {
            file_name: "photo.png",
            content_type: "image/png",
            size: 50_000,
            metadata: json!({"customer": "Globex"}),
            text: None,
            created_hours: 1,
            status: DocumentStatus::Active,
        },
    );
    let notes = document(
        t,
        base,
        Spec {
            file_name: "notes.txt",
            content_type: "text/plain",
            size: 200,
            metadata: json!({"customer": "Acme Corp", "amount": 12.5}),
            text: Some("Rapport d'ÉTÉ: the old copy of the draft".into()),
            created_hours: 2,
            status: DocumentStatus::Active,
        },
    );
    let deep = document(
        t,
        base,
        Spec {
            file_name: "report.md",
            content_type: "text/markdown",
            size: 3000,
            metadata: json!({}),
            text: Some(format!("{} zebra crossing", "filler words ".repeat(2000))),
            created_hours: 3,
            status: DocumentStatus::Active,
        },
    );
    let named = document(
        t,
        base,
        Spec {
            file_name: "Zebra.txt",
            content_type: "text/plain",
            size: 10,
            metadata: json!({"title": "stripes"}),
            text: Some("nothing to see".into()),
            created_hours: 4,
            status: DocumentStatus::Archived,
        },
    );
    let scan = document(
        t,
        base,
        Spec {
            file_name: "scan.jpg",
            content_type: "image/jpeg",
            size: 700_000,
            metadata: json!({"customer": "ACME"}),
            text: None,
            created_hours: 5,
            status: DocumentStatus::Active,
        },
    );
    let trashed = document(
        t,
        base,
        Spec {
            file_name: "Invoice ACME deleted.pdf",
            content_type: "application/pdf",
            size: 1000,
            metadata: json!({"customer": "ACME"}),
            text: Some("zebra due date".into()),
            created_hours: 6,
            status: DocumentStatus::Deleted,
        },
    );
    let all = [&invoice, &photo, &notes, &deep, &named, &scan, &trashed];
    for d in all {
        store.insert(d).await.expect("insert a search document");
    }
    let live = ids([&invoice, &photo, &notes, &deep, &named, &scan]);

    // q: words (case- and accent-insensitive, over file name, metadata, text).
    let acme = ids([&invoice, &notes, &scan]);
    assert_eq!(suite.set(&[("q", "acme")]).await, acme, "q=acme");
    assert_eq!(
        suite.set(&[("q", "ACMÉ")]).await,
        acme,
        "q is case and accent insensitive"
    );
    assert_eq!(
        suite.set(&[("q", "ete")]).await,
        ids([&notes]),
        "text is accent-folded"
    );
    assert_eq!(
        suite.set(&[("q", "acme invoice")]).await,
        ids([&invoice]),
        "words are ANDed"
    );
    assert_eq!(
        suite.set(&[("q", "\"due date\"")]).await,
        ids([&invoice]),
        "phrase"
    );
    assert!(
        suite.set(&[("q", "\"date due\"")]).await.is_empty(),
        "a phrase keeps its order"
    );
    assert_eq!(
        suite.set(&[("q", "acme -corp")]).await,
        ids([&invoice, &scan]),
        "exclusion"
    );
    assert_eq!(
        suite.set(&[("q", "acme -\"old copy\"")]).await,
        ids([&invoice, &scan]),
        "phrase exclusion"
    );
    assert_eq!(
        suite.set(&[("q", "12")]).await,
        ids([&invoice, &notes]),
        "numbers in metadata (12.5 is the words 12 and 5)"
    );
    assert_eq!(
        suite.set(&[("q", "stripes")]).await,
        ids([&named]),
        "metadata values"
    );

    // Each hit carries a score and a snippet with the match marked.
    let page = suite.page(&[("q", "due")]).await.expect("q=due");
    assert_eq!(page.hits.len(), 1, "q=due finds the invoice only");
    let search = page.hits[0].search.clone().expect("a hit of q has search");
    assert!(search.score > 0.0, "a positive score");
    let snippet = search.snippet.expect("a snippet");
    assert!(
        snippet.contains("<mark>due</mark>"),
        "marked match in {snippet:?}"
    );
    let plain = suite.page(&[("sort", "size")]).await.expect("sort=size");
    assert!(
        plain.hits.iter().all(|h| h.search.is_none()),
        "no search without q"
    );

    // Ranking: a match in the file name above one deep in the body.
    let zebra = suite.all(&[("q", "zebra")]).await;
    assert_eq!(
        zebra,
        vec![named.id, deep.id],
        "file name match ranks first"
    );

    // meta.<key>: exact, on strings, numbers and booleans; repeated is AND.
    assert_eq!(
        suite.set(&[("meta.customer", "ACME")]).await,
        ids([&invoice, &scan])
    );
    assert!(
        suite.set(&[("meta.customer", "acme")]).await.is_empty(),
        "meta is exact"
    );
    assert_eq!(suite.set(&[("meta.amount", "12")]).await, ids([&invoice]));
    assert_eq!(suite.set(&[("meta.amount", "12.5")]).await, ids([&notes]));
    assert_eq!(suite.set(&[("meta.paid", "true")]).await, ids([&invoice]));
    assert_eq!(
        suite
            .set(&[("meta.customer", "ACME"), ("meta.paid", "true")])
            .await,
        ids([&invoice])
    );
    assert!(
        suite
            .set(&[("meta.customer", "ACME"), ("meta.customer", "Globex")])
            .await
            .is_empty(),
        "repeated meta is AND"
    );

    // content_type, file_name, dates, sizes, status.
    assert_eq!(
        suite.set(&[("content_type", "image/*")]).await,
        ids([&photo, &scan])
    );
    assert_eq!(
        suite.set(&[("content_type", "application/pdf")]).await,
        ids([&invoice])
    );
    assert_eq!(
        suite.set(&[("file_name", "INVOICE")]).await,
        ids([&invoice])
    );
    assert_eq!(suite.set(&[("file_name", "zeb")]).await, ids([&named]));
    let h =
        |hours: i64, minutes: i64| time(base + Duration::hours(hours) + Duration::minutes(minutes));
    assert_eq!(
        suite.set(&[("created_after", &h(3, 0))]).await,
        ids([&named, &scan]),
        "created_after is exclusive"
    );
    assert_eq!(
        suite.set(&[("created_before", &h(1, 0))]).await,
        ids([&invoice])
    );
    assert_eq!(
        suite
            .set(&[("created_after", &h(0, 30)), ("created_before", &h(3, 0))])
            .await,
        ids([&photo, &notes])
    );
    assert_eq!(
        suite.set(&[("updated_after", &h(4, 30))]).await,
        ids([&scan])
    );
    assert_eq!(
        suite.set(&[("updated_before", &h(1, 0))]).await,
        ids([&invoice])
    );
    assert_eq!(
        suite.set(&[("min_size", "3000")]).await,
        ids([&photo, &deep, &scan])
    );
    assert_eq!(
        suite.set(&[("max_size", "999")]).await,
        ids([&notes, &named])
    );
    assert_eq!(
        suite
            .set(&[("min_size", "200"), ("max_size", "1000")])
            .await,
        ids([&invoice, &notes])
    );
    assert_eq!(
        suite.set(&[("status", "archived"), ("sort", "size")]).await,
        ids([&named])
    );

    // Combined.
    assert_eq!(
        suite
            .set(&[
                ("q", "acme"),
                ("content_type", "image/*"),
                ("min_size", "1")
            ])
            .await,
        ids([&scan])
    );
    assert_eq!(
        suite
            .all(&[
                ("q", "acme"),
                ("sort", "-created_at"),
                ("meta.customer", "ACME")
            ])
            .await,
        vec![scan.id, invoice.id]
    );

    // Sorts.
    let by_size = vec![named.id, notes.id, invoice.id, deep.id, photo.id, scan.id];
    assert_eq!(suite.all(&[("sort", "size")]).await, by_size, "sort=size");
    let mut descending = by_size.clone();
    descending.reverse();
    assert_eq!(
        suite.all(&[("sort", "-size")]).await,
        descending,
        "sort=-size"
    );
    let by_created = vec![invoice.id, photo.id, notes.id, deep.id, named.id, scan.id];
    assert_eq!(suite.all(&[("sort", "created_at")]).await, by_created);
    assert_eq!(suite.all(&[("sort", "updated_at")]).await, by_created);
    let mut newest = by_created.clone();
    newest.reverse();
    assert_eq!(suite.all(&[("sort", "-created_at")]).await, newest);
    assert_eq!(suite.all(&[("sort", "-updated_at")]).await, newest);
    assert_eq!(
        suite.all(&[("sort", "file_name")]).await,
        vec![invoice.id, notes.id, photo.id, deep.id, scan.id, named.id],
        "sort=file_name (case-insensitive)"
    );

    // The trash: never returned unless asked for.
    assert_eq!(
        suite.set(&[("sort", "created_at")]).await,
        live,
        "trash left out"
    );
    assert_eq!(
        suite.set(&[("q", "acme"), ("status", "deleted")]).await,
        ids([&trashed]),
        "status=deleted searches the trash"
    );

    // Mistakes are refused, naming the parameter.
    suite
        .refused(&[("qq", "x")], "unknown_parameter", "qq")
        .await;
    suite
        .refused(
            &[("metadata.customer", "x")],
            "unknown_parameter",
            "metadata.customer",
        )
        .await;
    suite.refused(&[("q", "-acme")], "invalid_q", "q").await;
    suite.refused(&[("q", "\"open")], "invalid_q", "q").await;
    suite.refused(&[("q", "  ")], "invalid_q", "q").await;
    suite
        .refused(
            &[("created_after", "yesterday")],
            "invalid_created_after",
            "created_after",
        )
        .await;
    suite
        .refused(
            &[("updated_before", "2025-13-01")],
            "invalid_updated_before",
            "updated_before",
        )
        .await;
    suite
        .refused(&[("min_size", "-1")], "invalid_min_size", "min_size")
        .await;
    suite
        .refused(&[("max_size", "big")], "invalid_max_size", "max_size")
        .await;
    suite
        .refused(
            &[("min_size", "10"), ("max_size", "1")],
            "invalid_min_size",
            "min_size",
        )
        .await;
    suite
        .refused(&[("sort", "name")], "invalid_sort", "sort")
        .await;
    suite
        .refused(&[("sort", "relevance")], "invalid_sort", "q")
        .await;
    suite
        .refused(
            &[("content_type", "pdf")],
            "invalid_content_type",
            "content_type",
        )
        .await;
    suite
        .refused(&[("file_name", "")], "invalid_file_name", "file_name")
        .await;
    suite
        .refused(&[("meta.", "x")], "invalid_meta", "meta.")
        .await;
    suite
        .refused(&[("q", "a"), ("q", "b")], "duplicate_parameter", "q")
        .await;
    suite
        .refused(
            &[("status", "gone"), ("q", "a")],
            "invalid_status",
            "status",
        )
        .await;
    suite
        .refused(&[("limit", "0"), ("q", "a")], "invalid_limit", "limit")
        .await;
    let first = suite
        .page(&[("q", "acme"), ("limit", "1")])
        .await
        .expect("q=acme limit=1");
    let cursor = first.next_cursor.expect("a next page");
    suite
        .refused(
            &[("q", "invoice"), ("cursor", &cursor)],
            "invalid_cursor",
            "cursor",
        )
        .await;
    suite
        .refused(
            &[
                ("q", "acme"),
                ("limit", "1"),
                ("sort", "size"),
                ("cursor", &cursor),
            ],
            "invalid_cursor",
            "cursor",
        )
        .await;

    // Pagination under concurrent inserts: every document there from the start is
    // seen exactly once, whatever is added (before or after the position) meanwhile.
    let mut added = Vec::new();
    for (params, label) in [
        (vec![("sort", "created_at")], "created_at"),
        (vec![("q", "acme")], "relevance"),
        (vec![("sort", "-size")], "-size"),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut round = 0;
        loop {
            let mut with = params.clone();
            with.push(("limit", "2"));
            if let Some(c) = cursor.as_deref() {
                with.push(("cursor", c));
            }
            let page = suite.page(&with).await.expect("a page under inserts");
            seen.extend(page.hits.iter().map(|h| h.document.id));
            round += 1;
            // Inserts during the first rounds only: documents after the position
            // are found, so inserting on every page would never end.
            let inserts: &[i64] = if round <= 3 {
                &[-(round as i64), 100 + round as i64]
            } else {
                &[]
            };
            for &hours in inserts {
                let extra = document(
                    t,
                    base,
                    Spec {
                        file_name: "acme extra.pdf",
                        content_type: "application/pdf",
                        size: 1 + round as u64 * 1_000_000,
                        metadata: json!({"customer": "ACME"}),
                        text: None,
                        created_hours: hours,
                        status: DocumentStatus::Active,
                    },
                );
                store.insert(&extra).await.expect("insert during paging");
                added.push(extra.id);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(round < 100, "{label}: paging does not end");
        }
        let unique: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{label}: a document came twice");
        let wanted = if label == "relevance" {
            acme.clone()
        } else {
            live.clone()
        };
        assert!(
            wanted.is_subset(&unique),
            "{label}: a document present from the start was skipped"
        );
    }

    // A document moved to the trash leaves every result at once.
    let mut gone = store
        .get(&invoice.id)
        .await
        .expect("get")
        .expect("invoice exists");
    let version = gone.version;
    gone.status = DocumentStatus::Deleted;
    gone.version += 1;
    store
        .update(&gone, version)
        .await
        .expect("trash the invoice");
    assert!(
        !suite.set(&[("q", "acme")]).await.contains(&invoice.id),
        "a deleted document is never returned"
    );
    assert!(
        !suite
            .set(&[("meta.paid", "true")])
            .await
            .contains(&invoice.id)
    );

    // A title (a PDF's Info dictionary) ranks like the file name, above the body.
    let title_type = super::unique_type("search-title");
    let titles = Suite {
        service: DocumentService::new(
            store.clone(),
            Arc::new(NoBlobs),
            Arc::new(SystemClock),
            CursorCodec::new(b"search conformance"),
            ServiceConfig::default(),
        ),
        document_type: title_type.clone(),
    };
    let mut titled = document(
        &title_type,
        base,
        Spec {
            file_name: "scan-0042.pdf",
            content_type: "application/pdf",
            size: 5,
            metadata: json!({}),
            text: Some("page one".into()),
            created_hours: 1,
            status: DocumentStatus::Active,
        },
    );
    if let Some(extracted) = titled.extracted.as_mut() {
        extracted.title = Some("Quarterly Report".into());
    }
    let body = document(
        &title_type,
        base,
        Spec {
            file_name: "minutes.txt",
            content_type: "text/plain",
            size: 5,
            metadata: json!({}),
            text: Some(format!("{} the quarterly figures", "words ".repeat(500))),
            created_hours: 0,
            status: DocumentStatus::Active,
        },
    );
    store.insert(&titled).await.expect("insert titled");
    store.insert(&body).await.expect("insert body");
    assert_eq!(
        titles.all(&[("q", "quarterly")]).await,
        vec![titled.id, body.id],
        "a title match ranks above a body match"
    );

    let mut cleanup: Vec<DocumentId> = all.iter().map(|d| d.id).collect();
    cleanup.extend(added);
    cleanup.extend([titled.id, body.id]);
    super::cleanup(store.as_ref(), &cleanup).await;
}
