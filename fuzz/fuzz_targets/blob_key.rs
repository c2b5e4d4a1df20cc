//! Blob key parsing: `parse` accepts only keys of our own layout (and they
//! round-trip), and `is_safe` never lets a key traverse out of the blob directory.
#![no_main]

use kumocms_core::blob_key::{self, ParsedKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(parsed) = blob_key::parse(&text) {
        let rebuilt = match parsed {
            ParsedKey::Content { id, revision } => blob_key::content_key(&id, revision),
            ParsedKey::Sidecar { id, revision } => {
                blob_key::sidecar_key(&blob_key::content_key(&id, revision))
            }
        };
        assert_eq!(
            rebuilt, text,
            "a key of our layout has exactly one spelling"
        );
        assert!(blob_key::is_safe(&text));
    }
    if blob_key::is_safe(&text) {
        let path = std::path::Path::new(&*text);
        assert!(path.is_relative());
        assert!(
            path.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        );
    }
});
