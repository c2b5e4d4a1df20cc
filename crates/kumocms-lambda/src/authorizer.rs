//! The API Gateway REQUEST authorizer. It checks `Authorization: Bearer <key>` against
//! the current and previous keys and answers with an IAM policy that allows the whole
//! stage, so API Gateway's authorizer cache (keyed on the header) can reuse it for
//! every route. Any failure is the error `Unauthorized`, which API Gateway turns into
//! a 401; nothing about the presented key is ever logged.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use kumocms_core::auth::{KeyMatch, bearer_key};
use kumocms_core::ports::KeySource;
use serde::Serialize;
use serde_json::Value;

/// The principal API Gateway records for API-key callers (there are no per-user
/// identities behind a shared key).
pub const PRINCIPAL_ID: &str = "kumocms-api-key";

/// The only error the authorizer returns. API Gateway maps exactly the message
/// `Unauthorized` to a 401; anything else would be a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    pub context: AuthorizerContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Resource")]
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizerContext {
    /// `current` or `previous`: which key matched, to watch a rotation's progress.
    pub key: String,
}

/// `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/*/*` from the method ARN
/// `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<verb>/<path...>`.
pub fn stage_resource(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let api = parts.next()?;
    let stage = parts.next()?;
    let fields: Vec<&str> = api.split(':').collect();
    let well_formed = fields.len() == 6
        && fields[0] == "arn"
        && fields[2] == "execute-api"
        && fields[3..].iter().all(|f| !f.is_empty())
        && !stage.is_empty()
        && !stage.contains('*');
    well_formed.then(|| format!("{api}/{stage}/*/*"))
}

/// The `Authorization` header's value, whatever case the client gave the name, from
/// `headers` or else `multiValueHeaders`. `None` when the request carried more than
/// one: API Gateway puts the last in `headers` and all of them in
/// `multiValueHeaders`, and which one counts must not depend on their order.
fn authorization(request: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Option<&str> {
    // `HeaderMap` compares names case-insensitively.
    if request
        .multi_value_headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return None;
    }
    let single = request.headers.get(http::header::AUTHORIZATION);
    let multi = || {
        request
            .multi_value_headers
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .next()
    };
    single.or_else(multi)?.to_str().ok()
}

pub struct Authorizer {
    keys: Arc<dyn KeySource>,
}

impl Authorizer {
    pub fn new(keys: Arc<dyn KeySource>) -> Self {
        Self { keys }
    }

    /// Decides one REQUEST authorizer event.
    pub async fn handle(&self, event: Value) -> Result<AuthorizerResponse, Unauthorized> {
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(event)
            .map_err(|error| {
            tracing::warn!(error = %error.classify_name(), "not a REQUEST authorizer event");
            Unauthorized
        })?;
        let resource = request
            .method_arn
            .as_deref()
            .and_then(stage_resource)
            .ok_or_else(|| {
                tracing::warn!("the event has no usable methodArn");
                Unauthorized
            })?;
        let Some(presented) = authorization(&request).and_then(bearer_key) else {
            tracing::info!(
                outcome = "deny",
                reason = "no_bearer_key",
                "authorizer decision"
            );
            return Err(Unauthorized);
        };
        let keys = self.keys.api_keys().await.map_err(|error| {
            // Fail closed, but loudly: every request is refused until the secret is back.
            tracing::error!(%error, "API keys unavailable; denying");
            Unauthorized
        })?;
        let Some(matched) = keys.verify(presented) else {
            tracing::info!(
                outcome = "deny",
                reason = "unknown_key",
                "authorizer decision"
            );
            return Err(Unauthorized);
        };
        if matched == KeyMatch::Previous {
            tracing::info!("a request used the previous API key");
        }
        tracing::info!(
            outcome = "allow",
            key = matched.as_str(),
            "authorizer decision"
        );
        Ok(AuthorizerResponse {
            principal_id: PRINCIPAL_ID.to_owned(),
            policy_document: PolicyDocument {
                version: "2012-10-17".to_owned(),
                statement: vec![Statement {
                    action: "execute-api:Invoke".to_owned(),
                    effect: "Allow".to_owned(),
                    resource,
                }],
            },
            context: AuthorizerContext {
                key: matched.as_str().to_owned(),
            },
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// serde's full message may quote input (a header value); only the category is logged.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_the_stage() {
        assert_eq!(
            stage_resource(
                "arn:aws:execute-api:us-east-1:123456789012:abcdef123/v1/GET/documents/01J"
            ),
            Some("arn:aws:execute-api:us-east-1:123456789012:abcdef123/v1/*/*".to_owned())
        );
        assert_eq!(
            stage_resource("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/POST/"),
            Some("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/*/*".to_owned())
        );
        for bad in [
            "",
            "arn:aws:execute-api:us-east-1:123456789012:abc",
            "arn:aws:execute-api:us-east-1:123456789012:abc/",
            "arn:aws:lambda:us-east-1:123456789012:abc/v1/GET/x",
            "arn:aws:execute-api:us-east-1::abc/v1/GET/x",
            "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/x",
        ] {
            assert_eq!(stage_resource(bad), None, "{bad}");
        }
    }
}
