//! API keys: parsing the `Authorization` header and checking a presented key against
//! the current and previous keys in constant time. Keys are held only as SHA-256
//! digests, so a key never sits in memory longer than one request and never in logs.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of an API key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

impl KeyDigest {
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    pub fn from_hex(hex_text: &str) -> Option<Self> {
        let bytes = hex::decode(hex_text.trim()).ok()?;
        bytes.try_into().ok().map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn matches(&self, other: &KeyDigest) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

/// Which of the configured keys a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    Current,
    Previous,
}

impl KeyMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Previous => "previous",
        }
    }
}

/// The longest key a request can present ([`bearer_key`] refuses longer ones).
pub const MAX_KEY_BYTES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    #[error("the current API key is missing or blank")]
    MissingCurrent,
    #[error(
        "the {which} API key is {len} bytes long; keys of more than {MAX_KEY_BYTES} bytes are never accepted in a request, so every request would get 401. Use a shorter key"
    )]
    TooLong { which: &'static str, len: usize },
    #[error(
        "the {which} API key contains whitespace (at its start, its end or inside); an Authorization header cannot carry it, so every request would get 401. Remove the whitespace"
    )]
    Whitespace { which: &'static str },
    #[error(
        "the {which} API key contains a character outside printable ASCII (a control character or non-ASCII text); an Authorization header cannot carry it, so every request would get 401. Use letters, digits and punctuation"
    )]
    NotPrintable { which: &'static str },
}

/// Refuses a configured key that no request could ever present: over
/// [`MAX_KEY_BYTES`], with whitespace anywhere, or with a character outside printable
/// ASCII (header values are read as visible ASCII). `which` names the key in the
/// message ("current", "previous"). A blank key is the caller's own case.
pub fn check_configured_key(which: &'static str, key: &str) -> Result<(), KeyConfigError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyConfigError::TooLong {
            which,
            len: key.len(),
        });
    }
    if key.chars().any(char::is_whitespace) {
        return Err(KeyConfigError::Whitespace { which });
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyConfigError::NotPrintable { which });
    }
    Ok(())
}

/// The keys that are accepted: the current one and, during a rotation, the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeys {
    current: KeyDigest,
    previous: Option<KeyDigest>,
}

impl ApiKeys {
    /// Builds the key set from plain keys. A blank key is never accepted: a blank
    /// previous key is dropped, a blank current key is an error. A key no request
    /// could present ([`check_configured_key`]) is an error that says why.
    pub fn from_plain(current: &str, previous: Option<&str>) -> Result<Self, KeyConfigError> {
        if is_blank(current) {
            return Err(KeyConfigError::MissingCurrent);
        }
        check_configured_key("current", current)?;
        if let Some(previous) = previous.filter(|p| !is_blank(p)) {
            check_configured_key("previous", previous)?;
        }
        Ok(Self {
            current: KeyDigest::of(current),
            previous: previous.filter(|p| !is_blank(p)).map(KeyDigest::of),
        })
    }

    pub fn from_digests(current: KeyDigest, previous: Option<KeyDigest>) -> Self {
        Self { current, previous }
    }

    /// Checks a presented key. Digests are compared in constant time and both are
    /// always compared, so timing does not tell which key, if any, was close.
    pub fn verify(&self, presented: &str) -> Option<KeyMatch> {
        if is_blank(presented) {
            return None;
        }
        let digest = KeyDigest::of(presented);
        let current: bool = self.current.matches(&digest).into();
        let previous: bool = self
            .previous
            .as_ref()
            .is_some_and(|previous| previous.matches(&digest).into());
        match (current, previous) {
            (true, _) => Some(KeyMatch::Current),
            (false, true) => Some(KeyMatch::Previous),
            _ => None,
        }
    }
}

fn is_blank(key: &str) -> bool {
    key.trim().is_empty()
}

/// Extracts the key from an `Authorization: Bearer <key>` header value. The scheme is
/// case-insensitive; anything else (no scheme, another scheme, a blank key, a key
/// with inner whitespace) yields `None`.
pub fn bearer_key(header_value: &str) -> Option<&str> {
    let (scheme, key) = header_value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_whitespace) {
        return None;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_previous_keys_are_told_apart() {
        let keys = ApiKeys::from_plain("new-key", Some("old-key")).unwrap();
        assert_eq!(keys.verify("new-key"), Some(KeyMatch::Current));
        assert_eq!(keys.verify("old-key"), Some(KeyMatch::Previous));
        assert_eq!(keys.verify("other"), None);
        assert_eq!(keys.verify("new-key "), None);
    }

    #[test]
    fn blank_keys_are_never_accepted() {
        assert_eq!(
            ApiKeys::from_plain("  ", None),
            Err(KeyConfigError::MissingCurrent)
        );
        let keys = ApiKeys::from_plain("k", Some(" ")).unwrap();
        assert_eq!(keys.verify(""), None);
        assert_eq!(keys.verify(" "), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_strict() {
        assert_eq!(bearer_key("Bearer abc"), Some("abc"));
        assert_eq!(bearer_key("bearer abc"), Some("abc"));
        assert_eq!(bearer_key("BEARER  abc "), Some("abc"));
        for bad in [
            "abc",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Basic abc",
            "Bearer a b",
        ] {
            assert_eq!(bearer_key(bad), None, "{bad:?}");
        }
    }

    /// Issue 16, item 9: a key no request can present is refused when configured.
    #[test]
    fn keys_no_request_can_present_are_refused_with_the_reason() {
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            ApiKeys::from_plain(&long, None),
            Err(KeyConfigError::TooLong {
                which: "current",
                len: 513
            })
        ));
        assert!(ApiKeys::from_plain(&"k".repeat(MAX_KEY_BYTES), None).is_ok());
        for spaced in [" key", "key ", "ke y", "\tkey", "key\n", "k\u{a0}ey"] {
            let error = ApiKeys::from_plain(spaced, None).unwrap_err();
            assert_eq!(
                error,
                KeyConfigError::Whitespace { which: "current" },
                "{spaced:?}"
            );
            assert!(error.to_string().contains("whitespace"), "{error}");
        }
        assert_eq!(
            ApiKeys::from_plain("good", Some(" old")).unwrap_err(),
            KeyConfigError::Whitespace { which: "previous" }
        );
        assert_eq!(
            ApiKeys::from_plain("cl\u{e9}", None).unwrap_err(),
            KeyConfigError::NotPrintable { which: "current" }
        );
        assert!(
            ApiKeys::from_plain("good", Some(&long))
                .unwrap_err()
                .to_string()
                .contains("513 bytes")
        );
    }

    #[test]
    fn confusable_keys_do_not_match() {
        let keys = ApiKeys::from_plain("paypal-key", None).unwrap();
        // Cyrillic 'а' looks like Latin 'a'.
        assert_eq!(keys.verify("p\u{0430}ypal-key"), None);
        assert_eq!(keys.verify(&"x".repeat(10_000)), None);
    }
}
