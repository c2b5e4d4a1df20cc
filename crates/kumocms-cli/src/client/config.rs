//! Where and who: the server URL and API key from flags, the environment or a named
//! profile saved by `kumocms login`, and the directories the client keeps state in.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ClientError, ErrorKind, Result};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// The connection flags every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// The API's base URL, e.g. http://127.0.0.1:8080 or the API Gateway stage URL.
    #[arg(long, env = "KUMOCMS_URL")]
    pub url: Option<String>,
    /// The API key. A flag's value shows in process listings: prefer KUMOCMS_API_KEY,
    /// --api-key-file or a profile (`kumocms login`).
    #[arg(long, env = "KUMOCMS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A file whose first line is the API key (wins over --api-key/KUMOCMS_API_KEY).
    #[arg(long, env = "KUMOCMS_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// The saved profile to use (see `kumocms login`).
    #[arg(long, env = "KUMOCMS_PROFILE")]
    pub profile: Option<String>,
    /// Print the API's own JSON objects instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// A saved profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Profile {
    pub url: String,
    pub api_key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfileFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The resolved server and key.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub api_key: Option<String>,
}

fn dirs() -> Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "kumocms").ok_or_else(|| {
        ClientError::usage("cannot find a home directory for the config and cache (set HOME)")
    })
}

/// `<config dir>/profiles.json` (on Linux `$XDG_CONFIG_HOME/kumocms/profiles.json`).
pub fn profiles_path() -> Result<PathBuf> {
    Ok(dirs()?.config_dir().join("profiles.json"))
}

/// Where interrupted uploads remember their parts (`$XDG_CACHE_HOME/kumocms/uploads`).
pub fn uploads_cache_dir() -> Result<PathBuf> {
    Ok(dirs()?.cache_dir().join("uploads"))
}

fn load_profiles(path: &Path) -> Result<ProfileFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::usage(format!(
                "the profiles file {} is not valid JSON ({e}); fix or delete it, then run `kumocms login`",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
        Err(e) => Err(ClientError::usage(format!(
            "cannot read the profiles file {}: {e}",
            path.display()
        ))),
    }
}

/// Saves `profile` under `name`, the file readable by its owner only (0600).
pub fn save_profile(name: &str, profile: Profile) -> Result<PathBuf> {
    let path = profiles_path()?;
    let mut file = load_profiles(&path)?;
    file.profiles.insert(name.to_owned(), profile);
    let dir = path
        .parent()
        .ok_or_else(|| ClientError::usage("the profiles path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)?;
    let text = serde_json::to_vec_pretty(&file)
        .map_err(|e| ClientError::usage(format!("cannot encode the profiles: {e}")))?;
    // Written to a private temporary file, then renamed: never a moment where the key
    // sits in a file others can read, nor a half-written file.
    let temp = dir.join(".profiles.json.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temp)?;
        set_mode(&temp, 0o600)?;
        out.write_all(&text)?;
        out.sync_all()?;
    }
    std::fs::rename(&temp, &path)?;
    Ok(path)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// A key from a file: its first line, without the line break.
pub fn read_key_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ClientError::usage(format!(
            "cannot read the API key file {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

impl ConnectionArgs {
    /// The key given by flag or environment. A key file wins over a key: it is the
    /// more deliberate choice (a KUMOCMS_API_KEY left in the shell must not override
    /// an --api-key-file given on the command line).
    pub fn explicit_key(&self) -> Result<Option<String>> {
        Ok(match (&self.api_key_file, &self.api_key) {
            (Some(path), _) => Some(read_key_file(path)?),
            (None, Some(key)) => Some(key.clone()),
            (None, None) => None,
        })
    }

    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or(DEFAULT_PROFILE)
    }

    /// Flags and environment first, then the profile. A profile named explicitly must
    /// exist.
    pub fn resolve(&self) -> Result<Target> {
        let explicit_key = self.explicit_key()?;
        let path = profiles_path()?;
        let profiles = load_profiles(&path)?;
        let profile = profiles.profiles.get(self.profile_name());
        if profile.is_none() && self.profile.is_some() {
            return Err(ClientError::usage(format!(
                "no profile named {:?} in {}; create it with `kumocms login --profile {}`",
                self.profile_name(),
                path.display(),
                self.profile_name()
            )));
        }
        let url = self
            .url
            .clone()
            .or_else(|| profile.map(|p| p.url.clone()))
            .ok_or_else(|| {
                ClientError::new(
                    ErrorKind::Usage,
                    "no server URL: pass --url, set KUMOCMS_URL, or save a profile with `kumocms login`",
                )
            })?;
        let api_key = explicit_key.or_else(|| profile.map(|p| p.api_key.clone()));
        Ok(Target {
            url: url.trim_end_matches('/').to_owned(),
            api_key,
        })
    }
}
