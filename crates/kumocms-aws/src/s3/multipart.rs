//! Multipart uploads on S3: CreateMultipartUpload, presigned UploadPart links
//! (signed like the presigned PUT), ListParts, CompleteMultipartUpload and
//! AbortMultipartUpload. S3 cannot check a whole-object SHA-256 of a multipart
//! upload against the declared one, so the event processor does (it hashes the
//! content while extracting) before the content becomes current.

use std::time::SystemTime;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use kumocms_core::BlobRef;
use kumocms_core::ports::{BlobError, MultipartSpec, PartSpec, ReceivedPart, SignedLink};

use super::presign::{self, Presigner, Route};
use super::{S3BlobStore, blob_error, link, presign_error, presigning_config, sdk_link};

/// ListParts pages hold at most this many parts (S3's maximum).
const LIST_PAGE: i32 = 1000;

/// S3 answers NoSuchUpload (404) for an upload that was completed, aborted or never
/// started.
fn upload_error<E, R>(
    operation: &str,
    blob: &BlobRef,
    upload_id: &str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> BlobError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: crate::errors::HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match blob_error(operation, &blob.key, error) {
        BlobError::NotFound(_) => BlobError::UploadNotFound(upload_id.to_owned()),
        other => other,
    }
}

impl S3BlobStore {
    pub(super) async fn start_multipart_upload(
        &self,
        spec: &MultipartSpec,
    ) -> Result<String, BlobError> {
        let blob = &spec.blob;
        let output = self
            .client_at(&blob.location)
            .create_multipart_upload()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .content_type(&spec.content_type)
            .send()
            .await
            .map_err(|e| blob_error("CreateMultipartUpload", &blob.key, e))?;
        output
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| BlobError::other("CreateMultipartUpload returned no upload id"))
    }

    pub(super) async fn part_link_at(
        &self,
        spec: &PartSpec,
        now: SystemTime,
    ) -> Result<SignedLink, BlobError> {
        let size = i64::try_from(spec.size)
            .map_err(|_| BlobError::other(format!("size {} is out of range", spec.size)))?;
        let location = &spec.blob.location;
        let presigner = &self.inner.presigner;
        let route = presigner
            .route(&location.store, location.region.as_deref())
            .await
            .map_err(presign_error)?;
        let part_number = i32::try_from(spec.part_number)
            .map_err(|_| BlobError::other(format!("part {} is out of range", spec.part_number)))?;
        let Route::Direct(endpoint) = route.as_ref() else {
            let presigning = presigning_config(now, spec.expires_in)?;
            let request = self
                .client_at(location)
                .upload_part()
                .bucket(&location.store)
                .key(&spec.blob.key)
                .upload_id(&spec.upload_id)
                .part_number(part_number)
                .content_length(size)
                .presigned(presigning)
                .await
                .map_err(|e| BlobError::other_from(format!("presigning UploadPart: {e}"), e))?;
            return Ok(sdk_link(&request, now, spec.expires_in));
        };
        let identity = presigner.identity(now).await.map_err(presign_error)?;
        let length = size.to_string();
        let number = spec.part_number.to_string();
        // What the SDK's UploadPart puts on the request for these members.
        let headers = [("content-length", length.as_str())];
        let request = presign::Request {
            method: "PUT",
            key: &spec.blob.key,
            query: &[
                ("partNumber", number.as_str()),
                ("uploadId", spec.upload_id.as_str()),
                ("x-id", "UploadPart"),
            ],
            headers: &headers,
            expires_in: spec.expires_in,
        };
        let presigned =
            Presigner::sign(endpoint, &identity, &request, now).map_err(presign_error)?;
        Ok(link(presigned, now, spec.expires_in))
    }

    pub(super) async fn list_upload_parts(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<Vec<ReceivedPart>, BlobError> {
        let client = self.client_at(&blob.location);
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let sent = client
                .list_parts()
                .bucket(&blob.location.store)
                .key(&blob.key)
                .upload_id(upload_id)
                .max_parts(LIST_PAGE)
                .set_part_number_marker(marker.clone())
                .send()
                .await;
            let output = match sent {
                Ok(output) => output,
                Err(error) => {
                    if let Some(page) = moto_list_parts(&error) {
                        // moto names the root element ListPartsResponse (S3 says
                        // ListPartsResult), which the SDK refuses to decode.
                        parts.extend(page.parts);
                        if let Some(next) = page.next_marker {
                            marker = Some(next);
                            continue;
                        }
                        break;
                    }
                    return Err(upload_error("ListParts", blob, upload_id, error));
                }
            };
            for part in output.parts() {
                let (Some(number), Some(size)) = (part.part_number(), part.size()) else {
                    continue;
                };
                parts.push(ReceivedPart {
                    part_number: u32::try_from(number).unwrap_or(0),
                    size: u64::try_from(size).unwrap_or(0),
                    etag: part
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned(),
                });
            }
            if output.is_truncated() == Some(true)
                && let Some(next) = output.next_part_number_marker()
            {
                marker = Some(next.to_owned());
                continue;
            }
            break;
        }
        parts.retain(|p| p.part_number > 0);
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    pub(super) async fn complete_multipart_upload(
        &self,
        spec: &MultipartSpec,
        upload_id: &str,
        parts: &[ReceivedPart],
    ) -> Result<(), BlobError> {
        let blob = &spec.blob;
        let completed = parts
            .iter()
            .map(|part| {
                let number = i32::try_from(part.part_number).map_err(|_| {
                    BlobError::other(format!("part {} is out of range", part.part_number))
                })?;
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .e_tag(format!("\"{}\"", part.etag))
                    .build())
            })
            .collect::<Result<Vec<_>, BlobError>>()?;
        self.client_at(&blob.location)
            .complete_multipart_upload()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| upload_error("CompleteMultipartUpload", blob, upload_id, e))?;
        Ok(())
    }

    pub(super) async fn abort_multipart_upload(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<(), BlobError> {
        match self
            .client_at(&blob.location)
            .abort_multipart_upload()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match upload_error("AbortMultipartUpload", blob, upload_id, error) {
                // Already gone: what an abort wants.
                BlobError::UploadNotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

/// One page of a ListParts answer read from its raw body.
struct RawPartsPage {
    parts: Vec<ReceivedPart>,
    next_marker: Option<String>,
}

/// The parts of a successful ListParts answer that the SDK could not decode
/// because its root element is `ListPartsResponse` (moto) instead of S3's
/// `ListPartsResult`; `None` for any other error.
fn moto_list_parts<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> Option<RawPartsPage>
where
    R: RawBody,
{
    let aws_sdk_s3::error::SdkError::ServiceError(service) = error else {
        return None;
    };
    let body = std::str::from_utf8(service.raw().raw_body()?).ok()?;
    if !body.contains("<ListPartsResponse") {
        return None;
    }
    let mut parts = Vec::new();
    for part in body.split("<Part>").skip(1) {
        let part = part.split("</Part>").next()?;
        let number = xml_text(part, "PartNumber")?.parse().ok()?;
        let size = xml_text(part, "Size")?.parse().ok()?;
        let etag = xml_text(part, "ETag")
            .unwrap_or_default()
            .replace("&quot;", "")
            .replace("&#34;", "")
            .trim_matches('"')
            .to_owned();
        parts.push(ReceivedPart {
            part_number: number,
            size,
            etag,
        });
    }
    let truncated = xml_text(body, "IsTruncated") == Some("true");
    let next_marker = xml_text(body, "NextPartNumberMarker")
        .filter(|_| truncated)
        .map(str::to_owned);
    Some(RawPartsPage { parts, next_marker })
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim())
}

/// The raw bytes of a response body, when they are in memory.
pub(crate) trait RawBody {
    fn raw_body(&self) -> Option<&[u8]>;
}

impl RawBody for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn raw_body(&self) -> Option<&[u8]> {
        self.body().bytes()
    }
}
