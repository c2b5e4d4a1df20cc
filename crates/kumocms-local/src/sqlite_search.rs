//! Search on SQLite: the columns the structured filters and sorts use (with an index
//! each), and an FTS5 table of each document's text, written in the same
//! transaction as the record (schema version 2).
//!
//! Both hold text folded by `kumocms_core::search::normalize`, the one folding the
//! core queries with (FTS5's own `unicode61 remove_diacritics 2` then has nothing left
//! to fold). SQL narrows the candidates (indexes, FTS5 `MATCH`); the core's
//! `evaluate` then decides each one, so SQLite answers exactly as the reference does
//! (metadata filters, scores and snippets are computed there).

use kumocms_core::Document;
use kumocms_core::ports::StoreError;
use kumocms_core::search::{
    self, ContentTypeFilter, Position, SearchHit, SearchPage, SearchQuery, Sort, SortField,
    SortValue, TextQuery,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

/// Schema version 2: the search columns, their indexes and the text index. The
/// columns are filled by [`backfill`] in the same migration.
pub(crate) const SCHEMA_V2: &str = "
ALTER TABLE documents ADD COLUMN created_at INTEGER;
ALTER TABLE documents ADD COLUMN updated_at INTEGER;
ALTER TABLE documents ADD COLUMN file_name TEXT;
ALTER TABLE documents ADD COLUMN content_type TEXT;
ALTER TABLE documents ADD COLUMN size INTEGER;
CREATE INDEX documents_by_created ON documents (created_at, id);
CREATE INDEX documents_by_updated ON documents (updated_at, id);
CREATE INDEX documents_by_file_name ON documents (file_name, id);
CREATE INDEX documents_by_size ON documents (size, id);
CREATE INDEX documents_by_content_type ON documents (content_type, id);
-- FTS5 rows need integer ids; documents are keyed by ULID text.
CREATE TABLE search_rows (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE documents_text USING fts5(
    file_name, metadata, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
";

/// Schema version 3: the content hash of a revision whose text is indexed past the
/// record's 32 KiB (up to 1 MiB, `Extracted::index_text`), so that later writes of
/// the record (a PATCH, a reindex) keep that text while the content is the same.
/// Rows indexed before it have none: their text is the record's, as it was.
pub(crate) const SCHEMA_V3: &str = "
ALTER TABLE search_rows ADD COLUMN long_text_sha256 TEXT;
";

/// The search columns' covering indexes (issue 13, in the schema step after version
/// 4, with the per-word scores): each sort index carries every column a structured
/// filter checks, and `documents_search_columns` the same keyed by id (for the few
/// documents a rare filter drives from), so that a search ranks its page's ids on
/// indexes alone. The columns were added after the record JSON (version 2), which
/// in this `WITHOUT ROWID` table overflows its page: reading them from the row reads
/// the record's overflow pages.
pub(crate) const SCHEMA_COVERING_INDEXES: &str = "
DROP INDEX documents_by_created;
DROP INDEX documents_by_updated;
DROP INDEX documents_by_file_name;
DROP INDEX documents_by_size;
DROP INDEX documents_by_content_type;
CREATE INDEX documents_by_created ON documents
    (created_at, id, status, document_type, content_type, size, updated_at, file_name);
CREATE INDEX documents_by_updated ON documents
    (updated_at, id, status, document_type, content_type, size, created_at, file_name);
CREATE INDEX documents_by_file_name ON documents
    (file_name, id, status, document_type, content_type, size, created_at, updated_at);
CREATE INDEX documents_by_size ON documents
    (size, id, status, document_type, content_type, created_at, updated_at, file_name);
CREATE INDEX documents_by_content_type ON documents
    (content_type, id, status, document_type, size, created_at, updated_at, file_name);
CREATE INDEX documents_search_columns ON documents
    (id, status, document_type, content_type, size, created_at, updated_at, file_name);
";

/// The search columns of a record.
pub(crate) struct SearchColumns {
    created_at: i64,
    updated_at: i64,
    file_name: String,
    content_type: Option<String>,
    size: i64,
}

impl SearchColumns {
    pub(crate) fn of(document: &Document) -> Self {
        let file = search::file_of(document);
        Self {
            created_at: document.created_at.timestamp_micros(),
            updated_at: document.updated_at.timestamp_micros(),
            // '' and -1 without a file, as the core sorts them, so the sort
            // columns hold no NULL and their indexes serve the keyset directly.
            file_name: file.map_or_else(String::new, |(name, _, _)| search::normalize(name)),
            content_type: file.map(|(_, ct, _)| essence(ct)),
            size: file
                .and_then(|(_, _, size)| size)
                .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)),
        }
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    StoreError::other_from(format!("sqlite: {error}"), error)
}

/// Writes the search columns, the text and the metadata index of `document`
/// (inside the caller's transaction, after the record's own row was written).
pub(crate) fn index(connection: &Connection, document: &Document) -> Result<(), StoreError> {
    index_text(connection, document, true)?;
    crate::sqlite_metadata::index(connection, document)
}

/// The search columns of `document` (sorting and filtering), without its text:
/// all a write that leaves the indexed text as it was needs (`sqlite.rs`).
pub(crate) fn index_columns(
    connection: &Connection,
    document: &Document,
) -> Result<(), StoreError> {
    let id = document.id.to_string();
    let columns = SearchColumns::of(document);
    connection
        .prepare_cached(
            "UPDATE documents SET created_at = ?2, updated_at = ?3, file_name = ?4,
                 content_type = ?5, size = ?6 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                columns.created_at,
                columns.updated_at,
                columns.file_name,
                columns.content_type,
                columns.size
            ])
        })
        .map_err(sql_error)?;
    Ok(())
}

/// The search columns and the text of `document`, and its per-word scores when
/// `term_scores` (not while an earlier migration step, before that table, rebuilds).
fn index_text(
    connection: &Connection,
    document: &Document,
    term_scores: bool,
) -> Result<(), StoreError> {
    index_columns(connection, document)?;
    let id = document.id.to_string();
    connection
        .prepare_cached("INSERT INTO search_rows (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")
        .and_then(|mut s| s.execute([&id]))
        .map_err(sql_error)?;
    let row: i64 = connection
        .prepare_cached("SELECT row FROM search_rows WHERE id = ?1")
        .and_then(|mut s| s.query_row([&id], |r| r.get(0)))
        .map_err(sql_error)?;
    let name = search::normalize(&search::name_text(document));
    let extracted = document.extracted.as_ref();
    let content_sha = extracted.map(|e| e.sha256.as_str());
    let (body, long_sha) = match extracted.and_then(|e| e.index_text.as_deref()) {
        // A fresh extraction with more text than the record keeps.
        Some(text) => (search::normalize(text), content_sha.map(str::to_owned)),
        None => match long_body(connection, row, content_sha)? {
            // The same content as when its long text was indexed: keep that text.
            Some(body) => (body, content_sha.map(str::to_owned)),
            None => (
                extracted
                    .and_then(|e| e.text.as_deref())
                    .map(search::normalize)
                    .unwrap_or_default(),
                None,
            ),
        },
    };
    if term_scores {
        crate::sqlite_term_scores::unindex(connection, row)?;
    }
    connection
        .prepare_cached("DELETE FROM documents_text WHERE rowid = ?1")
        .and_then(|mut s| s.execute([row]))
        .map_err(sql_error)?;
    let metadata = search::normalize(&search::metadata_text(document));
    connection
        .prepare_cached(
            "INSERT INTO documents_text (rowid, file_name, metadata, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![row, name, metadata, body]))
        .map_err(sql_error)?;
    if term_scores {
        crate::sqlite_term_scores::index(connection, row, [&name, &metadata, &body])?;
    }
    connection
        .prepare_cached("UPDATE search_rows SET long_text_sha256 = ?2 WHERE row = ?1")
        .and_then(|mut s| s.execute(params![row, long_sha]))
        .map_err(sql_error)?;
    Ok(())
}

/// The indexed long text of `row` if it was indexed for the content `sha256`.
fn long_body(
    connection: &Connection,
    row: i64,
    sha256: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let Some(sha256) = sha256 else {
        return Ok(None);
    };
    connection
        .prepare_cached(
            "SELECT t.body FROM documents_text t JOIN search_rows s ON s.row = t.rowid
             WHERE s.row = ?1 AND s.long_text_sha256 = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![row, sha256], |r| r.get::<_, String>(0))
                .optional()
        })
        .map_err(sql_error)
}

/// `document` as a hit of `query`, judged on its indexed long text when the
/// record's first 32 KiB do not match and the revision has more text indexed.
/// The snippet then comes from the folded text the index holds.
fn evaluate(
    connection: &Connection,
    document: Document,
    query: &SearchQuery,
) -> Result<Option<SearchHit>, StoreError> {
    let long = query.text.is_some()
        && document
            .extracted
            .as_ref()
            .and_then(|e| e.text.as_ref())
            .is_some_and(|t| t.len() + 4 > search::MAX_RECORD_TEXT);
    if !long {
        return Ok(search::evaluate(document, query));
    }
    let mut with_long = document.clone();
    let record_text = document.extracted.as_ref().and_then(|e| e.text.clone());
    if let Some(hit) = search::evaluate(document, query) {
        return Ok(Some(hit));
    }
    let body: Option<String> = connection
        .prepare_cached(
            "SELECT t.body FROM documents_text t JOIN search_rows s ON s.row = t.rowid
             WHERE s.id = ?1 AND s.long_text_sha256 IS NOT NULL",
        )
        .and_then(|mut s| {
            s.query_row([with_long.id.to_string()], |r| r.get::<_, String>(0))
                .optional()
        })
        .map_err(sql_error)?;
    let Some(body) = body else {
        return Ok(None);
    };
    if let Some(extracted) = with_long.extracted.as_mut() {
        extracted.text = Some(body);
    }
    let Some(mut hit) = search::evaluate(with_long, query) else {
        return Ok(None);
    };
    // The hit is the record as stored, not the one carrying the long text.
    if let Some(extracted) = hit.document.extracted.as_mut() {
        extracted.text = record_text;
    }
    Ok(Some(hit))
}

/// Removes a deleted record's text (inside the caller's transaction).
pub(crate) fn unindex(connection: &Connection, id: &str) -> Result<(), StoreError> {
    let row: Option<i64> = connection
        .prepare_cached("SELECT row FROM search_rows WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    if let Some(row) = row {
        crate::sqlite_term_scores::unindex(connection, row)?;
    }
    connection
        .prepare_cached(
            "DELETE FROM documents_text WHERE rowid = (SELECT row FROM search_rows WHERE id = ?1)",
        )
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_error)?;
    connection
        .prepare_cached("DELETE FROM search_rows WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_error)?;
    crate::sqlite_metadata::unindex(connection, id)
}

/// Indexes every record again (the migration to version 2, `kumocms reindex`).
/// Returns how many records were indexed.
pub(crate) fn rebuild(connection: &Connection) -> Result<u64, StoreError> {
    // Rows of records that are gone; every other row is written again below,
    // keeping a long text whose content is unchanged (records hold only 32 KiB).
    connection
        .execute_batch(
            "DELETE FROM documents_text WHERE rowid NOT IN
                 (SELECT row FROM search_rows WHERE id IN (SELECT id FROM documents));
             DELETE FROM search_rows WHERE id NOT IN (SELECT id FROM documents);",
        )
        .map_err(sql_error)?;
    // The migration to version 2 rebuilds before the metadata index exists (a
    // later step creates and fills it).
    let metadata = crate::sqlite_metadata::exists(connection)?;
    if metadata {
        connection
            .execute("DELETE FROM document_metadata", [])
            .map_err(sql_error)?;
    }
    // Likewise the per-word scores (a step after the metadata index's).
    let term_scores = crate::sqlite_term_scores::exists(connection)?;
    if term_scores {
        connection
            .execute("DELETE FROM search_terms", [])
            .map_err(sql_error)?;
    }
    crate::sqlite::for_each_record(connection, |document| {
        index_text(connection, document, term_scores)?;
        if metadata {
            crate::sqlite_metadata::index(connection, document)?;
        }
        Ok(())
    })
}

/// The FTS5 expression of a `q`: each term a quoted phrase (its words are letters
/// and digits only, so no quoting is needed inside), ANDed, exclusions with NOT.
pub(crate) fn match_expression(text: &TextQuery) -> String {
    let phrase = |words: &[String]| format!("\"{}\"", words.join(" "));
    let included: Vec<String> = text.included().map(|t| phrase(&t.words)).collect();
    let mut expression = included.join(" AND ");
    for term in text.terms.iter().filter(|t| t.excluded) {
        expression.push_str(" NOT ");
        expression.push_str(&phrase(&term.words));
    }
    expression
}

fn sort_column(field: SortField) -> &'static str {
    match field {
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
        SortField::FileName => "file_name",
        SortField::Size => "size",
        SortField::Id | SortField::Relevance => "id",
    }
}

fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Where a sorted search starts: SQLite's planner, without statistics, takes any
/// equality on an index for selective and sorts what it finds, which for a
/// common value (a `type` or `status` most documents have) is most of the table.
/// The store counts instead (on the indexes, up to [`DRIVE_LIMIT`]) and says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// Walk the sort's index (or its range), checking each document's filters
    /// (`meta.` ones by a lookup of the metadata index's primary key): when every
    /// filter's value is common, so that the walk soon fills a page.
    Walk,
    /// The `n`th `meta.` filter's few documents are read from the metadata index,
    /// then checked and sorted.
    Metadata(usize),
    /// The few documents with this column's value are read from its index, then
    /// checked and sorted.
    Column(EqualityColumn),
}

/// A column an equality filter can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EqualityColumn {
    DocumentType,
    Status,
    ContentType,
}

impl EqualityColumn {
    fn name(self) -> &'static str {
        match self {
            Self::DocumentType => "document_type",
            Self::Status => "status",
            Self::ContentType => "content_type",
        }
    }
}

/// A filter's documents are read from its index and sorted when there are fewer
/// than this many; with more, walking the sort order finds a page soon (at least
/// one document in `N / DRIVE_LIMIT` matches).
const DRIVE_LIMIT: usize = 5_000;

fn capped_count(
    connection: &Connection,
    sql: &str,
    values: &[SqlValue],
) -> Result<usize, StoreError> {
    let sql = format!("SELECT count(*) FROM ({sql} LIMIT {DRIVE_LIMIT})");
    let count: i64 = connection
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params_from_iter(values.iter()), |r| r.get(0)))
        .map_err(sql_error)?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// The driver of `query`: its rarest equality filter (`meta.`, `type`, `status`,
/// an exact `content_type`) if it has fewer than [`DRIVE_LIMIT`] documents,
/// else a walk in sort order.
pub(crate) fn driver(connection: &Connection, query: &SearchQuery) -> Result<Driver, StoreError> {
    let mut best: Option<(Driver, usize)> = None;
    let mut consider = |candidate: Driver, count: usize| {
        if count < DRIVE_LIMIT && best.is_none_or(|(_, c)| count < c) {
            best = Some((candidate, count));
        }
    };
    for (n, (key, want)) in query.metadata.iter().enumerate() {
        let wanted = crate::sqlite_metadata::wanted_values(want);
        let marks = vec!["?"; wanted.len()].join(", ");
        let mut values = vec![SqlValue::Text(key.clone())];
        values.extend(wanted);
        let count = capped_count(
            connection,
            &format!("SELECT 1 FROM document_metadata WHERE key = ? AND value IN ({marks})"),
            &values,
        )?;
        consider(Driver::Metadata(n), count);
    }
    let columns = [
        (EqualityColumn::DocumentType, query.document_type.clone()),
        (
            EqualityColumn::Status,
            query.status.map(|s| s.as_str().to_owned()),
        ),
        (
            EqualityColumn::ContentType,
            match &query.content_type {
                Some(ContentTypeFilter::Exact(ct)) => Some(ct.clone()),
                _ => None,
            },
        ),
    ];
    for (column, value) in columns {
        if let Some(value) = value {
            let count = capped_count(
                connection,
                &format!("SELECT 1 FROM documents WHERE {} = ?", column.name()),
                &[SqlValue::Text(value)],
            )?;
            consider(Driver::Column(column), count);
        }
    }
    Ok(best.map_or(Driver::Walk, |(driver, _)| driver))
}

/// `column = ?`, or `+column = ?` (the same test, on no index) when `column` does
/// not drive.
fn equality(column: EqualityColumn, driver: Driver) -> String {
    if driver == Driver::Column(column) {
        format!("{} = ?", column.name())
    } else {
        format!("+{} = ?", column.name())
    }
}

/// The structured conditions SQL can check on its indexes (the core checks them
/// again).
pub(crate) fn conditions(query: &SearchQuery, plan: Driver) -> (Vec<String>, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    for (n, (key, want)) in query.metadata.iter().enumerate() {
        let wanted = crate::sqlite_metadata::wanted_values(want);
        let marks = vec!["?"; wanted.len()].join(", ");
        if plan == Driver::Metadata(n) {
            conditions.push(format!(
                "id IN (SELECT id FROM document_metadata WHERE key = ? AND value IN ({marks}))"
            ));
        } else {
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM document_metadata m WHERE m.key = ? AND m.value IN ({marks}) \
                 AND m.id = documents.id)"
            ));
        }
        values.push(SqlValue::Text(key.clone()));
        values.extend(wanted);
    }
    if let Some(t) = &query.document_type {
        conditions.push(equality(EqualityColumn::DocumentType, plan));
        values.push(SqlValue::Text(t.clone()));
    }
    match query.status {
        Some(status) => {
            conditions.push(equality(EqualityColumn::Status, plan));
            values.push(SqlValue::Text(status.as_str().to_owned()));
        }
        None => conditions.push("status <> 'deleted'".to_owned()),
    }
    match &query.content_type {
        Some(ContentTypeFilter::Exact(ct)) => {
            conditions.push(equality(EqualityColumn::ContentType, plan));
            values.push(SqlValue::Text(ct.clone()));
        }
        Some(ContentTypeFilter::Prefix(prefix)) => {
            conditions.push("content_type LIKE ? ESCAPE '\\'".to_owned());
            values.push(SqlValue::Text(like_prefix(prefix)));
        }
        None => {}
    }
    if let Some(prefix) = &query.file_name_prefix {
        // A range on the index (LIKE is not case-sensitive enough to use it here).
        conditions.push("file_name >= ? AND file_name < ?".to_owned());
        values.push(SqlValue::Text(prefix.clone()));
        values.push(SqlValue::Text(format!("{prefix}\u{10FFFF}")));
    }
    let micros = |t: chrono::DateTime<chrono::Utc>| SqlValue::Integer(t.timestamp_micros());
    for (bound, sql) in [
        (query.created_after, "created_at > ?"),
        (query.created_before, "created_at < ?"),
        (query.updated_after, "updated_at > ?"),
        (query.updated_before, "updated_at < ?"),
    ] {
        if let Some(t) = bound {
            conditions.push(sql.to_owned());
            values.push(micros(t));
        }
    }
    if let Some(min) = query.min_size {
        conditions.push("size >= ?".to_owned());
        values.push(SqlValue::Integer(i64::try_from(min).unwrap_or(i64::MAX)));
    }
    if let Some(max) = query.max_size {
        conditions.push("size <= ?".to_owned());
        values.push(SqlValue::Integer(i64::try_from(max).unwrap_or(i64::MAX)));
    }
    if let Some(text) = &query.text {
        conditions.push(
            "id IN (SELECT id FROM search_rows WHERE row IN \
             (SELECT rowid FROM documents_text WHERE documents_text MATCH ?))"
                .to_owned(),
        );
        values.push(SqlValue::Text(match_expression(text)));
    }
    (conditions, values)
}

fn sql_value(value: &SortValue) -> SqlValue {
    match value {
        SortValue::Integer(i) => SqlValue::Integer(*i),
        SortValue::Number(f) => SqlValue::Real(*f),
        SortValue::Text(t) => SqlValue::Text(t.clone()),
    }
}

fn position(text: &str) -> Result<Position, StoreError> {
    Position::decode(text).ok_or_else(|| StoreError::Corrupt("unreadable search position".into()))
}

/// Answers `query` on a read connection, in one read transaction: its statements
/// (the ranked ids, then their records, batch after batch) see one snapshot.
pub(crate) fn search(
    connection: &Connection,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let transaction = connection.unchecked_transaction().map_err(sql_error)?;
    let page = search_in(&transaction, query)?;
    transaction.commit().map_err(sql_error)?;
    Ok(page)
}

fn search_in(connection: &Connection, query: &SearchQuery) -> Result<SearchPage, StoreError> {
    if query.sort.field == SortField::Relevance {
        return by_relevance(connection, query);
    }
    let mut after = query.after.as_deref().map(position).transpose()?;
    let mut hits = Vec::new();
    let batch = query.limit.saturating_add(1).max(2);
    let plan = driver(connection, query)?;
    loop {
        let (sql, values) = sorted_sql(query, after.as_ref(), batch, plan);
        let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
        // A deferred join: the batch's ids are ranked on the indexes, then only
        // their records are read (in this search's one read transaction).
        let ids: Vec<String> = statement
            .query_map(params_from_iter(values.iter()), |row| {
                row.get::<_, String>(0)
            })
            .map_err(sql_error)?
            .collect::<Result<_, _>>()
            .map_err(sql_error)?;
        let fetched = ids.len();
        let records = records_of(connection, ids)?;
        for record in records {
            let document =
                Document::from_record(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            after = Some(Position {
                value: search::sort_value(&document, query.sort, None),
                id: document.id.to_string(),
            });
            if let Some(hit) = evaluate(connection, document, query)? {
                hits.push(hit);
                if hits.len() > query.limit {
                    break;
                }
            }
        }
        if hits.len() > query.limit || fetched < batch {
            break;
        }
    }
    Ok(page(hits, query.limit, query.sort))
}

/// The records of `ids`, in their order (an id whose record is gone is skipped: it
/// cannot be, within one read transaction).
fn records_of(connection: &Connection, ids: Vec<String>) -> Result<Vec<String>, StoreError> {
    let mut read = connection
        .prepare_cached("SELECT record FROM documents WHERE id = ?1")
        .map_err(sql_error)?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(record) = read
            .query_row([&id], |row| row.get::<_, String>(0))
            .optional()
            .map_err(sql_error)?
        {
            records.push(record);
        }
    }
    Ok(records)
}

/// One batch of a sorted search (its ids), after a keyset position.
pub(crate) fn sorted_sql(
    query: &SearchQuery,
    after: Option<&Position>,
    batch: usize,
    plan: Driver,
) -> (String, Vec<SqlValue>) {
    let (mut conditions, mut values) = conditions(query, plan);
    let column = sort_column(query.sort.field);
    // Driving from a filter's index, the few rows are sorted: `+` keeps the
    // planner from walking the sort column's index instead.
    let sorted = if plan != Driver::Walk {
        format!("+{column}")
    } else {
        column.to_owned()
    };
    let (direction, after_op) = if query.sort.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let order = if query.sort.field == SortField::Id {
        format!("{sorted} {direction}")
    } else {
        format!("{sorted} {direction}, id ASC")
    };
    if let Some(after) = after {
        if query.sort.field == SortField::Id {
            conditions.push(format!("id {after_op} ?"));
            values.push(SqlValue::Text(after.id.clone()));
        } else {
            conditions.push(format!(
                "({column} {after_op} ? OR ({column} = ? AND id > ?))"
            ));
            values.push(sql_value(&after.value));
            values.push(sql_value(&after.value));
            values.push(SqlValue::Text(after.id.clone()));
        }
    }
    // The few documents of a metadata value are looked up by id: on the covering
    // index, which answers every filter, not on the table's rows (the planner could
    // take the primary key's index and read each row).
    let indexed_by = if matches!(plan, Driver::Metadata(_)) {
        " INDEXED BY documents_search_columns"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id FROM documents{indexed_by} WHERE {} ORDER BY {order} LIMIT {batch}",
        conditions.join(" AND ")
    );
    (sql, values)
}

fn page(mut hits: Vec<SearchHit>, limit: usize, sort: Sort) -> SearchPage {
    let more = hits.len() > limit;
    hits.truncate(limit);
    let next = if more {
        hits.last().map(|hit| {
            Position {
                value: search::sort_value(&hit.document, sort, hit.score),
                id: hit.document.id.to_string(),
            }
            .encode()
        })
    } else {
        None
    };
    SearchPage { hits, next }
}

/// The record in column 0 of `row`, decoded where SQLite holds it (not copied
/// into a string first).
fn decode_in_place(row: &rusqlite::Row<'_>) -> Result<Document, StoreError> {
    let record = row
        .get_ref(0)
        .and_then(|value| value.as_str().map_err(rusqlite::Error::from))
        .map_err(sql_error)?;
    Document::from_record(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The weight of an FTS5 column in the score, as `kumocms_core::search::score`
/// weighs the same fields: file name and title 8, metadata values 4, text 1.
const COLUMN_WEIGHT: &str =
    "CASE col WHEN 'file_name' THEN 8.0 WHEN 'metadata' THEN 4.0 ELSE 1.0 END";

/// One input of the relevance join: a word's rows in `search_terms` or a phrase's
/// common table expression.
struct RankSource {
    /// The FROM item.
    from: String,
    /// Its text index row (the document).
    row: String,
    /// Its part of the score.
    score: String,
    /// What selects its rows, with the value bound.
    condition: Option<(String, SqlValue)>,
}

/// The SQL of the relevance of every match of `text`: a common table expression
/// `ranked (row, score)` (the text index's rows and their scores), with its values.
///
/// The score is the core's (`kumocms_core::search::score`): each included term
/// scores the best of its first positions in each column, weighted by the column
/// and less the deeper it is, and the terms add up. A single word's part is read
/// from `search_terms` (written at index time, one row per document and word),
/// starting from the rarest word and seeking the others by primary key; a phrase's
/// from FTS5's token positions (its `fts5vocab` instance table: its words at
/// consecutive offsets of one column). Excluded terms are FTS5 `MATCH`es. The
/// score depends on the document alone, so it does not move while other documents
/// are added, and a cursor's (score, id) stays a place in the order (FTS5's
/// `bm25()` depends on the whole index: pages repeated and skipped documents
/// under inserts).
fn relevance_sql(
    connection: &Connection,
    text: &TextQuery,
) -> Result<(String, Vec<SqlValue>), StoreError> {
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut phrases: Vec<&[String]> = Vec::new();
    // Counted only to choose among several words (a single one drives anyway).
    let count_words = text.included().filter(|t| t.words.len() == 1).count() > 1;
    for term in text.included() {
        match term.words.as_slice() {
            [word] if count_words => words.push((
                crate::sqlite_term_scores::capped_count(connection, word, DRIVE_LIMIT)?,
                word,
            )),
            [word] => words.push((0, word)),
            words => phrases.push(words),
        }
    }
    // The rarest word drives; the others are seeks.
    words.sort_by_key(|(count, _)| *count);
    let mut ctes = Vec::new();
    let mut cte_values = Vec::new();
    let mut sources: Vec<RankSource> = Vec::new();
    for (k, (_, word)) in words.iter().enumerate() {
        sources.push(RankSource {
            from: format!("search_terms w{k}"),
            row: format!("w{k}.row"),
            score: format!("w{k}.score"),
            condition: Some((format!("w{k}.term = ?"), SqlValue::Text((*word).to_owned()))),
        });
    }
    for (n, phrase) in phrases.iter().enumerate() {
        let depth = format!("{COLUMN_WEIGHT} * (1.0 / (1.0 + w0.offset / 1000.0))")
            .replace("CASE col", "CASE w0.col");
        let mut joins = String::new();
        for (k, word) in phrase.iter().enumerate() {
            ctes.push(format!(
                "p{n}w{k} AS MATERIALIZED (SELECT doc, col, offset FROM documents_text_instances
                 WHERE term = ?)"
            ));
            cte_values.push(SqlValue::Text(word.clone()));
            if k > 0 {
                joins.push_str(&format!(
                    " JOIN p{n}w{k} w{k} ON w{k}.doc = w0.doc AND w{k}.col = w0.col
                      AND w{k}.offset = w0.offset + {k}"
                ));
            }
        }
        ctes.push(format!(
            "p{n} AS MATERIALIZED (SELECT w0.doc AS doc, max({depth}) AS s FROM p{n}w0 w0{joins}
             GROUP BY w0.doc)"
        ));
        sources.push(RankSource {
            from: format!("p{n}"),
            row: format!("p{n}.doc"),
            score: format!("p{n}.s"),
            condition: None,
        });
    }
    let Some(driver_row) = sources.first().map(|s| s.row.clone()) else {
        return Err(StoreError::other("a q without an included term"));
    };
    let from = sources
        .iter()
        .map(|s| s.from.as_str())
        .collect::<Vec<_>>()
        .join(" CROSS JOIN ");
    let sum = sources
        .iter()
        .map(|s| s.score.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    let mut conditions = Vec::new();
    let mut values = cte_values;
    for (k, source) in sources.iter().enumerate() {
        if let Some((condition, value)) = &source.condition {
            conditions.push(condition.clone());
            values.push(value.clone());
        }
        if k > 0 {
            conditions.push(format!("{} = {driver_row}", source.row));
        }
    }
    let excluded: Vec<String> = text
        .terms
        .iter()
        .filter(|t| t.excluded)
        .map(|t| format!("\"{}\"", t.words.join(" ")))
        .collect();
    if !excluded.is_empty() {
        conditions.push(format!(
            "{driver_row} NOT IN (SELECT rowid FROM documents_text WHERE documents_text MATCH ?)"
        ));
        values.push(SqlValue::Text(excluded.join(" OR ")));
    }
    if conditions.is_empty() {
        // A single phrase: its rows are its matches.
        conditions.push("1".to_owned());
    }
    ctes.push(format!(
        "ranked AS MATERIALIZED (SELECT {driver_row} AS row,
             round(({sum}) * 1000.0) / 1000.0 AS score
         FROM {from} WHERE {})",
        conditions.join(" AND ")
    ));
    Ok((format!("WITH {}", ctes.join(",\n")), values))
}

/// Relevance order, scored, ranked and cut to a page in SQL: only the page's
/// records are read and checked by the core (which also writes their snippets).
///
/// With no filter but the default status, the ranked ids are read alone (no
/// record is touched while every match is scored and sorted) and the records are
/// then read one by one until the page is full; with filters, SQL checks them on
/// every match before ranking.
fn by_relevance(connection: &Connection, query: &SearchQuery) -> Result<SearchPage, StoreError> {
    let Some(text) = &query.text else {
        return Err(StoreError::other("relevance order without q"));
    };
    let structured = SearchQuery {
        text: None,
        ..query.clone()
    };
    let only_text = structured
        == SearchQuery {
            sort: structured.sort,
            limit: structured.limit,
            after: structured.after.clone(),
            ..SearchQuery::default()
        };
    let plan = driver(connection, query)?;
    let mut after = query.after.as_deref().map(position).transpose()?;
    let batch = query.limit.saturating_add(1).max(2);
    let mut hits = Vec::new();
    let (with, ranked_values) = relevance_sql(connection, text)?;
    loop {
        let mut values = ranked_values.clone();
        let rows: Vec<(Document, f64)> = if only_text {
            // Ids are read only for the matches that can be on the page: those
            // scoring at least the `batch`th best score below the cursor's (its
            // ties, with ids after the cursor's, come too).
            let mut below = String::new();
            let mut keyset = String::new();
            if let Some(after) = &after {
                below.push_str("WHERE score < ?");
                values.push(sql_value(&after.value));
                keyset.push_str("AND (r.score < ? OR (r.score = ? AND s.id > ?))");
                values.push(sql_value(&after.value));
                values.push(sql_value(&after.value));
                values.push(SqlValue::Text(after.id.clone()));
            }
            let offset = batch - 1;
            let sql = format!(
                "{with},
                 cut AS (SELECT score FROM ranked {below}
                         ORDER BY score DESC LIMIT 1 OFFSET {offset})
                 SELECT s.id, r.score FROM ranked r JOIN search_rows s ON s.row = r.row
                 WHERE r.score >= coalesce((SELECT score FROM cut), -1.0) {keyset}
                 ORDER BY r.score DESC, s.id ASC LIMIT {batch}"
            );
            let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
            let ranked: Vec<(String, f64)> = statement
                .query_map(params_from_iter(values.iter()), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?))
                })
                .map_err(sql_error)?
                .collect::<Result<_, _>>()
                .map_err(sql_error)?;
            let mut read = connection
                .prepare_cached("SELECT record FROM documents WHERE id = ?1")
                .map_err(sql_error)?;
            let mut rows = Vec::with_capacity(ranked.len());
            for (id, score) in ranked {
                // A row without its record cannot be: both are written in one
                // transaction and this read is one snapshot.
                if let Some(document) = read
                    .query_row([&id], |row| Ok(decode_in_place(row)))
                    .optional()
                    .map_err(sql_error)?
                {
                    rows.push((document?, score));
                }
            }
            rows
        } else {
            let (mut conditions, condition_values) = conditions(&structured, plan);
            values.extend(condition_values);
            if let Some(after) = &after {
                conditions.push("(r.score < ? OR (r.score = ? AND documents.id > ?))".to_owned());
                values.push(sql_value(&after.value));
                values.push(sql_value(&after.value));
                values.push(SqlValue::Text(after.id.clone()));
            }
            let sql = format!(
                "{with},
                 r AS (SELECT s.id AS doc_id, ranked.score AS score
                       FROM ranked JOIN search_rows s ON s.row = ranked.row)
                 SELECT documents.record, r.score FROM r JOIN documents ON documents.id = r.doc_id
                 WHERE {}
                 ORDER BY r.score DESC, documents.id ASC LIMIT {batch}",
                conditions.join(" AND ")
            );
            let mut statement = connection.prepare_cached(&sql).map_err(sql_error)?;
            let decoded: Vec<(Result<Document, StoreError>, f64)> = statement
                .query_map(params_from_iter(values.iter()), |row| {
                    Ok((decode_in_place(row), row.get::<_, f64>(1)?))
                })
                .map_err(sql_error)?
                .collect::<Result<_, _>>()
                .map_err(sql_error)?;
            decoded
                .into_iter()
                .map(|(document, score)| Ok((document?, score)))
                .collect::<Result<_, StoreError>>()?
        };
        let fetched = rows.len();
        for (document, score) in rows {
            after = Some(Position {
                value: SortValue::Number(score),
                id: document.id.to_string(),
            });
            // The core decides (filters, the text of a long revision) and writes
            // the snippet; the score is the one the page is ordered by.
            if let Some(mut hit) = evaluate(connection, document, query)? {
                hit.score = Some(score);
                hits.push(hit);
                if hits.len() > query.limit {
                    break;
                }
            }
        }
        if hits.len() > query.limit || fetched < batch {
            break;
        }
    }
    Ok(page(hits, query.limit, query.sort))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use kumocms_core::query::parse_query;

    use super::*;

    /// The query plan of `params`' first page, one line per step.
    fn plan(connection: &Connection, params: &[(&str, &str)]) -> String {
        plan_with(connection, params, None)
    }

    /// The query plan of `params`' first page under `forced` (else the plan the
    /// store would choose), one line per step.
    fn plan_with(
        connection: &Connection,
        params: &[(&str, &str)],
        forced: Option<Driver>,
    ) -> String {
        let pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (query, _) = parse_query(&pairs).unwrap();
        let after = Position {
            value: SortValue::Integer(5),
            id: "01J".into(),
        };
        let plan = forced.unwrap_or_else(|| driver(connection, &query).unwrap());
        let (sql, values) = sorted_sql(&query, Some(&after), 101, plan);
        let values: Vec<SqlValue> = values
            .into_iter()
            .map(|v| match (query.sort.field, v) {
                // The keyset value of a text sort is text.
                (SortField::FileName, SqlValue::Integer(_)) => SqlValue::Text("a".into()),
                (_, v) => v,
            })
            .collect();
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        statement
            .query_map(params_from_iter(values.iter()), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n")
    }

    #[test]
    fn structured_filters_and_sorts_use_indexes() {
        let mut connection = Connection::open_in_memory().unwrap();
        crate::sqlite::migrate(&mut connection).unwrap();
        for (params, index) in [
            (vec![("sort", "created_at")], "documents_by_created"),
            (
                vec![("created_after", "2026-01-01T00:00:00Z")],
                "documents_by_created",
            ),
            (vec![("sort", "-updated_at")], "documents_by_updated"),
            (
                vec![("sort", "size"), ("min_size", "10")],
                "documents_by_size",
            ),
            (
                vec![("file_name", "inv"), ("sort", "file_name")],
                "documents_by_file_name",
            ),
            (
                vec![("content_type", "application/pdf"), ("sort", "created_at")],
                "documents_by_c",
            ),
            (
                vec![
                    ("type", "invoice"),
                    ("status", "active"),
                    ("sort", "created_at"),
                ],
                "documents_by_",
            ),
        ] {
            let plan = plan(&connection, &params);
            assert!(
                plan.contains(&format!("USING INDEX {index}"))
                    || plan.contains(&format!("USING COVERING INDEX {index}")),
                "{params:?} should use {index}: {plan}"
            );
            assert!(
                !plan.contains("SCAN documents\n") && !plan.ends_with("SCAN documents"),
                "{params:?} scans: {plan}"
            );
        }
        // meta.<key>: a rare value drives from the metadata index and the few
        // documents are sorted; a common one is probed while the sort's index is
        // walked. Either way no scan, with the other filters and every sort.
        for sort in [
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "file_name",
            "-file_name",
            "size",
            "-size",
        ] {
            let params = [
                ("meta.customer", "ACME"),
                ("meta.amount", "12"),
                ("type", "invoice"),
                ("created_after", "2026-01-01T00:00:00Z"),
                ("sort", sort),
            ];
            let driven = plan_with(&connection, &params, None);
            assert!(
                driven.contains("SEARCH documents USING COVERING INDEX documents_search_columns"),
                "{params:?}: the documents' columns from the covering index: {driven}"
            );
            assert!(
                driven.contains("LIST SUBQUERY")
                    && driven
                        .contains("SEARCH document_metadata USING PRIMARY KEY (key=? AND value=?)")
                    && driven.contains("SEARCH documents USING")
                    && driven.contains("id=?)"),
                "{params:?} should drive from the metadata index: {driven}"
            );
            let probed = plan_with(&connection, &params, Some(Driver::Walk));
            let column = sort.trim_start_matches('-');
            let index = match column {
                "created_at" => "documents_by_created",
                "updated_at" => "documents_by_updated",
                "file_name" => "documents_by_file_name",
                _ => "documents_by_size",
            };
            assert!(
                probed.contains(&format!("INDEX {index}"))
                    || probed.contains("INDEX documents_by_type")
                    || probed.contains("INDEX documents_by_created"),
                "{params:?} should walk an index: {probed}"
            );
            assert!(
                probed.contains("SEARCH m USING")
                    && (probed.contains("(key=? AND value=? AND id=?)")
                        || probed.contains("(id=? AND key=? AND value=?)")),
                "{params:?} should probe the metadata index: {probed}"
            );
            for plan in [&driven, &probed] {
                assert!(
                    !plan.contains("SCAN documents\n") && !plan.ends_with("SCAN documents"),
                    "{params:?} scans: {plan}"
                );
                assert!(
                    !plan.contains("SCAN document_metadata"),
                    "{params:?}: {plan}"
                );
            }
        }
        // A common type (more than DRIVE_LIMIT documents) with a date range: the
        // range of the sort's index is walked, not every document of the type
        // sorted; a rare type is read from its index and sorted.
        let params = [
            ("type", "invoice"),
            ("created_after", "2026-01-01T00:00:00Z"),
            ("created_before", "2026-01-08T00:00:00Z"),
        ];
        let walked = plan_with(&connection, &params, Some(Driver::Walk));
        assert!(
            walked.contains("INDEX documents_by_created (created_at>? AND created_at<?)")
                && !walked.contains("TEMP B-TREE"),
            "{walked}"
        );
        // The page's ids are ranked on the index alone (it covers every filter's
        // column): no record is read for the documents the filters refuse.
        assert!(
            walked.contains("USING COVERING INDEX documents_by_created"),
            "{walked}"
        );
        for (params, index) in [
            (
                vec![("content_type", "image/*"), ("sort", "-updated_at")],
                "documents_by_updated",
            ),
            (
                vec![("min_size", "10"), ("max_size", "20"), ("sort", "size")],
                "documents_by_size",
            ),
            (
                vec![("file_name", "inv"), ("type", "x"), ("sort", "file_name")],
                "documents_by_file_name",
            ),
        ] {
            let plan = plan_with(&connection, &params, Some(Driver::Walk));
            assert!(
                plan.contains(&format!("USING COVERING INDEX {index}")),
                "{params:?}: {plan}"
            );
        }
        let driven = plan_with(
            &connection,
            &params,
            Some(Driver::Column(EqualityColumn::DocumentType)),
        );
        assert!(driven.contains("INDEX documents_by_type"), "{driven}");
        assert_eq!(
            driver(
                &connection,
                &parse_query(&[("type".into(), "invoice".into())]).unwrap().0
            )
            .unwrap(),
            Driver::Column(EqualityColumn::DocumentType),
            "no document has it: the type drives"
        );
        // q goes through the FTS5 index.
        let plan = plan(&connection, &[("q", "acme"), ("sort", "created_at")]);
        assert!(
            plan.contains("VIRTUAL TABLE INDEX"),
            "q should use FTS5: {plan}"
        );
    }

    #[test]
    fn match_expressions_quote_phrases_and_exclude() {
        let text = TextQuery::parse(r#"Acme "due date" -draft"#).unwrap();
        assert_eq!(
            match_expression(&text),
            r#""acme" AND "due date" NOT "draft""#
        );
    }
}
