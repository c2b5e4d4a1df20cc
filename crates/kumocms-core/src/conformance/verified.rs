//! Activation of a single-PUT upload through the service and the event processor
//! over the adapters, for stores that report a verified SHA-256
//! (`BlobStore::verified_content`) and stores that do not: bytes that differ from the
//! signed checksum are refused, the right ones become current, and extraction still
//! fills `extracted` (SHA-256, sniffed type, image size, text). A store that reports
//! a verified SHA-256 must report the bytes' own.

use bytes::Bytes;

use super::{ConformanceUploader, deliver, sha256_hex, unique_type};
use crate::document::DocumentStatus;
use crate::events::EventProcessor;
use crate::ports::{BlobStore, MetadataStore, VerifiedContent};
use crate::service::{DocumentService, NewDocument, ServiceConfig};

/// Text of `size` bytes (past the first MiB that text is taken from) whose first
/// line search can find.
fn long_text(size: usize) -> Bytes {
    let mut body = b"Kumo conformance verified upload\n".to_vec();
    let mut n = 0u32;
    while body.len() < size {
        body.extend_from_slice(format!("line {n} of a long text\n").as_bytes());
        n += 1;
    }
    body.truncate(size);
    Bytes::from(body)
}

/// A PNG of 640 x 480 as far as its header says, padded past the sniffing window.
fn png() -> Bytes {
    let mut body = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    body.extend_from_slice(&640u32.to_be_bytes());
    body.extend_from_slice(&480u32.to_be_bytes());
    body.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    body.resize(400 * 1024, 0x5a);
    Bytes::from(body)
}

pub async fn service_single_put_extraction(
    metadata: std::sync::Arc<dyn MetadataStore>,
    blobs: std::sync::Arc<dyn BlobStore>,
    uploader: &dyn ConformanceUploader,
) -> usize {
    let config = ServiceConfig::default();
    let clock = std::sync::Arc::new(crate::ports::SystemClock);
    let service = DocumentService::new(
        metadata.clone(),
        blobs.clone(),
        clock.clone(),
        crate::cursor::CursorCodec::new(b"conformance cursors"),
        config.clone(),
    );
    let processor = EventProcessor::new(metadata, blobs.clone(), clock, config.limits);
    let mut reported = 0;
    for (content_type, bytes) in [("text/plain", long_text(3 << 20)), ("image/png", png())] {
        let right = sha256_hex(&bytes);
        let created = service
            .create(NewDocument {
                file_name: "verified".into(),
                file_size: bytes.len() as u64,
                content_type: Some(content_type.into()),
                checksum_sha256: Some(right.clone()),
                document_type: Some(unique_type("verified")),
                ..NewDocument::default()
            })
            .await
            .expect("create");
        let id = created.document.id;
        let blob = created.document.pending_blob().expect("a pending upload");
        let link = created
            .upload
            .single_link()
            .expect("a single-PUT link")
            .clone();
        if uploader.server_refuses_unsigned_bytes() {
            let mut altered = bytes.to_vec();
            altered[bytes.len() / 2] ^= 1;
            assert!(
                uploader.upload(&link, Bytes::from(altered)).await.is_err(),
                "bytes that differ from the signed SHA-256 must be refused"
            );
            let record = service.get(&id).await.expect("get").document;
            assert_eq!(record.status, DocumentStatus::PendingUpload);
            assert!(record.content.is_none(), "nothing was made current");
        }
        uploader
            .upload(&link, bytes.clone())
            .await
            .unwrap_or_else(|e| panic!("the right bytes must be accepted: {e}"));
        if let Some(verified) = blobs
            .verified_content(&blob)
            .await
            .expect("verified_content")
        {
            assert_eq!(
                verified,
                VerifiedContent {
                    size: bytes.len() as u64,
                    sha256: right.clone()
                },
                "a store that reports a verified SHA-256 reports the bytes' own"
            );
            reported += 1;
        }
        deliver(&processor, &blob).await;
        let document = service.get(&id).await.expect("get").document;
        assert_eq!(document.status, DocumentStatus::Active, "{content_type}");
        let content = document.content.expect("content");
        assert_eq!(content.checksum_sha256.as_deref(), Some(right.as_str()));
        assert_eq!(content.size, bytes.len() as u64);
        let extracted = document.extracted.expect("extracted");
        assert_eq!(extracted.sha256, right, "{content_type}");
        assert_eq!(extracted.size, bytes.len() as u64);
        if content_type == "image/png" {
            assert_eq!(extracted.sniffed_content_type.as_deref(), Some("image/png"));
            assert_eq!((extracted.width, extracted.height), (Some(640), Some(480)));
            assert!(!extracted.content_type_mismatch);
        } else {
            assert!(
                extracted
                    .text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("Kumo conformance verified upload")),
                "the text is extracted from the first bytes"
            );
        }
    }
    reported
}
