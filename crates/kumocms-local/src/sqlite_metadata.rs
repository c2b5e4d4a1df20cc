//! The metadata index on SQLite: one row per top-level metadata value of a record,
//! so that `meta.<key>=<value>` is an index lookup instead of a walk of the table
//! (issue 13). Written in the same transaction as the record, by
//! `sqlite_search::index` and `unindex`.
//!
//! The value column has no declared type, so each value keeps its SQLite type:
//! strings and booleans as TEXT (`true`/`false`, which is what
//! `meta.paid=true` spells, and what the core matches a string `"true"` with too),
//! numbers as INTEGER (when they are one) or REAL. A filter then asks for the text
//! it was given and, when that text spells a number, for the number too: SQLite
//! compares INTEGER and REAL by value, never TEXT with either, which is
//! `kumocms_core::search::metadata_value_matches`. Nested values (objects, arrays)
//! and null match no filter and are not indexed.

use kumocms_core::Document;
use kumocms_core::ports::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};
use serde_json::Value;

/// The metadata index, and the view of the text index's token positions that
/// relevance is scored from (a schema step of its own, from version 3; see
/// `sqlite::migrate`). `WITHOUT ROWID` on (key, value, id): a filter is a range
/// of the primary key, and the ids come with it.
pub(crate) const SCHEMA_METADATA_INDEX: &str = "
CREATE TABLE document_metadata (
    key TEXT NOT NULL,
    value NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (key, value, id)
) WITHOUT ROWID;
CREATE INDEX document_metadata_by_id ON document_metadata (id);
-- Every token position of the text index (stores nothing of its own): the
-- relevance score reads where each word of a q first occurs (sqlite_search).
CREATE VIRTUAL TABLE documents_text_instances USING fts5vocab(documents_text, instance);
";

fn sql_error(error: rusqlite::Error) -> StoreError {
    StoreError::other_from(format!("sqlite: {error}"), error)
}

/// The indexed form of a metadata value, `None` for one no filter can match.
fn indexed_value(value: &Value) -> Option<SqlValue> {
    match value {
        Value::String(s) => Some(SqlValue::Text(s.clone())),
        Value::Bool(b) => Some(SqlValue::Text(if *b { "true" } else { "false" }.into())),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(SqlValue::Integer(i)),
            None => n.as_f64().filter(|f| f.is_finite()).map(SqlValue::Real),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The values `meta.<key>=<want>` matches in the index: the text itself, and the
/// number it spells, if any (as an integer when it is one, as the core compares).
pub(crate) fn wanted_values(want: &str) -> Vec<SqlValue> {
    let mut values = vec![SqlValue::Text(want.to_owned())];
    if let Ok(i) = want.parse::<i64>() {
        values.push(SqlValue::Integer(i));
    } else if let Ok(f) = want.parse::<f64>()
        && f.is_finite()
    {
        values.push(SqlValue::Real(f));
    }
    values
}

/// Whether the metadata index exists: not yet while the migration to version 2
/// rebuilds the search index, before the step that creates this table.
pub(crate) fn exists(connection: &Connection) -> Result<bool, StoreError> {
    connection
        .prepare_cached(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'document_metadata'",
        )
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        .map(|n| n > 0)
        .map_err(sql_error)
}

/// Writes the metadata rows of `document`, replacing any it had.
pub(crate) fn index(connection: &Connection, document: &Document) -> Result<(), StoreError> {
    let id = document.id.to_string();
    unindex(connection, &id)?;
    let mut insert = connection
        .prepare_cached("INSERT INTO document_metadata (key, value, id) VALUES (?1, ?2, ?3)")
        .map_err(sql_error)?;
    for (key, value) in &document.metadata {
        if let Some(value) = indexed_value(value) {
            insert.execute(params![key, value, id]).map_err(sql_error)?;
        }
    }
    Ok(())
}

/// Removes the metadata rows of the record `id`.
pub(crate) fn unindex(connection: &Connection, id: &str) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM document_metadata WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_error)?;
    Ok(())
}

/// Fills the metadata index from every record (the migration step that creates
/// it). Returns how many records were read.
pub(crate) fn fill(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .execute("DELETE FROM document_metadata", [])
        .map_err(sql_error)?;
    crate::sqlite::for_each_record(connection, |document| index(connection, document))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_indexed_with_their_type_and_wanted_as_the_core_matches() {
        assert_eq!(
            indexed_value(&json!("ACME")),
            Some(SqlValue::Text("ACME".into()))
        );
        assert_eq!(
            indexed_value(&json!(true)),
            Some(SqlValue::Text("true".into()))
        );
        assert_eq!(indexed_value(&json!(12)), Some(SqlValue::Integer(12)));
        assert_eq!(indexed_value(&json!(12.5)), Some(SqlValue::Real(12.5)));
        assert_eq!(indexed_value(&json!({"a": 1})), None);
        assert_eq!(indexed_value(&json!([1])), None);
        assert_eq!(indexed_value(&json!(null)), None);
        assert_eq!(
            wanted_values("12"),
            vec![SqlValue::Text("12".into()), SqlValue::Integer(12)]
        );
        assert_eq!(
            wanted_values("1.2e1"),
            vec![SqlValue::Text("1.2e1".into()), SqlValue::Real(12.0)]
        );
        assert_eq!(wanted_values("NaN"), vec![SqlValue::Text("NaN".into())]);
    }

    /// The index answers exactly as `metadata_value_matches` on every pair of a
    /// stored value and a wanted text, SQLite doing the comparing.
    #[test]
    fn the_index_matches_as_the_core_does() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE documents (id TEXT);")
            .unwrap();
        connection.execute_batch(SCHEMA_METADATA_INDEX).unwrap();
        let stored = [
            json!("ACME"),
            json!("acme"),
            json!("12"),
            json!(12),
            json!(12.0),
            json!(12.5),
            json!(true),
            json!("true"),
            json!(false),
            json!(-3),
            json!(u64::MAX),
        ];
        for (i, value) in stored.iter().enumerate() {
            if let Some(v) = indexed_value(value) {
                connection
                    .execute(
                        "INSERT INTO document_metadata VALUES ('k', ?1, ?2)",
                        params![v, i.to_string()],
                    )
                    .unwrap();
            }
        }
        for want in [
            "ACME",
            "acme",
            "12",
            "12.0",
            "1.2e1",
            "12.5",
            "true",
            "false",
            "-3",
            "0",
            "TRUE",
            "18446744073709551615",
        ] {
            let values = wanted_values(want);
            let marks = vec!["?"; values.len()].join(", ");
            let mut found: Vec<usize> = connection
                .prepare(&format!(
                    "SELECT id FROM document_metadata WHERE key = 'k' AND value IN ({marks})"
                ))
                .unwrap()
                .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                    r.get::<_, String>(0)
                })
                .unwrap()
                .map(|id| id.unwrap().parse().unwrap())
                .collect();
            found.sort_unstable();
            let expected: Vec<usize> = stored
                .iter()
                .enumerate()
                .filter(|(_, v)| kumocms_core::search::metadata_value_matches(v, want))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(found, expected, "meta.k={want}");
        }
    }
}
