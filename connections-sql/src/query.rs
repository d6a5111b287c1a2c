//! [`Query`]: a statement on a [`SqlConnection`], its parameters, and how it
//! is read (fresh or cached); [`TxQuery`]: the same inside a [`Transaction`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Executor as _, FromRow, SqlSafeStr, SqlStr, Statement as _};

use super::SqlConnection;
use super::named;
use super::options::Dialect;
use super::pool::{Pool, Transaction, Tx, on_each};
use super::transient::is_transient;
use super::value::{SqlDatabase, Table, Value};
use connections_core::author::ResetReason;
use connections_core::{Connection as _, Error};

/// A row type [`fetch_all`](Query::fetch_all) reads on every database:
/// `#[derive(sqlx::FromRow)]` gives it when each field's type decodes on
/// PostgreSQL, MySQL/MariaDB and SQLite (integers, floats, `bool`, `String`,
/// `Vec<u8>`, `chrono`'s dates and times, `uuid::Uuid`, `sqlx::types::Json`,
/// and `Option`s of them).
///
/// A type with fields only one database decodes (`BigDecimal`, arrays,
/// `PgInterval`...) reads with [`fetch_all_on`](Query::fetch_all_on) instead.
/// Implemented for every such type; there is nothing to implement.
///
/// # Examples
///
/// ```
/// use connections_sql::FromAnyRow;
///
/// #[derive(sqlx::FromRow)]
/// struct Pet {
///     name: String,
///     born: Option<chrono::NaiveDate>,
/// }
/// fn portable<T: FromAnyRow>() {}
/// portable::<Pet>();
/// ```
pub trait FromAnyRow:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, MySqlRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}

impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, PgRow>
        + for<'r> FromRow<'r, MySqlRow>
        + for<'r> FromRow<'r, SqliteRow>
        + Send
        + Unpin
        + 'static
{
}

/// How a [`Query`] reads: afresh each time, the default.
///
/// # Examples
///
/// ```
/// use connections_sql::{Fresh, Query};
///
/// fn default_is_fresh(query: Query<'_, Fresh>) -> Query<'_> { query }
/// ```
#[derive(Debug)]
pub enum Fresh {}

/// How a [`Query`] reads: from the connection's result cache, after
/// [`ttl`](Query::ttl) or [`cache_forever`](Query::cache_forever). Reads give
/// shared rows (`Arc<[T]>`, `Arc<Table>`): a hit clones no row.
///
/// # Examples
///
/// ```
/// use connections_sql::{Cached, Query};
///
/// fn cached<'c>(query: Query<'c>) -> Query<'c, Cached> { query.cache_forever() }
/// ```
#[derive(Debug)]
pub enum Cached {}

/// A statement and its parameters, positional or named.
#[derive(Clone)]
pub(crate) struct Statement {
    pub sql: SqlStr,
    pub params: Vec<Value>,
    /// Named parameters, made positional once the dialect is known.
    pub named: Vec<(String, Value)>,
}

impl Statement {
    fn new(sql: impl SqlSafeStr) -> Self {
        Statement {
            sql: sql.into_sql_str(),
            params: Vec::new(),
            named: Vec::new(),
        }
    }

    fn param(&mut self, name: &str, value: Value) {
        self.named
            .push((name.strip_prefix(':').unwrap_or(name).to_owned(), value));
    }

    /// The statement with its named parameters made positional for `dialect`.
    fn resolved(self, dialect: Dialect) -> Result<Self, String> {
        if self.named.is_empty() {
            return Ok(self);
        }
        if !self.params.is_empty() {
            return Err("mixes `.bind()` and `.param()`; use one style in a statement".to_owned());
        }
        let rewritten = named::rewrite(self.sql.as_str(), dialect, &self.named)?;
        Ok(Statement {
            sql: AssertSqlSafe(rewritten.sql).into_sql_str(),
            params: rewritten.values,
            named: Vec::new(),
        })
    }

    /// The parameters, encoded for `DB`.
    fn arguments<DB: SqlDatabase>(&self) -> Result<DB::Arguments, sqlx::Error> {
        let mut arguments = DB::Arguments::default();
        for value in &self.params {
            DB::add(&mut arguments, value).map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }

    /// The sqlx query, parameters bound.
    fn query<DB: SqlDatabase>(&self) -> Result<sqlx::query::Query<'_, DB, DB::Arguments>, sqlx::Error>
    where
        DB::Arguments: sqlx::IntoArguments<DB>,
    {
        Ok(sqlx::query_with(self.sql.clone(), self.arguments::<DB>()?))
    }

    /// The sqlx query decoding each row as a `T` as it streams in, as
    /// `sqlx::query_as` does (no per-row stream of its own, unlike `try_map`).
    fn query_as<DB: SqlDatabase, T>(&self) -> Result<sqlx::query::QueryAs<'_, DB, T, DB::Arguments>, sqlx::Error>
    where
        DB::Arguments: sqlx::IntoArguments<DB>,
        T: for<'r> FromRow<'r, DB::Row>,
    {
        Ok(sqlx::query_as_with(self.sql.clone(), self.arguments::<DB>()?))
    }
}

/// The table of `rows`; with none, the columns come from the prepared statement.
macro_rules! table_of {
    ($executor:expr, $statement:expr) => {{
        let rows = $statement.query()?.fetch_all($executor).await?;
        if rows.is_empty() {
            // No row to read the column names from: ask the statement.
            let prepared = $executor.prepare($statement.sql.clone()).await?;
            let columns = prepared.columns().iter().map(|c| sqlx::Column::name(c).to_owned());
            Ok(Table::new(columns, Vec::new()).unwrap_or_default())
        } else {
            Table::from_rows(&rows)
        }
    }};
}

/// A statement to run on a [`SqlConnection`], from [`SqlConnection::query`].
///
/// Parameters are bound, never interpolated: positionally with
/// [`bind`](Query::bind) (`$1` on PostgreSQL, `?` on MySQL and SQLite) or by
/// name with [`param`](Query::param) (`:name`, on every database). A statement
/// is retried on transient errors (see [`SqlConnection`]), so it is run
/// afresh, parameters rebound, on each attempt.
///
/// `C` says how it reads: [`Fresh`] (the default) or, after
/// [`ttl`](Query::ttl) or [`cache_forever`](Query::cache_forever), [`Cached`].
///
/// # Examples
///
/// See [`SqlConnection`].
#[must_use = "a query does nothing until fetched or executed"]
pub struct Query<'c, C = Fresh> {
    pub(crate) conn: &'c SqlConnection,
    pub(crate) statement: Statement,
    /// How long cached rows live; `None`: for ever. Read only when `C` is `Cached`.
    pub(crate) ttl: Option<Duration>,
    /// This query's bound instead of the section's `query_timeout`.
    pub(crate) timeout: Option<Duration>,
    cache: PhantomData<C>,
}

impl<'c> Query<'c> {
    pub(crate) fn new(conn: &'c SqlConnection, sql: impl SqlSafeStr) -> Self {
        Query {
            conn,
            statement: Statement::new(sql),
            ttl: None,
            timeout: None,
            cache: PhantomData,
        }
    }
}

impl<'c, C> Query<'c, C> {
    /// Binds the next positional parameter (`$1` on PostgreSQL, `?` on MySQL and SQLite).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("b", Config::from_toml("b", "url = 'sqlite::memory:'")?);
    /// let table = db.query("SELECT ? AS a, ? AS b, ? AS c").bind(1).bind("two").bind(None::<i64>).fetch_table().await?;
    /// assert_eq!(table.to_string().lines().count(), 4);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.statement.params.push(value.into());
        self
    }

    /// Binds several positional parameters in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::{SqlConnection, Value};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("bs", Config::from_toml("bs", "url = 'sqlite::memory:'")?);
    /// let params: Vec<Value> = vec![1.into(), 2.into()];
    /// let table = db.query("SELECT ? + ? AS sum").bind_all(params).fetch_table().await?;
    /// assert_eq!(table.rows()[0][0], Value::Int(3));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind_all<V: Into<Value>>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        self.statement.params.extend(values.into_iter().map(Into::into));
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
    /// [`Error::InvalidCall`] before the statement is sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, Error};
    /// # use connections_sql::{SqlConnection, Value};
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
    /// assert!(matches!(err, Error::InvalidCall { .. }), "{err}");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.statement.param(name, value.into());
        self
    }

    /// Bounds this query, its wait for a session included, instead of the
    /// section's `query_timeout`. Past it the query fails with "the server
    /// at host:port stopped answering", is not retried, and the pool's
    /// sessions are dropped (on a server) so none that fell silent is reused.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// // `.ci/run` sets this to the local server; without it there is nothing to wait for.
    /// let Ok(url) = std::env::var("CONNECTIONS_TEST_POSTGRES_URL") else { return Ok(()) };
    /// let db = SqlConnection::from_config("t", Config::from_toml("t", &format!("url = '{url}'"))?);
    /// let err = db.query("SELECT pg_sleep(5)").timeout(Duration::from_millis(200)).execute().await.unwrap_err();
    /// assert!(err.to_string().contains("no answer within the query's `.timeout()` (0.2 s)"), "{err}");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The statement, named parameters made positional for the connected
    /// database (connecting first if need be); borrowed when there are none.
    async fn resolved(&self) -> Result<Cow<'_, Statement>, Error> {
        if self.statement.named.is_empty() {
            return Ok(Cow::Borrowed(&self.statement));
        }
        self.conn.instance().await?;
        self.statement
            .clone()
            .resolved(self.conn.settings().dialect)
            .map(Cow::Owned)
            .map_err(|problem| Error::InvalidCall {
                name: self.conn.name().to_owned(),
                operation: "query",
                problem,
            })
    }

    fn cached<D>(self, ttl: Option<Duration>) -> Query<'c, D> {
        Query {
            conn: self.conn,
            statement: self.statement,
            ttl,
            timeout: self.timeout,
            cache: PhantomData,
        }
    }
}

impl<'c> Query<'c, Fresh> {
    /// Caches the result for `ttl` on this connection, keyed by (database,
    /// sql, parameters, row type); only successes are cached, and results
    /// survive `reset()`, as Streamlit's. A zero `ttl` caches nothing.
    ///
    /// Reads then give shared rows (`Arc<[T]>`, `Arc<Table>`): a hit clones
    /// no row, and the row type needs no `Clone`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("t", Config::from_toml("t", "url = 'sqlite::memory:'")?);
    /// let first = db.query("SELECT random() AS r").ttl(Duration::from_secs(60)).fetch_table().await?;
    /// let again = db.query("SELECT random() AS r").ttl(Duration::from_secs(60)).fetch_table().await?;
    /// assert!(std::sync::Arc::ptr_eq(&first, &again), "served from the cache");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(self, ttl: Duration) -> Query<'c, Cached> {
        self.cached(Some(ttl))
    }

    /// Caches the result with no expiry: Streamlit's `query()` default when
    /// `ttl` is unset. Here a query reads afresh unless asked (see
    /// [`SqlConnection`]); [`SqlConnection::clear_cache`] empties the cache.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("cf", Config::from_toml("cf", "url = 'sqlite::memory:'")?);
    /// let first = db.query("SELECT random() AS r").cache_forever().fetch_table().await?;
    /// let again = db.query("SELECT random() AS r").cache_forever().fetch_table().await?;
    /// assert_eq!(first, again);
    /// db.clear_cache();
    /// assert_ne!(first, db.query("SELECT random() AS r").cache_forever().fetch_table().await?);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn cache_forever(self) -> Query<'c, Cached> {
        self.cached(None)
    }

    /// The rows, each decoded as a `T` (`#[derive(sqlx::FromRow)]`) that
    /// decodes on every database ([`FromAnyRow`]); `T` needs no `Clone`.
    ///
    /// # Errors
    ///
    /// [`Error::Operation`], naming the connection and the attempts made;
    /// [`Error::InvalidCall`] for named parameters that do not match.
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub async fn fetch_all<T: FromAnyRow>(self) -> Result<Vec<T>, Error> {
        let statement = self.resolved().await?;
        self.conn
            .with_retry("query", self.timeout, |pool| {
                let statement = &statement;
                async move {
                    let mut session = Session::acquire(self.conn, &pool).await?;
                    on_each!(Session, &mut session, s => statement.query_as()?.fetch_all(&mut **s).await)
                }
            })
            .await
    }

    /// The rows as a `T` that decodes on one database only (`DB` is
    /// `sqlx::Postgres`, `sqlx::MySql` or `sqlx::Sqlite`): for fields such as
    /// `BigDecimal`, arrays or `PgInterval`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCall`] if the connection is another database; else as
    /// [`fetch_all`](Query::fetch_all).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, Error};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("on", Config::from_toml("on", "url = 'sqlite::memory:'")?);
    /// #[derive(sqlx::FromRow)]
    /// struct Answer { n: i64 }
    /// let rows: Vec<Answer> = db.query("SELECT 42 AS n").fetch_all_on::<sqlx::Sqlite, _>().await?;
    /// assert_eq!(rows[0].n, 42);
    /// let result = db.query("SELECT 42 AS n").fetch_all_on::<sqlx::Postgres, Answer>().await;
    /// assert!(matches!(result, Err(Error::InvalidCall { .. })));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn fetch_all_on<DB, T>(self) -> Result<Vec<T>, Error>
    where
        DB: SqlDatabase,
        T: for<'r> FromRow<'r, DB::Row> + Send + Unpin + 'static,
        <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
        for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    {
        let statement = self.resolved().await?;
        self.conn.expect_database::<DB>().await?;
        self.conn
            .with_retry("query", self.timeout, |pool| {
                let statement = &statement;
                async move {
                    let Some(native) = DB::pool(&pool) else {
                        // The database changed under a reload: report it as the next call would.
                        return Err(sqlx::Error::Configuration(
                            "the connection now points at another database".into(),
                        ));
                    };
                    let mut session = while_current(self.conn, &pool, native.acquire()).await??;
                    statement.query_as()?.fetch_all(&mut *session).await
                }
            })
            .await
    }

    /// The rows as a [`Table`] of column names and [`Value`]s, for display.
    ///
    /// # Errors
    ///
    /// [`Error::Operation`], naming the connection and the attempts made; a column
    /// of a type [`Value`] does not decode names the column, its type and the
    /// cast to write.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::{SqlConnection, Value};
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
        let statement = self.resolved().await?;
        self.conn
            .with_retry("query", self.timeout, |pool| {
                let statement = &statement;
                async move {
                    let mut session = Session::acquire(self.conn, &pool).await?;
                    on_each!(Session, &mut session, s => table_of!(&mut **s, statement))
                }
            })
            .await
    }

    /// Runs a write (or any statement) and returns the number of rows it
    /// affected. Never cached. A write is retried only when its error shows
    /// the statement never reached the database (no session could be had),
    /// so a retry can never apply it twice; an error after it was sent still
    /// resets a broken connection for the next call.
    ///
    /// # Errors
    ///
    /// [`Error::Operation`], naming the connection and the attempts made.
    ///
    /// # Examples
    ///
    /// See [`SqlConnection`].
    pub async fn execute(self) -> Result<u64, Error> {
        let conn = self.conn;
        let statement = self.resolved().await?;
        let (pool, mut session) = conn
            .with_retry("execute", self.timeout, |pool| async move {
                let session = Session::acquire(conn, &pool).await?;
                Ok((pool, session))
            })
            .await?;
        let result = conn
            .bounded(
                &pool,
                "execute",
                1,
                self.timeout,
                Box::pin(async {
                    on_each!(Session, &mut session, s => async {
                        statement.query()?.execute(&mut **s).await.map(|done| done.rows_affected())
                    }.await)
                }),
            )
            .await?;
        result.map_err(|error| {
            if is_transient(&error) {
                // Not retried (it may have run); the next call reconnects.
                conn.base.reset_if_because(&pool, ResetReason::Retry);
            }
            conn.sql_error("execute", 1, error)
        })
    }
}

/// One pooled session of any database.
enum Session {
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

impl Session {
    /// A session from `pool`, or `PoolClosed` if a reset or reload replaces
    /// the pool while this waits (see [`while_current`]).
    async fn acquire(conn: &SqlConnection, pool: &Arc<Pool>) -> Result<Self, sqlx::Error> {
        Ok(match &**pool {
            Pool::Postgres(p) => Session::Postgres(while_current(conn, pool, p.acquire()).await??),
            Pool::MySql(p) => Session::MySql(while_current(conn, pool, p.acquire()).await??),
            Pool::Sqlite(p) => Session::Sqlite(while_current(conn, pool, p.acquire()).await??),
        })
    }
}

/// How often a wait for a session looks whether its pool was replaced.
const GENERATION_CHECK: Duration = Duration::from_millis(20);

/// Runs `wait` (an acquire on `pool`) unless `pool` stops being current first: a
/// reset or a reload that changed the config replaced the pool, and a query
/// waiting on the old one (say, for `acquire_timeout` on a server that went
/// away) moves to the new one at once, as
/// [`with_retry`](SqlConnection::with_retry) does on this `PoolClosed`.
///
/// A wait that is ready at once (a free session) starts no timer.
pub(crate) async fn while_current<F: Future>(
    conn: &SqlConnection,
    pool: &Arc<Pool>,
    wait: F,
) -> Result<F::Output, sqlx::Error> {
    let mut wait = std::pin::pin!(wait);
    let mut tick: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = wait.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        loop {
            let sleep = tick.get_or_insert_with(|| Box::pin(tokio::time::sleep(GENERATION_CHECK)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The pool itself, not a generation number read after it was
            // handed out: a reset between the two is caught too.
            if !conn.base.is_current(pool) {
                return Poll::Ready(Err(sqlx::Error::PoolClosed));
            }
            tick = None;
        }
    })
    .await
}

impl Query<'_, Cached> {
    /// The rows, each decoded as a `T`, from the cache or read and cached:
    /// shared, so a hit clones no row.
    ///
    /// # Errors
    ///
    /// As [`Query::fetch_all`]; failures are never cached.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("cfa", Config::from_toml("cfa", "url = 'sqlite::memory:'")?);
    /// #[derive(sqlx::FromRow)]
    /// struct N { n: i64 }
    /// let rows = db.query("SELECT 7 AS n").ttl(Duration::from_secs(60)).fetch_all::<N>().await?;
    /// assert_eq!(rows[0].n, 7);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn fetch_all<T: FromAnyRow + Sync>(self) -> Result<Arc<[T]>, Error> {
        let statement = self.resolved().await?;
        let conn = self.conn;
        conn.fetch_cached(&statement, self.ttl, async || {
            // Boxed: the read's future is large, and inline it would be moved
            // with every hit's future too.
            let read = Query::<Fresh>::with(conn, statement.as_ref().clone()).fetch_all();
            let rows: Vec<T> = Box::pin(read).await?;
            Ok(Arc::from(rows))
        })
        .await
    }

    /// The rows as a [`Table`], from the cache or read and cached.
    ///
    /// # Errors
    ///
    /// As [`Query::fetch_table`]; failures are never cached.
    ///
    /// # Examples
    ///
    /// See [`Query::ttl`].
    pub async fn fetch_table(self) -> Result<Arc<Table>, Error> {
        let statement = self.resolved().await?;
        let conn = self.conn;
        conn.fetch_cached(&statement, self.ttl, async || {
            // Boxed, as in `fetch_all`.
            let read = Query::<Fresh>::with(conn, statement.as_ref().clone()).fetch_table();
            Box::pin(read).await.map(Arc::new)
        })
        .await
    }
}

impl<'c> Query<'c, Fresh> {
    /// A fresh query of a resolved statement.
    fn with(conn: &'c SqlConnection, statement: Statement) -> Self {
        Query {
            conn,
            statement,
            ttl: None,
            timeout: None,
            cache: PhantomData,
        }
    }
}

impl<C> fmt::Debug for Query<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters may be secrets of the application's users: not shown.
        f.debug_struct("Query")
            .field("connection", &self.conn.name())
            .field("sql", &self.statement.sql.as_str())
            .field("params", &self.statement.params.len())
            .field(
                "named",
                &self.statement.named.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A statement to run inside a [`Transaction`], from [`Transaction::query`]:
/// the parameters of a [`Query`], and no retry or cache (a transaction's
/// session cannot be swapped, and its reads may be uncommitted).
///
/// # Examples
///
/// See [`Transaction`].
#[must_use = "a query does nothing until fetched or executed"]
pub struct TxQuery<'t> {
    tx: &'t mut Transaction,
    statement: Statement,
}

impl Transaction {
    /// A statement to run in this transaction.
    ///
    /// # Examples
    ///
    /// See [`Transaction`].
    pub fn query(&mut self, sql: impl SqlSafeStr) -> TxQuery<'_> {
        TxQuery {
            tx: self,
            statement: Statement::new(sql),
        }
    }

    fn dialect(&self) -> Dialect {
        match self.tx {
            Tx::Postgres(_) => Dialect::Postgres,
            Tx::MySql(_) => Dialect::MySql,
            Tx::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

impl TxQuery<'_> {
    /// Binds the next positional parameter, as [`Query::bind`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("txb", Config::from_toml("txb", "url = 'sqlite::memory:'")?);
    /// let mut tx = db.begin().await?;
    /// assert_eq!(tx.query("SELECT ? AS x").bind(5).fetch_table().await?.len(), 1);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.statement.params.push(value.into());
        self
    }

    /// Binds a named parameter (`:name`), as [`Query::param`].
    ///
    /// # Examples
    ///
    /// See [`Transaction`].
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.statement.param(name, value.into());
        self
    }

    fn resolved(&self) -> Result<Statement, Error> {
        self.statement
            .clone()
            .resolved(self.tx.dialect())
            .map_err(|problem| Error::InvalidCall {
                name: self.tx.name.clone(),
                operation: "query",
                problem,
            })
    }

    /// The rows, each decoded as a `T`, as [`Query::fetch_all`].
    ///
    /// # Errors
    ///
    /// [`Error::Operation`] (one attempt: a transaction is not retried);
    /// [`Error::InvalidCall`] for named parameters that do not match.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let db = SqlConnection::from_config("txf", Config::from_toml("txf", "url = 'sqlite::memory:'")?);
    /// #[derive(sqlx::FromRow)]
    /// struct N { n: i64 }
    /// let mut tx = db.begin().await?;
    /// let rows: Vec<N> = tx.query("SELECT :n AS n").param("n", 3).fetch_all().await?;
    /// assert_eq!(rows[0].n, 3);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn fetch_all<T: FromAnyRow>(self) -> Result<Vec<T>, Error> {
        let statement = self.resolved()?;
        let rows = on_each!(Tx, &mut self.tx.tx, t => {
            async { statement.query_as()?.fetch_all(&mut **t).await }.await
        });
        rows.map_err(|error| self.tx.error(error))
    }

    /// The rows as a [`Table`], as [`Query::fetch_table`].
    ///
    /// # Errors
    ///
    /// As [`TxQuery::fetch_all`].
    ///
    /// # Examples
    ///
    /// See [`Transaction`].
    pub async fn fetch_table(self) -> Result<Table, Error> {
        let statement = self.resolved()?;
        let table: Result<Table, sqlx::Error> = on_each!(Tx, &mut self.tx.tx, t => {
            async { table_of!(&mut **t, statement) }.await
        });
        table.map_err(|error| self.tx.error(error))
    }

    /// Runs a write and returns the number of rows it affected.
    ///
    /// # Errors
    ///
    /// As [`TxQuery::fetch_all`].
    ///
    /// # Examples
    ///
    /// See [`Transaction`].
    pub async fn execute(self) -> Result<u64, Error> {
        let statement = self.resolved()?;
        let done = on_each!(Tx, &mut self.tx.tx, t => async {
                statement.query()?.execute(&mut **t).await.map(|d| d.rows_affected())
            }.await);
        done.map_err(|error| self.tx.error(error))
    }
}

impl Transaction {
    /// A failure inside the transaction, as an [`Error::Operation`] (no retry: one attempt).
    fn error(&self, error: sqlx::Error) -> Error {
        super::sql_error(&self.name, &self.redactor, "query", 1, error)
    }
}
