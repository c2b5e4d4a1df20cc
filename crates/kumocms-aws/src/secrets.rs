//! The API keys, from the Secrets Manager secret `SECRETS_ARN`:
//! `{"api_key": "<current>", "api_key_previous": "<optional previous>"}`.
//!
//! The parsed keys are cached for a TTL: long enough to spare Secrets Manager a call
//! per request, short enough that a key rotated out stops working within it. Only
//! SHA-256 digests are kept (see `kumocms_core::auth`); the secret text is dropped as
//! soon as it is parsed and never logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use chrono::{DateTime, Utc};
use kumocms_core::auth::ApiKeys;
use kumocms_core::ports::{Clock, KeySource, SecretsError, SystemClock};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::errors::describe;

/// How long the authorizer keeps the keys it read. With API Gateway's authorizer
/// cache (the module's `authorizer_result_ttl_in_seconds`, default 60) on top, a
/// rotated-out key stops working at most the sum of the two after the secret
/// changes: 120 s by default, inside the 5 minutes the README promises.
pub const DEFAULT_SECRETS_TTL: Duration = Duration::from_secs(60);

/// [`KeySource`] on a Secrets Manager secret.
pub struct SecretsKeySource {
    client: Client,
    secret_id: String,
    ttl: chrono::Duration,
    clock: Arc<dyn Clock>,
    /// The keys and when they were fetched. A tokio mutex, so that concurrent
    /// requests on an expired cache make one call, not one each.
    cache: Mutex<Option<(ApiKeys, DateTime<Utc>)>>,
}

impl std::fmt::Debug for SecretsKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsKeySource")
            .field("secret_id", &self.secret_id)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The secret's JSON. No `Debug`: it holds key material.
#[derive(Deserialize)]
struct SecretJson {
    api_key: Option<String>,
    #[serde(default)]
    api_key_previous: Option<String>,
}

/// Parses the secret string into the accepted keys.
pub fn parse_secret(text: &str) -> Result<ApiKeys, SecretsError> {
    let secret: SecretJson = serde_json::from_str(text).map_err(|e| {
        // serde's message names the position and expected type, never the content.
        SecretsError::Malformed(format!(
            "expected {{\"api_key\": ..., \"api_key_previous\": ...}}: {}",
            e.classify_name()
        ))
    })?;
    let current = secret.api_key.unwrap_or_default();
    ApiKeys::from_plain(&current, secret.api_key_previous.as_deref())
        .map_err(|e| SecretsError::Malformed(e.to_string()))
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "wrong field types",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

impl SecretsKeySource {
    pub fn new(config: &SdkConfig, secret_id: impl Into<String>) -> Self {
        Self::with_options(
            Client::new(config),
            secret_id,
            DEFAULT_SECRETS_TTL,
            Arc::new(SystemClock),
        )
    }

    pub fn with_options(
        client: Client,
        secret_id: impl Into<String>,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            clock,
            cache: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<ApiKeys, SecretsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| SecretsError::Unavailable(describe("GetSecretValue", &e)))?;
        let text = output
            .secret_string()
            .ok_or_else(|| SecretsError::Malformed("the secret has no SecretString".into()))?;
        parse_secret(text)
    }
}

#[async_trait]
impl KeySource for SecretsKeySource {
    async fn api_keys(&self) -> Result<ApiKeys, SecretsError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some((keys, fetched_at)) = cache.as_ref()
            && now >= *fetched_at
            && now - *fetched_at < self.ttl
        {
            return Ok(keys.clone());
        }
        // A failure is not cached (the next request tries again) and does not fall
        // back to stale keys, which could keep a rotated-out key working.
        *cache = None;
        let keys = self.fetch().await?;
        *cache = Some((keys.clone(), now));
        Ok(keys)
    }
}
