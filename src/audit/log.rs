//! [`AuditLog`]: the handle request paths record through, and the one writer task behind it that
//! appends entries in batches (one transaction per batch, the chain computed in order).
//!
//! The queue is bounded ([`AuditLogOptions::capacity`]). [`AuditLog::record`] waits for room (its
//! caller waits for the write anyway); [`AuditLog::record_nowait`] never blocks a request: when the
//! queue is full the entry is dropped, logged with `tracing::error!` and counted
//! ([`AuditLog::lost`]). An unbounded queue would instead grow without limit while the database is
//! down; a bounded one keeps memory flat and makes the loss visible.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::AuditEntry;
use crate::store::Store;

/// Why an entry could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The writer task is gone (the runtime is shutting down).
    #[error("the audit writer has stopped")]
    Closed,
    /// The batch holding the entry could not be written.
    #[error("the audit log could not be written after {attempts} attempts: {reason}")]
    Write {
        /// How many times the batch was tried.
        attempts: u32,
        /// The last error.
        reason: String,
    },
}

/// Tuning of the writer. The defaults suit production; tests shorten the retry delay.
#[derive(Debug, Clone)]
pub struct AuditLogOptions {
    /// Entries the queue holds before [`AuditLog::record_nowait`] drops. Default 10,000.
    pub capacity: usize,
    /// Most entries written in one transaction. Default 500.
    pub max_batch: usize,
    /// Tries per batch before its waiters are told it failed. Default 5.
    pub attempts: u32,
    /// Delay before the first retry, doubled each time. Default 100 ms (1.5 s over 5 tries).
    pub retry_delay: Duration,
    /// Pause after writing a batch that was not full, so that entries queued meanwhile are
    /// written together and senders do not wake the writer once per entry. Default 2 ms; it is
    /// the most a refusal's reply waits for its record beyond the write itself.
    pub linger: Duration,
}

impl Default for AuditLogOptions {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_batch: 500,
            attempts: 5,
            retry_delay: Duration::from_millis(100),
            linger: Duration::from_millis(2),
        }
    }
}

type Waiter = oneshot::Sender<Result<(), AuditError>>;

enum Msg {
    Entry(Box<AuditEntry>, Option<Waiter>),
    Flush(oneshot::Sender<()>),
}

/// A cheap, cloneable handle on the audit writer.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    lost: Arc<AtomicU64>,
}

impl AuditLog {
    /// Starts the writer task on `store` with the default options.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(store: Store) -> Self {
        Self::start_with(store, AuditLogOptions::default())
    }

    /// Starts the writer task with these options. The task ends when every handle is dropped,
    /// after writing what was queued; call [`flush`](Self::flush) before shutting down.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start_with(store: Store, options: AuditLogOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let lost = Arc::new(AtomicU64::new(0));
        tokio::spawn(writer(store, rx, options, lost.clone()));
        Self { tx, lost }
    }

    /// Records an entry and waits until it is durably written (denials, approvals, actions).
    ///
    /// # Errors
    /// [`AuditError::Write`] when its batch failed every attempt; [`AuditError::Closed`] when the
    /// writer is gone.
    pub async fn record(&self, entry: AuditEntry) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Entry(Box::new(entry), Some(done)))
            .await
            .map_err(|_| AuditError::Closed)?;
        wait.await.unwrap_or(Err(AuditError::Closed))
    }

    /// Queues an entry without waiting (plain reads). When the queue is full or the writer is
    /// gone, the entry is dropped, logged and counted in [`lost`](Self::lost).
    pub fn record_nowait(&self, entry: AuditEntry) {
        if let Err(e) = self.tx.try_send(Msg::Entry(Box::new(entry), None)) {
            let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "the queue is full",
                mpsc::error::TrySendError::Closed(_) => "the writer has stopped",
            };
            tracing::error!(lost, why, "audit entry dropped");
        }
    }

    /// Waits until everything queued before this call has been written (or has failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Entries lost so far: dropped by [`record_nowait`](Self::record_nowait) or in a batch that
    /// failed every attempt with nobody waiting for it.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Msg>,
    options: AuditLogOptions,
    lost: Arc<AtomicU64>,
) {
    let max_batch = options.max_batch.max(1);
    let mut inbox = Vec::with_capacity(max_batch);
    // Takes whatever is queued, up to a batch: under load batches fill while the previous one
    // commits; when idle an entry is written at once. After a batch that was not full the writer
    // lingers a moment, so a steady trickle is written in batches rather than waking it per entry.
    while rx.recv_many(&mut inbox, max_batch).await > 0 {
        let full = inbox.len() >= max_batch;
        let mut entries = Vec::with_capacity(inbox.len());
        let mut waiters = Vec::new();
        let mut flushes = Vec::new();
        for msg in inbox.drain(..) {
            match msg {
                Msg::Entry(entry, waiter) => {
                    entries.push(*entry);
                    waiters.extend(waiter);
                }
                Msg::Flush(done) => flushes.push(done),
            }
        }
        if !entries.is_empty() {
            let result = write_batch(&store, &entries, &options).await;
            if result.is_err() {
                let unwaited = entries.len() - waiters.len();
                if unwaited > 0 {
                    let lost = lost.fetch_add(unwaited as u64, Ordering::Relaxed) + unwaited as u64;
                    tracing::error!(entries = unwaited, lost, "audit entries lost");
                }
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        }
        let flushed = !flushes.is_empty();
        for f in flushes {
            let _ = f.send(());
        }
        if !full && !flushed && !options.linger.is_zero() {
            tokio::time::sleep(options.linger).await;
        }
    }
}

async fn write_batch(
    store: &Store,
    entries: &[AuditEntry],
    options: &AuditLogOptions,
) -> Result<(), AuditError> {
    let attempts = options.attempts.max(1);
    let mut delay = options.retry_delay;
    let mut attempt = 1;
    loop {
        match store.append_audit(entries).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < attempts => {
                tracing::error!(
                    error = %e, attempt, attempts, entries = entries.len(),
                    "audit batch not written; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(
                    error = %e, attempts, entries = entries.len(),
                    "audit batch not written; giving up"
                );
                return Err(AuditError::Write {
                    attempts,
                    reason: e.to_string(),
                });
            }
        }
    }
}
