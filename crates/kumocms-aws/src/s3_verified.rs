//! The SHA-256 S3 itself checked for an object
//! ([`BlobStore::verified_content`](kumocms_core::ports::BlobStore::verified_content)).
//!
//! A single PUT through an upload link carries the signed `x-amz-checksum-sha256`;
//! S3 refuses the bytes when they do not match it (`BadDigest`) and stores it as the
//! object's `FULL_OBJECT` SHA-256, returned by `HeadObject` with
//! `x-amz-checksum-mode: ENABLED`. A multipart object's SHA-256 is `COMPOSITE` (a hash
//! of the parts' hashes, `…-N`): S3 never checked the whole file against anything, so
//! it is not taken, and the event processor hashes the object as before.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::ChecksumType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use kumocms_core::ports::VerifiedContent;

/// The object's size and whole-object SHA-256 from a `HeadObject` answer asked with
/// the checksum mode on; `None` when S3 holds no whole-object SHA-256 for it.
pub(crate) fn from_head(head: &HeadObjectOutput) -> Option<VerifiedContent> {
    let full_object = match head.checksum_type() {
        Some(ChecksumType::FullObject) => true,
        // Objects stored before S3 reported a type: a composite value ends in `-N`.
        None => true,
        Some(_) => false,
    };
    let value = head.checksum_sha256()?;
    if !full_object || value.contains('-') {
        return None;
    }
    let digest = BASE64.decode(value).ok().filter(|d| d.len() == 32)?;
    let size = u64::try_from(head.content_length()?).ok()?;
    Some(VerifiedContent {
        size,
        sha256: hex::encode(digest),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head(value: Option<&str>, kind: Option<ChecksumType>) -> HeadObjectOutput {
        HeadObjectOutput::builder()
            .content_length(3)
            .set_checksum_sha256(value.map(str::to_owned))
            .set_checksum_type(kind)
            .build()
    }

    #[test]
    fn only_a_whole_object_sha256_is_taken() {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(b"abc");
        let value = BASE64.encode(digest);
        assert_eq!(
            from_head(&head(Some(&value), Some(ChecksumType::FullObject))),
            Some(VerifiedContent {
                size: 3,
                sha256: hex::encode(digest)
            })
        );
        assert_eq!(
            from_head(&head(Some(&value), Some(ChecksumType::Composite))),
            None
        );
        assert_eq!(from_head(&head(Some(&format!("{value}-2")), None)), None);
        assert_eq!(from_head(&head(None, Some(ChecksumType::FullObject))), None);
        assert_eq!(
            from_head(&head(Some("bm90IGEgZGlnZXN0"), None)),
            None,
            "a value that is no SHA-256 is not taken"
        );
    }
}
