//! Test support: moto-backed resources in the shapes the Terraform module creates.
//! Only built with the `test-support` feature (the tests of this crate and of
//! `kumocms-lambda`).

// Test setup: a failure must stop the test with a message saying what broke.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};

use crate::DOCUMENT_TYPE_INDEX;

pub const MOTO_ENDPOINT_VAR: &str = "KUMOCMS_MOTO_ENDPOINT";
pub const REGION_A: &str = "us-east-1";
pub const REGION_B: &str = "eu-west-1";

/// The moto server's URL. Tests that need it fail (never skip) when it is missing.
pub fn moto_endpoint() -> String {
    match std::env::var(MOTO_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "{MOTO_ENDPOINT_VAR} is not set: these tests need moto server. Run them through \
             scripts/with-moto.sh, e.g. `scripts/with-moto.sh cargo nextest run -p kumocms-aws -p kumocms-lambda`"
        ),
    }
}

/// SDK configuration for moto in `region`, with dummy credentials set in code.
pub async fn moto_config(region: &str) -> SdkConfig {
    crate::sdk_config_for(&moto_endpoint(), region, "testing", "testing").await
}

/// A name no other test uses (S3 bucket rules: lower case, digits, dashes).
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

/// A versioned bucket, as the module creates it.
pub async fn create_bucket(config: &SdkConfig, bucket: &str) {
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    let region = config.region().map(|r| r.as_ref().to_owned());
    let mut request = client.create_bucket().bucket(bucket);
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    request.send().await.expect("create bucket on moto");
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable bucket versioning on moto");
}

/// The documents table: `PK`/`SK`, GSI `DocumentTypeIndex` (`documentType`,
/// `uploadedAt`, projection ALL), TTL on `expiresAt`.
pub async fn create_table(config: &SdkConfig, table: &str) {
    let client = aws_sdk_dynamodb::Client::new(config);
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .attribute_definitions(attribute("PK"))
        .attribute_definitions(attribute("SK"))
        .attribute_definitions(attribute("documentType"))
        .attribute_definitions(attribute("uploadedAt"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(DOCUMENT_TYPE_INDEX)
                .key_schema(key("documentType", KeyType::Hash))
                .key_schema(key("uploadedAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table on moto");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiresAt")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("enable TTL on moto");
}

/// The document's item exactly as stored in the table (the record's attributes, the
/// search attributes, the TTL), for tests that check what the module relies on.
pub async fn raw_item(
    store: &crate::DynamoMetadataStore,
    id: &kumocms_core::DocumentId,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", crate::dynamo::s(crate::dynamo::pk(id)))
        .key("SK", crate::dynamo::s(crate::dynamo::META))
        .send()
        .await
        .unwrap()
        .item
        .expect("the item exists")
}
