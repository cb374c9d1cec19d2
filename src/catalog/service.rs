//! The catalog service: syncing sources into the store and keeping the in-memory [`Snapshot`]
//! current, including when another replica sharing the PostgreSQL database synced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::ingest::{self, SourceRead};
use super::snapshot::Snapshot;
use crate::store::{Store, StoreError, SyncOutcome};

/// What syncing one source did.
#[derive(Debug, Clone)]
pub struct SourceReport {
    /// The source's name.
    pub source: String,
    /// Files read, documents seen, entities per kind (lower case) taken from the files.
    pub files_read: usize,
    /// Non-blank documents seen.
    pub documents: usize,
    /// Valid entities per kind read from the files, sorted by kind.
    pub read_by_kind: Vec<(String, usize)>,
    /// Problems while reading, then cross-source conflicts found while storing.
    pub problems: Vec<super::Problem>,
    /// What the store did, or why it did nothing.
    pub outcome: Result<SyncOutcome, String>,
}

impl SourceReport {
    /// True when the source gave nothing at all (missing, unreadable, or no documents) and the
    /// store was left as it was.
    pub fn failed(&self) -> bool {
        self.outcome.is_err()
    }
}

/// Owns the store handle and the current snapshot.
pub struct CatalogService {
    store: Store,
    snapshot: ArcSwap<Snapshot>,
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogService")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

fn by_kind(read: &SourceRead) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &read.entities {
        *counts
            .entry(e.entity_ref.kind.to_ascii_lowercase())
            .or_default() += 1;
    }
    counts.into_iter().collect()
}

impl CatalogService {
    /// Opens the service on a migrated store and loads the snapshot from it.
    ///
    /// # Errors
    /// [`StoreError`] if the catalog cannot be read.
    pub async fn open(store: Store) -> Result<Self, StoreError> {
        let service = Self {
            store,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
        };
        service.reload().await?;
        Ok(service)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current snapshot. Cheap; hold it for the duration of one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Rebuilds the snapshot from the store.
    ///
    /// # Errors
    /// [`StoreError`]; the previous snapshot stays in place.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let (entities, generation, problems) = self.store.load_entities().await?;
        for p in &problems {
            tracing::warn!(problem = %p, "stored entity skipped");
        }
        let snapshot = tokio::task::spawn_blocking(move || Snapshot::build(entities, generation))
            .await
            .unwrap_or_else(|_| Snapshot::default());
        tracing::debug!(
            entities = snapshot.len(),
            generation,
            "catalog snapshot rebuilt"
        );
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Reloads the snapshot if the store's generation moved (another replica or process synced).
    /// Returns whether it reloaded.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn refresh_if_changed(&self) -> Result<bool, StoreError> {
        let generation = self.store.catalog_generation().await?;
        if generation == self.snapshot.load().generation {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Opens the service without loading the snapshot, for commands that only write the store
    /// (`idp catalog sync`): loading 100,000 entities would cost seconds for nothing.
    pub fn open_unloaded(store: Store) -> Self {
        let mut empty = Snapshot::default();
        empty.generation = -1;
        Self {
            store,
            snapshot: ArcSwap::from_pointee(empty),
        }
    }

    /// Reads and stores each source in turn, then rebuilds the snapshot once if the catalog
    /// changed (an unchanged re-sync rebuilds nothing).
    pub async fn sync(&self, paths: &[PathBuf]) -> Vec<SourceReport> {
        let reports = self.sync_store_only(paths).await;
        if let Err(e) = self.refresh_if_changed().await {
            tracing::error!(error = %e, "catalog synced but the snapshot could not be rebuilt");
        }
        reports
    }

    /// Stores entities read from somewhere other than a configured path (a finished run's
    /// descriptor) as their own source, then refreshes the snapshot.
    ///
    /// # Errors
    /// [`StoreError`]; the previous catalog is intact.
    pub async fn apply_read(&self, read: &SourceRead) -> Result<SyncOutcome, StoreError> {
        let outcome = self.store.apply_source(read).await?;
        self.refresh_if_changed().await?;
        Ok(outcome)
    }

    /// Reads and stores each source in turn, leaving the snapshot as it is.
    pub async fn sync_store_only(&self, paths: &[PathBuf]) -> Vec<SourceReport> {
        let mut reports = Vec::with_capacity(paths.len());
        for path in paths {
            reports.push(self.sync_one(path).await);
        }
        reports
    }

    async fn sync_one(&self, path: &Path) -> SourceReport {
        let owned = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || ingest::read_source(&owned))
            .await
            .unwrap_or_else(|_| SourceRead {
                source: ingest::source_name(path),
                ..SourceRead::default()
            });
        let mut report = SourceReport {
            source: read.source.clone(),
            files_read: read.files_read,
            documents: read.documents,
            read_by_kind: by_kind(&read),
            problems: read.problems.clone(),
            outcome: Err(String::new()),
        };
        if read.nothing_read() && !read.problems.is_empty() {
            report.outcome = Err(
                "nothing could be read from this source; what it contributed before is kept"
                    .to_owned(),
            );
            return report;
        }
        if !path.exists() {
            report.outcome = Err(format!(
                "{} does not exist; what it contributed before is kept",
                path.display()
            ));
            return report;
        }
        match self.store.apply_source(&read).await {
            Ok(outcome) => {
                report.problems.extend(outcome.conflicts.iter().cloned());
                report.outcome = Ok(outcome);
            }
            Err(e) => report.outcome = Err(format!("{e}; the previous catalog is intact")),
        }
        report
    }
}
