//! Restores emulated on files: a request is persisted (so restores survive a
//! restart), completed by the ticker after the configured delay by copying the
//! archived file to `restored/`, and expired after its days.

use super::*;

/// A restore, as persisted. `available_until` is set once the copy exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RestoreRequest {
    pub(super) key: String,
    pub(super) days: u16,
    pub(super) tier: RestoreTier,
    pub(super) requested_at: DateTime<Utc>,
    pub(super) ready_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) available_until: Option<DateTime<Utc>>,
}

impl FsBlobStore {
    pub(super) async fn load_request(
        &self,
        key: &str,
    ) -> Result<Option<RestoreRequest>, BlobError> {
        let path = self.request_path(key);
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        })
        .await
    }

    pub(super) async fn save_request(&self, request: &RestoreRequest) -> Result<(), BlobError> {
        let path = self.request_path(&request.key);
        let bytes = serde_json::to_vec_pretty(request).map_err(|e| {
            BlobError::other_from(format!("cannot serialise a restore request: {e}"), e)
        })?;
        blocking(move || fsutil::write_replace(&path, &bytes)).await
    }

    pub(super) async fn all_requests(
        &self,
    ) -> Result<Vec<(PathBuf, Option<RestoreRequest>)>, BlobError> {
        let dir = self.restores_dir();
        blocking(move || {
            let mut requests = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.extension().is_none_or(|ext| ext != "json") {
                    continue;
                }
                let request = std::fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<RestoreRequest>(&bytes).ok());
                requests.push((path, request));
            }
            Ok(requests)
        })
        .await
    }

    /// Whether a restore request (pending or completed) exists for `key`.
    pub async fn has_restore_request(&self, key: &str) -> Result<bool, BlobError> {
        checked_key(key)?;
        Ok(self.load_request(key).await?.is_some())
    }

    /// Completes due restores and expires restored copies whose time is up,
    /// publishing `RestoreCompleted` / `RestoreExpired`. Returns how many changed.
    pub async fn tick_restores(&self) -> Result<usize, BlobError> {
        let _guard = self.lifecycle.lock().await;
        let now = self.clock.now();
        let mut changed = 0;
        for (path, request) in self.all_requests().await? {
            let Some(mut request) = request.filter(|r| blob_key::is_safe(&r.key)) else {
                tracing::warn!(path = %path.display(), "unreadable restore request removed");
                blocking(move || fsutil::remove_if_exists(&path)).await?;
                continue;
            };
            match request.available_until {
                None if now >= request.ready_at => {
                    let Some((class, _)) = self.cold_class(&request.key).await? else {
                        // The archived content was deleted; nothing to restore.
                        blocking(move || fsutil::remove_if_exists(&path)).await?;
                        continue;
                    };
                    self.copy_to_restored(class, &request.key).await?;
                    let days = u32::from(request.days);
                    let until = now + chrono_duration(self.config.restore_day_length * days);
                    request.available_until = Some(until);
                    // Durable before publishing: if the event is lost in a crash,
                    // recovery re-publishes it from this file.
                    self.save_request(&request).await?;
                    self.events
                        .publish(StorageEvent::RestoreCompleted {
                            location: self.location(),
                            key: request.key.clone(),
                            available_until: Some(until),
                        })
                        .await;
                    changed += 1;
                }
                Some(until) if now >= until => {
                    let restored = self.restored_path(&request.key);
                    blocking(move || {
                        fsutil::remove_if_exists(&restored)?;
                        fsutil::remove_if_exists(&path)
                    })
                    .await?;
                    self.events
                        .publish(StorageEvent::RestoreExpired {
                            location: self.location(),
                            key: request.key.clone(),
                        })
                        .await;
                    changed += 1;
                }
                _ => {}
            }
        }
        Ok(changed)
    }

    /// Re-publishes `RestoreCompleted` for every completed restore, for when the
    /// event was lost in a crash. The processor ignores it when already applied.
    pub async fn republish_completed_restores(&self) -> Result<usize, BlobError> {
        let mut count = 0;
        for (_, request) in self.all_requests().await? {
            if let Some(request) = request
                && let Some(until) = request.available_until
            {
                self.events
                    .publish(StorageEvent::RestoreCompleted {
                        location: self.location(),
                        key: request.key,
                        available_until: Some(until),
                    })
                    .await;
                count += 1;
            }
        }
        Ok(count)
    }

    pub(super) async fn copy_to_restored(
        &self,
        class: StorageClass,
        key: &str,
    ) -> Result<(), BlobError> {
        let source = self.cold_path(class, key);
        let target = self.restored_path(key);
        let tmp = self
            .tmp_dir()
            .join(format!("restore-{}", ulid::Ulid::new()));
        blocking(move || fsutil::copy_durably(&source, &tmp, &target)).await
    }

    /// Runs the restore ticker until the task is aborted.
    pub async fn run_restore_ticker(self: Arc<Self>, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = self.tick_restores().await {
                tracing::warn!(%error, "restore ticker failed; retrying on the next tick");
            }
        }
    }
}
