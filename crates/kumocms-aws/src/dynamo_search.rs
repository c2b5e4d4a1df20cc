//! `GET /documents` searches on DynamoDB (issue 13, item 4), behind
//! [`MetadataStore::search`](kumocms_core::ports::MetadataStore::search).
//!
//! **Attributes.** Every item carries, rebuilt from the record by
//! [`search_attributes`] on each write (creation, PATCH, new content, extraction all
//! write the item through the one builder):
//!
//! | attribute       | type | meaning                                                        |
//! |-----------------|------|----------------------------------------------------------------|
//! | `searchVersion` | N    | [`SEARCH_VERSION`]: the item has the attributes below           |
//! | `searchText`    | S    | file name, title, metadata values and the first [`MAX_SEARCH_TEXT`] of the extracted text, folded with `search::normalize` |
//! | `fileName`      | S    | the file name, folded                                           |
//! | `contentType`   | S    | the media type's essence, lower case                            |
//! | `size`          | N    | the content's size in bytes (absent while only pending)          |
//! | `createdAt`, `updatedAt` | N | microseconds since the epoch                             |
//! | `metaPairs`     | SS   | `key` U+001F `value` of each top-level string, number or boolean |
//!
//! **Reads.** A request reads one *window* of the listing `type` narrows to: a Query
//! of `DocumentTypeIndex` (its range key `uploadedAt`, the id's time, bounded by
//! `created_after`/`created_before`), else a Scan. The `q` words and the structured
//! filters go down as a filter expression, which trims what comes back (not what is
//! read: DynamoDB charges for every item evaluated); an item without
//! `searchVersion` (written before this release) passes that part and is judged
//! in the core alone, so old items are found without a migration. Every item that
//! comes back is evaluated by the core's [`evaluate`], so the answer is the
//! reference's, never looser.
//!
//! A window is at most [`WINDOW_ITEMS`] items evaluated, in at most
//! [`WINDOW_CALLS`] calls: the bound on the work of one request. Its hits are sorted
//! by the query's sort and paged with a keyset position inside the window; when the
//! window has no more hits, `next` moves to the next window, even after a short or
//! empty page. The sort is therefore exact whenever the narrowed listing fits in one
//! window (≤ 1,000 items of a `type` in the date range), and within each window of
//! the listing beyond that; a deployment that needs a global relevance order over
//! more belongs on a dedicated search engine (ARCHITECTURE.md, "Search").
//!
//! A window is read again for each of its pages: the Query with its range key bound
//! at the window's last key (exact), the Scan from the same start until the
//! window's last item (asked for by key in the filter, so it comes back). If that
//! item is deleted meanwhile, the re-read stops at twice the budget instead, and a
//! hit there that sorts before the page's position can be missed; a concurrent
//! insert inside the window is found or not, like any insert behind a position.

use std::cmp::Ordering;
use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use kumocms_core::Document;
use kumocms_core::ports::StoreError;
use kumocms_core::search::{
    ContentTypeFilter, Position, SearchHit, SearchPage, SearchQuery, SortValue, compare_keys,
    evaluate, file_of, metadata_text, name_text, normalize, sort_value,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dynamo::{
    DOCUMENT_TYPE_INDEX, META, decode_position, encode_position, from_item, n, s, store_error,
};

/// Bumped when the search attributes change shape; an item with an older (or no)
/// version is judged in the core alone.
pub const SEARCH_VERSION: u32 = 1;
/// The extracted text `searchText` keeps: the first 32 KiB (the bound, and
/// well inside DynamoDB's 400 KB item with the record beside it).
pub const MAX_SEARCH_TEXT: usize = 32 * 1024;
/// Items one request may evaluate (read) when it opens a window.
pub const WINDOW_ITEMS: i32 = 1000;
/// Calls one request may make when it opens a window (each reads at most 1 MB).
pub const WINDOW_CALLS: usize = 8;
/// Items per Query or Scan call.
const READ_PAGE: i32 = 250;
/// How much earlier than `created_at` a document's id (and so `uploadedAt`) can be:
/// the id is minted at the start of the create request and `created_at` taken after
/// the upload is prepared, within one Lambda invocation (at most 15 minutes), plus a
/// minute for the clock stepping back.
pub const ID_BEFORE_CREATED: Duration = Duration::minutes(16);
/// How much later than `created_at` an id's time can be (a clock stepping back).
const ID_AFTER_CREATED: Duration = Duration::minutes(1);
/// Between a metadata key and its value in `metaPairs`.
const META_PAIR_SEPARATOR: char = '\u{1f}';

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The media type's essence as `ContentTypeFilter::matches` compares it.
fn essence(content_type: &str) -> String {
    content_type
        .to_ascii_lowercase()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn meta_pair_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The search attributes of `document`'s item (module docs).
pub(crate) fn search_attributes(document: &Document) -> Vec<(String, AttributeValue)> {
    let mut out = vec![("searchVersion".to_owned(), n(SEARCH_VERSION))];
    let text = document
        .extracted
        .as_ref()
        .and_then(|e| e.text.as_deref())
        .unwrap_or_default();
    let mut all = name_text(document);
    all.push('\n');
    all.push_str(&metadata_text(document));
    all.push('\n');
    all.push_str(truncated(text, MAX_SEARCH_TEXT));
    let folded = normalize(&all);
    if !folded.trim().is_empty() {
        out.push(("searchText".to_owned(), s(folded)));
    }
    if let Some((name, content_type, size)) = file_of(document) {
        let name = normalize(name);
        if !name.is_empty() {
            out.push(("fileName".to_owned(), s(name)));
        }
        let content_type = essence(content_type);
        if !content_type.is_empty() {
            out.push(("contentType".to_owned(), s(content_type)));
        }
        if let Some(size) = size {
            out.push(("size".to_owned(), n(size)));
        }
    }
    out.push(("createdAt".to_owned(), n(micros(document.created_at))));
    out.push(("updatedAt".to_owned(), n(micros(document.updated_at))));
    let pairs: Vec<String> = document
        .metadata
        .iter()
        .filter_map(|(key, value)| {
            meta_pair_value(value).map(|v| format!("{key}{META_PAIR_SEPARATOR}{v}"))
        })
        .collect();
    if !pairs.is_empty() {
        out.push(("metaPairs".to_owned(), AttributeValue::Ss(pairs)));
    }
    out
}

/// Expression attribute names and values, registered as they are used (DynamoDB
/// refuses unused ones).
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

/// The filter expression of `query`: the status (the trash only when asked for),
/// then every other filter and each `q` word, which items without search
/// attributes skip (they are judged in the core).
fn filter_expression(query: &SearchQuery, expression: &mut Expression, scan: bool) -> String {
    let mut parts = Vec::new();
    if scan {
        let sk = expression.name("SK");
        let meta = expression.value(s(META));
        parts.push(format!("{sk} = {meta}"));
    }
    let status = expression.name("status");
    match query.status {
        Some(wanted) => {
            let v = expression.value(s(wanted.as_str()));
            parts.push(format!("{status} = {v}"));
        }
        None => {
            let v = expression.value(s("deleted"));
            parts.push(format!("{status} <> {v}"));
        }
    }
    let mut pushed = Vec::new();
    if let Some(text) = &query.text {
        // A word of the text is a substring of the folded text; an excluded word
        // cannot go down (a substring is not a word), the core applies it.
        for term in text.included() {
            for word in &term.words {
                let attribute = expression.name("searchText");
                let v = expression.value(s(word.as_str()));
                pushed.push(format!("contains({attribute}, {v})"));
            }
        }
    }
    for (key, want) in &query.metadata {
        // A number matches numerically (12 = 12.0) in the core: only other values go
        // down as the exact pair.
        if want.parse::<f64>().is_ok() {
            continue;
        }
        let attribute = expression.name("metaPairs");
        let v = expression.value(s(format!("{key}{META_PAIR_SEPARATOR}{want}")));
        pushed.push(format!("contains({attribute}, {v})"));
    }
    match &query.content_type {
        Some(ContentTypeFilter::Exact(want)) => {
            let attribute = expression.name("contentType");
            let v = expression.value(s(want.as_str()));
            pushed.push(format!("{attribute} = {v}"));
        }
        Some(ContentTypeFilter::Prefix(prefix)) => {
            let attribute = expression.name("contentType");
            let v = expression.value(s(prefix.as_str()));
            pushed.push(format!("begins_with({attribute}, {v})"));
        }
        None => {}
    }
    if let Some(prefix) = query.file_name_prefix.as_deref().filter(|p| !p.is_empty()) {
        let attribute = expression.name("fileName");
        let v = expression.value(s(prefix));
        pushed.push(format!("begins_with({attribute}, {v})"));
    }
    if let Some(min) = query.min_size {
        let attribute = expression.name("size");
        let v = expression.value(n(min));
        pushed.push(format!("{attribute} >= {v}"));
    }
    if let Some(max) = query.max_size {
        let attribute = expression.name("size");
        let v = expression.value(n(max));
        pushed.push(format!("{attribute} <= {v}"));
    }
    // Stored in whole microseconds: the bounds are widened to them, the core
    // applies the exact (exclusive) comparison.
    for (attribute, bound, op) in [
        ("createdAt", query.created_after, ">="),
        ("createdAt", query.created_before, "<="),
        ("updatedAt", query.updated_after, ">="),
        ("updatedAt", query.updated_before, "<="),
    ] {
        if let Some(bound) = bound {
            let attribute = expression.name(attribute);
            let v = expression.value(n(micros(bound)));
            pushed.push(format!("{attribute} {op} {v}"));
        }
    }
    if !pushed.is_empty() {
        let version = expression.name("searchVersion");
        let v = expression.value(n(SEARCH_VERSION));
        parts.push(format!(
            "(attribute_not_exists({version}) OR {version} <> {v} OR ({}))",
            pushed.join(" AND ")
        ));
    }
    parts.join(" AND ")
}

/// `uploadedAt` at the start (`fill` '0') or end ('9') of the millisecond of `t`:
/// the same fixed-width form `dynamo::uploaded_at` writes.
fn uploaded_at_bound(t: DateTime<Utc>, fill: char) -> String {
    let stamp = t.format("%Y-%m-%dT%H:%M:%S%.3f");
    let digits: String = std::iter::repeat_n(fill, 25).collect();
    format!("{stamp}{digits}Z")
}

/// The `uploadedAt` range the date filters allow (the id's time is within
/// [`ID_BEFORE_CREATED`] before and [`ID_AFTER_CREATED`] after `created_at`).
fn uploaded_at_range(query: &SearchQuery) -> (Option<String>, Option<String>) {
    let low = query
        .created_after
        .and_then(|t| t.checked_sub_signed(ID_BEFORE_CREATED))
        .map(|t| uploaded_at_bound(t, '0'));
    let high = query
        .created_before
        .and_then(|t| t.checked_add_signed(ID_AFTER_CREATED))
        .map(|t| uploaded_at_bound(t, '9'));
    (low, high)
}

type Key = HashMap<String, AttributeValue>;

/// Where a window ends, as far as the request knows.
enum End {
    /// Not read yet: the window is what the budget reads.
    Unknown,
    /// It ran to the end of the listing.
    Last,
    /// Its last item.
    Key(Key),
}

/// The items of a window, and where the listing continues after it.
struct Window {
    items: Vec<HashMap<String, AttributeValue>>,
    next: Option<Key>,
}

struct Call {
    items: Vec<HashMap<String, AttributeValue>>,
    scanned: i32,
    last: Option<Key>,
}

async fn call(
    client: &Client,
    table: &str,
    query: &SearchQuery,
    start: Option<Key>,
    high: Option<&str>,
    end_pk: Option<&str>,
    limit: i32,
) -> Result<Option<Call>, StoreError> {
    let mut expression = Expression::default();
    // The attributes a display read asks for: a hit is a record for display.
    let projection = crate::dynamo::DISPLAY_ATTRIBUTES
        .iter()
        .map(|a| expression.name(a))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(document_type) = &query.document_type {
        let (low, date_high) = uploaded_at_range(query);
        let high = match (date_high, high) {
            (Some(a), Some(b)) => Some(a.min(b.to_owned())),
            (a, b) => a.or(b.map(str::to_owned)),
        };
        let type_name = expression.name("documentType");
        let type_value = expression.value(s(document_type.as_str()));
        let mut key_condition = format!("{type_name} = {type_value}");
        let range = expression.name("uploadedAt");
        match (low, high) {
            (Some(low), Some(high)) if low > high => return Ok(None),
            (Some(low), Some(high)) => {
                let low = expression.value(s(low));
                let high = expression.value(s(high));
                key_condition.push_str(&format!(" AND {range} BETWEEN {low} AND {high}"));
            }
            (Some(low), None) => {
                let low = expression.value(s(low));
                key_condition.push_str(&format!(" AND {range} >= {low}"));
            }
            (None, Some(high)) => {
                let high = expression.value(s(high));
                key_condition.push_str(&format!(" AND {range} <= {high}"));
            }
            (None, None) => {}
        }
        let filter = filter_expression(query, &mut expression, false);
        let output = client
            .query()
            .table_name(table)
            .index_name(DOCUMENT_TYPE_INDEX)
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| store_error("Query", e))?;
        Ok(Some(Call {
            scanned: output.scanned_count,
            items: output.items.unwrap_or_default(),
            last: output.last_evaluated_key.filter(|k| !k.is_empty()),
        }))
    } else {
        let mut filter = filter_expression(query, &mut expression, true);
        if let Some(end_pk) = end_pk {
            // The window's last item comes back whatever the filters say, so that
            // a re-read sees where the window ends.
            let pk = expression.name("PK");
            let v = expression.value(s(end_pk));
            filter = format!("({filter}) OR {pk} = {v}");
        }
        let output = client
            .scan()
            .table_name(table)
            .filter_expression(filter)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| store_error("Scan", e))?;
        Ok(Some(Call {
            scanned: output.scanned_count,
            items: output.items.unwrap_or_default(),
            last: output.last_evaluated_key.filter(|k| !k.is_empty()),
        }))
    }
}

fn string_of<'a>(key: &'a Key, name: &str) -> Option<&'a str> {
    key.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// Reads the window after `start` that ends at `end`.
async fn read_window(
    client: &Client,
    table: &str,
    query: &SearchQuery,
    mut start: Option<Key>,
    end: &End,
) -> Result<Window, StoreError> {
    let through_index = query.document_type.is_some();
    // Re-reading a known window may read more than opening it did (inserts inside
    // it), up to twice the budget.
    let (max_items, max_calls) = match end {
        End::Unknown => (WINDOW_ITEMS, WINDOW_CALLS),
        End::Last | End::Key(_) => (2 * WINDOW_ITEMS, 2 * WINDOW_CALLS),
    };
    let end_key = match end {
        End::Key(key) => Some(key),
        End::Unknown | End::Last => None,
    };
    let end_pk = end_key.and_then(|k| string_of(k, "PK"));
    let end_range = end_key
        .filter(|_| through_index)
        .and_then(|k| string_of(k, "uploadedAt"));
    let mut items = Vec::new();
    let mut read = 0;
    for _ in 0..max_calls {
        let limit = (max_items - read).min(READ_PAGE);
        if limit <= 0 {
            break;
        }
        let Some(page) = call(
            client,
            table,
            query,
            start.clone(),
            end_range,
            end_pk.filter(|_| !through_index),
            limit,
        )
        .await?
        else {
            return Ok(Window { items, next: None });
        };
        read += page.scanned.max(1);
        if let (Some(end_pk), false) = (end_pk, through_index)
            && let Some(at) = page
                .items
                .iter()
                .position(|item| string_of(item, "PK") == Some(end_pk))
        {
            items.extend(page.items.into_iter().take(at + 1));
            return Ok(Window {
                items,
                next: end_key.cloned(),
            });
        }
        items.extend(page.items);
        match page.last {
            Some(last) => start = Some(last),
            None => {
                // The listing ended; through the index a known window ends there
                // because its range key is bounded at the window's last item, and
                // the listing goes on after it unless the date range ends first.
                let next = match (end_key, end_range) {
                    (Some(key), Some(range)) if through_index => {
                        let (_, date_high) = uploaded_at_range(query);
                        let beyond = date_high.is_some_and(|high| high.as_str() <= range);
                        (!beyond).then(|| key.clone())
                    }
                    _ => None,
                };
                return Ok(Window { items, next });
            }
        }
    }
    // Out of budget: the window ends at the last item read.
    Ok(Window { items, next: start })
}

/// Where a search continues: the window (its start, and its end once read) and the
/// last hit returned from it. Signed into the cursor by the core.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchCursor {
    /// The listing position the window starts after (none: the beginning).
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    /// The window's end, once read.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    end: Option<WindowEnd>,
    /// The last hit returned from the window.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    after: Option<Position>,
}

/// The end of a window that has been read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum WindowEnd {
    /// It ran to the end of the listing.
    #[serde(rename = "l")]
    Last,
    /// The listing position of its last item.
    #[serde(rename = "k")]
    Key(String),
}

impl SearchCursor {
    fn decode(text: &str) -> Result<Self, StoreError> {
        if let Ok(cursor) = serde_json::from_str::<Self>(text) {
            return Ok(cursor);
        }
        // A position of the core's scan (the release before): the same order over
        // one window from the beginning.
        Position::decode(text)
            .map(|after| Self {
                after: Some(after),
                ..Self::default()
            })
            .ok_or_else(|| StoreError::Corrupt("unreadable search position".into()))
    }

    fn encode(&self) -> Result<String, StoreError> {
        serde_json::to_string(self)
            .map_err(|e| StoreError::other_from("the search cursor could not be encoded", e))
    }
}

/// Answers `query` with one bounded window read (module docs).
pub(crate) async fn search(
    client: &Client,
    table: &str,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let cursor = match &query.after {
        None => SearchCursor::default(),
        Some(text) => SearchCursor::decode(text)?,
    };
    let start = cursor.start.as_deref().map(decode_position).transpose()?;
    let end = match &cursor.end {
        None => End::Unknown,
        Some(WindowEnd::Last) => End::Last,
        Some(WindowEnd::Key(key)) => End::Key(decode_position(key)?),
    };
    let window = read_window(client, table, query, start, &end).await?;
    let mut found: Vec<(SortValue, String, SearchHit)> = Vec::new();
    for item in &window.items {
        let Some(hit) = evaluate(from_item(item)?, query) else {
            continue;
        };
        let value = sort_value(&hit.document, query.sort, hit.score);
        let id = hit.document.id.to_string();
        if let Some(after) = &cursor.after
            && compare_keys(query.sort, (&value, &id), (&after.value, &after.id))
                != Ordering::Greater
        {
            continue;
        }
        found.push((value, id, hit));
    }
    found.sort_by(|a, b| compare_keys(query.sort, (&a.0, &a.1), (&b.0, &b.1)));
    let more = found.len() > query.limit;
    found.truncate(query.limit);
    let window_next = window.next.as_ref().map(encode_position).transpose()?;
    let next = match found.last() {
        Some((value, id, _)) if more => Some(SearchCursor {
            start: cursor.start.clone(),
            end: Some(window_next.map_or(WindowEnd::Last, WindowEnd::Key)),
            after: Some(Position {
                value: value.clone(),
                id: id.clone(),
            }),
        }),
        // The window is done: the next page opens the next one, if any.
        _ => window_next.map(|start| SearchCursor {
            start: Some(start),
            end: None,
            after: None,
        }),
    };
    Ok(SearchPage {
        hits: found.into_iter().map(|(_, _, hit)| hit).collect(),
        next: next.as_ref().map(SearchCursor::encode).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_at_bounds_enclose_every_id_of_their_millisecond() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T08:00:00.123456Z")
            .unwrap_or_else(|e| panic!("{e}"))
            .with_timezone(&Utc);
        let id = kumocms_core::DocumentId::from_ulid(ulid::Ulid::from_parts(
            u64::try_from(t.timestamp_millis()).unwrap_or_default(),
            u128::MAX >> 48,
        ));
        let stamp = crate::dynamo::uploaded_at(&id, t);
        assert!(uploaded_at_bound(t, '0') <= stamp && stamp <= uploaded_at_bound(t, '9'));
    }

    #[test]
    fn cursors_round_trip_and_read_the_previous_format() {
        let cursor = SearchCursor {
            start: Some("{\"PK\":\"DOC#1\",\"SK\":\"META\"}".into()),
            end: Some(WindowEnd::Last),
            after: Some(Position {
                value: SortValue::Integer(3),
                id: "01J".into(),
            }),
        };
        let text = cursor.encode().unwrap_or_default();
        let back = SearchCursor::decode(&text).unwrap_or_default();
        assert_eq!(back.start, cursor.start);
        assert_eq!(back.end, Some(WindowEnd::Last));
        let legacy = Position {
            value: SortValue::Number(8.0),
            id: "01J".into(),
        }
        .encode();
        let read = SearchCursor::decode(&legacy).unwrap_or_default();
        assert!(read.start.is_none() && read.end.is_none() && read.after.is_some());
        assert!(SearchCursor::decode("nonsense").is_err());
    }
}
