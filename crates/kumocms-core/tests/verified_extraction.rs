//! The event processor takes the SHA-256 a blob store verified itself
//! (`BlobStore::verified_content`) instead of hashing the whole content again, and
//! then reads only what sniffing and text extraction need; without one, or when the
//! store's length is wrong, it reads and hashes everything as before.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use kumocms_core::cursor::CursorCodec;
use kumocms_core::events::{EventProcessor, Outcome, StorageEvent};
use kumocms_core::memory::{MemoryBlobStore, MemoryMetadataStore};
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, DownloadSpec, SignedLink, SystemClock, UploadSpec,
    VerifiedContent,
};
use kumocms_core::service::{DocumentService, NewDocument, ServiceConfig};
use kumocms_core::{BlobLocation, BlobRef, DocumentId, DocumentStatus, RestoreTier, StorageClass};
use sha2::{Digest, Sha256};

const CHUNK: usize = 64 * 1024;

/// The in-memory store, reading in 64 KiB chunks and counting the bytes handed out,
/// and claiming `verified` for every blob.
struct VerifyingBlobs {
    inner: MemoryBlobStore,
    verified: std::sync::Mutex<Option<VerifiedContent>>,
    streamed: Arc<AtomicU64>,
}

#[async_trait]
impl BlobStore for VerifyingBlobs {
    fn location(&self) -> BlobLocation {
        self.inner.location()
    }
    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        self.inner.upload_link(spec).await
    }
    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        self.inner.download_link(spec).await
    }
    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        self.inner.head(blob).await
    }
    async fn verified_content(
        &self,
        _blob: &BlobRef,
    ) -> Result<Option<VerifiedContent>, BlobError> {
        Ok(self.verified.lock().unwrap().clone())
    }
    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        let mut whole = Vec::new();
        let mut stream = self.inner.read(blob).await?;
        while let Some(chunk) = stream.next().await {
            whole.extend_from_slice(&chunk?);
        }
        let whole = Bytes::from(whole);
        let chunks: Vec<Bytes> = (0..whole.len())
            .step_by(CHUNK)
            .map(|at| whole.slice(at..(at + CHUNK).min(whole.len())))
            .collect();
        let streamed = self.streamed.clone();
        Ok(Box::pin(futures_util::stream::iter(chunks).map(
            move |chunk| {
                streamed.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                Ok(chunk)
            },
        )))
    }
    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError> {
        self.inner.read_small(blob, limit).await
    }
    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError> {
        self.inner.delete(blob).await
    }
    async fn delete_document(
        &self,
        id: &DocumentId,
        location: &BlobLocation,
    ) -> Result<(), BlobError> {
        self.inner.delete_document(id, location).await
    }
    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        self.inner.copy(from, to).await
    }
    async fn archive(&self, blob: &BlobRef, class: StorageClass) -> Result<(), BlobError> {
        self.inner.archive(blob, class).await
    }
    async fn restore(&self, blob: &BlobRef, days: u16, tier: RestoreTier) -> Result<(), BlobError> {
        self.inner.restore(blob, days, tier).await
    }
    async fn health(&self) -> Result<(), BlobError> {
        self.inner.health().await
    }
}

struct Setup {
    blobs: Arc<VerifyingBlobs>,
    service: DocumentService,
    processor: EventProcessor,
}

fn setup() -> Setup {
    let metadata = Arc::new(MemoryMetadataStore::new());
    let blobs = Arc::new(VerifyingBlobs {
        inner: MemoryBlobStore::new(),
        verified: std::sync::Mutex::new(None),
        streamed: Arc::new(AtomicU64::new(0)),
    });
    let config = ServiceConfig::default();
    Setup {
        service: DocumentService::new(
            metadata.clone(),
            blobs.clone(),
            Arc::new(SystemClock),
            CursorCodec::new(b"verified extraction"),
            config.clone(),
        ),
        processor: EventProcessor::new(
            metadata,
            blobs.clone(),
            Arc::new(SystemClock),
            config.limits,
        ),
        blobs,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Text of `size` bytes that starts with a line search can find.
fn text_of(size: usize) -> Bytes {
    let mut body = b"Kumo verified extraction first line\n".to_vec();
    let mut n = 0u32;
    while body.len() < size {
        body.extend_from_slice(format!("line {n} of the body\n").as_bytes());
        n += 1;
    }
    body.truncate(size);
    Bytes::from(body)
}

/// Creates a document for `bytes`, stores them under its pending key, says what the
/// store claims to have verified, and delivers the event.
async fn stored_and_delivered(
    setup: &Setup,
    content_type: &str,
    bytes: &Bytes,
    verified: Option<VerifiedContent>,
) -> (DocumentId, Outcome) {
    let created = setup
        .service
        .create(NewDocument {
            file_name: "content".into(),
            file_size: bytes.len() as u64,
            content_type: Some(content_type.into()),
            ..NewDocument::default()
        })
        .await
        .expect("create");
    let id = created.document.id;
    let blob = created.document.pending_blob().expect("pending blob");
    setup.blobs.inner.put(&blob.key, bytes.clone());
    *setup.blobs.verified.lock().unwrap() = verified;
    setup.blobs.streamed.store(0, Ordering::SeqCst);
    let outcome = setup
        .processor
        .handle(&StorageEvent::ObjectCreated {
            location: blob.location.clone(),
            key: blob.key.clone(),
        })
        .await
        .expect("the event is processed");
    (id, outcome)
}

#[tokio::test]
async fn a_verified_sha256_is_taken_and_only_the_first_bytes_are_read() {
    let setup = setup();
    let bytes = text_of(8 << 20);
    let right = sha256_hex(&bytes);
    let verified = VerifiedContent {
        size: bytes.len() as u64,
        sha256: right.clone(),
    };
    let (id, outcome) = stored_and_delivered(&setup, "text/plain", &bytes, Some(verified)).await;
    assert_eq!(outcome, Outcome::Applied("content_activated"));
    let streamed = setup.blobs.streamed.load(Ordering::SeqCst);
    assert!(
        streamed <= (kumocms_core::text::MAX_TEXT_INPUT + CHUNK) as u64,
        "only the text's first MiB is read, not {streamed} of {} bytes",
        bytes.len()
    );
    let document = setup.service.get(&id).await.expect("get").document;
    assert_eq!(document.status, DocumentStatus::Active);
    let content = document.content.expect("content");
    assert_eq!(content.checksum_sha256.as_deref(), Some(right.as_str()));
    assert_eq!(content.size, bytes.len() as u64);
    let extracted = document.extracted.expect("extracted");
    assert_eq!(extracted.sha256, right);
    assert_eq!(extracted.size, bytes.len() as u64);
    assert!(
        extracted
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("Kumo verified extraction first line")),
        "the text is still extracted: {:?}",
        extracted
            .text
            .map(|t| t.chars().take(80).collect::<String>())
    );
}

#[tokio::test]
async fn without_a_verified_sha256_everything_is_read_and_hashed() {
    let setup = setup();
    let bytes = text_of(3 << 20);
    let (id, outcome) = stored_and_delivered(&setup, "text/plain", &bytes, None).await;
    assert_eq!(outcome, Outcome::Applied("content_activated"));
    assert_eq!(
        setup.blobs.streamed.load(Ordering::SeqCst),
        bytes.len() as u64
    );
    let extracted = setup
        .service
        .get(&id)
        .await
        .expect("get")
        .document
        .extracted
        .expect("extracted");
    assert_eq!(extracted.sha256, sha256_hex(&bytes));
    assert!(
        extracted
            .text
            .is_some_and(|t| t.starts_with("Kumo verified"))
    );
}

#[tokio::test]
async fn a_store_length_that_is_wrong_makes_the_processor_hash_everything() {
    let setup = setup();
    let bytes = text_of(100_000);
    let lie = VerifiedContent {
        size: bytes.len() as u64 + 1,
        sha256: "ab".repeat(32),
    };
    let (id, outcome) = stored_and_delivered(&setup, "text/plain", &bytes, Some(lie)).await;
    assert_eq!(outcome, Outcome::Applied("content_activated"));
    let document = setup.service.get(&id).await.expect("get").document;
    assert_eq!(
        document.extracted.expect("extracted").sha256,
        sha256_hex(&bytes),
        "the bytes' own hash, not the store's"
    );
}

#[tokio::test]
async fn a_verified_pdf_is_still_read_whole_for_its_page_count() {
    let setup = setup();
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n".to_vec();
    pdf.resize(3 << 20, b' ');
    pdf.extend_from_slice(b"\n2 0 obj << /Type /Page >> endobj\n%%EOF\n");
    let bytes = Bytes::from(pdf);
    let verified = VerifiedContent {
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    let (id, outcome) =
        stored_and_delivered(&setup, "application/pdf", &bytes, Some(verified)).await;
    assert_eq!(outcome, Outcome::Applied("content_activated"));
    assert_eq!(
        setup.blobs.streamed.load(Ordering::SeqCst),
        bytes.len() as u64
    );
    let extracted = setup
        .service
        .get(&id)
        .await
        .expect("get")
        .document
        .extracted
        .expect("extracted");
    assert_eq!(extracted.page_count, Some(2));
    assert_eq!(extracted.sha256, sha256_hex(&bytes));
}
