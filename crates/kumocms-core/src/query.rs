//! `GET /documents` with its query parameters: every parameter checked (a 400 that
//! names it), a [`SearchQuery`] built and answered by the store's
//! [`MetadataStore::search`](crate::ports::MetadataStore::search), and the cursor
//! bound to the whole query. A request with only `type`, `status`, `limit` and
//! `cursor` is the plain listing ([`DocumentService::list`]), unchanged.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::cursor::ListFilter;
use crate::document::{Document, DocumentStatus};
use crate::error::CoreError;
use crate::search::{
    ContentTypeFilter, MAX_METADATA_FILTERS, QueryTextError, SearchQuery, Sort, SortField,
    TextQuery, normalize,
};
use crate::service::{DEFAULT_PAGE_SIZE, DocumentService, ListRequest, MAX_PAGE_SIZE};
use crate::validate::{self, ValidationError};

/// Every parameter `GET /documents` takes, besides `meta.<key>`.
pub const PARAMETERS: &[&str] = &[
    "q",
    "content_type",
    "file_name",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "min_size",
    "max_size",
    "type",
    "status",
    "sort",
    "limit",
    "cursor",
];
/// The prefix of a metadata filter parameter.
pub const METADATA_PREFIX: &str = "meta.";
const MAX_METADATA_KEY: usize = 256;
const MAX_METADATA_VALUE: usize = 1024;
const MAX_FILE_NAME_PREFIX: usize = 255;

/// A document found, with its score and snippet when `q` was given.
#[derive(Debug, Clone)]
pub struct QueryHit {
    pub document: Document,
    pub search: Option<HitSearch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HitSearch {
    pub score: f64,
    pub snippet: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QueryPage {
    pub hits: Vec<QueryHit>,
    pub next_cursor: Option<String>,
}

fn bad(code: &'static str, message: impl Into<String>) -> CoreError {
    ValidationError::invalid(code, message).into()
}

fn timestamp(name: &'static str, value: &str) -> Result<DateTime<Utc>, CoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            bad(
                code_of(name),
                format!("{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"),
            )
        })
}

fn size(name: &'static str, value: &str) -> Result<u64, CoreError> {
    // At most i64::MAX: what an int64 allows (the OpenAPI format) and SQLite stores.
    value
        .parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| {
            bad(
                code_of(name),
                format!("{name} must be a whole number of bytes, 0 to 9223372036854775807"),
            )
        })
}

/// The error code of a malformed parameter: `invalid_<parameter>`.
fn code_of(name: &str) -> &'static str {
    match name {
        "q" => "invalid_q",
        "content_type" => "invalid_content_type",
        "file_name" => "invalid_file_name",
        "created_after" => "invalid_created_after",
        "created_before" => "invalid_created_before",
        "updated_after" => "invalid_updated_after",
        "updated_before" => "invalid_updated_before",
        "min_size" => "invalid_min_size",
        "max_size" => "invalid_max_size",
        "sort" => "invalid_sort",
        "limit" => "invalid_limit",
        "cursor" => "invalid_cursor",
        _ => "invalid_query",
    }
}

fn content_type_filter(value: &str) -> Result<ContentTypeFilter, CoreError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let value = value.to_ascii_lowercase();
    let invalid = || {
        bad(
            "invalid_content_type",
            "content_type must be a media type such as application/pdf, or a type with /* such as image/*",
        )
    };
    let (kind, subtype) = value.split_once('/').ok_or_else(invalid)?;
    if !token(kind) {
        return Err(invalid());
    }
    if subtype == "*" {
        return Ok(ContentTypeFilter::Prefix(format!("{kind}/")));
    }
    if !token(subtype) {
        return Err(invalid());
    }
    Ok(ContentTypeFilter::Exact(value))
}

/// Whether `params` ask for more than the plain listing.
fn is_plain_listing(params: &[(String, String)]) -> bool {
    params
        .iter()
        .all(|(name, _)| matches!(name.as_str(), "type" | "status" | "limit" | "cursor"))
}

/// Builds the checked query from the request's parameters (the position is left
/// empty; the service fills it from the cursor).
pub fn parse_query(
    params: &[(String, String)],
) -> Result<(SearchQuery, Option<String>), CoreError> {
    let mut query = SearchQuery {
        limit: DEFAULT_PAGE_SIZE,
        ..SearchQuery::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut sort = None;
    let mut cursor = None;
    for (name, value) in params {
        if let Some(key) = name.strip_prefix(METADATA_PREFIX) {
            if key.is_empty() || key.len() > MAX_METADATA_KEY {
                return Err(bad(
                    "invalid_meta",
                    format!(
                        "{name}: a metadata filter is meta.<key>=<value> with a key of 1 to {MAX_METADATA_KEY} bytes"
                    ),
                ));
            }
            if value.len() > MAX_METADATA_VALUE {
                return Err(bad(
                    "invalid_meta",
                    format!("{name}: the value is longer than {MAX_METADATA_VALUE} bytes"),
                ));
            }
            if query.metadata.len() == MAX_METADATA_FILTERS {
                return Err(bad(
                    "invalid_meta",
                    format!("at most {MAX_METADATA_FILTERS} meta.<key> filters per query"),
                ));
            }
            query.metadata.push((key.to_owned(), value.clone()));
            continue;
        }
        let Some(&known) = PARAMETERS.iter().find(|p| **p == name) else {
            let mut shown: String = name.chars().take(64).collect();
            if shown.len() < name.len() {
                shown.push('…');
            }
            return Err(bad(
                "unknown_parameter",
                format!(
                    "unknown query parameter {shown:?}; GET /documents takes {} and meta.<key>",
                    PARAMETERS.join(", ")
                ),
            ));
        };
        if seen.contains(&known) {
            return Err(bad(
                "duplicate_parameter",
                format!("{known} is given more than once; give it once (only meta.<key> repeats)"),
            ));
        }
        seen.push(known);
        match known {
            "q" => {
                let text = TextQuery::parse(value).map_err(|e| {
                    let hint = match e {
                        QueryTextError::Empty => " (words of letters or digits)",
                        _ => "",
                    };
                    bad("invalid_q", format!("{e}{hint}"))
                })?;
                query.text = Some(text);
            }
            "content_type" => query.content_type = Some(content_type_filter(value)?),
            "file_name" => {
                if value.is_empty() || value.len() > MAX_FILE_NAME_PREFIX {
                    return Err(bad(
                        "invalid_file_name",
                        format!(
                            "file_name is a prefix of the file name, 1 to {MAX_FILE_NAME_PREFIX} bytes"
                        ),
                    ));
                }
                query.file_name_prefix = Some(normalize(value));
            }
            "created_after" => query.created_after = Some(timestamp("created_after", value)?),
            "created_before" => query.created_before = Some(timestamp("created_before", value)?),
            "updated_after" => query.updated_after = Some(timestamp("updated_after", value)?),
            "updated_before" => query.updated_before = Some(timestamp("updated_before", value)?),
            "min_size" => query.min_size = Some(size("min_size", value)?),
            "max_size" => query.max_size = Some(size("max_size", value)?),
            "type" => query.document_type = Some(validate::document_type(Some(value))?),
            "status" => {
                query.status = Some(DocumentStatus::parse(value).ok_or_else(|| {
                    bad(
                        "invalid_status",
                        "status must be one of pending_upload, active, archived, restoring, restored, deleted",
                    )
                })?);
            }
            "sort" => {
                sort = Some(Sort::parse(value).ok_or_else(|| {
                    bad(
                        "invalid_sort",
                        "sort must be one of created_at, updated_at, file_name, size (each with - in front for descending) or relevance",
                    )
                })?);
            }
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                    .ok_or_else(|| bad("invalid_limit", "limit must be between 1 and 1000"))?;
            }
            "cursor" => cursor = Some(value.clone()),
            _ => {}
        }
    }
    if let (Some(min), Some(max)) = (query.min_size, query.max_size)
        && min > max
    {
        return Err(bad("invalid_min_size", "min_size is larger than max_size"));
    }
    for (after, before, name) in [
        (query.created_after, query.created_before, "created_after"),
        (query.updated_after, query.updated_before, "updated_after"),
    ] {
        if let (Some(a), Some(b)) = (after, before)
            && a >= b
        {
            return Err(bad(
                code_of(name),
                format!("{name} is not before its matching _before bound"),
            ));
        }
    }
    query.sort = match (sort, &query.text) {
        (Some(s), None) if s.field == SortField::Relevance => {
            return Err(bad("invalid_sort", "sort=relevance needs q"));
        }
        (Some(s), _) => s,
        (None, Some(_)) => Sort {
            field: SortField::Relevance,
            descending: false,
        },
        // Oldest first: an index on the creation time serves the date filters too.
        (None, None) => Sort {
            field: SortField::CreatedAt,
            descending: false,
        },
    };
    Ok((query, cursor))
}

/// What a search cursor is bound to: a digest of the whole checked query.
fn query_digest(query: &SearchQuery) -> String {
    let json = serde_json::to_vec(query).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

impl DocumentService {
    /// `GET /documents`: the plain listing when only `type`, `status`, `limit` and
    /// `cursor` are given, a search otherwise. `params` are the query string's pairs
    /// in order (`meta.<key>` may repeat).
    pub async fn query(&self, params: &[(String, String)]) -> Result<QueryPage, CoreError> {
        if is_plain_listing(params) {
            // Still refuses repeats and bad values, through the same checks.
            let (query, cursor) = parse_query(params)?;
            let page = self
                .list(ListRequest {
                    document_type: query.document_type,
                    status: query.status.map(|s| s.as_str().to_owned()),
                    limit: Some(query.limit),
                    cursor,
                })
                .await?;
            return Ok(QueryPage {
                hits: page
                    .documents
                    .into_iter()
                    .map(|document| QueryHit {
                        document,
                        search: None,
                    })
                    .collect(),
                next_cursor: page.next_cursor,
            });
        }
        let (mut query, cursor) = parse_query(params)?;
        let filter = ListFilter {
            document_type: query.document_type.clone(),
            status: query.status.map(|s| s.as_str().to_owned()),
            query: Some(query_digest(&query)),
        };
        if let Some(cursor) = cursor {
            let position = self.cursors.decode(&cursor, &filter).map_err(|_| {
                bad(
                    "invalid_cursor",
                    "cursor is not one this query issued; pass next_cursor back unchanged, with every other parameter as before",
                )
            })?;
            query.after = Some(position);
        }
        // The page's records, as JSON, stay within the byte budget (`page_budget`):
        // a page that would not fit is asked for again with fewer hits, from the
        // same position, so the store's own position after it is the next cursor
        // (a store's position need not be a keyset the core can build).
        let (hits, next) = loop {
            let page = self.metadata.search(&query).await?;
            let mut total = 0usize;
            let mut keep = page.hits.len();
            for (n, hit) in page.hits.iter().enumerate() {
                total = total.saturating_add(crate::page_budget::record_bytes(&hit.document));
                if total > self.config.max_page_bytes {
                    keep = n.max(1);
                    break;
                }
            }
            if keep >= page.hits.len() || query.limit <= 1 {
                break (page.hits, page.next);
            }
            // Strictly fewer each round, so this ends (at one hit at the latest).
            query.limit = keep.min(query.limit - 1);
        };
        Ok(QueryPage {
            hits: hits
                .into_iter()
                .map(|hit| QueryHit {
                    search: hit.score.map(|score| HitSearch {
                        score,
                        snippet: hit.snippet,
                    }),
                    document: hit.document,
                })
                .collect(),
            next_cursor: next.map(|position| self.cursors.encode(&position, &filter)),
        })
    }
}
