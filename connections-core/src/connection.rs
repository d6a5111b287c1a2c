//! The `Connection` trait the derive implements, and its object-safe twin.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use crate::base::{BaseConnection, describe};
use crate::cell::{AsyncInit, Connect, Connector};
use crate::config::Config;
use crate::error::{BoxError, Error, Result};
use crate::instance::InstanceRef;

/// The future an async connection's connect function returns, boxed (an
/// `async fn` has no nameable type). Written by the derive.
pub type ConnectFuture<'a, R> = Pin<Box<dyn Future<Output = std::result::Result<R, BoxError>> + Send + 'a>>;

/// A named, configured, lazily connected, resettable connection.
///
/// Implement it with `#[derive(Connection)]` and one `_connect` function; the
/// derive writes every required item. A plain `fn _connect` makes a blocking
/// connection ([`BlockingConnection`]): `instance()` returns the handle. An
/// `async fn _connect` with `#[connection(async)]` makes an async one
/// ([`AsyncConnection`]): `instance()` returns a future of it, [`Connecting`]. The provided methods
/// ([`instance`](Connection::instance), [`reset`](Connection::reset),
/// [`name`](Connection::name), ...) are then callable on your type: the
/// trait is in scope wherever the derive was imported, since trait and derive
/// share the name `Connection`.
///
/// # Examples
///
/// ```
/// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
///
/// #[derive(Connection)]
/// #[connection(type_name = "greeter")]
/// struct Greeter {
///     base: BaseConnection<String>,
/// }
///
/// impl Greeter {
///     fn _connect(&self, config: &Config) -> Result<String, BoxError> {
///         Ok(format!("hello, {}", config.get::<String>("who")?))
///     }
/// }
///
/// let registry = Registry::builder()
///     .secrets_toml("inline", "[connections.hi]\ntype = 'greeter'\nwho = 'world'")
///     .build();
/// let greeter = registry.connection::<Greeter>("hi").unwrap();
/// assert!(!greeter.is_connected());                  // lazy
/// assert_eq!(*greeter.instance().unwrap(), "hello, world");
/// greeter.reset();                                    // the next instance() reconnects
/// assert_eq!(greeter.name(), "hi");
/// assert_eq!(Greeter::TYPE_NAME, "greeter");
/// assert!(Greeter::TYPE_PATH.ends_with("::Greeter"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a connection type",
    label = "not a connection",
    note = "add `#[derive(Connection)]` to `{Self}`, with a `BaseConnection<Raw>` field and a `fn _connect(&self, config: &Config) -> Result<Raw, E>`"
)]
pub trait Connection: Sized + Send + Sync + 'static {
    /// The raw instance `_connect` returns, e.g. a database handle. Shared
    /// across threads as `Arc<Raw>`; wrap it in a `Mutex` if it is not `Sync`.
    type Raw: Send + Sync + 'static;

    /// What [`instance`](Connection::instance) returns: `Result<Arc<Raw>>`
    /// for a blocking connection, [`Connecting`] for an async one. Set by the derive.
    type Instance<'a>: InstanceOutput<'a, Self::Raw>;

    /// The short name used by `type = "..."` in secrets (the derive's
    /// `type_name`), or [`TYPE_PATH`](Connection::TYPE_PATH) if none was given.
    const TYPE_NAME: &'static str;

    /// The full Rust path, e.g. `my_app::db::Sqlite`; `type = "my_app::db::Sqlite"`
    /// (or Streamlit's dotted `my_app.db.Sqlite`) in secrets names it too.
    const TYPE_PATH: &'static str;

    /// Whether the type is session-scoped (`#[connection(scope = "session")]`):
    /// cached per [`Scope`](crate::Scope), and looked up only through one.
    /// Global (`false`) by default.
    const SESSION_SCOPED: bool = false;

    /// Whether a failed `_check` resets a connected instance (reason
    /// `check`), so that the next use reconnects: `true` unless the type
    /// says `#[connection(check_resets = false)]` (a client that heals
    /// itself, such as a pool that replaces its broken sessions).
    const CHECK_RESETS: bool = true;

    /// More checks of the type's sections (`#[connection(diagnose = path)]`),
    /// for [`Registry::diagnostics`](crate::Registry::diagnostics) and the
    /// doctor; `None` when the type has none. See [`author`](crate::author).
    const DIAGNOSE: Option<crate::author::Diagnose> = None;

    /// How the doctor's `--connect` drives the type's futures where no
    /// runtime runs (`#[connection(block_on = path)]`: tokio for a client
    /// built on it); `None`: any executor will do. See [`author`](crate::author).
    const BLOCK_ON: Option<crate::author::BlockOn> = None;

    /// The type's typed settings (`#[connection(settings = T)]`), written by the derive.
    #[doc(hidden)]
    const SETTINGS: Option<crate::author::SettingsHooks> = None;

    /// Builds the connection around its state; every other field takes its `Default`.
    ///
    /// Generated by the derive.
    fn from_base(base: BaseConnection<Self::Raw>) -> Self;

    /// The `BaseConnection` field. Generated by the derive.
    fn base(&self) -> &BaseConnection<Self::Raw>;

    /// The raw instance: connects on first use, then returns the same handle
    /// (one atomic load, no lock) until [`reset`](Connection::reset).
    ///
    /// For a blocking connection this returns `Result<Arc<Raw>>`; for an
    /// `#[connection(async)]` one, [`Connecting`], a future of it:
    /// `conn.instance().await?`. Generated by the derive.
    ///
    /// # Errors
    ///
    /// The connect's failure or caught panic, shared by every caller that
    /// waited on it; see [`BaseConnection::instance_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// let a = echo.instance().unwrap();
    /// let b = echo.instance().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(&a, &b));
    /// ```
    ///
    /// Async, on any executor:
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// #[derive(Connection)]
    /// #[connection(async)]
    /// struct Remote { base: BaseConnection<String> }
    /// impl Remote {
    ///     async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
    ///         Ok(config.get("text")?) // e.g. `Pool::connect(url).await?`
    ///     }
    /// }
    ///
    /// let remote = Remote::from_config("r", Config::from_toml("r", "text = 'hi'").unwrap());
    /// let raw = futures_executor::block_on(remote.instance()).unwrap();
    /// assert_eq!(*raw, "hi");
    /// ```
    fn instance(&self) -> Self::Instance<'_>;

    /// The type's `_check` hook, called: what [`Registry::check`](crate::Registry::check)
    /// runs. The derive writes it; `None` when the type has no `_check`.
    #[doc(hidden)]
    #[inline]
    fn check_hook(&self) -> Option<crate::health::Checking<'_>> {
        None
    }

    /// The type's `_reconfigure` hook, called by a reload whose new
    /// configuration differs from `old`: whether it took `new` in place (the
    /// instance is kept) or not (it is reset). The derive writes it; `false`
    /// when the type has no `_reconfigure`.
    #[doc(hidden)]
    #[inline]
    fn reconfigure_hook(&self, old: &Config, new: &Config) -> bool {
        let _ = (old, new);
        false
    }

    /// Builds an unconnected connection named `name` with `config`, without a registry.
    ///
    /// Lookups through a [`Registry`](crate::Registry) call this once per cache
    /// entry; call it yourself to use a connection type standalone, e.g. in a test.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// assert_eq!(*echo.instance().unwrap(), "hi");
    /// ```
    fn from_config(name: &str, config: Config) -> Self {
        Self::from_base(BaseConnection::new(name, Self::TYPE_NAME, Self::TYPE_PATH, config))
    }

    /// As [`instance`](Connection::instance), returning a borrowed
    /// [`InstanceRef`] that touches no shared reference count, so it scales
    /// with threads on a hot path; `to_arc()` gives an owned handle.
    /// Blocking connections only.
    ///
    /// # Errors
    ///
    /// As [`instance`](Connection::instance).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// assert_eq!(echo.instance_ref().unwrap().len(), 2);
    /// ```
    #[inline]
    fn instance_ref(&self) -> Result<InstanceRef<Self::Raw>>
    where
        Self: BlockingConnection,
    {
        let base = self.base();
        base.instance_ref_with(|config| self.connect_raw(config))
    }

    /// As [`instance`](Connection::instance), waiting at most `timeout` for
    /// the connect. Blocking connections only: an async caller wraps
    /// `instance()` in its runtime's timeout (dropping it mid-connect is safe).
    ///
    /// A connect cannot be stopped from outside, so one that outlives the
    /// timeout goes on as this generation's one attempt: later calls wait for
    /// it (or time out) instead of starting another, so a hanging server never
    /// piles up connects. A caller that finds no connect in flight starts it on
    /// a helper thread; callers that find one wait without a thread.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectTimeout`](crate::Error::ConnectTimeout), naming the
    /// connection and the timeout; otherwise as [`instance`](Connection::instance).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Error};
    /// # #[derive(Connection)]
    /// # struct Slow { base: BaseConnection<u8> }
    /// # impl Slow { fn _connect(&self, _: &Config) -> Result<u8, BoxError> {
    /// #     std::thread::sleep(Duration::from_millis(300)); Ok(1) } }
    /// let slow = Arc::new(Slow::from_config("slow", Config::new("slow", Default::default())));
    /// let err = slow.instance_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, Error::ConnectTimeout { .. }));
    /// // The connect went on; waiting longer gets its outcome.
    /// assert_eq!(*slow.instance_timeout(Duration::from_secs(30)).unwrap(), 1);
    /// ```
    fn instance_timeout(self: &Arc<Self>, timeout: Duration) -> Result<Arc<Self::Raw>>
    where
        Self: BlockingConnection,
    {
        if let Some(value) = self.base().get() {
            return Ok(value);
        }
        if let Some(outcome) = self.base().wait_for_connect(timeout) {
            return outcome;
        }
        // Nothing in flight: start the connect where it may outlive us.
        let (tx, rx) = mpsc::channel();
        let this = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name("connections-connect".into())
            .spawn(move || {
                // The receiver may have timed out and gone; the outcome is stored anyway.
                let _ = tx.send(instance_blocking(&*this));
            });
        if let Err(e) = spawned {
            // The OS's message about a thread quotes no configuration value.
            return Err(Error::connect_failed(
                self.name(),
                Self::TYPE_PATH,
                e.into(),
                str::to_owned,
                None,
                None,
            ));
        }
        rx.recv_timeout(timeout).unwrap_or_else(|_| {
            Err(Error::ConnectTimeout {
                name: self.name().to_owned(),
                type_path: Self::TYPE_PATH,
                timeout,
            })
        })
    }

    /// Forgets the raw instance; the next [`instance`](Connection::instance) reconnects.
    ///
    /// If the type has a close hook (`_close`), the old instance is closed
    /// once no handle to it is left (see [`BaseConnection::reset`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// # let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// let old = echo.instance().unwrap();
    /// echo.reset();
    /// let new = echo.instance().unwrap();
    /// assert!(!std::sync::Arc::ptr_eq(&old, &new));
    /// ```
    fn reset(&self) {
        self.base().reset();
    }

    /// Resets only if `stale` is still the current instance; see [`BaseConnection::reset_if`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// # let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// let broken = echo.instance().unwrap();
    /// assert!(echo.reset_if(&broken));
    /// assert!(!echo.reset_if(&broken));
    /// ```
    fn reset_if(&self, stale: &Arc<Self::Raw>) -> bool {
        self.base().reset_if(stale)
    }

    /// Passes `result` through, first resetting if it failed with an error
    /// that `broken` says leaves `instance` unusable (a closed socket, a
    /// broken pipe): the next use reconnects. Of many threads that saw the
    /// same instance fail, one resets ([`reset_if`](Connection::reset_if));
    /// the `reset` event says `reason = "broken"`.
    ///
    /// Call it inside your connection's methods, around each use of the
    /// instance, so a connection heals after its server restarts. It does
    /// not retry: whether an operation may run twice is yours to say.
    ///
    /// # Errors
    ///
    /// `result`'s error, unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use connections_core::{BoxError, BaseConnection, Config, Connection};
    ///
    /// #[derive(Connection)]
    /// struct Link { base: BaseConnection<u32> }
    /// impl Link {
    ///     fn _connect(&self, _: &Config) -> Result<u32, BoxError> { Ok(7) }
    ///
    ///     /// A call that finds the link broken.
    ///     pub fn send(&self) -> Result<u32, io::Error> {
    ///         let link = self.instance().map_err(io::Error::other)?;
    ///         let result: Result<u32, io::Error> = Err(io::ErrorKind::BrokenPipe.into());
    ///         self.reset_if_broken(&link, result, |e| e.kind() == io::ErrorKind::BrokenPipe)
    ///     }
    /// }
    ///
    /// let link = Link::from_config("l", Config::new("l", Default::default()));
    /// assert!(link.send().is_err());
    /// assert!(!link.is_connected(), "reset: the next use reconnects");
    /// ```
    fn reset_if_broken<T, E>(
        &self,
        instance: &Arc<Self::Raw>,
        result: std::result::Result<T, E>,
        broken: impl FnOnce(&E) -> bool,
    ) -> std::result::Result<T, E> {
        if let Err(error) = &result
            && broken(error)
        {
            self.base().reset_if_because(instance, crate::base::ResetReason::Broken);
        }
        result
    }

    /// The resolved connection name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::new("e", Default::default()));
    /// assert_eq!(echo.name(), "e");
    /// ```
    fn name(&self) -> &str {
        self.base().name()
    }

    /// The key of the [`Scope`](crate::Scope) a session-scoped connection was
    /// built in (a user, a session id); `None` for a global one. `_connect`
    /// and `_check` read it to act as that user.
    ///
    /// # Examples
    ///
    /// See [`Config::scope_key`].
    fn scope_key(&self) -> Option<&str> {
        self.base().scope_key()
    }

    /// The configuration the next connect receives, as a snapshot; see
    /// [`BaseConnection::config`] for why it is an `Arc` (a secrets reload may
    /// swap it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// assert_eq!(echo.config().get::<String>("text").unwrap(), "hi");
    /// ```
    fn config(&self) -> Arc<Config> {
        self.base().config()
    }

    /// How many times this connection has been reset: each reset starts a
    /// new generation, which connects at most once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// echo.reset();
    /// assert_eq!(echo.generation(), 1);
    /// ```
    fn generation(&self) -> u64 {
        self.base().generation()
    }

    /// Whether the current generation is connected.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection};
    /// # #[derive(Connection)]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let echo = Echo::from_config("e", Config::from_toml("e", "text = 'hi'").unwrap());
    /// assert!(!echo.is_connected());
    /// echo.instance().unwrap();
    /// assert!(echo.is_connected());
    /// ```
    fn is_connected(&self) -> bool {
        self.base().is_connected()
    }
}

/// A connection with a plain `fn _connect`: [`instance`](Connection::instance)
/// returns `Result<Arc<Raw>>` and may block while it connects.
///
/// Implemented by `#[derive(Connection)]`; never implement it by hand.
///
/// # Examples
///
/// ```
/// use connections_core::{BlockingConnection, BoxError, BaseConnection, Config, Connection};
///
/// #[derive(Connection)]
/// struct Local { base: BaseConnection<u8> }
/// impl Local { fn _connect(&self, _: &Config) -> Result<u8, BoxError> { Ok(1) } }
///
/// fn first<C: BlockingConnection>(conn: &C) -> connections_core::Result<C::Raw> where C::Raw: Copy {
///     Ok(*conn.instance_ref()?)
/// }
/// assert_eq!(first(&Local::from_config("l", Config::new("l", Default::default()))).unwrap(), 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` connects asynchronously (`#[connection(async)]`), so this blocking method is not available",
    label = "an async connection",
    note = "in async code write `conn.instance().await`; for a timeout, wrap it in your runtime's (e.g. `tokio::time::timeout(limit, conn.instance())`): dropping it mid-connect is safe"
)]
pub trait BlockingConnection: Connection {
    /// Calls the user's `_connect` (or the `connect = path` function) and boxes
    /// its error. Generated by the derive; `instance()` calls it.
    ///
    /// # Errors
    ///
    /// Whatever `_connect` returns.
    fn connect_raw(&self, config: &Config) -> std::result::Result<Self::Raw, BoxError>;
}

/// A connection with an `async fn _connect` and `#[connection(async)]`:
/// [`instance`](Connection::instance) returns [`Connecting`], a future.
///
/// Implemented by `#[derive(Connection)]`; never implement it by hand. No
/// runtime is assumed: the future works under tokio (multi- or
/// current-thread), `futures::executor`, smol or any other executor.
///
/// # Examples
///
/// ```
/// use connections_core::{AsyncConnection, BoxError, BaseConnection, Config, Connection};
///
/// #[derive(Connection)]
/// #[connection(async)]
/// struct Remote { base: BaseConnection<u8> }
/// impl Remote { async fn _connect(&self, _: &Config) -> Result<u8, BoxError> { Ok(1) } }
///
/// async fn first<C: AsyncConnection>(conn: &C) -> connections_core::Result<std::sync::Arc<C::Raw>> {
///     conn.instance().await
/// }
/// let remote = Remote::from_config("r", Config::new("r", Default::default()));
/// assert_eq!(*futures_executor::block_on(first(&remote)).unwrap(), 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` connects synchronously, not asynchronously",
    label = "a blocking connection",
    note = "for an async connection, mark the struct `#[connection(async)]` and write `async fn _connect(&self, config: &Config) -> Result<Raw, E>`"
)]
pub trait AsyncConnection: for<'a> Connection<Instance<'a> = Connecting<'a, Self>> {
    /// Calls the user's `async fn _connect` (or the `connect = path`
    /// function), boxing its future and its error. Generated by the derive.
    fn connect_raw<'a>(&'a self, config: &'a Config) -> ConnectFuture<'a, Self::Raw>;
}

/// The raw instance of a blocking connection; what its `instance()` runs.
#[inline]
pub(crate) fn instance_blocking<C: BlockingConnection>(conn: &C) -> Result<Arc<C::Raw>> {
    conn.base().instance_with(|config| conn.connect_raw(config))
}

/// What an async connection's [`instance`](Connection::instance) returns: a
/// future of the raw instance.
///
/// On a connected connection its first poll returns the handle (one atomic
/// load). Otherwise exactly one `Connecting` per generation drives the
/// connect; the others wait for its outcome without blocking a thread. It is
/// `Send`, and cancellation-safe: dropping the future that drives a connect
/// abandons that attempt, and a waiting (or the next) caller connects afresh.
///
/// # Examples
///
/// ```
/// use connections_core::{BoxError, BaseConnection, Config, Connection, Connecting};
///
/// #[derive(Connection)]
/// #[connection(async)]
/// struct Remote { base: BaseConnection<String> }
/// impl Remote {
///     async fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("up".into()) }
/// }
///
/// let remote = Remote::from_config("r", Config::new("r", Default::default()));
/// let future: Connecting<'_, Remote> = remote.instance();
/// assert_eq!(*futures_executor::block_on(future).unwrap(), "up");
/// assert!(remote.is_connected());
/// ```
#[must_use = "futures do nothing unless polled: write `.instance().await`"]
pub struct Connecting<'a, C: Connection> {
    conn: &'a C,
    /// The state machine, made only when the first poll finds no instance.
    init: Option<AsyncInit<'a, C::Raw, Error>>,
}

impl<'a, C: AsyncConnection> Connecting<'a, C> {
    /// The future for `conn`; what the derive's `instance()` returns.
    pub fn new(conn: &'a C) -> Self {
        Self { conn, init: None }
    }
}

/// Starts `C`'s connect and names its failures for the state machine.
struct Start<'a, C>(&'a C);

impl<'a, C: AsyncConnection> Connector<'a, C::Raw, Error> for Start<'a, C> {
    fn start(&self) -> Connect<'a, C::Raw, Error> {
        let conn = self.0;
        // The snapshot current at the attempt's start, owned by the future:
        // a reload may swap the connection's config while it runs.
        let config = conn.base().config();
        Box::pin(async move {
            conn.connect_raw(&config)
                .await
                .map_err(|error| conn.base().connect_failed(error))
        })
    }
    fn panicked(&self, message: String) -> Error {
        self.0.base().connect_panicked(&message)
    }
    fn span(&self) -> tracing::Span {
        self.0.base().connect_span()
    }
    fn finished(&self, outcome: &Result<Arc<C::Raw>>, started: Instant) {
        self.0.base().finished_connect(outcome, started);
    }
}

impl<C: AsyncConnection> Future for Connecting<'_, C> {
    type Output = Result<Arc<C::Raw>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let conn = this.conn;
        if this.init.is_none() {
            // Connected: one load, without the state machine.
            if let Some(value) = conn.base().get() {
                return Poll::Ready(Ok(value));
            }
            // Before joining or starting the attempt: a close hook must never
            // hold up the connect others wait on.
            conn.base().before_connect();
        }
        this.init
            .get_or_insert_with(|| conn.base().async_init())
            .poll(cx, &Start(conn))
    }
}

impl<C: AsyncConnection> fmt::Debug for Connecting<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connecting")
            .field("name", &self.conn.name())
            .field("type_path", &C::TYPE_PATH)
            .finish_non_exhaustive()
    }
}

/// What a connection's `instance()` may return: `Result<Arc<Raw>>`
/// (blocking) or [`Connecting`] (async). Sealed.
pub trait InstanceOutput<'a, R>: sealed::SealedOutput + Send + 'a {
    #[doc(hidden)]
    const IS_ASYNC: bool;
    #[doc(hidden)]
    fn into_dyn(self) -> DynConnect<'a>;
}

impl<'a, R: Send + Sync + 'static> InstanceOutput<'a, R> for Result<Arc<R>> {
    const IS_ASYNC: bool = false;
    fn into_dyn(self) -> DynConnect<'a> {
        DynConnect::Ready(self.map(drop))
    }
}

impl<'a, C: AsyncConnection> InstanceOutput<'a, C::Raw> for Connecting<'a, C> {
    const IS_ASYNC: bool = true;
    fn into_dyn(self) -> DynConnect<'a> {
        DynConnect::Pending(Box::pin(async move { self.await.map(drop) }))
    }
}

mod sealed {
    pub trait Sealed {}
    impl<T: super::Connection> Sealed for T {}

    pub trait SealedOutput {}
    impl<R> SealedOutput for crate::Result<std::sync::Arc<R>> {}
    impl<C: super::AsyncConnection> SealedOutput for super::Connecting<'_, C> {}
}

/// A connection of a type known only at run time, as [`connection_dyn`](crate::connection_dyn)
/// returns it: the type came from the secrets' `type` key.
///
/// Implemented for every [`Connection`]. Its methods (`name`, `type_name`,
/// `type_path`, `config`, `is_connected`, `reset`, `connect`, `generation`,
/// `downcast`, `downcast_ref`, `is`) are inherent methods of `dyn DynConnection`,
/// so importing this trait never clashes with a connection type's own methods.
/// `Display` and `Debug` match [`BaseConnection`]'s.
///
/// # Examples
///
/// ```
/// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
///
/// #[derive(Connection)]
/// #[connection(type_name = "counter")]
/// struct Counter { base: BaseConnection<u64> }
/// impl Counter {
///     fn _connect(&self, config: &Config) -> Result<u64, BoxError> { Ok(config.get("start")?) }
/// }
///
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", "[connections.c]\ntype = 'counter'\nstart = 5")
///     .build();
/// let any = registry.connection_dyn("c").unwrap();
/// assert_eq!((any.name(), any.type_name()), ("c", "counter"));
/// any.connect().unwrap();
/// assert!(any.is_connected());
/// assert_eq!(any.to_string(), format!("connection `c` ({}), configured from [connections.c]", Counter::TYPE_PATH));
/// let typed = any.downcast::<Counter>().ok().unwrap();
/// assert_eq!(*typed.instance().unwrap(), 5);
/// ```
pub trait DynConnection: Any + Send + Sync + sealed::Sealed {
    // The hooks below are hidden and prefixed so that importing this trait (to
    // name `dyn DynConnection`) never makes a derived type's own `name()`,
    // `reset()`, ... ambiguous. The public methods are inherent on `dyn DynConnection`.
    #[doc(hidden)]
    fn dyn_name(&self) -> &str;
    #[doc(hidden)]
    fn dyn_type_name(&self) -> &'static str;
    #[doc(hidden)]
    fn dyn_type_path(&self) -> &'static str;
    #[doc(hidden)]
    fn dyn_config(&self) -> Arc<Config>;
    #[doc(hidden)]
    fn dyn_reconfigure(&self, next: Config) -> crate::base::Reconfigured;
    #[doc(hidden)]
    fn dyn_is_connected(&self) -> bool;
    #[doc(hidden)]
    fn dyn_reset(&self);
    #[doc(hidden)]
    fn dyn_connect(&self) -> DynConnect<'_>;
    #[doc(hidden)]
    fn dyn_is_async(&self) -> bool;
    #[doc(hidden)]
    fn dyn_generation(&self) -> u64;
    #[doc(hidden)]
    fn dyn_check(&self) -> Option<crate::health::Checking<'_>>;
    #[doc(hidden)]
    fn dyn_health(&self) -> crate::health::Health;
    #[doc(hidden)]
    fn dyn_reset_after_failed_check(&self, generation: u64) -> bool;
    #[doc(hidden)]
    fn dyn_scope_key(&self) -> Option<&str>;
}

impl<T: Connection> DynConnection for T {
    fn dyn_name(&self) -> &str {
        self.base().name()
    }
    fn dyn_type_name(&self) -> &'static str {
        T::TYPE_NAME
    }
    fn dyn_type_path(&self) -> &'static str {
        T::TYPE_PATH
    }
    fn dyn_config(&self) -> Arc<Config> {
        self.base().config()
    }
    fn dyn_reconfigure(&self, next: Config) -> crate::base::Reconfigured {
        self.base()
            .reconfigure(next, |old, new| self.reconfigure_hook(old, new))
    }
    fn dyn_is_connected(&self) -> bool {
        self.base().is_connected()
    }
    fn dyn_reset(&self) {
        self.base().reset();
    }
    fn dyn_connect(&self) -> DynConnect<'_> {
        self.instance().into_dyn()
    }
    fn dyn_is_async(&self) -> bool {
        <T::Instance<'_> as InstanceOutput<'_, T::Raw>>::IS_ASYNC
    }
    fn dyn_generation(&self) -> u64 {
        self.base().generation()
    }
    fn dyn_check(&self) -> Option<crate::health::Checking<'_>> {
        self.check_hook()
    }
    fn dyn_health(&self) -> crate::health::Health {
        self.base().health()
    }
    fn dyn_scope_key(&self) -> Option<&str> {
        self.base().scope_key()
    }
    fn dyn_reset_after_failed_check(&self, generation: u64) -> bool {
        T::CHECK_RESETS
            && self
                .base()
                .reset_if_generation(generation, crate::base::ResetReason::Check)
    }
}

impl dyn DynConnection {
    /// Runs the type's `_check`: `None` if it has none, else its outcome, a
    /// panic in it turned into an error, and the error's cause chain on one
    /// line with the connection's secrets redacted. What the registry's
    /// checks and the doctor's `--connect` run.
    pub(crate) async fn run_check(&self) -> Option<std::result::Result<(), String>> {
        let redact = |cause: String| self.dyn_config().redact(&cause);
        let checking = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dyn_check())) {
            Ok(checking) => checking?,
            Err(panic) => {
                let message = crate::cell::panic_message(&*panic);
                return Some(Err(redact(format!("the check panicked: {message}"))));
            }
        };
        Some(
            checking
                .outcome()
                .await
                .map_err(|error| redact(crate::error::cause_chain(&*error))),
        )
    }

    /// The resolved connection name.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn name(&self) -> &str {
        self.dyn_name()
    }

    /// The type's short name (or full path if it has none).
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn type_name(&self) -> &'static str {
        self.dyn_type_name()
    }

    /// The type's full Rust path.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn type_path(&self) -> &'static str {
        self.dyn_type_path()
    }

    /// The configuration, as a snapshot; see [`Connection::config`].
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn config(&self) -> Arc<Config> {
        self.dyn_config()
    }

    /// Whether the current generation is connected.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn is_connected(&self) -> bool {
        self.dyn_is_connected()
    }

    /// Forgets the raw instance; the next use reconnects.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn reset(&self) {
        self.dyn_reset();
    }

    /// Connects now if not connected (what the `eager` option does).
    ///
    /// # Errors
    ///
    /// The connect's failure, as [`Connection::instance`];
    /// [`Error::AsyncConnection`] for an async connection, which
    /// [`connect_async`](#method.connect_async) connects.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn connect(&self) -> Result<()> {
        let refused = || Error::AsyncConnection {
            name: self.name().to_owned(),
            type_path: self.type_path(),
            call: "connect()",
            instead: "`.connect_async().await`",
        };
        // Checked first, so no connect future is made only to be dropped.
        if self.is_async() {
            return Err(refused());
        }
        match self.dyn_connect() {
            DynConnect::Ready(result) => result,
            DynConnect::Pending(_) => Err(refused()),
        }
    }

    /// Connects now if not connected, blocking or async alike.
    ///
    /// # Errors
    ///
    /// The connect's failure, as [`Connection::instance`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "dyn-async-doc", async)]
    /// struct Remote { base: BaseConnection<u8> }
    /// impl Remote { async fn _connect(&self, _: &Config) -> Result<u8, BoxError> { Ok(1) } }
    ///
    /// let registry = Registry::builder().secrets_toml("s.toml", "[connections.r]\ntype = 'dyn-async-doc'").build();
    /// let any = registry.connection_dyn("r").unwrap();
    /// assert!(any.is_async());
    /// assert!(any.connect().is_err(), "a blocking connect of an async connection is refused");
    /// futures_executor::block_on(any.connect_async()).unwrap();
    /// assert!(any.is_connected());
    /// ```
    pub async fn connect_async(&self) -> Result<()> {
        match self.dyn_connect() {
            DynConnect::Ready(result) => result,
            DynConnect::Pending(connect) => connect.await,
        }
    }

    /// Whether the connection connects asynchronously (`#[connection(async)]`).
    ///
    /// # Examples
    ///
    /// See [`connect_async`](#method.connect_async).
    pub fn is_async(&self) -> bool {
        self.dyn_is_async()
    }

    /// How many times the connection has been reset.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn generation(&self) -> u64 {
        self.dyn_generation()
    }

    /// The typed connection, or `self` back if it is not a `T`.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged if the connection is not a `T`.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn downcast<T: Connection>(self: Arc<Self>) -> std::result::Result<Arc<T>, Arc<Self>> {
        let any: Arc<dyn Any + Send + Sync> = self.clone();
        any.downcast::<T>().map_err(|_| self)
    }

    /// A reference to the typed connection, if it is a `T`.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn downcast_ref<T: Connection>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }

    /// Whether the connection is a `T`.
    ///
    /// # Examples
    ///
    /// See [`DynConnection`].
    pub fn is<T: Connection>(&self) -> bool {
        (self as &dyn Any).is::<T>()
    }
}

impl fmt::Display for dyn DynConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, self.name(), self.type_path(), &self.config())
    }
}

impl fmt::Debug for dyn DynConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynConnection")
            .field("name", &self.name())
            .field("type_path", &self.type_path())
            .field("config", &*self.config())
            .field("connected", &self.is_connected())
            .field("generation", &self.generation())
            .finish()
    }
}

/// A connect started for `dyn DynConnection`: done already (blocking), or a
/// future (async). The derive reaches it through `__private`.
pub enum DynConnect<'a> {
    /// A blocking connection's outcome.
    Ready(Result<()>),
    /// An async connection's connect, to be awaited.
    Pending(Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>),
}
