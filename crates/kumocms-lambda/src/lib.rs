//! The KumoCMS Lambda functions. One `bootstrap` binary serves four roles, chosen by
//! the function's handler setting (`_HANDLER`):
//!
//! | `_HANDLER`   | invoked by                         | does                                        |
//! |--------------|------------------------------------|---------------------------------------------|
//! | `api`        | API Gateway REST proxy integration | the HTTP API (the `kumocms-api` router)     |
//! | `authorizer` | API Gateway REQUEST authorizer     | checks `Authorization: Bearer <key>`        |
//! | `events`     | EventBridge (S3 events)            | applies storage events to documents         |
//! | `dlq`        | an EventBridge schedule            | re-runs dead-lettered events, sweeps uploads|
//!
//! The handlers are plain async functions over JSON so that tests call them directly
//! with real-shaped events; `main.rs` only wires them to the Lambda runtime.

pub mod api;
pub mod authorizer;
pub mod dlq;
pub mod events;
#[cfg(feature = "test-support")]
pub mod runtime_api;
pub mod settings;

use std::fmt;
use std::str::FromStr;

pub use settings::{Settings, SettingsError};

/// The role of this process, from `_HANDLER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Authorizer,
    Events,
    Dlq,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Api, Self::Authorizer, Self::Events, Self::Dlq];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Authorizer => "authorizer",
            Self::Events => "events",
            Self::Dlq => "dlq",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown _HANDLER {0:?}: the kumocms bootstrap runs one of \"api\", \"authorizer\", \"events\", \"dlq\""
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_exactly() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for bad in [
            "",
            "API",
            "api ",
            "main.handler",
            "src.handlers.api.main.lambda_handler",
        ] {
            let error = bad.parse::<Role>().unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("\"api\", \"authorizer\", \"events\", \"dlq\"")
            );
        }
    }
}
