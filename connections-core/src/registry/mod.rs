//! The name-keyed registry: its secrets, its caches and the lookups on them.

mod builder;
pub(crate) mod diagnose;
mod health;
mod lookup;
mod reload;
mod scope;
mod types;

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::cache::{Cache, KeyRef, Policy};
use crate::close::{CloseQueue, Closer};
use crate::connection::{Connection, DynConnection};
use crate::error::{Error, Result};
use crate::handle::ConnectionRef;
use crate::secrets::{Secrets, Source};
#[cfg(feature = "watch")]
use crate::watch::Watcher;

pub use self::builder::{RegistryBuilder, WATCH_ENV};
pub use self::lookup::Lookup;
use self::lookup::{check_name, resolve_env};
pub use self::reload::Reloaded;
pub use self::scope::{Scope, ScopeClosed};
pub use self::types::Registration;
use self::types::Types;

/// A registry of connection types with its own secrets and factory cache.
///
/// The process-wide one is [`Registry::global`](crate::Registry::global), which the free functions
/// ([`connection`](crate::connection), [`connection_dyn`](crate::connection_dyn),
/// [`lookup`](crate::lookup), [`secrets`](crate::secrets)) use. Build
/// independent ones with [`Registry::builder`](crate::Registry::builder) for tests and embedding: each has
/// its own secrets sources and its own cache, and starts with every derived
/// type linked into the program.
///
/// # Examples
///
/// ```
/// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
///
/// #[derive(Connection)]
/// #[connection(type_name = "echo")]
/// struct Echo { base: BaseConnection<String> }
/// impl Echo {
///     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("text")?) }
/// }
///
/// let registry = Registry::builder()
///     .secrets_toml("test secrets", "[connections.e]\ntype = 'echo'\ntext = 'hi'")
///     .build();
/// let a = registry.connection::<Echo>("e").unwrap();
/// let b = registry.connection::<Echo>("e").unwrap();
/// assert!(std::sync::Arc::ptr_eq(&a, &b), "cached");
/// assert_eq!(*a.instance().unwrap(), "hi");
/// ```
pub struct Registry {
    types: RwLock<Types>,
    /// The type code chose for each name it looked up with one (typed, or
    /// `with_type`): the diagnostics check the section against it.
    chosen: Mutex<HashMap<Box<str>, Registration>>,
    shared: Arc<Shared>,
    /// The default ttl (code, else `CONNECTIONS_DEFAULT_TTL`), or why the variable is unusable.
    default_ttl: Result<Option<Duration>>,
    /// Dropped with the registry, which stops its thread.
    #[cfg(feature = "watch")]
    watcher: Option<Watcher>,
}

/// What a reload touches: the secrets and the live connections. Shared with
/// the watcher thread, which holds it weakly so it never keeps a registry alive.
pub(crate) struct Shared {
    pub(crate) sources: Vec<Source>,
    environment: bool,
    secrets: ArcSwapOption<Secrets>,
    /// Serialises loads, reloads and the catch-up of a connection built during one.
    secrets_load: Mutex<()>,
    default_cache: Cache,
    caches: Mutex<HashMap<Policy, Arc<Cache>>>,
    /// Where this registry's retired instances wait for their close hooks.
    closes: Arc<CloseQueue>,
    /// The live scopes, by key, held weakly: a scope leaves when nothing
    /// holds it (no handle, and no keeper: its idle time is past). Hashed
    /// like the caches' keys: `registry.scope(key)` runs per request; keys of
    /// up to 24 bytes live inside the map's entry, as the caches' names do.
    scopes: papaya::HashMap<compact_str::CompactString, std::sync::Weak<scope::ScopeState>, crate::cache::KeyHasher>,
    /// The scopes kept past their last handle for their idle time.
    scope_keepers: Mutex<Vec<Arc<scope::ScopeState>>>,
    /// Serialises the creation of scopes, so one key never gets two.
    scope_writes: Mutex<()>,
    /// How long a new scope outlives its last handle ([`RegistryBuilder::scope_idle`]).
    scope_idle: Duration,
    /// How often the idle sweep looks, in nanoseconds (the shortest idle time's quarter).
    scope_tick: std::sync::atomic::AtomicU64,
    /// The idle sweep's thread, started by the first scope with an idle time.
    scope_sweeper: std::sync::OnceLock<Option<std::thread::Thread>>,
}

/// The process-wide registry: set by [`Registry::init_global`], or built
/// with the defaults on first use.
static GLOBAL: once_cell::sync::OnceCell<Registry> = once_cell::sync::OnceCell::new();

/// The global registry shares its close queue with connections built without a registry.
fn global_builder(builder: RegistryBuilder) -> RegistryBuilder {
    RegistryBuilder {
        closes: Some(Arc::clone(CloseQueue::global())),
        ..builder
    }
}

impl Registry {
    /// The process-wide registry, created on first use: the one
    /// [`init_global`](Registry::init_global) set up, or else one with the
    /// defaults (as `Registry::builder().build()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = connections_core::Registry::global();
    /// assert!(std::ptr::eq(a, connections_core::Registry::global()));
    /// ```
    #[inline]
    pub fn global() -> &'static Registry {
        GLOBAL.get_or_init(|| global_builder(Registry::builder()).build())
    }

    /// Sets up the process-wide registry from `builder`, before its first use:
    /// the one the free functions ([`connection`](crate::connection),
    /// [`lookup`](crate::lookup), ...) and [`Registry::global`] use.
    ///
    /// This is how the global registry watches its secrets
    /// ([`watch`](RegistryBuilder::watch)), reads other paths, or gets a
    /// default ttl, from code, with no environment variable to set. Call it
    /// once, at the start of `main`.
    ///
    /// # Errors
    ///
    /// [`Error::GlobalInUse`] if the global registry already exists: a lookup
    /// or `Registry::global()` made it with the defaults, or `init_global`
    /// ran before. It is left as it is; `builder` is dropped unbuilt.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use connections_core::{Error, Registry};
    ///
    /// let registry = Registry::init_global(
    ///     Registry::builder().secrets_toml("app secrets", "[connections.db]\ntype = 'sql'\nurl = 'sqlite::memory:'"),
    /// )?;
    /// assert!(std::ptr::eq(registry, Registry::global()));
    /// assert_eq!(connections_core::secrets()?.get::<String>("connections.db.type")?, "sql");
    ///
    /// // Once set (or used), it stays.
    /// let again = Registry::init_global(Registry::builder());
    /// assert!(matches!(again, Err(Error::GlobalInUse)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn init_global(builder: RegistryBuilder) -> Result<&'static Registry> {
        if GLOBAL.get().is_some() {
            return Err(Error::GlobalInUse);
        }
        // Two racing calls may both build; one registry is kept, the other
        // dropped (which stops its watcher) and its caller told.
        GLOBAL
            .try_insert(global_builder(builder).build())
            .map_err(|_| Error::GlobalInUse)
    }

    /// A builder for an independent registry.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("empty", "").build();
    /// assert!(registry.secrets().unwrap().connection_names().is_empty());
    /// ```
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            sources: None,
            environment: true,
            linked: true,
            extra: Vec::new(),
            default_ttl: None,
            watch: None,
            watch_poll_interval: None,
            watch_debounce: None,
            scope_idle: Duration::ZERO,
            closes: None,
        }
    }

    /// Registers connection type `T` under its `type_name` and full path.
    ///
    /// Derived types register themselves when their crate is linked, with no
    /// call from `main`. Call this only for a type in a crate nothing else
    /// references (the linker drops such a crate, and its registration with
    /// it), or for a registry built with `linked_types(false)`. Registering a
    /// type twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
    /// let registry = Registry::builder().linked_types(false).secrets_toml("s", "").build();
    /// assert!(registry.type_names().is_empty());
    /// registry.register::<Echo>();
    /// assert!(registry.type_names().contains(&"echo"));
    /// ```
    pub fn register<T: Connection>(&self) {
        self.types
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(Registration::of::<T>());
    }

    /// Every registered short name and full path, sorted.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().linked_types(false).build();
    /// assert!(registry.type_names().is_empty());
    /// ```
    pub fn type_names(&self) -> Vec<&'static str> {
        self.with_types(|types| types.by_name.keys().copied().collect())
    }

    /// The merged secrets, read on first use and then kept.
    ///
    /// # Errors
    ///
    /// A malformed file ([`Error::MalformedSecrets`](crate::Error::MalformedSecrets)), an unreadable one
    /// ([`Error::ReadSecrets`](crate::Error::ReadSecrets)) or a bad configured path
    /// ([`Error::InvalidSecretsPath`](crate::Error::InvalidSecretsPath)). Finding no file at all is not an
    /// error: the secrets are then empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "[api]\nkey = 'k'").build();
    /// assert_eq!(registry.secrets().unwrap().get::<String>("api.key").unwrap(), "k");
    /// ```
    pub fn secrets(&self) -> Result<Arc<Secrets>> {
        self.shared.secrets()
    }

    /// Re-reads the secrets now, and resets each live connection whose
    /// configuration changed, and only those.
    ///
    /// "Live" means held in this registry's factory cache. For each, the new
    /// `[connections.<name>]` section (environment overrides included, as
    /// at lookup) is laid under the call-site kwargs the connection was
    /// looked up with; if the result differs from its configuration, the
    /// connection takes the new one and is [reset](Connection::reset). Every
    /// handle to it, old or new, then reconnects with the new configuration
    /// on its next `instance()`, as Streamlit's connections re-read their
    /// section when its secrets change. Raw instances already handed out stay
    /// valid until dropped. A connection whose configuration did not change
    /// keeps its instance. Connections no longer in the cache (expired,
    /// evicted, cleared, or looked up with a zero `ttl`) are not touched.
    ///
    /// This is what a watching registry ([`RegistryBuilder::watch`](crate::RegistryBuilder::watch)) runs on
    /// each change.
    ///
    /// # Errors
    ///
    /// As [`secrets`](Registry::secrets), and
    /// [`Error::SecretsFileRemoved`](crate::Error::SecretsFileRemoved) if a file that was read before is gone.
    /// On error nothing changes: the last good secrets are kept, and no
    /// connection is reset.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("secrets.toml");
    /// std::fs::write(&file, "[connections.a]\ntext = 'one'\n[connections.b]\ntext = 'same'").unwrap();
    /// let registry = Registry::builder().secrets_paths([&file]).build();
    /// let a = registry.connection::<Echo>("a").unwrap();
    /// let b = registry.connection::<Echo>("b").unwrap();
    /// assert_eq!(*a.instance().unwrap(), "one");
    /// let b_before = b.instance().unwrap();
    ///
    /// std::fs::write(&file, "[connections.a]\ntext = 'two'\n[connections.b]\ntext = 'same'").unwrap();
    /// let reloaded = registry.reload_secrets().unwrap();
    /// assert_eq!(reloaded.reset(), ["a"]);
    /// assert_eq!(*a.instance().unwrap(), "two", "the old handle reconnects with the new config");
    /// assert!(std::sync::Arc::ptr_eq(&b_before, &b.instance().unwrap()), "b was not reset");
    ///
    /// // A malformed edit keeps the last good secrets.
    /// std::fs::write(&file, "[connections.a\n").unwrap();
    /// assert!(registry.reload_secrets().is_err());
    /// assert_eq!(*a.instance().unwrap(), "two");
    /// ```
    pub fn reload_secrets(&self) -> Result<Reloaded> {
        self.shared.reload()
    }

    /// Whether this registry watches its secrets files and reloads them on
    /// change ([`RegistryBuilder::watch`](crate::RegistryBuilder::watch), [`WATCH_ENV`]). Always `false`
    /// without the `watch` feature, and for a registry whose secrets are all
    /// inline text (which never changes).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_paths(["secrets.toml"])
    ///     .watch(true)
    ///     .build();
    /// assert_eq!(registry.is_watching(), cfg!(feature = "watch"));
    /// let inline = connections_core::Registry::builder().secrets_toml("s", "").watch(true).build();
    /// assert!(!inline.is_watching());
    /// ```
    pub fn is_watching(&self) -> bool {
        #[cfg(feature = "watch")]
        return self.watcher.is_some();
        #[cfg(not(feature = "watch"))]
        false
    }

    /// Drops every cached connection; the next lookups build new ones.
    ///
    /// Handles already handed out stay valid. A connection that nothing else
    /// holds is dropped, and its instance closed by its type's close hook
    /// (sync hooks here, in this thread; async ones by a [`closer`](Registry::closer))
    /// once no handle to it is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "clear-doc")]
    /// struct Files { base: BaseConnection<String> }
    /// impl Files {
    ///     fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("open".into()) }
    ///     fn _close(raw: String) -> Result<(), BoxError> {
    ///         println!("closing {raw}");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "[connections.f]\ntype = 'clear-doc'").build();
    /// registry.connection::<Files>("f").unwrap().instance().unwrap();
    /// registry.clear_cache(); // prints "closing open"
    /// assert_eq!(registry.cached_len(), 0);
    /// ```
    pub fn clear_cache(&self) {
        self.shared.clear();
        self.shared.closes.sweep();
    }

    /// Closes every retired instance whose last handle has been dropped.
    ///
    /// The registry does this on its own at each reset, connect, lookup that
    /// builds, [`clear_cache`](Registry::clear_cache), reload and drop; call it
    /// (on a timer, say) when an instance retired while in use should be
    /// closed even if nothing else happens afterwards. Sync hooks run here;
    /// async ones go to a [`closer`](Registry::closer).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// static CLOSED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "released-doc")]
    /// struct Session { base: BaseConnection<u8> }
    /// impl Session {
    ///     fn _connect(&self, _: &Config) -> Result<u8, BoxError> { Ok(1) }
    ///     fn _close(_raw: u8) { CLOSED.fetch_add(1, Ordering::SeqCst); }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "[connections.s]\ntype = 'released-doc'").build();
    /// let session = registry.connection::<Session>("s").unwrap();
    /// let handle = session.instance().unwrap();
    /// session.reset();
    /// assert_eq!(CLOSED.load(Ordering::SeqCst), 0, "still in use");
    /// drop(handle);
    /// registry.close_released();
    /// assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    /// ```
    pub fn close_released(&self) {
        self.shared.closes.sweep();
    }

    /// A future that runs this registry's async close hooks: spawn it on
    /// your runtime, e.g. `tokio::spawn(registry.closer())`.
    ///
    /// The core starts no task and assumes no runtime, so an async hook
    /// (`async fn _close`) needs something to drive it. While no closer runs
    /// (or [`shutdown`](Registry::shutdown)), an instance whose hook is async is
    /// dropped without it, with one warning. Sync hooks need no closer.
    ///
    /// The closer finishes once the registry is dropped and the closes it
    /// took have finished; the global registry's runs for the life of the
    /// process. It also drives the async closes of connections built without
    /// a registry ([`Connection::from_config`](crate::Connection::from_config)).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "closer-doc", async)]
    /// struct Remote { base: BaseConnection<String> }
    /// impl Remote {
    ///     async fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("session".into()) }
    ///     async fn _close(raw: String) -> Result<(), BoxError> {
    ///         println!("goodbye, {raw}"); // e.g. `pool.close().await`
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let registry = Registry::builder().secrets_toml("s", "[connections.r]\ntype = 'closer-doc'").build();
    /// let closer = tokio::spawn(registry.closer());
    ///
    /// let remote = registry.connection::<Remote>("r").unwrap();
    /// remote.instance().await.unwrap();
    /// remote.reset(); // the old session is closed by the closer
    ///
    /// drop(remote);
    /// drop(registry);
    /// closer.await.unwrap(); // done: the registry is gone and every close ran
    /// # }
    /// ```
    pub fn closer(&self) -> Closer {
        Closer::new(&self.shared.closes, false)
    }

    /// Clears the cache and runs the close hooks of every instance nothing
    /// uses any more, waiting for the async ones: a graceful end, before
    /// the runtime stops.
    ///
    /// Instances still held (a handle kept somewhere, or a connection kept
    /// outside the cache) are not closed under their users; a warning names
    /// them. The registry stays usable: lookups after it build anew.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// static CLOSED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "shutdown-doc", async)]
    /// struct Remote { base: BaseConnection<u32> }
    /// impl Remote {
    ///     async fn _connect(&self, _: &Config) -> Result<u32, BoxError> { Ok(7) }
    ///     async fn _close(_raw: u32) -> Result<(), BoxError> {
    ///         CLOSED.fetch_add(1, Ordering::SeqCst);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "[connections.r]\ntype = 'shutdown-doc'").build();
    /// futures_executor::block_on(async {
    ///     registry.connection::<Remote>("r").unwrap().instance().await.unwrap();
    ///     registry.shutdown().await;
    /// });
    /// assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    /// ```
    pub async fn shutdown(&self) {
        // A driver before the sweep, so async closes are kept for it.
        let closer = Closer::new(&self.shared.closes, true);
        // Every session ends too, idle or not: the service is stopping.
        self.shared.end_scopes();
        self.clear_cache();
        closer.await;
        let in_use = self.shared.closes.in_use();
        if !in_use.is_empty() {
            tracing::warn!(
                "shutdown: {} instance(s) still in use were not closed: {}; each is closed at the registry's next sweep after its last handle is dropped",
                in_use.len(),
                in_use.join(", ")
            );
        }
    }

    /// How many live connections the factory cache holds, across all policies.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// assert_eq!(registry.cached_len(), 0);
    /// ```
    pub fn cached_len(&self) -> usize {
        self.shared.default_cache.len()
            + self
                .shared
                .caches
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .map(|c| c.len())
                .sum::<usize>()
    }

    /// The cached connection `name` of type `T`, built (unconnected) on first use.
    ///
    /// The type is `T`; the section's `type` key is not read as the connection
    /// type (it may be a client library's own data). A section is not required:
    /// without one, `_connect` sees an empty [`Config`](crate::Config).
    ///
    /// A lookup of a cached connection takes no lock and allocates nothing
    /// (an `env:` name reads the environment, which allocates).
    ///
    /// # Errors
    ///
    /// A bad name or unset `env:` variable, or unreadable secrets.
    ///
    /// # Examples
    ///
    /// See [`Registry`](crate::Registry).
    #[inline]
    pub fn connection<T: Connection>(&self, name: &str) -> Result<Arc<T>> {
        // Checked only on a miss: a bad name is never cached, so it never hits.
        let resolved = resolve_env(name)?;
        let key = KeyRef {
            type_id: TypeId::of::<T>(),
            name: &resolved,
            kwargs: "",
        };
        if let Some(conn) = self.shared.default_cache.get_typed::<T>(key) {
            tracing::trace!(connection = &*resolved, "lookup: cache hit");
            return Ok(conn);
        }
        check_name(name, &resolved)?;
        Lookup::resolved(self, resolved).get::<T>()
    }

    /// As [`connection`](Registry::connection), returning a borrowed
    /// [`ConnectionRef`](crate::ConnectionRef) that touches no shared reference count when the
    /// connection is cached, so the lookup scales with threads. Pair it with
    /// [`instance_ref`](Connection::instance_ref) on a request's hot path.
    ///
    /// # Errors
    ///
    /// As [`connection`](Registry::connection).
    ///
    /// # Examples
    ///
    /// See [`ConnectionRef`](crate::ConnectionRef).
    #[inline]
    pub fn connection_ref<T: Connection>(&self, name: &str) -> Result<ConnectionRef<T>> {
        let resolved = resolve_env(name)?;
        let key = KeyRef {
            type_id: TypeId::of::<T>(),
            name: &resolved,
            kwargs: "",
        };
        if let Some(hit) = self.shared.default_cache.get_guard(key).and_then(ConnectionRef::cached) {
            tracing::trace!(connection = &*resolved, "lookup: cache hit");
            return Ok(hit);
        }
        check_name(name, &resolved)?;
        Lookup::resolved(self, resolved).get::<T>().map(ConnectionRef::owned)
    }

    /// The cached connection `name`, its type taken from the secrets.
    ///
    /// The type is resolved as Streamlit does: a name that is itself a
    /// registered `type_name` is that type; otherwise the `type` key of
    /// `[connections.<name>]`, a short name or a full path.
    ///
    /// # Errors
    ///
    /// No secrets, no section, no `type` key, or an unknown type, each saying
    /// what to write; and as [`connection`](Registry::connection).
    ///
    /// # Examples
    ///
    /// See [`DynConnection`](crate::DynConnection).
    pub fn connection_dyn(&self, name: &str) -> Result<Arc<dyn DynConnection>> {
        self.lookup(name).get_dyn()
    }

    /// A lookup with options: type override, `ttl`, `max_entries`, kwargs, `eager`.
    ///
    /// # Examples
    ///
    /// See [`Lookup`](crate::Lookup).
    pub fn lookup<'r>(&'r self, name: &'r str) -> Lookup<'r> {
        Lookup::new(self, name)
    }

    fn cache_for(&self, policy: Policy) -> Arc<Cache> {
        let mut caches = self.shared.caches.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(caches.entry(policy).or_insert_with(|| Arc::new(Cache::new(policy))))
    }

    fn with_types<R>(&self, f: impl FnOnce(&Types) -> R) -> R {
        f(&self.types.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Registry {
    /// Clears the cache and closes what nothing uses any more; a running
    /// [`Closer`](crate::Closer) finishes the async closes, then ends.
    fn drop(&mut self) {
        self.shared.end_scopes();
        self.shared.clear();
        self.shared.closes.sweep();
        self.shared.closes.end();
        // The idle sweep ends at its next look, which this brings forward.
        if let Some(Some(sweeper)) = self.shared.scope_sweeper.get() {
            sweeper.unpark();
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.type_names())
            .field(
                "sources",
                &self.shared.sources.iter().map(Source::label).collect::<Vec<_>>(),
            )
            .field("cached", &self.cached_len())
            .finish_non_exhaustive()
    }
}
