//! Search in local mode (issue 13, "What it must show"): for each size, a fresh
//! SQLite store bulk-loaded through the store (`SqliteMetadataStore::insert_many`:
//! the record and its search index written as `insert` writes them), then
//!
//! - `q` latency (p50, p99) over words drawn from the corpus' vocabulary,
//! - structured filter latency (p50, p99) over `meta.<key>`, `content_type`,
//!   `type` with a date range, a size range and a `file_name` prefix,
//! - the 1st and the 100th page of the plain listing (100 per page),
//! - the database size per 1,000 documents,
//!
//! each through `MetadataStore::search` / `list` (no HTTP). Prints a Markdown table.
//!
//!   cargo run --release -p kumocms-local --example search_bench -- \
//!       --dir /tmp/search-bench --sizes 10000,100000,1000000 --queries 300
//!
//! The store directory of each size is deleted after it is measured. With
//! `--phase load` the store is only loaded and kept; `--phase query` then measures
//! a store a load left (the documents are generated again, not written, so that the
//! queries drawn are the same) and keeps it too: so that only the query phase
//! runs in a quiet window. `--phase all` (the default) does both and deletes. An example of
//! `kumocms-local` rather than a binary of `kumocms-bench`: it needs only the
//! local store, and its release build then skips the AWS SDK.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeZone, Utc};
use kumocms_core::ports::{ListQuery, MetadataStore};
use kumocms_core::query::parse_query;
use kumocms_core::{
    BlobLocation, ContentVersion, Document, DocumentId, DocumentStatus, Extracted, StorageClass,
};
use kumocms_local::SqliteMetadataStore;

/// Distinct words of the synthetic corpus.
const VOCABULARY: usize = 20_000;
/// Words of extracted text per document (`--text-words` changes it).
const TEXT_WORDS: usize = 80;
const CUSTOMERS: usize = 200;
const TYPES: usize = 10;
const LOAD_BATCH: usize = 1_000;
const PAGE: usize = 100;

/// A small deterministic generator (xorshift64*), so every run loads the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A word index skewed to the first ones, as in natural text (a few words are
    /// very common, most rare).
    fn word(&mut self) -> usize {
        ((VOCABULARY as f64) * self.unit().powi(3)) as usize
    }
}

/// The `i`th word: pronounceable, unique.
fn word(i: usize) -> String {
    const CONSONANTS: &[u8] = b"bdfgklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    let mut out = String::new();
    let mut n = i + VOCABULARY;
    while n > 0 {
        out.push(CONSONANTS[n % CONSONANTS.len()] as char);
        n /= CONSONANTS.len();
        out.push(VOWELS[n % VOWELS.len()] as char);
        n /= VOWELS.len();
    }
    out
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

/// An active document as the event processor leaves it (content arrived, extracted).
fn active_document(location: &BlobLocation) -> Document {
    let id = DocumentId::new();
    let now = Utc::now();
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    Document {
        schema_version: kumocms_core::SCHEMA_VERSION,
        id,
        version: 2,
        status: DocumentStatus::Active,
        document_type: "report".to_owned(),
        created_at: now,
        updated_at: now,
        storage_class: StorageClass::Standard,
        metadata: serde_json::Map::new(),
        content: Some(ContentVersion {
            revision: 1,
            key: kumocms_core::blob_key::content_key(&id, 1),
            location: location.clone(),
            file_name: String::new(),
            content_type: String::new(),
            size: 0,
            checksum_sha256: Some(sha256.to_owned()),
            arrived_at: now,
        }),
        pending_upload: None,
        restore: None,
        extracted: Some(Extracted {
            size: 0,
            sha256: sha256.to_owned(),
            sniffed_content_type: None,
            content_type_mismatch: false,
            page_count: None,
            width: None,
            height: None,
            extracted_at: now,
            sidecar_applied: false,
            text: None,
            index_text: None,
            text_error: None,
            title: None,
            author: None,
            created: None,
        }),
        revisions: kumocms_core::revision::History::empty(),
        trash: None,
    }
}

fn document(
    i: usize,
    total: usize,
    text_words: usize,
    rng: &mut Rng,
    location: &BlobLocation,
) -> Document {
    let mut document = active_document(location);
    // Spread over a year, in id order as the service mints them.
    let created = base_time()
        + chrono::Duration::milliseconds((i as i64) * (365 * 86_400_000 / total.max(1) as i64));
    let millis = u64::try_from(created.timestamp_millis()).unwrap_or_default();
    document.id = DocumentId::from_ulid(ulid::Ulid::from_parts(millis, u128::from(rng.next())));
    document.created_at = created;
    document.updated_at = created + chrono::Duration::minutes(rng.below(10_000) as i64);
    document.document_type = format!("type{}", rng.below(TYPES));
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "customer".into(),
        serde_json::json!(format!("Customer {}", rng.below(CUSTOMERS))),
    );
    metadata.insert("amount".into(), serde_json::json!(rng.below(100_000)));
    metadata.insert("paid".into(), serde_json::json!(rng.below(2) == 0));
    document.metadata = metadata;
    let (extension, content_type) = match rng.below(4) {
        0 => ("png", "image/png"),
        1 => ("txt", "text/plain"),
        2 => ("jpg", "image/jpeg"),
        _ => ("pdf", "application/pdf"),
    };
    let size = 1_000 + rng.below(5_000_000) as u64;
    let text: Vec<String> = (0..text_words).map(|_| word(rng.word())).collect();
    let title = word(rng.word());
    if let Some(content) = document.content.as_mut() {
        content.file_name = format!("{title} {i}.{extension}");
        content.content_type = content_type.into();
        content.size = size;
        content.key = kumocms_core::blob_key::content_key(&document.id, 1);
    }
    if let Some(extracted) = document.extracted.as_mut() {
        extracted.size = size;
        extracted.text = Some(text.join(" "));
    }
    document
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

struct Args {
    dir: PathBuf,
    sizes: Vec<usize>,
    queries: usize,
    phase: Phase,
    /// Smaller bodies make a 1,000,000-document store loadable in the time and
    /// disk at hand (say so with its figures).
    text_words: usize,
}

/// What a run does with each size's store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Load, measure, delete.
    All,
    /// Load and keep.
    Load,
    /// Measure a kept store, and keep it.
    Query,
}

fn args() -> anyhow::Result<Args> {
    let mut dir = None;
    let mut sizes = vec![10_000, 100_000, 1_000_000];
    let mut queries = 300;
    let mut phase = Phase::All;
    let mut text_words = TEXT_WORDS;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--dir" => dir = Some(PathBuf::from(value)),
            "--sizes" => {
                sizes = value
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--sizes is a comma-separated list of document counts")?;
            }
            "--queries" => queries = value.parse().context("--queries is a count")?,
            "--phase" => {
                phase = match value.as_str() {
                    "all" => Phase::All,
                    "load" => Phase::Load,
                    "query" => Phase::Query,
                    _ => bail!("--phase is all, load or query"),
                }
            }
            "--text-words" => text_words = value.parse().context("--text-words is a count")?,
            other => bail!(
                "unknown argument {other}; takes --dir, --sizes, --queries, --phase, --text-words"
            ),
        }
    }
    Ok(Args {
        dir: dir.context("--dir <empty or absent directory> is required")?,
        sizes,
        queries,
        phase,
        text_words,
    })
}

async fn timed_search(
    store: &SqliteMetadataStore,
    params: &[(String, String)],
) -> anyhow::Result<(Duration, usize)> {
    let (mut query, _) = parse_query(params).map_err(|e| anyhow::anyhow!("{params:?}: {e}"))?;
    query.limit = PAGE;
    let start = Instant::now();
    let page = store.search(&query).await?;
    Ok((start.elapsed(), page.hits.len()))
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

async fn measure(args: &Args, total: usize) -> anyhow::Result<Vec<String>> {
    let dir = args.dir.join(format!("n{total}"));
    if args.phase == Phase::Query {
        if !dir.exists() {
            bail!("{}: no store; run --phase load first", dir.display());
        }
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    let location = BlobLocation {
        store: "bench".into(),
        region: None,
    };
    let store = SqliteMetadataStore::open(&dir)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ total as u64);
    let load_start = Instant::now();
    let mut record_bytes = 0usize;
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    for i in 0..total {
        let document = document(i, total, args.text_words, &mut rng, &location);
        record_bytes += serde_json::to_vec(&document)?.len();
        if args.phase == Phase::Query {
            continue;
        }
        batch.push(document);
        if batch.len() == LOAD_BATCH {
            store.insert_many(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.insert_many(batch).await?;
    }
    if args.phase == Phase::Load {
        eprintln!(
            "{total}: loaded in {:.1} s, kept in {}",
            load_start.elapsed().as_secs_f64(),
            dir.display()
        );
        return Ok(Vec::new());
    }
    let load = load_start.elapsed();
    eprintln!(
        "{total}: loaded in {:.1} s ({:.0} documents/s)",
        load.as_secs_f64(),
        total as f64 / load.as_secs_f64()
    );

    // q: one word (two in every fourth query), drawn uniformly from the
    // vocabulary but its 100 commonest words, then the commonest alone.
    let mut q_times = Vec::new();
    let mut q_hits = 0usize;
    for n in 0..args.queries {
        let mut q = word(100 + rng.below(VOCABULARY - 100));
        if n % 4 == 3 {
            q.push(' ');
            q.push_str(&word(rng.word()));
        }
        let (time, hits) = timed_search(&store, &pairs(&[("q", q)])).await?;
        q_times.push(time);
        q_hits += hits;
    }
    q_times.sort();
    let mut common_times = Vec::new();
    for n in 0..(args.queries / 10).max(5) {
        let (time, _) = timed_search(&store, &pairs(&[("q", word(n % 10))])).await?;
        common_times.push(time);
    }
    common_times.sort();

    // Structured filters, default sort (created_at).
    let mut filter_times = Vec::new();
    let mut per_filter: Vec<(String, Vec<Duration>)> = Vec::new();
    let day = |d: i64| (base_time() + chrono::Duration::days(d)).to_rfc3339();
    for n in 0..args.queries {
        let kind = n % 5;
        let params = match kind {
            0 => pairs(&[(
                "meta.customer",
                format!("Customer {}", rng.below(CUSTOMERS)),
            )]),
            1 => pairs(&[("content_type", "image/*".into())]),
            2 => {
                let from = rng.below(300) as i64;
                pairs(&[
                    ("type", format!("type{}", rng.below(TYPES))),
                    ("created_after", day(from)),
                    ("created_before", day(from + 7)),
                ])
            }
            3 => {
                let from = rng.below(4_000_000);
                pairs(&[
                    ("min_size", from.to_string()),
                    ("max_size", (from + 10_000).to_string()),
                ])
            }
            _ => pairs(&[("file_name", word(100 + rng.below(VOCABULARY - 100)))]),
        };
        let label = params
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let (time, _) = timed_search(&store, &params).await?;
        filter_times.push(time);
        match per_filter.iter_mut().find(|(l, _)| *l == label) {
            Some((_, times)) => times.push(time),
            None => per_filter.push((label, vec![time])),
        }
    }
    filter_times.sort();

    // The plain listing: the 1st and the 100th page, each asked for 20 times.
    let mut position = None;
    let mut page_positions = Vec::new();
    for _ in 0..100 {
        page_positions.push(position.clone());
        let page = store
            .list(&ListQuery {
                limit: PAGE,
                after: position.clone(),
                ..ListQuery::default()
            })
            .await?;
        position = page.next;
        if position.is_none() {
            break;
        }
    }
    let list_times = |after: Option<String>| {
        let store = &store;
        async move {
            let mut times = Vec::new();
            for _ in 0..20 {
                let start = Instant::now();
                store
                    .list(&ListQuery {
                        limit: PAGE,
                        after: after.clone(),
                        ..ListQuery::default()
                    })
                    .await?;
                times.push(start.elapsed());
            }
            times.sort();
            anyhow::Ok(percentile(&times, 50.0))
        }
    };
    let first_page = list_times(None).await?;
    let hundredth = match page_positions.get(99) {
        Some(after) => Some(list_times(after.clone()).await?),
        None => None,
    };
    drop(store);
    // Closed: the WAL is checkpointed into the database file.
    let bytes = dir_bytes(&dir);
    for entry in std::fs::read_dir(&dir)?.filter_map(Result::ok) {
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "{total}: {} {len} bytes",
            entry.file_name().to_string_lossy()
        );
    }
    if args.phase == Phase::All {
        std::fs::remove_dir_all(&dir)?;
    }

    let mut rows = vec![format!(
        "| {total} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} MiB ({:.2} MiB records) | {} |",
        ms(percentile(&q_times, 50.0)),
        ms(percentile(&q_times, 99.0)),
        ms(percentile(&common_times, 50.0)),
        ms(percentile(&filter_times, 50.0)),
        ms(percentile(&filter_times, 99.0)),
        ms(first_page),
        hundredth.map_or_else(|| "–".into(), ms),
        q_hits / args.queries.max(1),
        bytes as f64 * 1000.0 / total as f64 / 1_048_576.0,
        record_bytes as f64 * 1000.0 / total as f64 / 1_048_576.0,
        if args.phase == Phase::Query {
            "loaded by --phase load".to_owned()
        } else {
            format!("{:.0} s", load.as_secs_f64())
        },
    )];
    for (label, mut times) in per_filter {
        times.sort();
        rows.push(format!(
            "|   {total}, {label} | p50 {} ms | p99 {} ms |",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 99.0))
        ));
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    println!(
        "| documents | q p50 ms | q p99 ms | commonest-word q p50 ms | filters p50 ms | filters p99 ms | listing page 1 ms | listing page 100 ms | q hits/page | database per 1,000 documents (of which record JSON) | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut details = Vec::new();
    for &total in &args.sizes {
        let mut rows = measure(&args, total).await?.into_iter();
        if let Some(main) = rows.next() {
            println!("{main}");
        }
        details.extend(rows);
    }
    println!();
    println!("| filter | p50 | p99 |");
    println!("|---|---|---|");
    for row in details {
        println!("{row}");
    }
    Ok(())
}
