//! A SHA-256 declared when a multipart upload is completed (`complete_upload`'s
//! `checksum_sha256`), through the service and the event processor over the
//! adapters: it is recorded and verified before the content becomes current, on
//! both backends, exactly like one declared at create.

use bytes::Bytes;

use super::{ConformanceUploader, deliver, sha256_hex, unique_type};
use crate::document::DocumentStatus;
use crate::error::CoreError;
use crate::events::EventProcessor;
use crate::id::DocumentId;
use crate::multipart::{MIN_PART_SIZE, UploadMode};
use crate::ports::{BlobStore, MetadataStore};
use crate::service::{DocumentService, NewDocument, ServiceConfig, UploadInstructions};

struct Setup {
    service: DocumentService,
    processor: EventProcessor,
}

/// Creates a two-part multipart upload of `bytes` (declaring `at_create`) and
/// sends both parts; returns the id and the upload id.
async fn two_parts_sent(
    setup: &Setup,
    uploader: &dyn ConformanceUploader,
    bytes: &Bytes,
    at_create: Option<String>,
) -> (DocumentId, String) {
    let created = setup
        .service
        .create(NewDocument {
            file_name: "parts.bin".into(),
            file_size: bytes.len() as u64,
            content_type: Some("application/octet-stream".into()),
            checksum_sha256: at_create,
            document_type: Some(unique_type("multipart-checksum")),
            upload_mode: Some(UploadMode::Multipart),
            part_size: Some(MIN_PART_SIZE),
            ..NewDocument::default()
        })
        .await
        .expect("create a multipart upload");
    let UploadInstructions::Multipart {
        upload_id,
        part_count,
        ..
    } = created.upload
    else {
        panic!("upload_mode multipart must give a multipart upload");
    };
    assert_eq!(part_count, 2);
    let id = created.document.id;
    for link in setup
        .service
        .part_links(&id, &upload_id, &[1, 2])
        .await
        .expect("part links")
    {
        let start = (u64::from(link.part_number) - 1) * MIN_PART_SIZE;
        let part = bytes.slice(start as usize..(start + link.size) as usize);
        uploader
            .upload(&link.link, part)
            .await
            .unwrap_or_else(|e| panic!("part {} must be accepted: {e}", link.part_number));
    }
    (id, upload_id)
}

fn code_of(error: &CoreError) -> Option<&'static str> {
    match error {
        CoreError::Invalid(invalid) => Some(invalid.code),
        CoreError::UploadIncomplete { code, .. } => Some(code),
        _ => None,
    }
}

pub async fn service_multipart_checksum(
    metadata: std::sync::Arc<dyn MetadataStore>,
    blobs: std::sync::Arc<dyn BlobStore>,
    uploader: &dyn ConformanceUploader,
) {
    use crate::clock::ManualClock;
    let clock = std::sync::Arc::new(ManualClock::new(chrono::Utc::now()));
    let config = ServiceConfig::default();
    let setup = Setup {
        service: DocumentService::new(
            metadata.clone(),
            blobs.clone(),
            clock.clone(),
            crate::cursor::CursorCodec::new(b"conformance cursors"),
            config.clone(),
        ),
        processor: EventProcessor::new(metadata, blobs, clock, config.limits),
    };
    let size = MIN_PART_SIZE + 4321;
    let bytes: Bytes = (0..size)
        .map(|i| (i.wrapping_mul(13) ^ (i >> 9)) as u8)
        .collect::<Vec<u8>>()
        .into();
    let right = sha256_hex(&bytes);
    let wrong = sha256_hex(b"other bytes");

    // Declared only at completion, and right: recorded, verified, current.
    let (id, upload_id) = two_parts_sent(&setup, uploader, &bytes, None).await;
    let completed = setup
        .service
        .complete_upload(&id, &upload_id, Some(&right.to_ascii_uppercase()))
        .await
        .expect("complete with the right checksum");
    let pending = completed.pending_upload.as_ref().expect("still pending");
    assert_eq!(
        pending.checksum_sha256.as_deref(),
        Some(right.as_str()),
        "the checksum declared at completion is recorded (in lower case) before promotion"
    );
    deliver(&setup.processor, &completed.pending_blob().expect("blob")).await;
    let active = setup.service.get(&id).await.expect("get").document;
    assert_eq!(active.status, DocumentStatus::Active);
    let content = active.content.expect("content");
    assert_eq!(content.checksum_sha256.as_deref(), Some(right.as_str()));
    assert_eq!(content.size, size);
    let extracted = active.extracted.expect("extracted");
    assert_eq!(
        (extracted.sha256.as_str(), extracted.size),
        (right.as_str(), size),
        "extraction records the joined file's own SHA-256 and size"
    );

    // Declared at create and differently at completion: refused before anything
    // is joined; the same upload then completes with the checksum it started with.
    let (id, upload_id) = two_parts_sent(&setup, uploader, &bytes, Some(right.clone())).await;
    let refused = setup
        .service
        .complete_upload(&id, &upload_id, Some(&wrong))
        .await
        .expect_err("two different checksums must be refused");
    assert_eq!(code_of(&refused), Some("checksum_conflict"), "{refused:?}");
    let malformed = setup
        .service
        .complete_upload(&id, &upload_id, Some("not a checksum"))
        .await
        .expect_err("a malformed checksum must be refused");
    assert_eq!(
        code_of(&malformed),
        Some("invalid_checksum"),
        "{malformed:?}"
    );
    let record = setup.service.get(&id).await.expect("get").document;
    assert_eq!(record.status, DocumentStatus::PendingUpload);
    assert!(record.content.is_none(), "nothing was made current");
    let completed = setup
        .service
        .complete_upload(&id, &upload_id, Some(&right))
        .await
        .expect("the same checksum as at create is accepted");
    deliver(&setup.processor, &completed.pending_blob().expect("blob")).await;
    let active = setup.service.get(&id).await.expect("get").document;
    assert_eq!(active.status, DocumentStatus::Active);

    // Declared only at completion, and wrong: a store that can check the whole file
    // refuses the completion (4xx, nothing joined, the declaration forgotten so that
    // the client may complete again); one that cannot (S3) joins the parts and the
    // event processor refuses to promote them. Either way nothing becomes current.
    let (id, upload_id) = two_parts_sent(&setup, uploader, &bytes, None).await;
    match setup
        .service
        .complete_upload(&id, &upload_id, Some(&wrong))
        .await
    {
        Err(error) => {
            assert_eq!(code_of(&error), Some("checksum_mismatch"), "{error:?}");
            let record = setup.service.get(&id).await.expect("get").document;
            assert_eq!(record.status, DocumentStatus::PendingUpload);
            assert!(record.content.is_none(), "nothing was made current");
            assert_eq!(
                record
                    .pending_upload
                    .as_ref()
                    .and_then(|p| p.checksum_sha256.as_deref()),
                None,
                "a refused completion's checksum is not kept"
            );
            let completed = setup
                .service
                .complete_upload(&id, &upload_id, Some(&right))
                .await
                .expect("completing again with the right checksum");
            deliver(&setup.processor, &completed.pending_blob().expect("blob")).await;
            let active = setup.service.get(&id).await.expect("get").document;
            assert_eq!(active.status, DocumentStatus::Active);
        }
        Ok(completed) => {
            let blob = completed.pending_blob().expect("blob");
            let outcome = setup
                .processor
                .handle(&crate::events::StorageEvent::ObjectCreated {
                    location: blob.location.clone(),
                    key: blob.key.clone(),
                })
                .await
                .expect("the event must be processed");
            assert_eq!(
                outcome,
                crate::events::Outcome::Ignored("checksum_mismatch"),
                "the event processor verifies the checksum declared at completion"
            );
            let record = setup.service.get(&id).await.expect("get").document;
            assert_eq!(record.status, DocumentStatus::PendingUpload);
            assert!(record.content.is_none(), "nothing was made current");
        }
    }
}
