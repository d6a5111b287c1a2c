//! Named, configured, lazily connected, resettable connections for Rust:
//! Streamlit's `st.connection` system, with its mistakes caught at compile time.
//!
//! You write a struct with a [`BaseConnection<Raw>`](BaseConnection) field and
//! one `_connect` function; `#[derive(Connection)]` writes the rest. Connections
//! are looked up by name, configured from `[connections.<name>]` in Streamlit's
//! secrets files, connect on first use, and reconnect after `reset()`.
//!
//! ```
//! use std::sync::Mutex;
//! use connections_core::prelude::*;
//!
//! #[derive(Connection)]
//! #[connection(type_name = "sqlite")]
//! pub struct Sqlite {
//!     base: BaseConnection<Mutex<rusqlite::Connection>>,
//! }
//!
//! impl Sqlite {
//!     fn _connect(&self, config: &Config) -> Result<Mutex<rusqlite::Connection>, BoxError> {
//!         let path: String = config.get("database")?;
//!         Ok(Mutex::new(rusqlite::Connection::open(path)?))
//!     }
//!
//!     pub fn query_scalar(&self, sql: &str) -> Result<i64, BoxError> {
//!         let conn = self.instance()?;
//!         let conn = conn.lock().map_err(|_| "connection lock poisoned")?;
//!         Ok(conn.query_row(sql, [], |row| row.get(0))?)
//!     }
//! }
//!
//! // A registry reads `~/.streamlit/secrets.toml` and `./.streamlit/secrets.toml`;
//! // this one is given its secrets inline.
//! let registry = connections_core::Registry::builder()
//!     .secrets_toml(".streamlit/secrets.toml", r#"
//!         [connections.local_db]
//!         type = "sqlite"
//!         database = ":memory:"
//!     "#)
//!     .build();
//!
//! let db = registry.connection::<Sqlite>("local_db")?;  // typed lookup, cached
//! assert!(!db.is_connected());                          // lazy
//! assert_eq!(db.query_scalar("SELECT 6 * 7")?, 42);     // connects on first use, once
//! db.reset();                                           // the next use reconnects
//! assert_eq!(db.query_scalar("SELECT 1")?, 1);
//!
//! let any = registry.connection_dyn("local_db")?;       // type taken from the secrets
//! assert_eq!(any.type_name(), "sqlite");
//! # Ok::<(), BoxError>(())
//! ```
//!
//! # What the derive generates
//!
//! The [`Connection`] impl (raw type, type name, full path, construction, the
//! call to `_connect` with its error boxed), which gives your type
//! [`instance`](Connection::instance), [`reset`](Connection::reset),
//! [`reset_if`](Connection::reset_if), [`name`](Connection::name),
//! [`config`](Connection::config) and [`is_connected`](Connection::is_connected);
//! and the type's registration under its `type_name` and its full path
//! (`my_app::db::Sqlite`, as Streamlit accepts `package.module.Class`). See
//! [`derive@Connection`] for the attribute keys. Mistakes are compile errors
//! that say what to write: a missing `_connect`, for one, shows the signature
//! to add.
//!
//! # Async connections
//!
//! Mark the struct `#[connection(async)]` and write `async fn _connect`; then
//! `instance()` returns [`Connecting`], a `Send` future: `conn.instance().await?`.
//! The contract is the same (one connect per generation however many tasks
//! ask, shared failures, panics as errors, `reset_if`), no runtime is assumed
//! (tokio, `futures::executor`, smol, ...), and it is cancellation-safe:
//! dropping the task that drives a connect hands the connect to the next
//! waiter or caller, so a runtime's timeout around `instance()` is safe.
//! Blocking-only methods (`instance_ref`, `instance_timeout`) are compile
//! errors on an async connection, with the `.await` to write instead.
//!
//! # Closing
//!
//! As Streamlit's `reset()`, a reset forgets the old instance; a type that
//! has a close hook also gets it closed, once nothing uses it. Write
//! `fn _close(raw: Raw) -> Result<(), E>` (or `async fn`, or return `()`):
//!
//! ```
//! use connections_core::prelude::*;
//!
//! #[derive(Connection)]
//! #[connection(type_name = "closing-doc")]
//! struct Session { base: BaseConnection<String> }
//!
//! impl Session {
//!     fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("session 1".into()) }
//!     // It owns the instance: no handle to it is left anywhere.
//!     fn _close(raw: String) -> Result<(), BoxError> {
//!         println!("logging out of {raw}");
//!         Ok(())
//!     }
//! }
//!
//! let session = Session::from_config("s", Config::from_toml("s", "")?);
//! let handle = session.instance()?;
//! session.reset();      // retired, but `handle` still uses it: not closed yet
//! drop(handle);
//! session.instance()?;  // prints "logging out of session 1", then reconnects
//! # Ok::<(), BoxError>(())
//! ```
//!
//! An instance is closed when its generation ends (`reset`, `reset_if`, a
//! reload that changed its section, a retry) or its connection is dropped
//! (evicted, expired or cleared from the cache and held nowhere else, or
//! its registry dropped), and then only once its last handle is gone: at
//! the first reset, connect, lookup that builds, `clear_cache`, reload,
//! registry drop or [`Registry::close_released`] after that. Sync hooks run
//! in that thread; async hooks
//! run on a [`Closer`] you spawn (`tokio::spawn(registry.closer())`) or in
//! [`Registry::shutdown`]: the core starts no task. A hook's error or panic
//! is logged (ERROR, config values redacted), never raised, and never stops
//! the other closes.
//!
//! # First-party connection types
//!
//! This crate knows no connection type of its own. Streamlit's
//! `type = "sql"` is `SqlConnection`, in a crate of its own that the
//! `connections` crate builds with its `sql` feature; it is written on the
//! same public API as your types, with the [`author`] module. A section
//! whose `type` names a first-party type that the build leaves out is an
//! error naming the feature to enable.
//!
//! # Lookup
//!
//! * [`connection::<T>(name)`](connection): typed. The type is `T`; the
//!   section's `type` key is not read as the connection type.
//! * [`connection_dyn(name)`](connection_dyn): the type from the `type` key
//!   (or a name that is itself a `type_name`), as a [`DynConnection`] that can
//!   be downcast.
//! * [`lookup(name)`](lookup): options, as `st.connection`'s arguments:
//!   `with_type`, `ttl`, `max_entries`, `kwarg`, `eager`.
//! * A name `env:VAR` stands for the value of `$VAR`.
//!
//! Connections are cached per (type, resolved name, kwargs); each
//! (`ttl`, `max_entries`) pair has its own cache. A cached lookup plus
//! `instance()` takes no lock and allocates nothing.
//!
//! # Configuration
//!
//! ```toml
//! # ~/.streamlit/secrets.toml, then ./.streamlit/secrets.toml (later wins, key by key)
//! [connections.local_db]
//! type = "sqlite"          # a `type_name`, or a full path: "my_app::db::Sqlite"
//! database = "app.db"
//! ```
//!
//! Set `CONNECTIONS_SECRETS_PATH` (paths separated as in `PATH`) to read other
//! files or secrets directories. Environment variables
//! `CONNECTIONS__<NAME>__<KEY>=value` override the files and can define a
//! connection with no file at all (see [`ENV_PREFIX`]); call-site kwargs
//! override both. [`Config`] gives typed access to a
//! connection's section; [`secrets()`] to all of it.
//!
//! # Reloading secrets
//!
//! [`Registry::reload_secrets`] re-reads the secrets and resets each live
//! connection whose configuration changed, and only those; every handle then
//! reconnects with the new values. A registry built with
//! [`watch(true)`](RegistryBuilder::watch) does it on each change of its
//! files (file-system events, debounced; polling where events are
//! unavailable). A malformed or deleted file keeps the last good secrets and
//! logs one error naming the file and line. The global registry watches if
//! [`Registry::init_global`] set it up with `.watch(true)`, or if
//! [`WATCH_ENV`] (`CONNECTIONS_WATCH=1`) says so.
//! A type's `_reconfigure(&self, old, new) -> bool` may take a change in
//! place instead ([`Reloaded::rotated`]): `SqlConnection` takes a new
//! password that way, keeping its sessions (`reason = "rotate"`).
//! [`RegistryBuilder::default_ttl`] and [`DEFAULT_TTL_ENV`] give lookups a
//! default `ttl`.
//!
//! # Tracing
//!
//! Lookups (a TRACE event on a cache hit, a DEBUG `lookup` span when one
//! builds), connects (a `connect` span with the connection, its type and the
//! generation, ending in `connected` or `connect failed` with `elapsed_us`),
//! resets (a `reset` event with the new generation and the reason: `manual`,
//! `reload`, `retry`, `check` or `broken`), closes (a `close` span with the connection, its type
//! and the instance's generation, ending in `closed`, or an ERROR event when
//! the hook failed or panicked) and secrets reloads (a `reload` span) go to the
//! application's `tracing` subscriber. No field holds a configuration value;
//! with no subscriber, each call site costs one relaxed atomic load.
//!
//! # Errors
//!
//! One enum, [`Error`]. Each message says what was asked, what was found, and
//! what to write. The crate's own messages show no configuration value; a
//! driver's or a `_connect`'s cause is shown on the same line with the
//! connection's secrets replaced by `***` ([`Error::connect_cause`] gives it
//! back): values of secret-named keys (near misses such as `pasword`
//! included), URL passwords, keys read as [`Secret`], and keys the
//! connection never read unless their name is harmless (`host`, `port`,
//! `database`, `username`...), so a message still names the host or database. A typed lookup of a name with no section gets the same "did you
//! mean" hints as the untyped ones, on its first missing key or failed connect.
//!
//! # Scopes
//!
//! A type declared `#[connection(scope = "session")]` (Streamlit's
//! `scope="session"`) is cached per [`Scope`], from [`Registry::scope`] with
//! any key (a user, a session id, a tenant), and closed when the scope ends:
//! after its idle time without a handle ([`RegistryBuilder::scope_idle`], so
//! a user's session lives from one request to the next), with its last
//! handle when it has none, or at [`Scope::close`]; `ttl` and `max_entries`
//! apply per scope. [`Registry::owned_scope`] (for an `Arc<Registry>`) and
//! the global registry give a `Scope<'static>` to keep anywhere.
//! `_connect` and `_check` read the key with
//! [`scope_key`](Connection::scope_key); health rows, check rows and tracing
//! events carry it, and [`Registry::check_with`] sums or skips scoped
//! connections so `/healthz` stays small. Looked up without a scope, a
//! session type is [`Error::SessionScoped`]. A global type looked up through
//! a scope is the registry's.
//!
//! # Diagnose
//!
//! [`Registry::diagnostics`] returns every warning and error about the secrets
//! as data ([`Diagnostic`]); [`doctor`] turns them, with each section's keys
//! (masked), origins and type, into the report the `connections doctor`
//! command prints (crate `connections-cli`), and runs it from an application's
//! own binary. [`Registry::health`] reports each cached connection's state
//! and counts; [`Registry::check`] runs each type's `_check` hook (sync or
//! async), `SqlConnection`'s running `SELECT 1`, and resets a connected
//! instance whose check failed, so it heals once its server is back;
//! [`Connection::reset_if_broken`] does the same inside a type's methods. The `metrics` feature counts
//! and times connects, resets, closes and checks through the `metrics` facade.
//! [`Secrets::env_vars`] gives the top-level secrets Streamlit exports to the
//! environment, for a child process (`connections exec -- CMD`).
//!
//! # Differences from Streamlit
//!
//! * Lazy by default: nothing connects until `instance()`; the `eager` option
//!   restores Streamlit's connect-on-construction and returns its error.
//! * Secrets files merge key by key; Streamlit replaces a top-level table
//!   wholesale, so a project file's `[connections.*]` hides the global file's.
//! * Every thread waiting on a connect gets its outcome, failure included;
//!   only the next call retries (Streamlit's waiters each try again).
//! * Cache keys: kwargs in sorted order, `_`-prefixed kwargs included, the
//!   type keyed by identity, `ttl` a `Duration`; `max_entries = 0` is a clear
//!   error instead of failing on every insert.
//! * A missing `type` key, an unset `env:` variable and the other mistakes
//!   Streamlit reports as bare `KeyError`s get messages that say what to write.
//! * A missing secrets file never breaks a typed lookup: the config is empty,
//!   and a missing key then says which file to create.
//! * Secrets directories nest below the first level of subfolders.
//! * Close hooks never close an instance under a caller still using it:
//!   Streamlit's `close()` runs on eviction whatever holds the object; here
//!   the close waits for the last handle, and a connection evicted while
//!   still held keeps working until dropped. A reset closes too, once the
//!   instance is released (Streamlit's `reset()` only forgets).
//! * Configuration from environment variables, which Streamlit does not offer.
//! * With an explicit type, a section's `type` key stays the client library's
//!   data; a warning names a conflict with another registered type.
//! * Reloads are driven by file-system events (Streamlit polls), compare the
//!   kwargs too, keep the last good secrets on a malformed or deleted file,
//!   and are opt-in for the global registry ([`Registry::init_global`]).
//! * Top-level secrets are never exported to this process's environment
//!   (`set_var` is unsafe while threads run): [`Secrets::env_vars`] and
//!   `connections exec` give them to a child process instead.

#![doc(html_root_url = "https://docs.rs/connections-core/0.1.0")]

extern crate self as connections_core;

pub mod author;
mod base;
mod cache;
mod cell;
mod close;
mod config;
mod connection;
mod diagnostic;
#[cfg(feature = "doctor")]
pub mod doctor;
mod error;
mod handle;
mod health;
mod instance;
mod origin;
mod read_cache;
mod redact;
mod registry;
mod secret;
mod secrets;
#[cfg(feature = "settings")]
mod settings;
mod trace;
#[cfg(feature = "watch")]
mod watch;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

use std::sync::Arc;

pub use crate::base::BaseConnection;
pub use crate::close::Closer;
pub use crate::config::Config;
pub use crate::connection::{
    AsyncConnection, BlockingConnection, ConnectFuture, Connecting, Connection, DynConnection, InstanceOutput,
};
pub use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
pub use crate::error::{BoxError, Error, Result};
pub use crate::handle::ConnectionRef;
pub use crate::health::{CheckOutcome, ConnectionState, Health, ScopeTally, ScopedChecks};
pub use crate::instance::InstanceRef;
pub use crate::origin::ENV_PREFIX;
pub use crate::registry::{Lookup, Registration, Registry, RegistryBuilder, Reloaded, Scope, ScopeClosed, WATCH_ENV};
pub use crate::secret::Secret;
pub use crate::secrets::{DEFAULT_TTL_ENV, SECRETS_PATH_ENV, Secrets};

/// Derives [`Connection`](trait@Connection) for a struct with one
/// `BaseConnection<Raw>` field and a `_connect` function.
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// #[connection(type_name = "kv")]          // optional: `type = "kv"` in secrets
/// pub struct Kv {
///     base: BaseConnection<std::collections::HashMap<String, String>>,
///     hits: std::sync::atomic::AtomicUsize, // other fields take their `Default`
/// }
///
/// impl Kv {
///     // What you write: build the raw instance from the configuration.
///     fn _connect(&self, config: &Config) -> Result<std::collections::HashMap<String, String>, BoxError> {
///         let greeting: String = config.get("greeting")?;
///         Ok([("greeting".to_owned(), greeting)].into())
///     }
/// }
///
/// let kv = Kv::from_config("kv", Config::from_toml("kv", "greeting = 'hi'")?);
/// assert_eq!(kv.instance()?["greeting"], "hi");
/// # Ok::<(), connections_core::Error>(())
/// ```
///
/// # What it generates
///
/// Inside a `const _: () = { ... };` block, with every path absolute:
///
/// * `impl Connection for Kv`, with
///   * `type Raw`: the `BaseConnection<Raw>` field's argument;
///   * `const TYPE_NAME`: the `type_name` key, or the full path if absent;
///   * `const TYPE_PATH`: the full path, `module_path!()` + `::Kv`;
///   * `fn from_base`: construction around a `BaseConnection` built from a
///     resolved name and [`Config`], every other field `Default::default()`;
///   * `fn base`: access to the `BaseConnection` field;
///   * `type Instance` and `fn instance`: `Result<Arc<Raw>>` from the
///     single-flight cell, or, with `async`, the [`Connecting`] future.
/// * `impl BlockingConnection for Kv` (or, with `async`, `impl AsyncConnection`)
///   with `fn connect_raw`: the call to `_connect` (or `connect = path`), its
///   error boxed into [`BoxError`] (and, async, its future boxed).
///
///   Through the traits, your type gets [`instance`](Connection::instance),
///   [`reset`](Connection::reset), [`reset_if`](Connection::reset_if),
///   [`name`](Connection::name), [`config`](Connection::config),
///   [`is_connected`](Connection::is_connected) and
///   [`from_config`](Connection::from_config); importing the derive imports the
///   trait too, since they share a name.
/// * A registration (`inventory::submit!`) of the type under its `type_name`
///   and its full path in every registry, with no call from `main`. A crate
///   that nothing references is not linked, and its registrations with it: for
///   such a crate, call [`Registry::register::<T>()`](Registry::register).
///
/// # Attribute keys
///
/// `#[connection(...)]` takes, each at most once:
///
/// * `type_name = "sqlite"`: the short name used by `type = "sqlite"` in secrets
///   (ASCII letters, digits, `_`, `-`, starting with a letter).
/// * `async`: `_connect` is an `async fn`, and `instance()` returns a future
///   to `.await` (any executor; see [`Connecting`]):
///
///   ```
///   use connections_core::prelude::*;
///
///   #[derive(Connection)]
///   #[connection(type_name = "remote-kv", async)]
///   struct RemoteKv { base: BaseConnection<String> }
///
///   impl RemoteKv {
///       async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
///           Ok(config.get("url")?) // e.g. `Client::connect(&url).await?`
///       }
///   }
///
///   let kv = RemoteKv::from_config("kv", Config::from_toml("kv", "url = 'redis://127.0.0.1'")?);
///   let raw = futures_executor::block_on(kv.instance())?;
///   assert_eq!(*raw, "redis://127.0.0.1");
///   # Ok::<(), connections_core::Error>(())
///   ```
/// * `scope = "session"`: cached per [`Scope`] (`registry.scope(key)`), not
///   once per registry; `scope = "global"` is the default.
/// * `settings = T` (the `settings` feature): `T` derives serde's
///   `Deserialize` and schemars' `JsonSchema`. Each section is checked
///   against `T` before a connect (every problem at once), in
///   [`Registry::diagnostics`] and in the doctor, and `T`'s schema is part of
///   `Registry::settings_schema`; `_connect` may take `&T` instead of
///   `&Config`. The `type` key never reaches `T`, so
///   `#[serde(deny_unknown_fields)]` works.
/// * `connect = path`: call this function instead of `_connect`; it has the
///   same signature, `fn(&Self, &Config) -> Result<Raw, E>` (`async` too with
///   the `async` key).
/// * `close = path`: call this function instead of `_close` to close a
///   retired instance: `fn(Raw) -> Result<(), E>` or `fn(Raw)`, or an
///   `async fn` of either (driven by a [`Closer`]), with or without `async`
///   on the struct.
/// * `check = path`: call this function instead of `_check`, the health
///   check [`Registry::check`] runs: `fn(&Self) -> Result<(), E>`, or an
///   `async fn`.
/// * `check_resets = false`: a failed check leaves a connected instance
///   alone. By default it is reset, so the next use reconnects (for a client
///   that heals itself, such as a pool, opt out).
/// * `diagnose = path`: more checks of a section, `fn(&Config) ->
///   Vec<Diagnostic>` (see [`author::Diagnose`]).
/// * `block_on = path`: how the doctor drives the type's futures where no
///   runtime runs (see [`author::BlockOn`]).
/// * `crate = path`: where the runtime is, for crates that re-export it.
///
/// A mistake in these keys is reported alone: the impl is still generated
/// from the keys that are right, so uses of the type raise no errors of
/// their own.
///
/// # The close hook
///
/// An optional `_close` (an associated function: it takes the raw instance
/// by value and no `self`, since it may run after the connection is gone)
/// closes each retired instance once nothing uses it; see the crate docs,
/// "Closing". Without one, a retired instance is simply dropped.
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// #[connection(type_name = "closing-kv")]
/// struct Kv { base: BaseConnection<String> }
///
/// impl Kv {
///     fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("kv".into()) }
///     fn _close(raw: String) {
///         println!("closing {raw}"); // e.g. `client.quit()`
///     }
/// }
///
/// let kv = Kv::from_config("kv", Config::from_toml("kv", "")?);
/// kv.instance()?;
/// kv.reset(); // prints "closing kv": nothing else held it
/// # Ok::<(), connections_core::Error>(())
/// ```
///
/// # Compile errors
///
/// Each of these fails to compile with a message that points at your code and
/// says what to write: no `_connect` (the message shows the signature to add),
/// a `_connect` of the wrong shape or return type, no `BaseConnection` field or
/// two, an enum, a union, a generic struct, an unknown or repeated attribute
/// key (all such mistakes are reported together), a malformed `type_name`, a
/// raw type that is not `Send + Sync + 'static`, an extra field with no
/// `Default`; with `async`: a `_connect` that is not `async` (or an `async`
/// one without the key), a connect future that is not `Send` (rustc shows
/// which value is held across which `.await`), and a blocking method
/// (`instance_ref`, `instance_timeout`) called on an async connection; a
/// `_close` that takes `self` or has the wrong return or error type, and an
/// async one whose future is not `Send`.
#[cfg(feature = "derive")]
pub use connections_derive::Connection;

/// The items a connection's module needs: `use connections_core::prelude::*;`.
///
/// # Examples
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// struct Unit { base: BaseConnection<()> }
/// impl Unit { fn _connect(&self, _: &Config) -> Result<(), BoxError> { Ok(()) } }
/// # let _: Option<Error> = None;
/// ```
pub mod prelude {
    pub use crate::{BaseConnection, BoxError, Config, Connection, Error, Secret};
}

/// The cached connection `name` of type `T` from the global registry.
///
/// See [`Registry::connection`].
///
/// # Errors
///
/// As [`Registry::connection`].
///
/// # Examples
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// struct Clock { base: BaseConnection<std::time::Instant> }
/// impl Clock {
///     fn _connect(&self, _: &Config) -> Result<std::time::Instant, BoxError> { Ok(std::time::Instant::now()) }
/// }
///
/// // No secrets section is needed when the connection reads no config.
/// let clock = connections_core::connection::<Clock>("doc_clock")?;
/// let started = clock.instance()?;
/// assert_eq!(started, clock.instance()?);
/// # Ok::<(), connections_core::Error>(())
/// ```
#[inline]
pub fn connection<T: Connection>(name: &str) -> Result<Arc<T>> {
    Registry::global().connection::<T>(name)
}

/// The cached connection `name` from the global registry, its type taken from the secrets.
///
/// See [`Registry::connection_dyn`].
///
/// # Errors
///
/// As [`Registry::connection_dyn`].
///
/// # Examples
///
/// ```
/// let err = connections_core::connection_dyn("env:DOC_SURELY_UNSET_VARIABLE").unwrap_err();
/// assert!(err.to_string().contains("`DOC_SURELY_UNSET_VARIABLE`"));
/// ```
pub fn connection_dyn(name: &str) -> Result<Arc<dyn DynConnection>> {
    Registry::global().connection_dyn(name)
}

/// A lookup with options on the global registry; see [`Lookup`].
///
/// # Examples
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// struct Echo { base: BaseConnection<String> }
/// impl Echo {
///     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("text")?) }
/// }
///
/// let echo = connections_core::lookup("doc_echo").kwarg("text", "hi").get::<Echo>()?;
/// assert_eq!(*echo.instance()?, "hi");
/// # Ok::<(), connections_core::Error>(())
/// ```
pub fn lookup(name: &str) -> Lookup<'_> {
    Registry::global().lookup(name)
}

/// The cached connection `name` of type `T` from the global registry, as a
/// borrowed [`ConnectionRef`]; see [`Registry::connection_ref`].
///
/// # Errors
///
/// As [`Registry::connection`].
///
/// # Examples
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// struct Answer { base: BaseConnection<u64> }
/// impl Answer { fn _connect(&self, _: &Config) -> Result<u64, BoxError> { Ok(42) } }
///
/// let answer = *connections_core::connection_ref::<Answer>("doc_answer")?.instance_ref()?;
/// assert_eq!(answer, 42);
/// # Ok::<(), connections_core::Error>(())
/// ```
#[inline]
pub fn connection_ref<T: Connection>(name: &str) -> Result<ConnectionRef<T>> {
    Registry::global().connection_ref::<T>(name)
}

/// The global registry's merged secrets, as Streamlit's `st.secrets`.
///
/// # Errors
///
/// As [`Registry::secrets`].
///
/// # Examples
///
/// ```
/// if let Ok(secrets) = connections_core::secrets() {
///     let _key: Option<String> = secrets.get_opt("api.key").unwrap_or(None);
/// }
/// ```
pub fn secrets() -> Result<Arc<Secrets>> {
    Registry::global().secrets()
}
