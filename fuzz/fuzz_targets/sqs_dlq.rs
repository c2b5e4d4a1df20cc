//! The `dlq` function's parser: an SQS dead-letter message body (the event itself, or
//! a Lambda on-failure record around it) back to the event, then to a storage event.
#![no_main]

use kumocms_lambda::dlq::original_event;
use kumocms_lambda::events::storage_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(event) = original_event(body) {
        let _ = storage_event(&event);
    }
    // The same body as an SQS event record, the shape the queue delivers it in.
    let record = serde_json::json!({"Records": [{"messageId": "1", "body": body, "eventSource": "aws:sqs"}]});
    if let Ok(sqs) = serde_json::from_value::<aws_lambda_events::sqs::SqsEvent>(record) {
        for message in sqs.records {
            if let Some(event) = message.body.as_deref().and_then(original_event) {
                let _ = storage_event(&event);
            }
        }
    }
});
