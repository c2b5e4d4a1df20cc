//! The KumoCMS domain: documents and their lifecycle, request validation, metadata
//! extraction, and the ports (traits) that storage, events, secrets and time adapters
//! implement. Nothing here knows about AWS, HTTP or SQL.

pub mod auth;
pub mod blob_key;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod cursor;
pub mod disposition;
pub mod document;
pub mod error;
pub mod events;
pub mod extract;
mod history;
pub mod home_region;
pub mod id;
pub mod lifecycle;
#[cfg(feature = "memory")]
pub mod memory;
pub mod multipart;
pub mod ooxml;
pub mod page_budget;
pub mod pdf;
pub mod ports;
pub mod query;
#[cfg(all(feature = "conformance", feature = "memory"))]
pub mod replication;
pub mod revision;
pub mod search;
pub mod service;
pub mod text;
pub mod uploads;
pub mod validate;

pub use document::{
    BlobLocation, BlobRef, ContentVersion, Document, DocumentStatus, Extracted, PendingUpload,
    RecordError, RestoreState, RestoreTier, SCHEMA_VERSION, StorageClass,
};
pub use error::CoreError;
pub use history::{DeleteOptions, RevisionPage, RevisionView, parse_revision};
pub use id::DocumentId;
