//! The environment contract the Terraform module sets. The region is never read here:
//! the SDK takes `AWS_REGION`, which Lambda sets and reserves.
//!
//! | variable                      | read by              | meaning                                              |
//! |-------------------------------|----------------------|------------------------------------------------------|
//! | `_HANDLER`                    | all (set by Lambda)  | the role: `api`, `authorizer`, `events` or `dlq`     |
//! | `S3_BUCKET_NAME`              | api, events, dlq     | the documents bucket of this region                  |
//! | `DYNAMODB_TABLE_NAME`         | api, events, dlq     | the documents table (a global table's local replica) |
//! | `SECRETS_ARN`                 | authorizer           | secret `{"api_key": .., "api_key_previous": ..}`     |
//! | `KUMOCMS_DLQ_URL`             | dlq                  | URL of the SQS dead-letter queue to drain            |
//! | `KUMOCMS_LOG_LEVEL`           | all (optional)       | `error`..`trace` or a filter; default `info`         |
//! | `KUMOCMS_CURSOR_SECRET`       | api (optional)       | HMAC key for listing cursors; default derived        |
//! | `KUMOCMS_SECRETS_TTL_SECONDS` | authorizer (optional)| how long keys are cached; default 60                 |
//! | `KUMOCMS_REVISION_RETENTION_COUNT` | api, events, dlq (optional) | revisions kept per document; 0 (default) keeps all |
//! | `KUMOCMS_REVISION_RETENTION_DAYS`  | api, events, dlq (optional) | days a replaced revision is kept; 0 (default) for ever |
//! | `KUMOCMS_TRASH_RETENTION_DAYS`     | api, events, dlq (optional) | days in the trash before the purge; default 30, 0 purges on DELETE |
//! | `KUMOCMS_MULTIPART_THRESHOLD` | api (optional)       | uploads of at least this many bytes are multipart unless the client asks for a single PUT; default 67108864 (64 MiB), as `kumocms serve --multipart-threshold` |
//! | `KUMOCMS_MULTI_REGION_CONSISTENCY` | api, events, dlq (optional) | the table's mode: `EVENTUAL` (default): each change is written in the document's home region; `STRONG` (MRSC): in the local replica |
//! | `KUMOCMS_CORS_ALLOWED_ORIGINS` | api (optional)     | comma-separated origins (`scheme://host[:port]`) or `*` allowed to call the API from a browser; default none |
//! | `KUMOCMS_WEB_UI`              | api (optional)       | `true` (default) or `false`: serve the web interface under `/ui/` |
//! | `KUMOCMS_COGNITO_DOMAIN`      | api (optional)       | with `KUMOCMS_COGNITO_CLIENT_ID`: the interface signs in through this Cognito hosted UI (`https://…`) |
//! | `KUMOCMS_COGNITO_CLIENT_ID`   | api (optional)       | the Cognito app client the interface signs in with |
//! | `AWS_REGION`                  | SDK (set by Lambda)  | never set it yourself; Lambda reserves it            |
//! | `AWS_ENDPOINT_URL`            | SDK (tests only)     | e.g. moto; S3 then uses path-style addressing        |

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Role;

pub const S3_BUCKET_NAME: &str = "S3_BUCKET_NAME";
pub const DYNAMODB_TABLE_NAME: &str = "DYNAMODB_TABLE_NAME";
pub const SECRETS_ARN: &str = "SECRETS_ARN";
pub const KUMOCMS_DLQ_URL: &str = "KUMOCMS_DLQ_URL";
pub const KUMOCMS_LOG_LEVEL: &str = "KUMOCMS_LOG_LEVEL";
pub const KUMOCMS_CURSOR_SECRET: &str = "KUMOCMS_CURSOR_SECRET";
pub const KUMOCMS_SECRETS_TTL_SECONDS: &str = "KUMOCMS_SECRETS_TTL_SECONDS";
pub const KUMOCMS_REVISION_RETENTION_COUNT: &str = "KUMOCMS_REVISION_RETENTION_COUNT";
pub const KUMOCMS_REVISION_RETENTION_DAYS: &str = "KUMOCMS_REVISION_RETENTION_DAYS";
pub const KUMOCMS_TRASH_RETENTION_DAYS: &str = "KUMOCMS_TRASH_RETENTION_DAYS";
pub const KUMOCMS_MULTIPART_THRESHOLD: &str = "KUMOCMS_MULTIPART_THRESHOLD";
pub const KUMOCMS_MULTI_REGION_CONSISTENCY: &str = "KUMOCMS_MULTI_REGION_CONSISTENCY";
pub const KUMOCMS_CORS_ALLOWED_ORIGINS: &str = "KUMOCMS_CORS_ALLOWED_ORIGINS";
pub const KUMOCMS_WEB_UI: &str = "KUMOCMS_WEB_UI";
pub const KUMOCMS_COGNITO_DOMAIN: &str = "KUMOCMS_COGNITO_DOMAIN";
pub const KUMOCMS_COGNITO_CLIENT_ID: &str = "KUMOCMS_COGNITO_CLIENT_ID";

/// The consistency mode of the (global) documents table, as the module's
/// `dynamodb_multi_region_consistency` sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiRegionConsistency {
    /// Replicas converge by last-writer-wins: every change to a document is written
    /// to the replica in its home region (`kumocms_core::home_region`).
    #[default]
    Eventual,
    /// Multi-Region strong consistency: every replica checks conditions against the
    /// latest write, so changes go to the local replica.
    Strong,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the {role} function needs the environment variable {name}")]
    Missing { role: Role, name: &'static str },
    #[error("{name} must be {expected}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
    },
}

/// What one function reads from its environment.
#[derive(Clone)]
pub struct Settings {
    pub bucket: String,
    pub table: String,
    pub secrets_arn: String,
    pub dlq_url: String,
    pub cursor_key: Vec<u8>,
    pub secrets_ttl: Duration,
    pub log_level: String,
    pub retention: kumocms_core::revision::Retention,
    /// From this size on (bytes), an upload is multipart unless the client asks for
    /// a single PUT (`ServiceConfig::multipart_threshold`).
    pub multipart_threshold: u64,
    pub multi_region_consistency: MultiRegionConsistency,
    /// The web interface and CORS (the `api` role).
    pub web: kumocms_api::WebOptions,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bucket", &self.bucket)
            .field("table", &self.table)
            .field("secrets_arn", &self.secrets_arn)
            .field("dlq_url", &self.dlq_url)
            .field("secrets_ttl", &self.secrets_ttl)
            .field("log_level", &self.log_level)
            .field("retention", &self.retention)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("multi_region_consistency", &self.multi_region_consistency)
            .field("web", &self.web)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn from_env(role: Role) -> Result<Self, SettingsError> {
        Self::from_lookup(role, |name| std::env::var(name).ok())
    }

    /// Reads the settings `role` needs through `lookup`; blank values count as unset.
    pub fn from_lookup(
        role: Role,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str, needed: bool| match get(name) {
            Some(value) => Ok(value),
            None if needed => Err(SettingsError::Missing { role, name }),
            None => Ok(String::new()),
        };
        let storage = matches!(role, Role::Api | Role::Events | Role::Dlq);
        let bucket = required(S3_BUCKET_NAME, storage)?;
        let table = required(DYNAMODB_TABLE_NAME, storage)?;
        let secrets_arn = required(SECRETS_ARN, role == Role::Authorizer)?;
        let dlq_url = required(KUMOCMS_DLQ_URL, role == Role::Dlq)?;
        let secrets_ttl = match get(KUMOCMS_SECRETS_TTL_SECONDS) {
            None => kumocms_aws::DEFAULT_SECRETS_TTL,
            Some(text) => {
                Duration::from_secs(text.trim().parse().map_err(|_| SettingsError::Invalid {
                    name: KUMOCMS_SECRETS_TTL_SECONDS,
                    expected: "a whole number of seconds",
                })?)
            }
        };
        let multi_region_consistency = match get(KUMOCMS_MULTI_REGION_CONSISTENCY)
            .map(|v| v.trim().to_ascii_uppercase())
            .as_deref()
        {
            None | Some("EVENTUAL") => MultiRegionConsistency::Eventual,
            Some("STRONG") => MultiRegionConsistency::Strong,
            Some(_) => {
                return Err(SettingsError::Invalid {
                    name: KUMOCMS_MULTI_REGION_CONSISTENCY,
                    expected: "EVENTUAL or STRONG",
                });
            }
        };
        // Cursors must verify on every instance of the function, in every region that
        // shares the (global) table. Without a configured secret, derive one from the
        // table name: a cursor can then be forged, but it only names a position in a
        // listing the caller may read anyway, and the filter binding still holds.
        let cursor_key = match get(KUMOCMS_CURSOR_SECRET) {
            Some(secret) => secret.into_bytes(),
            None => Sha256::digest(format!("kumocms-cursor\0{table}")).to_vec(),
        };
        let whole = |name: &'static str, default: u32| match get(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<u32>()
                .map_err(|_| SettingsError::Invalid {
                    name,
                    expected: "a whole number, 0 or more",
                }),
        };
        let defaults = kumocms_core::revision::Retention::default();
        let retention = kumocms_core::revision::Retention {
            revision_count: whole(KUMOCMS_REVISION_RETENTION_COUNT, defaults.revision_count)?,
            revision_days: whole(KUMOCMS_REVISION_RETENTION_DAYS, defaults.revision_days)?,
            trash_days: whole(KUMOCMS_TRASH_RETENTION_DAYS, defaults.trash_days)?,
        };
        let multipart_threshold = match get(KUMOCMS_MULTIPART_THRESHOLD) {
            None => kumocms_core::multipart::DEFAULT_MULTIPART_THRESHOLD,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| SettingsError::Invalid {
                    name: KUMOCMS_MULTIPART_THRESHOLD,
                    expected: "a whole number of bytes",
                })?,
        };
        let web = web_options(&get)?;
        Ok(Self {
            bucket,
            table,
            secrets_arn,
            dlq_url,
            cursor_key,
            secrets_ttl,
            log_level: get(KUMOCMS_LOG_LEVEL).unwrap_or_else(|| "info".to_owned()),
            retention,
            multipart_threshold,
            multi_region_consistency,
            web,
        })
    }
}

/// The web interface and CORS, from the variables the module sets for them.
fn web_options(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<kumocms_api::WebOptions, SettingsError> {
    use kumocms_api::web::{CognitoUi, UiAuth, parse_origins};
    let cors_allowed_origins = match get(KUMOCMS_CORS_ALLOWED_ORIGINS) {
        None => Vec::new(),
        Some(list) => parse_origins(&list).map_err(|_| SettingsError::Invalid {
            name: KUMOCMS_CORS_ALLOWED_ORIGINS,
            expected: "a comma-separated list of origins (scheme://host[:port]) or *",
        })?,
    };
    let enabled = match get(KUMOCMS_WEB_UI).map(|v| v.trim().to_ascii_lowercase()) {
        None => true,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(_) => {
            return Err(SettingsError::Invalid {
                name: KUMOCMS_WEB_UI,
                expected: "true or false",
            });
        }
    };
    let auth = match (get(KUMOCMS_COGNITO_DOMAIN), get(KUMOCMS_COGNITO_CLIENT_ID)) {
        (None, None) => UiAuth::ApiKey,
        (Some(domain), Some(client_id)) if domain.trim().starts_with("https://") => {
            UiAuth::Cognito {
                cognito: CognitoUi {
                    domain: domain.trim().trim_end_matches('/').to_owned(),
                    client_id: client_id.trim().to_owned(),
                    scopes: vec!["openid".to_owned(), "email".to_owned()],
                },
            }
        }
        (Some(_), Some(_)) => {
            return Err(SettingsError::Invalid {
                name: KUMOCMS_COGNITO_DOMAIN,
                expected: "the hosted UI's https:// URL",
            });
        }
        (Some(_), None) => {
            return Err(SettingsError::Invalid {
                name: KUMOCMS_COGNITO_CLIENT_ID,
                expected: "set together with KUMOCMS_COGNITO_DOMAIN",
            });
        }
        (None, Some(_)) => {
            return Err(SettingsError::Invalid {
                name: KUMOCMS_COGNITO_DOMAIN,
                expected: "set together with KUMOCMS_COGNITO_CLIENT_ID",
            });
        }
    };
    Ok(kumocms_api::WebOptions {
        ui: enabled.then_some(auth),
        cors_allowed_origins,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn each_role_names_what_it_misses() {
        let error = Settings::from_lookup(Role::Api, lookup(&[(S3_BUCKET_NAME, "b")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the api function needs the environment variable DYNAMODB_TABLE_NAME"
        );
        let error =
            Settings::from_lookup(Role::Authorizer, lookup(&[(SECRETS_ARN, " ")])).unwrap_err();
        assert!(error.to_string().contains("SECRETS_ARN"));
        let error = Settings::from_lookup(
            Role::Dlq,
            lookup(&[(S3_BUCKET_NAME, "b"), (DYNAMODB_TABLE_NAME, "t")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("KUMOCMS_DLQ_URL"));
        // The authorizer needs no storage.
        let ok = Settings::from_lookup(Role::Authorizer, lookup(&[(SECRETS_ARN, "arn")])).unwrap();
        assert_eq!(ok.secrets_ttl, Duration::from_secs(60));
        assert_eq!(ok.log_level, "info");
    }

    #[test]
    fn ttl_and_cursor_secret_are_read() {
        let vars = [
            (S3_BUCKET_NAME, "b"),
            (DYNAMODB_TABLE_NAME, "t"),
            (KUMOCMS_SECRETS_TTL_SECONDS, "7"),
            (KUMOCMS_CURSOR_SECRET, "s3cret"),
        ];
        let settings = Settings::from_lookup(Role::Events, lookup(&vars)).unwrap();
        assert_eq!(settings.secrets_ttl, Duration::from_secs(7));
        assert_eq!(settings.cursor_key, b"s3cret");
        let bad = [(SECRETS_ARN, "a"), (KUMOCMS_SECRETS_TTL_SECONDS, "soon")];
        assert!(Settings::from_lookup(Role::Authorizer, lookup(&bad)).is_err());
        // Derived keys agree across instances of one deployment.
        let a = Settings::from_lookup(Role::Api, lookup(&vars[..2])).unwrap();
        let b = Settings::from_lookup(Role::Api, lookup(&vars[..2])).unwrap();
        assert_eq!(a.cursor_key, b.cursor_key);
        assert!(!format!("{a:?}").contains("cursor_key"));
    }

    #[test]
    fn the_multipart_threshold_is_read_with_the_local_default() {
        let base = [(S3_BUCKET_NAME, "b"), (DYNAMODB_TABLE_NAME, "t")];
        let settings = Settings::from_lookup(Role::Api, lookup(&base)).unwrap();
        assert_eq!(settings.multipart_threshold, 64 * 1024 * 1024);
        assert_eq!(
            settings.multipart_threshold,
            kumocms_core::service::ServiceConfig::default().multipart_threshold
        );
        let vars = [
            (S3_BUCKET_NAME, "b"),
            (DYNAMODB_TABLE_NAME, "t"),
            (KUMOCMS_MULTIPART_THRESHOLD, " 5242880 "),
        ];
        let settings = Settings::from_lookup(Role::Api, lookup(&vars)).unwrap();
        assert_eq!(settings.multipart_threshold, 5 * 1024 * 1024);
        for bad in ["64MiB", "-1", "1.5"] {
            let vars = [
                (S3_BUCKET_NAME, "b"),
                (DYNAMODB_TABLE_NAME, "t"),
                (KUMOCMS_MULTIPART_THRESHOLD, bad),
            ];
            let error = Settings::from_lookup(Role::Api, lookup(&vars)).unwrap_err();
            assert_eq!(
                error.to_string(),
                "KUMOCMS_MULTIPART_THRESHOLD must be a whole number of bytes",
                "{bad}"
            );
        }
    }

    #[test]
    fn retention_is_read_with_its_defaults() {
        let base = [(S3_BUCKET_NAME, "b"), (DYNAMODB_TABLE_NAME, "t")];
        let settings = Settings::from_lookup(Role::Api, lookup(&base)).unwrap();
        assert_eq!(settings.retention.revision_count, 0);
        assert_eq!(settings.retention.revision_days, 0);
        assert_eq!(settings.retention.trash_days, 30);
        let vars = [
            (S3_BUCKET_NAME, "b"),
            (DYNAMODB_TABLE_NAME, "t"),
            (KUMOCMS_REVISION_RETENTION_COUNT, "5"),
            (KUMOCMS_REVISION_RETENTION_DAYS, "90"),
            (KUMOCMS_TRASH_RETENTION_DAYS, "0"),
        ];
        let settings = Settings::from_lookup(
            Role::Dlq,
            lookup(&[vars.as_slice(), &[(KUMOCMS_DLQ_URL, "q")]].concat()),
        )
        .unwrap();
        assert_eq!(settings.retention.revision_count, 5);
        assert_eq!(settings.retention.revision_days, 90);
        assert_eq!(settings.retention.trash_days, 0);
        let bad = [
            (S3_BUCKET_NAME, "b"),
            (DYNAMODB_TABLE_NAME, "t"),
            (KUMOCMS_TRASH_RETENTION_DAYS, "-1"),
        ];
        let error = Settings::from_lookup(Role::Api, lookup(&bad)).unwrap_err();
        assert!(
            error.to_string().contains("KUMOCMS_TRASH_RETENTION_DAYS"),
            "{error}"
        );
    }

    #[test]
    fn multi_region_consistency_defaults_to_eventual_and_rejects_typos() {
        let base = [(S3_BUCKET_NAME, "b"), (DYNAMODB_TABLE_NAME, "t")];
        let settings = Settings::from_lookup(Role::Api, lookup(&base)).unwrap();
        assert_eq!(
            settings.multi_region_consistency,
            MultiRegionConsistency::Eventual
        );
        let strong = [
            base[0],
            base[1],
            (KUMOCMS_MULTI_REGION_CONSISTENCY, "strong"),
        ];
        let settings = Settings::from_lookup(Role::Events, lookup(&strong)).unwrap();
        assert_eq!(
            settings.multi_region_consistency,
            MultiRegionConsistency::Strong
        );
        let typo = [
            base[0],
            base[1],
            (KUMOCMS_MULTI_REGION_CONSISTENCY, "STRICT"),
        ];
        let error = Settings::from_lookup(Role::Api, lookup(&typo)).unwrap_err();
        assert!(error.to_string().contains("EVENTUAL or STRONG"), "{error}");
    }

    #[test]
    fn web_interface_and_cors_follow_the_module() {
        use kumocms_api::web::UiAuth;
        let base = [(S3_BUCKET_NAME, "b"), (DYNAMODB_TABLE_NAME, "t")];
        let settings = Settings::from_lookup(Role::Api, lookup(&base)).unwrap();
        assert_eq!(settings.web.ui, Some(UiAuth::ApiKey));
        assert!(settings.web.cors_allowed_origins.is_empty());

        let mut vars = base.to_vec();
        vars.extend([
            (
                KUMOCMS_CORS_ALLOWED_ORIGINS,
                "http://localhost:3000,https://a.example",
            ),
            (
                KUMOCMS_COGNITO_DOMAIN,
                "https://kumo.auth.us-east-1.amazoncognito.com/",
            ),
            (KUMOCMS_COGNITO_CLIENT_ID, "client123"),
        ]);
        let settings = Settings::from_lookup(Role::Api, lookup(&vars)).unwrap();
        assert_eq!(
            settings.web.cors_allowed_origins,
            vec!["http://localhost:3000", "https://a.example"]
        );
        match settings.web.ui {
            Some(UiAuth::Cognito { cognito }) => {
                assert_eq!(
                    cognito.domain,
                    "https://kumo.auth.us-east-1.amazoncognito.com"
                );
                assert_eq!(cognito.client_id, "client123");
            }
            other => panic!("expected Cognito sign-in, got {other:?}"),
        }

        let mut off = base.to_vec();
        off.push((KUMOCMS_WEB_UI, "false"));
        assert_eq!(
            Settings::from_lookup(Role::Api, lookup(&off))
                .unwrap()
                .web
                .ui,
            None
        );

        for (name, value) in [
            (KUMOCMS_CORS_ALLOWED_ORIGINS, "localhost:3000"),
            (KUMOCMS_WEB_UI, "yes"),
            (KUMOCMS_COGNITO_CLIENT_ID, "alone"),
        ] {
            let mut bad = base.to_vec();
            bad.push((name, value));
            let error = Settings::from_lookup(Role::Api, lookup(&bad)).unwrap_err();
            assert!(
                error.to_string().contains(name) || error.to_string().contains("KUMOCMS_COGNITO"),
                "{error}"
            );
        }
    }
}
