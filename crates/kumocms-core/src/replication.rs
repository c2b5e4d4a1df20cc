//! A simulated multi-region deployment, to show what [`crate::home_region`] buys.
//!
//! Two regions, `a` and `b`, each hold a replica of the records (a
//! [`MemoryMetadataStore`]). Every write accepted by a replica is stamped from one
//! clock and shipped to the other replica after a delay, where it is applied only if
//! its stamp is newer than the last write that replica applied to the record: the
//! last-writer-wins replication of a DynamoDB global table in its default mode. A
//! conditional write is checked against the replica it is sent to, and only that one.
//!
//! Many writers in both regions then merge metadata into the same few documents
//! through [`DocumentService::patch`], each adding a key of its own. A write is
//! *acknowledged* when `patch` returned `Ok` (the client got a 200); it is *lost*
//! when its key is missing from the record both replicas converge on once
//! replication has caught up. [`simulate`] runs the workload with each region
//! writing to its own replica ([`WriteRouting::Local`]) or through a
//! [`HomeRegionStore`] ([`WriteRouting::HomeRegion`]).
//!
//! Behind the `conformance` and `memory` features: a test tool, not shipped.

// A test tool: a setup that fails must panic, with the message saying why.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::conformance::sample_document;
use crate::cursor::CursorCodec;
use crate::document::{BlobLocation, BlobRef, Document, DocumentStatus, RestoreTier, StorageClass};
use crate::home_region::{HomeRegionStore, Replicas};
use crate::id::DocumentId;
use crate::memory::MemoryMetadataStore;
use crate::ports::{
    BlobError, BlobHead, BlobStore, BlobStream, DownloadSpec, ListPage, ListQuery, MetadataStore,
    SignedLink, StoreError, SystemClock, UploadSpec,
};
use crate::service::{DocumentService, Patch, ServiceConfig};

/// The simulated regions.
pub const REGIONS: [&str; 2] = ["a", "b"];

/// Where each region's API writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRouting {
    /// To its own replica: what a regional deployment did before home-region writes.
    Local,
    /// To the document's home replica, through [`HomeRegionStore`].
    HomeRegion,
}

#[derive(Debug, Clone)]
pub struct SimulationConfig {
    /// Documents written to, homed alternately in `a` and `b`.
    pub documents: usize,
    pub writers_per_region: usize,
    pub writes_per_writer: usize,
    /// How long a write takes to reach the other replica.
    pub replication_delay: Duration,
    /// The longest pause of a writer between two writes (uniformly random).
    pub max_think_time: Duration,
    /// Seeds the writers' pauses and document choices.
    pub seed: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            documents: 4,
            writers_per_region: 8,
            writes_per_writer: 25,
            replication_delay: Duration::from_millis(20),
            max_think_time: Duration::from_millis(4),
            seed: 18,
        }
    }
}

/// What a run counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulationReport {
    /// Writes sent.
    pub attempted: usize,
    /// Writes the client was told succeeded.
    pub acknowledged: usize,
    /// Writes refused with an error (a 409 after the merge retries): the client knows.
    pub refused: usize,
    /// Acknowledged writes missing from the converged records.
    pub lost: usize,
    /// Replicated changes a replica dropped because its own write was newer.
    pub overwritten_by_replication: usize,
    /// Whether both replicas hold the same records at the end.
    pub converged: bool,
}

/// One region's replica: the records, and the stamp of the last write applied to each.
#[derive(Default)]
struct Replica {
    records: MemoryMetadataStore,
    stamps: Mutex<HashMap<DocumentId, u64>>,
    /// One write at a time per replica, replicated ones included: a replica applies
    /// an item's writes atomically.
    writing: tokio::sync::Mutex<()>,
}

/// A change on its way to the other replica.
struct Change {
    id: DocumentId,
    record: Option<Document>,
    stamp: u64,
    due: tokio::time::Instant,
}

struct Replication {
    clock: AtomicU64,
    in_flight: AtomicUsize,
    overwritten: AtomicUsize,
    delay: Duration,
}

/// A region's replica as its API sees it: every accepted write is shipped on.
struct ReplicatedStore {
    here: Arc<Replica>,
    replication: Arc<Replication>,
    outbox: mpsc::UnboundedSender<Change>,
}

impl ReplicatedStore {
    fn ship(&self, id: DocumentId, record: Option<Document>) {
        let stamp = self.replication.clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.here
            .stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, stamp);
        self.replication.in_flight.fetch_add(1, Ordering::SeqCst);
        let change = Change {
            id,
            record,
            stamp,
            due: tokio::time::Instant::now() + self.replication.delay,
        };
        if self.outbox.send(change).is_err() {
            self.replication.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl MetadataStore for ReplicatedStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        let _writing = self.here.writing.lock().await;
        self.here.records.insert(document).await?;
        self.ship(document.id, Some(document.clone()));
        Ok(())
    }

    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        self.here.records.get(id).await
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        let _writing = self.here.writing.lock().await;
        self.here.records.update(document, expected_version).await?;
        let stored = self.here.records.get(&document.id).await?;
        self.ship(document.id, stored);
        Ok(())
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let _writing = self.here.writing.lock().await;
        self.here.records.delete(id, expected_version).await?;
        self.ship(*id, None);
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.here.records.list(query).await
    }

    async fn search(
        &self,
        query: &crate::search::SearchQuery,
    ) -> Result<crate::search::SearchPage, StoreError> {
        self.here.records.search(query).await
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        self.here.records.expired_pending(now, limit).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Applies the changes of one direction, in order, each once it is due: last
/// writer wins.
async fn replicate(
    mut inbox: mpsc::UnboundedReceiver<Change>,
    to: Arc<Replica>,
    replication: Arc<Replication>,
) {
    while let Some(change) = inbox.recv().await {
        tokio::time::sleep_until(change.due).await;
        {
            let _writing = to.writing.lock().await;
            let mut stamps = to.stamps.lock().unwrap_or_else(PoisonError::into_inner);
            let newer = stamps
                .get(&change.id)
                .is_none_or(|applied| change.stamp > *applied);
            if newer {
                stamps.insert(change.id, change.stamp);
                match change.record {
                    Some(record) => to.records.put(record),
                    None => {
                        let mut records = to.records.snapshot();
                        records.remove(&change.id.to_string());
                        to.records.restore(records);
                    }
                }
            } else {
                replication.overwritten.fetch_add(1, Ordering::SeqCst);
            }
        }
        replication.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Directory(HashMap<&'static str, Arc<dyn MetadataStore>>);

impl Replicas for Directory {
    fn replica(&self, region: &str) -> Option<Arc<dyn MetadataStore>> {
        self.0.get(region).cloned()
    }
}

/// The simulated writes change metadata only; no content is stored.
struct NoContent(&'static str);

fn no_content() -> BlobError {
    BlobError::other("the replication simulation stores no content")
}

#[async_trait]
impl BlobStore for NoContent {
    fn location(&self) -> BlobLocation {
        BlobLocation {
            store: format!("bucket-{}", self.0),
            region: Some(self.0.to_owned()),
        }
    }
    async fn upload_link(&self, _: &UploadSpec) -> Result<SignedLink, BlobError> {
        Err(no_content())
    }
    async fn download_link(&self, _: &DownloadSpec) -> Result<SignedLink, BlobError> {
        Err(no_content())
    }
    async fn head(&self, _: &BlobRef) -> Result<Option<BlobHead>, BlobError> {
        Err(no_content())
    }
    async fn read(&self, _: &BlobRef) -> Result<BlobStream, BlobError> {
        Err(no_content())
    }
    async fn read_small(&self, _: &BlobRef, _: usize) -> Result<Option<bytes::Bytes>, BlobError> {
        Err(no_content())
    }
    async fn delete(&self, _: &BlobRef) -> Result<(), BlobError> {
        Err(no_content())
    }
    async fn copy(&self, _: &BlobRef, _: &BlobRef) -> Result<(), BlobError> {
        Err(no_content())
    }
    async fn delete_document(&self, _: &DocumentId, _: &BlobLocation) -> Result<(), BlobError> {
        Err(no_content())
    }
    async fn archive(&self, _: &BlobRef, _: StorageClass) -> Result<(), BlobError> {
        Err(no_content())
    }
    async fn restore(&self, _: &BlobRef, _: u16, _: RestoreTier) -> Result<(), BlobError> {
        Err(no_content())
    }
    async fn health(&self) -> Result<(), BlobError> {
        Ok(())
    }
}

/// A document as `region`'s API creates it: its content is in that region's bucket.
fn homed_in(region: &'static str) -> Document {
    let mut document = sample_document("simulated", DocumentStatus::Active);
    if let Some(content) = document.content.as_mut() {
        content.location = NoContent(region).location();
    }
    document.restore = None;
    document
}

async fn caught_up(replication: &Replication) {
    while replication.in_flight.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(replication.delay / 4 + Duration::from_millis(1)).await;
    }
}

/// Runs the workload of `config` with `routing` and counts what happened.
pub async fn simulate(routing: WriteRouting, config: &SimulationConfig) -> SimulationReport {
    let replication = Arc::new(Replication {
        clock: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        overwritten: AtomicUsize::new(0),
        delay: config.replication_delay,
    });
    let replicas = [Arc::new(Replica::default()), Arc::new(Replica::default())];
    let mut stores: HashMap<&'static str, Arc<dyn MetadataStore>> = HashMap::new();
    let mut replicators = Vec::new();
    for (index, region) in REGIONS.iter().enumerate() {
        let (outbox, inbox) = mpsc::unbounded_channel();
        stores.insert(
            *region,
            Arc::new(ReplicatedStore {
                here: replicas[index].clone(),
                replication: replication.clone(),
                outbox,
            }),
        );
        replicators.push(tokio::spawn(replicate(
            inbox,
            replicas[1 - index].clone(),
            replication.clone(),
        )));
    }
    let directory = Arc::new(Directory(stores.clone()));

    // Each document is created in its home region and replicated before writing starts.
    let mut documents = Vec::new();
    for n in 0..config.documents {
        let home = REGIONS[n % REGIONS.len()];
        let document = homed_in(home);
        stores[home]
            .insert(&document)
            .await
            .expect("a new id inserts");
        documents.push(document.id);
    }
    caught_up(&replication).await;

    let mut writers = Vec::new();
    for region in REGIONS {
        let metadata: Arc<dyn MetadataStore> = match routing {
            WriteRouting::Local => stores[region].clone(),
            WriteRouting::HomeRegion => Arc::new(HomeRegionStore::new(
                region,
                stores[region].clone(),
                directory.clone(),
            )),
        };
        let service = Arc::new(DocumentService::new(
            metadata,
            Arc::new(NoContent(region)),
            Arc::new(SystemClock),
            CursorCodec::new(b"replication simulation"),
            ServiceConfig::default(),
        ));
        for writer in 0..config.writers_per_region {
            let service = service.clone();
            let documents = documents.clone();
            let config = config.clone();
            let mut rng = rand::rngs::StdRng::seed_from_u64(
                config.seed ^ ((writer as u64) << 8) ^ u64::from(region.as_bytes()[0]),
            );
            writers.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut refused = 0;
                for write in 0..config.writes_per_writer {
                    let id = documents[rng.gen_range(0..documents.len())];
                    let key = format!("{region}{writer}-{write}");
                    let mut metadata = Map::new();
                    metadata.insert(key.clone(), Value::Bool(true));
                    let patch = Patch {
                        metadata: Some(metadata),
                        document_type: None,
                    };
                    match service.patch(&id, patch, None).await {
                        Ok(_) => acknowledged.push((id, key)),
                        Err(_) => refused += 1,
                    }
                    let pause = rng.gen_range(0..=config.max_think_time.as_micros() as u64);
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                }
                (acknowledged, refused)
            }));
        }
    }

    let mut report = SimulationReport::default();
    let mut acknowledged = Vec::new();
    for writer in writers {
        let (acked, refused) = writer.await.expect("a writer finishes");
        acknowledged.extend(acked);
        report.refused += refused;
    }
    caught_up(&replication).await;
    for replicator in replicators {
        replicator.abort();
    }

    report.attempted = REGIONS.len() * config.writers_per_region * config.writes_per_writer;
    report.acknowledged = acknowledged.len();
    report.overwritten_by_replication = replication.overwritten.load(Ordering::SeqCst);
    report.converged = replicas[0].records.snapshot() == replicas[1].records.snapshot();
    let finals = replicas[0].records.snapshot();
    report.lost = acknowledged
        .iter()
        .filter(|(id, key)| {
            finals
                .get(&id.to_string())
                .is_none_or(|d| !d.metadata.contains_key(key))
        })
        .count();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts recorded in RELIABILITY.md ("Multi-region writes"); print them with
    /// `cargo nextest run -p kumocms-core replication --no-capture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn home_region_writes_lose_nothing_and_local_writes_do() {
        let config = SimulationConfig::default();
        let local = simulate(WriteRouting::Local, &config).await;
        let home = simulate(WriteRouting::HomeRegion, &config).await;
        println!("local writes:       {local:?}");
        println!("home-region writes: {home:?}");
        for report in [&local, &home] {
            assert!(report.converged, "the replicas converge: {report:?}");
            assert_eq!(
                report.acknowledged + report.refused,
                report.attempted,
                "{report:?}"
            );
            assert!(
                report.acknowledged > report.attempted / 2,
                "most writes succeed: {report:?}"
            );
        }
        // The test can fail: with each region writing its own replica, last-writer-wins
        // replication drops acknowledged writes.
        assert!(local.lost > 0, "local writes lose updates: {local:?}");
        assert!(local.overwritten_by_replication > 0, "{local:?}");
        // With every write checked at the document's home, none is lost.
        assert_eq!(home.lost, 0, "home-region writes lose nothing: {home:?}");
    }
}
