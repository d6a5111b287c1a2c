//! Scopes: session-scoped connections (Streamlit's `scope="session"`), cached
//! per scope key, kept for an idle time after their last handle, and retired
//! when the scope ends.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::lookup::{check_name, resolve_env};
use super::{Lookup, Registry, Shared};
use crate::cache::{Cache, KeyRef, Policy};
use crate::close::Closer;
use crate::connection::{Connection, DynConnection};
use crate::error::Result;
use crate::handle::ConnectionRef;

/// The state one scope key shares among its [`Scope`] handles: the caches
/// of its session-scoped connections.
///
/// The registry's map holds it weakly. Every handle holds it, and so does
/// the registry's keeper list while the scope has an idle time, so that it
/// outlives its last handle. The idle sweep drops the keeper once the scope
/// has had no handle for that long; the state then drops, ending the scope
/// (or, if a handle came at that very moment, that handle keeps it again when
/// it is let go). A key never has two live scopes: a new one is made only
/// when nothing holds the old one, or it was closed.
//
// `repr(C)`, cold fields first: what a scoped lookup reads (the flags, the
// idle time, the default cache's policy and map pointer) sits together at
// the end, in one or two cache lines beside each other rather than four
// lines across the struct, and apart from the reference counts in front of
// it, which every lookup of a busy scope writes (BENCHMARKS.md, scopes at
// 100k).
#[repr(C)]
pub(crate) struct ScopeState {
    key: Arc<str>,
    /// The idle sweep's view: since when it has seen no handle and no use.
    idle_since: Mutex<Option<Instant>>,
    caches: Mutex<HashMap<Policy, Arc<Cache>>>,
    /// The registry's state, to leave its scope map and sweep its closes.
    shared: Weak<Shared>,
    /// Set as a handle is let go, cleared by the idle sweep: used since it looked.
    touched: AtomicBool,
    /// Whether the registry's keeper list holds it.
    kept: AtomicBool,
    /// Ended by `close()` or the registry's end: the handles left keep it,
    /// and no new one joins it.
    ended: AtomicBool,
    /// How long the scope outlives its last handle, in nanoseconds; 0 ends
    /// it with its last handle.
    idle: AtomicU64,
    /// Last: its policy and map pointer lead (see `Cache`), its writers'
    /// queues follow.
    default_cache: Cache,
}

impl ScopeState {
    /// The scope's key, shared with the connections it builds.
    pub(crate) fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// The cache for lookups with `policy`: per scope, as in Streamlit.
    pub(crate) fn cache_for(&self, policy: Policy) -> Option<Arc<Cache>> {
        if policy == self.default_cache.policy() {
            return None;
        }
        let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        Some(Arc::clone(
            caches.entry(policy).or_insert_with(|| Arc::new(Cache::local(policy))),
        ))
    }

    /// The cache a lookup with no options uses.
    pub(crate) fn default_cache(&self) -> &Cache {
        &self.default_cache
    }

    /// Every built, unexpired connection of this scope.
    pub(crate) fn live(&self) -> Vec<Arc<dyn DynConnection>> {
        let mut live = self.default_cache.live();
        for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).values() {
            live.extend(cache.live());
        }
        live
    }

    /// A handle is let go: for a scope with an idle time, a use the idle
    /// sweep sees at its next look; and one the sweep stopped keeping while
    /// this handle was taken is kept again.
    #[inline]
    fn release(self: &Arc<Self>) {
        // Written only when not set already: a busy scope seldom writes the line.
        if self.idle.load(Ordering::Relaxed) != 0 && !self.touched.load(Ordering::Relaxed) {
            self.touched.store(true, Ordering::Release);
        }
        if !self.kept.load(Ordering::Acquire) && self.idle.load(Ordering::Relaxed) != 0 {
            self.keep_again();
        }
    }

    /// The idle sweep stopped keeping this scope while a handle was taken:
    /// kept again, unless it was closed.
    #[cold]
    fn keep_again(self: &Arc<Self>) {
        if !self.ended.load(Ordering::Acquire)
            && let Some(shared) = self.shared.upgrade()
        {
            shared.keep(self);
        }
    }

    /// Ends the scope whatever its handles: its connections leave its cache
    /// (each closed once nothing uses it), and no new handle joins it.
    fn end_now(self: &Arc<Self>) {
        self.ended.store(true, Ordering::Release);
        if let Some(shared) = self.shared.upgrade() {
            shared.unkeep(self);
        }
        tracing::debug!(scope = &*self.key, "scope ended");
        self.clear();
    }

    /// Whether the registry should go on holding it, at `now`: not if it
    /// ended or has no idle time, nor once it has had no handle and no use
    /// for its idle time. `this` is the keeper's own reference.
    fn still_kept(this: &Arc<Self>, now: Instant) -> bool {
        let idle = this.idle.load(Ordering::Relaxed);
        if idle == 0 || this.ended.load(Ordering::Acquire) {
            return false;
        }
        let mut since = this.idle_since.lock().unwrap_or_else(PoisonError::into_inner);
        // Besides the keeper's: a handle's (or, for a moment, a lookup's).
        // A handle taken and let go between two looks leaves `touched`.
        if Arc::strong_count(this) > 1 {
            *since = None;
            return true;
        }
        if this.touched.swap(false, Ordering::AcqRel) || since.is_none() {
            // Used since the last look, or just let go: idle from now on.
            *since = Some(now);
            return true;
        }
        since.is_some_and(|since| now.duration_since(since) < Duration::from_nanos(idle))
    }

    /// Drops every cached connection of the scope; each instance is closed
    /// once nothing uses it.
    fn clear(&self) {
        self.default_cache.clear();
        // Taken out first: a close hook may look something up in this scope.
        let caches: Vec<Arc<Cache>> = self
            .caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, cache)| cache)
            .collect();
        for cache in caches {
            cache.clear();
        }
        // Unless a reload holds its lock here (its last handle may go while
        // the reload looks at the scope): the reload's caller sweeps after.
        if !crate::close::sweeps_deferred()
            && let Some(shared) = self.shared.upgrade()
        {
            shared.closes.sweep();
        }
    }
}

impl Drop for ScopeState {
    /// No handle holds it, nor the registry: its connections are retired, and
    /// the registry forgets its key (unless a new scope took the key since).
    fn drop(&mut self) {
        if !self.ended.load(Ordering::Acquire) {
            tracing::debug!(scope = &*self.key, "scope ended");
        }
        self.clear();
        if let Some(shared) = self.shared.upgrade() {
            let _ = shared
                .scopes
                .pin()
                .remove_if(&*self.key, |_, state| state.strong_count() == 0);
        }
    }
}

impl Shared {
    /// The live scope `key`, or a new one.
    #[inline]
    fn join_scope(self: &Arc<Self>, key: &str) -> Arc<ScopeState> {
        if let Some(state) = self.scopes.pin().get(key).and_then(Weak::upgrade)
            && !state.ended.load(Ordering::Acquire)
        {
            return state;
        }
        self.new_scope(key)
    }

    /// The cold path of [`join_scope`](Shared::join_scope): the key has no live scope.
    #[cold]
    fn new_scope(self: &Arc<Self>, key: &str) -> Arc<ScopeState> {
        let scopes = self.scopes.pin();
        // Serialised, so two callers never make two scopes for one key.
        let _creating = self.scope_writes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = scopes.get(key).and_then(Weak::upgrade)
            && !state.ended.load(Ordering::Acquire)
        {
            return state;
        }
        let idle = self.scope_idle;
        let state = Arc::new(ScopeState {
            key: key.into(),
            idle: AtomicU64::new(nanos(idle)),
            touched: AtomicBool::new(true),
            kept: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            idle_since: Mutex::new(None),
            default_cache: Cache::local(self.default_cache.policy()),
            caches: Mutex::new(HashMap::new()),
            shared: Arc::downgrade(self),
        });
        // Replaces a key whose scope was closed but is still held, or is dropping.
        scopes.insert(compact_str::CompactString::from(key), Arc::downgrade(&state));
        if !idle.is_zero() {
            self.keep(&state);
        }
        state
    }

    /// Holds `state` so that it outlives its handles for its idle time, and
    /// makes sure the idle sweep runs, often enough for it.
    fn keep(self: &Arc<Self>, state: &Arc<ScopeState>) {
        let idle = Duration::from_nanos(state.idle.load(Ordering::Relaxed));
        {
            let mut keepers = self.scope_keepers.lock().unwrap_or_else(PoisonError::into_inner);
            if state.kept.swap(true, Ordering::AcqRel) {
                return;
            }
            keepers.push(Arc::clone(state));
        }
        let tick = (idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
        self.scope_tick.fetch_min(nanos(tick), Ordering::Relaxed);
        self.scope_sweeper.get_or_init(|| {
            let shared = Arc::downgrade(self);
            std::thread::Builder::new()
                .name("connections-scopes".into())
                .spawn(move || sweep_idle_scopes(&shared))
                .map(|handle| handle.thread().clone())
                .ok()
        });
    }

    /// Stops holding `state`: it ends when its last handle drops.
    fn unkeep(&self, state: &Arc<ScopeState>) {
        let released: Vec<Arc<ScopeState>> = {
            let mut keepers = self.scope_keepers.lock().unwrap_or_else(PoisonError::into_inner);
            state.kept.store(false, Ordering::Release);
            keepers.extract_if(.., |kept| Arc::ptr_eq(kept, state)).collect()
        };
        // Dropped with the lock released: a last reference's drop closes connections.
        drop(released);
    }

    /// One look of the idle sweep: the scopes idle for their idle time are
    /// let go, and with no handle left, end and close their connections.
    fn sweep_idle(&self, now: Instant) {
        let released: Vec<Arc<ScopeState>> = {
            let mut keepers = self.scope_keepers.lock().unwrap_or_else(PoisonError::into_inner);
            keepers
                .extract_if(.., |state| {
                    let let_go = !ScopeState::still_kept(state, now);
                    if let_go {
                        state.kept.store(false, Ordering::Release);
                    }
                    let_go
                })
                .collect()
        };
        drop(released);
    }

    /// Ends every scope, with or without handles: the registry is going.
    pub(super) fn end_scopes(&self) {
        let kept: Vec<Arc<ScopeState>> = {
            let mut keepers = self.scope_keepers.lock().unwrap_or_else(PoisonError::into_inner);
            keepers.drain(..).collect()
        };
        for state in self.scope_states() {
            state.ended.store(true, Ordering::Release);
            state.kept.store(false, Ordering::Release);
            state.clear();
        }
        drop(kept);
    }

    /// Every live scope (held by a handle or kept), for the reload and the
    /// health reports.
    pub(super) fn scope_states(&self) -> Vec<Arc<ScopeState>> {
        self.scopes.pin().values().filter_map(Weak::upgrade).collect()
    }
}

/// The idle sweep's thread: it holds the registry's state weakly, looks at
/// the kept scopes each tick, and ends when the registry is dropped.
fn sweep_idle_scopes(shared: &Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else { return };
        strong.sweep_idle(Instant::now());
        let tick = Duration::from_nanos(strong.scope_tick.load(Ordering::Relaxed));
        drop(strong);
        // Woken early by the registry's drop.
        std::thread::park_timeout(tick);
    }
}

/// A duration in whole nanoseconds, saturating.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A scope: a user's session, a tenant, a job. Session-scoped connection types
/// (`#[connection(scope = "session")]`) are cached per scope and retired
/// when it ends; global ones, looked up through a scope, are the registry's.
///
/// Made by [`Registry::scope`] (borrowing the registry) or
/// [`Registry::owned_scope`] (holding an `Arc<Registry>`: a `Scope<'static>`
/// to keep in a session store or a request's extensions); every handle for
/// one key shares the same connections. The scope ends when it has had no
/// handle for its idle time ([`RegistryBuilder::scope_idle`](crate::RegistryBuilder::scope_idle),
/// [`set_idle`](Scope::set_idle); by default none: it ends with its last
/// handle), or at [`close`](Scope::close): its connections leave the cache,
/// and each one's close hook runs once no handle to it is left. `ttl` and
/// `max_entries` apply per scope, as in Streamlit.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use connections_core::{BoxError, BaseConnection, Config, Connection, Error, Registry};
///
/// /// A per-user API client: one per session.
/// #[derive(Connection)]
/// #[connection(type_name = "user-api", scope = "session")]
/// struct UserApi { base: BaseConnection<String> }
/// impl UserApi {
///     fn _connect(&self, config: &Config) -> Result<String, BoxError> {
///         // The scope's key says whose session this is.
///         Ok(format!("{} as {}", config.get::<String>("base_url")?, self.scope_key().unwrap_or("nobody")))
///     }
/// }
///
/// let registry = Registry::builder()
///     .secrets_toml("s", "[connections.api]\ntype = 'user-api'\nbase_url = 'https://api.example'")
///     .build();
/// let alice = registry.scope("alice");
/// let bob = registry.scope("bob");
/// let a = alice.connection::<UserApi>("api")?;
/// assert_eq!(*a.instance()?, "https://api.example as alice");
/// assert!(Arc::ptr_eq(&a, &registry.scope("alice").connection::<UserApi>("api")?));
/// assert!(!Arc::ptr_eq(&a, &bob.connection::<UserApi>("api")?));
///
/// // Without a scope, a session-scoped type is an error that says what to write.
/// let err = registry.connection::<UserApi>("api").err();
/// assert!(matches!(err, Some(Error::SessionScoped { .. })));
/// # Ok::<(), Error>(())
/// ```
pub struct Scope<'r> {
    registry: Owner<'r>,
    state: Arc<ScopeState>,
}

/// What a [`Scope`] holds its registry by.
#[derive(Clone)]
enum Owner<'r> {
    Borrowed(&'r Registry),
    Shared(Arc<Registry>),
}

impl Deref for Owner<'_> {
    type Target = Registry;

    #[inline]
    fn deref(&self) -> &Registry {
        match self {
            Owner::Borrowed(registry) => registry,
            Owner::Shared(registry) => registry,
        }
    }
}

impl Registry {
    /// The scope `key` (a session id, a user, a tenant, a job): a handle for
    /// looking up connections, session-scoped ones cached per key. Every
    /// handle for a live key shares its connections; see [`Scope`].
    ///
    /// On a live key this is a map lookup: call it per request, with the
    /// request's user or session, and set
    /// [`scope_idle`](crate::RegistryBuilder::scope_idle) so that the scope
    /// lives from one request to the next.
    ///
    /// # Examples
    ///
    /// See [`Scope`].
    #[inline]
    pub fn scope(&self, key: &str) -> Scope<'_> {
        Scope {
            registry: Owner::Borrowed(self),
            state: self.shared.join_scope(key),
        }
    }

    /// As [`scope`](Registry::scope), for a registry shared by `Arc`: the
    /// handle holds the registry, not a borrow of it, so it can be kept
    /// anywhere (an axum extension, a session store, another task).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use connections_core::{Registry, Scope};
    ///
    /// let registry = Arc::new(Registry::builder().secrets_toml("s", "").build());
    /// let scope: Scope<'static> = registry.owned_scope("user-42");
    /// let kept = std::thread::spawn(move || scope.key().to_owned()).join().unwrap();
    /// assert_eq!(kept, "user-42");
    /// ```
    pub fn owned_scope(self: &Arc<Self>, key: &str) -> Scope<'static> {
        Scope {
            registry: Owner::Shared(Arc::clone(self)),
            state: self.shared.join_scope(key),
        }
    }

    /// How many scopes are live: with a handle somewhere, or within their
    /// idle time.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// let scope = registry.scope("tenant-1");
    /// assert_eq!(registry.scope_count(), 1);
    /// drop(scope);
    /// assert_eq!(registry.scope_count(), 0, "no idle time: it ended with its last handle");
    /// ```
    pub fn scope_count(&self) -> usize {
        self.shared
            .scopes
            .pin()
            .values()
            .filter_map(Weak::upgrade)
            .filter(|state| !state.ended.load(Ordering::Acquire))
            .count()
    }
}

impl Scope<'_> {
    /// The scope's key.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// assert_eq!(registry.scope("job-7").key(), "job-7");
    /// ```
    pub fn key(&self) -> &str {
        &self.state.key
    }

    /// The registry this scope belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// assert!(std::ptr::eq(registry.scope("job-7").registry(), &registry));
    /// ```
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// How long this scope outlives its last handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("s", "")
    ///     .scope_idle(Duration::from_secs(1800))
    ///     .build();
    /// assert_eq!(registry.scope("user-1").idle(), Duration::from_secs(1800));
    /// ```
    pub fn idle(&self) -> Duration {
        Duration::from_nanos(self.state.idle.load(Ordering::Relaxed))
    }

    /// Sets how long this scope outlives its last handle, instead of the
    /// registry's [`scope_idle`](crate::RegistryBuilder::scope_idle): a
    /// "remember me" session may live longer than the rest. Zero ends it with
    /// its last handle. The scope ends after at least `idle` with no handle,
    /// and at most a quarter of `idle` (or one second) later.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// let scope = registry.scope("user-1");
    /// scope.set_idle(Duration::from_secs(60));
    /// drop(scope);
    /// assert_eq!(registry.scope_count(), 1, "kept for its idle time");
    /// assert_eq!(registry.scope("user-1").idle(), Duration::from_secs(60));
    /// ```
    pub fn set_idle(&self, idle: Duration) {
        self.state.idle.store(nanos(idle), Ordering::Relaxed);
        if let Some(shared) = self.state.shared.upgrade() {
            // Let go, then kept anew: with no idle time it ends with its last
            // handle; with one, the sweep's tick suits it.
            shared.unkeep(&self.state);
            if !idle.is_zero() && !self.state.ended.load(Ordering::Acquire) {
                shared.keep(&self.state);
            }
        }
    }

    /// The connection `name` of type `T`: this scope's own if `T` is
    /// session-scoped, else the registry's ([`Registry::connection`]).
    ///
    /// # Errors
    ///
    /// As [`Registry::connection`].
    ///
    /// # Examples
    ///
    /// See [`Scope`].
    #[inline]
    pub fn connection<T: Connection>(&self, name: &str) -> Result<Arc<T>> {
        if !T::SESSION_SCOPED {
            return self.registry.connection::<T>(name);
        }
        let resolved = resolve_env(name)?;
        let key = KeyRef {
            type_id: TypeId::of::<T>(),
            name: &resolved,
            kwargs: "",
        };
        if let Some(conn) = self.state.default_cache().get_typed::<T>(key) {
            tracing::trace!(connection = &*resolved, scope = &*self.state.key, "lookup: cache hit");
            return Ok(conn);
        }
        check_name(name, &resolved)?;
        Lookup::resolved(&self.registry, resolved)
            .in_scope(Arc::clone(&self.state))
            .get::<T>()
    }

    /// As [`connection`](Scope::connection), returning a borrowed
    /// [`ConnectionRef`] that touches no shared reference count on a hit.
    ///
    /// # Errors
    ///
    /// As [`Registry::connection`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "scoped-ref-doc", scope = "session")]
    /// # struct Cart { base: BaseConnection<Vec<u32>> }
    /// # impl Cart { fn _connect(&self, _: &Config) -> Result<Vec<u32>, BoxError> { Ok(vec![1, 2]) } }
    /// let registry = Registry::builder().secrets_toml("s", "").build();
    /// let session = registry.scope("s-1");
    /// let cart = session.connection_ref::<Cart>("cart")?;
    /// assert_eq!(cart.instance()?.len(), 2);
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    #[inline]
    pub fn connection_ref<T: Connection>(&self, name: &str) -> Result<ConnectionRef<T>> {
        if !T::SESSION_SCOPED {
            return self.registry.connection_ref::<T>(name);
        }
        let resolved = resolve_env(name)?;
        let key = KeyRef {
            type_id: TypeId::of::<T>(),
            name: &resolved,
            kwargs: "",
        };
        if let Some(hit) = self
            .state
            .default_cache()
            .get_guard(key)
            .and_then(ConnectionRef::cached)
        {
            return Ok(hit);
        }
        check_name(name, &resolved)?;
        Lookup::resolved(&self.registry, resolved)
            .in_scope(Arc::clone(&self.state))
            .get::<T>()
            .map(ConnectionRef::owned)
    }

    /// The connection `name`, its type taken from the secrets; this scope's
    /// own if that type is session-scoped.
    ///
    /// # Errors
    ///
    /// As [`Registry::connection_dyn`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "scoped-dyn-doc", scope = "session")]
    /// # struct Token { base: BaseConnection<String> }
    /// # impl Token { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("issuer")?) } }
    /// let registry = Registry::builder()
    ///     .secrets_toml("s", "[connections.token]\ntype = 'scoped-dyn-doc'\nissuer = 'idp'")
    ///     .build();
    /// let token = registry.scope("s-1").connection_dyn("token")?;
    /// assert_eq!(token.type_name(), "scoped-dyn-doc");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn connection_dyn(&self, name: &str) -> Result<Arc<dyn DynConnection>> {
        self.lookup(name).get_dyn()
    }

    /// A lookup with options (`ttl`, `max_entries`, kwargs...) in this scope;
    /// its `ttl` and `max_entries` apply to this scope's cache only.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "scoped-lookup-doc", scope = "session")]
    /// # struct Cart { base: BaseConnection<u32> }
    /// # impl Cart { fn _connect(&self, c: &Config) -> Result<u32, BoxError> { Ok(c.get("limit")?) } }
    /// let registry = Registry::builder().secrets_toml("s", "").build();
    /// let cart = registry.scope("s-1").lookup("cart").kwarg("limit", 3).max_entries(8).get::<Cart>()?;
    /// assert_eq!(*cart.instance()?, 3);
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn lookup<'s>(&'s self, name: &'s str) -> Lookup<'s> {
        Lookup::new(&self.registry, name).in_scope(Arc::clone(&self.state))
    }

    /// Ends the scope now, whatever other handles to it exist and whatever
    /// its idle time: its connections leave its cache, and each instance
    /// nothing uses any more is closed, sync close hooks before this returns.
    /// Await the returned future to wait for async close hooks too. Lookups
    /// through a handle still held build anew; `registry.scope(key)` makes a
    /// new scope for the key.
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
    /// #[connection(type_name = "scope-close-doc", scope = "session")]
    /// struct Session { base: BaseConnection<u32> }
    /// impl Session {
    ///     fn _connect(&self, _: &Config) -> Result<u32, BoxError> { Ok(1) }
    ///     fn _close(_raw: u32) -> Result<(), BoxError> {
    ///         CLOSED.fetch_add(1, Ordering::SeqCst);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "").build();
    /// let scope = registry.scope("user-42");
    /// scope.connection::<Session>("session")?.instance()?;
    /// scope.close();                    // a sync hook: closed already
    /// assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn close(self) -> ScopeClosed {
        // A driver before the sweep, so async closes are kept for it.
        let closer = Closer::new(&self.registry.shared.closes, true);
        self.state.end_now();
        ScopeClosed { closer }
    }
}

impl Clone for Scope<'_> {
    /// Another handle to the same scope.
    fn clone(&self) -> Self {
        Self {
            registry: self.registry.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl Drop for Scope<'_> {
    /// The handle is let go; the last one ends a scope with no idle time
    /// (as its state drops), and starts the idle time of one that has it.
    #[inline]
    fn drop(&mut self) {
        self.state.release();
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("key", &&*self.state.key)
            .field("cached", &self.state.live().len())
            .field("idle", &self.idle())
            .finish_non_exhaustive()
    }
}

/// What [`Scope::close`] returns: the scope's sync close hooks have run;
/// awaiting it waits for its async ones too. Dropping it unawaited hands
/// those to a running [`Registry::closer`], if any.
pub struct ScopeClosed {
    closer: Closer,
}

impl Future for ScopeClosed {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.closer).poll(cx)
    }
}

impl fmt::Debug for ScopeClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeClosed").finish_non_exhaustive()
    }
}
