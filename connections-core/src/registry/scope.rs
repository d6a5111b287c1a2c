//! Scopes: session-scoped connections (Streamlit's `scope="session"`), cached
//! per scope key and retired when the scope ends.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use super::lookup::{check_name, resolve_env};
use super::{Lookup, Registry, Shared};
use crate::cache::{Cache, KeyRef, Policy};
use crate::close::Closer;
use crate::connection::{Connection, DynConnection};
use crate::error::Result;
use crate::handle::ConnectionRef;

/// The state one scope key shares among its [`Scope`] handles: the caches
/// of its session-scoped connections.
pub(crate) struct ScopeState {
    key: Box<str>,
    default_cache: Cache,
    caches: Mutex<HashMap<Policy, Arc<Cache>>>,
    /// The registry's state, to leave its scope map and sweep its closes.
    shared: Weak<Shared>,
}

impl ScopeState {
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
    /// The scope's last handle is gone: its connections are retired, and the
    /// registry forgets its key (unless a new scope took the key since).
    fn drop(&mut self) {
        self.clear();
        if let Some(shared) = self.shared.upgrade() {
            let _ = shared
                .scopes
                .pin()
                .remove_if(&*self.key, |_, state| state.strong_count() == 0);
        }
    }
}

/// A scope: a session, a tenant, a job. Session-scoped connection types
/// (`#[connection(scope = "session")]`) are cached per scope and retired
/// when it ends; global ones, looked up through a scope, are the registry's.
///
/// Made by [`Registry::scope`]; every handle for one key shares the same
/// connections. The scope ends when its last handle is dropped, or at
/// [`close`](Scope::close): its connections leave the cache, and each one's
/// close hook runs once no handle to it is left. `ttl` and `max_entries`
/// apply per scope, as in Streamlit.
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
///     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("base_url")?) }
/// }
///
/// let registry = Registry::builder()
///     .secrets_toml("s", "[connections.api]\ntype = 'user-api'\nbase_url = 'https://api.example'")
///     .build();
/// let alice = registry.scope("session-alice");
/// let bob = registry.scope("session-bob");
/// let a = alice.connection::<UserApi>("api")?;
/// assert!(Arc::ptr_eq(&a, &registry.scope("session-alice").connection::<UserApi>("api")?));
/// assert!(!Arc::ptr_eq(&a, &bob.connection::<UserApi>("api")?));
///
/// // Without a scope, a session-scoped type is an error that says what to write.
/// let err = registry.connection::<UserApi>("api").err();
/// assert!(matches!(err, Some(Error::SessionScoped { .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Scope<'r> {
    registry: &'r Registry,
    state: Arc<ScopeState>,
}

impl Registry {
    /// The scope `key` (a session id, a tenant, a job): a handle for looking
    /// up connections, session-scoped ones cached per key. Every handle for a
    /// live key shares its connections; see [`Scope`].
    ///
    /// # Examples
    ///
    /// See [`Scope`].
    #[inline]
    pub fn scope(&self, key: &str) -> Scope<'_> {
        if let Some(state) = self.shared.scopes.pin().get(key).and_then(Weak::upgrade) {
            return Scope { registry: self, state };
        }
        self.new_scope(key)
    }

    /// The cold path of [`scope`](Registry::scope): the key has no live scope.
    #[cold]
    fn new_scope(&self, key: &str) -> Scope<'_> {
        let scopes = self.shared.scopes.pin();
        // Serialised, so two callers never make two scopes for one key.
        let _creating = self.shared.scope_writes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = scopes.get(key).and_then(Weak::upgrade) {
            return Scope { registry: self, state };
        }
        let state = Arc::new(ScopeState {
            key: key.into(),
            default_cache: Cache::local(self.shared.default_cache.policy()),
            caches: Mutex::new(HashMap::new()),
            shared: Arc::downgrade(&self.shared),
        });
        scopes.insert(key.into(), Arc::downgrade(&state));
        Scope { registry: self, state }
    }

    /// How many scopes are live (have a handle somewhere).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// let scope = registry.scope("tenant-1");
    /// assert_eq!(registry.scope_count(), 1);
    /// drop(scope);
    /// assert_eq!(registry.scope_count(), 0);
    /// ```
    pub fn scope_count(&self) -> usize {
        self.shared
            .scopes
            .pin()
            .values()
            .filter(|state| state.strong_count() > 0)
            .count()
    }
}

impl<'r> Scope<'r> {
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
    pub fn registry(&self) -> &'r Registry {
        self.registry
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
        Lookup::resolved(self.registry, resolved)
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
        Lookup::resolved(self.registry, resolved)
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
        Lookup::new(self.registry, name).in_scope(Arc::clone(&self.state))
    }

    /// Ends the scope now, whatever other handles to it exist: its
    /// connections leave its cache, and each instance nothing uses any more
    /// is closed, sync close hooks before this returns. Await the returned
    /// future to wait for async close hooks too. Lookups through a handle
    /// still held build anew.
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
        self.state.clear();
        ScopeClosed { closer }
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("key", &&*self.state.key)
            .field("cached", &self.state.live().len())
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
