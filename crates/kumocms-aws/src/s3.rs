//! Content in S3, under `documents/` (see `kumocms_core::blob_key`).

mod multipart;
mod presign;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{
    ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete, GlacierJobParameters,
    MetadataDirective, ObjectIdentifier, RestoreRequest, Tier,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use kumocms_core::blob_key;
use kumocms_core::disposition::content_disposition;
use kumocms_core::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, DownloadSpec, MultipartSpec, PartSpec,
    ReceivedPart, SignedLink, UploadSpec, VerifiedContent,
};
use kumocms_core::{BlobLocation, BlobRef, DocumentId, RestoreTier, StorageClass};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::errors::{Kind, classify, describe};
use presign::{PresignError, Presigner, Route};

/// Above this size CopyObject is refused by S3, so archiving uses a multipart copy.
pub const MULTIPART_COPY_THRESHOLD: u64 = 5 * 1024 * 1024 * 1024;
/// Part size of a multipart copy (S3 allows 5 MiB to 5 GiB, at most 10 000 parts).
const COPY_PART_SIZE: u64 = 512 * 1024 * 1024;
/// Keys per DeleteObjects call (the S3 maximum).
const DELETE_BATCH: usize = 1000;

/// [`BlobStore`] on an S3 bucket.
#[derive(Clone)]
pub struct S3BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: SdkConfig,
    client: Client,
    bucket: String,
    region: Option<String>,
    /// Clients for content in other regions' buckets (read through a global table).
    regional: Mutex<HashMap<String, Client>>,
    /// Signs links without the SDK's per-request pipeline; shared by the stores made
    /// from one another (`with_multipart_copy`), as its caches do not depend on them.
    presigner: Arc<Presigner>,
    multipart_threshold: u64,
    part_size: u64,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.inner.bucket)
            .field("region", &self.inner.region)
            .finish_non_exhaustive()
    }
}

fn client_for(config: &SdkConfig, region: Option<&str>) -> Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config)
        // Checksums are bound explicitly where the API asks for them; the SDK's
        // default CRC32 on every request would also leak into presigned PUTs.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .force_path_style(force_path_style(config));
    if let Some(region) = region {
        builder = builder.region(Region::new(region.to_owned()));
    }
    Client::from_conf(builder.build())
}

/// Path-style addressing on custom endpoints (the clients and the presigner agree).
fn force_path_style(config: &SdkConfig) -> bool {
    crate::custom_endpoint(config)
}

fn presign_error(error: PresignError) -> BlobError {
    match error {
        // Loading credentials can fail for a moment (a container endpoint restarting);
        // the request may succeed when retried.
        PresignError::Credentials(_) => BlobError::Unavailable(error.to_string()),
        _ => BlobError::other_from(error.to_string(), error),
    }
}

fn blob_error<E, R>(
    operation: &str,
    key: &str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> BlobError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: crate::errors::HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match classify(&error) {
        Kind::NotFound => BlobError::NotFound(key.to_owned()),
        Kind::Transient => BlobError::Unavailable(describe(operation, &error)),
        Kind::Conflict | Kind::Permanent => {
            BlobError::other_from(describe(operation, &error), error)
        }
    }
}

fn storage_class(class: StorageClass) -> aws_sdk_s3::types::StorageClass {
    match class {
        StorageClass::Standard => aws_sdk_s3::types::StorageClass::Standard,
        StorageClass::Glacier => aws_sdk_s3::types::StorageClass::Glacier,
        StorageClass::DeepArchive => aws_sdk_s3::types::StorageClass::DeepArchive,
    }
}

fn our_class(class: Option<&aws_sdk_s3::types::StorageClass>) -> StorageClass {
    match class.map(|c| c.as_str()) {
        Some("GLACIER") => StorageClass::Glacier,
        Some("DEEP_ARCHIVE") => StorageClass::DeepArchive,
        // HeadObject omits the header for STANDARD; other classes are readable.
        _ => StorageClass::Standard,
    }
}

fn tier(tier: RestoreTier) -> Tier {
    match tier {
        RestoreTier::Standard => Tier::Standard,
        RestoreTier::Bulk => Tier::Bulk,
        RestoreTier::Expedited => Tier::Expedited,
    }
}

/// `CopySource` is `bucket/key` with the key URL-encoded (slashes kept).
fn copy_source(bucket: &str, key: &str) -> String {
    const PATH: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!("{bucket}/{}", utf8_percent_encode(key, PATH))
}

fn expires_at(now: SystemTime, expires_in: Duration) -> chrono::DateTime<Utc> {
    // Saturates: links are at most a week long, and a clock past year 262 143 must not
    // panic a request.
    chrono::Duration::from_std(expires_in)
        .ok()
        .and_then(|d| chrono::DateTime::<Utc>::from(now).checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

/// `If-None-Match: *`, signed into every upload link: S3 writes the object only if
/// the key holds none (a conditional write), so a link can store content once and
/// never overwrite what its first use stored, for all of its life.
const CREATE_ONLY: &str = "*";

fn presigning_config(now: SystemTime, expires_in: Duration) -> Result<PresigningConfig, BlobError> {
    PresigningConfig::builder()
        .start_time(now)
        .expires_in(expires_in)
        .build()
        .map_err(|e| BlobError::other_from(e.to_string(), e))
}

/// A link from the SDK's presigning (the fallback for endpoints [`Presigner`] leaves to
/// the SDK).
fn sdk_link(
    request: &aws_sdk_s3::presigning::PresignedRequest,
    now: SystemTime,
    expires_in: Duration,
) -> SignedLink {
    let headers: BTreeMap<String, String> = request
        .headers()
        // The HTTP client sets Host itself.
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    SignedLink {
        method: request.method().to_owned(),
        url: request.uri().to_owned(),
        headers,
        expires_at: expires_at(now, expires_in),
    }
}

fn link(presigned: presign::Presigned, now: SystemTime, expires_in: Duration) -> SignedLink {
    SignedLink {
        method: presigned.method.to_owned(),
        url: presigned.url,
        headers: presigned
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        expires_at: expires_at(now, expires_in),
    }
}

impl S3BlobStore {
    /// A store for `bucket`, in the region of `config`.
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client: client_for(config, None),
                config: config.clone(),
                bucket: bucket.into(),
                region: config.region().map(|r| r.as_ref().to_owned()),
                regional: Mutex::new(HashMap::new()),
                presigner: Arc::new(Presigner::new(config, force_path_style(config))),
                multipart_threshold: MULTIPART_COPY_THRESHOLD,
                part_size: COPY_PART_SIZE,
            }),
        }
    }

    /// Lowers the multipart-copy threshold and part size (for tests: S3 needs parts of
    /// at least 5 MiB except the last, so a test object of a few MiB exercises it).
    pub fn with_multipart_copy(self, threshold: u64, part_size: u64) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                config: inner.config.clone(),
                client: inner.client.clone(),
                bucket: inner.bucket.clone(),
                region: inner.region.clone(),
                regional: Mutex::new(HashMap::new()),
                presigner: inner.presigner.clone(),
                multipart_threshold: threshold,
                part_size: part_size.max(5 * 1024 * 1024),
            }),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The client for a location: ours, or a cached one for another region.
    fn client_at(&self, location: &BlobLocation) -> Client {
        let inner = &self.inner;
        match location.region.as_deref() {
            None => inner.client.clone(),
            Some(region) if Some(region) == inner.region.as_deref() => inner.client.clone(),
            Some(region) => {
                let mut clients = inner
                    .regional
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                clients
                    .entry(region.to_owned())
                    .or_insert_with(|| client_for(&inner.config, Some(region)))
                    .clone()
            }
        }
    }

    /// An upload link from the SDK's pipeline, for endpoints the presigner leaves to it.
    async fn upload_link_by_sdk(
        &self,
        spec: &UploadSpec,
        size: i64,
        checksum: Option<String>,
        now: SystemTime,
    ) -> Result<SignedLink, BlobError> {
        let presigning = presigning_config(now, spec.expires_in)?;
        let request = self
            .client_at(&spec.blob.location)
            .put_object()
            .bucket(&spec.blob.location.store)
            .key(&spec.blob.key)
            .content_type(&spec.content_type)
            .content_length(size)
            .set_checksum_sha256(checksum)
            .if_none_match(CREATE_ONLY)
            .presigned(presigning)
            .await
            .map_err(|e| BlobError::other_from(format!("presigning PutObject: {e}"), e))?;
        Ok(sdk_link(&request, now, spec.expires_in))
    }

    /// A download link from the SDK's pipeline, for endpoints the presigner leaves to it.
    async fn download_link_by_sdk(
        &self,
        spec: &DownloadSpec,
        now: SystemTime,
    ) -> Result<SignedLink, BlobError> {
        let presigning = presigning_config(now, spec.expires_in)?;
        let request = self
            .client_at(&spec.blob.location)
            .get_object()
            .bucket(&spec.blob.location.store)
            .key(&spec.blob.key)
            .response_content_disposition(content_disposition(&spec.file_name))
            .response_content_type(&spec.content_type)
            .presigned(presigning)
            .await
            .map_err(|e| BlobError::other_from(format!("presigning GetObject: {e}"), e))?;
        Ok(sdk_link(&request, now, spec.expires_in))
    }

    /// The upload link, signed as of `now`.
    async fn upload_link_at(
        &self,
        spec: &UploadSpec,
        now: SystemTime,
    ) -> Result<SignedLink, BlobError> {
        let checksum = match spec.checksum_sha256.as_deref() {
            None => None,
            Some(hex_digest) => Some(
                hex::decode(hex_digest)
                    .map(|digest| BASE64.encode(digest))
                    .map_err(|_| BlobError::other("checksum is not hex"))?,
            ),
        };
        let size = i64::try_from(spec.size)
            .map_err(|_| BlobError::other(format!("size {} is out of range", spec.size)))?;
        let location = &spec.blob.location;
        let presigner = &self.inner.presigner;
        let route = presigner
            .route(&location.store, location.region.as_deref())
            .await
            .map_err(presign_error)?;
        let Route::Direct(endpoint) = route.as_ref() else {
            return self.upload_link_by_sdk(spec, size, checksum, now).await;
        };
        let identity = presigner.identity(now).await.map_err(presign_error)?;
        let length = size.to_string();
        // What the SDK's PutObject puts on the request for these members, nothing else.
        let mut headers = vec![
            ("content-type", spec.content_type.as_str()),
            ("content-length", length.as_str()),
            ("if-none-match", CREATE_ONLY),
        ];
        if let Some(checksum) = checksum.as_deref() {
            headers.push(("x-amz-checksum-sha256", checksum));
        }
        let request = presign::Request {
            method: "PUT",
            key: &spec.blob.key,
            query: &[("x-id", "PutObject")],
            headers: &headers,
            expires_in: spec.expires_in,
        };
        let presigned =
            Presigner::sign(endpoint, &identity, &request, now).map_err(presign_error)?;
        Ok(link(presigned, now, spec.expires_in))
    }

    /// The download link, signed as of `now`.
    async fn download_link_at(
        &self,
        spec: &DownloadSpec,
        now: SystemTime,
    ) -> Result<SignedLink, BlobError> {
        let location = &spec.blob.location;
        let presigner = &self.inner.presigner;
        let route = presigner
            .route(&location.store, location.region.as_deref())
            .await
            .map_err(presign_error)?;
        let Route::Direct(endpoint) = route.as_ref() else {
            return self.download_link_by_sdk(spec, now).await;
        };
        let identity = presigner.identity(now).await.map_err(presign_error)?;
        let disposition = content_disposition(&spec.file_name);
        let request = presign::Request {
            method: "GET",
            key: &spec.blob.key,
            // GetObject's serializer order: x-id first, then the members as declared.
            query: &[
                ("x-id", "GetObject"),
                ("response-content-disposition", &disposition),
                ("response-content-type", &spec.content_type),
            ],
            headers: &[],
            expires_in: spec.expires_in,
        };
        let presigned =
            Presigner::sign(endpoint, &identity, &request, now).map_err(presign_error)?;
        Ok(link(presigned, now, spec.expires_in))
    }

    async fn head_raw(
        &self,
        blob: &BlobRef,
    ) -> Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>, BlobError> {
        match self
            .client_at(&blob.location)
            .head_object()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output)),
            Err(error) => match blob_error("HeadObject", &blob.key, error) {
                BlobError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Deletes every version and delete marker under `prefix` (only `key` itself when
    /// `exact`): with versioning on, a plain delete would keep the bytes.
    async fn delete_versions(
        &self,
        location: &BlobLocation,
        prefix: &str,
        exact: bool,
    ) -> Result<(), BlobError> {
        let client = self.client_at(location);
        let mut key_marker = None;
        let mut version_marker = None;
        loop {
            let output = client
                .list_object_versions()
                .bucket(&location.store)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| blob_error("ListObjectVersions", prefix, e))?;
            let versions = output
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    output
                        .delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let mut objects = Vec::new();
            for (key, version) in versions {
                let Some(key) = key else { continue };
                if exact && key != prefix {
                    continue;
                }
                let object = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .map_err(|e| BlobError::other_from(e.to_string(), e))?;
                objects.push(object);
            }
            for batch in objects.chunks(DELETE_BATCH) {
                let delete = Delete::builder()
                    .set_objects(Some(batch.to_vec()))
                    .quiet(true)
                    .build()
                    .map_err(|e| BlobError::other_from(e.to_string(), e))?;
                let result = client
                    .delete_objects()
                    .bucket(&location.store)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| blob_error("DeleteObjects", prefix, e))?;
                if let Some(failed) = result.errors().first() {
                    return Err(BlobError::Unavailable(format!(
                        "DeleteObjects: {} of {} not deleted, first {:?}: {:?}",
                        result.errors().len(),
                        batch.len(),
                        failed.key(),
                        failed.code()
                    )));
                }
            }
            if output.is_truncated() == Some(true) {
                key_marker = output.next_key_marker().map(str::to_owned);
                version_marker = output.next_version_id_marker().map(str::to_owned);
                if key_marker.is_none() {
                    break;
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Copies a large object (onto itself, or to `blob`) part by part, carrying over
    /// the metadata that CopyObject's `MetadataDirective=COPY` would have kept.
    async fn multipart_copy(
        &self,
        client: &Client,
        from: &BlobRef,
        blob: &BlobRef,
        head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
        size: u64,
        class: StorageClass,
    ) -> Result<(), BlobError> {
        let bucket = &blob.location.store;
        let created = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(&blob.key)
            .storage_class(storage_class(class))
            .set_content_type(head.content_type().map(str::to_owned))
            .set_content_disposition(head.content_disposition().map(str::to_owned))
            .set_content_encoding(head.content_encoding().map(str::to_owned))
            .set_content_language(head.content_language().map(str::to_owned))
            .set_cache_control(head.cache_control().map(str::to_owned))
            .set_metadata(head.metadata().cloned())
            .send()
            .await
            .map_err(|e| blob_error("CreateMultipartUpload", &blob.key, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| BlobError::other("CreateMultipartUpload returned no id"))?
            .to_owned();
        let mut source = copy_source(&from.location.store, &from.key);
        if let Some(version) = head.version_id() {
            // Copy exactly the version that was measured, even if another is written.
            source = format!("{source}?versionId={version}");
        }
        let result = async {
            let mut parts = Vec::new();
            let mut start = 0u64;
            let mut number = 1;
            while start < size {
                let end = (start + self.inner.part_size).min(size) - 1;
                let part = client
                    .upload_part_copy()
                    .bucket(bucket)
                    .key(&blob.key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(&source)
                    .copy_source_range(format!("bytes={start}-{end}"))
                    .send()
                    .await
                    .map_err(|e| blob_error("UploadPartCopy", &blob.key, e))?;
                let etag = part
                    .copy_part_result()
                    .and_then(|r| r.e_tag())
                    .ok_or_else(|| BlobError::other("UploadPartCopy returned no ETag"))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .e_tag(etag)
                        .build(),
                );
                start = end + 1;
                number += 1;
            }
            client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(&blob.key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| blob_error("CompleteMultipartUpload", &blob.key, e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            if let Err(error) = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(&blob.key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(key = %blob.key, error = %describe("AbortMultipartUpload", &error), "could not abort a failed multipart copy");
            }
        }
        result
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: self.inner.bucket.clone(),
            region: self.inner.region.clone(),
        }
    }

    async fn upload_link(&self, spec: &UploadSpec) -> Result<SignedLink, BlobError> {
        self.upload_link_at(spec, SystemTime::now()).await
    }

    async fn download_link(&self, spec: &DownloadSpec) -> Result<SignedLink, BlobError> {
        self.download_link_at(spec, SystemTime::now()).await
    }

    async fn start_multipart(&self, spec: &MultipartSpec) -> Result<String, BlobError> {
        self.start_multipart_upload(spec).await
    }

    async fn part_link(&self, spec: &PartSpec) -> Result<SignedLink, BlobError> {
        self.part_link_at(spec, SystemTime::now()).await
    }

    async fn list_parts(
        &self,
        blob: &BlobRef,
        upload_id: &str,
    ) -> Result<Vec<ReceivedPart>, BlobError> {
        self.list_upload_parts(blob, upload_id).await
    }

    async fn complete_multipart(
        &self,
        spec: &MultipartSpec,
        upload_id: &str,
        parts: &[ReceivedPart],
    ) -> Result<(), BlobError> {
        self.complete_multipart_upload(spec, upload_id, parts).await
    }

    async fn abort_multipart(&self, blob: &BlobRef, upload_id: &str) -> Result<(), BlobError> {
        self.abort_multipart_upload(blob, upload_id).await
    }

    async fn head(&self, blob: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        Ok(self.head_raw(blob).await?.map(|head| BlobHead {
            size: head.content_length().unwrap_or(0).max(0) as u64,
            storage_class: our_class(head.storage_class()),
        }))
    }

    /// The whole-object SHA-256 S3 checked when the object was stored (a single PUT
    /// with its signed checksum; see [`crate::s3_verified`]).
    async fn verified_content(&self, blob: &BlobRef) -> Result<Option<VerifiedContent>, BlobError> {
        match self
            .client_at(&blob.location)
            .head_object()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(head) => Ok(crate::s3_verified::from_head(&head)),
            Err(error) => match blob_error("HeadObject", &blob.key, error) {
                BlobError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn read(&self, blob: &BlobRef) -> Result<BlobStream, BlobError> {
        let output = self
            .client_at(&blob.location)
            .get_object()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .send()
            .await
            .map_err(|e| blob_error("GetObject", &blob.key, e))?;
        let key = blob.key.clone();
        let stream = futures_util::stream::unfold(Some(output.body), move |body| {
            let key = key.clone();
            async move {
                let mut body = body?;
                match body.try_next().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some(body))),
                    Ok(None) => None,
                    Err(error) => Some((
                        Err(BlobError::Unavailable(format!("reading {key}: {error}"))),
                        None,
                    )),
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn read_small(&self, blob: &BlobRef, limit: usize) -> Result<Option<Bytes>, BlobError> {
        let output = match self
            .client_at(&blob.location)
            .get_object()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match blob_error("GetObject", &blob.key, error) {
                    BlobError::NotFound(_) => Ok(None),
                    other => Err(other),
                };
            }
        };
        let too_large = || BlobError::TooLarge {
            key: blob.key.clone(),
            limit,
        };
        if output
            .content_length()
            .is_some_and(|length| length.max(0) as u64 > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = output.body;
        let mut bytes = BytesMut::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading {}: {e}", blob.key)))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(bytes.freeze()))
    }

    async fn delete(&self, blob: &BlobRef) -> Result<(), BlobError> {
        self.delete_versions(&blob.location, &blob.key, true).await
    }

    async fn delete_document(
        &self,
        id: &DocumentId,
        location: &BlobLocation,
    ) -> Result<(), BlobError> {
        self.delete_versions(location, &blob_key::document_prefix(id), false)
            .await
    }

    async fn copy(&self, from: &BlobRef, to: &BlobRef) -> Result<(), BlobError> {
        // The target's region does the copy; S3 announces it to EventBridge
        // (`Object Created`, reason `CopyObject`) like an upload.
        let client = self.client_at(&to.location);
        let head = self
            .head_raw(from)
            .await?
            .ok_or_else(|| BlobError::NotFound(from.key.clone()))?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        if size > self.inner.multipart_threshold {
            return self
                .multipart_copy(&client, from, to, &head, size, StorageClass::Standard)
                .await;
        }
        let mut source = copy_source(&from.location.store, &from.key);
        if let Some(version) = head.version_id() {
            source = format!("{source}?versionId={version}");
        }
        client
            .copy_object()
            .bucket(&to.location.store)
            .key(&to.key)
            .copy_source(source)
            .storage_class(storage_class(StorageClass::Standard))
            .metadata_directive(MetadataDirective::Copy)
            .send()
            .await
            .map_err(|e| blob_error("CopyObject", &to.key, e))?;
        Ok(())
    }

    async fn archive(&self, blob: &BlobRef, class: StorageClass) -> Result<(), BlobError> {
        let client = self.client_at(&blob.location);
        let head = self
            .head_raw(blob)
            .await?
            .ok_or_else(|| BlobError::NotFound(blob.key.clone()))?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        let new_version = if size > self.inner.multipart_threshold {
            self.multipart_copy(&client, blob, blob, &head, size, class)
                .await?;
            None
        } else {
            let mut source = copy_source(&blob.location.store, &blob.key);
            if let Some(version) = head.version_id() {
                source = format!("{source}?versionId={version}");
            }
            let copied = client
                .copy_object()
                .bucket(&blob.location.store)
                .key(&blob.key)
                .copy_source(source)
                .storage_class(storage_class(class))
                .metadata_directive(MetadataDirective::Copy)
                .send()
                .await
                .map_err(|e| blob_error("CopyObject", &blob.key, e))?;
            copied.version_id().map(str::to_owned)
        };
        // With versioning on, the copy becomes the current version and the original
        // stays as a noncurrent STANDARD version: remove it, or archiving saves nothing.
        if let Some(old) = head.version_id().filter(|v| *v != "null")
            && new_version.as_deref() != Some(old)
            && let Err(error) = client
                .delete_object()
                .bucket(&blob.location.store)
                .key(&blob.key)
                .version_id(old)
                .send()
                .await
        {
            tracing::warn!(key = %blob.key, error = %describe("DeleteObject", &error), "could not delete the pre-archive version");
        }
        Ok(())
    }

    async fn restore(
        &self,
        blob: &BlobRef,
        days: u16,
        restore_tier: RestoreTier,
    ) -> Result<(), BlobError> {
        let request = RestoreRequest::builder()
            .days(i32::from(days))
            .glacier_job_parameters(
                GlacierJobParameters::builder()
                    .tier(tier(restore_tier))
                    .build()
                    .map_err(|e| BlobError::other_from(e.to_string(), e))?,
            )
            .build();
        match self
            .client_at(&blob.location)
            .restore_object()
            .bucket(&blob.location.store)
            .key(&blob.key)
            .restore_request(request)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // A repeated request while one runs: the restore asked for is under way.
            Err(error)
                if aws_sdk_s3::error::ProvideErrorMetadata::code(&error)
                    == Some("RestoreAlreadyInProgress") =>
            {
                Ok(())
            }
            Err(error) => Err(blob_error("RestoreObject", &blob.key, error)),
        }
    }

    async fn health(&self) -> Result<(), BlobError> {
        self.inner
            .client
            .head_bucket()
            .bucket(&self.inner.bucket)
            .send()
            .await
            .map_err(|e| blob_error("HeadBucket", &self.inner.bucket, e))?;
        Ok(())
    }
}
