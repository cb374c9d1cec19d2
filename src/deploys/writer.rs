//! [`EventWriter`]: the one task that writes deploy events, in batches. Request handlers hand it
//! an event and wait for its outcome; the writer takes whatever is queued (up to
//! [`EventWriterOptions::max_batch`]), stores it in one transaction
//! ([`Store::record_events`]) and only then answers every waiter. So each event is still answered
//! only after it is durably committed, while 32 concurrent senders cost one commit per batch
//! instead of one per event, and SQLite's single write lock is never fought over by idp's own
//! connections.
//!
//! Guarantees kept from one transaction per event:
//! - idempotency by id: an id seen before, or earlier in the same batch, is a duplicate
//!   ([`EventOutcome::Duplicate`]);
//! - ordering: a batch is folded in event-time order (stable, so arrival order breaks ties), the
//!   order one-at-a-time delivery in time order would give; the fold itself places late events by
//!   their time ([`super::history`]);
//! - failure isolation: when a batch fails, each of its events is tried again alone, so one event
//!   the database refuses fails only its own request.
//!
//! The queue is bounded ([`EventWriterOptions::capacity`]); a sender waits for room, which holds
//! back new requests while the database is slow instead of growing memory.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{DeployEvent, EventOutcome};
use crate::store::{Store, StoreError};

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The writer task is gone (the runtime is shutting down).
    #[error("the event writer has stopped")]
    Closed,
    /// The database refused the event (alone, after its batch failed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tuning of the writer. The defaults suit production.
#[derive(Debug, Clone)]
pub struct EventWriterOptions {
    /// Events the queue holds before senders wait. Default 4,096.
    pub capacity: usize,
    /// Most events written in one transaction. Default 256.
    pub max_batch: usize,
    /// Pause after writing a batch that was not full, so that events arriving meanwhile are
    /// written together. Default 0: events that arrive while a batch commits already form the
    /// next batch, and with 32 senders in a closed loop any pause measured slower (see
    /// `docs/benchmarks.md`).
    pub linger: Duration,
}

impl Default for EventWriterOptions {
    fn default() -> Self {
        Self {
            capacity: 4_096,
            max_batch: 256,
            linger: Duration::ZERO,
        }
    }
}

type Waiter = oneshot::Sender<Result<EventOutcome, RecordError>>;

/// A cheap, cloneable handle on the event writer task.
#[derive(Debug, Clone)]
pub struct EventWriter {
    tx: mpsc::Sender<(DeployEvent, Waiter)>,
}

impl EventWriter {
    /// Starts the writer task on `store` with the default options.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(store: Store) -> Self {
        Self::start_with(store, EventWriterOptions::default())
    }

    /// Starts the writer task with these options, on a connection of its own
    /// ([`Store::for_writer`]). The task ends when every handle is dropped, after writing what
    /// was queued.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start_with(store: Store, options: EventWriterOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        tokio::spawn(writer(store.for_writer(), rx, options));
        Self { tx }
    }

    /// Queues `event` and waits until it is committed (or refused).
    ///
    /// # Errors
    /// [`RecordError::Store`] when the database refused it; [`RecordError::Closed`] when the
    /// writer is gone.
    pub async fn record(&self, event: DeployEvent) -> Result<EventOutcome, RecordError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, done))
            .await
            .map_err(|_| RecordError::Closed)?;
        wait.await.unwrap_or(Err(RecordError::Closed))
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<(DeployEvent, Waiter)>,
    options: EventWriterOptions,
) {
    let max_batch = options.max_batch.max(1);
    let mut inbox = Vec::with_capacity(max_batch);
    // Under load a batch fills while the previous one commits; when idle an event is written at
    // once. After a batch that was not full the writer lingers a moment so that a steady trickle
    // is written in batches rather than one commit per event.
    while rx.recv_many(&mut inbox, max_batch).await > 0 {
        let full = inbox.len() >= max_batch;
        inbox.sort_by_key(|(event, _)| event.time);
        let (events, waiters): (Vec<DeployEvent>, Vec<Waiter>) = inbox.drain(..).unzip();
        let started = std::time::Instant::now();
        match store.record_events(&events).await {
            Ok(outcomes) => {
                tracing::trace!(
                    events = events.len(),
                    micros = started.elapsed().as_micros(),
                    "event batch committed"
                );
                for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                    let _ = waiter.send(Ok(outcome));
                }
            }
            Err(e) if events.len() == 1 => {
                if let Some(waiter) = waiters.into_iter().next() {
                    let _ = waiter.send(Err(e.into()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = events.len(), "an event batch failed; writing its events one by one");
                for (event, waiter) in events.iter().zip(waiters) {
                    let result = store.record_event(event).await.map_err(RecordError::from);
                    let _ = waiter.send(result);
                }
            }
        }
        if !full && !options.linger.is_zero() {
            tokio::time::sleep(options.linger).await;
        }
    }
}
