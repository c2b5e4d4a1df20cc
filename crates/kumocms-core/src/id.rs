use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// A document's identifier: a ULID in its canonical 26-character upper-case form.
///
/// Parsing is strict (no lower case, no surrounding space) so that one document has
/// exactly one spelling, in URLs, blob keys and records alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(Ulid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a document id is a 26-character ULID in upper case, e.g. 01HZX3J6Q8M4N2P5R7S9T1V3W5")]
pub struct InvalidDocumentId;

impl DocumentId {
    pub fn new() -> Self {
        Self(Ulid::new())
    }

    pub fn from_ulid(ulid: Ulid) -> Self {
        Self(ulid)
    }
}

impl Default for DocumentId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for DocumentId {
    type Err = InvalidDocumentId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The first character is at most '7': 26 base32 digits hold 130 bits, a ULID 128.
        let canonical = s.len() == 26
            && s.as_bytes()[0] <= b'7'
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)));
        if !canonical {
            return Err(InvalidDocumentId);
        }
        Ulid::from_string(s)
            .map(Self)
            .map_err(|_| InvalidDocumentId)
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for DocumentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_new_id() {
        let id = DocumentId::new();
        assert_eq!(id.to_string().parse::<DocumentId>(), Ok(id));
    }

    #[test]
    fn refuses_non_canonical_spellings() {
        let id = DocumentId::new().to_string();
        for bad in [
            "".to_string(),
            id.to_lowercase(),
            format!(" {id}"),
            format!("{id}0"),
            id[..25].to_string(),
            "../../etc/passwd".to_string(),
            "0123456789ABCDEFGHJKMNPQRSTVWXYZ".to_string(),
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ".to_string(),
            "01ARZ3NDEKTSV4RRFFQ69G5FAI".to_string(),
        ] {
            assert_eq!(bad.parse::<DocumentId>(), Err(InvalidDocumentId), "{bad:?}");
        }
    }
}
