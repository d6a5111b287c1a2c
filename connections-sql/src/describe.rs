//! [`Description`]: what a [`SqlConnection`](super::SqlConnection) connects
//! to and how, resolved from its configuration, for logs and support.

use std::fmt;
use std::time::Duration;

use super::options::SqlOptions;

/// The resolved settings of a [`SqlConnection`](super::SqlConnection), from
/// [`describe`](super::SqlConnection::describe): the dialect, where it
/// connects, the TLS mode, and the pool with sqlx's defaults filled in.
///
/// It holds no secret: the password is not in it, and `url` shows it as `***`.
/// `Display` writes one line of `key=value` pairs, for a log.
///
/// # Examples
///
/// ```
/// use connections_core::{Config, Connection};
/// use connections_sql::SqlConnection;
///
/// let config = Config::from_toml(
///     "shop",
///     "url = 'postgresql://app:hunter2@db.internal/shop'\npool_size = 4\n\
///      create_engine_kwargs = { connect_args = { sslmode = 'require' } }",
/// )?;
/// let described = SqlConnection::from_config("shop", config).describe()?;
/// assert_eq!(described.host.as_deref(), Some("db.internal"));
/// assert_eq!((described.port, described.max_connections), (Some(5432), 4));
/// assert_eq!((described.tls_mode, described.tls_required), ("require", true));
/// let line = described.to_string();
/// assert!(line.starts_with("dialect=postgresql host=db.internal port=5432 database=shop username=app tls=require"), "{line}");
/// assert!(!line.contains("hunter2") && line.contains("url=postgres://app:***@db.internal/shop?sslmode=require"), "{line}");
/// # Ok::<(), connections_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// `"postgresql"`, `"mysql"` or `"sqlite"`.
    pub dialect: &'static str,
    /// The server's host name or address, or its Unix socket; `None` for SQLite.
    pub host: Option<String>,
    /// The server's port (the dialect's default when none is written); `None`
    /// for SQLite and sockets.
    pub port: Option<u16>,
    /// The database (for SQLite, the file, or `:memory:`).
    pub database: Option<String>,
    /// The user name; `None` for SQLite.
    pub username: Option<String>,
    /// The TLS mode in the driver's words (`prefer`, `verify-full`,
    /// `PREFERRED`, `VERIFY_IDENTITY`), `none` for SQLite.
    pub tls_mode: &'static str,
    /// Whether the connect fails rather than go without TLS.
    pub tls_required: bool,
    /// The bound on one connect attempt; `None` waits indefinitely.
    pub connect_timeout: Option<Duration>,
    /// The bound on one statement; `None` waits indefinitely.
    pub query_timeout: Option<Duration>,
    /// The wait between retries of a transient error.
    pub retry_wait: Duration,
    /// The pool's maximum number of sessions.
    pub max_connections: u32,
    /// The sessions the pool keeps open when idle.
    pub min_connections: u32,
    /// How long a query waits for a free session.
    pub acquire_timeout: Duration,
    /// How long an idle session is kept; `None`: for ever.
    pub idle_timeout: Option<Duration>,
    /// A session's longest life; `None`: no limit.
    pub max_lifetime: Option<Duration>,
    /// Whether a session is pinged before each use.
    pub test_before_acquire: bool,
    /// The URL sqlx connects with, its password and secret parameters as `***`.
    pub url: String,
}

impl Description {
    pub(super) fn new(options: &SqlOptions) -> Self {
        let pool = super::pool_options::<sqlx::Sqlite>(options);
        let parts = options.parts();
        Description {
            dialect: options.dialect.name(),
            host: parts.host,
            port: parts.port,
            database: parts.database,
            username: parts.username,
            tls_mode: options.tls.mode,
            tls_required: options.tls.required,
            connect_timeout: options.connect_timeout,
            query_timeout: options.query_timeout,
            retry_wait: options.retry_wait,
            max_connections: pool.get_max_connections(),
            min_connections: pool.get_min_connections(),
            acquire_timeout: pool.get_acquire_timeout(),
            idle_timeout: pool.get_idle_timeout(),
            max_lifetime: pool.get_max_lifetime(),
            test_before_acquire: pool.get_test_before_acquire(),
            url: options.display_url.clone(),
        }
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn or_dash<T: fmt::Display>(value: Option<&T>) -> String {
            value.map_or_else(|| "-".to_owned(), ToString::to_string)
        }
        fn secs(value: Option<Duration>) -> String {
            value.map_or_else(|| "none".to_owned(), |d| format!("{d:?}"))
        }
        write!(
            f,
            "dialect={} host={} port={} database={} username={} tls={} tls_required={} connect_timeout={} \
             query_timeout={} max_connections={} min_connections={} acquire_timeout={:?} idle_timeout={} max_lifetime={} \
             test_before_acquire={} retry_wait={:?} url={}",
            self.dialect,
            or_dash(self.host.as_ref()),
            or_dash(self.port.as_ref()),
            or_dash(self.database.as_ref()),
            or_dash(self.username.as_ref()),
            self.tls_mode,
            self.tls_required,
            secs(self.connect_timeout),
            secs(self.query_timeout),
            self.max_connections,
            self.min_connections,
            self.acquire_timeout,
            secs(self.idle_timeout),
            secs(self.max_lifetime),
            self.test_before_acquire,
            self.retry_wait,
            self.url,
        )
    }
}
