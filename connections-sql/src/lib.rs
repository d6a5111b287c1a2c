//! SQLite, PostgreSQL and MySQL/MariaDB, each on sqlx's native driver.
//!
//! [`SqlConnection`] is `type = "sql"`; [`Query`] a statement on it; [`Value`]
//! and [`Table`] the parameters and rows it exchanges; [`Pool`] and
//! [`Transaction`] the native pool and transaction underneath.
//!
//! The types [`Value`] holds are re-exported in [`types`], so their versions
//! always match sqlx's.

use std::any::{Any, TypeId};
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::pool::PoolOptions;
use sqlx::{ConnectOptions, Database, SqlSafeStr};

pub use self::describe::Description;
use self::options::{Dialect, SqlOptions};
use self::pool::Tx;
pub use self::pool::{Pool, Transaction};
use self::query::Statement;
pub use self::query::{Cached, Fresh, FromAnyRow, Query, TxQuery};
use self::transient::is_transient;
pub use self::value::{SqlDatabase, Table, Value};
use connections_core::author::{Redacted, Redactor, ResetReason};
use connections_core::{BaseConnection, BoxError, Config, Connection, Diagnostic, Error};

/// The types [`Value`] holds, from the crates sqlx decodes them with:
/// `bigdecimal`, `chrono` and `uuid` (JSON is `serde_json::Value`: add
/// `serde_json = "1"` to build one).
///
/// The types alone, not the crates, and not `serde_json::Value`: re-exporting
/// those makes the compiler write every `String` in its messages to users as
/// `std::string::String` (its short names must be unambiguous).
///
/// # Examples
///
/// ```
/// use connections_sql::Value;
/// use connections_sql::types::{BigDecimal, NaiveDate, Uuid};
///
/// let day = Value::from(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
/// let price = Value::from("12.50".parse::<BigDecimal>().unwrap());
/// assert_eq!((day.to_string(), price.to_string()), ("2024-02-29".to_owned(), "12.50".to_owned()));
/// assert_eq!(Value::from(Uuid::nil()).to_string().len(), 36);
/// ```
pub mod types {
    pub use bigdecimal::BigDecimal;
    pub use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    pub use uuid::Uuid;
}

mod describe;
mod named;
mod options;
mod pool;
mod query;
mod settings;
mod transient;
mod value;

/// Attempts in all for a statement that fails with a transient error, as the reference.
const ATTEMPTS: u32 = 3;

/// Moves to a newer pool one call may make (resets and reloads in a row),
/// beyond which a replaced pool counts as a failed attempt.
const MAX_MOVES: u32 = 8;

/// A SQL database: SQLite, PostgreSQL or MySQL/MariaDB, through sqlx's
/// native pool for it.
///
/// Streamlit's `type = "sql"` connection. Configure it as Streamlit does,
/// with a `url` (SQLAlchemy's forms work: `postgresql+psycopg2://...`,
/// `sqlite:///app.db`) or the keys `dialect`, `host`, `port`, `username`,
/// `password`, `database` and `query`; driver parameters (TLS above all) in
/// `create_engine_kwargs.connect_args` or the URL's query; pool options
/// (`max_connections`, `min_connections`, `acquire_timeout`, `idle_timeout`,
/// `max_lifetime`, `test_before_acquire`, or SQLAlchemy's `pool_size`,
/// `pool_timeout`, `pool_recycle`, `pool_pre_ping`, also inside
/// `create_engine_kwargs`); `connect_timeout` (seconds, default 5) bounds one
/// connect attempt, `query_timeout` (seconds, default 30 on a server, none
/// on SQLite) one statement with its wait for a session (see
/// [`Query::timeout`]), `retry_wait` (seconds, default 1) is the wait between
/// retries. Call-site kwargs override the secrets key by key.
/// [`describe`](SqlConnection::describe) shows what all that resolves to.
///
/// It is async (`instance().await` gives the [`Pool`]) and runs on tokio, as
/// sqlx's `runtime-tokio` does.
///
/// * [`query`](SqlConnection::query): parameters bound, never interpolated
///   (`:name` on every database, or the database's own placeholders); rows as
///   your `sqlx::FromRow` type ([`FromAnyRow`], or one database's with
///   [`fetch_all_on`](Query::fetch_all_on)) or as a [`Table`] of [`Value`]s,
///   which decode every common column type; an optional result cache
///   ([`ttl`](Query::ttl), [`cache_forever`](Query::cache_forever)).
/// * Transient errors (I/O, a closed or killed session, a pool timeout, a
///   server shutting down) reset the connection and retry, 3 attempts in
///   all, `retry_wait` apart. Other errors (syntax, constraint, decode, a
///   malformed request) fail at once, with no reset: retrying them cannot
///   succeed, and a reset would drop every healthy pooled session.
/// * [`execute`](Query::execute) for writes, [`begin`](SqlConnection::begin)
///   for transactions, [`pool`](SqlConnection::pool) for everything else
///   sqlx does (Streamlit's `session` and `engine`).
///
/// A pool retired by a reset, a reload or an eviction is closed with
/// `pool.close().await` (each session says goodbye to the server) once no
/// `Arc<Pool>` from it is left, on the registry's
/// [`closer`](connections_core::Registry::closer) or in its
/// [`shutdown`](connections_core::Registry::shutdown); with neither, it is dropped, as
/// before. A transaction still open on it finishes first. Keep the
/// `Arc<Pool>` that [`pool`](SqlConnection::pool) returns rather than a
/// clone of the pool inside it: only the `Arc` counts as a handle.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
/// use connections_sql::SqlConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = Registry::builder()
///     .secrets_toml(".streamlit/secrets.toml", "[connections.sql]\nurl = 'sqlite::memory:'")
///     .build();
/// let db = registry.connection::<SqlConnection>("sql")?;
/// db.query("CREATE TABLE pets (name TEXT, age INTEGER)").execute().await?;
/// db.query("INSERT INTO pets VALUES (:name, :age)").param("name", "Rex").param("age", 3).execute().await?;
///
/// #[derive(sqlx::FromRow)]
/// struct Pet { name: String, age: i64 }
/// let pets: Vec<Pet> = db.query("SELECT name, age FROM pets WHERE age > :min").param("min", 1).fetch_all().await?;
/// assert_eq!((pets[0].name.as_str(), pets[0].age), ("Rex", 3));
///
/// let table = db.query("SELECT name, age FROM pets").fetch_table().await?;
/// assert_eq!(table.columns(), ["name", "age"]);
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Connection)]
// `check_resets = false`: sqlx's pool replaces broken sessions itself, and
// a transient error already resets the pool before its retry.
// `settings`: the keys, checked before a connect and in the secrets schema;
// `diagnose`: what a schema cannot say (which keys a URL or dialect needs,
// driver parameters, TLS); `block_on`: sqlx needs a tokio runtime wherever it connects.
#[connection(
    type_name = "sql",
    async,
    check_resets = false,
    settings = settings::SqlSettings,
    diagnose = SqlConnection::diagnose,
    block_on = block_on
)]
pub struct SqlConnection {
    base: BaseConnection<Pool>,
    state: State,
}

/// What a `SqlConnection` keeps besides its pool; survives `reset()`.
#[derive(Default)]
struct State {
    /// The parsed settings the current pool was built from (the latest
    /// successful parse: a secrets reload may change the dialect or `retry_wait`).
    settings: Mutex<Option<Settings>>,
    /// The result cache (`ttl`, `cache_forever`). Held for a lookup or an
    /// insert, never across a fetch.
    cache: Mutex<ResultCache>,
}

/// The cached rows, and when the ones with a `ttl` expire, soonest first.
#[derive(Default)]
struct ResultCache {
    entries: hashbrown::HashMap<CacheKey, CacheEntry>,
    /// One item per insert with a `ttl`; an item whose entry was replaced
    /// since (a later expiry) is dropped when it comes up.
    expiry: BinaryHeap<Expiry>,
    /// Orders expiries that fall on the same instant.
    inserts: u64,
}

impl ResultCache {
    /// Removes the expired entries: only those whose time has come are
    /// looked at, O(log n) each, where a `retain` visited every entry on
    /// every miss.
    fn drop_expired(&mut self, now: Instant) {
        while self.expiry.peek().is_some_and(|next| next.at <= now) {
            let Some(Expiry { at, key, .. }) = self.expiry.pop() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|entry| entry.expires == Some(at)) {
                self.entries.remove(&key);
            }
        }
    }

    fn insert(&mut self, key: CacheKey, entry: CacheEntry) {
        if let Some(at) = entry.expires {
            self.inserts += 1;
            self.expiry.push(Expiry {
                at,
                seq: self.inserts,
                key: key.clone(),
            });
        }
        self.entries.insert(key, entry);
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.expiry.clear();
    }
}

/// When the entry for `key` inserted `seq`-th expires; the heap's top is the soonest.
struct Expiry {
    at: Instant,
    seq: u64,
    key: CacheKey,
}

impl PartialEq for Expiry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Expiry {}

impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expiry {
    /// Reversed, so that `BinaryHeap`, a max-heap, keeps the soonest on top.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Clone, Copy)]
struct Settings {
    dialect: Dialect,
    retry_wait: Duration,
    /// A statement's bound, its session's acquire included.
    query_timeout: Option<Duration>,
    /// A hash of the URL the pool connects to, to tell a new database from a reconnect.
    url_hash: u64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    /// The database the rows were read from (a hash of its URL): a reload that points the connection elsewhere
    /// never gets the old database's rows, even from a fetch that was
    /// running across the change.
    database: u64,
    sql: String,
    params: Vec<Value>,
    /// The row type, or `Table`'s.
    rows: TypeId,
}

/// A [`CacheKey`] of borrowed parts, so a hit allocates nothing; it hashes
/// as the key does (the derive hashes fields in order, a `String` as its `str`
/// and a `Vec` as its slice).
#[derive(Hash)]
struct KeyRef<'a> {
    database: u64,
    sql: &'a str,
    params: &'a [Value],
    rows: TypeId,
}

impl hashbrown::Equivalent<CacheKey> for KeyRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        self.database == key.database && self.rows == key.rows && self.sql == key.sql && self.params == key.params
    }
}

struct CacheEntry {
    /// `None`: kept until `clear_cache`.
    expires: Option<Instant>,
    /// An `Arc<R>` for the row type `R` the key names.
    rows: Box<dyn Any + Send + Sync>,
}

impl CacheEntry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }
}

/// Drives a future on a current-thread tokio runtime of its own: how the
/// doctor's `--connect` connects and checks a `SqlConnection` where no
/// runtime runs (sqlx's pools need tokio).
fn block_on(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future);
    Ok(())
}

/// The sqlx error behind a failed call of a [`SqlConnection`].
///
/// Its [`Error::Operation`] shows the database's message redacted; this
/// reaches the sqlx error itself, e.g. to test
/// `as_database_error().is_some_and(|e| e.is_unique_violation())`.
///
/// # Examples
///
/// ```
/// use connections_core::{Config, Connection};
/// use connections_sql::{SqlConnection, SqlErrorExt as _};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let db = SqlConnection::from_config("e", Config::from_toml("e", "url = 'sqlite::memory:'").unwrap());
/// let err = db.query("SELEC 1").execute().await.unwrap_err();
/// assert!(err.sql().and_then(|e| e.as_database_error()).is_some());
/// # });
/// ```
pub trait SqlErrorExt {
    /// The sqlx error behind an [`Error::Operation`] of a `SqlConnection`,
    /// if this is one; see [`SqlErrorExt`].
    fn sql(&self) -> Option<&sqlx::Error>;
}

impl SqlErrorExt for Error {
    fn sql(&self) -> Option<&sqlx::Error> {
        self.operation_cause()
            .and_then(|cause| cause.downcast_ref::<sqlx::Error>())
    }
}

/// How long [`Registry::check`](connections_core::Registry::check) waits for a
/// `SqlConnection`'s `SELECT 1`, its connect included.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

impl SqlConnection {
    /// What can be told about a `sql` section without connecting, for
    /// [`Registry::diagnostics`](connections_core::Registry::diagnostics) and
    /// the doctor: unknown and near-miss keys, ignored options (the warnings a
    /// connect would log), and the error a connect would fail with first.
    fn diagnose(config: &Config) -> Vec<Diagnostic> {
        let mut notes = Vec::new();
        let outcome = options::parse_noting(config, &mut notes).and_then(|options| {
            match options::tls_unavailable(config, &options.tls, cfg!(feature = "tls")) {
                Some(error) => Err(error),
                None => Ok(()),
            }
        });
        if let Err(error) = outcome {
            notes.push(Diagnostic::from_error(&error));
        }
        notes
    }

    /// The health check [`Registry::check`](connections_core::Registry::check) runs:
    /// `SELECT 1` on the pool (connecting first if need be), within
    /// [`CHECK_TIMEOUT`].
    async fn _check(&self) -> Result<(), BoxError> {
        match tokio::time::timeout(CHECK_TIMEOUT, self.query("SELECT 1").execute()).await {
            Ok(outcome) => outcome.map(drop).map_err(Into::into),
            Err(_) => Err(format!(
                "`SELECT 1` on connection `{}` did not answer within {} s",
                self.base.name(),
                CHECK_TIMEOUT.as_secs()
            )
            .into()),
        }
    }

    /// A reload that changes only the credentials (the password, in `url` or
    /// as the `password` key, or a driver parameter named like a credential,
    /// such as `query.password`; a cloud IAM token is one) keeps the pool and
    /// its sessions: the sessions it opens from now on log in with the new
    /// ones (sqlx's `set_connect_options`). Any other change resets.
    fn _reconfigure(&self, old: &Config, new: &Config) -> bool {
        let (Ok(before), Ok(after)) = (
            options::parse_noting(old, &mut Vec::new()),
            options::parse_noting(new, &mut Vec::new()),
        ) else {
            return false;
        };
        if !options::credentials_only(&before, &after) {
            return false;
        }
        // Not connected: the next connect reads the new configuration anyway.
        let Some(pool) = self.base.get() else { return true };
        match &*pool {
            Pool::Postgres(pool) => after.url.parse().map(|o| pool.set_connect_options(o)).is_ok(),
            Pool::MySql(pool) => after.url.parse().map(|o| pool.set_connect_options(o)).is_ok(),
            Pool::Sqlite(pool) => after.url.parse().map(|o| pool.set_connect_options(o)).is_ok(),
        }
    }

    async fn _connect(&self, config: &Config) -> Result<Pool, Error> {
        let options = options::parse(config)?;
        let settings = Settings {
            dialect: options.dialect,
            retry_wait: options.retry_wait,
            query_timeout: options.query_timeout,
            url_hash: {
                let mut hasher = std::hash::DefaultHasher::new();
                options.url.hash(&mut hasher);
                hasher.finish()
            },
        };
        *self.state.settings.lock().unwrap_or_else(PoisonError::into_inner) = Some(settings);
        if let Some(error) = options::tls_unavailable(config, &options.tls, cfg!(feature = "tls")) {
            return Err(error);
        }
        tracing::debug!(settings = %Description::new(&options), "connecting");
        Ok(match options.dialect {
            Dialect::Postgres => Pool::Postgres(self.open(&options).await?),
            Dialect::MySql => Pool::MySql(self.open(&options).await?),
            Dialect::Sqlite => Pool::Sqlite(self.open(&options).await?),
        })
    }

    /// A pool of `DB`'s native driver for `options`.
    async fn open<DB: Database>(&self, options: &SqlOptions) -> Result<sqlx::Pool<DB>, Error> {
        let connect_options: <DB::Connection as sqlx::Connection>::Options = options
            .url
            .parse()
            .map_err(|error| self.connect_error(options, error))?;
        if options.dialect == Dialect::Sqlite {
            // A local file: its errors come at once, and the pool keeps the first session.
            return pool_options(options)
                .connect_with(connect_options)
                .await
                .map_err(|error| self.connect_error(options, error));
        }
        // One attempt first, bounded by `connect_timeout`: its error is the
        // real cause (refused, not resolved, TLS, authentication, no such
        // database), where the pool would retry a refused connect until
        // `acquire_timeout` and then say only "pool timed out". Concurrent
        // callers share this attempt (one connect per generation), so they
        // all fail as fast. The session is closed, and the pool opens its own
        // on first use: one more handshake, on the cold path only.
        let attempt = connect_options.connect();
        let session = match options.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, attempt).await.unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within `connect_timeout` ({} s)", limit.as_secs_f64()),
                )))
            }),
            None => attempt.await,
        }
        .map_err(|error| self.connect_error(options, error))?;
        let _ = sqlx::Connection::close(session).await;
        Ok(pool_options(options).connect_lazy_with(connect_options))
    }

    /// A failed connect, with where it went and what to check.
    fn connect_error(&self, options: &SqlOptions, error: sqlx::Error) -> Error {
        let hint = connect_hint(options, &error);
        let mut error = self.sql_error("connect", 1, error);
        if let Error::Operation { message, .. } = &mut error {
            *message = format!(
                "could not connect to {} at {}: {message}{hint}",
                options.dialect.product(),
                options.endpoint()
            );
        }
        error
    }

    /// The close hook: a pool retired by a reset, a reload or an eviction
    /// says goodbye to the server on each of its sessions (once no query
    /// holds it) instead of cutting them off when it is dropped.
    async fn _close(pool: Pool) {
        pool.close().await;
    }

    /// A statement to run on this connection: bind its parameters, then
    /// [`fetch_all`](Query::fetch_all), [`fetch_table`](Query::fetch_table)
    /// or [`execute`](Query::execute).
    ///
    /// `sql` is a literal (`&'static str`) or, for SQL built at run time,
    /// wrapped in `sqlx::AssertSqlSafe` after checking it interpolates no
    /// input; values go through [`param`](Query::param) (`:name`, on every
    /// database) or [`bind`](Query::bind) (the database's own placeholders:
    /// `?` for SQLite and MySQL, `$1` for PostgreSQL).
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub fn query(&self, sql: impl SqlSafeStr) -> Query<'_> {
        Query::new(self, sql)
    }

    /// The sqlx pool (Streamlit's `engine`), connecting if needed: for
    /// anything else sqlx does (streams, prepared statements, `sqlx::query_as`).
    ///
    /// # Errors
    ///
    /// The connect's failure, as [`Connection::instance`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("mem", Config::from_toml("mem", "url = 'sqlite::memory:'")?);
    /// let pool = db.pool().await?;
    /// let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(pool.as_sqlite().unwrap()).await.unwrap();
    /// assert_eq!(one, 1);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn pool(&self) -> Result<Arc<Pool>, Error> {
        self.instance().await
    }

    /// Starts a transaction (Streamlit's `session`); it rolls back when
    /// dropped unless `commit()`ed. Transient errors while acquiring its
    /// session reset and retry, as for queries.
    ///
    /// # Errors
    ///
    /// [`Error::Operation`] if no session could be had.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("tx", Config::from_toml("tx", "url = 'sqlite::memory:'")?);
    /// db.query("CREATE TABLE t (x INTEGER)").execute().await?;
    /// let mut tx = db.begin().await?;
    /// tx.query("INSERT INTO t VALUES (:x)").param("x", 1).execute().await?;
    /// tx.rollback().await.unwrap();
    /// assert!(db.query("SELECT x FROM t").fetch_table().await?.is_empty());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn begin(&self) -> Result<Transaction, Error> {
        let tx = self
            .with_retry("begin", None, |pool| async move {
                Ok(match &*pool {
                    Pool::Postgres(p) => Tx::Postgres(query::while_current(self, &pool, p.begin()).await??),
                    Pool::MySql(p) => Tx::MySql(query::while_current(self, &pool, p.begin()).await??),
                    Pool::Sqlite(p) => Tx::Sqlite(query::while_current(self, &pool, p.begin()).await??),
                })
            })
            .await?;
        Ok(Transaction {
            tx,
            name: self.name().to_owned(),
            redactor: self.base().redactor(),
        })
    }

    /// Empties the result cache ([`Query::ttl`], [`Query::cache_forever`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// let db = SqlConnection::from_config("c", Config::from_toml("c", "url = 'sqlite::memory:'").unwrap());
    /// db.clear_cache();
    /// ```
    pub fn clear_cache(&self) {
        self.cache().clear();
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ResultCache> {
        self.state.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current_settings(&self) -> Option<Settings> {
        *self.state.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settings(&self) -> Settings {
        self.current_settings().unwrap_or(Settings {
            dialect: Dialect::Sqlite,
            retry_wait: Duration::from_secs(1),
            query_timeout: None,
            url_hash: 0,
        })
    }

    /// The database's dialect: `"sqlite"`, `"postgresql"` or `"mysql"`;
    /// `None` before the first connect.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("d", Config::from_toml("d", "url = 'sqlite::memory:'")?);
    /// assert_eq!(db.dialect(), None);
    /// db.pool().await?;
    /// assert_eq!(db.dialect(), Some("sqlite"));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn dialect(&self) -> Option<&'static str> {
        self.current_settings().map(|s| s.dialect.name())
    }

    /// What this connection connects to and how, resolved from its current
    /// configuration (no connect is made): dialect, host, port, database,
    /// user name, TLS mode and pool settings, for logs and support. The
    /// password never appears. `Display` gives one line for a log.
    ///
    /// # Errors
    ///
    /// The configuration's error, as the connect would report it.
    ///
    /// # Examples
    ///
    /// See [`Description`].
    pub fn describe(&self) -> Result<Description, Error> {
        // The connect already warned about this configuration's keys, or will.
        let options = options::parse_noting(&self.config(), &mut Vec::new())?;
        Ok(Description::new(&options))
    }

    /// Runs `op` on the pool; on a transient error resets (if that pool is
    /// still current), waits `retry_wait` and tries again, 3 attempts in all.
    async fn with_retry<T, F, Fut>(
        &self,
        operation: &'static str,
        timeout: Option<Duration>,
        mut op: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Arc<Pool>) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let mut attempt = 1;
        let mut moves = 0;
        loop {
            let failure = match self.instance().await {
                // Boxed: the statement's future is large, and the bound's timer wraps it.
                Ok(pool) => match self
                    .bounded(&pool, operation, attempt, timeout, Box::pin(op(Arc::clone(&pool))))
                    .await?
                {
                    Ok(value) => return Ok(value),
                    // A reset or reload replaced the pool while this waited
                    // for a session: to the new one at once, not an attempt.
                    Err(sqlx::Error::PoolClosed) if moves < MAX_MOVES && !self.base.is_current(&pool) => {
                        moves += 1;
                        continue;
                    }
                    Err(error) => {
                        let transient = is_transient(&error);
                        if transient {
                            self.base.reset_if_because(&pool, ResetReason::Retry);
                        }
                        (transient, self.sql_error(operation, attempt, error))
                    }
                },
                // Not retried here: sqlx's pool already retries a failing
                // connect with backoff for up to `acquire_timeout`.
                Err(error) => (false, error),
            };
            let (transient, error) = failure;
            if !transient || attempt == ATTEMPTS {
                return Err(with_attempts(error, attempt));
            }
            let wait = self.settings().retry_wait;
            tracing::warn!(
                connection = self.name(),
                attempt,
                "{operation} on connection `{}` failed with a transient error (attempt {attempt} of {ATTEMPTS}); reconnecting and retrying in {wait:?}: {error}",
                self.name()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Runs `work` (a statement, its session's acquire included) within
    /// `timeout`, else the section's `query_timeout`. Past it, the server
    /// is said to have stopped answering, and the pool is reset: its
    /// sessions may all have fallen silent, and none is reused; unless every
    /// session was busy, when the wait was for one of them. Not retried:
    /// the caller's bound holds.
    async fn bounded<T>(
        &self,
        pool: &Arc<Pool>,
        operation: &'static str,
        attempts: u32,
        timeout: Option<Duration>,
        work: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let settings = self.settings();
        let (limit, key) = match timeout {
            Some(limit) => (limit, "the query's `.timeout()`"),
            None => match settings.query_timeout {
                Some(limit) => (limit, "`query_timeout`"),
                None => return Ok(work.await),
            },
        };
        let Ok(outcome) = tokio::time::timeout(limit, work).await else {
            let endpoint = options::parse_noting(&self.base().config(), &mut Vec::new())
                .map_or_else(|_| "the server".to_owned(), |options| options.endpoint());
            let message = if pool.saturated() {
                // Every session is busy: the wait was for one of them, and the
                // queries holding them are bounded too. A healthy pool under
                // load is not dropped.
                format!(
                    "no session of the pool to {endpoint} became free within {key} ({} s): every one is busy; raise `max_connections`, or the timeout",
                    limit.as_secs_f64()
                )
            } else {
                // A SQLite file does not fall silent, and an in-memory one would be lost with its pool.
                if settings.dialect != Dialect::Sqlite {
                    self.base.reset_if_because(pool, ResetReason::Broken);
                }
                format!(
                    "the server at {endpoint} stopped answering: no answer within {key} ({} s)",
                    limit.as_secs_f64()
                )
            };
            let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, message.clone());
            return Err(Error::Operation {
                name: self.name().to_owned(),
                operation,
                attempts,
                source: Arc::new(Redacted::new(message.clone(), cause)),
                message,
            });
        };
        Ok(outcome)
    }

    fn sql_error(&self, operation: &'static str, attempts: u32, error: sqlx::Error) -> Error {
        // Redacted with the config a reload last replaced too: the failing
        // session may have connected with it.
        sql_error(self.name(), &self.base().redactor(), operation, attempts, error)
    }

    /// Fails unless the connection is `DB`'s database (connecting if need be).
    async fn expect_database<DB: SqlDatabase>(&self) -> Result<(), Error> {
        let pool = self.instance().await?;
        if DB::pool(&pool).is_some() {
            return Ok(());
        }
        Err(Error::InvalidCall {
            name: self.name().to_owned(),
            operation: "query",
            problem: format!(
                "it asked for {} rows, but the connection is configured for {}; ask for the configured database (`fetch_all_on::<sqlx::Postgres, _>`, `sqlx::MySql` or `sqlx::Sqlite`), or use `fetch_all` with a row type every database decodes",
                DB::DIALECT_NAME,
                self.settings().dialect.name()
            ),
        })
    }

    /// The rows `fetch` reads, from the cache when a live entry has them.
    async fn fetch_cached<R: ?Sized + Send + Sync + 'static>(
        &self,
        statement: &Statement,
        ttl: Option<Duration>,
        fetch: impl AsyncFnOnce() -> Result<Arc<R>, Error>,
    ) -> Result<Arc<R>, Error> {
        if ttl.is_some_and(|ttl| ttl.is_zero()) {
            return fetch().await;
        }
        // Connected first, so the key names the database the connection
        // points at now (a reload may have reset it since the last query).
        self.instance().await?;
        let database = self.settings().url_hash;
        let lookup = KeyRef {
            database,
            sql: statement.sql.as_str(),
            params: &statement.params,
            rows: TypeId::of::<R>(),
        };
        let now = Instant::now();
        let hit = self
            .cache()
            .entries
            .get(&lookup)
            .filter(|entry| entry.live(now))
            .and_then(|entry| entry.rows.downcast_ref::<Arc<R>>().cloned());
        if let Some(rows) = hit {
            return Ok(rows);
        }
        let key = CacheKey {
            database,
            sql: statement.sql.as_str().to_owned(),
            params: statement.params.clone(),
            rows: TypeId::of::<R>(),
        };
        // Only successes are cached.
        let rows = fetch().await?;
        let mut cache = self.cache();
        let now = Instant::now();
        cache.drop_expired(now);
        cache.insert(
            key,
            CacheEntry {
                expires: ttl.map(|ttl| now + ttl),
                rows: Box::new(Arc::clone(&rows)),
            },
        );
        Ok(rows)
    }
}

/// An [`Error::Operation`] for `error` on connection `name`, its text redacted.
fn sql_error(name: &str, redactor: &Redactor, operation: &'static str, attempts: u32, error: sqlx::Error) -> Error {
    let message = redactor.redact(&error_text(&error));
    Error::Operation {
        name: name.to_owned(),
        operation,
        attempts,
        source: Arc::new(Redacted::new(message.clone(), error)),
        message,
    }
}

/// An sqlx error as the user needs it. A PostgreSQL error shows its message,
/// its SQLSTATE, where in the statement it points and the server's hint, but
/// not sqlx's `at line N`: that is a line of the server's C source, which
/// reads as a line of the user's SQL.
fn error_text(error: &sqlx::Error) -> String {
    let Some(pg) = error
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
    else {
        return error.to_string();
    };
    let mut text = format!(
        "error returned from database: {} (SQLSTATE {})",
        pg.message(),
        pg.code()
    );
    if let Some(sqlx::postgres::PgErrorPosition::Original(at)) = pg.position() {
        let _ = write!(text, " at character {at} of the statement");
    }
    if let Some(hint) = pg.hint() {
        let _ = write!(text, "; hint: {hint}");
    }
    text
}

/// What to check after a failed connect, by its cause.
fn connect_hint(options: &SqlOptions, error: &sqlx::Error) -> String {
    use std::io::ErrorKind;
    match error {
        sqlx::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => {
            "; nothing accepted the connection: check that the server is running and that `host` and `port` (or the `url`) are right".to_owned()
        }
        sqlx::Error::Io(e) if e.kind() == ErrorKind::TimedOut => {
            "; check `host`, `port` and any firewall between, or raise `connect_timeout` (seconds)".to_owned()
        }
        sqlx::Error::Io(e) if e.to_string().contains("lookup address") => {
            "; the host name could not be resolved: check `host` (or the `url`)".to_owned()
        }
        // A certificate rejected by rustls comes as an I/O error of the stream.
        sqlx::Error::Tls(_) | sqlx::Error::Io(_) if options.tls.required => format!(
            "; TLS was required (`{}`, set by `{}`), so no connection was made without it",
            options.tls.mode,
            options.tls.origin.as_deref().unwrap_or("url")
        ),
        sqlx::Error::Database(db) => match (db.code().as_deref(), transient::mysql_number(db.as_ref())) {
            (Some("28P01" | "28000"), _) | (_, Some(1045 | 1698)) => {
                "; authentication failed: check `username` and `password`".to_owned()
            }
            (Some("3D000"), _) | (_, Some(1049)) => "; no such database: check `database`".to_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// The error with the attempt count it finally took.
fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::Operation {
            name,
            operation,
            message,
            source,
            ..
        } => Error::Operation {
            name,
            operation,
            attempts,
            message,
            source,
        },
        other => other,
    }
}

fn pool_options<DB: Database>(options: &SqlOptions) -> PoolOptions<DB> {
    let settings = &options.pool;
    let mut pool = PoolOptions::new();
    if let Some(max) = settings.max_connections {
        pool = pool.max_connections(max);
    }
    if let Some(min) = settings.min_connections {
        pool = pool.min_connections(min);
    }
    if let Some(timeout) = settings.acquire_timeout {
        pool = pool.acquire_timeout(timeout);
    }
    if let Some(timeout) = settings.idle_timeout {
        pool = pool.idle_timeout(timeout);
    }
    if let Some(lifetime) = settings.max_lifetime {
        pool = pool.max_lifetime(lifetime);
    }
    if let Some(test) = settings.test_before_acquire {
        pool = pool.test_before_acquire(test);
    }
    if options.in_memory {
        // Every SQLite connection to `:memory:` is a database of its own: keep
        // exactly one, for the pool's whole life.
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    pool
}

impl fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConnection")
            .field("base", &self.base)
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SqlConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.base, f)
    }
}

#[cfg(test)]
mod result_cache_tests {
    use super::*;

    fn key(sql: &str) -> CacheKey {
        CacheKey {
            database: 1,
            sql: sql.to_owned(),
            params: Vec::new(),
            rows: TypeId::of::<u8>(),
        }
    }

    fn entry(expires: Option<Instant>) -> CacheEntry {
        CacheEntry {
            expires,
            rows: Box::new(Arc::new(0_u8)),
        }
    }

    #[test]
    fn expired_rows_leave_soonest_first_and_a_replaced_entry_keeps_its_new_expiry() {
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let mut cache = ResultCache::default();
        cache.insert(key("a"), entry(Some(at(30))));
        cache.insert(key("b"), entry(Some(at(10))));
        cache.insert(key("forever"), entry(None));
        cache.insert(key("c"), entry(Some(at(20))));
        // `b` is read again later with a longer ttl: its first expiry must not remove it.
        cache.insert(key("b"), entry(Some(at(40))));
        assert_eq!(cache.expiry.len(), 4, "one item per insert with a ttl");

        cache.drop_expired(at(15));
        assert_eq!(cache.entries.len(), 4, "nothing had expired but b's replaced expiry");
        cache.drop_expired(at(25));
        assert!(!cache.entries.contains_key(&key("c")));
        cache.drop_expired(at(35));
        assert!(!cache.entries.contains_key(&key("a")));
        assert!(cache.entries.contains_key(&key("b")) && cache.entries.contains_key(&key("forever")));
        cache.drop_expired(at(45));
        assert_eq!(cache.entries.len(), 1, "only the entry kept forever is left");
        assert!(cache.expiry.is_empty(), "every item was looked at once");
    }
}
