//! The `dlq` function, run on a schedule: it drains the dead-letter queue of the
//! `events` function within a time budget, re-running each message as the original
//! EventBridge event, then sweeps abandoned uploads.
//!
//! A message is deleted only after its event succeeded. A failed one is left in the
//! queue (so its receive count keeps counting, and the queue's redrive policy or an
//! alarm on its age can escalate it) and is hidden for a backoff that grows with its
//! receive count, so a poison message does not eat every run's budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use kumocms_core::service::DocumentService;
use serde::Serialize;
use serde_json::Value;

use crate::events::EventsHandler;

/// Messages per ReceiveMessage call (the SQS maximum).
const BATCH: i32 = 10;
/// Time kept back from the function's deadline for the sweep and the reply.
const MARGIN: Duration = Duration::from_secs(10);
/// Abandoned uploads cleaned per run.
const SWEEP_BATCH: usize = 100;
/// From this many receives on, a failing message is reported as poison.
const POISON_RECEIVES: u32 = 5;
const BASE_BACKOFF_SECONDS: u64 = 30;
const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainSummary {
    pub received: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Received but not attempted because the budget ran out; made visible again.
    pub released: usize,
    pub budget_exhausted: bool,
    /// Abandoned uploads discarded by the sweep, or `null` when it failed.
    pub expired_pending: Option<usize>,
    /// Records purged from the trash or trimmed of expired revisions, or `null` when
    /// that sweep failed.
    pub purged: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct DlqDrainer {
    sqs: Client,
    queue_url: String,
    events: Arc<EventsHandler>,
    service: Arc<DocumentService>,
}

/// The event a DLQ message carries: the body itself (Lambda's and EventBridge's
/// dead-letter queues keep the original event), or the `requestPayload` of a Lambda
/// on-failure destination record.
pub fn original_event(body: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(body).ok()?;
    match value.get("requestPayload") {
        Some(payload) if payload.is_object() => Some(payload.clone()),
        _ => Some(value),
    }
}

fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

/// Visibility after a failure: 30 s, doubling per receive, at most 12 hours.
pub fn backoff(receives: u32) -> Duration {
    let exponent = receives.saturating_sub(1).min(16);
    Duration::from_secs((BASE_BACKOFF_SECONDS << exponent).min(MAX_VISIBILITY_SECONDS))
}

impl DlqDrainer {
    pub fn new(
        sqs: Client,
        queue_url: impl Into<String>,
        events: Arc<EventsHandler>,
        service: Arc<DocumentService>,
    ) -> Self {
        Self {
            sqs,
            queue_url: queue_url.into(),
            events,
            service,
        }
    }

    /// Drains until the queue is empty or `deadline` (less a margin) is near, then
    /// sweeps expired uploads.
    pub async fn run(&self, deadline: Instant) -> DrainSummary {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // A short invocation still gets most of its time.
        let stop_at = deadline - MARGIN.min(remaining / 4);
        let mut summary = DrainSummary::default();
        'drain: loop {
            let left = stop_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                summary.budget_exhausted = true;
                break;
            }
            // Keep received messages hidden for the rest of this run (and a little
            // more), so no other drain picks them up while this one works on them.
            let hide = (left + MARGIN).as_secs().clamp(1, MAX_VISIBILITY_SECONDS) as i32;
            let received = match self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(BATCH)
                .visibility_timeout(hide)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
            {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(error) => {
                    let error = aws_smithy_error(&error);
                    tracing::error!(%error, "cannot receive from the dead-letter queue");
                    summary.error = Some(error);
                    break;
                }
            };
            if received.is_empty() {
                break;
            }
            summary.received += received.len();
            let mut pending = received.into_iter();
            while let Some(message) = pending.next() {
                if Instant::now() >= stop_at {
                    summary.budget_exhausted = true;
                    let rest: Vec<Message> = std::iter::once(message).chain(pending).collect();
                    summary.released += rest.len();
                    for message in rest {
                        self.hide(&message, Duration::ZERO).await;
                    }
                    break 'drain;
                }
                if self.redrive(&message).await {
                    summary.succeeded += 1;
                } else {
                    summary.failed += 1;
                }
            }
        }
        match self.service.expire_pending_uploads(SWEEP_BATCH).await {
            Ok(count) => summary.expired_pending = Some(count),
            Err(error) => {
                tracing::error!(%error, "the expired-upload sweep failed");
                summary.error.get_or_insert_with(|| error.to_string());
            }
        }
        // The trash and the revision retention: purged from the record and the bucket together.
        match self.service.purge_expired(SWEEP_BATCH).await {
            Ok(count) => summary.purged = Some(count),
            Err(error) => {
                tracing::error!(%error, "the trash and revision sweep failed");
                summary.error.get_or_insert_with(|| error.to_string());
            }
        }
        tracing::info!(
            received = summary.received,
            succeeded = summary.succeeded,
            failed = summary.failed,
            released = summary.released,
            expired_pending = summary.expired_pending,
            purged = summary.purged,
            "dead-letter queue drained"
        );
        summary
    }

    /// Re-runs one message; true when it succeeded and was deleted.
    async fn redrive(&self, message: &Message) -> bool {
        let message_id = message.message_id().unwrap_or_default();
        let receives = receive_count(message);
        let Some(event) = message.body().and_then(original_event) else {
            tracing::error!(%message_id, receives, "dead-letter message is not a JSON event; left in the queue");
            self.hide(message, backoff(receives)).await;
            return false;
        };
        match self.events.handle(event).await {
            Ok(summary) => {
                let Some(handle) = message.receipt_handle() else {
                    return false;
                };
                match self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                {
                    Ok(_) => {
                        tracing::info!(%message_id, outcome = summary.outcome, reason = summary.reason, "dead-letter message re-run");
                        true
                    }
                    Err(error) => {
                        // The event is idempotent: running it again later is harmless.
                        tracing::warn!(%message_id, error = %aws_smithy_error(&error), "re-run succeeded but the message could not be deleted");
                        false
                    }
                }
            }
            Err(error) => {
                if receives >= POISON_RECEIVES {
                    tracing::error!(%message_id, receives, %error, "poison message in the dead-letter queue");
                } else {
                    tracing::warn!(%message_id, receives, %error, "dead-letter message failed again");
                }
                self.hide(message, backoff(receives)).await;
                false
            }
        }
    }

    async fn hide(&self, message: &Message, duration: Duration) {
        let Some(handle) = message.receipt_handle() else {
            return;
        };
        if let Err(error) = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(duration.as_secs().min(MAX_VISIBILITY_SECONDS) as i32)
            .send()
            .await
        {
            tracing::warn!(error = %aws_smithy_error(&error), "could not change a message's visibility");
        }
    }
}

fn aws_smithy_error<E, R>(error: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    aws_sdk_sqs::error::DisplayErrorContext(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(3), Duration::from_secs(120));
        assert_eq!(backoff(100), Duration::from_secs(12 * 3600));
    }

    #[test]
    fn destination_records_are_unwrapped() {
        let event = serde_json::json!({"detail-type": "Object Created"});
        let record = serde_json::json!({"version": "1.0", "requestPayload": event});
        assert_eq!(original_event(&record.to_string()), Some(event.clone()));
        assert_eq!(original_event(&event.to_string()), Some(event));
        assert_eq!(original_event("not json"), None);
    }
}
