//! SQLite, PostgreSQL and MySQL/MariaDB through sqlx's `Any` driver.
//!
//! [`SqlConnection`] is `type = "sql"`; [`Query`] a statement on it; [`Value`]
//! and [`Table`] the parameters and rows it exchanges.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor, SqlSafeStr, SqlStr, Statement};

pub use self::describe::Description;
use self::options::{Dialect, SqlOptions};
use self::transient::is_transient;
pub use self::value::{Table, Value};
use crate::base::ResetReason;
use crate::error::Redacted;
use crate::{BaseConnection, Config, Connection, Error};

mod describe;
mod named;
mod options;
mod transient;
mod value;

/// Attempts in all for a statement that fails with a transient error, as the reference.
const ATTEMPTS: u32 = 3;

/// A SQL database: SQLite, PostgreSQL or MySQL/MariaDB, through a sqlx pool.
///
/// Streamlit's `type = "sql"` connection. Configure it as Streamlit does,
/// with a `url` (SQLAlchemy's forms work: `postgresql+psycopg2://...`,
/// `sqlite:///app.db`) or the keys `dialect`, `host`, `port`, `username`,
/// `password`, `database` and `query`; pool options (`max_connections`,
/// `min_connections`, `acquire_timeout`, `idle_timeout`, `max_lifetime`,
/// `test_before_acquire`, or SQLAlchemy's `pool_size`, `pool_timeout`,
/// `pool_recycle`, `pool_pre_ping`, also inside `create_engine_kwargs`)
/// play the part of `create_engine_kwargs`; `retry_wait` (seconds, default 1)
/// is the wait between retries. Call-site kwargs override the secrets key by key.
///
/// It is async (`instance().await` gives the `AnyPool`) and runs on tokio, as
/// sqlx's `runtime-tokio` does.
///
/// * [`query`](SqlConnection::query): parameters bound, never interpolated;
///   rows as your `sqlx::FromRow` type or as a [`Table`]; an optional `ttl`
///   result cache.
/// * Transient errors (I/O, a closed or killed session, a pool timeout, a
///   protocol error, a server shutting down) reset the connection and retry,
///   3 attempts in all, `retry_wait` apart. Other errors (syntax, constraint,
///   decode) fail at once, with no reset: retrying them cannot succeed, and
///   a reset would drop every healthy pooled session.
/// * [`execute`](Query::execute) for writes, [`begin`](SqlConnection::begin)
///   for transactions, [`pool`](SqlConnection::pool) for everything else
///   sqlx does (Streamlit's `session` and `engine`).
///
/// Values decode through sqlx's `Any` driver: booleans, integers, floats,
/// text and bytes; cast other types in SQL (`CAST(created AS TEXT)`).
///
/// A pool retired by a reset, a reload or an eviction is closed with
/// `pool.close().await` (each session says goodbye to the server) once no
/// `Arc<AnyPool>` from it is left, on the registry's
/// [`closer`](crate::Registry::closer) or in its
/// [`shutdown`](crate::Registry::shutdown); with neither, it is dropped, as
/// before. A transaction still open on it finishes first. Keep the
/// `Arc<AnyPool>` that [`pool`](SqlConnection::pool) returns rather than a
/// clone of the `AnyPool` inside it: only the `Arc` counts as a handle.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
/// use connections_core::sql::SqlConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = Registry::builder()
///     .secrets_toml(".streamlit/secrets.toml", "[connections.sql]\nurl = 'sqlite::memory:'")
///     .build();
/// let db = registry.connection::<SqlConnection>("sql")?;
/// db.query("CREATE TABLE pets (name TEXT, age INTEGER)").execute().await?;
/// db.query("INSERT INTO pets VALUES (?, ?)").bind("Rex").bind(3).execute().await?;
///
/// #[derive(sqlx::FromRow, Clone)]
/// struct Pet { name: String, age: i64 }
/// let pets: Vec<Pet> = db.query("SELECT name, age FROM pets WHERE age > ?").bind(1).fetch_all().await?;
/// assert_eq!((pets[0].name.as_str(), pets[0].age), ("Rex", 3));
///
/// let table = db.query("SELECT name, age FROM pets").fetch_table().await?;
/// assert_eq!(table.columns(), ["name", "age"]);
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Connection)]
#[connection(type_name = "sql", async, crate = crate)]
pub struct SqlConnection {
    base: BaseConnection<AnyPool>,
    state: State,
}

/// What a `SqlConnection` keeps besides its pool; survives `reset()`.
#[derive(Default)]
struct State {
    /// The parsed settings the current pool was built from (the latest
    /// successful parse: a secrets reload may change the dialect or `retry_wait`).
    settings: Mutex<Option<Settings>>,
    /// The `ttl` result cache.
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

#[derive(Clone, Copy)]
struct Settings {
    dialect: Dialect,
    retry_wait: Duration,
    /// A hash of the URL the pool connects to, to tell a new database from a reconnect.
    url_hash: u64,
}

#[derive(PartialEq, Eq, Hash)]
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

struct Cached {
    expires: Instant,
    rows: Arc<dyn Any + Send + Sync>,
}

impl SqlConnection {
    async fn _connect(&self, config: &Config) -> Result<AnyPool, Error> {
        let options = options::parse(config)?;
        let settings = Settings {
            dialect: options.dialect,
            retry_wait: options.retry_wait,
            url_hash: {
                let mut hasher = std::hash::DefaultHasher::new();
                options.url.hash(&mut hasher);
                hasher.finish()
            },
        };
        *self.state.settings.lock().unwrap_or_else(PoisonError::into_inner) = Some(settings);
        if let Some(error) = options::tls_unavailable(config, &options.tls, cfg!(feature = "sql-tls")) {
            return Err(error);
        }
        sqlx::any::install_default_drivers();
        tracing::debug!(settings = %Description::new(&options), "connecting");
        let connect_options: AnyConnectOptions = options
            .url
            .parse()
            .map_err(|error| self.connect_error(&options, error))?;
        if options.dialect == Dialect::Sqlite {
            // A local file: its errors come at once, and the pool keeps the first session.
            return pool_options(&options)
                .connect_with(connect_options)
                .await
                .map_err(|error| self.connect_error(&options, error));
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
        .map_err(|error| self.connect_error(&options, error))?;
        let _ = sqlx::Connection::close(session).await;
        Ok(pool_options(&options).connect_lazy_with(connect_options))
    }

    /// A failed connect, with where it went and what to check.
    fn connect_error(&self, options: &SqlOptions, error: sqlx::Error) -> Error {
        let hint = connect_hint(options, &error);
        let mut error = self.sql_error("connect", 1, error);
        if let Error::Sql { message, .. } = &mut error {
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
    async fn _close(pool: AnyPool) {
        pool.close().await;
    }

    /// A statement to run on this connection: bind its parameters, then
    /// [`fetch_all`](Query::fetch_all), [`fetch_table`](Query::fetch_table)
    /// or [`execute`](Query::execute).
    ///
    /// `sql` is a literal (`&'static str`) or, for SQL built at run time,
    /// wrapped in `sqlx::AssertSqlSafe` after checking it interpolates no
    /// input; values go through [`bind`](Query::bind). Placeholders are the
    /// database's own: `?` for SQLite and MySQL, `$1` for PostgreSQL.
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub fn query(&self, sql: impl SqlSafeStr) -> Query<'_> {
        Query {
            conn: self,
            sql: sql.into_sql_str(),
            params: Vec::new(),
            named: Vec::new(),
            ttl: None,
        }
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
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("mem", Config::from_toml("mem", "url = 'sqlite::memory:'")?);
    /// let pool = db.pool().await?;
    /// let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&*pool).await.unwrap();
    /// assert_eq!(one, 1);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn pool(&self) -> Result<Arc<AnyPool>, Error> {
        self.instance().await
    }

    /// Starts a transaction (Streamlit's `session`); it rolls back when
    /// dropped unless `commit()`ed. Transient errors while acquiring its
    /// session reset and retry, as for queries.
    ///
    /// # Errors
    ///
    /// [`Error::Sql`] if no session could be had.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("tx", Config::from_toml("tx", "url = 'sqlite::memory:'")?);
    /// db.query("CREATE TABLE t (x INTEGER)").execute().await?;
    /// let mut tx = db.begin().await?;
    /// sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *tx).await.unwrap();
    /// tx.rollback().await.unwrap();
    /// assert!(db.query("SELECT x FROM t").fetch_table().await?.is_empty());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, Error> {
        self.with_retry("begin", |pool| async move { pool.begin().await }).await
    }

    /// Empties the `ttl` result cache.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
    /// let db = SqlConnection::from_config("c", Config::from_toml("c", "url = 'sqlite::memory:'").unwrap());
    /// db.clear_cache();
    /// ```
    pub fn clear_cache(&self) {
        self.cache().clear();
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Cached>> {
        self.state.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current_settings(&self) -> Option<Settings> {
        *self.state.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settings(&self) -> Settings {
        self.current_settings().unwrap_or(Settings {
            dialect: Dialect::Sqlite,
            retry_wait: Duration::from_secs(1),
            url_hash: 0,
        })
    }

    /// The database's dialect: `"sqlite"`, `"postgresql"` or `"mysql"`;
    /// `None` before the first connect.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
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
        let quiet = tracing::subscriber::NoSubscriber::default();
        let options = tracing::subscriber::with_default(quiet, || options::parse(&self.config()))?;
        Ok(Description::new(&options))
    }

    /// Runs `op` on the pool; on a transient error resets (if that pool is
    /// still current), waits `retry_wait` and tries again, 3 attempts in all.
    async fn with_retry<T, F, Fut>(&self, operation: &'static str, mut op: F) -> Result<T, Error>
    where
        F: FnMut(Arc<AnyPool>) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let mut attempt = 1;
        loop {
            let failure = match self.instance().await {
                Ok(pool) => match op(Arc::clone(&pool)).await {
                    Ok(value) => return Ok(value),
                    Err(error) => {
                        let transient = is_transient(&error);
                        if transient {
                            self.base.reset_if_for(&pool, ResetReason::Retry);
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

    fn sql_error(&self, operation: &'static str, attempts: u32, error: sqlx::Error) -> Error {
        // Redacted with the config a reload last replaced too: the failing
        // session may have connected with it.
        let message = self.base().redactor().redact(&error_text(&error));
        Error::Sql {
            name: self.name().to_owned(),
            operation,
            attempts,
            source: Arc::new(Redacted::new(message.clone(), error)),
            message,
        }
    }

    async fn fetch_cached<R: Any + Send + Sync>(
        &self,
        query: Query<'_>,
        fetch: impl AsyncFnOnce(&Query<'_>) -> Result<R, Error>,
    ) -> Result<Arc<R>, Error> {
        let Some(ttl) = query.ttl.filter(|ttl| !ttl.is_zero()) else {
            return fetch(&query).await.map(Arc::new);
        };
        // Connected first, so the key names the database the connection
        // points at now (a reload may have reset it since the last query).
        self.instance().await?;
        let key = CacheKey {
            database: self.settings().url_hash,
            sql: query.sql.as_str().to_owned(),
            params: query.params.clone(),
            rows: TypeId::of::<R>(),
        };
        let now = Instant::now();
        let hit = self
            .cache()
            .get(&key)
            .filter(|c| c.expires > now)
            .map(|c| Arc::clone(&c.rows));
        if let Some(Ok(rows)) = hit.map(Arc::downcast::<R>) {
            return Ok(rows);
        }
        // Only successes are cached.
        let rows = Arc::new(fetch(&query).await?);
        let mut cache = self.cache();
        let now = Instant::now();
        cache.retain(|_, c| c.expires > now);
        cache.insert(
            key,
            Cached {
                expires: now + ttl,
                rows: Arc::clone(&rows) as Arc<dyn Any + Send + Sync>,
            },
        );
        Ok(rows)
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
        sqlx::Error::Database(db) => match (db.code().as_deref(), mysql_number(db.as_ref())) {
            (Some("28P01" | "28000"), _) | (_, Some(1045 | 1698)) => {
                "; authentication failed: check `username` and `password`".to_owned()
            }
            (Some("3D000"), _) | (_, Some(1049)) => "; no such database: check `database`".to_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn mysql_number(error: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    error
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(sqlx::mysql::MySqlDatabaseError::number)
}

/// The error with the attempt count it finally took.
fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::Sql {
            name,
            operation,
            message,
            source,
            ..
        } => Error::Sql {
            name,
            operation,
            attempts,
            message,
            source,
        },
        other => other,
    }
}

fn pool_options(options: &SqlOptions) -> AnyPoolOptions {
    let settings = &options.pool;
    let mut pool = AnyPoolOptions::new();
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

/// A statement with its parameters, from [`SqlConnection::query`].
///
/// Parameters are bound, never interpolated. A statement is retried on
/// transient errors (see [`SqlConnection`]), so it is run afresh, parameters
/// rebound, on each attempt.
#[must_use = "a query does nothing until fetched or executed"]
pub struct Query<'c> {
    conn: &'c SqlConnection,
    sql: SqlStr,
    params: Vec<Value>,
    /// Named parameters, rewritten to positional ones once the dialect is known.
    named: Vec<(String, Value)>,
    ttl: Option<Duration>,
}

impl Query<'_> {
    /// Binds the next parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("b", Config::from_toml("b", "url = 'sqlite::memory:'")?);
    /// let table = db.query("SELECT ? AS a, ? AS b, ? AS c").bind(1).bind("two").bind(None::<i64>).fetch_table().await?;
    /// assert_eq!(table.to_string().lines().count(), 4);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds a named parameter: `:name` in the statement, the one style that
    /// works on every database (SQLAlchemy's `text()` style, Streamlit's
    /// `params={"name": ...}`).
    ///
    /// Names are rewritten to the database's placeholders (`$1` on
    /// PostgreSQL, `?` on MySQL and SQLite), except inside string literals,
    /// quoted identifiers and comments; `::` casts stay as they are, and `\:`
    /// writes a plain colon. A name may be used more than once. A name used
    /// but not given, given but not used, or given twice, and a query that
    /// mixes `param` with [`bind`](Query::bind), fail with
    /// [`Error::SqlParameters`] before the statement is sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, Error, sql::{SqlConnection, Value}};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("np", Config::from_toml("np", "url = 'sqlite::memory:'")?);
    /// db.query("CREATE TABLE pets (name TEXT, owner TEXT, age INTEGER)").execute().await?;
    /// db.query("INSERT INTO pets VALUES ('Rex', 'Ada', 4), ('Tom', 'Ada', 2)").execute().await?;
    /// let table = db
    ///     .query("SELECT name FROM pets WHERE owner = :owner AND age > :age")
    ///     .param("owner", "Ada")
    ///     .param("age", 3)
    ///     .fetch_table()
    ///     .await?;
    /// assert_eq!(table.rows(), [[Value::from("Rex")]]);
    ///
    /// let err = db.query("SELECT :a AS a").param("b", 1).fetch_table().await.unwrap_err();
    /// assert!(matches!(err, Error::SqlParameters { .. }), "{err}");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.named
            .push((name.strip_prefix(':').unwrap_or(name).to_owned(), value.into()));
        self
    }

    /// The query with its named parameters made positional for the
    /// connected database (connecting first if need be).
    async fn resolved(self) -> Result<Self, Error> {
        if self.named.is_empty() {
            return Ok(self);
        }
        let conn = self.conn;
        let rewritten = if self.params.is_empty() {
            conn.instance().await?;
            named::rewrite(self.sql.as_str(), conn.settings().dialect, &self.named)
        } else {
            Err("mixes `.bind()` and `.param()`; use one style in a statement".to_owned())
        };
        match rewritten {
            Ok(rewritten) => Ok(Query {
                sql: AssertSqlSafe(rewritten.sql).into_sql_str(),
                params: rewritten.values,
                named: Vec::new(),
                ..self
            }),
            Err(problem) => Err(Error::SqlParameters {
                name: conn.name().to_owned(),
                problem,
            }),
        }
    }

    /// Binds several parameters in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::{SqlConnection, Value}};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("bs", Config::from_toml("bs", "url = 'sqlite::memory:'")?);
    /// let params: Vec<Value> = vec![1.into(), 2.into()];
    /// let table = db.query("SELECT ? + ? AS sum").bind_all(params).fetch_table().await?;
    /// assert_eq!(table.rows()[0][0], Value::Int(3));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind_all<V: Into<Value>>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        self.params.extend(values.into_iter().map(Into::into));
        self
    }

    /// Caches the result for `ttl`, keyed by (sql, parameters, row type), on
    /// this connection; only successes are cached, and a zero `ttl` caches
    /// nothing. Results survive `reset()`, as Streamlit's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use connections_core::{Config, Connection, sql::SqlConnection};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("t", Config::from_toml("t", "url = 'sqlite::memory:'")?);
    /// let first = db.query("SELECT random() AS r").ttl(Duration::from_secs(60)).fetch_table().await?;
    /// let again = db.query("SELECT random() AS r").ttl(Duration::from_secs(60)).fetch_table().await?;
    /// assert_eq!(first, again, "served from the cache");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    fn statement(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        self.params
            .iter()
            .fold(sqlx::query(self.sql.clone()), |query, param| value::bind(query, param))
    }

    /// The rows, each decoded as a `T` (`#[derive(sqlx::FromRow)]`).
    ///
    /// # Errors
    ///
    /// [`Error::Sql`], naming the connection and the attempts made.
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub async fn fetch_all<T>(self) -> Result<Vec<T>, Error>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Clone + Send + Sync + Unpin + 'static,
    {
        let conn = self.conn;
        let query = self.resolved().await?;
        let rows = conn
            .fetch_cached(query, async |query| {
                conn.with_retry("query", |pool| async move {
                    let rows = query.statement().fetch_all(&*pool).await?;
                    rows.iter().map(T::from_row).collect::<Result<Vec<T>, _>>()
                })
                .await
            })
            .await?;
        Ok(Arc::unwrap_or_clone(rows))
    }

    /// The rows as a [`Table`] of column names and [`Value`]s, for display.
    ///
    /// # Errors
    ///
    /// [`Error::Sql`], naming the connection and the attempts made.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, sql::{SqlConnection, Value}};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("ft", Config::from_toml("ft", "url = 'sqlite::memory:'")?);
    /// let table = db.query("SELECT 1 AS one, 'a' AS letter").fetch_table().await?;
    /// assert_eq!(table.columns(), ["one", "letter"]);
    /// assert_eq!(table.rows()[0], [Value::Int(1), Value::from("a")]);
    /// println!("{table}");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn fetch_table(self) -> Result<Table, Error> {
        let conn = self.conn;
        let query = self.resolved().await?;
        let table = conn
            .fetch_cached(query, async |query| {
                conn.with_retry("query", |pool| async move {
                    let rows = query.statement().fetch_all(&*pool).await?;
                    if rows.is_empty() {
                        // No row to read the column names from: ask the statement.
                        let prepared = pool.prepare(query.sql.clone()).await?;
                        let columns = prepared.columns().iter().map(|c| sqlx::Column::name(c).to_owned());
                        return Ok(Table::new(columns, Vec::new()).unwrap_or_default());
                    }
                    Table::from_rows(&rows)
                })
                .await
            })
            .await?;
        Ok(Arc::unwrap_or_clone(table))
    }

    /// Runs a write (or any statement) and returns the number of rows it
    /// affected. Never cached. A write is retried only when its error shows
    /// the statement never reached the database (no session could be had),
    /// so a retry can never apply it twice; an error after it was sent still
    /// resets a broken connection for the next call.
    ///
    /// # Errors
    ///
    /// [`Error::Sql`], naming the connection and the attempts made.
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub async fn execute(self) -> Result<u64, Error> {
        let conn = self.conn;
        let query = self.resolved().await?;
        let (pool, mut session) = conn
            .with_retry("execute", |pool| async move {
                let session = pool.acquire().await?;
                Ok((pool, session))
            })
            .await?;
        match query.statement().execute(&mut *session).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(error) => {
                if is_transient(&error) {
                    // Not retried (it may have run); the next call reconnects.
                    conn.base.reset_if_for(&pool, ResetReason::Retry);
                }
                Err(conn.sql_error("execute", 1, error))
            }
        }
    }
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters may be secrets of the application's users: not shown.
        f.debug_struct("Query")
            .field("connection", &self.conn.name())
            .field("sql", &self.sql.as_str())
            .field("params", &self.params.len())
            .field("named", &self.named.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("ttl", &self.ttl)
            .finish()
    }
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
