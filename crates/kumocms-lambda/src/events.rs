//! The `events` function: S3 events delivered by EventBridge, applied to documents
//! by the core's [`EventProcessor`]. A failure returns an error so that Lambda retries
//! the event and, after the retries, sends it to the dead-letter queue. Events for
//! keys that are not ours, and event types we do not handle, succeed as no-ops.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use kumocms_core::BlobLocation;
use kumocms_core::blob_key;
use kumocms_core::events::{EventProcessor, Outcome, StorageEvent};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const OBJECT_CREATED: &str = "Object Created";
pub const RESTORE_COMPLETED: &str = "Object Restore Completed";
pub const RESTORE_EXPIRED: &str = "Object Restore Expired";

/// The part of an S3 EventBridge `detail` that we use.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct S3Detail {
    pub bucket: S3Bucket,
    pub object: S3Object,
    #[serde(rename = "restore-expiry-time", default)]
    pub restore_expiry_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct S3Object {
    pub key: String,
}

/// The object key as S3 stored it. S3 notification formats URL-encode keys (`+` for
/// space, `%XX`), EventBridge sends them plain; our keys read the same either way,
/// so the plain form is tried first and the decoded form used only when that one is
/// a key of ours.
pub fn object_key(raw: &str) -> String {
    if blob_key::parse(raw).is_some() {
        return raw.to_owned();
    }
    let spaced = raw.replace('+', " ");
    match percent_decode_str(&spaced).decode_utf8() {
        Ok(decoded) if blob_key::parse(&decoded).is_some() => decoded.into_owned(),
        _ => raw.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// A store failed; the event must be retried.
    #[error("event {event_id} not applied ({detail_type} {key}): {source}")]
    Failed {
        event_id: String,
        detail_type: String,
        key: String,
        #[source]
        source: kumocms_core::CoreError,
    },
}

/// What an invocation did, returned as the function's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    pub outcome: &'static str,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl EventSummary {
    fn ignored(reason: &'static str) -> Self {
        Self {
            outcome: "ignored",
            reason,
            key: None,
        }
    }
}

/// Maps an EventBridge S3 event to a storage event; `Err` names why it is not one.
pub fn storage_event(event: &Value) -> Result<StorageEvent, &'static str> {
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|_| "not_an_eventbridge_event")?;
    if event.source != "aws.s3" {
        return Err("not_an_s3_event");
    }
    let kind = event.detail_type.as_str();
    if ![OBJECT_CREATED, RESTORE_COMPLETED, RESTORE_EXPIRED].contains(&kind) {
        return Err("unhandled_detail_type");
    }
    let detail: S3Detail =
        serde_json::from_value(event.detail).map_err(|_| "malformed_s3_detail")?;
    let location = BlobLocation {
        store: detail.bucket.name,
        region: event.region.filter(|r| !r.is_empty()),
    };
    let key = object_key(&detail.object.key);
    Ok(match kind {
        OBJECT_CREATED => StorageEvent::ObjectCreated { location, key },
        RESTORE_COMPLETED => StorageEvent::RestoreCompleted {
            location,
            key,
            available_until: detail.restore_expiry_time.as_deref().and_then(|text| {
                let parsed = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc));
                if parsed.is_err() {
                    tracing::warn!(value = %text, "unreadable restore-expiry-time");
                }
                parsed.ok()
            }),
        },
        _ => StorageEvent::RestoreExpired { location, key },
    })
}

pub struct EventsHandler {
    processor: Arc<EventProcessor>,
}

impl EventsHandler {
    pub fn new(processor: Arc<EventProcessor>) -> Self {
        Self { processor }
    }

    /// Applies one EventBridge event.
    pub async fn handle(&self, event: Value) -> Result<EventSummary, EventError> {
        let event_id = event
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let detail_type = event
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let storage_event = match storage_event(&event) {
            Ok(storage_event) => storage_event,
            Err(reason) => {
                // Retrying cannot make an event of another shape ours.
                tracing::info!(%event_id, %detail_type, outcome = "ignored", reason, "event");
                return Ok(EventSummary::ignored(reason));
            }
        };
        let key = storage_event.key().to_owned();
        match self.processor.handle(&storage_event).await {
            Ok(outcome) => {
                let (name, reason) = match outcome {
                    Outcome::Applied(reason) => ("applied", reason),
                    Outcome::Ignored(reason) => ("ignored", reason),
                };
                tracing::info!(%event_id, %detail_type, %key, outcome = name, reason, "event");
                Ok(EventSummary {
                    outcome: name,
                    reason,
                    key: Some(key),
                })
            }
            Err(source) => {
                // Transient or not, the event fails: a transient failure is retried,
                // a permanent one (corrupt record, a bug) lands in the DLQ where it can
                // be inspected and re-run after a fix, instead of being lost.
                tracing::error!(%event_id, %detail_type, %key, transient = source.is_transient(), error = %source, "event failed");
                Err(EventError::Failed {
                    event_id,
                    detail_type,
                    key,
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kumocms_core::DocumentId;

    #[test]
    fn keys_are_decoded_only_when_that_makes_them_ours() {
        let id = DocumentId::new();
        let key = format!("documents/{id}/r1");
        assert_eq!(object_key(&key), key);
        assert_eq!(object_key(&format!("documents%2F{id}%2Fr1")), key);
        assert_eq!(
            object_key(&format!("documents/{id}/r2.meta.json")),
            format!("documents/{id}/r2.meta.json")
        );
        // Foreign keys stay as they were (and are then ignored).
        assert_eq!(object_key("uploads/a+b%20c.pdf"), "uploads/a+b%20c.pdf");
        assert_eq!(object_key("%ZZ"), "%ZZ");
        assert_eq!(object_key("%FF%FE"), "%FF%FE");
    }

    #[test]
    fn only_s3_events_of_our_types_map() {
        let event = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Object Restore Completed", "source": "aws.s3",
            "account": "123456789012", "time": "2021-11-12T00:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::b"],
            "detail": {"version": "0", "bucket": {"name": "b"}, "object": {"key": "k"},
                       "restore-expiry-time": "2021-11-13T00:00:00Z", "source-storage-class": "GLACIER"}
        });
        let StorageEvent::RestoreCompleted {
            location,
            available_until,
            ..
        } = storage_event(&event).unwrap()
        else {
            panic!("wrong event");
        };
        assert_eq!(location.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            available_until.map(|t| t.to_rfc3339()),
            Some("2021-11-13T00:00:00+00:00".into())
        );
        let mut other = event.clone();
        other["detail-type"] = "Object Deleted".into();
        assert_eq!(storage_event(&other), Err("unhandled_detail_type"));
        other["source"] = "aws.ec2".into();
        assert_eq!(storage_event(&other), Err("not_an_s3_event"));
        assert_eq!(
            storage_event(&serde_json::json!({"x": 1})),
            Err("not_an_eventbridge_event")
        );
    }
}
