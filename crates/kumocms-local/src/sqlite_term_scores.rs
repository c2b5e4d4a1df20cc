//! What relevance needs, stored at index time (issue 13): for each document and
//! word of its indexed text, that word's part of the core's score
//! (`kumocms_core::search::score`): the best, over the three columns, of the
//! column's weight times `1 / (1 + first position / 1000)`.
//!
//! Ranking a `q` of single words then reads one row per (matching document, word),
//! instead of aggregating every position of the word from FTS5's `fts5vocab`
//! instance table at query time. The score depends on the document alone, so it
//! does not move while other documents are added (a cursor's (score, id) stays a
//! place in the order). Written by `sqlite_search::index_text` in the record's
//! transaction; a document's rows are found again from its indexed text (the
//! words of the old text are deleted by primary key), so no second index is kept.

use std::collections::HashMap;

use kumocms_core::ports::StoreError;
use kumocms_core::search;
use rusqlite::{Connection, OptionalExtension, params};

/// The per-word score table (a schema step of its own, from version 4; see
/// `sqlite::migrate`). `WITHOUT ROWID` on (term, row): a word's documents are a
/// range of the primary key, a (word, document) pair one seek.
pub(crate) const SCHEMA_TERM_SCORES: &str = "
CREATE TABLE search_terms (
    term TEXT NOT NULL,
    row INTEGER NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (term, row)
) WITHOUT ROWID;
";

/// The weights of the text index's columns (file name and title, metadata values,
/// text), as `kumocms_core::search` weighs the same fields.
const WEIGHTS: [f64; 3] = [8.0, 4.0, 1.0];

fn sql_error(error: rusqlite::Error) -> StoreError {
    StoreError::other_from(format!("sqlite: {error}"), error)
}

/// Each word of the three column texts with its part of the score.
pub(crate) fn scores(columns: [&str; 3]) -> HashMap<String, f64> {
    let mut scores: HashMap<String, f64> = HashMap::new();
    for (text, weight) in columns.iter().zip(WEIGHTS) {
        let mut seen = std::collections::HashSet::new();
        for (at, word) in search::words(text).into_iter().enumerate() {
            if !seen.insert(word.clone()) {
                continue;
            }
            // The core's arithmetic, so that the sums round as its scores do.
            let value = weight * (1.0 / (1.0 + (at as f64) / 1000.0));
            scores
                .entry(word)
                .and_modify(|best| *best = best.max(value))
                .or_insert(value);
        }
    }
    scores
}

/// Whether the table exists: not yet while earlier migration steps rebuild the
/// search index.
pub(crate) fn exists(connection: &Connection) -> Result<bool, StoreError> {
    connection
        .prepare_cached(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_terms'",
        )
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        .map(|n| n > 0)
        .map_err(sql_error)
}

/// The indexed text of `row` (before it is replaced or deleted).
fn indexed_columns(connection: &Connection, row: i64) -> Result<Option<[String; 3]>, StoreError> {
    connection
        .prepare_cached("SELECT file_name, metadata, body FROM documents_text WHERE rowid = ?1")
        .and_then(|mut s| {
            s.query_row([row], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))
                .optional()
        })
        .map_err(sql_error)
}

/// Removes the rows of `row`'s indexed text (call before the text row goes).
pub(crate) fn unindex(connection: &Connection, row: i64) -> Result<(), StoreError> {
    let Some(old) = indexed_columns(connection, row)? else {
        return Ok(());
    };
    let mut delete = connection
        .prepare_cached("DELETE FROM search_terms WHERE term = ?1 AND row = ?2")
        .map_err(sql_error)?;
    for term in scores([&old[0], &old[1], &old[2]]).into_keys() {
        delete.execute(params![term, row]).map_err(sql_error)?;
    }
    Ok(())
}

/// Writes the rows of `row`'s new text (after [`unindex`] of the old one).
pub(crate) fn index(
    connection: &Connection,
    row: i64,
    columns: [&str; 3],
) -> Result<(), StoreError> {
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO search_terms (term, row, score) VALUES (?1, ?2, ?3)
             ON CONFLICT (term, row) DO UPDATE SET score = excluded.score",
        )
        .map_err(sql_error)?;
    for (term, score) in scores(columns) {
        insert
            .execute(params![term, row, score])
            .map_err(sql_error)?;
    }
    Ok(())
}

/// Fills the table from the text index as it is (the migration step), returning
/// how many documents were scored.
pub(crate) fn fill(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .execute("DELETE FROM search_terms", [])
        .map_err(sql_error)?;
    let mut select = connection
        .prepare("SELECT rowid, file_name, metadata, body FROM documents_text")
        .map_err(sql_error)?;
    let mut rows = select.query([]).map_err(sql_error)?;
    let mut count = 0u64;
    while let Some(r) = rows.next().map_err(sql_error)? {
        let row: i64 = r.get(0).map_err(sql_error)?;
        let text = |n: usize| -> Result<String, StoreError> {
            Ok(r.get::<_, Option<String>>(n)
                .map_err(sql_error)?
                .unwrap_or_default())
        };
        let (name, metadata, body) = (text(1)?, text(2)?, text(3)?);
        index(connection, row, [&name, &metadata, &body])?;
        count += 1;
    }
    Ok(count)
}

/// How many documents have `term`, counted up to `cap` (the rarest word of a `q`
/// drives the ranking).
pub(crate) fn capped_count(
    connection: &Connection,
    term: &str,
    cap: usize,
) -> Result<usize, StoreError> {
    let count: i64 = connection
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE term = ?1 LIMIT {cap})"
        ))
        .and_then(|mut s| s.query_row([term], |r| r.get(0)))
        .map_err(sql_error)?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_word_scores_its_best_column_at_its_first_position() {
        let scores = scores(["walrus survey", "acme\n", "the walrus and the acme walrus"]);
        // File name, first word: 8.
        assert_eq!(scores["walrus"], 8.0);
        // Metadata at 0 (4) beats the text at 4 (1 / 1.004).
        assert_eq!(scores["acme"], 4.0);
        assert_eq!(scores["the"], 1.0);
        assert_eq!(scores["and"], 1.0 * (1.0 / (1.0 + 2.0 / 1000.0)));
        assert_eq!(scores.len(), 5);
    }
}
