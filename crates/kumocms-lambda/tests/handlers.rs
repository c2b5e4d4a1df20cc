//! The four handlers fed real-shaped events (fixtures modelled on AWS's documented
//! examples), over the AWS adapters on moto (`scripts/with-moto.sh`).

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use common::{Deployment, PDF, body, create_and_upload, document, fixture, status};
use kumocms_aws::testing::{REGION_A, moto_config, unique_name};
use kumocms_aws::{DynamoMetadataStore, S3BlobStore, SecretsKeySource};
use kumocms_core::ports::{KeySource, MetadataStore, SystemClock};
use kumocms_lambda::api::Core;
use kumocms_lambda::authorizer::{Authorizer, Unauthorized};
use kumocms_lambda::dlq::DlqDrainer;
use kumocms_lambda::events::EventsHandler;
use serde_json::{Value, json};

// ---------------------------------------------------------------- authorizer

async fn secret(
    config: &aws_config::SdkConfig,
    value: Value,
) -> (kumocms_aws::SecretsClient, String) {
    let client = kumocms_aws::SecretsClient::new(config);
    let arn = client
        .create_secret()
        .name(unique_name("kumocms-api-keys"))
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    (client, arn)
}

fn authorizer_event(header_name: &str, value: Option<&str>) -> Value {
    let mut event = fixture("apigw-request-authorizer.json");
    for map in ["headers", "multiValueHeaders"] {
        event[map].as_object_mut().unwrap().remove("Authorization");
    }
    if let Some(value) = value {
        event["headers"][header_name] = json!(value);
        event["multiValueHeaders"][header_name] = json!([value]);
    }
    event
}

async fn authorizer(ttl: Duration) -> (Authorizer, kumocms_aws::SecretsClient, String) {
    let config = moto_config(REGION_A).await;
    let (client, arn) = secret(
        &config,
        json!({"api_key": "current-key-0123456789", "api_key_previous": "previous-key-0123456789"}),
    )
    .await;
    let keys = SecretsKeySource::with_options(client.clone(), &arn, ttl, Arc::new(SystemClock));
    (Authorizer::new(Arc::new(keys)), client, arn)
}

#[tokio::test]
async fn authorizer_allows_the_stage_for_current_and_previous_keys() {
    let (authorizer, _, _) = authorizer(Duration::from_secs(300)).await;
    let allowed = authorizer
        .handle(authorizer_event(
            "Authorization",
            Some("Bearer current-key-0123456789"),
        ))
        .await
        .unwrap();
    let allowed = serde_json::to_value(allowed).unwrap();
    assert_eq!(
        allowed,
        json!({
            "principalId": "kumocms-api-key",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/v1/*/*"
                }]
            },
            "context": {"key": "current"}
        })
    );
    // Header names arrive in whatever case the client used; the scheme too.
    let previous = authorizer
        .handle(authorizer_event(
            "authorization",
            Some("bearer previous-key-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(previous.context.key, "previous");
    let upper = authorizer
        .handle(authorizer_event(
            "AUTHORIZATION",
            Some("Bearer current-key-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(upper.context.key, "current");
    // Only multiValueHeaders (some integrations send just that).
    let mut multi_only = authorizer_event("Authorization", Some("Bearer current-key-0123456789"));
    multi_only["headers"] = json!({});
    assert!(authorizer.handle(multi_only).await.is_ok());
}

#[tokio::test]
async fn authorizer_refuses_wrong_blank_and_missing_keys() {
    let (authorizer, _, _) = authorizer(Duration::from_secs(300)).await;
    for value in [
        Some("Bearer wrong-key"),
        Some("Bearer "),
        Some("Bearer     "),
        Some(""),
        Some("current-key-0123456789"),
        Some("Basic current-key-0123456789"),
        Some("Bearer current-key-0123456789 extra"),
        Some("Bearer current-key-012345678"),
        None,
    ] {
        let result = authorizer
            .handle(authorizer_event("Authorization", value))
            .await;
        assert_eq!(result, Err(Unauthorized), "{value:?}");
        assert_eq!(Unauthorized.to_string(), "Unauthorized");
    }
    // Not a REQUEST authorizer event, or no usable methodArn: refused too.
    assert_eq!(authorizer.handle(json!({"x": 1})).await, Err(Unauthorized));
    let mut no_arn = authorizer_event("Authorization", Some("Bearer current-key-0123456789"));
    no_arn["methodArn"] = json!("not-an-arn");
    assert_eq!(authorizer.handle(no_arn).await, Err(Unauthorized));
}

/// Issue 16, item 13: two Authorization headers are refused in either order (API
/// Gateway puts the last one in `headers`, every one in `multiValueHeaders`).
#[tokio::test]
async fn authorizer_refuses_two_authorization_headers() {
    let (authorizer, _, _) = authorizer(Duration::from_secs(300)).await;
    let good = "Bearer current-key-0123456789";
    for (first, second) in [(good, "Bearer bad"), ("Bearer bad", good), (good, good)] {
        let mut event = authorizer_event("Authorization", Some(second));
        event["multiValueHeaders"]["Authorization"] = json!([first, second]);
        assert_eq!(
            authorizer.handle(event).await,
            Err(Unauthorized),
            "{first} then {second}"
        );
    }
    // The names differ only in case: still two headers.
    let mut event = authorizer_event("Authorization", Some(good));
    event["multiValueHeaders"]["authorization"] = json!(["Bearer bad"]);
    assert_eq!(authorizer.handle(event).await, Err(Unauthorized));
}

#[tokio::test]
async fn authorizer_denies_when_the_secret_is_unavailable() {
    let config = moto_config(REGION_A).await;
    let keys = SecretsKeySource::with_options(
        kumocms_aws::SecretsClient::new(&config),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing",
        Duration::from_secs(300),
        Arc::new(SystemClock),
    );
    let authorizer = Authorizer::new(Arc::new(keys));
    let event = authorizer_event("Authorization", Some("Bearer anything-at-all"));
    assert_eq!(authorizer.handle(event).await, Err(Unauthorized));
}

#[tokio::test]
async fn a_rotated_secret_takes_effect_after_the_ttl() {
    // A manual clock makes "within" and "after" the TTL exact; the bootstrap test in
    // runtime_api.rs checks the same with a real one-second TTL.
    let config = moto_config(REGION_A).await;
    let (client, arn) = secret(
        &config,
        json!({"api_key": "current-key-0123456789", "api_key_previous": "previous-key-0123456789"}),
    )
    .await;
    let clock = Arc::new(kumocms_core::clock::ManualClock::new(chrono::Utc::now()));
    let keys = SecretsKeySource::with_options(
        client.clone(),
        &arn,
        Duration::from_secs(60),
        clock.clone(),
    );
    let authorizer = Authorizer::new(Arc::new(keys));
    let old = authorizer_event("Authorization", Some("Bearer previous-key-0123456789"));
    assert!(authorizer.handle(old.clone()).await.is_ok());
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(json!({"api_key": "rotated-key-0123456789", "api_key_previous": "current-key-0123456789"}).to_string())
        .send()
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(59));
    assert!(
        authorizer.handle(old.clone()).await.is_ok(),
        "within the TTL the cached keys apply"
    );
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        authorizer.handle(old).await,
        Err(Unauthorized),
        "rotated out"
    );
    let new = authorizer
        .handle(authorizer_event(
            "Authorization",
            Some("Bearer rotated-key-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(new.context.key, "current");
}

// ---------------------------------------------------------------- api

#[tokio::test]
async fn the_api_serves_rest_proxy_events_with_the_stage_in_the_path() {
    let deployment = Deployment::new(REGION_A).await;
    let health = deployment.api("GET", "/healthcheck", None).await;
    assert_eq!(status(&health), 200, "{health}");
    let missing = deployment
        .api("GET", "/documents/01HZX3J6Q8M4N2P5R7S9T1V3W5", None)
        .await;
    assert_eq!(status(&missing), 404, "{missing}");
    assert_eq!(body(&missing)["error"], "document_not_found");
    let bad = deployment
        .api("POST", "/documents", Some(json!({"file_name": 3})))
        .await;
    assert_eq!(status(&bad), 400, "{bad}");

    let (id, _) = create_and_upload(&deployment, PDF).await;
    let listed = deployment
        .api("GET", "/documents?type=invoice&limit=5", None)
        .await;
    assert_eq!(status(&listed), 200, "{listed}");
    assert_eq!(body(&listed)["documents"][0]["document_id"], json!(id));
    let pending = document(&deployment, &id).await;
    assert_eq!(pending["status"], "pending_upload");
    assert!(pending.get("download").is_none());

    // Cursor pagination over the GSI, through API Gateway's query parameters.
    let (second, _) = create_and_upload(&deployment, PDF).await;
    let page = deployment
        .api("GET", "/documents?type=invoice&limit=1", None)
        .await;
    let page = body(&page);
    assert_eq!(page["documents"][0]["document_id"], json!(id));
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let next = deployment
        .api(
            "GET",
            &format!("/documents?type=invoice&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status(&next), 200, "{next}");
    let next = body(&next);
    assert_eq!(next["documents"][0]["document_id"], json!(second));
    assert!(next.get("next_cursor").is_none_or(Value::is_null), "{next}");
    // A cursor is bound to its filter.
    let other = deployment
        .api(
            "GET",
            &format!("/documents?type=receipt&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status(&other), 400, "{other}");
}

/// Issue 16, item 5: a listing page is capped by bytes as well as by count, so that
/// 1,000 records of 16 KiB each cannot make a response over Lambda's 6 MiB limit;
/// the cursor then pages through every record exactly once.
#[tokio::test]
async fn listing_pages_stay_far_below_the_lambda_response_limit() {
    let deployment = Deployment::new(REGION_A).await;
    let heavy = "m".repeat(16_000);
    let mut created = std::collections::BTreeSet::new();
    for n in 0..150 {
        let response = deployment
            .api(
                "POST",
                "/documents",
                Some(json!({"file_name": format!("{n}.txt"), "file_size": 1,
                    "document_type": "heavy", "metadata": {"blob": heavy}})),
            )
            .await;
        assert_eq!(status(&response), 201, "{response}");
        created.insert(body(&response)["document_id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/documents?type=heavy&limit=1000".to_owned(),
            Some(cursor) => format!("/documents?type=heavy&limit=1000&cursor={cursor}"),
        };
        let response = deployment.api("GET", &path, None).await;
        assert_eq!(status(&response), 200, "{path}");
        // What Lambda returns to API Gateway: the whole response object, body inside.
        let size = serde_json::to_vec(&response).unwrap().len();
        assert!(size < 3 * 1024 * 1024, "a page of {size} bytes");
        let page = body(&response);
        for document in page["documents"].as_array().unwrap() {
            seen.push(document["document_id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(pages >= 2, "150 records of 16 KiB must not fit one page");
    assert_eq!(seen.len(), created.len(), "each record exactly once");
    assert_eq!(
        seen.into_iter().collect::<std::collections::BTreeSet<_>>(),
        created
    );
}

// ---------------------------------------------------------------- events

async fn activate(deployment: &Deployment, events: &EventsHandler, key: &str) -> Value {
    let result = events
        .handle(deployment.s3_event("eventbridge-s3-object-created.json", key))
        .await
        .unwrap();
    serde_json::to_value(result).unwrap()
}

#[tokio::test]
async fn object_created_activates_and_duplicates_change_nothing() {
    let deployment = Deployment::new(REGION_A).await;
    let events = deployment.events();
    let (id, key) = create_and_upload(&deployment, PDF).await;
    let first = activate(&deployment, &events, &key).await;
    assert_eq!(first["outcome"], "applied", "{first}");
    let active = document(&deployment, &id).await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["extracted"]["size"], json!(PDF.len()));
    let link = &active["download"];
    let fetched = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PDF);

    // The same event again, and the same key URL-encoded as S3 notifications send it.
    let again = activate(&deployment, &events, &key).await;
    assert_eq!(again["outcome"], "ignored", "{again}");
    let encoded = key.replace('/', "%2F");
    let encoded = activate(&deployment, &events, &encoded).await;
    assert_eq!(encoded["outcome"], "ignored", "{encoded}");
    let unchanged = document(&deployment, &id).await;
    assert_eq!(
        unchanged["version"], active["version"],
        "duplicates write nothing"
    );

    // Keys that are not ours, and other S3 events, succeed without effect.
    for (fixture_name, key) in [
        (
            "eventbridge-s3-object-created.json",
            "uploads/someone+else's file.pdf",
        ),
        (
            "eventbridge-s3-object-created.json",
            "documents/../../etc/r1",
        ),
        ("eventbridge-s3-restore-expired.json", "example-key"),
    ] {
        let ignored = events
            .handle(deployment.s3_event(fixture_name, key))
            .await
            .unwrap();
        assert_eq!(ignored.outcome, "ignored");
    }
    let scheduled = events
        .handle(fixture("eventbridge-scheduled.json"))
        .await
        .unwrap();
    assert_eq!(scheduled.reason, "not_an_s3_event");
}

/// Replaces content and delivers the two revisions' events in `order`.
async fn replace_with_events_in_order(deployment: &Deployment, reversed: bool) -> Value {
    let events = deployment.events();
    let (id, first_key) = create_and_upload(deployment, PDF).await;
    // The replacement is asked for before the first upload's event arrives.
    let replaced = deployment
        .api(
            "PUT",
            &format!("/documents/{id}"),
            Some(json!({"file_size": 11, "content_type": "text/plain"})),
        )
        .await;
    assert_eq!(status(&replaced), 200, "{replaced}");
    common::upload(
        &body(&replaced)["upload"],
        bytes::Bytes::from_static(b"second text"),
    )
    .await;
    let second_key = format!("documents/{id}/r2");
    let mut order = vec![first_key, second_key];
    if reversed {
        order.reverse();
    }
    for key in &order {
        activate(deployment, &events, key).await;
    }
    // And each once more, late.
    for key in &order {
        activate(deployment, &events, key).await;
    }
    document(deployment, &id).await
}

#[tokio::test]
async fn out_of_order_and_duplicate_events_reach_the_same_state() {
    let deployment = Deployment::new(REGION_A).await;
    let in_order = replace_with_events_in_order(&deployment, false).await;
    let reversed = replace_with_events_in_order(&deployment, true).await;
    for document in [&in_order, &reversed] {
        assert_eq!(document["status"], "active", "{document}");
        assert_eq!(document["revision"], 2);
        assert_eq!(document["size"], 11);
        assert_eq!(document["content_type"], "text/plain");
        assert!(document.get("pending_upload").is_none());
    }
    // The superseded first upload is gone from the bucket either way.
    for document in [&in_order, &reversed] {
        let id = document["document_id"].as_str().unwrap();
        let listed = S3BlobStore::new(&deployment.config, &deployment.bucket)
            .client()
            .list_object_versions()
            .bucket(&deployment.bucket)
            .prefix(format!("documents/{id}/r1"))
            .send()
            .await
            .unwrap();
        assert!(listed.versions().is_empty(), "r1 of {id} must be deleted");
    }
}

#[tokio::test]
async fn restore_events_move_an_archived_document_and_ignore_stale_ones() {
    let deployment = Deployment::new(REGION_A).await;
    let events = deployment.events();
    let (id, key) = create_and_upload(&deployment, PDF).await;
    activate(&deployment, &events, &key).await;
    // A completion before any restore was asked for means nothing.
    let early = events
        .handle(deployment.s3_event("eventbridge-s3-restore-completed.json", &key))
        .await
        .unwrap();
    assert_eq!(early.outcome, "ignored");

    let archived = deployment
        .api(
            "POST",
            &format!("/documents/{id}/archive"),
            Some(json!({"storage_class": "GLACIER"})),
        )
        .await;
    assert_eq!(status(&archived), 202, "{archived}");
    // The copy in place emits Object Created: it must not reset the document.
    let copy = activate(&deployment, &events, &key).await;
    assert_eq!(copy["outcome"], "ignored", "{copy}");
    assert_eq!(document(&deployment, &id).await["status"], "archived");

    let restoring = deployment
        .api(
            "POST",
            &format!("/documents/{id}/restore"),
            Some(json!({"days": 2})),
        )
        .await;
    assert_eq!(status(&restoring), 202, "{restoring}");
    let mut completed = deployment.s3_event("eventbridge-s3-restore-completed.json", &key);
    let until = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    completed["detail"]["restore-expiry-time"] = json!(until);
    // Expired delivered before completed (out of order), then completed twice.
    let expired_first = events
        .handle(deployment.s3_event("eventbridge-s3-restore-expired.json", &key))
        .await
        .unwrap();
    assert_eq!(expired_first.outcome, "applied");
    assert_eq!(document(&deployment, &id).await["status"], "archived");
    let late = events.handle(completed.clone()).await.unwrap();
    assert_eq!(
        late.outcome, "ignored",
        "a completion after the expiry is stale"
    );

    let again = deployment
        .api(
            "POST",
            &format!("/documents/{id}/restore"),
            Some(json!({"days": 2})),
        )
        .await;
    assert_eq!(status(&again), 202, "{again}");
    assert_eq!(
        events.handle(completed.clone()).await.unwrap().outcome,
        "applied"
    );
    assert_eq!(events.handle(completed).await.unwrap().outcome, "ignored");
    let restored = document(&deployment, &id).await;
    assert_eq!(restored["status"], "restored");
    assert!(restored["download"]["url"].is_string());
}

#[tokio::test]
async fn a_failing_dependency_makes_the_event_fail() {
    let deployment = Deployment::new(REGION_A).await;
    let (_, key) = create_and_upload(&deployment, PDF).await;
    let event = deployment.s3_event("eventbridge-s3-object-created.json", &key);

    // The table is missing.
    let missing_table = Core::new(
        Arc::new(DynamoMetadataStore::new(
            &deployment.config,
            "no-such-table",
        )),
        Arc::new(S3BlobStore::new(&deployment.config, &deployment.bucket)),
        &deployment.settings,
    );
    let error = EventsHandler::new(missing_table.processor)
        .handle(event.clone())
        .await
        .unwrap_err();
    let kumocms_lambda::events::EventError::Failed { source, .. } = &error;
    assert!(source.is_transient(), "{error}");

    // Nothing listens at the endpoint.
    let down =
        kumocms_aws::sdk_config_for("http://127.0.0.1:9", REGION_A, "testing", "testing").await;
    let unreachable = Core::from_settings(&down, &deployment.settings);
    let started = Instant::now();
    let error = EventsHandler::new(unreachable.processor)
        .handle(event.clone())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unavailable"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // The same event succeeds once the dependency is back.
    let outcome = deployment.events().handle(event).await.unwrap();
    assert_eq!(outcome.outcome, "applied");
}

// ---------------------------------------------------------------- dlq

async fn queue(config: &aws_config::SdkConfig) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(config);
    let url = sqs
        .create_queue()
        .queue_name(unique_name("kumocms-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (sqs, url)
}

/// Sends `body` the way Lambda's asynchronous DLQ does (fixture attributes).
async fn dead_letter(sqs: &aws_sdk_sqs::Client, url: &str, body: &str) {
    let fixture = fixture("sqs-lambda-dlq-message.json");
    let mut request = sqs.send_message().queue_url(url).message_body(body);
    for (name, attribute) in fixture["MessageAttributes"].as_object().unwrap() {
        request = request.message_attributes(
            name,
            MessageAttributeValue::builder()
                .data_type(attribute["DataType"].as_str().unwrap())
                .string_value(attribute["StringValue"].as_str().unwrap())
                .build()
                .unwrap(),
        );
    }
    request.send().await.unwrap();
}

async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let count = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test]
async fn the_dlq_drain_reruns_events_keeps_poison_and_sweeps_uploads() {
    let deployment = Deployment::new(REGION_A).await;
    let (sqs, url) = queue(&deployment.config).await;
    let (id, key) = create_and_upload(&deployment, PDF).await;
    let event = deployment.s3_event("eventbridge-s3-object-created.json", &key);
    dead_letter(&sqs, &url, &event.to_string()).await;
    // A Lambda on-failure destination record wraps the event.
    let foreign = deployment.s3_event("eventbridge-s3-object-created.json", "elsewhere/x.pdf");
    dead_letter(
        &sqs,
        &url,
        &json!({"version": "1.0", "requestPayload": foreign}).to_string(),
    )
    .await;
    dead_letter(&sqs, &url, "this is not an event").await;

    // An abandoned upload whose link expired long ago.
    let mut abandoned = kumocms_core::conformance::with_pending(
        kumocms_core::conformance::sample_document(
            "invoice",
            kumocms_core::DocumentStatus::PendingUpload,
        ),
        chrono::Utc::now() - chrono::Duration::hours(1),
    );
    abandoned.content = None;
    if let Some(pending) = abandoned.pending_upload.as_mut() {
        pending.location = kumocms_core::BlobLocation {
            store: deployment.bucket.clone(),
            region: Some(REGION_A.into()),
        };
    }
    let metadata = DynamoMetadataStore::new(&deployment.config, &deployment.table);
    metadata.insert(&abandoned).await.unwrap();

    let drainer = DlqDrainer::new(
        sqs.clone(),
        &url,
        Arc::new(deployment.events()),
        deployment.core.service.clone(),
    );
    let summary = drainer.run(Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(summary.received, 3, "{summary:?}");
    assert_eq!(summary.succeeded, 2, "{summary:?}");
    assert_eq!(summary.failed, 1, "{summary:?}");
    assert_eq!(summary.expired_pending, Some(1), "{summary:?}");
    assert!(!summary.budget_exhausted);
    assert_eq!(document(&deployment, &id).await["status"], "active");
    assert_eq!(metadata.get(&abandoned.id).await.unwrap(), None);
    // The poison message stays in the queue, hidden for its backoff.
    assert_eq!(queue_counts(&sqs, &url).await, (0, 1));

    // A run without budget left receives nothing and says so.
    let summary = drainer.run(Instant::now()).await;
    assert_eq!(summary.received, 0);
    assert!(summary.budget_exhausted);
}

#[tokio::test]
async fn the_key_source_is_shared_not_refetched_per_request() {
    // Many concurrent authorizations on a cold cache make one fetch (and all agree).
    let config = moto_config(REGION_A).await;
    let (client, arn) = secret(&config, json!({"api_key": "k-0123456789"})).await;
    let keys = Arc::new(SecretsKeySource::with_options(
        client,
        &arn,
        Duration::from_secs(300),
        Arc::new(SystemClock),
    ));
    let results = futures_util::future::join_all((0..16).map(|_| keys.api_keys())).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|k| k.verify("k-0123456789").is_some()))
    );
}
