//! Reading a `type = "redis"` section: the URL or the discrete keys, and the
//! timeouts, into what the driver connects with.

use std::fmt;
use std::time::Duration;

use connections_core::author::seconds_to_duration;
use connections_core::{Config, Error, Secret};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

/// One connect attempt's default bound.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A command's default bound: a server that stops answering fails a call
/// in this long instead of holding it until the operating system gives up.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A section, read.
pub(crate) struct RedisOptions {
    pub(crate) info: ConnectionInfo,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
}

impl RedisOptions {
    /// Where it connects: `host:port`, or the socket's path.
    pub(crate) fn endpoint(&self) -> Endpoint<'_> {
        Endpoint(self.info.addr())
    }

    /// The ACL user it logs in as, `default` when none is named.
    pub(crate) fn user(&self) -> &str {
        self.info.redis_settings().username().unwrap_or("default")
    }
}

/// Where a connection goes, for messages: never a credential.
pub(crate) struct Endpoint<'a>(&'a ConnectionAddr);

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => write!(f, "{host}:{port}"),
            ConnectionAddr::Unix(path) => write!(f, "{}", path.display()),
            // The enum is non-exhaustive; a new kind of address still names itself.
            other => write!(f, "{other}"),
        }
    }
}

/// Whether `before` and `after` differ in their credentials alone (the
/// user, the password), not in where, which database or how long.
pub(crate) fn credentials_only(before: &RedisOptions, after: &RedisOptions) -> bool {
    let (b, a) = (before.info.redis_settings(), after.info.redis_settings());
    before.info.addr() == after.info.addr()
        && b.db() == a.db()
        && b.protocol() == a.protocol()
        && before.connect_timeout == after.connect_timeout
        && before.response_timeout == after.response_timeout
}

/// Reads `config`: the `url` if there is one, else `host`, `port`, `db`,
/// `username` and `password`; then the timeouts.
pub(crate) fn parse(config: &Config) -> Result<RedisOptions, Error> {
    let info = match config.get_opt::<String>("url")? {
        Some(url) => from_url(config, &url)?,
        None => from_keys(config)?,
    };
    Ok(RedisOptions {
        info,
        connect_timeout: seconds(config, "connect_timeout")?.unwrap_or(CONNECT_TIMEOUT),
        response_timeout: seconds(config, "response_timeout")?.unwrap_or(RESPONSE_TIMEOUT),
    })
}

fn from_url(config: &Config, url: &str) -> Result<ConnectionInfo, Error> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "redis" | "unix" | "redis+unix" => {}
        "rediss" => {
            return Err(config.invalid(
                "url",
                "asks for TLS (`rediss://`), which this version of connections-redis cannot speak; it is refused rather than sent in plaintext: connect over a trusted network with `redis://`, or through a TLS tunnel",
            ));
        }
        _ => {
            return Err(config.invalid(
                "url",
                "is not a Redis URL; write `redis://[username:password@]host[:port][/db]` or `unix:///path/to/redis.sock`",
            ));
        }
    }
    // The driver's message would quote the URL, password included: only the shape is said.
    url.into_connection_info().map_err(|_| {
        config.invalid(
            "url",
            "could not be read as a Redis URL; write `redis://[username:password@]host[:port][/db]` (a password with `@`, `:` or `/` percent-encoded)",
        )
    })
}

fn from_keys(config: &Config) -> Result<ConnectionInfo, Error> {
    let host = config
        .get_opt::<String>("host")?
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = config.get_opt::<u16>("port")?.unwrap_or(6379);
    let db = config.get_opt::<i64>("db")?.unwrap_or(0);
    if db < 0 {
        return Err(config.invalid("db", "is negative; a Redis database is numbered from 0"));
    }
    let mut redis = RedisConnectionInfo::default().set_db(db);
    if let Some(username) = config.get_opt::<String>("username")? {
        redis = redis.set_username(username);
    }
    if let Some(password) = config.get_opt::<Secret<String>>("password")? {
        redis = redis.set_password(password.expose());
    }
    let info = ConnectionAddr::Tcp(host, port)
        .into_connection_info()
        .map_err(|error| config.invalid("host", error.to_string()))?;
    Ok(info.set_redis_settings(redis))
}

/// A timeout in seconds, as `key` writes it.
fn seconds(config: &Config, key: &str) -> Result<Option<Duration>, Error> {
    config
        .get_opt::<f64>(key)?
        .map(|s| match seconds_to_duration(s) {
            Ok(limit) if limit.is_zero() => Err(config.invalid(
                key,
                "is zero, which would fail every call; write a number of seconds, e.g. 5",
            )),
            Ok(limit) => Ok(limit),
            Err(problem) => Err(config.invalid(key, format!("is {problem}; write a number of seconds, e.g. 5"))),
        })
        .transpose()
}
