//! KumoCMS on AWS: the core's ports implemented with the AWS SDK for Rust.
//!
//! - [`DynamoMetadataStore`]: document records in the DynamoDB table the Terraform
//!   module creates (`PK`/`SK`, GSI `DocumentTypeIndex`, TTL `expiresAt`).
//! - [`S3BlobStore`]: content under `documents/` in S3, presigned links, archive by
//!   copy in place, restore.
//! - [`home_region_store`]: the table in a multi-region deployment, each change
//!   written to the replica in the document's home region ([`DynamoReplicas`]).
//! - [`SecretsKeySource`]: the API keys from Secrets Manager, cached with a TTL.
//!
//! Every adapter takes an [`aws_config::SdkConfig`]; [`sdk_config`] builds one from the
//! Lambda environment (the region comes from `AWS_REGION`, an `AWS_ENDPOINT_URL` is
//! honoured, which is how the tests reach moto).

mod dynamo;
mod dynamo_search;
mod errors;
mod http_client;
mod replicas;
mod s3;
mod s3_verified;
mod secrets;
#[cfg(feature = "test-support")]
pub mod testing;

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub use aws_sdk_secretsmanager::Client as SecretsClient;
pub use dynamo::{DOCUMENT_TYPE_INDEX, DynamoMetadataStore, TTL_BACKSTOP};
pub use dynamo_search::{MAX_SEARCH_TEXT, SEARCH_VERSION, WINDOW_CALLS, WINDOW_ITEMS};
pub use http_client::HttpClientError;
pub use replicas::{DynamoReplicas, home_region_store};
pub use s3::S3BlobStore;
pub use secrets::{DEFAULT_SECRETS_TTL, SecretsKeySource, parse_secret};

/// The SDK's HTTP client: hyper on rustls with ring, the workspace's one TLS stack
/// (the SDK default would add aws-lc, a slow C build that also complicates the zig
/// link), trusting the Mozilla root certificates compiled into the binary.
///
/// Not the platform's store: loading it (reading and PEM-decoding every file in
/// /etc/ssl/certs when the client is built) was a quarter of the Lambda function's
/// cold-start CPU. Lambda's own images carry the same Mozilla set, and AWS endpoints,
/// VPC endpoints included, are signed by Amazon Trust Services roots it holds, so no
/// private CA is needed. See the `http_client` module for the details.
pub fn http_client() -> SharedHttpClient {
    http_client::with_roots(http_client::webpki_roots())
}

/// [`http_client`] trusting `roots` instead of the compiled-in Mozilla set: for tests
/// against a local TLS server with a test CA. Production code has no use for it.
#[doc(hidden)]
pub fn http_client_with_roots(roots: rustls::RootCertStore) -> SharedHttpClient {
    http_client::with_roots(roots)
}

/// The SDK configuration from the environment, as Lambda provides it.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// An SDK configuration for an explicit endpoint, region and static credentials: for
/// tests against moto, and anything else that must not read the environment.
pub async fn sdk_config_for(
    endpoint_url: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> SdkConfig {
    let credentials = aws_credential_types::Credentials::new(
        access_key_id,
        secret_access_key,
        None,
        None,
        "kumocms-static",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// True when requests go to a custom endpoint (moto, LocalStack, a VPC endpoint URL):
/// S3 then needs path-style addressing, as `bucket.127.0.0.1` does not resolve.
fn custom_endpoint(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}
