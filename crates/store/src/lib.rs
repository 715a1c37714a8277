//! Storage: one `Store` over SQLite (default, a file in the data folder, WAL) or PostgreSQL, with
//! migrations per backend and the audit chain.
//!
//! Every state change goes through a single writer that applies it together with its audit record in
//! one transaction; the writer commits several requests' transactions at once (group commit, each
//! request in its own savepoint), so throughput never comes from loosening durability.

mod audit;
mod cache;
mod changes;
mod lifecycle;
mod operations;
mod reads;
mod recertification;
mod support;
mod systems;
mod training;
mod tx;
mod writer;

use std::time::Duration;

use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use tokio::sync::{mpsc, oneshot};

pub use audit::{AuditEntry, AuditRecord, ChainReport, GENESIS_HASH, record_hash};
pub use changes::*;
pub use lifecycle::*;
pub use operations::OperationsChange;
pub use reads::*;
pub use recertification::*;
pub use support::*;
pub use systems::*;
pub use training::*;

/// The id of the request a piece of work belongs to (issue 15): set by the HTTP layer around each
/// request, read wherever a record is written, so that a log line, an audit record and a problem
/// answer of one request can be matched.
pub mod request {
    tokio::task_local! {
        static REQUEST_ID: String;
    }

    /// Runs `f` as part of request `id`.
    pub async fn scope<F: std::future::Future>(id: String, f: F) -> F::Output {
        REQUEST_ID.scope(id, f).await
    }

    /// The current request's id, outside any request none.
    pub fn current() -> Option<String> {
        REQUEST_ID.try_with(Clone::clone).ok()
    }
}
pub use tx::ChangeOutcome;
pub use writer::{Change, NewApplication, NewGrant, NewLine, NewSession, NotGranted, ReviewedLine};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A refusal the store finds while applying a change: the request conflicts with current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    ChallengeUsed,
    OrganizationExists {
        bin: String,
    },
    OrganizationUnknown {
        bin: String,
    },
    WrongState {
        current: String,
        expected: &'static str,
    },
    LineDecided {
        line: i64,
    },
    NotFound,
    /// The same HR event was received before (by its id or its content): it has one effect.
    DuplicateEvent {
        id: i64,
    },
    /// The same signed document (by its content) was accepted before, as record `id`.
    DuplicateDocument {
        id: i64,
    },
    /// A lesson version loaded before with another text: a changed lesson is a new version.
    LessonChangedInPlace {
        id: String,
        version: i64,
    },
    AlreadyEnrolled,
    SessionFull {
        capacity: i64,
    },
    /// Attendance names a person not enrolled in the session.
    NotEnrolled {
        iin: String,
    },
}

impl Conflict {
    pub fn slug(&self) -> &'static str {
        match self {
            Conflict::ChallengeUsed => "challenge-used",
            Conflict::OrganizationExists { .. } => "organization-exists",
            Conflict::OrganizationUnknown { .. } => "organization-unknown",
            Conflict::WrongState { .. } => "wrong-state",
            Conflict::LineDecided { .. } => "line-decided",
            Conflict::NotFound => "not-found",
            Conflict::DuplicateEvent { .. } => "duplicate-event",
            Conflict::DuplicateDocument { .. } => "duplicate-document",
            Conflict::LessonChangedInPlace { .. } => "lesson-changed-in-place",
            Conflict::AlreadyEnrolled => "already-enrolled",
            Conflict::SessionFull { .. } => "session-full",
            Conflict::NotEnrolled { .. } => "not-enrolled",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(String),
    #[error("migration: {0}")]
    Migration(String),
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("the audit record could not be written; the change was rolled back: {0}")]
    Audit(String),
    #[error("the writer has stopped")]
    WriterGone,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Issue 21: PostgreSQL advisory-lock keys ("qolj" and a number). The chain lock is taken for each
/// writer transaction, so the instances on one database append one chain; the worker lease is held
/// by one instance's connection for as long as it lives.
pub(crate) const CHAIN_LOCK: i64 = 0x716f_6c6a_0001;
const WORKER_LEASE_LOCK: i64 = 0x716f_6c6a_0002;

/// The right to run the background worker (issue 21). On PostgreSQL a session advisory lock held on a
/// connection of its own: the database releases it when that connection ends — the holder stopped,
/// was killed, or lost the network — and another instance takes it at its next try. On SQLite one
/// process owns the file, so the lease is always its own.
pub struct WorkerLease {
    conn: Option<sqlx::AnyConnection>,
}

impl WorkerLease {
    /// Whether the lease still holds: its connection answers. A lease found lost is given up (the
    /// database has released the lock or will when it notices), and the worker must take it again.
    pub async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return true;
        };
        let alive = sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok();
        if !alive {
            self.conn = None;
        }
        alive
    }
}

pub(crate) struct Job {
    change: Change,
    audit: AuditEntry,
    touch_session: Option<(String, i64)>,
    reply: oneshot::Sender<Result<ChangeOutcome>>,
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    pool: AnyPool,
    writer: mpsc::Sender<Job>,
    /// SQLite only: the rows each signed-in request reads (see `cache`).
    cache: Option<std::sync::Arc<cache::ReadCache>>,
    /// SQLite only: how the server hears of other processes' commits to its file (see `cache`).
    marker: Option<std::sync::Arc<cache::ChangeMarker>>,
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Each statement on its own, so that none is skipped: WAL, durable commits, foreign keys.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// The file of an SQLite URL (`sqlite://path?mode=rwc`); none for PostgreSQL or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// The SQLite URL of a database file in the data folder.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

impl Store {
    pub fn backend_of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    async fn connect_one(url: &str, backend: Backend) -> Result<sqlx::AnyConnection> {
        sqlx::any::install_default_drivers();
        let opts: AnyConnectOptions = url.parse()?;
        let mut conn = opts
            .log_statements(tracing::log::LevelFilter::Trace)
            .connect()
            .await?;
        if backend == Backend::Sqlite {
            for pragma in SQLITE_PRAGMAS {
                conn.execute(pragma).await?;
            }
        }
        Ok(conn)
    }

    /// Runs the backend's migrations.
    pub async fn migrate(url: &str) -> Result<()> {
        let backend = Self::backend_of(url);
        let mut conn = Self::connect_one(url, backend).await?;
        let migrator = match backend {
            Backend::Sqlite => &MIGRATOR_SQLITE,
            Backend::Postgres => &MIGRATOR_POSTGRES,
        };
        migrator
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(())
    }

    /// Opens the store: migrates, starts the single writer, opens the read pool.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Self::backend_of(url);
        Self::migrate(url).await?;
        let writer_conn = Self::connect_one(url, backend).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let (tx, rx) = mpsc::channel(1024);
        let cache = (backend == Backend::Sqlite).then(std::sync::Arc::default);
        let marker = sqlite_file(url).map(|f| std::sync::Arc::new(cache::ChangeMarker::beside(&f)));
        tokio::spawn(writer::run(
            writer_conn,
            backend,
            rx,
            cache.clone(),
            marker.clone(),
        ));
        Ok(Store {
            backend,
            pool,
            writer: tx,
            cache,
            marker,
        })
    }

    /// This process serves the database (SQLite): its read cache starts over whenever another process
    /// — a command beside the server — commits a change to the file.
    pub fn serve(&self) {
        if let Some(m) = &self.marker {
            m.serve();
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Raw access to the database (tests, tools). Whoever takes it may write past the writer, so the
    /// read cache starts over.
    pub fn pool(&self) -> &AnyPool {
        if let Some(c) = &self.cache {
            c.changed();
        }
        &self.pool
    }

    /// Applies `change` and appends `audit` in one transaction; returns once both are durable.
    /// A conflict is audited as a refusal and returned as `StoreError::Conflict`.
    pub async fn commit(&self, change: Change, audit: AuditEntry) -> Result<ChangeOutcome> {
        self.commit_touching(change, audit, None).await
    }

    /// As `commit`, also recording activity on a session (for the idle timeout).
    pub async fn commit_touching(
        &self,
        change: Change,
        mut audit: AuditEntry,
        touch_session: Option<(String, i64)>,
    ) -> Result<ChangeOutcome> {
        // The request this record belongs to (the HTTP layer's id, in its logs and its problem
        // answers): kept in the record's details, and so in its hash.
        if let Some(id) = request::current() {
            match &mut audit.details {
                serde_json::Value::Object(m) => {
                    m.entry("request_id")
                        .or_insert(serde_json::Value::String(id));
                }
                serde_json::Value::Null => {
                    audit.details = serde_json::json!({"request_id": id});
                }
                _ => {}
            }
        }
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job {
                change,
                audit,
                touch_session,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Appends an audit record with no other change (reads, refusals).
    pub async fn audit(&self, audit: AuditEntry) -> Result<()> {
        self.commit(Change::None, audit).await.map(|_| ())
    }

    /// Takes the worker lease if no other instance holds it (issue 21): `None` when another has it.
    pub async fn try_worker_lease(&self) -> Result<Option<WorkerLease>> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(WorkerLease { conn: None }));
        }
        // A connection of its own, out of the pool: the lock lives exactly as long as it does.
        let mut conn = self.pool.acquire().await?.detach();
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(WORKER_LEASE_LOCK)
            .fetch_one(&mut conn)
            .await?;
        Ok(taken.then_some(WorkerLease { conn: Some(conn) }))
    }

    /// SQLite: a consistent copy of the whole database into a new file, while the writer goes on
    /// (`VACUUM INTO` reads one snapshot). Issue 21's backup.
    pub async fn copy_sqlite_into(&self, target: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Database("VACUUM INTO is SQLite's".into()));
        }
        let path = target.to_string_lossy().replace('\'', "''");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{path}'")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The chain's last record: its sequence number and hash (0 and the genesis hash when empty).
    pub async fn chain_head(&self) -> Result<(i64, String)> {
        Ok(audit::load_head(&self.pool).await?)
    }

    /// The hash of record `seq`, if the chain has it.
    pub async fn audit_hash_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Verifies the whole audit chain; the report names the first broken link.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        audit::verify_chain(&self.pool).await
    }
}
