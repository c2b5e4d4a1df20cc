//! Queries over documents: the structured filters, the full-text `q` and the sort of
//! `GET /documents`, the one normalisation every index folds text with, and the
//! reference evaluation of a query over records ([`matches`], [`score`], [`snippet`],
//! [`scan_search`]).
//!
//! A store answers a [`SearchQuery`] through [`MetadataStore::search`]; its default is
//! [`scan_search`], which reads every record of the listing the query narrows to
//! (`type`, `status`) and evaluates the rest here. A store with an index of its own
//! (SQLite FTS5, a dedicated engine later) overrides it, and the conformance suite
//! checks that it answers as this module does.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::document::{Document, DocumentStatus};
use crate::ports::{ListQuery, MetadataStore, StoreError};

/// The most words (terms and phrase words together) a `q` may hold.
pub const MAX_QUERY_WORDS: usize = 32;
/// The longest `q`, in bytes.
pub const MAX_QUERY_LEN: usize = 512;
/// The most `meta.<key>` filters in one query.
pub const MAX_METADATA_FILTERS: usize = 16;
/// How much text a snippet shows around the first match, in characters each side.
const SNIPPET_CONTEXT: usize = 60;
/// Snippet markers around each match (plain text, not HTML-escaped).
pub const MARK_START: &str = "<mark>";
pub const MARK_END: &str = "</mark>";
/// The most extracted text a record keeps (the first bytes, cut at a character).
pub const MAX_RECORD_TEXT: usize = 32 * 1024;
/// The most extracted text a store's own text index takes per revision (the first
/// bytes, cut at a character): the issue's 1 MiB.
pub const MAX_INDEXED_TEXT: usize = 1024 * 1024;

/// Lower case, compatibility-decomposed, without combining marks: "Été" and "ete"
/// are the same word to every index. The one folding used to index and to query.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    // ASCII has no decomposition and no combining mark: lower case is all its
    // folding (most text is ASCII; the Unicode tables cost per character).
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    fold_by_tables(c, out);
}

/// The folding of any character through the Unicode tables (what the ASCII
/// shortcut of [`fold_char`] must agree with).
fn fold_by_tables(c: char, out: &mut String) {
    for d in c.nfkd() {
        if is_combining_mark(d) {
            continue;
        }
        match d {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ø' | 'Ø' => out.push('o'),
            'œ' | 'Œ' => out.push_str("oe"),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(d.to_lowercase()),
        }
    }
}

/// The words of a text, normalised: maximal runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    normalize(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One part of a `q`: a word or a quoted phrase, perhaps excluded with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// Normalised words; more than one for a phrase (they must follow each other).
    pub words: Vec<String>,
    pub excluded: bool,
}

/// A parsed `q`: every included term must match, no excluded term may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TextQuery {
    pub terms: Vec<Term>,
}

/// Why a `q` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryTextError {
    #[error("q is longer than {MAX_QUERY_LEN} bytes")]
    TooLong,
    #[error("q has more than {MAX_QUERY_WORDS} words")]
    TooManyWords,
    #[error("q has no word to search for")]
    Empty,
    #[error("q only excludes words; give at least one word to find")]
    OnlyExclusions,
    #[error("q has an unclosed quote")]
    UnclosedQuote,
}

impl TextQuery {
    /// Parses `q`: words are ANDed, `"a phrase"` matches words in sequence, a leading
    /// `-` excludes a word or a phrase. Punctuation inside a word splits it (so
    /// `invoice-2024` is the phrase "invoice 2024", as an index tokenises it).
    pub fn parse(q: &str) -> Result<Self, QueryTextError> {
        if q.len() > MAX_QUERY_LEN {
            return Err(QueryTextError::TooLong);
        }
        let mut terms = Vec::new();
        let mut rest = q.trim_start();
        while !rest.is_empty() {
            let (excluded, body) = match rest.strip_prefix('-') {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let (text, next) = if let Some(quoted) = body.strip_prefix('"') {
                let end = quoted.find('"').ok_or(QueryTextError::UnclosedQuote)?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], &body[end..])
            };
            let term_words = words(text);
            if !term_words.is_empty() {
                terms.push(Term {
                    words: term_words,
                    excluded,
                });
            }
            rest = next.trim_start();
        }
        if terms.iter().map(|t| t.words.len()).sum::<usize>() > MAX_QUERY_WORDS {
            return Err(QueryTextError::TooManyWords);
        }
        if terms.is_empty() {
            return Err(QueryTextError::Empty);
        }
        if terms.iter().all(|t| t.excluded) {
            return Err(QueryTextError::OnlyExclusions);
        }
        Ok(Self { terms })
    }

    pub fn included(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(|t| !t.excluded)
    }
}

/// `content_type`: exact, or every subtype of a type (`image/*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentTypeFilter {
    Exact(String),
    /// The type with its slash, e.g. `image/`.
    Prefix(String),
}

impl ContentTypeFilter {
    pub fn matches(&self, content_type: &str) -> bool {
        let content_type = content_type.to_ascii_lowercase();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        match self {
            Self::Exact(want) => essence == *want,
            Self::Prefix(prefix) => essence.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    FileName,
    Size,
    Relevance,
    /// Id order (creation order, ids being ULIDs): the default without `q`.
    Id,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Sort {
    /// Parses `sort`: a field, with `-` in front for descending.
    pub fn parse(text: &str) -> Option<Self> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        let field = match name {
            "created_at" => SortField::CreatedAt,
            "updated_at" => SortField::UpdatedAt,
            "file_name" => SortField::FileName,
            "size" => SortField::Size,
            "relevance" => SortField::Relevance,
            _ => return None,
        };
        // Relevance is best first; `-relevance` would ask for the worst first.
        if field == SortField::Relevance && descending {
            return None;
        }
        Some(Self { field, descending })
    }
}

/// A checked query (the service builds it from the request and validates every
/// value); `after` is the store position from the previous page's cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: Option<TextQuery>,
    /// `meta.<key>=<value>`: the top-level value must equal this (string, or the
    /// number or boolean it spells).
    pub metadata: Vec<(String, String)>,
    pub content_type: Option<ContentTypeFilter>,
    /// Normalised prefix of the file name.
    pub file_name_prefix: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    pub document_type: Option<String>,
    /// `None`: every status but `deleted` (the trash is listed only when asked for).
    pub status: Option<DocumentStatus>,
    pub sort: Sort,
    #[serde(skip)]
    pub limit: usize,
    #[serde(skip)]
    pub after: Option<String>,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            text: None,
            metadata: Vec::new(),
            content_type: None,
            file_name_prefix: None,
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            min_size: None,
            max_size: None,
            document_type: None,
            status: None,
            sort: Sort {
                field: SortField::Id,
                descending: false,
            },
            limit: 100,
            after: None,
        }
    }
}

/// One document found, with its score and snippet when `q` was given.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub document: Document,
    pub score: Option<f64>,
    pub snippet: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Where the next page starts, when there may be one.
    pub next: Option<String>,
}

/// The file a document is known by: its current content, else its pending upload.
pub fn file_of(document: &Document) -> Option<(&str, &str, Option<u64>)> {
    if let Some(c) = &document.content {
        return Some((&c.file_name, &c.content_type, Some(c.size)));
    }
    document
        .pending_upload
        .as_ref()
        .map(|p| (p.file_name.as_str(), p.content_type.as_str(), None))
}

/// The metadata values of a document as text, nested values included.
pub fn metadata_text(document: &Document) -> String {
    fn collect(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Number(n) => {
                out.push_str(&n.to_string());
                out.push('\n');
            }
            Value::Bool(b) => {
                out.push_str(if *b { "true\n" } else { "false\n" });
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            Value::Object(map) => map.values().for_each(|v| collect(v, out)),
            Value::Null => {}
        }
    }
    let mut out = String::new();
    for value in document.metadata.values() {
        collect(value, &mut out);
    }
    out
}

/// What a document is called: its file name, and its title when the content gave
/// one (a PDF's Info dictionary). Searched with the highest weight.
pub fn name_text(document: &Document) -> String {
    let mut name = file_of(document)
        .map(|(name, _, _)| name.to_owned())
        .unwrap_or_default();
    if let Some(title) = document.extracted.as_ref().and_then(|e| e.title.as_deref()) {
        name.push('\n');
        name.push_str(title);
    }
    name
}

/// The searchable fields of a document, most telling first, with their weights
/// (the extracted text borrowed: it can be the record's 32 KiB).
fn fields(document: &Document) -> [(Cow<'_, str>, f64); 3] {
    let name = name_text(document);
    let text = document
        .extracted
        .as_ref()
        .and_then(|e| e.text.as_deref())
        .unwrap_or_default();
    [
        (Cow::Owned(name), 8.0),
        (Cow::Owned(metadata_text(document)), 4.0),
        (Cow::Borrowed(text), 1.0),
    ]
}

/// Where `term` first occurs in `tokens` (a token index), if it does.
fn find_term(tokens: &[&str], term: &Term) -> Option<usize> {
    let n = term.words.len();
    if n == 0 || tokens.len() < n {
        return None;
    }
    (0..=tokens.len() - n).find(|&i| tokens[i..i + n].iter().eq(term.words.iter()))
}

/// A metadata value equal to what `meta.<key>=<want>` asks for.
pub fn metadata_value_matches(value: &Value, want: &str) -> bool {
    match value {
        Value::String(s) => s == want,
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Number(n) => match (n.as_i64(), want.parse::<i64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => match (n.as_f64(), want.parse::<f64>()) {
                (Some(a), Ok(b)) => a == b,
                _ => false,
            },
        },
        _ => false,
    }
}

/// Whether `document` passes every structured filter of `query` (not `q`).
pub fn matches_filters(document: &Document, query: &SearchQuery) -> bool {
    match query.status {
        Some(status) if document.status != status => return false,
        None if document.status == DocumentStatus::Deleted => return false,
        _ => {}
    }
    if let Some(t) = &query.document_type
        && document.document_type != *t
    {
        return false;
    }
    for (key, want) in &query.metadata {
        match document.metadata.get(key) {
            Some(value) if metadata_value_matches(value, want) => {}
            _ => return false,
        }
    }
    let file = file_of(document);
    if let Some(filter) = &query.content_type
        && !file.is_some_and(|(_, ct, _)| filter.matches(ct))
    {
        return false;
    }
    if let Some(prefix) = &query.file_name_prefix
        && !file.is_some_and(|(name, _, _)| normalize(name).starts_with(prefix.as_str()))
    {
        return false;
    }
    if query.min_size.is_some() || query.max_size.is_some() {
        let Some(size) = file.and_then(|(_, _, size)| size) else {
            return false;
        };
        if query.min_size.is_some_and(|min| size < min)
            || query.max_size.is_some_and(|max| size > max)
        {
            return false;
        }
    }
    let after = |t: DateTime<Utc>, bound: Option<DateTime<Utc>>| bound.is_none_or(|b| t > b);
    let before = |t: DateTime<Utc>, bound: Option<DateTime<Utc>>| bound.is_none_or(|b| t < b);
    after(document.created_at, query.created_after)
        && before(document.created_at, query.created_before)
        && after(document.updated_at, query.updated_after)
        && before(document.updated_at, query.updated_before)
}

/// The score of `document` for `text`, `None` when it does not match. A term scores
/// the weight of the best field it occurs in (file name 8, metadata 4, text 1), the
/// text less the deeper the match; the score depends on the document alone, so it
/// stays put while others are added (pages neither repeat nor skip).
pub fn score(document: &Document, text: &TextQuery) -> Option<f64> {
    score_fields(&fields(document), text)
}

fn score_fields(fields: &[(Cow<'_, str>, f64); 3], text: &TextQuery) -> Option<f64> {
    // The words of [`words`], borrowed from each field folded once (no string per
    // word: a hit's text is up to 32 KiB).
    let folded: Vec<String> = fields.iter().map(|(f, _)| normalize(f)).collect();
    let tokens: Vec<Vec<&str>> = folded
        .iter()
        .map(|f| {
            f.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .collect();
    let mut total = 0.0;
    for term in &text.terms {
        let mut best: Option<f64> = None;
        for ((_, weight), field_tokens) in fields.iter().zip(&tokens) {
            if let Some(at) = find_term(field_tokens, term) {
                let depth = 1.0 / (1.0 + (at as f64) / 1000.0);
                let value = weight * depth;
                best = Some(best.map_or(value, |b: f64| b.max(value)));
            }
        }
        match (term.excluded, best) {
            (true, Some(_)) | (false, None) => return None,
            (true, None) => {}
            (false, Some(value)) => total += value,
        }
    }
    // Rounded so that the score survives a cursor's round trip exactly.
    Some((total * 1000.0).round() / 1000.0)
}

/// A short extract of the first field where an included term occurs, each match
/// between [`MARK_START`] and [`MARK_END`].
pub fn snippet(document: &Document, text: &TextQuery) -> Option<String> {
    snippet_fields(&fields(document), text)
}

fn snippet_fields(fields: &[(Cow<'_, str>, f64); 3], text: &TextQuery) -> Option<String> {
    fields.iter().find_map(|(field, _)| snippet_of(field, text))
}

/// The words of a text for its snippet: `folded` holds them one after the other,
/// and each span is a word's range in `folded` and its byte range in the original.
struct WordSpans {
    folded: String,
    spans: Vec<(usize, usize, usize, usize)>,
}

impl WordSpans {
    /// A character is part of a word when it folds to letters and digits only.
    fn of(text: &str) -> Self {
        let mut folded = String::with_capacity(text.len());
        let mut spans = Vec::new();
        // Where the current word starts, in `folded` and in `text`.
        let mut current: Option<(usize, usize)> = None;
        let mut one = String::new();
        for (at, c) in text.char_indices() {
            let in_word = if c.is_ascii() {
                // ASCII folds to its lower case (see `fold_char`).
                c.is_ascii_alphanumeric()
            } else {
                one.clear();
                fold_char(c, &mut one);
                !one.is_empty() && one.chars().all(char::is_alphanumeric)
            };
            if in_word {
                if current.is_none() {
                    current = Some((folded.len(), at));
                }
                if c.is_ascii() {
                    folded.push(c.to_ascii_lowercase());
                } else {
                    folded.push_str(&one);
                }
            } else if let Some((from, start)) = current.take() {
                spans.push((from, folded.len(), start, at));
            }
        }
        if let Some((from, start)) = current {
            spans.push((from, folded.len(), start, text.len()));
        }
        Self { folded, spans }
    }

    fn word(&self, i: usize) -> &str {
        let (from, to, _, _) = self.spans[i];
        &self.folded[from..to]
    }
}

fn snippet_of(field: &str, text: &TextQuery) -> Option<String> {
    let words = WordSpans::of(field);
    let spans = &words.spans;
    let mut marked: Vec<(usize, usize)> = Vec::new();
    for term in text.included() {
        let n = term.words.len();
        if n == 0 || spans.len() < n {
            continue;
        }
        for i in 0..=spans.len() - n {
            if (i..i + n).map(|k| words.word(k)).eq(term.words.iter()) {
                marked.push((spans[i].2, spans[i + n - 1].3));
            }
        }
    }
    if marked.is_empty() {
        return None;
    }
    marked.sort_unstable();
    let first = marked[0].0;
    let window_start = field[..first]
        .char_indices()
        .rev()
        .nth(SNIPPET_CONTEXT)
        .map_or(0, |(i, _)| i);
    let window_end = field[first..]
        .char_indices()
        .nth(SNIPPET_CONTEXT * 2)
        .map_or(field.len(), |(i, _)| first + i);
    let mut out = String::new();
    if window_start > 0 {
        out.push('…');
    }
    let mut at = window_start;
    for (start, end) in marked {
        if start < at || end > window_end {
            continue;
        }
        out.push_str(&field[at..start]);
        out.push_str(MARK_START);
        out.push_str(&field[start..end]);
        out.push_str(MARK_END);
        at = end;
    }
    out.push_str(&field[at..window_end]);
    if window_end < field.len() {
        out.push('…');
    }
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The value a document sorts by, for keyset positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    // Integers first: untagged, `10` must read back as an integer (a score is
    // written `8.0`, which only the float reads).
    Integer(i64),
    Number(f64),
    Text(String),
}

impl SortValue {
    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.total_cmp(b),
            (Self::Integer(a), Self::Integer(b)) => a.cmp(b),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            // Never mixed within one query; any fixed order will do.
            (Self::Integer(_), _) => Ordering::Less,
            (_, Self::Integer(_)) => Ordering::Greater,
            (Self::Number(_), _) => Ordering::Less,
            (_, Self::Number(_)) => Ordering::Greater,
        }
    }
}

pub fn sort_value(document: &Document, sort: Sort, score: Option<f64>) -> SortValue {
    match sort.field {
        SortField::CreatedAt => SortValue::Integer(timestamp(document.created_at)),
        SortField::UpdatedAt => SortValue::Integer(timestamp(document.updated_at)),
        SortField::FileName => SortValue::Text(
            file_of(document)
                .map(|(n, _, _)| normalize(n))
                .unwrap_or_default(),
        ),
        SortField::Size => SortValue::Integer(
            file_of(document)
                .and_then(|(_, _, s)| s)
                .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)),
        ),
        SortField::Relevance => SortValue::Number(score.unwrap_or(0.0)),
        SortField::Id => SortValue::Text(document.id.to_string()),
    }
}

fn timestamp(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A keyset position: the sort value and the id of the last document of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub value: SortValue,
    pub id: String,
}

impl Position {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn positions_round_trip_with_their_kind() {
        for value in [
            SortValue::Integer(10),
            SortValue::Number(8.0),
            SortValue::Number(0.125),
            SortValue::Text("01J".into()),
        ] {
            let position = Position {
                value: value.clone(),
                id: "x".into(),
            };
            assert_eq!(Position::decode(&position.encode()), Some(position));
        }
    }
}

/// Order of two (value, id) keys under `sort`: relevance best first, ties by id.
pub fn compare_keys(sort: Sort, a: (&SortValue, &str), b: (&SortValue, &str)) -> Ordering {
    let by_value = a.0.compare(b.0);
    let by_value = if sort.descending || sort.field == SortField::Relevance {
        by_value.reverse()
    } else {
        by_value
    };
    by_value.then_with(|| a.1.cmp(b.1))
}

/// The reference search: reads the listing narrowed by `type` and `status` whole,
/// keeps what matches, sorts and returns the page after `query.after`. Correct on
/// every store; its cost is one read of every record in that listing per page.
pub async fn scan_search<S: MetadataStore + ?Sized>(
    store: &S,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let after = match &query.after {
        None => None,
        Some(text) => Some(
            Position::decode(text)
                .ok_or_else(|| StoreError::Corrupt("unreadable search position".into()))?,
        ),
    };
    let mut list = ListQuery {
        document_type: query.document_type.clone(),
        status: query.status,
        limit: 1000,
        after: None,
    };
    let mut found: Vec<(SortValue, SearchHit)> = Vec::new();
    loop {
        let page = store.list(&list).await?;
        for document in page.documents {
            if let Some(hit) = evaluate(document, query) {
                let value = sort_value(&hit.document, query.sort, hit.score);
                let id = hit.document.id.to_string();
                if let Some(after) = &after
                    && compare_keys(query.sort, (&value, &id), (&after.value, &after.id))
                        != Ordering::Greater
                {
                    continue;
                }
                found.push((value, hit));
            }
        }
        match page.next {
            Some(next) => list.after = Some(next),
            None => break,
        }
    }
    found.sort_by(|a, b| {
        compare_keys(
            query.sort,
            (&a.0, &a.1.document.id.to_string()),
            (&b.0, &b.1.document.id.to_string()),
        )
    });
    let more = found.len() > query.limit;
    found.truncate(query.limit);
    let next = if more {
        found.last().map(|(value, hit)| {
            Position {
                value: value.clone(),
                id: hit.document.id.to_string(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(SearchPage {
        hits: found.into_iter().map(|(_, hit)| hit).collect(),
        next,
    })
}

/// `document` as a hit of `query`, or `None` when it does not match.
pub fn evaluate(document: Document, query: &SearchQuery) -> Option<SearchHit> {
    if !matches_filters(&document, query) {
        return None;
    }
    match &query.text {
        None => Some(SearchHit {
            document,
            score: None,
            snippet: None,
        }),
        Some(text) => {
            // The fields once for both (the text is borrowed, not copied).
            let fields = fields(&document);
            let score = score_fields(&fields, text)?;
            let snippet = snippet_fields(&fields, text);
            drop(fields);
            Some(SearchHit {
                document,
                score: Some(score),
                snippet,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_accents() {
        assert_eq!(normalize("Rapport d'ÉTÉ Straße"), "rapport d'ete strasse");
        assert_eq!(words("Ångström-Café 2024"), ["angstrom", "cafe", "2024"]);
    }

    #[test]
    fn parses_words_phrases_and_exclusions() {
        let q = TextQuery::parse(r#"ACME "Due Date" -draft -"old copy""#).unwrap();
        assert_eq!(
            q.terms,
            vec![
                Term {
                    words: vec!["acme".into()],
                    excluded: false
                },
                Term {
                    words: vec!["due".into(), "date".into()],
                    excluded: false
                },
                Term {
                    words: vec!["draft".into()],
                    excluded: true
                },
                Term {
                    words: vec!["old".into(), "copy".into()],
                    excluded: true
                },
            ]
        );
        assert_eq!(TextQuery::parse("  "), Err(QueryTextError::Empty));
        assert_eq!(TextQuery::parse("-x"), Err(QueryTextError::OnlyExclusions));
        assert_eq!(
            TextQuery::parse("\"open"),
            Err(QueryTextError::UnclosedQuote)
        );
        assert_eq!(
            TextQuery::parse(&"a ".repeat(40)),
            Err(QueryTextError::TooManyWords)
        );
    }

    #[test]
    fn sorts_parse_with_direction() {
        assert_eq!(
            Sort::parse("-size"),
            Some(Sort {
                field: SortField::Size,
                descending: true
            })
        );
        assert_eq!(Sort::parse("-relevance"), None);
        assert_eq!(Sort::parse("id"), None);
    }

    #[test]
    fn snippets_mark_matches_in_the_original_text() {
        let q = TextQuery::parse("ete").unwrap();
        assert_eq!(
            snippet_of("Rapport d'Été 2024", &q).as_deref(),
            Some("Rapport d'<mark>Été</mark> 2024")
        );
    }

    #[test]
    fn ascii_folds_as_the_unicode_tables_fold_it() {
        for c in (0u8..128).map(char::from) {
            let mut fast = String::new();
            fold_char(c, &mut fast);
            let mut by_tables = String::new();
            fold_by_tables(c, &mut by_tables);
            assert_eq!(fast, by_tables, "{c:?}");
        }
    }

    /// The snippet's words as they were cut before `WordSpans` (a string per word,
    /// each character folded by the tables).
    fn word_spans_by_tables(text: &str) -> Vec<(String, usize, usize)> {
        let mut spans = Vec::new();
        let mut current = String::new();
        let mut start = 0;
        for (at, c) in text.char_indices() {
            let mut folded = String::new();
            fold_by_tables(c, &mut folded);
            if !folded.is_empty() && folded.chars().all(char::is_alphanumeric) {
                if current.is_empty() {
                    start = at;
                }
                current.push_str(&folded);
            } else if !current.is_empty() {
                spans.push((std::mem::take(&mut current), start, at));
            }
        }
        if !current.is_empty() {
            spans.push((current, start, text.len()));
        }
        spans
    }

    #[test]
    fn snippet_words_are_cut_as_before() {
        for text in [
            "Rapport d'ÉTÉ Straße, 2024-11-30",
            // A combining accent folds to nothing: it ends the word.
            "cafe\u{301}s ½ ﬁle Œuvre Łódź",
            "  leading and trailing  ",
            "",
            "x",
            "日本語のテキスト and ascii",
        ] {
            let cut = WordSpans::of(text);
            let words: Vec<(String, usize, usize)> = (0..cut.spans.len())
                .map(|i| (cut.word(i).to_owned(), cut.spans[i].2, cut.spans[i].3))
                .collect();
            assert_eq!(words, word_spans_by_tables(text), "{text:?}");
        }
    }

    #[test]
    fn content_type_filters() {
        let image = ContentTypeFilter::Prefix("image/".into());
        assert!(image.matches("image/png"));
        assert!(!image.matches("application/pdf"));
        let pdf = ContentTypeFilter::Exact("application/pdf".into());
        assert!(pdf.matches("Application/PDF; x=1"));
    }
}
