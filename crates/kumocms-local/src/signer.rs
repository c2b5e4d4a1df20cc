//! HMAC-SHA256 signed, expiring links to blobs, served by the local server: the local
//! stand-in for S3 presigned URLs.
//!
//! A link binds the method, the blob key and the expiry, and for uploads the exact
//! length, content type and optional SHA-256 (for downloads the content type and the
//! file name to offer). The canonical string length-prefixes every field, so no value
//! (even one a client crafted with separators in it) can shift into another field.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;

use crate::fsutil;

type HmacSha256 = Hmac<Sha256>;

pub const SIGNING_KEY_FILE: &str = "signing.key";
const KEY_BYTES: usize = 32;
const CANONICAL_VERSION: &str = "kumocms-blob-link-v1";

/// Query values are percent-encoded with everything but unreserved characters escaped.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    /// An upload (`PUT`).
    Upload,
    /// A download (`GET`, or `HEAD`).
    Download,
    /// One part of a multipart upload (`PUT`).
    UploadPart,
}

impl LinkMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "PUT",
            Self::Download => "GET",
            Self::UploadPart => "PUT-PART",
        }
    }
}

/// Why a link was refused. The handler maps each to a JSON error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A parameter is missing or not in the expected form.
    #[error("the link is malformed: {0}")]
    Malformed(String),
    /// The signature does not match the link: it was altered, or not issued here.
    #[error("the link's signature does not match; use the link exactly as it was issued")]
    BadSignature,
    /// The link was genuine but its time is up.
    #[error("the link expired at {0}; ask the API for a new one")]
    Expired(DateTime<Utc>),
}

impl LinkError {
    /// The stable error code the HTTP handler returns.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_link",
            Self::BadSignature => "invalid_signature",
            Self::Expired(_) => "link_expired",
        }
    }
}

/// The query parameters of a link, as received.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkQuery {
    pub expires: Option<String>,
    pub length: Option<String>,
    #[serde(rename = "type")]
    pub content_type: Option<String>,
    pub sha256: Option<String>,
    pub name: Option<String>,
    /// Part links: the multipart upload and the part number.
    pub upload_id: Option<String>,
    pub part: Option<String>,
    pub sig: Option<String>,
}

/// What a genuine, unexpired link allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    pub method: LinkMethod,
    pub key: String,
    pub expires_at: DateTime<Utc>,
    pub content_type: String,
    /// Uploads: the exact number of bytes to accept.
    pub length: Option<u64>,
    /// Uploads: the lower-case hex SHA-256 the bytes must have, when signed.
    pub sha256: Option<String>,
    /// Downloads: the file name offered in `Content-Disposition`.
    pub file_name: Option<String>,
    /// Part uploads: the multipart upload and the part number.
    pub upload_id: Option<String>,
    pub part_number: Option<u32>,
}

/// Everything a link binds, before it is turned into a URL.
struct Fields<'a> {
    method: LinkMethod,
    key: &'a str,
    expires: i64,
    content_type: &'a str,
    length: Option<u64>,
    sha256: Option<&'a str>,
    file_name: Option<&'a str>,
    /// Part links only; absent from the canonical form of the other links, so
    /// links issued before part links existed still verify.
    part: Option<(&'a str, u32)>,
}

impl Fields<'_> {
    fn canonical(&self) -> Vec<u8> {
        fn field(out: &mut Vec<u8>, value: Option<&str>) {
            match value {
                // Absent and empty must sign differently.
                None => out.extend_from_slice(b"~\n"),
                Some(value) => {
                    out.extend_from_slice(format!("{}:", value.len()).as_bytes());
                    out.extend_from_slice(value.as_bytes());
                    out.push(b'\n');
                }
            }
        }
        let mut out = Vec::with_capacity(256);
        let expires = self.expires.to_string();
        let length = self.length.map(|l| l.to_string());
        field(&mut out, Some(CANONICAL_VERSION));
        field(&mut out, Some(self.method.as_str()));
        field(&mut out, Some(self.key));
        field(&mut out, Some(&expires));
        field(&mut out, Some(self.content_type));
        field(&mut out, length.as_deref());
        field(&mut out, self.sha256);
        field(&mut out, self.file_name);
        if let Some((upload_id, number)) = self.part {
            field(&mut out, Some(upload_id));
            field(&mut out, Some(&number.to_string()));
        }
        out
    }
}

#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; KEY_BYTES],
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    pub fn new(key: [u8; KEY_BYTES]) -> Self {
        Self { key }
    }

    /// Loads `<data_dir>/signing.key`, creating it (32 random bytes, mode 0600) on
    /// first start. Links issued before a restart stay valid after it.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(SIGNING_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} must hold exactly {KEY_BYTES} bytes; delete it to make a new key (issued links stop working)",
                            path.display()
                        ),
                    )
                })?;
                Ok(Self::new(key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_BYTES];
                rand::rngs::OsRng.fill_bytes(&mut key);
                // Written whole to a temporary file first, so a crash never leaves a
                // truncated key behind; if another process won the race, use its key.
                if fsutil::write_new_private(&path, |file| file.write_all(&key))? {
                    Ok(Self::new(key))
                } else {
                    Self::load_or_create(data_dir)
                }
            }
            Err(error) => Err(error),
        }
    }

    /// A key for another purpose (e.g. listing cursors), derived so that it never
    /// equals the link key.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"kumocms derived key\n");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    fn sign(&self, fields: &Fields<'_>) -> String {
        let mut mac = self.mac();
        mac.update(&fields.canonical());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The URL of an upload link for `key`.
    pub fn sign_upload(
        &self,
        base_url: &str,
        key: &str,
        expires_at: DateTime<Utc>,
        length: u64,
        content_type: &str,
        sha256: Option<&str>,
    ) -> String {
        let fields = Fields {
            method: LinkMethod::Upload,
            key,
            expires: expires_at.timestamp(),
            content_type,
            length: Some(length),
            sha256,
            file_name: None,
            part: None,
        };
        let sig = self.sign(&fields);
        let mut url = format!(
            "{}/blobs/{key}?expires={}&length={length}&type={}",
            base_url.trim_end_matches('/'),
            fields.expires,
            encode(content_type)
        );
        if let Some(sha256) = sha256 {
            url.push_str(&format!("&sha256={}", encode(sha256)));
        }
        url.push_str(&format!("&sig={sig}"));
        url
    }

    /// The URL of a link to upload part `part_number` (exactly `length` bytes) of
    /// the multipart upload `upload_id` to `key`.
    pub fn sign_part(
        &self,
        base_url: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        expires_at: DateTime<Utc>,
        length: u64,
    ) -> String {
        let fields = Fields {
            method: LinkMethod::UploadPart,
            key,
            expires: expires_at.timestamp(),
            content_type: "",
            length: Some(length),
            sha256: None,
            file_name: None,
            part: Some((upload_id, part_number)),
        };
        let sig = self.sign(&fields);
        format!(
            "{}/blobs/{key}?upload_id={}&part={part_number}&expires={}&length={length}&type=&sig={sig}",
            base_url.trim_end_matches('/'),
            encode(upload_id),
            fields.expires,
        )
    }

    /// The URL of a download link for `key`.
    pub fn sign_download(
        &self,
        base_url: &str,
        key: &str,
        expires_at: DateTime<Utc>,
        content_type: &str,
        file_name: &str,
    ) -> String {
        let fields = Fields {
            method: LinkMethod::Download,
            key,
            expires: expires_at.timestamp(),
            content_type,
            length: None,
            sha256: None,
            file_name: Some(file_name),
            part: None,
        };
        let sig = self.sign(&fields);
        format!(
            "{}/blobs/{key}?expires={}&type={}&name={}&sig={sig}",
            base_url.trim_end_matches('/'),
            fields.expires,
            encode(content_type),
            encode(file_name)
        )
    }

    /// Checks a link as received: form, then signature (in constant time), then expiry.
    pub fn verify(
        &self,
        method: LinkMethod,
        key: &str,
        query: &LinkQuery,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLink, LinkError> {
        let malformed = |what: &str| LinkError::Malformed(what.to_owned());
        let sig = query
            .sig
            .as_deref()
            .ok_or_else(|| malformed("the sig parameter is missing"))?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| malformed("the sig parameter is not base64url"))?;
        let expires: i64 = query
            .expires
            .as_deref()
            .ok_or_else(|| malformed("the expires parameter is missing"))?
            .parse()
            .map_err(|_| malformed("the expires parameter is not a number"))?;
        let expires_at = DateTime::<Utc>::from_timestamp(expires, 0)
            .ok_or_else(|| malformed("the expires parameter is out of range"))?;
        let content_type = query
            .content_type
            .as_deref()
            .ok_or_else(|| malformed("the type parameter is missing"))?;
        let length = match (method, query.length.as_deref()) {
            (LinkMethod::Upload | LinkMethod::UploadPart, None) => {
                return Err(malformed("the length parameter is missing"));
            }
            (_, None) => None,
            (_, Some(text)) => Some(
                text.parse::<u64>()
                    .map_err(|_| malformed("the length parameter is not a number"))?,
            ),
        };
        if method == LinkMethod::Download && query.name.is_none() {
            return Err(malformed("the name parameter is missing"));
        }
        let part = match (method, query.upload_id.as_deref(), query.part.as_deref()) {
            (LinkMethod::UploadPart, Some(upload_id), Some(number)) => Some((
                upload_id,
                number
                    .parse::<u32>()
                    .map_err(|_| malformed("the part parameter is not a number"))?,
            )),
            (LinkMethod::UploadPart, _, _) => {
                return Err(malformed("the upload_id or part parameter is missing"));
            }
            _ => None,
        };
        let fields = Fields {
            method,
            key,
            expires,
            content_type,
            length,
            sha256: query.sha256.as_deref(),
            file_name: query.name.as_deref(),
            part,
        };
        let mut mac = self.mac();
        mac.update(&fields.canonical());
        mac.verify_slice(&sig)
            .map_err(|_| LinkError::BadSignature)?;
        if now >= expires_at {
            return Err(LinkError::Expired(expires_at));
        }
        Ok(VerifiedLink {
            method,
            key: key.to_owned(),
            expires_at,
            content_type: content_type.to_owned(),
            length,
            sha256: query.sha256.clone(),
            file_name: query.name.clone(),
            upload_id: part.map(|(id, _)| id.to_owned()),
            part_number: part.map(|(_, n)| n),
        })
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn query_of(url: &str) -> (String, LinkQuery) {
        let (path, query) = url.split_once('?').unwrap();
        let key = path.split_once("/blobs/").unwrap().1.to_owned();
        let uri: http::Uri = format!("/x?{query}").parse().unwrap();
        let query = axum::extract::Query::<LinkQuery>::try_from_uri(&uri)
            .unwrap()
            .0;
        (key, query)
    }

    fn signer() -> LinkSigner {
        LinkSigner::new([7; 32])
    }

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_genuine_upload_link_verifies_with_every_bound_field() {
        let now = Utc::now();
        let url = signer().sign_upload(
            "http://h:1/",
            "documents/X/r1",
            now + Duration::minutes(5),
            42,
            "text/plain; charset=utf-8",
            Some(SHA),
        );
        assert!(url.starts_with("http://h:1/blobs/documents/X/r1?"), "{url}");
        assert!(
            url.contains("type=text%2Fplain%3B%20charset%3Dutf-8"),
            "{url}"
        );
        let (key, query) = query_of(&url);
        let link = signer()
            .verify(LinkMethod::Upload, &key, &query, now)
            .unwrap();
        assert_eq!(link.length, Some(42));
        assert_eq!(link.content_type, "text/plain; charset=utf-8");
        assert_eq!(link.sha256.as_deref(), Some(SHA));
    }

    #[test]
    fn tampering_with_any_bound_field_is_refused() {
        let now = Utc::now();
        let url = signer().sign_upload(
            "http://h",
            "documents/X/r1",
            now + Duration::minutes(5),
            42,
            "text/plain",
            Some(SHA),
        );
        let (key, good) = query_of(&url);
        type Edit = (&'static str, Box<dyn Fn(&mut LinkQuery)>);
        let edits: Vec<Edit> = vec![
            ("length", Box::new(|q| q.length = Some("43".into()))),
            (
                "type",
                Box::new(|q| q.content_type = Some("text/html".into())),
            ),
            ("sha256", Box::new(|q| q.sha256 = None)),
            (
                "sha256 value",
                Box::new(|q| q.sha256 = Some(SHA.replace('9', "8"))),
            ),
            (
                "expires",
                Box::new(|q| {
                    let e: i64 = q.expires.as_deref().unwrap().parse().unwrap();
                    q.expires = Some((e + 3600).to_string());
                }),
            ),
            ("name added", Box::new(|q| q.name = Some("a".into()))),
            (
                "sig",
                Box::new(|q| {
                    q.sig = Some(URL_SAFE_NO_PAD.encode([0u8; 32]));
                }),
            ),
        ];
        for (what, edit) in edits {
            let mut query = good.clone();
            edit(&mut query);
            assert_eq!(
                signer().verify(LinkMethod::Upload, &key, &query, now),
                Err(LinkError::BadSignature),
                "{what}"
            );
        }
        // Another key, another method, another signer.
        assert_eq!(
            signer().verify(LinkMethod::Upload, "documents/X/r2", &good, now),
            Err(LinkError::BadSignature)
        );
        assert!(
            signer()
                .verify(LinkMethod::Download, &key, &good, now)
                .is_err()
        );
        assert_eq!(
            LinkSigner::new([8; 32]).verify(LinkMethod::Upload, &key, &good, now),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn download_links_bind_the_file_name_and_type() {
        let now = Utc::now();
        let url = signer().sign_download(
            "http://h",
            "documents/X/r1",
            now + Duration::minutes(5),
            "application/pdf",
            "Rapport d'été \"final\".pdf",
        );
        let (key, good) = query_of(&url);
        let link = signer()
            .verify(LinkMethod::Download, &key, &good, now)
            .unwrap();
        assert_eq!(
            link.file_name.as_deref(),
            Some("Rapport d'été \"final\".pdf")
        );
        let mut renamed = good.clone();
        renamed.name = Some("evil.html".into());
        assert_eq!(
            signer().verify(LinkMethod::Download, &key, &renamed, now),
            Err(LinkError::BadSignature)
        );
        let mut retyped = good.clone();
        retyped.content_type = Some("text/html".into());
        assert_eq!(
            signer().verify(LinkMethod::Download, &key, &retyped, now),
            Err(LinkError::BadSignature)
        );
        assert!(
            signer()
                .verify(LinkMethod::Upload, &key, &good, now)
                .is_err()
        );
    }

    #[test]
    fn expired_links_are_refused_after_the_signature_check() {
        let now = Utc::now();
        let url = signer().sign_upload(
            "http://h",
            "documents/X/r1",
            now + Duration::seconds(10),
            1,
            "a/b",
            None,
        );
        let (key, query) = query_of(&url);
        assert!(
            signer()
                .verify(LinkMethod::Upload, &key, &query, now)
                .is_ok()
        );
        assert!(matches!(
            signer().verify(
                LinkMethod::Upload,
                &key,
                &query,
                now + Duration::seconds(11)
            ),
            Err(LinkError::Expired(_))
        ));
    }

    #[test]
    fn missing_or_garbled_parameters_are_malformed() {
        let now = Utc::now();
        let url = signer().sign_upload(
            "http://h",
            "documents/X/r1",
            now + Duration::seconds(10),
            1,
            "a/b",
            None,
        );
        let (key, good) = query_of(&url);
        for edit in [
            |q: &mut LinkQuery| q.sig = None,
            |q: &mut LinkQuery| q.sig = Some("***".into()),
            |q: &mut LinkQuery| q.expires = None,
            |q: &mut LinkQuery| q.expires = Some("soon".into()),
            |q: &mut LinkQuery| q.length = None,
            |q: &mut LinkQuery| q.length = Some("-1".into()),
            |q: &mut LinkQuery| q.content_type = None,
        ] {
            let mut query = good.clone();
            edit(&mut query);
            let err = signer()
                .verify(LinkMethod::Upload, &key, &query, now)
                .unwrap_err();
            assert_eq!(err.code(), "malformed_link", "{query:?}");
        }
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = LinkSigner::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = LinkSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key, b.key);
        assert_ne!(a.derive_key("cursor"), a.key);
        std::fs::write(dir.path().join(SIGNING_KEY_FILE), b"short").unwrap();
        assert!(LinkSigner::load_or_create(dir.path()).is_err());
    }
}
