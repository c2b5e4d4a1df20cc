//! Two regional deployments sharing one DynamoDB global table: a document uploaded
//! through region A's API is served by region B's API, from region A's bucket; and
//! every change to a document is written in its home region, whichever region's API
//! receives it (`kumocms_core::home_region`).
//!
//! moto keeps regions apart and has no global tables, so the replica is modelled the
//! way it behaves: region B's API reads and writes the one table (created in region A)
//! through a DynamoDB client configured for region A, while its S3 client, bucket and
//! events are region B's own. What is under test is that the record carries the
//! bucket and region of its content and that B's blob store then reaches region A's
//! bucket with a region-A client and signature.
//!
//! The home-region tests model the replicas more closely: one table of the same name
//! in each region (moto keeps them apart), each API wired exactly as the Lambda
//! function wires it (`Core::from_settings`), and replication played by hand by
//! copying the item from A's table to B's.

// Tests: a failed expectation must panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use common::{PDF, body, invoke_api, rest_event, s3_event, settings, status, upload};
use kumocms_aws::testing::{
    REGION_A, REGION_B, create_bucket, create_table, moto_config, unique_name,
};
use kumocms_aws::{DynamoMetadataStore, DynamoReplicas, S3BlobStore};
use kumocms_core::home_region::HomeRegionStore;
use kumocms_lambda::api::{self, Core};
use kumocms_lambda::events::EventsHandler;
use kumocms_lambda::{Role, Settings};
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::{Value, json};

struct Region {
    name: &'static str,
    bucket: String,
    core: Core,
}

async fn create(core: &Core, bytes: &'static [u8]) -> Value {
    let created = invoke_api(
        core,
        "POST",
        "/documents",
        Some(json!({"file_name": "shared.pdf", "file_size": bytes.len(), "content_type": "application/pdf", "document_type": "contract"})),
    )
    .await;
    assert_eq!(status(&created), 201, "{created}");
    let created = body(&created);
    upload(&created["upload"], Bytes::from_static(bytes)).await;
    created
}

/// The Object Created event S3 sends through the uploading region's EventBridge.
async fn deliver(region: &Region, key: &str) {
    let event = s3_event(
        "eventbridge-s3-object-created.json",
        &region.bucket,
        region.name,
        key,
    );
    let outcome = EventsHandler::new(region.core.processor.clone())
        .handle(event)
        .await
        .unwrap();
    assert_eq!(outcome.outcome, "applied", "{outcome:?}");
}

/// Reads a document through `region`'s API and fetches its content by the link.
async fn read_through(region: &Region, id: &str) -> (Value, Bytes) {
    let got = invoke_api(&region.core, "GET", &format!("/documents/{id}"), None).await;
    assert_eq!(status(&got), 200, "{got}");
    let document = body(&got);
    let url = document["download"]["url"].as_str().unwrap().to_owned();
    let content = reqwest::get(&url).await.unwrap();
    assert!(content.status().is_success(), "{url}");
    (document, content.bytes().await.unwrap())
}

#[tokio::test]
async fn a_document_uploaded_in_one_region_is_served_by_the_other() {
    let config_a = moto_config(REGION_A).await;
    let config_b = moto_config(REGION_B).await;
    let table = unique_name("global");
    create_table(&config_a, &table).await;
    let bucket_a = unique_name("region-a");
    let bucket_b = unique_name("region-b");
    create_bucket(&config_a, &bucket_a).await;
    create_bucket(&config_b, &bucket_b).await;
    let replica = || Arc::new(DynamoMetadataStore::new(&config_a, &table));
    let a = Region {
        name: REGION_A,
        bucket: bucket_a.clone(),
        core: Core::new(
            replica(),
            Arc::new(S3BlobStore::new(&config_a, &bucket_a)),
            &settings(&bucket_a, &table),
        ),
    };
    let b = Region {
        name: REGION_B,
        bucket: bucket_b.clone(),
        core: Core::new(
            replica(),
            Arc::new(S3BlobStore::new(&config_b, &bucket_b)),
            &settings(&bucket_b, &table),
        ),
    };

    // Uploaded through A: the bytes land in A's bucket, A's events activate it.
    let created = create(&a.core, PDF).await;
    let id = created["document_id"].as_str().unwrap().to_owned();
    assert!(
        created["upload"]["url"]
            .as_str()
            .unwrap()
            .contains(&bucket_a)
    );
    deliver(&a, &format!("documents/{id}/r1")).await;

    // The item names where the content is.
    let item = DynamoMetadataStore::new(&config_a, &table)
        .client()
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("DOC#{id}")))
        .key("SK", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["contentBucket"], AttributeValue::S(bucket_a.clone()));
    assert_eq!(item["contentRegion"], AttributeValue::S(REGION_A.into()));

    // Served by B: the link is for A's bucket, signed for A's region.
    let (document, bytes) = read_through(&b, &id).await;
    assert_eq!(document["status"], "active");
    let url = document["download"]["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("/{bucket_a}/documents/{id}/r1")),
        "{url}"
    );
    assert!(
        url.contains("%2Fus-east-1%2Fs3%2Faws4_request"),
        "signed for us-east-1: {url}"
    );
    assert_eq!(bytes.as_ref(), PDF);
    let redirect = invoke_api(&b.core, "GET", &format!("/documents/{id}/content"), None).await;
    assert_eq!(status(&redirect), 307, "{redirect}");
    let listed = invoke_api(&b.core, "GET", "/documents?type=contract", None).await;
    assert_eq!(body(&listed)["documents"][0]["document_id"], json!(id));

    // And the other way round, in the same table.
    let created = create(&b.core, b"%PDF-1.4 from B").await;
    let id_b = created["document_id"].as_str().unwrap().to_owned();
    deliver(&b, &format!("documents/{id_b}/r1")).await;
    let (document, bytes) = read_through(&a, &id_b).await;
    assert!(
        document["download"]["url"]
            .as_str()
            .unwrap()
            .contains(&bucket_b)
    );
    assert_eq!(bytes.as_ref(), b"%PDF-1.4 from B");

    // Deleting through B removes the bytes from A's bucket too.
    let deleted = invoke_api(
        &b.core,
        "DELETE",
        &format!("/documents/{id}?permanent=true"),
        None,
    )
    .await;
    assert_eq!(status(&deleted), 204, "{deleted}");
    let left = S3BlobStore::new(&config_a, &bucket_a)
        .client()
        .list_object_versions()
        .bucket(&bucket_a)
        .prefix(format!("documents/{id}/"))
        .send()
        .await
        .unwrap();
    assert!(left.versions().is_empty() && left.delete_markers().is_empty());
}

/// [`invoke_api`] with request headers (`If-Match`).
async fn invoke_with(
    core: &Core,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Value {
    let mut event = rest_event(method, path, body);
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
        event["multiValueHeaders"][*name] = json!([value]);
    }
    let request: LambdaRequest = serde_json::from_value(event).unwrap();
    let service = lambda_http::tower::ServiceBuilder::new()
        .map_request(api::prepare)
        .service(api::router(core.service.clone()));
    let mut adapter = lambda_http::Adapter::from(service);
    let mut context = Context::default();
    context.request_id = ulid::Ulid::new().to_string();
    serde_json::to_value(
        adapter
            .call(LambdaEvent::new(request, context))
            .await
            .unwrap(),
    )
    .unwrap()
}

fn header(response: &Value, name: &str) -> Option<String> {
    ["headers", "multiValueHeaders"].iter().find_map(|field| {
        let (_, value) = response[field]
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        match value {
            Value::Array(values) => values.first()?.as_str().map(str::to_owned),
            other => other.as_str().map(str::to_owned),
        }
    })
}

/// The raw item of document `id` in `config`'s region's table.
async fn item(
    config: &SdkConfig,
    table: &str,
    id: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    aws_sdk_dynamodb::Client::new(config)
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("DOC#{id}")))
        .key("SK", AttributeValue::S("META".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn version(item: &std::collections::HashMap<String, AttributeValue>) -> u64 {
    item["version"].as_n().unwrap().parse().unwrap()
}

/// Global-table replication of one item, played by hand: A's item copied to B.
async fn replicate(from: &SdkConfig, to: &SdkConfig, table: &str, id: &str) {
    let copy = item(from, table, id).await.unwrap();
    aws_sdk_dynamodb::Client::new(to)
        .put_item()
        .table_name(table)
        .set_item(Some(copy))
        .send()
        .await
        .unwrap();
}

/// Two regions over two replicas of one table (same name), each API wired as the
/// Lambda function wires it.
struct Replicated {
    config_a: SdkConfig,
    config_b: SdkConfig,
    table: String,
    a: Region,
    b: Region,
}

async fn replicated() -> Replicated {
    let config_a = moto_config(REGION_A).await;
    let config_b = moto_config(REGION_B).await;
    let table = unique_name("global");
    create_table(&config_a, &table).await;
    create_table(&config_b, &table).await;
    let bucket_a = unique_name("home-a");
    let bucket_b = unique_name("home-b");
    create_bucket(&config_a, &bucket_a).await;
    create_bucket(&config_b, &bucket_b).await;
    let a = Region {
        name: REGION_A,
        bucket: bucket_a.clone(),
        core: Core::from_settings(&config_a, &settings(&bucket_a, &table)),
    };
    let b = Region {
        name: REGION_B,
        bucket: bucket_b.clone(),
        core: Core::from_settings(&config_b, &settings(&bucket_b, &table)),
    };
    Replicated {
        config_a,
        config_b,
        table,
        a,
        b,
    }
}

/// A document created and activated through A, replicated to B.
async fn homed_in_a(world: &Replicated) -> String {
    let created = create(&world.a.core, PDF).await;
    let id = created["document_id"].as_str().unwrap().to_owned();
    deliver(&world.a, &format!("documents/{id}/r1")).await;
    replicate(&world.config_a, &world.config_b, &world.table, &id).await;
    id
}

#[tokio::test]
async fn a_change_through_another_region_is_written_in_the_home_region() {
    let world = replicated().await;
    let id = homed_in_a(&world).await;
    let before = version(&item(&world.config_a, &world.table, &id).await.unwrap());
    assert_eq!(
        version(&item(&world.config_b, &world.table, &id).await.unwrap()),
        before
    );

    // PATCH through B lands in A's table; B's replica only changes by replication.
    let etag = format!("\"{before}\"");
    let patched = invoke_with(
        &world.b.core,
        "PATCH",
        &format!("/documents/{id}"),
        Some(json!({"metadata": {"approved_by": "region-b"}})),
        &[("If-Match", etag.as_str())],
    )
    .await;
    assert_eq!(status(&patched), 200, "{patched}");
    let at_home = item(&world.config_a, &world.table, &id).await.unwrap();
    assert_eq!(version(&at_home), before + 1);
    assert!(at_home["record"].as_s().unwrap().contains("region-b"));
    let in_b = item(&world.config_b, &world.table, &id).await.unwrap();
    assert_eq!(version(&in_b), before, "B's replica was not written");
    // A plain read through B is served by B's replica (stale until replication).
    let read = invoke_api(&world.b.core, "GET", &format!("/documents/{id}"), None).await;
    assert_eq!(status(&read), 200, "{read}");
    assert_eq!(body(&read)["version"], json!(before), "{read}");

    // A new upload through B goes to the home bucket, and A's events promote it.
    replicate(&world.config_a, &world.config_b, &world.table, &id).await;
    let replaced = invoke_api(
        &world.b.core,
        "PUT",
        &format!("/documents/{id}"),
        Some(json!({"file_size": 15, "content_type": "application/pdf"})),
    )
    .await;
    assert_eq!(status(&replaced), 200, "{replaced}");
    let replaced = body(&replaced);
    let url = replaced["upload"]["url"].as_str().unwrap();
    assert!(url.contains(&world.a.bucket), "uploads go home: {url}");
    upload(&replaced["upload"], Bytes::from_static(b"%PDF-1.4 second")).await;
    deliver(&world.a, &format!("documents/{id}/r2")).await;
    let at_home = item(&world.config_a, &world.table, &id).await.unwrap();
    assert_eq!(at_home["contentRegion"], AttributeValue::S(REGION_A.into()));
    assert!(at_home["record"].as_s().unwrap().contains("/r2"));

    // DELETE through B moves the document to the trash at home.
    replicate(&world.config_a, &world.config_b, &world.table, &id).await;
    let deleted = invoke_api(&world.b.core, "DELETE", &format!("/documents/{id}"), None).await;
    assert_eq!(status(&deleted), 204, "{deleted}");
    let at_home = item(&world.config_a, &world.table, &id).await.unwrap();
    assert!(
        at_home["record"]
            .as_s()
            .unwrap()
            .contains(r#""status":"deleted""#),
        "the home record is in the trash: {at_home:?}"
    );
    let in_b = item(&world.config_b, &world.table, &id).await.unwrap();
    assert!(
        !in_b["record"]
            .as_s()
            .unwrap()
            .contains(r#""status":"deleted""#),
        "B's replica is untouched until replication"
    );
}

#[tokio::test]
async fn racing_changes_through_two_regions_give_one_success_and_one_412() {
    let world = replicated().await;
    for round in 0..3 {
        let id = homed_in_a(&world).await;
        let current = version(&item(&world.config_a, &world.table, &id).await.unwrap());
        let etag = format!("\"{current}\"");
        let path = format!("/documents/{id}");
        let if_match = [("If-Match", etag.as_str())];
        let (through_a, through_b) = tokio::join!(
            invoke_with(
                &world.a.core,
                "PATCH",
                &path,
                Some(json!({"metadata": {"winner": "a"}})),
                &if_match,
            ),
            invoke_with(
                &world.b.core,
                "PATCH",
                &path,
                Some(json!({"metadata": {"winner": "b"}})),
                &if_match,
            ),
        );
        let mut statuses = [status(&through_a), status(&through_b)];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 412],
            "round {round}: {through_a} / {through_b}"
        );
        // The one acknowledged change is the one the home replica holds.
        let winner = if status(&through_a) == 200 { "a" } else { "b" };
        let at_home = item(&world.config_a, &world.table, &id).await.unwrap();
        assert_eq!(version(&at_home), current + 1);
        assert!(
            at_home["record"]
                .as_s()
                .unwrap()
                .contains(&format!("\"winner\":\"{winner}\""))
        );
    }
}

/// The control: with each region writing its own replica (what the functions do when
/// told the table is strongly consistent, here on a table that is not), the same race
/// gives two 200s, and replication would keep only one of the two changes.
#[tokio::test]
async fn without_home_region_writes_the_same_race_acknowledges_both() {
    let world = replicated().await;
    let local_writes = |bucket: &str| {
        let vars = [
            ("S3_BUCKET_NAME", bucket.to_owned()),
            ("DYNAMODB_TABLE_NAME", world.table.clone()),
            ("KUMOCMS_MULTI_REGION_CONSISTENCY", "STRONG".to_owned()),
        ];
        Settings::from_lookup(Role::Api, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    let a = Core::from_settings(&world.config_a, &local_writes(&world.a.bucket));
    let b = Core::from_settings(&world.config_b, &local_writes(&world.b.bucket));
    let id = homed_in_a(&world).await;
    let current = version(&item(&world.config_a, &world.table, &id).await.unwrap());
    let etag = format!("\"{current}\"");
    let path = format!("/documents/{id}");
    let if_match = [("If-Match", etag.as_str())];
    let (through_a, through_b) = tokio::join!(
        invoke_with(
            &a,
            "PATCH",
            &path,
            Some(json!({"metadata": {"winner": "a"}})),
            &if_match,
        ),
        invoke_with(
            &b,
            "PATCH",
            &path,
            Some(json!({"metadata": {"winner": "b"}})),
            &if_match,
        ),
    );
    assert_eq!(
        [status(&through_a), status(&through_b)],
        [200, 200],
        "{through_a} / {through_b}"
    );
    // Both replicas accepted a different change at the same version: last-writer-wins
    // replication can keep only one of them.
    let in_a = item(&world.config_a, &world.table, &id).await.unwrap();
    let in_b = item(&world.config_b, &world.table, &id).await.unwrap();
    assert_eq!(version(&in_a), version(&in_b));
    assert_ne!(in_a["record"], in_b["record"]);
}

#[tokio::test]
async fn with_the_home_region_unreachable_writes_are_503_naming_it_and_reads_go_on() {
    let world = replicated().await;
    let id = homed_in_a(&world).await;
    // Region B's API whose route to A's replica leads nowhere.
    let nowhere =
        kumocms_aws::sdk_config_for("http://127.0.0.1:9", REGION_B, "testing", "testing").await;
    let metadata = HomeRegionStore::new(
        REGION_B,
        Arc::new(DynamoMetadataStore::new(&world.config_b, &world.table)),
        Arc::new(DynamoReplicas::new(&nowhere, &world.table)),
    );
    let cut_off = Core::new(
        Arc::new(metadata),
        Arc::new(S3BlobStore::new(&world.config_b, &world.b.bucket)),
        &settings(&world.b.bucket, &world.table),
    );
    let before = item(&world.config_a, &world.table, &id).await.unwrap();
    let path = format!("/documents/{id}");
    for (method, path, request) in [
        ("PATCH", path.clone(), Some(json!({"metadata": {"x": 1}}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/archive"), Some(json!({}))),
        (
            "PUT",
            path.clone(),
            Some(json!({"file_size": 3, "content_type": "text/plain"})),
        ),
    ] {
        let response = invoke_api(&cut_off, method, &path, request).await;
        assert_eq!(status(&response), 503, "{method} {path}: {response}");
        assert_eq!(body(&response)["error"], "home_region_unavailable");
        let message = body(&response)["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(REGION_A),
            "names the home region: {message}"
        );
        assert!(header(&response, "retry-after").is_some(), "{response}");
    }
    assert_eq!(
        item(&world.config_a, &world.table, &id).await.unwrap(),
        before
    );
    // Reads keep working from the local replica.
    let read = invoke_api(&cut_off, "GET", &path, None).await;
    assert_eq!(status(&read), 200, "{read}");
    let listed = invoke_api(&cut_off, "GET", "/documents?type=contract", None).await;
    assert_eq!(status(&listed), 200, "{listed}");
    // New documents are homed here, so creating one still works.
    let created = invoke_api(
        &cut_off,
        "POST",
        "/documents",
        Some(json!({"file_name": "new.txt", "file_size": 3})),
    )
    .await;
    assert_eq!(status(&created), 201, "{created}");
}

/// The extra latency of a change from a region that is not the document's home,
/// against moto on 127.0.0.1 (BENCHMARKS.md, "Multi-region writes"): PATCHes through A
/// (home) and through B alternate, and the medians are printed, never asserted. Run
/// with `--no-capture` to see them.
#[tokio::test]
async fn round_trips_of_a_change_from_home_and_from_elsewhere() {
    let world = replicated().await;
    let id = homed_in_a(&world).await;
    let path = format!("/documents/{id}");
    let rounds: u32 = 40;
    let mut timings: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for n in 0..rounds {
        for (slot, region) in [&world.a, &world.b].into_iter().enumerate() {
            let started = Instant::now();
            let patched = invoke_api(
                &region.core,
                "PATCH",
                &path,
                // A different value each time: a PATCH that changes nothing is
                // not written and would not count.
                Some(json!({"metadata": {"n": n, "via": slot}})),
            )
            .await;
            timings[slot].push(started.elapsed());
            assert_eq!(status(&patched), 200, "{patched}");
        }
    }
    for (label, mut times) in ["home (A)", "elsewhere (B)"].into_iter().zip(timings) {
        times.sort_unstable();
        println!(
            "PATCH through {label}: median {:?}, fastest {:?} over {rounds}",
            times[times.len() / 2],
            times[0]
        );
    }
    assert_eq!(
        version(&item(&world.config_a, &world.table, &id).await.unwrap()),
        version(&item(&world.config_b, &world.table, &id).await.unwrap()) + 2 * u64::from(rounds),
        "every change landed at home; B's replica saw none of them"
    );
}
