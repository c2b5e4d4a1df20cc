//! The `events` function's parser: EventBridge S3 events (`storage_event`, with the
//! key decoding of `object_key`). Never a panic; a key it maps is ours or left as sent.
#![no_main]

use kumocms_core::blob_key;
use kumocms_lambda::events::{object_key, storage_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = object_key(&text);
    assert!(key == *text || blob_key::parse(&key).is_some(), "{key:?}");
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(event) = storage_event(&value)
    {
        let raw = value["detail"]["object"]["key"]
            .as_str()
            .unwrap_or_default();
        assert!(event.key() == raw || blob_key::parse(event.key()).is_some());
    }
});
