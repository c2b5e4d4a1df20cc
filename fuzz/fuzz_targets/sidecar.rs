//! `.meta.json` sidecar parsing: any bytes give a JSON object within the metadata
//! limit, or nothing; never a panic.
#![no_main]

use kumocms_core::events::parse_sidecar;
use kumocms_core::validate::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for limits in [
        Limits::default(),
        Limits {
            max_metadata_bytes: 64,
            ..Limits::default()
        },
    ] {
        if let Some(map) = parse_sidecar(data, &limits) {
            assert!(data.len() <= limits.max_metadata_bytes);
            let size = serde_json::to_vec(&map)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            assert!(size <= limits.max_metadata_bytes, "{size}");
        }
    }
});
