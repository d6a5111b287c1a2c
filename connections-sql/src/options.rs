//! Reads a `type = "sql"` connection's configuration (Streamlit's keys and
//! SQLAlchemy's URL forms, driver parameters) into a URL sqlx's native driver
//! for the dialect reads, pool settings and the wait between retries.
//!
//! Nothing here logs or returns a secret: errors and warnings name keys, never
//! values, and [`SqlOptions`]'s `Debug` shows only the URL with its password masked.

use std::fmt::{self, Write as _};
use std::time::Duration;

use toml::Value as Toml;
use url::Url;

use self::driver::Param;
pub(crate) use self::driver::{Tls, tls_unavailable};
use connections_core::Config;
use connections_core::Error;
use connections_core::author::percent_decode;
use connections_core::{Diagnostic, DiagnosticKind};

mod driver;

/// One connect attempt's bound when none is set (libpq's `connect_timeout`).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A statement's bound on a server when none is set: a server that stops
/// answering fails a query in this long. Raise it for long reports.
pub(crate) const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The database family, from the URL's scheme or the `dialect` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl Dialect {
    /// The dialect a SQLAlchemy/sqlx name stands for (lowercase, without a `+driver` part).
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "postgresql" | "postgres" => Some(Dialect::Postgres),
            // sqlx's MySQL driver speaks to MariaDB too.
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }

    /// The dialect's name, as `SqlConnection::dialect` gives it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
            Dialect::MySql => "mysql",
        }
    }

    /// The server's port when none is given.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Dialect::Postgres => 5432,
            Dialect::MySql => 3306,
            Dialect::Sqlite => 0,
        }
    }

    /// The database's name in messages.
    pub(crate) fn product(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }

    /// The URL scheme sqlx's drivers read.
    fn scheme(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }
}

const SUPPORTED_DIALECTS: &str = "`postgresql` (or `postgres`), `mysql`, `mariadb`, `sqlite`";

/// Pool settings; `None` leaves sqlx's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PoolSettings {
    pub max_connections: Option<u32>,
    pub min_connections: Option<u32>,
    pub acquire_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub max_lifetime: Option<Duration>,
    pub test_before_acquire: Option<bool>,
}

/// What [`parse`] makes of a connection's configuration.
///
/// `url` holds the password: it goes to sqlx and nowhere else. `Debug` shows
/// `display_url`, in which the password (and any password-like query
/// parameter) is `***`.
#[derive(Clone)]
pub(crate) struct SqlOptions {
    /// The URL for sqlx, password included; never show it.
    pub url: String,
    /// `url` with its password replaced by `***`, for logs and errors.
    pub display_url: String,
    pub dialect: Dialect,
    pub pool: PoolSettings,
    /// The wait between query retries, key `retry_wait` (seconds), 1 s by default as Streamlit's.
    pub retry_wait: Duration,
    /// An in-memory SQLite database. Each sqlx connection to `sqlite::memory:`
    /// opens a database of its own, so the pool must keep exactly one
    /// connection alive (max 1, min 1, no idle timeout, no max lifetime) or
    /// the data vanishes; SQLAlchemy likewise keeps one connection per thread.
    pub in_memory: bool,
    /// The bound on one connect attempt (`connect_timeout`, 5 s by default); `None` waits indefinitely.
    pub connect_timeout: Option<Duration>,
    /// The bound on one statement, a session's acquire included
    /// (`query_timeout`: 30 s by default on a server, none on SQLite); `None` waits indefinitely.
    pub query_timeout: Option<Duration>,
    /// The TLS asked for.
    pub tls: Tls,
}

impl fmt::Debug for SqlOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlOptions")
            .field("display_url", &self.display_url)
            .field("dialect", &self.dialect)
            .field("pool", &self.pool)
            .field("retry_wait", &self.retry_wait)
            .field("in_memory", &self.in_memory)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// What a connection points at, read back from the URL built for sqlx.
pub(crate) struct Parts {
    /// A host name or address, or a Unix socket's path.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
}

impl SqlOptions {
    /// The host, port, database and user the URL for sqlx names, with the
    /// query parameters that override them (`?host=/socket/dir`, `dbname`, `user`).
    pub(crate) fn parts(&self) -> Parts {
        let Some(url) = Url::parse(&self.url).ok().filter(|_| self.dialect != Dialect::Sqlite) else {
            let file = self
                .url
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default();
            return Parts {
                host: None,
                port: None,
                database: Some(if self.in_memory {
                    ":memory:".to_owned()
                } else {
                    percent_decode(file).unwrap_or_default()
                }),
                username: None,
            };
        };
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let socket = match self.dialect {
            Dialect::MySql => param("socket"),
            _ => param("host")
                .filter(|h| h.starts_with('/'))
                .or_else(|| url.host_str().filter(|h| h.starts_with("%2F")).and_then(percent_decode)),
        };
        let decoded = |s: &str| Some(percent_decode(s).unwrap_or_else(|| s.to_owned())).filter(|s| !s.is_empty());
        let database = match self.dialect {
            Dialect::Postgres => param("dbname"),
            _ => None,
        }
        .or_else(|| decoded(url.path().trim_start_matches('/')));
        let username = param("user").or_else(|| decoded(url.username()));
        match socket {
            Some(socket) => Parts {
                host: Some(socket),
                port: None,
                database,
                username,
            },
            None => Parts {
                host: Some(
                    param("host")
                        .or_else(|| url.host_str().map(str::to_owned))
                        .unwrap_or_else(|| "localhost".to_owned()),
                ),
                port: Some(
                    param("port")
                        .and_then(|p| p.parse().ok())
                        .or(url.port())
                        .unwrap_or(self.dialect.default_port()),
                ),
                database,
                username,
            },
        }
    }

    /// Where the connection goes, for messages: `127.0.0.1:5432`, a socket
    /// path, or a SQLite file. Never shows the user name or password.
    pub(crate) fn endpoint(&self) -> String {
        let parts = self.parts();
        match (parts.host, parts.port) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(socket), None) => format!("socket {socket}"),
            _ if self.in_memory => "an in-memory database".to_owned(),
            _ => format!("file {}", parts.database.unwrap_or_default()),
        }
    }
}

/// The keys that make the URL when there is no `url` key, as Streamlit's.
const URL_PART_KEYS: [&str; 8] = [
    "dialect", "driver", "username", "password", "host", "port", "database", "query",
];

/// Pool settings: (sqlx name, SQLAlchemy `create_engine` name).
const POOL_KEYS: [(&str, Option<&str>); 6] = [
    ("max_connections", Some("pool_size")),
    ("min_connections", None),
    ("acquire_timeout", Some("pool_timeout")),
    ("idle_timeout", None),
    ("max_lifetime", Some("pool_recycle")),
    ("test_before_acquire", Some("pool_pre_ping")),
];

/// SQLAlchemy `create_engine` options that sqlx has no counterpart for.
pub(crate) const SQLALCHEMY_IGNORED: [&str; 24] = [
    "autocommit",
    "case_sensitive",
    "convert_unicode",
    "creator",
    "echo",
    "echo_pool",
    "enable_from_linting",
    "encoding",
    "execution_options",
    "future",
    "hide_parameters",
    "implicit_returning",
    "insertmanyvalues_page_size",
    "isolation_level",
    "json_deserializer",
    "json_serializer",
    "label_length",
    "logging_name",
    "max_overflow",
    "paramstyle",
    "plugins",
    "pool_logging_name",
    "pool_reset_on_return",
    "pool_use_lifo",
];

/// Names people write for a key, and the key they mean.
pub(crate) const ALIASES: [(&str, &str); 14] = [
    ("user", "username"),
    ("usr", "username"),
    ("login", "username"),
    ("passwd", "password"),
    ("pass", "password"),
    ("pwd", "password"),
    ("db", "database"),
    ("dbname", "database"),
    ("database_name", "database"),
    ("hostname", "host"),
    ("server", "host"),
    ("drivername", "dialect"),
    ("uri", "url"),
    ("dsn", "url"),
];

/// Parses a `type = "sql"` connection's configuration.
///
/// `url` wins over the discrete keys; without it, `dialect` is required, and
/// `host` and `username` for servers or `database` (the file) for SQLite.
/// Unknown, near-miss and ignored keys are the settings' to report
/// (`SqlSettings`, checked before a connect); this logs the warnings only it
/// can give (driver parameters it maps or ignores), naming keys only.
///
/// # Errors
///
/// [`Error::MissingKey`] for an empty configuration or a missing required key;
/// [`Error::InvalidValue`] for an unsupported dialect, a malformed URL, or a
/// pool setting or `retry_wait` of the wrong type or range. No error shows a value.
pub(crate) fn parse(config: &Config) -> Result<SqlOptions, Error> {
    let mut notes = Vec::new();
    let parsed = parse_noting(config, &mut notes);
    for note in &notes {
        tracing::warn!(connection = config.name(), "{}", note.message);
    }
    parsed
}

/// As [`parse`], adding its warnings to `notes` instead of logging them.
pub(crate) fn parse_noting(config: &Config, notes: &mut Vec<Diagnostic>) -> Result<SqlOptions, Error> {
    let target = match config.get_opt::<String>("url")? {
        Some(url) => {
            let shadowed: Vec<&str> = URL_PART_KEYS.into_iter().filter(|k| config.contains(k)).collect();
            if !shadowed.is_empty() {
                tracing::debug!(
                    connection = config.name(),
                    "[connections.{}]: `url` is set, so {} are ignored",
                    config.name(),
                    connections_core::author::list_or_none(&shadowed)
                );
            }
            from_url(config, &url, notes)?
        }
        None if URL_PART_KEYS.iter().all(|k| !config.contains(k)) => return Err(no_configuration(config)),
        None => from_keys(config, notes)?,
    };
    let mut target = target;
    let driver = driver_params(config, &mut target, notes)?;
    let pool = pool_settings(config)?;
    let retry_wait = duration(config, "retry_wait")?.unwrap_or(Duration::from_secs(1));
    let connect_timeout = match duration(config, "connect_timeout")? {
        // The top-level key wins; zero waits indefinitely, as libpq's.
        Some(timeout) => Some(timeout).filter(|t| !t.is_zero()),
        None => match driver.connect_timeout {
            Some(driver::ConnectTimeout::Limit(limit)) => Some(limit),
            Some(driver::ConnectTimeout::Unbounded) => None,
            None => Some(DEFAULT_CONNECT_TIMEOUT),
        },
    };
    let query_timeout = match duration(config, "query_timeout")? {
        // Zero waits indefinitely, as `connect_timeout`'s.
        Some(timeout) => Some(timeout).filter(|t| !t.is_zero()),
        // A local file does not fall silent; a long report on it is not cut.
        None if target.dialect == Dialect::Sqlite => None,
        None => Some(DEFAULT_QUERY_TIMEOUT),
    };
    let display_url = display_url(&target.url);
    Ok(SqlOptions {
        url: target.url,
        display_url,
        dialect: target.dialect,
        pool,
        retry_wait,
        in_memory: target.in_memory,
        connect_timeout,
        query_timeout,
        tls: driver.tls,
    })
}

/// Maps the URL's query parameters (or the `query` table) and
/// `create_engine_kwargs.connect_args` to the parameters sqlx reads, in the URL.
fn driver_params(config: &Config, target: &mut Target, notes: &mut Vec<Diagnostic>) -> Result<driver::Mapped, Error> {
    let mut params = Vec::new();
    let mut url = None;
    if target.dialect != Dialect::Sqlite {
        // Ours, built by `from_url` or `from_keys`: it parses.
        let parsed = Url::parse(&target.url)
            .map_err(|e| config.invalid("url".to_owned(), format!("is not a valid URL ({e})")))?;
        let from_url = config.contains("url");
        params.extend(parsed.query_pairs().map(|(name, value)| Param {
            origin: if from_url {
                "url".to_owned()
            } else {
                format!("query.{name}")
            },
            name: name.into_owned(),
            value: Toml::String(value.into_owned()),
        }));
        url = Some(parsed);
    }
    if let Some(args) = config
        .as_table()
        .get("create_engine_kwargs")
        .and_then(|e| e.get("connect_args"))
    {
        let Toml::Table(args) = args else {
            return Err(config.invalid(
                "create_engine_kwargs.connect_args".to_owned(),
                format!(
                    "found {}, expected a table such as `connect_args = {{ sslmode = \"verify-full\" }}`",
                    args.type_str()
                ),
            ));
        };
        params.extend(args.iter().map(|(name, value)| Param {
            origin: format!("create_engine_kwargs.connect_args.{name}"),
            name: name.clone(),
            value: value.clone(),
        }));
    }
    let Some(mut url) = url else {
        return Ok(driver::sqlite(config, &params, notes));
    };
    let mapped = driver::map(config, target.dialect, params, &mut url, notes)?;
    url.set_query(None);
    if !mapped.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&mapped.query);
    }
    target.url = url.into();
    Ok(mapped)
}

/// Whether `new` differs from `old` in its credentials only: the URL's
/// password (written in `url` or as the `password` key) or a credential-named
/// query parameter (`query.password`, a `..token`, see [`is_secret_param`]),
/// with the server, user, database, other parameters, pool and TLS all the
/// same.
pub(crate) fn credentials_only(old: &SqlOptions, new: &SqlOptions) -> bool {
    fn without_credentials(url: &str) -> Option<Url> {
        let mut url = Url::parse(url).ok()?;
        url.set_password(None).ok()?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_secret_param(name))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        Some(url)
    }
    old.url != new.url
        && old.dialect == new.dialect
        && old.pool == new.pool
        && old.retry_wait == new.retry_wait
        && old.in_memory == new.in_memory
        && old.connect_timeout == new.connect_timeout
        && old.tls == new.tls
        && without_credentials(&old.url).is_some_and(|a| without_credentials(&new.url).is_some_and(|b| a == b))
}

/// Whether a URL query parameter holds a credential, by its name: it
/// contains `pass`, `pwd`, `secret` or `token`, in any case.
fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"].iter().any(|s| lower.contains(s))
}

/// The URL for sqlx and what it points at.
struct Target {
    url: String,
    dialect: Dialect,
    in_memory: bool,
}

fn no_configuration(config: &Config) -> Error {
    match config.missing("url") {
        Error::MissingKey {
            key,
            also_missing,
            table,
            location,
        } => Error::MissingKey {
            key,
            also_missing,
            table,
            location: format!(
                "{location}; for example `url = \"postgresql://user@localhost:5432/db\"` or `url = \"sqlite:///app.db\"`, \
                 or the keys `dialect`, `host`, `port`, `username`, `password`, `database` instead of `url`"
            ),
        },
        other => other,
    }
}

// ---------------------------------------------------------------- URL

/// Reads a dialect name (`postgresql+psycopg2`), ignoring any `+driver` part.
fn dialect_named(name: &str) -> Result<Dialect, String> {
    let base = name.split('+').next().unwrap_or(name).to_ascii_lowercase();
    Dialect::from_name(&base).ok_or_else(|| {
        // A dialect name is no secret, but echo it only if it looks like one.
        let shown = if !base.is_empty()
            && base.len() <= 32
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            format!("`{base}`")
        } else {
            "this dialect".to_owned()
        };
        format!("{shown} is not supported; the supported dialects are {SUPPORTED_DIALECTS}")
    })
}

fn from_url(config: &Config, raw: &str, notes: &mut Vec<Diagnostic>) -> Result<Target, Error> {
    let invalid = |problem: String| config.invalid("url".to_owned(), problem);
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once(':').filter(|(scheme, _)| is_scheme(scheme)) else {
        return Err(invalid(
            "found no `dialect:` scheme, expected a URL such as `postgresql://user:password@host:5432/db` \
             or `sqlite:///app.db`"
                .to_owned(),
        ));
    };
    if scheme.eq_ignore_ascii_case("sqlite") {
        return sqlite_from_url(config, rest, notes).map_err(invalid);
    }
    let Some(authority_and_path) = rest.strip_prefix("//") else {
        // Without `//` the "scheme" may be a user name followed by a password.
        return Err(invalid(
            "found no `//` after the scheme, expected a URL such as `postgresql://user:password@host:5432/db`"
                .to_owned(),
        ));
    };
    let dialect = dialect_named(scheme).map_err(invalid)?;
    let url = Url::parse(&format!("{}://{authority_and_path}", dialect.scheme()))
        .map_err(|e| invalid(format!("is not a valid URL ({e})")))?;
    Ok(Target {
        url: url.into(),
        dialect,
        in_memory: false,
    })
}

/// RFC 3986 scheme characters, with `+` for SQLAlchemy's `dialect+driver`.
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Reads the part of a SQLite URL after `sqlite:`, in SQLAlchemy's and sqlx's forms.
fn sqlite_from_url(config: &Config, rest: &str, notes: &mut Vec<Diagnostic>) -> Result<Target, String> {
    let (body, query) = match rest.split_once('?') {
        Some((body, query)) => (body, Some(query)),
        None => (rest, None),
    };
    let encoded = match body.strip_prefix("//") {
        // SQLAlchemy: `sqlite:///app.db` is relative, `sqlite:////abs/app.db`
        // absolute; sqlx: `sqlite://app.db` is relative too.
        Some(after) => after.strip_prefix('/').unwrap_or(after),
        // sqlx: `sqlite:app.db`, `sqlite::memory:`.
        None => body,
    };
    let path = percent_decode(encoded).ok_or("its path is not valid UTF-8 once percent-decoded")?;
    let params = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(sqlite_target(config, &path, params, notes))
}

/// URL query parameters sqlx's SQLite driver reads; it refuses any other.
const SQLITE_PARAMS: [&str; 4] = ["mode", "cache", "immutable", "vfs"];

/// The sqlx URL of a SQLite database: `sqlite::memory:`, or `sqlite:<path>?mode=rwc`.
///
/// sqlx strips `sqlite:` and percent-decodes up to the first `?`, so the path
/// is percent-encoded (`%`, `?`, `#`, spaces...). `mode=rwc` creates the file
/// if it is missing, as SQLAlchemy (and SQLite itself) do.
fn sqlite_target(config: &Config, path: &str, params: Vec<(String, String)>, notes: &mut Vec<Diagnostic>) -> Target {
    let (kept, dropped): (Vec<_>, Vec<_>) = params
        .into_iter()
        .partition(|(k, _)| SQLITE_PARAMS.contains(&k.as_str()));
    if !dropped.is_empty() {
        let names: Vec<&str> = dropped.iter().map(|(k, _)| k.as_str()).collect();
        notes.push(
            Diagnostic::warning(
                DiagnosticKind::IgnoredOption,
                format!(
                    "[connections.{}]: ignoring SQLite URL parameters that sqlx does not read: {}; it reads {}",
                    config.name(),
                    connections_core::author::list_or_none(&names),
                    connections_core::author::list_or_none(&SQLITE_PARAMS)
                ),
            )
            .connection(config.name())
            .keys(vec![if config.contains("url") { "url" } else { "query" }.to_owned()]),
        );
    }
    let in_memory = path.is_empty() || path == ":memory:" || kept.iter().any(|(k, v)| k == "mode" && v == "memory");
    if in_memory {
        return Target {
            url: "sqlite::memory:".to_owned(),
            dialect: Dialect::Sqlite,
            in_memory,
        };
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !kept.iter().any(|(k, _)| k == "mode") {
        query.append_pair("mode", "rwc");
    }
    for (k, v) in &kept {
        query.append_pair(k, v);
    }
    Target {
        url: format!("sqlite:{}?{}", encode_sqlite_path(path), query.finish()),
        dialect: Dialect::Sqlite,
        in_memory,
    }
}

/// Percent-encodes a SQLite path so that sqlx's decoding gives it back
/// unchanged, and so does any `Url::parse` of the URL (a log line's reader).
fn encode_sqlite_path(path: &str) -> String {
    // `sqlite:relative/path` has an opaque path, which `Url::parse` keeps as
    // is; `sqlite:/abs/path` is hierarchical, where it would drop `.`/`..`
    // segments and read `//x` as a host. Encoding the first `/` keeps such a
    // path opaque, and sqlx decodes it back.
    let opaque_first = path.starts_with("//") || path.split('/').any(|s| s == "." || s == "..");
    let mut out = String::with_capacity(path.len());
    for (i, b) in path.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b"-._~/\\:!$&'()*+,;=@".contains(&b);
        if plain && !(i == 0 && b == b'/' && opaque_first) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters (user names, passwords, database names).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The URL with its password and any password-like query parameter as `***`.
fn display_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned(); // SQLite URLs we built; they hold no password
    };
    if parsed.password().is_some() {
        // Cannot fail: the URL has a password, so it has a host.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_param(&k);
                (k.into_owned(), if secret { "***".to_owned() } else { v.into_owned() })
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.into()
}

// ---------------------------------------------------------------- discrete keys

fn from_keys(config: &Config, notes: &mut Vec<Diagnostic>) -> Result<Target, Error> {
    // Every missing key named at once: a server needs a host and a user, SQLite a file.
    let sqlite = config
        .get_opt::<String>("dialect")
        .ok()
        .flatten()
        .is_some_and(|d| dialect_named(&d) == Ok(Dialect::Sqlite));
    config.require(if sqlite {
        &["dialect", "database"]
    } else {
        &["dialect", "host", "username"]
    })?;
    let dialect_name: String = config.get("dialect")?;
    let dialect = dialect_named(&dialect_name).map_err(|p| config.invalid("dialect".to_owned(), p))?;
    // `driver` (`psycopg2`, `pymysql`...) picks a Python module; sqlx has one driver per dialect.
    let _: Option<String> = config.get_opt("driver")?;
    let params = query_params(config)?;
    if dialect == Dialect::Sqlite {
        let path: String = config.get("database")?;
        return Ok(sqlite_target(config, &path, params, notes));
    }
    let host: String = config.get("host")?;
    let username: String = config.get("username")?;
    let password: Option<String> = config.get_opt("password")?;
    let port: Option<u16> = config.get_opt("port")?;
    let database: Option<String> = config.get_opt("database")?;

    let mut text = format!("{}://{}", dialect.scheme(), encode_component(&username));
    if let Some(password) = &password {
        text.push(':');
        text.push_str(&encode_component(password));
    }
    text.push('@');
    let mut params = params;
    if host.starts_with('/') && dialect == Dialect::MySql {
        // A Unix socket: sqlx's MySQL driver takes it as a parameter.
        params.push(("socket".to_owned(), host.clone()));
        text.push_str("localhost");
    } else if host.starts_with('/') {
        // A Unix socket directory: sqlx's PostgreSQL driver reads a host that decodes to `/...` as one.
        text.push_str(&encode_component(&host));
    } else if host.contains(':') && !host.starts_with('[') {
        // IPv6
        let _ = write!(text, "[{host}]");
    } else {
        text.push_str(&host);
    }
    if let Some(port) = port {
        let _ = write!(text, ":{port}");
    }
    text.push('/');
    if let Some(database) = &database {
        text.push_str(&encode_component(database));
    }
    let mut url = Url::parse(&text).map_err(|e| {
        config.invalid(
            "host".to_owned(),
            format!("is not a valid host name or IP address ({e})"),
        )
    })?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Ok(Target {
        url: url.into(),
        dialect,
        in_memory: false,
    })
}

/// The `query` table as URL query parameters, in key order.
fn query_params(config: &Config) -> Result<Vec<(String, String)>, Error> {
    let Some(query) = config.as_table().get("query") else {
        return Ok(Vec::new());
    };
    let Toml::Table(query) = query else {
        return Err(config.invalid(
            "query".to_owned(),
            format!(
                "found {}, expected a table such as `query = {{ sslmode = \"require\" }}`",
                query.type_str()
            ),
        ));
    };
    query
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Toml::String(s) => s.clone(),
                Toml::Integer(i) => i.to_string(),
                Toml::Float(f) => f.to_string(),
                Toml::Boolean(b) => b.to_string(),
                Toml::Datetime(d) => d.to_string(),
                Toml::Array(_) | Toml::Table(_) => {
                    return Err(config.invalid(
                        format!("query.{k}"),
                        format!("found {}, expected a string, number or boolean", v.type_str()),
                    ));
                }
            };
            Ok((k.clone(), value))
        })
        .collect()
}

// ---------------------------------------------------------------- pool

fn pool_settings(config: &Config) -> Result<PoolSettings, Error> {
    if let Some(engine) = config.as_table().get("create_engine_kwargs")
        && !engine.is_table()
    {
        return Err(config.invalid(
            "create_engine_kwargs".to_owned(),
            format!(
                "found {}, expected a table such as `create_engine_kwargs = {{ pool_size = 5 }}`",
                engine.type_str()
            ),
        ));
    }
    let [max, min, acquire, idle, lifetime, test] = POOL_KEYS;
    let pool = PoolSettings {
        max_connections: pool_value(config, max, Config::get_opt::<u32>)?,
        min_connections: pool_value(config, min, Config::get_opt::<u32>)?,
        acquire_timeout: pool_value(config, acquire, duration)?,
        idle_timeout: pool_value(config, idle, duration)?,
        max_lifetime: pool_value(config, lifetime, duration)?,
        test_before_acquire: pool_value(config, test, Config::get_opt::<bool>)?,
    };
    if let Some((key, 0)) = pool_key(config, max).zip(pool.max_connections) {
        return Err(config.invalid(key, "found 0, expected at least 1 connection".to_owned()));
    }
    if let (Some(min), Some(max)) = (pool.min_connections, pool.max_connections)
        && min > max
        && let Some(key) = pool_key(config, POOL_KEYS[1])
    {
        return Err(config.invalid(
            key,
            "is larger than the pool's maximum (`max_connections` or `pool_size`); lower it or raise the maximum"
                .to_owned(),
        ));
    }
    Ok(pool)
}

/// Where a pool setting may be written, first one wins: top level (sqlx name,
/// then SQLAlchemy name), then `create_engine_kwargs` (likewise).
fn pool_candidates((name, alias): (&str, Option<&str>)) -> Vec<String> {
    let names: Vec<&str> = std::iter::once(name).chain(alias).collect();
    let mut out: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    out.extend(names.iter().map(|n| format!("create_engine_kwargs.{n}")));
    out
}

/// The key a pool setting was read from, if it is set.
fn pool_key(config: &Config, setting: (&str, Option<&str>)) -> Option<String> {
    pool_candidates(setting).into_iter().find(|k| config.contains(k))
}

fn pool_value<T>(
    config: &Config,
    setting: (&str, Option<&str>),
    read: impl Fn(&Config, &str) -> Result<Option<T>, Error>,
) -> Result<Option<T>, Error> {
    let set: Vec<String> = pool_candidates(setting)
        .into_iter()
        .filter(|k| config.contains(k))
        .collect();
    let Some(first) = set.first() else {
        return Ok(None);
    };
    if set.len() > 1 {
        tracing::debug!(
            connection = config.name(),
            "[connections.{}]: `{first}` is used; {} set the same pool setting and are ignored",
            config.name(),
            connections_core::author::list_or_none(&set[1..])
        );
    }
    read(config, first)
}

/// Reads a number of seconds (integer or float, zero or more).
fn duration(config: &Config, key: &str) -> Result<Option<Duration>, Error> {
    let Some(secs) = config.get_opt::<f64>(key)? else {
        return Ok(None);
    };
    connections_core::author::seconds_to_duration(secs)
        .map(Some)
        .map_err(|problem| {
            config.invalid(
                key.to_owned(),
                format!("found a number that is {problem}, expected a number of seconds, zero or more"),
            )
        })
}

#[cfg(test)]
mod tests;
