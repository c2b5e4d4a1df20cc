//! The replicas of the documents table in the other regions of a multi-region
//! deployment (one DynamoDB global table), for `kumocms_core::home_region`: a change
//! to a document is written to the replica in the document's home region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use kumocms_core::home_region::{HomeRegionStore, Replicas};
use kumocms_core::ports::MetadataStore;

use crate::DynamoMetadataStore;

/// How long a call to another region's replica may take before the write is refused
/// as "home region unavailable": well inside the api function's timeout, so the
/// client gets a 503 naming the region rather than a gateway timeout.
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PEER_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The table's replica in any region, reached with this function's credentials (the
/// module grants them on the ARNs in `peer_table_arns`). A global table has one name
/// in every region.
pub struct DynamoReplicas {
    config: SdkConfig,
    table: String,
    stores: Mutex<HashMap<String, Arc<DynamoMetadataStore>>>,
}

impl std::fmt::Debug for DynamoReplicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoReplicas")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoReplicas {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        Self {
            config: config.clone(),
            table: table.into(),
            stores: Mutex::new(HashMap::new()),
        }
    }

    fn store_in(&self, region: &str) -> Arc<DynamoMetadataStore> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        stores
            .entry(region.to_owned())
            .or_insert_with(|| {
                let mut timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(PEER_CONNECT_TIMEOUT)
                    .operation_attempt_timeout(PEER_ATTEMPT_TIMEOUT);
                if let Some(operation) = self
                    .config
                    .timeout_config()
                    .and_then(|t| t.operation_timeout())
                {
                    timeouts = timeouts.operation_timeout(operation);
                }
                let client = aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&self.config)
                        .region(Region::new(region.to_owned()))
                        .timeout_config(timeouts.build())
                        .build(),
                );
                Arc::new(DynamoMetadataStore::from_client(client, &self.table))
            })
            .clone()
    }
}

impl Replicas for DynamoReplicas {
    fn replica(&self, region: &str) -> Option<Arc<dyn MetadataStore>> {
        Some(self.store_in(region))
    }
}

/// The documents table as a multi-region (eventually consistent) deployment must use
/// it: reads from this region's replica, every change in the document's home region.
/// In a single region every document is homed here, and this is the plain table.
pub fn home_region_store(config: &SdkConfig, table: &str) -> HomeRegionStore {
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    HomeRegionStore::new(
        region,
        Arc::new(DynamoMetadataStore::new(config, table)),
        Arc::new(DynamoReplicas::new(config, table)),
    )
}
