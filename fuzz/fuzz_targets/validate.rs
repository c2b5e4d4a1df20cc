//! `kumocms_core::validate` on arbitrary values: every function returns a value or a
//! coded error, never panics; what it accepts keeps the rules it promises.
#![no_main]

use kumocms_core::validate::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = Limits::default();

    if let Ok(name) = validate::file_name(&text) {
        assert!(!name.is_empty() && name.len() <= 255);
        assert!(!name.contains(['/', '\\']) && name != "." && name != "..");
        assert!(!name.chars().any(char::is_control));
    }
    if let Ok(content_type) = validate::content_type(Some(&text)) {
        // Echoed into upload headers: printable ASCII only.
        assert!(content_type.bytes().all(|b| (0x20..0x7f).contains(&b)));
        assert!(http::HeaderValue::from_str(&content_type).is_ok());
    }
    if let Ok(Some(sum)) = validate::checksum_sha256(Some(&text)) {
        assert!(
            sum.len() == 64
                && sum
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    if let Ok(kind) = validate::document_type(Some(&text)) {
        assert!(!kind.is_empty() && kind.len() <= 64);
    }
    if data.len() >= 8 {
        let size = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
        let _ = validate::file_size(size, &limits);
        let _ = validate::restore_days(size as u32);
    }

    // Metadata: an object within the limit, and a merge patch of it onto itself and
    // onto a fixed record.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(map) = validate::metadata(Some(value.clone()), &limits) {
        assert!(
            serde_json::to_vec(&map)
                .map(|v| v.len())
                .unwrap_or(usize::MAX)
                <= limits.max_metadata_bytes
        );
        let current = serde_json::json!({"author": "Ada", "nested": {"a": 1}});
        let current = current.as_object().cloned().unwrap_or_default();
        if let Ok(merged) = validate::merge_metadata(&current, map.clone(), &limits) {
            assert!(
                serde_json::to_vec(&merged)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX)
                    <= limits.max_metadata_bytes
            );
            // RFC 7396: null removes, so no null survives at the top level from the patch.
            for (key, value) in &map {
                if value.is_null() {
                    assert!(!merged.contains_key(key));
                }
            }
        }
        let _ = validate::merge_metadata(&map, map.clone(), &limits);
    }
});
