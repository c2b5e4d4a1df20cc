//! Document records in DynamoDB, in the schema the Terraform module creates:
//!
//! | attribute          | type | meaning                                                          |
//! |--------------------|------|------------------------------------------------------------------|
//! | `PK`               | S    | `DOC#<ULID>` (table hash key)                                    |
//! | `SK`               | S    | `META` (table range key)                                         |
//! | `documentType`     | S    | GSI `DocumentTypeIndex` hash key                                 |
//! | `uploadedAt`       | S    | GSI range key: creation time from the ULID, RFC 3339 UTC (below)|
//! | `status`           | S    | lifecycle status, for filters                                    |
//! | `version`          | N    | bumped on every write; every write is conditional on it          |
//! | `contentBucket`    | S    | bucket holding the content (or the pending upload)               |
//! | `contentRegion`    | S    | its region, so another region's API can read it (global table)   |
//! | `expiresAt`        | N    | table TTL: a first upload's expiry plus [`TTL_BACKSTOP`]          |
//! | `pendingExpiresAt` | N    | when any pending upload (first or replacement) is abandoned      |
//! | `record`           | S    | the whole `kumocms_core::Document` as JSON, without its history  |
//! | `history`          | S    | the retained revisions, a JSON array newest first; absent if none |
//! | `searchVersion`, `searchText`, `fileName`, `contentType`, `size`, `createdAt`, `updatedAt`, `metaPairs` | | search attributes, see [`crate::dynamo_search`] |
//!
//! `history` is written with `record` by the same conditional `PutItem`, and left
//! out of every read for display by a `ProjectionExpression` (`get_nearby`, listings,
//! searches), so that those do not read or decode it. It shares the item's 400 KB
//! with the record (`kumocms_core::revision::MAX_RETAINED_REVISIONS` bounds it).
//! Items written before it existed (record schema version 2) keep their history
//! inside `record`: it is read from there, and moved to `history` by the item's
//! next write.
//!
//! `pendingExpiresAt` exists besides `expiresAt` because a pending *replacement* must
//! be swept (its record stays, only the pending upload goes) but must not be deleted
//! by the table's TTL.
//!
//! The TTL is a backstop, [`TTL_BACKSTOP`] after the pending upload expires: the
//! dlq function's sweep expires abandoned uploads on time and leaves those whose
//! content is stored to the event processor. A TTL at the expiry itself deleted
//! the record of an upload that arrived in time when its event was late (the
//! events function down for a day), and the late event then deleted the content
//! as an orphan (issue 16, item 14).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use kumocms_core::ports::{ListPage, ListQuery, MetadataStore, StoreError};
use kumocms_core::revision::History;
use kumocms_core::search::{SearchPage, SearchQuery};
use kumocms_core::{Document, DocumentId};

use crate::errors::{Kind, classify, describe};

pub const DOCUMENT_TYPE_INDEX: &str = "DocumentTypeIndex";
/// How long after a first upload's expiry the table's TTL may delete its record:
/// longer than EventBridge retries (24 h) plus the dead-letter queue's longest
/// retention (14 days), so a late or dead-lettered event still finds the record.
pub const TTL_BACKSTOP: chrono::Duration = chrono::Duration::days(15);
pub(crate) const META: &str = "META";
/// Requests one listing call may make before it returns a short page with a cursor,
/// so a sparse filter over a large table cannot run into the Lambda timeout.
const MAX_LIST_REQUESTS: usize = 50;
/// Items to read per request when a status filter may discard many of them.
const FILTERED_READ: i32 = 200;
/// The key attributes a listing position may hold (table key plus GSI key).
const POSITION_ATTRIBUTES: &[&str] = &["PK", "SK", "documentType", "uploadedAt"];

/// [`MetadataStore`] on a DynamoDB table.
#[derive(Clone)]
pub struct DynamoMetadataStore {
    client: Client,
    table: String,
}

impl std::fmt::Debug for DynamoMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoMetadataStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

pub(crate) fn pk(id: &DocumentId) -> String {
    format!("DOC#{id}")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The GSI range key: the document's creation instant as RFC 3339 UTC, taken from its
/// ULID (the id is minted when the document is created), with the ULID's 80 random
/// bits as 25 further fraction digits. Fixed width, so string order is time order,
/// and ties within a millisecond break exactly as ids do: listing by type through the
/// index is in id order, as `ListPage` promises.
pub(crate) fn uploaded_at(id: &DocumentId, fallback: DateTime<Utc>) -> String {
    let Ok(ulid) = ulid::Ulid::from_string(&id.to_string()) else {
        return fallback.to_rfc3339_opts(SecondsFormat::Millis, true);
    };
    let millis = i64::try_from(ulid.timestamp_ms()).unwrap_or(i64::MAX);
    let Some(time) = DateTime::<Utc>::from_timestamp_millis(millis) else {
        return fallback.to_rfc3339_opts(SecondsFormat::Millis, true);
    };
    let stamp = time.format("%Y-%m-%dT%H:%M:%S%.3f");
    format!("{stamp}{:025}Z", ulid.random())
}

pub(crate) fn store_error<E, R>(
    operation: &str,
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: crate::errors::HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match classify(&error) {
        Kind::Conflict => StoreError::Conflict,
        Kind::Transient => StoreError::Unavailable(describe(operation, &error)),
        Kind::NotFound | Kind::Permanent => {
            StoreError::other_from(describe(operation, &error), error)
        }
    }
}

fn to_item(document: &Document) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let record = serde_json::to_string(document)
        .map_err(|e| StoreError::other_from(format!("cannot serialise {}: {e}", document.id), e))?;
    let mut item = HashMap::from([
        ("PK".to_owned(), s(pk(&document.id))),
        ("SK".to_owned(), s(META)),
        ("documentType".to_owned(), s(&document.document_type)),
        (
            "uploadedAt".to_owned(),
            s(uploaded_at(&document.id, document.created_at)),
        ),
        ("status".to_owned(), s(document.status.as_str())),
        ("version".to_owned(), n(document.version)),
        (
            "storageClass".to_owned(),
            s(document.storage_class.as_str()),
        ),
        ("record".to_owned(), s(record)),
    ]);
    // Refuses a record read for display: writing it would drop its history.
    if !document.revisions.get()?.is_empty() {
        item.insert(HISTORY.to_owned(), s(document.revisions.to_json()?));
    }
    // Rebuilt from the record on every write (this is the only item builder), so
    // a search never filters on stale metadata.
    item.extend(crate::dynamo_search::search_attributes(document));
    let location = document
        .content
        .as_ref()
        .map(|c| &c.location)
        .or(document.pending_upload.as_ref().map(|p| &p.location));
    if let Some(location) = location {
        item.insert("contentBucket".to_owned(), s(&location.store));
        if let Some(region) = &location.region {
            item.insert("contentRegion".to_owned(), s(region));
        }
    }
    if let Some(pending) = &document.pending_upload {
        let at = pending.expires_at.timestamp();
        item.insert("pendingExpiresAt".to_owned(), n(at));
        if document.content.is_none() {
            // Only a record that never had content may vanish with its upload, and
            // only long after the sweep had its chance (see TTL_BACKSTOP).
            item.insert(
                "expiresAt".to_owned(),
                n((pending.expires_at + TTL_BACKSTOP).timestamp()),
            );
        }
    }
    Ok(item)
}

/// The attribute that holds a record's retained revisions.
const HISTORY: &str = "history";

/// The attributes a read for display asks for: all but [`HISTORY`] that
/// [`from_item`] and a listing's position need.
pub(crate) const DISPLAY_ATTRIBUTES: &[&str] = &[
    "PK",
    "SK",
    "documentType",
    "uploadedAt",
    "version",
    "record",
];

/// A `ProjectionExpression` of [`DISPLAY_ATTRIBUTES`], with the names it uses
/// added to `names` (`record` and others are reserved words).
fn display_projection(names: &mut HashMap<String, String>) -> String {
    DISPLAY_ATTRIBUTES
        .iter()
        .enumerate()
        .map(|(n, attribute)| {
            let name = format!("#p{n}");
            names.insert(name.clone(), (*attribute).to_owned());
            name
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A record for display, from an item read with or without its history: the
/// history is left out ([`History::NotLoaded`]).
pub(crate) fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Document, StoreError> {
    let mut document = decode_item(item)?;
    document.revisions = History::NotLoaded;
    Ok(document)
}

/// A record with its history, from an item read whole: the `history` attribute,
/// or the history inside the record of an item written before it existed.
pub(crate) fn from_item_whole(
    item: &HashMap<String, AttributeValue>,
) -> Result<Document, StoreError> {
    let mut document = decode_item(item)?;
    match item.get(HISTORY).map(|v| v.as_s()) {
        Some(Ok(history)) => {
            document.revisions = History::from_json(history).map_err(|e| {
                StoreError::Corrupt(format!("{}: unreadable history: {e}", document.id))
            })?;
        }
        Some(Err(_)) => {
            return Err(StoreError::Corrupt(format!(
                "{}: the history attribute is not a string",
                document.id
            )));
        }
        // Read from inside the record (schema version 2), moved out at the next write.
        None if document.revisions.is_loaded() => {}
        None => document.revisions = History::empty(),
    }
    Ok(document)
}

fn decode_item(item: &HashMap<String, AttributeValue>) -> Result<Document, StoreError> {
    let key = item
        .get("PK")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let record = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{key}: no record attribute")))?;
    // Any schema version this release reads, upgraded (see `kumocms_core::SCHEMA_VERSION`).
    let document =
        Document::from_record(record).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
    // The `version` attribute is what conditions compare; it must agree with the
    // record, or a write could succeed against a version nobody read.
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if version != Some(document.version) {
        return Err(StoreError::Corrupt(format!(
            "{key}: version attribute disagrees with the record"
        )));
    }
    Ok(document)
}

/// Serialises a DynamoDB key (all of whose attributes are strings here) as the opaque
/// position the core signs into a cursor.
pub(crate) fn encode_position(key: &HashMap<String, AttributeValue>) -> Result<String, StoreError> {
    let mut map = serde_json::Map::new();
    for (name, value) in key {
        if !POSITION_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        let text = value
            .as_s()
            .map_err(|_| StoreError::other(format!("key attribute {name} is not a string")))?;
        map.insert(name.clone(), serde_json::Value::String(text.clone()));
    }
    serde_json::to_string(&map).map_err(|e| StoreError::other_from(e.to_string(), e))
}

pub(crate) fn decode_position(
    position: &str,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let bad = || StoreError::Corrupt("listing position is not a DynamoDB key".to_owned());
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(position).map_err(|_| bad())?;
    let mut key = HashMap::new();
    for (name, value) in map {
        if !POSITION_ATTRIBUTES.contains(&name.as_str()) {
            return Err(bad());
        }
        let serde_json::Value::String(text) = value else {
            return Err(bad());
        };
        key.insert(name, s(text));
    }
    if !key.contains_key("PK") || !key.contains_key("SK") {
        return Err(bad());
    }
    Ok(key)
}

/// The key of `item` as a position: the table key, plus the index key when listing
/// through the GSI (DynamoDB needs both to continue an index query after an item).
pub(crate) fn item_position(
    item: &HashMap<String, AttributeValue>,
    through_index: bool,
) -> Result<String, StoreError> {
    let mut key: HashMap<String, AttributeValue> = HashMap::new();
    let attributes: &[&str] = if through_index {
        POSITION_ATTRIBUTES
    } else {
        &["PK", "SK"]
    };
    for name in attributes {
        let value = item
            .get(*name)
            .ok_or_else(|| StoreError::Corrupt(format!("item without {name}")))?;
        key.insert((*name).to_owned(), value.clone());
    }
    encode_position(&key)
}

impl DynamoMetadataStore {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(Client::new(config), table)
    }

    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(id: &DocumentId) -> HashMap<String, AttributeValue> {
        HashMap::from([("PK".to_owned(), s(pk(id))), ("SK".to_owned(), s(META))])
    }

    /// One listing request: a GSI query by type, or a table scan.
    async fn list_request(
        &self,
        query: &ListQuery,
        with_history: bool,
        start: Option<HashMap<String, AttributeValue>>,
        limit: i32,
    ) -> Result<
        (
            Vec<HashMap<String, AttributeValue>>,
            Option<HashMap<String, AttributeValue>>,
        ),
        StoreError,
    > {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let status_filter = query.status.map(|status| {
            names.insert("#status".to_owned(), "status".to_owned());
            values.insert(":status".to_owned(), s(status.as_str()));
            "#status = :status"
        });
        let projection = (!with_history).then(|| display_projection(&mut names));
        if let Some(document_type) = &query.document_type {
            values.insert(":type".to_owned(), s(document_type));
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DOCUMENT_TYPE_INDEX)
                .key_condition_expression("documentType = :type")
                .set_filter_expression(status_filter.map(str::to_owned))
                .set_projection_expression(projection)
                .set_expression_attribute_names((!names.is_empty()).then_some(names))
                .set_expression_attribute_values(Some(values))
                .set_exclusive_start_key(start)
                .limit(limit)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            Ok((
                output.items.unwrap_or_default(),
                output.last_evaluated_key.filter(|k| !k.is_empty()),
            ))
        } else {
            values.insert(":meta".to_owned(), s(META));
            let filter = match status_filter {
                Some(status) => format!("SK = :meta AND {status}"),
                None => "SK = :meta".to_owned(),
            };
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(filter)
                .set_projection_expression(projection)
                .set_expression_attribute_names((!names.is_empty()).then_some(names))
                .set_expression_attribute_values(Some(values))
                .set_exclusive_start_key(start)
                .limit(limit)
                .send()
                .await
                .map_err(|e| store_error("Scan", e))?;
            Ok((
                output.items.unwrap_or_default(),
                output.last_evaluated_key.filter(|k| !k.is_empty()),
            ))
        }
    }
}

#[async_trait]
impl MetadataStore for DynamoMetadataStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(document)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            // Every state change reads, then writes conditionally: read the latest.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        output.item.as_ref().map(from_item_whole).transpose()
    }

    async fn get_nearby(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let mut names = HashMap::new();
        let projection = display_projection(&mut names);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(true)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        output.item.as_ref().map(from_item).transpose()
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(document)?))
            .condition_expression("attribute_exists(PK) AND version = :expected")
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, false).await
    }

    async fn list_with_history(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.page(query, true).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        crate::dynamo_search::search(&self.client, &self.table, query).await
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        let mut documents = Vec::new();
        let mut start = None;
        for _ in 0..MAX_LIST_REQUESTS {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :meta AND pendingExpiresAt < :now")
                .expression_attribute_values(":meta", s(META))
                .expression_attribute_values(":now", n(now.timestamp()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Scan", e))?;
            for item in output.items.unwrap_or_default() {
                // With its history: the sweeper changes what it reads.
                let document = from_item_whole(&item)?;
                // The attribute has second precision; the record has the exact time.
                if document
                    .pending_upload
                    .as_ref()
                    .is_some_and(|p| p.expires_at < now)
                {
                    documents.push(document);
                }
                if documents.len() >= limit {
                    return Ok(documents);
                }
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        Ok(documents)
    }

    async fn health(&self) -> Result<(), StoreError> {
        // GetItem needs no permission beyond what the API already has (unlike
        // DescribeTable), and fails the same way when the table is unreachable.
        self.client
            .get_item()
            .table_name(&self.table)
            .key("PK", s("HEALTH"))
            .key("SK", s(META))
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(())
    }
}

impl DynamoMetadataStore {
    /// A listing's page, each record with its history when `with_history`, without
    /// it (not even read: a projection leaves it out) otherwise.
    async fn page(&self, query: &ListQuery, with_history: bool) -> Result<ListPage, StoreError> {
        let through_index = query.document_type.is_some();
        let wanted = query.limit.clamp(1, 1000);
        let mut start = query.after.as_deref().map(decode_position).transpose()?;
        let mut documents = Vec::new();
        let mut next = None;
        for _ in 0..MAX_LIST_REQUESTS {
            let remaining = wanted - documents.len();
            // Without a status filter every item read is kept, so reading exactly the
            // remaining count makes DynamoDB's own LastEvaluatedKey the position.
            let read = if query.status.is_some() {
                (remaining as i32).max(FILTERED_READ)
            } else {
                remaining as i32
            };
            let (items, last) = self
                .list_request(query, with_history, start.take(), read)
                .await?;
            let mut last_kept = None;
            let mut truncated = false;
            for item in &items {
                if documents.len() == wanted {
                    truncated = true;
                    break;
                }
                documents.push(if with_history {
                    from_item_whole(item)?
                } else {
                    from_item(item)?
                });
                last_kept = Some(item);
            }
            if truncated {
                // More matched than fit: continue after the last item kept.
                next = last_kept
                    .map(|item| item_position(item, through_index))
                    .transpose()?;
                break;
            }
            match last {
                None => break,
                Some(last) if documents.len() == wanted => {
                    next = Some(encode_position(&last)?);
                    break;
                }
                Some(last) => start = Some(last),
            }
        }
        if let Some(last) = &start {
            // Out of requests for this call: hand back where it stopped.
            next = Some(encode_position(last)?);
        }
        if !through_index {
            // A scan returns hash order; within a page, show id (= creation) order.
            documents.sort_by_key(|d| d.id);
        }
        Ok(ListPage { documents, next })
    }
}
