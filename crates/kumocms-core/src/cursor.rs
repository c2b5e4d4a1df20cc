//! Opaque, tamper-evident listing cursors. A cursor carries the store's position and
//! the filter it was issued for, signed with HMAC-SHA256: a forged or edited cursor,
//! or one reused with another filter, is refused instead of reading another listing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::validate::ValidationError;

type HmacSha256 = Hmac<Sha256>;

/// The filter a listing was asked for; a cursor is valid only with the same filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ListFilter {
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A search (`GET /documents` with `q` or other filters): a digest of the whole
    /// checked query, so a cursor is refused with any other parameter.
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The store's own position (an id, or a serialised DynamoDB key).
    p: String,
    #[serde(flatten)]
    filter: ListFilter,
}

#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

const TAG_BYTES: usize = 16;
const MAX_CURSOR_LEN: usize = 4096;

fn invalid() -> ValidationError {
    ValidationError::invalid(
        "invalid_cursor",
        "cursor is not one this listing issued; pass next_cursor back unchanged, with the same type and status filters",
    )
}

impl CursorCodec {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(payload);
        mac.finalize().into_bytes()[..TAG_BYTES].to_vec()
    }

    pub fn encode(&self, position: &str, filter: &ListFilter) -> String {
        let payload = serde_json::to_vec(&Payload {
            p: position.to_owned(),
            filter: filter.clone(),
        })
        .unwrap_or_default();
        let tag = self.tag(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Returns the store position of a cursor issued for `filter`.
    pub fn decode(&self, cursor: &str, filter: &ListFilter) -> Result<String, ValidationError> {
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| invalid())?;
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        if tag.len() != TAG_BYTES {
            return Err(invalid());
        }
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if &payload.filter != filter {
            return Err(invalid());
        }
        Ok(payload.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(t: Option<&str>) -> ListFilter {
        ListFilter {
            document_type: t.map(str::to_owned),
            status: None,
            query: None,
        }
    }

    #[test]
    fn round_trips_with_the_same_filter() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode("01ABC", &filter(Some("invoice")));
        assert_eq!(
            codec.decode(&cursor, &filter(Some("invoice"))).as_deref(),
            Ok("01ABC")
        );
    }

    #[test]
    fn refuses_other_filters_keys_and_edits() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode("01ABC", &filter(Some("invoice")));
        assert!(codec.decode(&cursor, &filter(None)).is_err());
        assert!(
            CursorCodec::new(b"other")
                .decode(&cursor, &filter(Some("invoice")))
                .is_err()
        );
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"p":"01ZZZ","t":"invoice"}"#);
        assert!(
            codec
                .decode(&format!("{forged}.{tag}"), &filter(Some("invoice")))
                .is_err()
        );
        assert!(codec.decode(payload, &filter(Some("invoice"))).is_err());
        assert!(
            codec
                .decode(&format!("{payload}."), &filter(Some("invoice")))
                .is_err()
        );
        assert!(codec.decode("garbage", &filter(None)).is_err());
    }
}
