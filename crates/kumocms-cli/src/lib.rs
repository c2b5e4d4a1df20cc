//! The `kumocms` command's library half: assembling the local server from the core,
//! the embedded adapters and the API router, so that tests start exactly what
//! `kumocms serve` runs.

pub mod client;
pub mod listener;
pub mod server;
