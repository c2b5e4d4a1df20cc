//! KumoCMS benchmarks (`scripts/bench.sh`). Not a product crate: it holds
//!
//! - [`memory`]: in-memory adapters (metadata, blobs, keys), so that criterion can
//!   measure the API's own cost per event with no network and no disk;
//! - [`recorded_aws`]: a stand-in for AWS that replays moto's replies at once, so
//!   that a cold start measures the function, not the emulator;
//! - [`fixtures`]: API Gateway, authorizer and EventBridge events in the shapes
//!   Lambda delivers;
//! - the binaries the bench script runs: `hello-bootstrap` and `minimal-axum` (the
//!   floors), and `kumocms-bench` (the cold-start and memory driver).

pub mod fixtures;
pub mod memory;
pub mod recorded_aws;
