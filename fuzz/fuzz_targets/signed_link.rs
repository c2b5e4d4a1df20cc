//! `LinkSigner::verify` with an arbitrary method, key and query string: never a
//! panic, and never accepted unless it is exactly a link the signer issued.
#![no_main]

use chrono::{DateTime, Utc};
use kumocms_local::{LinkMethod, LinkQuery, LinkSigner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let method = match selector % 3 {
        0 => LinkMethod::Upload,
        1 => LinkMethod::Download,
        _ => LinkMethod::UploadPart,
    };
    let text = String::from_utf8_lossy(rest);
    let (key, query) = text.split_once('?').unwrap_or((&text, ""));
    let signer = LinkSigner::new([7; 32]);
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();

    // The query as the blob router reads it.
    let Ok(uri) = format!("/blobs/x?{query}").parse::<http::Uri>() else {
        return;
    };
    let Ok(axum::extract::Query(parsed)) = axum::extract::Query::<LinkQuery>::try_from_uri(&uri)
    else {
        return;
    };
    if let Ok(link) = signer.verify(method, key, &parsed, now) {
        // Accepted: it must be what the signer would have issued for these fields.
        let base = "http://h";
        let reissued = match method {
            LinkMethod::Upload => signer.sign_upload(
                base,
                key,
                link.expires_at,
                link.length.unwrap_or_default(),
                &link.content_type,
                link.sha256.as_deref(),
            ),
            LinkMethod::UploadPart => signer.sign_part(
                base,
                key,
                link.upload_id.as_deref().unwrap_or_default(),
                link.part_number.unwrap_or_default(),
                link.expires_at,
                link.length.unwrap_or_default(),
            ),
            LinkMethod::Download => signer.sign_download(
                base,
                key,
                link.expires_at,
                &link.content_type,
                link.file_name.as_deref().unwrap_or_default(),
            ),
        };
        let sig = reissued.rsplit_once("&sig=").map(|(_, s)| s.to_owned());
        assert_eq!(
            sig, parsed.sig,
            "accepted a signature the signer did not make"
        );
        assert!(link.expires_at > now);
    }

    // A genuine link for fuzzed fields must verify; with any one field changed it must not.
    let expires = now + chrono::Duration::seconds(60);
    let url = signer.sign_upload("http://h", key, expires, rest.len() as u64, &text, None);
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    if let Ok(uri) = format!("/b?{query}").parse::<http::Uri>()
        && let Ok(axum::extract::Query(genuine)) =
            axum::extract::Query::<LinkQuery>::try_from_uri(&uri)
    {
        assert!(
            signer
                .verify(LinkMethod::Upload, key, &genuine, now)
                .is_ok()
        );
        let mut longer = genuine.clone();
        longer.length = Some((rest.len() as u64 + 1).to_string());
        assert!(
            signer
                .verify(LinkMethod::Upload, key, &longer, now)
                .is_err()
        );
        let mut checksummed = genuine.clone();
        checksummed.sha256 = Some("0".repeat(64));
        assert!(
            signer
                .verify(LinkMethod::Upload, key, &checksummed, now)
                .is_err()
        );
        assert!(
            signer
                .verify(LinkMethod::Download, key, &genuine, now)
                .is_err()
        );
        assert!(
            signer
                .verify(LinkMethod::Upload, key, &genuine, expires)
                .is_err()
        );
    }
});
