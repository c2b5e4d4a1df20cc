//! Sorting SDK errors into what the core's ports can express.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A conditional write lost.
    Conflict,
    /// The object or key does not exist.
    NotFound,
    /// Retrying later may succeed: network, throttling, 5xx, a table or bucket that
    /// is missing (a deployment in progress or a misconfiguration being fixed).
    Transient,
    /// Retrying the same call cannot succeed.
    Permanent,
}

const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "ResourceNotFoundException",
    "NoSuchBucket",
    "TransactionConflictException",
    "RequestTimeout",
];

pub(crate) fn classify<E, R>(error: &SdkError<E, R>) -> Kind
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Kind::Transient,
        SdkError::ResponseError(_) => Kind::Transient,
        SdkError::ServiceError(service) => {
            let status = service.raw().status_code();
            match service.err().code() {
                Some("ConditionalCheckFailedException") => Kind::Conflict,
                Some("NoSuchKey" | "NotFound" | "NoSuchVersion") => Kind::NotFound,
                Some(code) if TRANSIENT_CODES.contains(&code) => Kind::Transient,
                _ if status == 404 => Kind::NotFound,
                _ if status >= 500 || status == 429 => Kind::Transient,
                _ => Kind::Permanent,
            }
        }
        _ => Kind::Permanent,
    }
}

/// Gives the HTTP status of a raw response (the SDK's response type varies by crate
/// version, so the classification goes through this small trait).
pub(crate) trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// A log- and error-friendly description of an SDK error with its causes. SDK errors
/// never carry presigned URLs or credentials, so this is safe to log.
pub(crate) fn describe<E, R>(operation: &str, error: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    format!("{operation}: {}", DisplayErrorContext(error))
}
