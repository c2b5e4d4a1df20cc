//! The API keys of the local server: given by the operator (`KUMOCMS_API_KEY`,
//! `KUMOCMS_API_KEY_PREVIOUS`, read by the CLI and passed in), or generated on first
//! start and kept only as a SHA-256 digest in `<data_dir>/api-key.sha256`.

use std::io::{self, Write};
use std::path::Path;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kumocms_core::auth::{ApiKeys, KeyDigest};
use kumocms_core::ports::{KeySource, SecretsError};
use rand::RngCore;

use crate::fsutil;

pub const API_KEY_DIGEST_FILE: &str = "api-key.sha256";
pub const API_KEY_PREFIX: &str = "kcms_";

/// Generates an API key when `<data_dir>/api-key.sha256` does not exist yet: 32
/// random bytes, base64url, prefixed `kcms_`. Only the key's SHA-256 (hex) is
/// written (mode 0600); the key itself is returned once, for the CLI to print.
/// Returns `None` when a digest already exists.
pub fn generate_api_key(data_dir: &Path) -> io::Result<Option<String>> {
    let path = data_dir.join(API_KEY_DIGEST_FILE);
    if path.exists() {
        return Ok(None);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = KeyDigest::of(&key).to_hex();
    let created = fsutil::write_new_private(&path, |file| writeln!(file, "{digest}"))?;
    // Another process generated one at the same moment: its key is the one kept.
    Ok(created.then_some(key))
}

/// Reads the digest file written by [`generate_api_key`].
pub fn read_key_digest(data_dir: &Path) -> io::Result<Option<KeyDigest>> {
    let path = data_dir.join(API_KEY_DIGEST_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => KeyDigest::from_hex(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} must hold the SHA-256 of the API key as 64 hex digits",
                    path.display()
                ),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0} is set but blank; set it to a key, or unset it to use the generated key")]
    Blank(&'static str),
    #[error(
        "no API key: set KUMOCMS_API_KEY or let kumocms serve generate one in the data directory"
    )]
    Missing,
    #[error("cannot read the API key digest: {0}")]
    Unreadable(String),
    /// A key no request could present (too long, whitespace, not printable ASCII).
    #[error("{0} (KUMOCMS_API_KEY / KUMOCMS_API_KEY_PREVIOUS or their flags)")]
    Unusable(#[from] kumocms_core::auth::KeyConfigError),
}

/// The accepted keys, fixed at start-up.
#[derive(Debug, Clone)]
pub struct LocalKeys {
    keys: ApiKeys,
}

impl LocalKeys {
    /// Keys from the operator when `current` is given, else the current key's digest
    /// from the data directory. A `previous` key is accepted beside either during a
    /// rotation.
    pub fn load(
        data_dir: &Path,
        current: Option<&str>,
        previous: Option<&str>,
    ) -> Result<Self, KeyError> {
        if current.is_some_and(|k| k.trim().is_empty()) {
            return Err(KeyError::Blank("KUMOCMS_API_KEY"));
        }
        let previous = previous.filter(|p| !p.trim().is_empty());
        if let Some(previous) = previous {
            kumocms_core::auth::check_configured_key("previous", previous)?;
        }
        let previous_digest = previous.map(KeyDigest::of);
        let keys = match current {
            Some(current) => ApiKeys::from_plain(current, previous)?,
            None => {
                let digest = read_key_digest(data_dir)
                    .map_err(|e| KeyError::Unreadable(e.to_string()))?
                    .ok_or(KeyError::Missing)?;
                ApiKeys::from_digests(digest, previous_digest)
            }
        };
        Ok(Self { keys })
    }

    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }
}

#[async_trait]
impl KeySource for LocalKeys {
    async fn api_keys(&self) -> Result<ApiKeys, SecretsError> {
        Ok(self.keys.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kumocms_core::auth::KeyMatch;

    #[test]
    fn a_generated_key_is_returned_once_and_only_its_digest_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = generate_api_key(dir.path()).unwrap().unwrap();
        assert!(key.starts_with(API_KEY_PREFIX) && key.len() > 40, "{key}");
        let path = dir.path().join(API_KEY_DIGEST_FILE);
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(!stored.contains(&key[API_KEY_PREFIX.len()..]));
        assert_eq!(stored.trim(), KeyDigest::of(&key).to_hex());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(generate_api_key(dir.path()).unwrap(), None);

        let keys = LocalKeys::load(dir.path(), None, Some("old")).unwrap();
        assert_eq!(keys.keys().verify(&key), Some(KeyMatch::Current));
        assert_eq!(keys.keys().verify("old"), Some(KeyMatch::Previous));
        assert_eq!(keys.keys().verify("other"), None);
    }

    #[test]
    fn operator_keys_win_and_blank_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        generate_api_key(dir.path()).unwrap();
        let keys = LocalKeys::load(dir.path(), Some("k1"), Some("k0")).unwrap();
        assert_eq!(keys.keys().verify("k1"), Some(KeyMatch::Current));
        assert_eq!(keys.keys().verify("k0"), Some(KeyMatch::Previous));
        assert_eq!(
            LocalKeys::load(dir.path(), Some("  "), None).unwrap_err(),
            KeyError::Blank("KUMOCMS_API_KEY")
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            LocalKeys::load(empty.path(), None, None).unwrap_err(),
            KeyError::Missing
        );
    }
}
