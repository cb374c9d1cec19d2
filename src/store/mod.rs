//! Persistence through sqlx: SQLite (the embedded default, a file created on first use) or
//! PostgreSQL (for several replicas sharing one database). All SQL of idp lives under this module.

/// Runs the same expression against whichever pool the store holds (defined before the
/// submodules so each of them can use it).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

mod audit;
mod catalog;
mod deliveries;
mod deploys;
mod digests;
mod identity;
mod runs;
mod scorecards;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::audit_lock_key;
pub use catalog::{SyncOutcome, catalog_lock_key};
pub use identity::CachedSlackUser;
pub use scorecards::{
    CheckChange, CheckState, DailyScore, EntityChanges, EntityState, RecordOutcome,
};

/// The page cache of [`Store::for_writer`]'s SQLite connection, in KiB (SQLite's default is
/// 2,000).
pub const WRITER_CACHE_KIB: u32 = 65_536;
/// Pages in the WAL after which a commit of [`Store::for_writer`]'s SQLite connection
/// checkpoints (SQLite's default is 1,000; 4 KiB pages).
pub const WRITER_WAL_AUTOCHECKPOINT: u32 = 8_000;

/// Errors from the store. The message names what was being done; the cause is the driver's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("DATABASE_URL must start with sqlite:, postgres: or postgresql: (got scheme `{0}`)")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed while {doing}: {source}")]
    Query {
        /// What idp was doing.
        doing: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row could not be read back.
    #[error("stored row `{entity_ref}` is unreadable: {reason}")]
    Corrupt {
        /// The row's key.
        entity_ref: String,
        /// Why.
        reason: String,
    },
}

pub(crate) fn q(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { doing, source }
}

/// A connection pool to one of the two supported databases.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite, one file (WAL mode).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Store {
    /// Opens the database named by a URL: `sqlite://path` (created if missing), `sqlite::memory:`,
    /// or `postgres://user@host:port/db`. `pg_schema`, when given, is created if missing and made
    /// the search path of every connection (tests use it to keep runs apart).
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] or [`StoreError::Connect`].
    pub async fn connect(url: &str, pg_schema: Option<&str>) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(StoreError::Connect)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Statement journals and sorts in memory, not in temp files: a multi-row
                    // insert of a batch of events journals its pages for statement rollback.
                    .pragma("temp_store", "memory");
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(StoreError::Connect)?;
                Ok(Self::Sqlite(pool))
            }
            "postgres" | "postgresql" => {
                let mut options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
                if let Some(schema) = pg_schema {
                    let admin = PgPoolOptions::new()
                        .max_connections(1)
                        .connect_with(options.clone())
                        .await
                        .map_err(StoreError::Connect)?;
                    sqlx::query(&format!(
                        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                        schema.replace('"', "")
                    ))
                    .execute(&admin)
                    .await
                    .map_err(q("creating the schema"))?;
                    admin.close().await;
                    options = options.options([("search_path", schema)]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .map_err(StoreError::Connect)?;
                Ok(Self::Postgres(pool))
            }
            other => Err(StoreError::UnsupportedUrl(other.to_owned())),
        }
    }

    /// A store for one long-lived writer task (the deploy event writer): on SQLite a pool of its
    /// own holding one connection to the same database, opened on first use, so the writer never
    /// queues behind readers for a connection and its page cache is not discarded each time
    /// another pooled connection wrote. That connection has a larger page cache
    /// ([`WRITER_CACHE_KIB`]) and statement cache (batches of different sizes are different
    /// statements), and checkpoints the WAL less often ([`WRITER_WAL_AUTOCHECKPOINT`] pages):
    /// a checkpoint runs inside the commit that triggers it, and its fsyncs stall every event
    /// waiting on that batch. On PostgreSQL the same pool.
    pub fn for_writer(&self) -> Self {
        match self {
            Self::Sqlite(pool) => {
                let options = (*pool.connect_options())
                    .clone()
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
                    .pragma("wal_autocheckpoint", WRITER_WAL_AUTOCHECKPOINT.to_string())
                    .statement_cache_capacity(256);
                Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_lazy_with(options),
                )
            }
            Self::Postgres(_) => self.clone(),
        }
    }

    /// Applies the forward-only migrations of `migrations/sqlite` or `migrations/postgres`.
    ///
    /// # Errors
    /// [`StoreError::Migrate`].
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite")
                .run(pool)
                .await
                .map_err(StoreError::Migrate),
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres")
                .run(pool)
                .await
                .map_err(StoreError::Migrate),
        }
    }

    /// Checks that the database answers (`SELECT 1`), for `/readyz`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
        }
        .map_err(q("checking the database"))
    }

    /// A short name of the backend for logs: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
