//! Home-region writes: no lost updates when one store is replicated across regions
//! with last-writer-wins (a DynamoDB global table in its default, eventually
//! consistent mode).
//!
//! A conditional write is only as good as the replica it is checked against. Two
//! regions can each pass their own check on the same `version`; replication then
//! keeps one change and drops the other, and both callers were told they succeeded.
//! So each document has one region that owns its record, its *home*: the region of
//! the bucket that received its first upload ([`Document::home_region`]), which is
//! the region that created it. [`HomeRegionStore`] sends every write for a document,
//! and every read a write depends on ([`MetadataStore::get`]), to the home region's
//! replica, whichever region the request arrived in. Plain reads
//! ([`MetadataStore::get_nearby`], listings) stay on the local replica.
//!
//! The price: a change made from another region pays a round trip to the home
//! region, and while the home region is unreachable its documents cannot be changed
//! (`StoreError::HomeRegionUnavailable`, a 503 naming the region); they can still be
//! read. In return, no acknowledged write is lost. `replication` (feature
//! `conformance`) shows both designs against a simulated last-writer-wins replicator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::document::Document;
use crate::id::DocumentId;
use crate::ports::{ListPage, ListQuery, MetadataStore, StoreError};

/// How many document homes a store remembers (those of documents homed elsewhere
/// only); past this the memory is dropped and rebuilt from reads.
const REMEMBERED_HOMES: usize = 4096;

/// The replicas of the one logical store, by region.
pub trait Replicas: Send + Sync {
    /// The replica in `region`; `None` when this deployment has no way to reach it.
    fn replica(&self, region: &str) -> Option<Arc<dyn MetadataStore>>;
}

/// A [`MetadataStore`] over the local replica that writes each document in its home
/// region. See the module documentation.
pub struct HomeRegionStore {
    region: String,
    local: Arc<dyn MetadataStore>,
    replicas: Arc<dyn Replicas>,
    /// Homes of documents homed in other regions, learnt from reads. A home never
    /// changes (every upload goes to the first one's bucket), so this cannot go stale.
    homes: Mutex<HashMap<DocumentId, String>>,
}

impl std::fmt::Debug for HomeRegionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeRegionStore")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl HomeRegionStore {
    /// `local` is this region's replica; `replicas` reaches the others.
    pub fn new(
        region: impl Into<String>,
        local: Arc<dyn MetadataStore>,
        replicas: Arc<dyn Replicas>,
    ) -> Self {
        Self {
            region: region.into(),
            local,
            replicas,
            homes: Mutex::new(HashMap::new()),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn remembered_home(&self, id: &DocumentId) -> Option<String> {
        self.homes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn remember_home(&self, id: &DocumentId, home: &str) {
        let mut homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
        if homes.len() >= REMEMBERED_HOMES {
            homes.clear();
        }
        homes.insert(*id, home.to_owned());
    }

    /// The replica to write `home`'s documents to: the local one for local (or
    /// region-less) documents.
    fn replica_for(&self, home: Option<&str>) -> Result<Home, StoreError> {
        match home {
            None => Ok(Home::Local),
            Some(region) if region == self.region => Ok(Home::Local),
            Some(region) => match self.replicas.replica(region) {
                Some(store) => Ok(Home::Remote {
                    region: region.to_owned(),
                    store,
                }),
                None => Err(StoreError::HomeRegionUnavailable {
                    region: region.to_owned(),
                    detail: "this deployment has no access to that region's replica".to_owned(),
                }),
            },
        }
    }

    /// The home of a document this store may not have read yet.
    async fn home_of(&self, id: &DocumentId) -> Result<Option<String>, StoreError> {
        if let Some(home) = self.remembered_home(id) {
            return Ok(Some(home));
        }
        let nearby = self.local.get_nearby(id).await?;
        Ok(nearby.and_then(|d| d.home_region().map(str::to_owned)))
    }
}

enum Home {
    Local,
    Remote {
        region: String,
        store: Arc<dyn MetadataStore>,
    },
}

/// A failure to reach the home replica names the region, so the client learns why.
fn at_home(region: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(detail) => StoreError::HomeRegionUnavailable {
            region: region.to_owned(),
            detail,
        },
        other => other,
    }
}

#[async_trait]
impl MetadataStore for HomeRegionStore {
    async fn insert(&self, document: &Document) -> Result<(), StoreError> {
        // A new document's upload goes to this region's bucket: it is homed here.
        match self.replica_for(document.home_region())? {
            Home::Local => self.local.insert(document).await,
            Home::Remote { region, store } => store
                .insert(document)
                .await
                .map_err(|e| at_home(&region, e)),
        }
    }

    /// The latest record, from the home replica: the local replica names the home
    /// (unless it is remembered), then the home replica is read.
    async fn get(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        let home = match self.remembered_home(id) {
            Some(home) => home,
            None => {
                let Some(nearby) = self.local.get(id).await? else {
                    // Not replicated here yet (or gone): as far as this region knows,
                    // there is nothing to change.
                    return Ok(None);
                };
                let elsewhere = nearby
                    .home_region()
                    .filter(|home| *home != self.region)
                    .map(str::to_owned);
                match elsewhere {
                    Some(home) => home,
                    None => return Ok(Some(nearby)),
                }
            }
        };
        match self.replica_for(Some(&home))? {
            Home::Local => self.local.get(id).await,
            Home::Remote { region, store } => {
                let latest = store.get(id).await.map_err(|e| at_home(&region, e))?;
                self.remember_home(id, &region);
                Ok(latest)
            }
        }
    }

    async fn get_nearby(&self, id: &DocumentId) -> Result<Option<Document>, StoreError> {
        self.local.get_nearby(id).await
    }

    async fn update(&self, document: &Document, expected_version: u64) -> Result<(), StoreError> {
        // The region the record was read from, which is its home.
        let home = self
            .remembered_home(&document.id)
            .or_else(|| document.home_region().map(str::to_owned));
        match self.replica_for(home.as_deref())? {
            Home::Local => self.local.update(document, expected_version).await,
            Home::Remote { region, store } => store
                .update(document, expected_version)
                .await
                .map_err(|e| at_home(&region, e)),
        }
    }

    async fn delete(&self, id: &DocumentId, expected_version: u64) -> Result<(), StoreError> {
        let home = self.home_of(id).await?;
        match self.replica_for(home.as_deref())? {
            Home::Local => self.local.delete(id, expected_version).await,
            Home::Remote { region, store } => store
                .delete(id, expected_version)
                .await
                .map_err(|e| at_home(&region, e)),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.local.list(query).await
    }

    async fn search(
        &self,
        query: &crate::search::SearchQuery,
    ) -> Result<crate::search::SearchPage, StoreError> {
        // The local replica's own search (bounded reads on DynamoDB), not the
        // core's scan over `list`.
        self.local.search(query).await
    }

    async fn expired_pending(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Document>, StoreError> {
        // Each region sweeps the abandoned uploads of its own documents: their
        // uploads went to its bucket, and their records are written here.
        let mut documents = self.local.expired_pending(now, limit).await?;
        documents.retain(|d| d.home_region().is_none_or(|home| home == self.region));
        Ok(documents)
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.local.health().await
    }
}

#[cfg(all(test, feature = "memory", feature = "conformance"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::conformance::sample_document;
    use crate::document::{BlobLocation, DocumentStatus};
    use crate::memory::MemoryMetadataStore;

    /// Two regions, `a` and `b`, each with its own replica; `down` regions refuse.
    struct TwoRegions {
        a: Arc<MemoryMetadataStore>,
        b: Arc<MemoryMetadataStore>,
        down: Mutex<Vec<String>>,
    }

    struct Refusing;

    #[async_trait]
    impl MetadataStore for Refusing {
        async fn insert(&self, _: &Document) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn get(&self, _: &DocumentId) -> Result<Option<Document>, StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn update(&self, _: &Document, _: u64) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn delete(&self, _: &DocumentId, _: u64) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn list(&self, _: &ListQuery) -> Result<ListPage, StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn expired_pending(
            &self,
            _: DateTime<Utc>,
            _: usize,
        ) -> Result<Vec<Document>, StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
        async fn health(&self) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("connection refused".into()))
        }
    }

    impl Replicas for TwoRegions {
        fn replica(&self, region: &str) -> Option<Arc<dyn MetadataStore>> {
            if self.down.lock().unwrap().iter().any(|r| r == region) {
                return Some(Arc::new(Refusing));
            }
            match region {
                "a" => Some(self.a.clone()),
                "b" => Some(self.b.clone()),
                _ => None,
            }
        }
    }

    fn homed_in(region: &str) -> Document {
        let mut document = sample_document("report", DocumentStatus::Active);
        if let Some(content) = document.content.as_mut() {
            content.location = BlobLocation {
                store: format!("bucket-{region}"),
                region: Some(region.to_owned()),
            };
        }
        document
    }

    fn setup() -> (Arc<TwoRegions>, HomeRegionStore) {
        let regions = Arc::new(TwoRegions {
            a: Arc::new(MemoryMetadataStore::new()),
            b: Arc::new(MemoryMetadataStore::new()),
            down: Mutex::new(Vec::new()),
        });
        let through_b = HomeRegionStore::new("b", regions.b.clone(), regions.clone());
        (regions, through_b)
    }

    #[tokio::test]
    async fn writes_from_another_region_land_in_the_home_replica() {
        let (regions, through_b) = setup();
        let document = homed_in("a");
        // Replicated to b, then changed at home (b has not seen it yet).
        regions.a.put(document.clone());
        regions.b.put(document.clone());
        let mut newer = document.clone();
        newer.document_type = "changed-at-home".into();
        regions.a.update(&newer, 1).await.unwrap();

        // The read-modify-write reads the home replica: version 2, not b's stale 1.
        let latest = through_b.get(&document.id).await.unwrap().unwrap();
        assert_eq!(latest.version, 2);
        assert_eq!(latest.document_type, "changed-at-home");
        // Plain reads stay local.
        assert_eq!(
            through_b
                .get_nearby(&document.id)
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );
        // A write on b's stale version is checked at home and refused.
        assert_eq!(
            through_b.update(&document, 1).await,
            Err(StoreError::Conflict)
        );
        through_b.update(&latest, 2).await.unwrap();
        assert_eq!(
            regions.a.get(&document.id).await.unwrap().unwrap().version,
            3
        );
        assert_eq!(
            regions.b.get(&document.id).await.unwrap().unwrap().version,
            1
        );
        through_b.delete(&document.id, 3).await.unwrap();
        assert!(regions.a.get(&document.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn documents_homed_here_and_new_ones_stay_local() {
        let (regions, through_b) = setup();
        let document = homed_in("b");
        through_b.insert(&document).await.unwrap();
        assert!(regions.a.is_empty());
        let mut changed = through_b.get(&document.id).await.unwrap().unwrap();
        changed.document_type = "x".into();
        through_b.update(&changed, 1).await.unwrap();
        assert_eq!(
            regions.b.get(&document.id).await.unwrap().unwrap().version,
            2
        );
        // Deleting a document nobody read first finds its home from the local copy.
        let (regions, through_b) = setup();
        let document = homed_in("a");
        regions.a.put(document.clone());
        regions.b.put(document.clone());
        through_b.delete(&document.id, 1).await.unwrap();
        assert!(regions.a.is_empty());
        assert_eq!(regions.b.len(), 1, "b only loses it through replication");
    }

    #[tokio::test]
    async fn an_unreachable_home_refuses_writes_by_name_and_reads_go_on() {
        let (regions, through_b) = setup();
        let document = homed_in("a");
        regions.a.put(document.clone());
        regions.b.put(document.clone());
        regions.down.lock().unwrap().push("a".into());
        let error = through_b.get(&document.id).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::HomeRegionUnavailable { region, .. } if region == "a"),
            "{error:?}"
        );
        let error = through_b.update(&document, 1).await.unwrap_err();
        assert!(matches!(error, StoreError::HomeRegionUnavailable { .. }));
        let error = through_b.delete(&document.id, 1).await.unwrap_err();
        assert!(matches!(error, StoreError::HomeRegionUnavailable { .. }));
        // Read for display, without its history.
        let mut shown = document.clone();
        shown.revisions = crate::revision::History::NotLoaded;
        assert_eq!(
            through_b.get_nearby(&document.id).await.unwrap(),
            Some(shown)
        );
        let page = through_b
            .list(&ListQuery {
                limit: 10,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(page.documents.len(), 1);
        // No replica at all for a region: refused the same way, naming it.
        let elsewhere = homed_in("c");
        regions.b.put(elsewhere.clone());
        let error = through_b.get(&elsewhere.id).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::HomeRegionUnavailable { region, .. } if region == "c")
        );
    }

    #[tokio::test]
    async fn each_region_sweeps_only_its_own_abandoned_uploads() {
        let (regions, through_b) = setup();
        let past = Utc::now() - chrono::Duration::hours(1);
        let mine = crate::conformance::with_pending(homed_in("b"), past);
        let theirs = crate::conformance::with_pending(homed_in("a"), past);
        regions.b.put(mine.clone());
        regions.b.put(theirs);
        let swept = through_b.expired_pending(Utc::now(), 10).await.unwrap();
        assert_eq!(swept.iter().map(|d| d.id).collect::<Vec<_>>(), [mine.id]);
    }
}
