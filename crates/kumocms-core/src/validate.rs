//! Validation of everything a client sends. Each failure names the field and says
//! what a valid value looks like.

use serde_json::{Map, Value};

/// Sizes the service enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest content a document may have, in bytes.
    pub max_file_size: u64,
    /// The largest user metadata object, serialised as JSON, in bytes.
    pub max_metadata_bytes: usize,
}

/// S3's largest object (5 TiB), sent in parts past 5 GiB (see [`crate::multipart`]).
pub const DEFAULT_MAX_FILE_SIZE: u64 = crate::multipart::MAX_OBJECT_SIZE;
pub const DEFAULT_MAX_METADATA_BYTES: usize = 16 * 1024;
pub const DEFAULT_DOCUMENT_TYPE: &str = "default";
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
        }
    }
}

/// Whether a value was malformed or merely too large (HTTP 400 or 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationKind {
    Invalid,
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub kind: ValidationKind,
    pub code: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ValidationKind::Invalid,
            code,
            message: message.into(),
        }
    }

    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ValidationKind::TooLarge,
            code,
            message: message.into(),
        }
    }
}

pub fn file_name(name: &str) -> Result<String, ValidationError> {
    let bad = |why: &str| {
        ValidationError::invalid(
            "invalid_file_name",
            format!("file_name {why}; give a plain name such as \"report.pdf\""),
        )
    };
    if name.is_empty() || name.len() > 255 {
        return Err(bad("must be 1 to 255 bytes long"));
    }
    if name == "." || name == ".." {
        return Err(bad("cannot be \".\" or \"..\""));
    }
    if name.contains(['/', '\\']) {
        return Err(bad("cannot contain \"/\" or \"\\\""));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("cannot contain control characters"));
    }
    if name.chars().any(is_bidi_control) {
        return Err(bad(
            "cannot contain bidirectional control characters (they can make \"gpj.exe\" display as \"exe.jpg\")",
        ));
    }
    if name.trim().is_empty() {
        return Err(bad("cannot be blank"));
    }
    Ok(name.to_owned())
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates
/// and the implicit marks): invisible, they reorder how a name is displayed.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A media type as RFC 9110 writes it: `type/subtype`, then `; name=value`
/// parameters whose values are tokens or quoted strings, spaces around `;`.
/// Kept to printable ASCII because the value is echoed into upload headers.
pub fn content_type(value: Option<&str>) -> Result<String, ValidationError> {
    let Some(value) = value else {
        return Ok(DEFAULT_CONTENT_TYPE.to_owned());
    };
    if value.len() <= 255 && is_media_type(value) {
        Ok(value.to_owned())
    } else {
        Err(ValidationError::invalid(
            "invalid_content_type",
            "content_type must be a media type such as \"application/pdf\" or \"text/plain; charset=utf-8\"",
        ))
    }
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b)
}

/// A token that starts with a letter or digit, as `type` and `subtype` must.
fn take_token(s: &[u8], alnum_first: bool) -> Option<(&[u8], &[u8])> {
    let end = s.iter().position(|&b| !is_token_char(b)).unwrap_or(s.len());
    if end == 0 || (alnum_first && !s[0].is_ascii_alphanumeric()) {
        return None;
    }
    Some(s.split_at(end))
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    &s[start..]
}

fn is_media_type(value: &str) -> bool {
    let parse = || -> Option<()> {
        let (_, rest) = take_token(value.as_bytes(), true)?;
        let rest = rest.strip_prefix(b"/")?;
        let (_, mut rest) = take_token(rest, true)?;
        loop {
            rest = skip_spaces(rest);
            if rest.is_empty() {
                return Some(());
            }
            rest = skip_spaces(rest.strip_prefix(b";")?);
            let (_, after_name) = take_token(rest, false)?;
            rest = after_name.strip_prefix(b"=")?;
            rest = match rest.strip_prefix(b"\"") {
                Some(quoted) => {
                    let end = quoted.iter().position(|&b| b == b'"')?;
                    let inner = &quoted[..end];
                    if !inner
                        .iter()
                        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
                    {
                        return None;
                    }
                    &quoted[end + 1..]
                }
                None => take_token(rest, false)?.1,
            };
        }
    };
    parse().is_some()
}

pub fn file_size(size: u64, limits: &Limits) -> Result<u64, ValidationError> {
    if size == 0 {
        return Err(ValidationError::invalid(
            "invalid_file_size",
            "file_size must be at least 1 byte",
        ));
    }
    if size > limits.max_file_size {
        return Err(ValidationError::too_large(
            "file_too_large",
            format!(
                "file_size {size} is over the limit of {} bytes",
                limits.max_file_size
            ),
        ));
    }
    Ok(size)
}

/// A SHA-256 as 64 hexadecimal digits, returned in lower case.
pub fn checksum_sha256(value: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(value) = value else { return Ok(None) };
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ValidationError::invalid(
            "invalid_checksum",
            "checksum_sha256 must be the SHA-256 of the content as 64 hexadecimal digits",
        ));
    }
    Ok(Some(value.to_ascii_lowercase()))
}

pub fn document_type(value: Option<&str>) -> Result<String, ValidationError> {
    let Some(value) = value else {
        return Ok(DEFAULT_DOCUMENT_TYPE.to_owned());
    };
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(ValidationError::invalid(
            "invalid_document_type",
            "document_type must be 1 to 64 characters of letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(value.to_owned())
}

/// User metadata: a JSON object whose serialised size is within the limit.
pub fn metadata(
    value: Option<Value>,
    limits: &Limits,
) -> Result<Map<String, Value>, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => metadata_size(map, limits),
        Some(_) => Err(ValidationError::invalid(
            "invalid_metadata",
            "metadata must be a JSON object, e.g. {\"author\": \"Ada\"}",
        )),
    }
}

fn metadata_size(
    map: Map<String, Value>,
    limits: &Limits,
) -> Result<Map<String, Value>, ValidationError> {
    let size = serde_json::to_vec(&map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > limits.max_metadata_bytes {
        return Err(ValidationError::too_large(
            "metadata_too_large",
            format!(
                "metadata is {size} bytes as JSON; the limit is {} bytes",
                limits.max_metadata_bytes
            ),
        ));
    }
    Ok(map)
}

/// Applies a JSON merge patch (RFC 7396) to user metadata: `null` removes a key,
/// objects merge recursively, anything else replaces. The result must fit the limit.
pub fn merge_metadata(
    current: &Map<String, Value>,
    patch: Map<String, Value>,
    limits: &Limits,
) -> Result<Map<String, Value>, ValidationError> {
    let mut merged = Value::Object(current.clone());
    merge_patch(&mut merged, Value::Object(patch));
    match merged {
        Value::Object(map) => metadata_size(map, limits),
        _ => Err(ValidationError::invalid(
            "invalid_metadata",
            "metadata must be a JSON object",
        )),
    }
}

fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                for (key, value) in patch {
                    if value.is_null() {
                        target.remove(&key);
                    } else {
                        merge_patch(target.entry(key).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

pub fn restore_days(days: u32) -> Result<u16, ValidationError> {
    if (1..=365).contains(&days) {
        Ok(days as u16)
    } else {
        Err(ValidationError::invalid(
            "invalid_restore_days",
            "days must be between 1 and 365",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Issue 16, item 15: bidirectional controls would spoof a download's extension.
    #[test]
    fn file_names_with_bidi_controls_are_refused() {
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            let name = format!("evil{c}gpj.exe");
            assert_eq!(
                file_name(&name).map_err(|e| e.code),
                Err("invalid_file_name"),
                "{name:?}"
            );
        }
        // Right-to-left text itself is fine.
        assert!(file_name("\u{05e9}\u{05dc}\u{05d5}\u{05dd}.txt").is_ok());
    }

    #[test]
    fn file_names_that_traverse_or_hide_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "..\\x",
            "x\0y",
            "line\nbreak",
            "   ",
            &"a".repeat(256),
        ] {
            assert_eq!(
                file_name(bad).map_err(|e| e.code),
                Err("invalid_file_name"),
                "{bad:?}"
            );
        }
        for good in [
            "report.pdf",
            "..hidden",
            "a..b",
            "日本語.txt",
            "evil.<script>",
            &"a".repeat(255),
        ] {
            assert!(file_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn content_types_must_parse() {
        assert_eq!(content_type(None).as_deref(), Ok(DEFAULT_CONTENT_TYPE));
        assert_eq!(
            content_type(Some("application/pdf")).as_deref(),
            Ok("application/pdf")
        );
        for good in [
            "text/plain; charset=utf-8",
            "text/plain ;charset=\"utf 8\"",
            "application/vnd.api+json",
            "cWL1H60+/y  ;   CyKpr!#6+9VN0.=\";m\"  ;  GB0=8",
        ] {
            assert_eq!(content_type(Some(good)).as_deref(), Ok(good), "{good:?}");
        }
        for bad in [
            "pdf",
            "",
            "text/",
            "/plain",
            "text/plain\r\nX-Evil: 1",
            "a/b/c",
            "text/plain;",
            "text/plain; charset",
            "text/plain; a=\"unterminated",
            "text/plain; a=\"back\\slash\"",
            "text/plain\t; a=b",
            "-text/plain",
            "téxt/plain",
        ] {
            assert!(content_type(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_size_bounds() {
        let limits = Limits {
            max_file_size: 10,
            ..Limits::default()
        };
        assert_eq!(
            file_size(0, &limits).map_err(|e| e.kind),
            Err(ValidationKind::Invalid)
        );
        assert_eq!(file_size(10, &limits), Ok(10));
        assert_eq!(
            file_size(11, &limits).map_err(|e| e.kind),
            Err(ValidationKind::TooLarge)
        );
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        let limits = Limits {
            max_metadata_bytes: 32,
            ..Limits::default()
        };
        assert!(metadata(Some(json!([1])), &limits).is_err());
        assert!(metadata(Some(json!("x")), &limits).is_err());
        assert_eq!(metadata(None, &limits), Ok(Map::new()));
        let big = json!({ "k": "x".repeat(40) });
        assert_eq!(
            metadata(Some(big), &limits).map_err(|e| e.code),
            Err("metadata_too_large")
        );
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let current = json!({"a": 1, "b": {"c": 2, "d": 3}})
            .as_object()
            .cloned()
            .unwrap();
        let patch = json!({"a": null, "b": {"c": null, "e": 4}, "f": [1]})
            .as_object()
            .cloned()
            .unwrap();
        let merged = merge_metadata(&current, patch, &Limits::default()).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"b": {"d": 3, "e": 4}, "f": [1]})
        );
    }

    #[test]
    fn checksums_are_hex_sha256() {
        let hex = "A".repeat(64);
        assert_eq!(checksum_sha256(Some(&hex)), Ok(Some("a".repeat(64))));
        assert!(checksum_sha256(Some("xyz")).is_err());
        assert!(checksum_sha256(Some(&"g".repeat(64))).is_err());
    }
}
