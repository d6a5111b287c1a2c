//! [`Pool`] and [`Transaction`]: sqlx's native pool and transaction of the
//! connection's database, behind one type each.

use sqlx::{MySql, Postgres, Sqlite};

/// Runs `$body` with `$p` bound to the native pool (or transaction, or
/// anything else with the three variants), whatever the database: the body is
/// compiled once per driver.
macro_rules! on_each {
    ($enum:ident, $value:expr, $p:ident => $body:expr) => {
        match $value {
            $enum::Postgres($p) => $body,
            $enum::MySql($p) => $body,
            $enum::Sqlite($p) => $body,
        }
    };
}
pub(crate) use on_each;

/// The sqlx pool of a [`SqlConnection`](super::SqlConnection): PostgreSQL,
/// MySQL/MariaDB or SQLite, each on its native driver.
///
/// [`SqlConnection::pool`](super::SqlConnection::pool) gives it, for what sqlx
/// does beyond [`query`](super::SqlConnection::query): streams, `COPY`,
/// `LISTEN`, database-specific types. Match on it, or take the variant you
/// configured with [`as_postgres`](Pool::as_postgres) and its siblings.
///
/// # Examples
///
/// ```
/// # use connections_core::{Config, Connection};
/// # use connections_sql::SqlConnection;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let db = SqlConnection::from_config("mem", Config::from_toml("mem", "url = 'sqlite::memory:'")?);
/// let pool = db.pool().await?;
/// let sqlite = pool.as_sqlite().expect("configured as SQLite");
/// let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(sqlite).await.unwrap();
/// assert_eq!(one, 1);
/// assert!(pool.as_postgres().is_none());
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Pool {
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB.
    MySql(sqlx::MySqlPool),
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
}

impl Pool {
    /// Whether every session the pool may open is open and in use: a wait
    /// for one is then a wait for a free session, not for the server.
    pub(crate) fn saturated(&self) -> bool {
        fn full<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> bool {
            pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
        }
        match self {
            Pool::Postgres(pool) => full(pool),
            Pool::MySql(pool) => full(pool),
            Pool::Sqlite(pool) => full(pool),
        }
    }

    /// The PostgreSQL pool, if this is one.
    ///
    /// # Examples
    ///
    /// See [`Pool`].
    pub fn as_postgres(&self) -> Option<&sqlx::PgPool> {
        match self {
            Pool::Postgres(pool) => Some(pool),
            _ => None,
        }
    }

    /// The MySQL/MariaDB pool, if this is one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("mem", Config::from_toml("mem", "url = 'sqlite::memory:'")?);
    /// assert!(db.pool().await?.as_mysql().is_none());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn as_mysql(&self) -> Option<&sqlx::MySqlPool> {
        match self {
            Pool::MySql(pool) => Some(pool),
            _ => None,
        }
    }

    /// The SQLite pool, if this is one.
    ///
    /// # Examples
    ///
    /// See [`Pool`].
    pub fn as_sqlite(&self) -> Option<&sqlx::SqlitePool> {
        match self {
            Pool::Sqlite(pool) => Some(pool),
            _ => None,
        }
    }

    /// Closes the pool: new acquires fail, and each session says goodbye to
    /// the server once returned (sqlx's `Pool::close`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("mem", Config::from_toml("mem", "url = 'sqlite::memory:'")?);
    /// let pool = db.pool().await?;
    /// pool.close().await;
    /// assert!(pool.is_closed());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn close(&self) {
        on_each!(Pool, self, pool => pool.close().await);
    }

    /// Whether [`close`](Pool::close) has been called on this pool or a clone of it.
    ///
    /// # Examples
    ///
    /// See [`close`](Pool::close).
    pub fn is_closed(&self) -> bool {
        on_each!(Pool, self, pool => pool.is_closed())
    }
}

/// A transaction on a [`SqlConnection`](super::SqlConnection)'s database, from
/// [`begin`](super::SqlConnection::begin): it rolls back when dropped unless
/// [`commit`](Transaction::commit)ted.
///
/// Run statements in it with [`query`](Transaction::query), which takes the
/// same parameters as [`SqlConnection::query`](super::SqlConnection::query)
/// on every database, or reach sqlx's own transaction with
/// [`as_postgres`](Transaction::as_postgres) and its siblings.
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
/// assert_eq!(tx.query("SELECT x FROM t").fetch_table().await?.len(), 1);
/// tx.rollback().await?;
/// assert!(db.query("SELECT x FROM t").fetch_table().await?.is_empty());
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
pub struct Transaction {
    pub(crate) tx: Tx,
    /// The connection's name, for errors.
    pub(crate) name: String,
    /// Redacts the connection's secrets from errors.
    pub(crate) redactor: connections_core::author::Redactor,
}

/// sqlx's transaction, on whichever database.
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    MySql(sqlx::Transaction<'static, MySql>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match self.tx {
            Tx::Postgres(_) => "postgresql",
            Tx::MySql(_) => "mysql",
            Tx::Sqlite(_) => "sqlite",
        };
        f.debug_struct("Transaction")
            .field("connection", &self.name)
            .field("database", &database)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    /// Commits the transaction.
    ///
    /// # Errors
    ///
    /// [`Error::Operation`](connections_core::Error::Operation) if the database refused or the session broke.
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
    /// tx.query("INSERT INTO t VALUES (1)").execute().await?;
    /// tx.commit().await?;
    /// assert_eq!(db.query("SELECT x FROM t").fetch_table().await?.len(), 1);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn commit(self) -> Result<(), connections_core::Error> {
        let (name, redactor) = (self.name, self.redactor);
        let done = on_each!(Tx, self.tx, tx => tx.commit().await);
        done.map_err(|error| super::sql_error(&name, &redactor, "commit", 1, error))
    }

    /// Rolls the transaction back (dropping it does too).
    ///
    /// # Errors
    ///
    /// [`Error::Operation`](connections_core::Error::Operation) if the session broke.
    ///
    /// # Examples
    ///
    /// See [`Transaction`].
    pub async fn rollback(self) -> Result<(), connections_core::Error> {
        let (name, redactor) = (self.name, self.redactor);
        let done = on_each!(Tx, self.tx, tx => tx.rollback().await);
        done.map_err(|error| super::sql_error(&name, &redactor, "rollback", 1, error))
    }

    /// sqlx's PostgreSQL transaction, if this is one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_sql::SqlConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let db = SqlConnection::from_config("tx", Config::from_toml("tx", "url = 'sqlite::memory:'")?);
    /// let mut tx = db.begin().await?;
    /// assert!(tx.as_postgres().is_none() && tx.as_mysql().is_none());
    /// let sqlite = tx.as_sqlite().expect("configured as SQLite");
    /// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut **sqlite).await.unwrap();
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn as_postgres(&mut self) -> Option<&mut sqlx::Transaction<'static, Postgres>> {
        match &mut self.tx {
            Tx::Postgres(tx) => Some(tx),
            _ => None,
        }
    }

    /// sqlx's MySQL/MariaDB transaction, if this is one.
    ///
    /// # Examples
    ///
    /// See [`as_postgres`](Transaction::as_postgres).
    pub fn as_mysql(&mut self) -> Option<&mut sqlx::Transaction<'static, MySql>> {
        match &mut self.tx {
            Tx::MySql(tx) => Some(tx),
            _ => None,
        }
    }

    /// sqlx's SQLite transaction, if this is one.
    ///
    /// # Examples
    ///
    /// See [`as_postgres`](Transaction::as_postgres).
    pub fn as_sqlite(&mut self) -> Option<&mut sqlx::Transaction<'static, Sqlite>> {
        match &mut self.tx {
            Tx::Sqlite(tx) => Some(tx),
            _ => None,
        }
    }
}
