//! The hand-off from the SDK's `.presigned(..)` to [`Presigner`]: for fixed credentials,
//! time, bucket, region, key and spec, both must give the same URL and headers. These
//! run without moto (presigning makes no request) and must keep passing on SDK updates;
//! a failure means the SDK now signs something we do not (or the other way round).

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use kumocms_core::ports::{BlobStore, DownloadSpec, SignedLink, UploadSpec};
use kumocms_core::{BlobLocation, BlobRef};

use super::super::S3BlobStore;
use super::{Presigner, Route};

/// 2024-05-06T07:08:09Z.
fn fixed_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_979_289)
}

fn credentials(session_token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token.map(str::to_owned),
        None,
        "test",
    )
}

/// A config built in code, so nothing from the environment (AWS_ENDPOINT_URL…) enters.
fn config(region: &str, endpoint_url: Option<&str>, session_token: Option<&str>) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials(session_token)));
    if let Some(url) = endpoint_url {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

const KEY_PLAIN: &str = "documents/01HXYZABCDEFGHJKMNPQRSTVWX/r1";
/// Everything the SDK's greedy-label encoding treats specially, and non-ASCII.
const KEY_ODD: &str = "documents/a b+c%2F/ü=é&x?y#z~!*'()[]:;,@$/r1.meta.json";
const FILE_ODD: &str = "Grüße \"aus\" B; 100% (final)+v2.pdf";

fn upload_spec(location: &BlobLocation, key: &str, checksum: Option<&str>) -> UploadSpec {
    UploadSpec {
        blob: BlobRef {
            key: key.to_owned(),
            location: location.clone(),
        },
        content_type: "application/pdf; charset=binary".into(),
        size: 1_234_567,
        checksum_sha256: checksum.map(str::to_owned),
        expires_in: Duration::from_secs(900),
    }
}

fn download_spec(location: &BlobLocation, key: &str, file_name: &str) -> DownloadSpec {
    DownloadSpec {
        blob: BlobRef {
            key: key.to_owned(),
            location: location.clone(),
        },
        file_name: file_name.to_owned(),
        content_type: "text/plain; charset=utf-8".into(),
        expires_in: Duration::from_secs(300),
    }
}

fn query(link: &SignedLink) -> HashMap<String, String> {
    let url = reqwest::Url::parse(&link.url).expect("a URL");
    url.query_pairs().into_owned().collect()
}

/// Our link and the SDK's for the same inputs, after checking that ours did not come
/// from the SDK fallback.
async fn both_uploads(store: &S3BlobStore, spec: &UploadSpec) -> (SignedLink, SignedLink) {
    assert_direct(store, &spec.blob.location).await;
    let ours = store
        .upload_link_at(spec, fixed_time())
        .await
        .expect("our upload link");
    let size = i64::try_from(spec.size).unwrap();
    let checksum = spec.checksum_sha256.as_deref().map(|hex_digest| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_digest).unwrap())
    });
    let sdk = store
        .upload_link_by_sdk(spec, size, checksum, fixed_time())
        .await
        .expect("the SDK's upload link");
    (ours, sdk)
}

async fn both_downloads(store: &S3BlobStore, spec: &DownloadSpec) -> (SignedLink, SignedLink) {
    assert_direct(store, &spec.blob.location).await;
    let ours = store
        .download_link_at(spec, fixed_time())
        .await
        .expect("our download link");
    let sdk = store
        .download_link_by_sdk(spec, fixed_time())
        .await
        .expect("the SDK's download link");
    (ours, sdk)
}

async fn assert_direct(store: &S3BlobStore, location: &BlobLocation) {
    let route = store
        .inner
        .presigner
        .route(&location.store, location.region.as_deref())
        .await
        .expect("an endpoint");
    assert!(
        matches!(route.as_ref(), Route::Direct(_)),
        "{location:?} must be presigned directly, not by the SDK fallback"
    );
}

/// Compares every part and then the whole, so a failure says what differs.
fn assert_same(ours: &SignedLink, sdk: &SignedLink) {
    assert_eq!(ours.method, sdk.method);
    assert_eq!(ours.headers, sdk.headers, "headers");
    assert_eq!(
        ours.url.split('?').next(),
        sdk.url.split('?').next(),
        "URL before the query"
    );
    assert_eq!(query(ours), query(sdk), "query parameters");
    assert_eq!(ours.url, sdk.url, "the URL, byte for byte");
    assert_eq!(ours.expires_at, sdk.expires_at);
}

/// Virtual-hosted AWS endpoints (one in us-east-1, one elsewhere, one signed from
/// another region's store) and a path-style custom endpoint; each with and without a
/// session token; plain and awkward keys and file names; with and without a checksum.
#[tokio::test]
async fn links_equal_the_sdk_presigned_ones() {
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        // (config region, endpoint URL, bucket, expected URL start)
        (
            "us-east-1",
            None,
            "kumocms-content-a",
            "https://kumocms-content-a.s3.us-east-1.amazonaws.com/",
        ),
        (
            "eu-west-1",
            None,
            "kumocms-content-b",
            "https://kumocms-content-b.s3.eu-west-1.amazonaws.com/",
        ),
        (
            "us-east-1",
            Some("http://127.0.0.1:5000"),
            "kumocms-local",
            "http://127.0.0.1:5000/kumocms-local/",
        ),
        (
            "eu-west-1",
            Some("http://localhost:4566/"),
            "kumocms-local-b",
            "http://localhost:4566/kumocms-local-b/",
        ),
        // A bucket name that cannot be a host name: path style on AWS too.
        (
            "us-west-2",
            None,
            "kumocms.dotted.bucket",
            "https://s3.us-west-2.amazonaws.com/kumocms.dotted.bucket/",
        ),
    ];
    for &(region, endpoint_url, bucket, url_start) in cases {
        for token in [
            None,
            Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUC+/="),
        ] {
            let config = config(region, endpoint_url, token);
            let store = S3BlobStore::new(&config, bucket);
            let location = store.location();
            for key in [KEY_PLAIN, KEY_ODD] {
                for checksum in [None, Some("ab".repeat(32))] {
                    let spec = upload_spec(&location, key, checksum.as_deref());
                    let (ours, sdk) = both_uploads(&store, &spec).await;
                    assert_same(&ours, &sdk);
                    assert!(ours.url.starts_with(url_start), "{}", ours.url);
                    assert_eq!(
                        query(&ours).get("X-Amz-Security-Token").map(String::as_str),
                        token,
                        "the session token travels in the query"
                    );
                }
                for file_name in ["report.pdf", FILE_ODD] {
                    let spec = download_spec(&location, key, file_name);
                    let (ours, sdk) = both_downloads(&store, &spec).await;
                    assert_same(&ours, &sdk);
                    assert!(ours.url.starts_with(url_start), "{}", ours.url);
                }
            }
        }
    }
}

/// A store in one region signing for content in another region's bucket signs for that
/// region, as the SDK client for that region does.
#[tokio::test]
async fn links_for_another_regions_bucket_equal_the_sdk_ones() {
    for endpoint_url in [None, Some("http://127.0.0.1:5000")] {
        let store = S3BlobStore::new(&config("us-east-1", endpoint_url, None), "bucket-a");
        let elsewhere = BlobLocation {
            store: "bucket-b".into(),
            region: Some("ap-southeast-2".into()),
        };
        let (ours, sdk) = both_uploads(
            &store,
            &upload_spec(&elsewhere, KEY_PLAIN, Some(&"cd".repeat(32))),
        )
        .await;
        assert_same(&ours, &sdk);
        let (ours, sdk) =
            both_downloads(&store, &download_spec(&elsewhere, KEY_ODD, FILE_ODD)).await;
        assert_same(&ours, &sdk);
        let credential = &query(&ours)["X-Amz-Credential"];
        assert!(
            credential.contains("/ap-southeast-2/s3/aws4_request"),
            "{credential}"
        );
    }
}

/// The upload link binds type, length and checksum; the download link carries the
/// response headers; both last as long as asked.
#[tokio::test]
async fn links_bind_what_the_spec_says() {
    let store = S3BlobStore::new(&config("eu-west-1", None, None), "kumocms-content");
    let location = store.location();
    let spec = upload_spec(&location, KEY_PLAIN, Some(&"ab".repeat(32)));
    let link = store.upload_link(&spec).await.unwrap();
    assert_eq!(link.method, "PUT");
    let q = query(&link);
    assert_eq!(q["X-Amz-Expires"], "900");
    assert_eq!(
        q["X-Amz-SignedHeaders"],
        "content-length;content-type;host;if-none-match;x-amz-checksum-sha256"
    );
    // Create-only: S3 refuses a second write through the same link (issue 16, item 4).
    assert_eq!(link.headers["if-none-match"], "*");
    assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(q["x-id"], "PutObject");
    assert_eq!(link.headers["content-length"], "1234567");
    assert_eq!(
        link.headers["content-type"],
        "application/pdf; charset=binary"
    );
    assert_eq!(
        link.headers["x-amz-checksum-sha256"],
        "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
    );
    let lasts = link.expires_at - chrono::Utc::now();
    assert!(
        lasts <= chrono::Duration::seconds(900) && lasts > chrono::Duration::seconds(890),
        "{lasts}"
    );

    let spec = DownloadSpec {
        expires_in: Duration::from_secs(61),
        ..download_spec(&location, KEY_PLAIN, "report.pdf")
    };
    let link = store.download_link(&spec).await.unwrap();
    assert_eq!(link.method, "GET");
    assert!(link.headers.is_empty(), "{:?}", link.headers);
    let q = query(&link);
    assert_eq!(q["X-Amz-Expires"], "61");
    assert_eq!(q["X-Amz-SignedHeaders"], "host");
    assert_eq!(
        q["response-content-disposition"],
        kumocms_core::disposition::content_disposition("report.pdf")
    );
    assert_eq!(q["response-content-type"], "text/plain; charset=utf-8");

    // Longer than SigV4 allows: refused, as the SDK refuses it.
    let too_long = DownloadSpec {
        expires_in: Duration::from_secs(7 * 24 * 3600 + 1),
        ..spec
    };
    assert!(store.download_link(&too_long).await.is_err());
}

/// Each bound value is in the signature: change one and the signature changes (S3
/// recomputes it from what the client sends, so a tampered header fails).
#[tokio::test]
async fn tampering_with_a_bound_value_changes_the_signature() {
    let store = S3BlobStore::new(&config("us-east-1", None, None), "kumocms-content");
    let location = store.location();
    let signature = |link: &SignedLink| query(link)["X-Amz-Signature"].clone();
    let base = upload_spec(&location, KEY_PLAIN, Some(&"ab".repeat(32)));
    let reference = signature(&store.upload_link_at(&base, fixed_time()).await.unwrap());
    let variants = [
        UploadSpec {
            checksum_sha256: Some("ac".repeat(32)),
            ..base.clone()
        },
        UploadSpec {
            checksum_sha256: None,
            ..base.clone()
        },
        UploadSpec {
            size: base.size + 1,
            ..base.clone()
        },
        UploadSpec {
            content_type: "application/octet-stream".into(),
            ..base.clone()
        },
        UploadSpec {
            expires_in: Duration::from_secs(901),
            ..base.clone()
        },
    ];
    for variant in &variants {
        let link = store.upload_link_at(variant, fixed_time()).await.unwrap();
        assert_ne!(signature(&link), reference, "{variant:?}");
    }
    // The same inputs sign the same.
    let again = store.upload_link_at(&base, fixed_time()).await.unwrap();
    assert_eq!(signature(&again), reference);
    // A different time signs differently (the link is bound to its start).
    let later = store
        .upload_link_at(&base, fixed_time() + Duration::from_secs(1))
        .await
        .unwrap();
    assert_ne!(signature(&later), reference);
}

/// Endpoints are resolved once per (bucket, region), and credentials are read once
/// while fresh, so a link costs no resolver or provider call.
#[tokio::test]
async fn endpoints_and_credentials_are_cached() {
    let config = config("us-east-1", None, None);
    let presigner = Presigner::new(&config, false);
    let a = presigner.route("bucket-a", None).await.unwrap();
    let again = presigner
        .route("bucket-a", Some("us-east-1"))
        .await
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &again));
    let other_region = presigner
        .route("bucket-a", Some("eu-west-1"))
        .await
        .unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &other_region));

    let now = fixed_time();
    presigner.identity(now).await.unwrap();
    let first = presigner
        .identity
        .lock()
        .unwrap()
        .as_ref()
        .map(|c| c.refresh_at);
    assert_eq!(first, Some(now + super::NO_EXPIRY_REFRESH));
    presigner
        .identity(now + Duration::from_secs(60))
        .await
        .unwrap();
    let second = presigner
        .identity
        .lock()
        .unwrap()
        .as_ref()
        .map(|c| c.refresh_at);
    assert_eq!(second, first, "still fresh: not reloaded");
    presigner
        .identity(now + super::NO_EXPIRY_REFRESH)
        .await
        .unwrap();
    let third = presigner
        .identity
        .lock()
        .unwrap()
        .as_ref()
        .map(|c| c.refresh_at);
    assert_eq!(third, Some(now + super::NO_EXPIRY_REFRESH * 2), "reloaded");
}

/// Expiring credentials are replaced before they expire.
#[tokio::test]
async fn expiring_credentials_are_refreshed_before_expiry() {
    let now = fixed_time();
    let expiring = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "secret",
        Some("token".into()),
        Some(now + Duration::from_secs(3600)),
        "test",
    );
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(expiring))
        .build();
    let presigner = Presigner::new(&config, false);
    presigner.identity(now).await.unwrap();
    let refresh_at = presigner
        .identity
        .lock()
        .unwrap()
        .as_ref()
        .map(|c| c.refresh_at);
    assert_eq!(
        refresh_at,
        Some(now + Duration::from_secs(3600) - super::EXPIRY_BUFFER)
    );
}
