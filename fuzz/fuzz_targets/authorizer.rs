//! The `authorizer` function: an arbitrary REQUEST authorizer event (and an arbitrary
//! Secrets Manager secret before it, split at the first `\n`). Never a panic; Allow
//! only for the configured keys, and only for the stage named in the method ARN.
#![no_main]

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use kumocms_core::auth::ApiKeys;
use kumocms_core::ports::{KeySource, SecretsError};
use kumocms_lambda::authorizer::Authorizer;
use libfuzzer_sys::fuzz_target;

struct Fixed(ApiKeys);

#[async_trait]
impl KeySource for Fixed {
    async fn api_keys(&self) -> Result<ApiKeys, SecretsError> {
        Ok(self.0.clone())
    }
}

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (secret, event) = text.split_once('\n').unwrap_or(("", &text));
    // The secret parser: keys or a Malformed error, never a blank key.
    if let Ok(keys) = kumocms_aws::parse_secret(secret) {
        assert!(keys.verify("").is_none() && keys.verify(" ").is_none());
    }
    let Ok(event) = serde_json::from_str::<serde_json::Value>(event) else {
        return;
    };
    let keys = ApiKeys::from_plain("fuzz-current", Some("fuzz-previous"))
        .unwrap_or_else(|e| panic!("{e}"));
    let authorizer = Authorizer::new(Arc::new(Fixed(keys)));
    if let Ok(allowed) = rt().block_on(authorizer.handle(event.clone())) {
        let header = ["headers", "multiValueHeaders"]
            .iter()
            .flat_map(|h| event[h].as_object().into_iter().flatten())
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.to_string())
            .collect::<String>();
        assert!(
            header.contains("fuzz-current") || header.contains("fuzz-previous"),
            "allowed without a key: {event}"
        );
        let statement = &allowed.policy_document.statement[0];
        assert_eq!(statement.effect, "Allow");
        assert!(statement.resource.ends_with("/*/*"));
    }
});
