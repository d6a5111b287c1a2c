//! Reading a `type = "redis"` section: the URL or the discrete keys, and the
//! timeouts, into what the driver connects with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
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
    /// The `tls` table's files, if it has any.
    pub(crate) tls: TlsFiles,
}

/// The files of a `tls` table.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// The certificates to trust instead of Mozilla's roots.
    pub(crate) ca_file: Option<PathBuf>,
    /// A client certificate and its key, both or neither.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
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

    /// Whether it speaks TLS (`rediss://`, or a `tls` table).
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.info.addr(), ConnectionAddr::TcpTls { .. })
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
        && before.tls == after.tls
        && b.db() == a.db()
        && b.protocol() == a.protocol()
        && before.connect_timeout == after.connect_timeout
        && before.response_timeout == after.response_timeout
}

/// Reads `config`: the `url` if there is one, else `host`, `port`, `db`,
/// `username` and `password`; then the timeouts.
pub(crate) fn parse(config: &Config) -> Result<RedisOptions, Error> {
    let tls = tls(config)?;
    let info = match config.get_opt::<String>("url")? {
        Some(url) => from_url(config, &url)?,
        None => from_keys(config, config.contains("tls"))?,
    };
    let options = RedisOptions {
        info,
        connect_timeout: seconds(config, "connect_timeout")?.unwrap_or(CONNECT_TIMEOUT),
        response_timeout: seconds(config, "response_timeout")?.unwrap_or(RESPONSE_TIMEOUT),
        tls,
    };
    if config.contains("tls") && !options.is_tls() {
        return Err(config.invalid(
            "tls",
            "sets TLS options, but `url` is `redis://` or `unix://`, which would send every command in plaintext; write `rediss://` for TLS, or remove the `tls` table",
        ));
    }
    Ok(options)
}

/// The `tls` table: `ca_file`, `client_cert` and `client_key`.
fn tls(config: &Config) -> Result<TlsFiles, Error> {
    let Some(mut table) = config.get_opt::<BTreeMap<String, toml_value::Value>>("tls")? else {
        return Ok(TlsFiles::default());
    };
    let mut path = |key: &str| -> Result<Option<PathBuf>, Error> {
        match table.remove(key) {
            None => Ok(None),
            Some(toml_value::Value::String(path)) => Ok(Some(PathBuf::from(path))),
            Some(toml_value::Value::Other(_)) => {
                Err(config.invalid(format!("tls.{key}"), "should be a string: a PEM file's path"))
            }
        }
    };
    let ca_file = path("ca_file")?;
    let client = match (path("client_cert")?, path("client_key")?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(config.invalid(
                "tls.client_cert",
                "is set without `client_key`; a client certificate needs its private key: add `client_key`",
            ));
        }
        (None, Some(_)) => {
            return Err(config.invalid(
                "tls.client_key",
                "is set without `client_cert`; add the certificate it belongs to as `client_cert`",
            ));
        }
    };
    if let Some(key) = table.keys().next() {
        let problem = if key == "min_version" {
            "cannot be honoured: the driver's TLS negotiates 1.2 or 1.3 and takes no limit; remove it"
        } else {
            "is not a TLS setting of this connection; write `ca_file`, `client_cert` or `client_key`"
        };
        return Err(config.invalid(format!("tls.{key}"), problem));
    }
    Ok(TlsFiles { ca_file, client })
}

/// The values a `tls` table holds, read without knowing their kinds first.
mod toml_value {
    use serde::Deserialize;

    /// A TOML value, as far as the `tls` table needs.
    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Value {
        String(String),
        Other(serde::de::IgnoredAny),
    }
}

fn from_url(config: &Config, url: &str) -> Result<ConnectionInfo, Error> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "redis" | "rediss" | "unix" | "redis+unix" => {}
        _ => {
            return Err(config.invalid(
                "url",
                "is not a Redis URL; write `redis://[username:password@]host[:port][/db]`, `rediss://` for TLS, or `unix:///path/to/redis.sock`",
            ));
        }
    }
    if scheme == "rediss" && url.contains('#') {
        return Err(config.invalid(
            "url",
            "has a fragment (`#insecure` turns certificate checks off), which this connection never does; trust a private CA with `ca_file` in the `tls` table instead",
        ));
    }
    // The driver's message would quote the URL, password included: only the shape is said.
    url.into_connection_info().map_err(|_| {
        config.invalid(
            "url",
            "could not be read as a Redis URL; write `redis://[username:password@]host[:port][/db]` (a password with `@`, `:` or `/` percent-encoded)",
        )
    })
}

fn from_keys(config: &Config, tls: bool) -> Result<ConnectionInfo, Error> {
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
    let addr = if tls {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port)
    };
    let info = addr
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
