//! All SQL lives here: one small function per query, lowercase SQL, the caller owning the
//! transaction. Tenant-owned data is reached only through functions that take a `TenantId`.
//!
//! One code path serves SQLite and PostgreSQL through sqlx's `Any` driver. The SQL is the
//! portable subset of both: `$1`-style parameters numbered in order of first use (SQLite binds
//! `$N` by number too), `on conflict … do nothing`, `returning`, partial indexes, bigint
//! milliseconds for time. Engine-specific SQL appears only where it must differ and is marked
//! with [`Engine`] (e.g. `for update skip locked` when claiming jobs).
//!
//! Transactions come from [`Db::begin`] only. On SQLite it starts them with `begin immediate`:
//! the write lock is taken at the start, waiting for it through the busy timeout. A deferred
//! transaction (SQLite's default) that reads and then writes, while another connection commits
//! in between, fails at once with "database is locked" instead of waiting (its snapshot is
//! stale), so every function that read before writing in its caller's transaction was a bug
//! waiting for load; with `begin immediate` the order of statements no longer matters. Every
//! transaction in bellhop writes, so taking the lock first costs no concurrency: SQLite has one
//! writer at a time either way, and plain reads outside transactions never wait (WAL).
//! `tests/api/architecture.rs` checks that nothing else begins a transaction.
pub mod announcements;
pub mod auth;
pub mod billing;
pub mod bot_settings;
pub mod bots;
pub mod brand;
pub mod conversations;
pub mod files;
pub mod insight;
pub mod jobs;
pub mod keys;
pub mod pacing;
pub mod polling;
pub mod privacy;
pub mod processes;
pub mod retention;
pub mod rotation;
pub mod sources;
pub mod team;
pub mod telegram_server;
pub mod tenants;
pub mod updates;

use crate::config::DatabaseUrl;
use crate::domain::Secret;
use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub use sqlx::AnyConnection as Conn;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The database: a pool and which engine is behind it.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub engine: Engine,
    /// PostgreSQL's URL, for connections outside the pool: the job queue's LISTEN
    /// (`jobs::listen`) holds one of its own. `None` on SQLite.
    pub pg_url: Option<Secret>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    files::create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                // Customers' conversations: 0600 (SQLite gives its -wal and -shm files the
                // database file's mode).
                files::create_private_file(path).with_context(|| format!("creating the SQLite database {}", path.display()))?;
                files::warn_if_shared(path);
                let opts = AnyConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", path.display()))?;
                let pool = pool_options()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL: readers never block the writer. synchronous=FULL: a commit is on
                            // disk (fsync of the WAL) before it returns — "durable commits".
                            conn.execute("pragma journal_mode = wal").await?;
                            conn.execute("pragma synchronous = full").await?;
                            conn.execute("pragma busy_timeout = 10000").await?;
                            conn.execute("pragma foreign_keys = on").await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await
                    .with_context(|| format!("opening the SQLite database {}", path.display()))?;
                Ok(Db { pool, engine: Engine::Sqlite, pg_url: None })
            }
            DatabaseUrl::Postgres(url) => {
                let opts = AnyConnectOptions::from_str(url.expose()).context("parsing database_url")?;
                // One connection first, on its own: the pool retries an unreachable server until
                // its 30 s acquire timeout and then says only "pool timed out"; this says which
                // server, and why, within CONNECT_TIMEOUT.
                let at = postgres_address(url.expose());
                match tokio::time::timeout(CONNECT_TIMEOUT, <sqlx::AnyConnection as sqlx::Connection>::connect_with(&opts)).await {
                    Ok(Ok(conn)) => {
                        let _ = sqlx::Connection::close(conn).await;
                    }
                    // sqlx's error text does not include the URL, so the password stays out.
                    Ok(Err(e)) => return Err(anyhow::Error::new(e).context(format!("could not connect to PostgreSQL at {at} (database_url)"))),
                    Err(_) => anyhow::bail!("could not connect to PostgreSQL at {at} (database_url): no answer within {} seconds", CONNECT_TIMEOUT.as_secs()),
                }
                let pool = pool_options()
                    .max_connections(16)
                    .connect_with(opts)
                    .await
                    // sqlx's error text does not include the URL, so the password stays out.
                    .context("connecting to PostgreSQL (database_url)")?;
                Ok(Db { pool, engine: Engine::Postgres, pg_url: Some(url.clone()) })
            }
        }
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATOR,
            Engine::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Applies pending migrations for this engine.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator().run(&self.pool).await.context("applying database migrations")?;
        Ok(())
    }

    /// Applies the pending migrations older than version `before` only: a database as an
    /// earlier release left it, for testing a migration on real data. [`Db::migrate`] applies
    /// the rest later.
    pub async fn migrate_before(&self, before: i64) -> anyhow::Result<()> {
        let older: Vec<_> = self.migrator().iter().filter(|m| m.version < before).cloned().collect();
        let migrator = sqlx::migrate::Migrator { migrations: std::borrow::Cow::Owned(older), ..sqlx::migrate::Migrator::DEFAULT };
        migrator.run(&self.pool).await.context("applying the earlier database migrations")?;
        Ok(())
    }

    /// How many of this engine's migrations the database has not had yet.
    pub async fn pending_migrations(&self) -> anyhow::Result<usize> {
        let exists = match self.engine {
            Engine::Sqlite => "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'",
            Engine::Postgres => "select count(*) from information_schema.tables where table_name = '_sqlx_migrations' and table_schema = current_schema()",
        };
        let applied: Vec<i64> = if sqlx::query_scalar::<_, i64>(exists).fetch_one(&self.pool).await.context("reading the database's migrations")? > 0 {
            sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(&self.pool).await.context("reading the database's migrations")?
        } else {
            Vec::new()
        };
        Ok(self.migrator().iter().filter(|m| !applied.contains(&m.version)).count())
    }

    /// For the operator's commands other than `migrate`, `serve` and `demo`: they change nothing
    /// on a database that is not up to date (they used to migrate it on the way, unasked).
    pub async fn require_migrated(&self) -> anyhow::Result<()> {
        match self.pending_migrations().await? {
            0 => Ok(()),
            n => anyhow::bail!("the database needs `bellhop migrate` first ({n} migration{} pending); nothing was changed", if n == 1 { "" } else { "s" }),
        }
    }

    /// The versions of this engine's migrations, oldest first.
    pub fn migration_versions(&self) -> Vec<i64> {
        self.migrator().iter().map(|m| m.version).collect()
    }

    /// Starts a transaction that may write: on SQLite it holds the write lock from its first
    /// moment (`begin immediate`, see the module's comment), on PostgreSQL it is a plain `begin`.
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        self.begin_tx().await.context("starting a transaction")
    }

    /// [`Db::begin`] for storage's own functions, which return sqlx's errors.
    ///
    /// The `begin` runs in a task of its own, so it always runs to its end: sqlx's `begin` is not
    /// safe to stop halfway (a web request whose client went away is stopped wherever it waits).
    /// Stopped after the database began the transaction but before sqlx handed it over, it
    /// leaves the transaction open with nothing to end it — on SQLite holding the write lock
    /// (after `begin immediate`, while sqlx checks the transaction started), on PostgreSQL
    /// with sqlx not knowing (stopped while reading the answer to `BEGIN`). Here a caller that
    /// goes away just drops the finished transaction, which rolls it back. Costs a task spawn
    /// per transaction, no round trip. The pool's check (`pool_options`) is the last line of
    /// defence behind it.
    pub(crate) async fn begin_tx(&self) -> sqlx::Result<Tx> {
        let (pool, engine) = (self.pool.clone(), self.engine);
        let begun = tokio::spawn(async move {
            match engine {
                Engine::Sqlite => pool.begin_with("begin immediate").await,
                Engine::Postgres => pool.begin().await,
            }
        });
        match begun.await {
            Ok(tx) => tx,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only when the runtime itself is shutting down.
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }
}

/// How long a pooled connection may sit idle and still be handed out untested.
const TRUST_IDLE: Duration = Duration::from_secs(1);

/// How long the first connection to PostgreSQL may take at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `host:port` of a PostgreSQL URL (5432 when it names none), for messages: never the user or
/// the password.
fn postgres_address(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}:{}", u.host_str().unwrap_or("localhost"), u.port().unwrap_or(5432)),
        Err(_) => "the configured address".into(),
    }
}

/// The pool's settings for both engines. sqlx's default tests every connection with a round trip
/// before handing it out (`test_before_acquire`), which doubles the round trips of every query
/// outside a transaction — on a busy machine each one is a wake-up of the database process and
/// a wait for a core (its release is tested anyway, in the background, by sqlx). Here only a
/// connection idle for longer than [`TRUST_IDLE`] is tested: under load none is, and after a
/// quiet spell (when the database may have restarted) the test catches a dead connection as
/// before. A connection that dies while in use fails its query (the job retries, the webhook
/// answers 500 and Telegram sends again) and is dropped from the pool when released.
///
/// A connection that comes back still inside a transaction is closed, not pooled: closing it
/// rolls the transaction back (SQLite on close, PostgreSQL when the session ends). Pooled, it
/// would wedge everything — on SQLite its transaction holds the write lock, so every other
/// write fails with "database is locked" after the busy timeout, and whoever gets the
/// connection fails at once ("begin_with at non-zero transaction depth"); on PostgreSQL the
/// next borrowers' writes would run inside it and never be committed. It happens when work is
/// stopped halfway through sqlx's `begin` (see [`Db::begin`]). The check reads sqlx's own count
/// of the connection's open transactions: no round trip, on release and again on acquire (on
/// release after a ping when a `Tx` was dropped without commit, so that its rollback has run).
fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if left_in_transaction(conn) {
                    return Ok(false);
                }
                if meta.idle_for > TRUST_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_release(|conn, _| {
            Box::pin(async move {
                if sqlx::Connection::is_in_transaction(conn) {
                    // A `Tx` dropped without commit has queued its rollback; on SQLite the
                    // connection's thread counts it done only once it has run. The ping runs
                    // after it: one round trip, only on this path.
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(!left_in_transaction(conn))
            })
        })
}

/// Whether a connection outside any `Tx` is still inside a transaction (see [`pool_options`]).
fn left_in_transaction(conn: &sqlx::AnyConnection) -> bool {
    let open = sqlx::Connection::is_in_transaction(conn);
    if open {
        tracing::warn!("a database connection came back inside a transaction (the work using it was stopped halfway); closing it, which rolls the transaction back");
    }
    open
}

/// Now, in Unix milliseconds: the time unit of every table.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    /// Both migration folders must describe the same tables and columns.
    #[test]
    fn sqlite_and_postgres_migrations_define_the_same_columns() {
        fn columns(sql: &str) -> Vec<String> {
            let mut out = Vec::new();
            let mut table = String::new();
            for line in sql.lines().map(str::trim) {
                if let Some(rest) = line.strip_prefix("create table ") {
                    table = rest.split_whitespace().next().unwrap_or_default().to_owned();
                } else if line.starts_with(')') {
                    table.clear();
                } else if !table.is_empty() && !line.starts_with("--") && !line.starts_with("unique") && !line.is_empty() {
                    out.push(format!("{table}.{}", line.split_whitespace().next().unwrap_or_default()));
                }
            }
            out
        }
        for entry in std::fs::read_dir("migrations/sqlite").unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            let pg = std::fs::read_to_string(std::path::Path::new("migrations/postgres").join(name))
                .unwrap_or_else(|_| panic!("{name:?} has no PostgreSQL twin"));
            assert_eq!(columns(&std::fs::read_to_string(&path).unwrap()), columns(&pg), "{name:?}");
        }
    }
}
