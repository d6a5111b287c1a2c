//! Redis, on the `redis` crate's multiplexed connection with automatic
//! reconnect.
//!
//! [`RedisConnection`] is `type = "redis"`: its `instance()` is the driver's
//! [`ConnectionManager`], for any command,
//! and it has typed helpers for the common ones
//! ([`get`](RedisConnection::get), [`set`](RedisConnection::set),
//! [`del`](RedisConnection::del), [`incr`](RedisConnection::incr), hashes).
//!
//! Why `ConnectionManager` and not a pool: Redis answers one connection's
//! commands in order, so one multiplexed connection carries every
//! concurrent call of a process without waiting for a free session; the
//! manager reconnects by itself, with backoff, after the connection drops.
//! A pool would add a session per concurrent call and a checkout per call.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use connections_core::author::{Redacted, Redactor, ResetReason};
use connections_core::{BaseConnection, BoxError, Config, Connection, Diagnostic, Error};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, ToRedisArgs, ToSingleRedisArg};

use self::credentials::Credentials;
use self::options::RedisOptions;
use connections_core::author::ReadCache;

mod credentials;
mod options;
mod settings;
mod tls;

/// How long [`Registry::check`](connections_core::Registry::check) waits for a
/// `RedisConnection`'s `PING`, its connect included.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts in all for a helper whose command can be sent twice without
/// harm, when the connection broke under it (the server restarted, or
/// `CLIENT KILL`): the manager reconnects, and the next attempt waits for it.
const ATTEMPTS: u32 = 3;

/// Whether a helper's command may be sent again after the connection broke
/// under it: a read, or a write of a value that lands the same twice; not
/// `INCRBY`, which the server may have applied before the reply was lost.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resend {
    Safe,
    Never,
}

/// Redis: one multiplexed connection per `[connections.<name>]` section,
/// reconnected by the driver when it drops.
///
/// Configure it with a `url` (`redis://[username:password@]host[:port][/db]`,
/// `rediss://` for TLS, or `unix:///path/to/redis.sock`) or the keys `host`
/// (default `127.0.0.1`), `port` (6379), `db` (0), `username` and `password`;
/// a `tls` table (`ca_file`, the roots to trust instead of Mozilla's;
/// `client_cert` and `client_key`, PEM files) turns TLS on for the keys and
/// needs `rediss://` with a `url`;
/// `connect_timeout` (seconds, default 5) bounds one connect attempt and
/// `response_timeout` (seconds, default 5) one command, so a server that
/// stops answering fails a call instead of holding it; that call resets the
/// connection, so the silent session is dropped and the next call connects
/// anew. A TLS setting it cannot honour (a `tls` table on `redis://`,
/// `#insecure`, `min_version`, a file it cannot read) is an error, never a
/// plaintext or unverified connection. The driver's TLS uses the process's
/// rustls provider, and installs ring as it if the application has none.
///
/// It is async and runs on tokio, as the driver does. Errors name the
/// connection, the server and the ACL user, never the password. When the
/// connection breaks under a helper (a server restart, `CLIENT KILL`), the
/// driver reconnects and the helper sends its command again, 3 attempts in
/// all, except [`incr`](RedisConnection::incr), which may have been applied.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
/// use connections_redis::RedisConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // `.ci/run` sets this to the local server; without it there is nothing to talk to.
/// let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else { return Ok(()) };
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", format!("[connections.cache]\ntype = 'redis'\nurl = '{url}'"))
///     .build();
/// let cache = registry.connection::<RedisConnection>("cache")?;
/// cache.set("doc:greeting", "hello", Some(std::time::Duration::from_secs(60))).await?;
/// assert_eq!(cache.get::<String>("doc:greeting").await?.as_deref(), Some("hello"));
/// cache.del("doc:greeting").await?;
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Connection)]
// `block_on`: the driver needs a tokio runtime wherever it connects (the doctor's `--connect`);
// `settings`: the keys, checked before a connect and in the secrets schema;
// `diagnose`: what a schema cannot say (the URL's scheme, TLS it cannot honour).
#[connection(
    type_name = "redis",
    async,
    settings = settings::RedisSettings,
    diagnose = RedisConnection::diagnose,
    block_on = block_on
)]
pub struct RedisConnection {
    base: BaseConnection<ConnectionManager>,
    /// Where the current instance connected, for the messages of its calls.
    target: Mutex<Option<Target>>,
    /// The reads of [`cached`](RedisConnection::cached). Held for a lookup
    /// or an insert, never across a command.
    reads: Mutex<ReadCache>,
    /// The current instance's credentials, when the section has a password:
    /// a reload that changes only them rotates them in place.
    credentials: Mutex<Option<Credentials>>,
}

/// Where a connection goes, and the bound of its commands: what its errors say.
#[derive(Clone)]
struct Target {
    endpoint: String,
    user: String,
    response_timeout: Duration,
}

/// Drives a future on a current-thread tokio runtime of its own: how the
/// doctor's `--connect` connects and checks a `RedisConnection` where no
/// runtime runs.
fn block_on(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future);
    Ok(())
}

impl RedisConnection {
    /// What can be told about a `redis` section without connecting: the
    /// error a connect would fail with first (a URL that is not Redis's,
    /// TLS it cannot honour, a timeout that is not a number of seconds).
    fn diagnose(config: &Config) -> Vec<Diagnostic> {
        match options::parse(config) {
            Ok(_) => Vec::new(),
            Err(error) => vec![Diagnostic::from_error(&error)],
        }
    }

    async fn _connect(&self, config: &Config) -> Result<ConnectionManager, Error> {
        let options = options::parse(config)?;
        let target = Target {
            endpoint: options.endpoint().to_string(),
            user: options.user().to_owned(),
            response_timeout: options.response_timeout,
        };
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = Some(target);
        // The section may point elsewhere now (a reload): no read of before is served.
        self.reads().forget_all();
        tracing::debug!(settings = %Description::new(&options), "connecting");
        let client = if options.is_tls() {
            tls::client(config, &options)?
        } else {
            redis::Client::open(options.info.clone()).map_err(|error| self.connect_error(&options, error))?
        };
        // No retries of the first connect: its error is the real cause, at
        // once, and the next call tries again. Later drops reconnect in the
        // background, as the manager does.
        let mut manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(0);
        // With a password, the driver takes the credentials from a stream:
        // a rotation then reaches new sessions and the live one alike.
        let credentials = options
            .info
            .redis_settings()
            .password()
            .map(|password| Credentials::new(options.user(), password));
        if let Some(credentials) = &credentials {
            manager = manager.set_credentials_provider(credentials.clone());
        }
        *self.credentials.lock().unwrap_or_else(PoisonError::into_inner) = credentials;
        ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(|error| self.connect_error(&options, error))
    }

    /// A failed connect, with where it went, as whom, and what to check.
    fn connect_error(&self, options: &RedisOptions, error: redis::RedisError) -> Error {
        let hint = if error.kind() == redis::ErrorKind::AuthenticationFailed {
            format!(
                " (authentication failed for user `{}`: check `password`, and `username` if the server has ACL users)",
                options.user()
            )
        } else if error.is_timeout() {
            format!(
                " (no answer within `connect_timeout` ({} s): is the host reachable, and the port Redis's?)",
                options.connect_timeout.as_secs_f64()
            )
        } else if error.is_connection_refusal() {
            " (refused: is Redis running there?)".to_owned()
        } else {
            String::new()
        };
        // Not `redis_error`: the hint above already says what a command's message would add.
        let mut error = command_error(self.name(), &self.base().redactor(), None, "connect", error);
        if let Error::Operation { message, .. } = &mut error {
            *message = format!("could not connect to Redis at {}: {message}{hint}", options.endpoint());
        }
        error
    }

    /// A failed command, its message redacted; a server that stopped
    /// answering is said to have, with where it is.
    fn redis_error(&self, operation: &'static str, error: redis::RedisError) -> Error {
        command_error(self.name(), &self.base().redactor(), self.target(), operation, error)
    }

    /// A call past its own `.timeout()`: the server stopped answering, as
    /// far as the caller is concerned.
    fn call_timed_out(&self, operation: &'static str, attempts: u32, limit: Duration) -> Error {
        let endpoint = self
            .target()
            .map_or_else(|| "the server".to_owned(), |target| target.endpoint);
        let message = format!(
            "the server at {endpoint} stopped answering: no reply within the call's `.timeout()` ({} s)",
            limit.as_secs_f64()
        );
        let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, message.clone());
        Error::Operation {
            name: self.name().to_owned(),
            operation,
            attempts,
            source: Arc::new(Redacted::new(message.clone(), cause)),
            message,
        }
    }

    /// The helpers with no bound but the section's `response_timeout`.
    fn calls(&self, timeout: Option<Duration>) -> WithTimeout<'_> {
        WithTimeout { conn: self, timeout }
    }

    /// The helpers, each attempt of a call bounded by `timeout` as well as
    /// by the section's `response_timeout`: past it the call
    /// fails with "the server at host:port stopped answering" and the
    /// connection is reset, so the session that fell silent is not reused.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_redis::RedisConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else { return Ok(()) };
    /// let cache = RedisConnection::from_config("c", Config::from_toml("c", &format!("url = '{url}'"))?);
    /// let key = format!("doc:bounded:{}", std::process::id());
    /// let quick = cache.timeout(Duration::from_millis(250));
    /// quick.set(&key, "v", None).await?;
    /// assert_eq!(quick.get::<String>(&key).await?.as_deref(), Some("v"));
    /// quick.del(&key).await?;
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn timeout(&self, timeout: Duration) -> WithTimeout<'_> {
        self.calls(Some(timeout))
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, ReadCache> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the cached reads of `key`: a helper wrote it (or may have,
    /// if the write failed on the way).
    fn wrote(&self, key: &str) {
        self.reads().invalidate(key);
    }

    fn target(&self) -> Option<Target> {
        self.target.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A reload that changes only the credentials (`password`, `username`,
    /// or both, in `url` or as keys) keeps the connection: the live session
    /// logs in again with the new ones (`AUTH`) and every session the
    /// driver opens from now on uses them, so a rotated password takes
    /// effect without a reconnect and without failing a call. Any other
    /// change resets.
    fn _reconfigure(&self, old: &Config, new: &Config) -> bool {
        let (Ok(before), Ok(after)) = (options::parse(old), options::parse(new)) else {
            return false;
        };
        if !options::credentials_only(&before, &after) {
            return false;
        }
        // Not connected: the next connect reads the new configuration anyway.
        if self.base().get().is_none() {
            return true;
        }
        let credentials = self.credentials.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let (Some(credentials), Some(password)) = (credentials, after.info.redis_settings().password()) else {
            // A password added or removed: the driver's login changes shape.
            return false;
        };
        credentials.rotate(after.user(), password);
        if let Some(target) = self.target.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            after.user().clone_into(&mut target.user);
        }
        true
    }

    /// The health check [`Registry::check`](connections_core::Registry::check) runs:
    /// `PING` (connecting first if need be), within [`CHECK_TIMEOUT`].
    async fn _check(&self) -> Result<(), BoxError> {
        match tokio::time::timeout(
            CHECK_TIMEOUT,
            self.run::<String>("PING", redis::cmd("PING"), Resend::Never, None),
        )
        .await
        {
            Ok(outcome) => outcome.map(drop).map_err(Into::into),
            Err(_) => Err(format!(
                "`PING` on connection `{}` did not answer within {} s",
                self.name(),
                CHECK_TIMEOUT.as_secs()
            )
            .into()),
        }
    }

    /// Runs `cmd` on the connection (connecting first if need be); again,
    /// up to [`ATTEMPTS`] in all, if `resend` allows and the connection
    /// broke under it. A timeout is not retried: the caller's bound holds.
    /// It resets the connection instead: a session that fell silent is
    /// dropped, never reused, and the next call connects anew.
    async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: Cmd,
        resend: Resend,
        timeout: Option<Duration>,
    ) -> Result<T, Error> {
        let mut attempt = 1;
        loop {
            let instance = self.instance().await?;
            let mut connection = ConnectionManager::clone(&instance);
            let outcome = match timeout {
                None => cmd.query_async(&mut connection).await,
                Some(limit) => {
                    let Ok(outcome) = tokio::time::timeout(limit, cmd.query_async(&mut connection)).await else {
                        drop(connection);
                        self.base().reset_if_because(&instance, ResetReason::Broken);
                        return Err(self.call_timed_out(operation, attempt, limit));
                    };
                    outcome
                }
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) if resend == Resend::Safe && attempt < ATTEMPTS && broke(&error) => {
                    tracing::debug!(
                        connection = self.name(),
                        operation,
                        attempt,
                        "the connection broke; sending again once the driver has reconnected"
                    );
                    attempt += 1;
                }
                Err(error) => {
                    if error.is_timeout() {
                        drop(connection);
                        self.base().reset_if_because(&instance, ResetReason::Broken);
                    }
                    let mut error = self.redis_error(operation, error);
                    if let Error::Operation { attempts, .. } = &mut error {
                        *attempts = attempt;
                    }
                    return Err(error);
                }
            }
        }
    }

    /// The value at `key`, `None` if there is none (`GET`, or `HGET` for a
    /// hash's field with [`hget`](RedisConnection::hget)).
    ///
    /// # Errors
    ///
    /// The connect's error, or the server's (a key holding another kind of
    /// value, a value `T` cannot be read from), redacted.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection`].
    pub async fn get<T: FromRedisValue>(&self, key: &str) -> Result<Option<T>, Error> {
        self.calls(None).get(key).await
    }

    /// Sets `key` to `value`, expiring after `expiry` if one is given
    /// (`SET key value [PX ms]`).
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get); an expiry under a millisecond is an
    /// [`Error::InvalidCall`].
    ///
    /// # Examples
    ///
    /// See [`RedisConnection`].
    pub async fn set<V: ToRedisArgs + ToSingleRedisArg + Send + Sync>(
        &self,
        key: &str,
        value: V,
        expiry: Option<Duration>,
    ) -> Result<(), Error> {
        self.calls(None).set(key, value, expiry).await
    }

    /// Deletes `key`; whether it was there (`DEL`).
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get).
    ///
    /// # Examples
    ///
    /// See [`RedisConnection`].
    pub async fn del(&self, key: &str) -> Result<bool, Error> {
        self.calls(None).del(key).await
    }

    /// Adds `by` to the integer at `key` (0 if there is none) and returns
    /// the sum (`INCRBY`). Unlike the other helpers it is never sent twice:
    /// if the connection breaks under it, the server may have applied it
    /// before the reply was lost, so the error is returned.
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get); a key that holds no integer is the
    /// server's error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_redis::RedisConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else { return Ok(()) };
    /// let cache = RedisConnection::from_config("c", Config::from_toml("c", &format!("url = '{url}'"))?);
    /// let key = format!("doc:visits:{}", std::process::id());
    /// assert_eq!(cache.incr(&key, 2).await?, 2);
    /// assert_eq!(cache.incr(&key, 1).await?, 3);
    /// cache.del(&key).await?;
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, Error> {
        self.calls(None).incr(key, by).await
    }

    /// The value of `field` in the hash at `key`, `None` if either is missing (`HGET`).
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_redis::RedisConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else { return Ok(()) };
    /// let cache = RedisConnection::from_config("c", Config::from_toml("c", &format!("url = '{url}'"))?);
    /// let key = format!("doc:user:{}", std::process::id());
    /// cache.hset(&key, "name", "Ada").await?;
    /// cache.hset(&key, "lang", "en").await?;
    /// assert_eq!(cache.hget::<String>(&key, "name").await?.as_deref(), Some("Ada"));
    /// let all = cache.hgetall::<String>(&key).await?;
    /// assert_eq!(all.len(), 2);
    /// cache.del(&key).await?;
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn hget<T: FromRedisValue>(&self, key: &str, field: &str) -> Result<Option<T>, Error> {
        self.calls(None).hget(key, field).await
    }

    /// Sets `field` of the hash at `key` to `value` (`HSET`).
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get).
    ///
    /// # Examples
    ///
    /// See [`hget`](RedisConnection::hget).
    pub async fn hset<V: ToRedisArgs + ToSingleRedisArg + Send + Sync>(
        &self,
        key: &str,
        field: &str,
        value: V,
    ) -> Result<(), Error> {
        self.calls(None).hset(key, field, value).await
    }

    /// Every field of the hash at `key` with its value, empty if there is
    /// none (`HGETALL`).
    ///
    /// # Errors
    ///
    /// As [`get`](RedisConnection::get).
    ///
    /// # Examples
    ///
    /// See [`hget`](RedisConnection::hget).
    pub async fn hgetall<T: FromRedisValue>(&self, key: &str) -> Result<HashMap<String, T>, Error> {
        self.calls(None).hgetall(key).await
    }

    /// Reads through a cache that keeps each value for `ttl`: Streamlit's
    /// `ttl` on a read, per connection. A write of a key through this
    /// connection's helpers ([`set`](RedisConnection::set),
    /// [`del`](RedisConnection::del), [`incr`](RedisConnection::incr),
    /// [`hset`](RedisConnection::hset)) drops its cached reads at once, so a
    /// read after a write sees the write; a write by another client, or
    /// through [`instance`](Connection::instance), shows after `ttl`.
    /// `Duration::ZERO` caches nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_redis::RedisConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else { return Ok(()) };
    /// let cache = RedisConnection::from_config("c", Config::from_toml("c", &format!("url = '{url}'"))?);
    /// let key = format!("doc:cached:{}", std::process::id());
    /// cache.set(&key, "first", None).await?;
    /// let minute = cache.cached(Duration::from_secs(60));
    /// assert_eq!(minute.get::<String>(&key).await?.as_deref(), Some("first"));
    /// cache.set(&key, "second", None).await?; // drops the cached read
    /// assert_eq!(minute.get::<String>(&key).await?.as_deref(), Some("second"));
    /// cache.del(&key).await?;
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn cached(&self, ttl: Duration) -> CachedReads<'_> {
        CachedReads { conn: self, ttl }
    }

    /// What the section resolves to, without connecting: the server, the
    /// database, the user, whether a password is set (never its value) and
    /// the timeouts.
    ///
    /// # Errors
    ///
    /// The section's mistakes, as a connect would fail with them.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Connection};
    /// use connections_redis::RedisConnection;
    ///
    /// let section = "url = 'redis://app:s3cret@cache.internal:6380/2'\nresponse_timeout = 2";
    /// let cache = RedisConnection::from_config("cache", Config::from_toml("cache", section)?);
    /// let text = cache.describe()?.to_string();
    /// assert_eq!(
    ///     text,
    ///     "redis at cache.internal:6380, db 2, user `app`, password set; connect_timeout 5 s, response_timeout 2 s"
    /// );
    /// assert!(!text.contains("s3cret"));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn describe(&self) -> Result<Description, Error> {
        options::parse(&self.base().config()).map(|options| Description::new(&options))
    }
}

/// A connection's helpers, each bounded by a timeout of its own; see
/// [`RedisConnection::timeout`].
#[must_use]
pub struct WithTimeout<'c> {
    conn: &'c RedisConnection,
    /// `None`: only the section's `response_timeout`.
    timeout: Option<Duration>,
}

impl WithTimeout<'_> {
    /// [`RedisConnection::get`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::get`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn get<T: FromRedisValue>(&self, key: &str) -> Result<Option<T>, Error> {
        self.conn
            .run("GET", redis::cmd("GET").arg(key).to_owned(), Resend::Safe, self.timeout)
            .await
    }

    /// [`RedisConnection::set`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::set`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn set<V: ToRedisArgs + ToSingleRedisArg + Send + Sync>(
        &self,
        key: &str,
        value: V,
        expiry: Option<Duration>,
    ) -> Result<(), Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(expiry) = expiry {
            let millis = u64::try_from(expiry.as_millis()).unwrap_or(u64::MAX);
            if millis == 0 {
                return Err(Error::InvalidCall {
                    name: self.conn.name().to_owned(),
                    operation: "SET",
                    problem: format!(
                        "the expiry {expiry:?} is under a millisecond, which Redis cannot keep; pass at least `Duration::from_millis(1)`, or `None` to keep the key"
                    ),
                });
            }
            cmd.arg("PX").arg(millis);
        }
        let outcome = self.conn.run("SET", cmd, Resend::Safe, self.timeout).await;
        self.conn.wrote(key);
        outcome
    }

    /// [`RedisConnection::del`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::del`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn del(&self, key: &str) -> Result<bool, Error> {
        let outcome = self
            .conn
            .run::<u64>("DEL", redis::cmd("DEL").arg(key).to_owned(), Resend::Safe, self.timeout)
            .await;
        self.conn.wrote(key);
        outcome.map(|n| n > 0)
    }

    /// [`RedisConnection::incr`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::incr`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64, Error> {
        let outcome = self
            .conn
            .run(
                "INCRBY",
                redis::cmd("INCRBY").arg(key).arg(by).to_owned(),
                Resend::Never,
                self.timeout,
            )
            .await;
        self.conn.wrote(key);
        outcome
    }

    /// [`RedisConnection::hget`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::hget`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn hget<T: FromRedisValue>(&self, key: &str, field: &str) -> Result<Option<T>, Error> {
        self.conn
            .run(
                "HGET",
                redis::cmd("HGET").arg(key).arg(field).to_owned(),
                Resend::Safe,
                self.timeout,
            )
            .await
    }

    /// [`RedisConnection::hset`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::hset`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn hset<V: ToRedisArgs + ToSingleRedisArg + Send + Sync>(
        &self,
        key: &str,
        field: &str,
        value: V,
    ) -> Result<(), Error> {
        let outcome = self
            .conn
            .run::<u64>(
                "HSET",
                redis::cmd("HSET").arg(key).arg(field).arg(value).to_owned(),
                Resend::Safe,
                self.timeout,
            )
            .await;
        self.conn.wrote(key);
        outcome.map(drop)
    }

    /// [`RedisConnection::hgetall`], within the timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::hgetall`], and past the timeout, an
    /// [`Error::Operation`] that says the server stopped answering.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::timeout`].
    pub async fn hgetall<T: FromRedisValue>(&self, key: &str) -> Result<HashMap<String, T>, Error> {
        self.conn
            .run(
                "HGETALL",
                redis::cmd("HGETALL").arg(key).to_owned(),
                Resend::Safe,
                self.timeout,
            )
            .await
    }
}

/// Reads through a connection's cache; see [`RedisConnection::cached`].
#[must_use]
pub struct CachedReads<'c> {
    conn: &'c RedisConnection,
    ttl: Duration,
}

impl CachedReads<'_> {
    /// [`RedisConnection::get`], from the cache while its read lives.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::get`]; a failed read caches nothing.
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::cached`].
    pub async fn get<T: FromRedisValue + Clone + Send + Sync + 'static>(&self, key: &str) -> Result<Option<T>, Error> {
        self.read(("GET", key, None), self.conn.get::<T>(key)).await
    }

    /// [`RedisConnection::hget`], from the cache while its read lives;
    /// cached per field.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::hget`].
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::cached`].
    pub async fn hget<T: FromRedisValue + Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        field: &str,
    ) -> Result<Option<T>, Error> {
        self.read(("HGET", key, Some(field)), self.conn.hget::<T>(key, field))
            .await
    }

    /// [`RedisConnection::hgetall`], from the cache while its read lives.
    ///
    /// # Errors
    ///
    /// As [`RedisConnection::hgetall`].
    ///
    /// # Examples
    ///
    /// See [`RedisConnection::cached`].
    pub async fn hgetall<T: FromRedisValue + Clone + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> Result<HashMap<String, T>, Error> {
        self.read(("HGETALL", key, None), self.conn.hgetall::<T>(key)).await
    }

    /// The cached value of `read`, or `fetch`'s, kept for the ttl.
    async fn read<V: Clone + Send + Sync + 'static>(
        &self,
        read: (&'static str, &str, Option<&str>),
        fetch: impl Future<Output = Result<V, Error>>,
    ) -> Result<V, Error> {
        if self.ttl.is_zero() {
            return fetch.await;
        }
        let (command, key, field) = read;
        let started = {
            let reads = self.conn.reads();
            if let Some(value) = reads.get::<V>(command, key, field, Instant::now()) {
                return Ok(value);
            }
            reads.writes()
        };
        let value = fetch.await?;
        let expires = ReadCache::expiry(self.ttl);
        self.conn.reads().insert(started, read, expires, value.clone());
        Ok(value)
    }
}

/// What a `redis` section resolves to; see [`RedisConnection::describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    endpoint: String,
    db: i64,
    user: String,
    password: bool,
    /// `None` in plaintext; else what the TLS trusts and shows.
    tls: Option<String>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Description {
    fn new(options: &RedisOptions) -> Self {
        let redis = options.info.redis_settings();
        Self {
            endpoint: options.endpoint().to_string(),
            db: redis.db(),
            user: options.user().to_owned(),
            password: redis.password().is_some(),
            tls: options.is_tls().then(|| {
                let roots = match &options.tls.ca_file {
                    Some(ca) => format!("roots from `{}`", ca.display()),
                    None => "Mozilla's roots".to_owned(),
                };
                match options.tls.client {
                    Some(_) => format!("{roots}, a client certificate"),
                    None => roots,
                }
            }),
            connect_timeout: options.connect_timeout,
            response_timeout: options.response_timeout,
        }
    }
}

/// `redis at host:port, db N, user `u`, password set[, TLS (...)]; connect_timeout 5 s, response_timeout 5 s`.
impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redis at {}, db {}, user `{}`, {}{}; connect_timeout {} s, response_timeout {} s",
            self.endpoint,
            self.db,
            self.user,
            if self.password { "password set" } else { "no password" },
            self.tls
                .as_ref()
                .map_or_else(String::new, |tls| format!(", TLS ({tls})")),
            self.connect_timeout.as_secs_f64(),
            self.response_timeout.as_secs_f64()
        )
    }
}

/// Whether `error` says the connection broke (a reset, a closed socket):
/// the manager reconnects, so the command may go again. Not a timeout (the
/// caller's bound), not a refused login (a wrong password stays wrong).
fn broke(error: &redis::RedisError) -> bool {
    error.is_unrecoverable_error() && !error.is_timeout() && error.kind() != redis::ErrorKind::AuthenticationFailed
}

/// An [`Error::Operation`] for `error` on connection `name`, its text redacted.
fn command_error(
    name: &str,
    redactor: &Redactor,
    target: Option<Target>,
    operation: &'static str,
    error: redis::RedisError,
) -> Error {
    let mut message = redactor.redact(&error.to_string());
    if let Some(target) = target {
        if error.is_timeout() {
            message = format!(
                "the server at {} stopped answering: no reply within `response_timeout` ({} s) ({message})",
                target.endpoint,
                target.response_timeout.as_secs_f64()
            );
        } else if error.kind() == redis::ErrorKind::AuthenticationFailed {
            message = format!(
                "authentication failed for user `{}` at {}: {message}",
                target.user, target.endpoint
            );
        }
    }
    Error::Operation {
        name: name.to_owned(),
        operation,
        attempts: 1,
        source: Arc::new(Redacted::new(message.clone(), error)),
        message,
    }
}
