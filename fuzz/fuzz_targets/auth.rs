//! Bearer parsing and key checks: `bearer_key` never panics and never yields a
//! blank or space-containing key; `ApiKeys::verify` accepts exactly the two keys.
#![no_main]

use kumocms_core::auth::{ApiKeys, KeyDigest, KeyMatch, bearer_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let keys = ApiKeys::from_plain("the-current-key", Some("the-previous-key"))
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(key) = bearer_key(&text) {
        assert!(!key.is_empty() && key.len() <= 512);
        assert!(!key.chars().any(char::is_whitespace));
        let matched = keys.verify(key);
        match key {
            "the-current-key" => assert_eq!(matched, Some(KeyMatch::Current)),
            "the-previous-key" => assert_eq!(matched, Some(KeyMatch::Previous)),
            _ => assert_eq!(matched, None),
        }
    }
    let raw = keys.verify(&text);
    assert!(raw.is_none() || text == "the-current-key" || text == "the-previous-key");
    // A key configured from fuzzed text is never blank, and accepts only itself.
    if let Ok(own) = ApiKeys::from_plain(&text, None) {
        assert!(!text.trim().is_empty());
        assert_eq!(own.verify(&text), Some(KeyMatch::Current));
        assert_eq!(own.verify(&format!("{text}x")), None);
    }
    let _ = KeyDigest::from_hex(&text);
});
