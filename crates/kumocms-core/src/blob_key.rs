//! The layout of blob keys. Keys are built only from a document id and a revision
//! number, never from a client's file name, so no name can traverse paths or collide
//! with another document's content.
//!
//! ```text
//! documents/<ULID>/r<revision>             content
//! documents/<ULID>/r<revision>.meta.json   sidecar metadata, merged into user metadata
//! ```

use crate::id::DocumentId;

pub const PREFIX: &str = "documents/";
const SIDECAR_SUFFIX: &str = ".meta.json";

/// The key of a document's content for one revision.
pub fn content_key(id: &DocumentId, revision: u32) -> String {
    format!("{PREFIX}{id}/r{revision}")
}

/// The sidecar key that belongs to a content key.
pub fn sidecar_key(content_key: &str) -> String {
    format!("{content_key}{SIDECAR_SUFFIX}")
}

/// The prefix under which every blob of a document lives.
pub fn document_prefix(id: &DocumentId) -> String {
    format!("{PREFIX}{id}/")
}

/// What a blob key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParsedKey {
    Content { id: DocumentId, revision: u32 },
    Sidecar { id: DocumentId, revision: u32 },
}

impl ParsedKey {
    pub fn id(&self) -> DocumentId {
        match self {
            Self::Content { id, .. } | Self::Sidecar { id, .. } => *id,
        }
    }
}

/// Parses a key of our own layout. Anything else (other prefixes, folders, crafted
/// extensions) is `None` and ignored by the event processor.
pub fn parse(key: &str) -> Option<ParsedKey> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, name) = rest.split_once('/')?;
    let id: DocumentId = id.parse().ok()?;
    let (revision, sidecar) = match name.strip_suffix(SIDECAR_SUFFIX) {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let digits = revision.strip_prefix('r')?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    let revision: u32 = digits.parse().ok()?;
    if revision == 0 {
        return None;
    }
    Some(if sidecar {
        ParsedKey::Sidecar { id, revision }
    } else {
        ParsedKey::Content { id, revision }
    })
}

/// True for keys that are safe to map onto a file system path: only characters of
/// our own layout, no empty, `.` or `..` segments.
pub fn is_safe(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_sidecar_keys_round_trip() {
        let id = DocumentId::new();
        let key = content_key(&id, 3);
        assert_eq!(parse(&key), Some(ParsedKey::Content { id, revision: 3 }));
        assert_eq!(
            parse(&sidecar_key(&key)),
            Some(ParsedKey::Sidecar { id, revision: 3 })
        );
        assert!(is_safe(&key) && is_safe(&sidecar_key(&key)));
    }

    #[test]
    fn foreign_and_crafted_keys_are_not_ours() {
        let id = DocumentId::new();
        for key in [
            format!("{id}.pdf"),
            format!("documents/{id}"),
            format!("documents/{id}/"),
            format!("documents/{id}/r0"),
            format!("documents/{id}/r01"),
            format!("documents/{id}/r1/../r2"),
            format!("documents/{id}/r1.pdf"),
            format!("documents/{id}/r1.meta.json.meta.json"),
            format!("documents/{}/r1", id.to_string().to_lowercase()),
            "documents/../etc/r1".to_string(),
            format!("temp/{id}/r1"),
        ] {
            assert_eq!(parse(&key), None, "{key}");
        }
    }

    #[test]
    fn unsafe_keys_are_refused() {
        for key in [
            "", "../x", "a//b", "a/./b", "/abs", "a\\b", "a b", "a/..", "é",
        ] {
            assert!(!is_safe(key), "{key:?}");
        }
    }
}
