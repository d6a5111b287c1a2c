//! `BaseConnection<R>`: the state every connection carries.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::cell::{AsyncInit, SingleFlight, Wait};
use crate::close::{CloseHook, CloseMeta, CloseQueue};
use crate::config::Config;
use crate::error::{BoxError, Error, Result};
use crate::health::{Health, Labels, Stats};
use crate::instance::InstanceRef;
use crate::trace::{Redactor, traced_outcome};

/// The state of one connection: its name, type, configuration, and a
/// resettable cell holding the raw instance (`R`, e.g. a database handle).
///
/// A struct that derives [`Connection`](crate::Connection) has exactly one
/// field of this type; the derive does the rest. Its contract:
///
/// * The first [`instance`](crate::Connection::instance) connects; later calls
///   return the same `Arc<R>` with one atomic load, no lock, no allocation.
/// * Exactly one `_connect` runs per generation however many threads ask;
///   threads that arrive while it runs wait and receive its outcome, success
///   or failure. A failure stores nothing: the next call tries again.
/// * A panic in `_connect` is caught, returned as
///   [`Error::ConnectPanicked`], and poisons nothing.
/// * [`reset`](BaseConnection::reset) ends the generation, as Streamlit's
///   `reset()`: it forgets the instance. Handles already handed out stay
///   valid until their last clone is dropped; if the type has a close hook
///   (`_close`), the instance is closed after that, never before (see the
///   crate docs, "Closing").
/// * [`reset_if`](BaseConnection::reset_if) resets only if the handle a caller
///   saw fail is still the current one, so many threads that saw the same
///   broken handle cause one reconnect, not one each.
/// * The configuration is a swappable snapshot: when the registry that built
///   the connection reloads its secrets and this connection's section changed,
///   it swaps in the new [`Config`] and resets, so the next connect (from this
///   handle or any other) sees the new values. A connect already running keeps
///   the snapshot it started with, and its result is not kept.
///
/// `Display` shows the name, the full type path and, when the connection has
/// a secrets section, "configured from `[connections.<name>]`"; `Debug` adds
/// the config keys, never values.
///
/// # Examples
///
/// Used directly, without the derive:
///
/// ```
/// use connections_core::{BaseConnection, Config};
///
/// let base: BaseConnection<String> =
///     BaseConnection::new("greeting", "greeter", "my_app::Greeter", Config::new("greeting", Default::default()));
/// let first = base.instance_with(|_config| Ok("hello".to_owned())).unwrap();
/// // Connected: the closure is not called again.
/// let again = base.instance_with(|_| unreachable!()).unwrap();
/// assert!(std::sync::Arc::ptr_eq(&first, &again));
///
/// assert!(base.reset_if(&first));   // the first thread to see it broken resets
/// assert!(!base.reset_if(&first));  // the others do nothing
/// assert!(!base.is_connected());
/// assert_eq!(*first, "hello");      // the old handle is still usable
/// ```
pub struct BaseConnection<R> {
    name: Box<str>,
    /// The scope it was built in, for a session-scoped connection.
    scope: Option<Arc<str>>,
    type_name: &'static str,
    type_path: &'static str,
    /// Swapped whole by a secrets reload; each connect reads one snapshot.
    config: ArcSwap<Config>,
    cell: SingleFlight<R, Error>,
    /// The type's close hook (`_close`), if it has one.
    close: Option<CloseHook<R>>,
    /// Where retired instances wait for their close: the registry's queue,
    /// else (built without a registry) the global one.
    closes: OnceLock<Closes>,
    /// The configuration a secrets reload last replaced, for redaction.
    previous_config: ArcSwapOption<Config>,
    /// Counts of connects, failures, resets and closes, and the last connect.
    stats: Arc<Stats>,
}

/// A connection's close queue, and whether a registry owns it.
struct Closes {
    queue: Arc<CloseQueue>,
    /// Built by a registry, which sweeps after dropping its connections.
    registry: bool,
}

impl<R: Send + Sync + 'static> BaseConnection<R> {
    /// A new, unconnected state for connection `name` of the given type.
    ///
    /// The derive calls this (through [`Connection::from_config`](crate::Connection::from_config));
    /// call it yourself only to use a `BaseConnection` without the derive.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u8>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// assert_eq!((base.name(), base.type_name(), base.type_path()), ("n", "t", "crate::T"));
    /// ```
    pub fn new(name: &str, type_name: &'static str, type_path: &'static str, config: Config) -> Self {
        // A `type` key naming this very type is the framework's key, not a setting.
        let config = config.with_own_type(type_name, type_path);
        Self {
            name: name.into(),
            scope: config.scope_arc().cloned(),
            type_name,
            type_path,
            config: ArcSwap::from_pointee(config),
            cell: SingleFlight::new(),
            close: None,
            closes: OnceLock::new(),
            previous_config: ArcSwapOption::empty(),
            stats: Arc::new(Stats::new()),
        }
    }

    /// Sets the close hook: what the derive does with a type's `_close`.
    pub(crate) fn with_close(mut self, hook: CloseHook<R>) -> Self {
        self.cell.keep_retired();
        self.close = Some(hook);
        self
    }

    /// Returns the raw instance, calling `connect` with the configuration if
    /// this generation has none yet.
    ///
    /// `connect` receives the configuration current when the connect starts
    /// (a secrets reload may have swapped it since this connection was built).
    ///
    /// # Errors
    ///
    /// [`Error::ConnectFailed`] (the cause kept as its source) if `connect`
    /// fails, [`Error::ConnectPanicked`] if it panics; an error that already is
    /// an [`Error`] (a missing config key, say) is returned as it is. Every
    /// thread that waited on that attempt gets the same error.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config, Error};
    ///
    /// let base = BaseConnection::<u32>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// let err = base.instance_with(|_| Err("refused".into())).unwrap_err();
    /// assert!(matches!(err, Error::ConnectFailed { .. }));
    /// // Failures are not stored: the next call tries again.
    /// assert_eq!(*base.instance_with(|_| Ok(7)).unwrap(), 7);
    /// ```
    #[inline]
    pub fn instance_with(&self, connect: impl FnOnce(&Config) -> Result<R, BoxError>) -> Result<Arc<R>> {
        if let Some(value) = self.cell.get() {
            return Ok(value);
        }
        self.connect_with(connect)
    }

    /// The cold path of [`instance_with`](BaseConnection::instance_with).
    #[cold]
    fn connect_with(&self, connect: impl FnOnce(&Config) -> Result<R, BoxError>) -> Result<Arc<R>> {
        // Before joining or starting the attempt, not inside it: a close hook
        // (user code) must never hold up the connect others wait on.
        self.before_connect();
        self.cell.get_or_try_init(
            || {
                let span = self.connect_span();
                let _entered = span.enter();
                let started = Instant::now();
                // Loaded inside the attempt: a reload swaps the config before it
                // resets, so an attempt that outlives a reset is not kept, and
                // one that starts after it reads the new snapshot.
                let config = self.config.load_full();
                let outcome = connect(&config).map(Arc::new).map_err(|e| self.connect_failed(e));
                self.finished_connect(&outcome, started);
                outcome
            },
            |message| self.connect_panicked(&message),
        )
    }

    /// As [`instance_with`](BaseConnection::instance_with), returning a
    /// borrowed [`InstanceRef`] that touches no shared reference count.
    ///
    /// # Errors
    ///
    /// As [`instance_with`](BaseConnection::instance_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u32>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// assert_eq!(*base.instance_ref_with(|_| Ok(5)).unwrap(), 5);
    /// ```
    #[inline]
    pub fn instance_ref_with(&self, connect: impl FnOnce(&Config) -> Result<R, BoxError>) -> Result<InstanceRef<R>> {
        if let Some(instance) = InstanceRef::from_guard(self.cell.peek()) {
            return Ok(instance);
        }
        self.instance_with(connect).map(InstanceRef::from_arc)
    }

    /// The async state machine behind an async connection's `instance()`.
    pub(crate) fn async_init(&self) -> AsyncInit<'_, R, Error> {
        AsyncInit::new(&self.cell)
    }

    /// The span a connect runs in: the connection, its type and the generation
    /// it connects (never a configuration value).
    pub(crate) fn connect_span(&self) -> tracing::Span {
        tracing::debug_span!(
            "connect",
            connection = &*self.name,
            type_path = self.type_path,
            scope = self.scope.as_deref(),
            generation = self.cell.generation()
        )
    }

    /// The error for a connect that returned `Err`.
    pub(crate) fn connect_failed(&self, error: BoxError) -> Error {
        let redactor = self.redactor();
        let config = self.config.load();
        let section = config
            .section_file()
            .map(|file| format!("[connections.{}] in {}", self.name, file.display()));
        let hint = config.missing_section_hint();
        Error::connect_failed(
            &self.name,
            self.type_path,
            error,
            |text| redactor.redact(text),
            section,
            hint,
        )
    }

    /// The error for a connect that panicked: the message with config values
    /// redacted. Counted as a failed attempt.
    pub(crate) fn connect_panicked(&self, message: &str) -> Error {
        let error = Error::ConnectPanicked {
            name: self.name.to_string(),
            type_path: self.type_path,
            message: self.redactor().redact(message),
        };
        self.stats.connected(self.labels(), None, Some(error.to_string()));
        error
    }

    /// A connect attempt ended (without a panic): traced and counted.
    pub(crate) fn finished_connect(&self, outcome: &Result<Arc<R>>, started: Instant) {
        traced_outcome(outcome, started);
        let error = outcome.as_ref().err().map(ToString::to_string);
        self.stats.connected(self.labels(), Some(started.elapsed()), error);
    }

    /// Waits up to `timeout` for a connect in flight; `None` if there is none.
    pub(crate) fn wait_for_connect(&self, timeout: std::time::Duration) -> Option<Result<Arc<R>>> {
        match self.cell.wait_for_attempt(timeout) {
            Wait::Done(outcome) => Some(outcome),
            Wait::TimedOut => Some(Err(Error::ConnectTimeout {
                name: self.name.to_string(),
                type_path: self.type_path,
                timeout,
            })),
            Wait::Idle => None,
        }
    }

    /// The raw instance if this generation is connected, without connecting.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u8>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// assert!(base.get().is_none());
    /// base.instance_with(|_| Ok(1)).unwrap();
    /// assert_eq!(base.get().as_deref(), Some(&1));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<Arc<R>> {
        self.cell.get()
    }

    /// Ends the current generation: the next `instance()` connects again.
    ///
    /// As Streamlit's `reset()`, the old instance is forgotten; handles
    /// already handed out stay valid until dropped. With a close hook, it is
    /// closed here if no handle is left, else at the first reset or connect
    /// after the last one is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u8>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// base.instance_with(|_| Ok(1)).unwrap();
    /// base.reset();
    /// assert!(!base.is_connected());
    /// assert_eq!(base.generation(), 1);
    /// ```
    pub fn reset(&self) {
        self.reset_for(ResetReason::Manual);
    }

    /// Resets only if `stale` is still the current instance; returns whether it did.
    ///
    /// Call it with the handle that failed: of many threads that saw the same
    /// handle fail, only the first resets, so the connection reconnects once.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u8>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// let seen = base.instance_with(|_| Ok(1)).unwrap();
    /// assert!(base.reset_if(&seen));
    /// let fresh = base.instance_with(|_| Ok(2)).unwrap();
    /// assert!(!base.reset_if(&seen), "a newer instance is left alone");
    /// assert_eq!(*fresh, 2);
    /// ```
    pub fn reset_if(&self, stale: &Arc<R>) -> bool {
        self.reset_if_because(stale, ResetReason::Manual)
    }
}

impl<R> BaseConnection<R> {
    /// The resolved connection name (after `env:` substitution).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let base = BaseConnection::<u8>::new("db", "t", "crate::T", Config::new("db", Default::default()));
    /// assert_eq!(base.name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key of the [`Scope`](crate::Scope) this connection was built in,
    /// for a session-scoped type (a user, a session id, a tenant); `None` for
    /// a global one. `_connect` and `_check` read it as `self.scope_key()`.
    ///
    /// # Examples
    ///
    /// See [`Config::scope_key`].
    pub fn scope_key(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The connection type's short name (`type_name = "..."`), or its full
    /// path if it has none.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let base = BaseConnection::<u8>::new("db", "sqlite", "crate::T", Config::new("db", Default::default()));
    /// assert_eq!(base.type_name(), "sqlite");
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The connection type's full Rust path, e.g. `my_app::db::Sqlite`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let base = BaseConnection::<u8>::new("db", "sqlite", "my_app::Sqlite", Config::new("db", Default::default()));
    /// assert_eq!(base.type_path(), "my_app::Sqlite");
    /// ```
    pub fn type_path(&self) -> &'static str {
        self.type_path
    }

    /// The configuration the next connect receives: a snapshot, kept whole
    /// however long it is held.
    ///
    /// It is an `Arc` rather than a reference because a secrets reload may
    /// swap the connection's configuration at any time (see
    /// [`Registry::reload_secrets`](crate::Registry::reload_secrets)); a held
    /// snapshot never changes under its reader, so two keys read from it
    /// always belong together.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let config = Config::from_toml("db", "database = 'app.db'").unwrap();
    /// let base = BaseConnection::<u8>::new("db", "t", "crate::T", config);
    /// assert!(base.config().contains("database"));
    /// ```
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Resets, and says why in a tracing event.
    pub(crate) fn reset_for(&self, reason: ResetReason) {
        self.cell.reset();
        self.traced_reset(reason);
        self.retire();
    }

    /// As [`reset_if`](BaseConnection::reset_if), saying why when it resets:
    /// for a connection type that resets on its own (a retry after a
    /// transient error), so that the `reset` event and the resets counter
    /// name the reason, not `manual`. See [`author`](crate::author).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config, author::ResetReason};
    ///
    /// let base = BaseConnection::<u32>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// let broken = base.instance_with(|_| Ok(1))?;
    /// assert!(base.reset_if_because(&broken, ResetReason::Retry));
    /// // Already replaced: a second retry of the same failure resets nothing.
    /// assert!(!base.reset_if_because(&broken, ResetReason::Retry));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn reset_if_because(&self, stale: &Arc<R>, reason: ResetReason) -> bool {
        let reset = self.cell.reset_if(stale);
        if reset {
            self.traced_reset(reason);
            self.retire();
        }
        reset
    }

    /// Resets if generation `generation` is still current and connected:
    /// the instance a check of that generation found broken, and no newer
    /// one. Returns whether it reset.
    pub(crate) fn reset_if_generation(&self, generation: u64, reason: ResetReason) -> bool {
        let Some(current) = self.cell.get() else { return false };
        // Read after the instance: if the generation is still the one the
        // check ran in, `current` belongs to it (a reset would have moved it on).
        self.cell.generation() == generation && self.reset_if_because(&current, reason)
    }

    /// Whether `instance` is the one this connection holds now (no reset or
    /// reload has replaced it): for a connection type that retries on the
    /// newest instance after a failure on an older one. See [`author`](crate::author).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let base = BaseConnection::<u32>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// let first = base.instance_with(|_| Ok(1))?;
    /// assert!(base.is_current(&first));
    /// base.reset();
    /// assert!(!base.is_current(&first));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn is_current(&self, instance: &Arc<R>) -> bool {
        self.cell
            .peek()
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, instance))
    }

    /// Before a connect: closes what this connection retired and nothing
    /// uses any more, so an old instance goes before its replacement comes.
    pub(crate) fn before_connect(&self) {
        self.retire();
    }

    /// Queues the instances the cell retired for their close, then closes
    /// every queued instance nothing uses any more (hooks run here), unless
    /// the registry holds a lock here and sweeps after ([`DeferSweeps`]).
    fn retire(&self) {
        let Some(hook) = self.close else { return };
        let closes = self.closes();
        self.queue_for_close(hook, &closes.queue, self.cell.take_retired());
        if !crate::close::sweeps_deferred() {
            closes.queue.sweep();
        }
    }

    fn queue_for_close(&self, hook: CloseHook<R>, queue: &CloseQueue, retired: Vec<(u64, Arc<R>)>) {
        if retired.is_empty() {
            return;
        }
        let redactor = self.redactor();
        for (generation, raw) in retired {
            let meta = CloseMeta {
                name: self.name.clone(),
                type_name: self.type_name,
                type_path: self.type_path,
                stats: Arc::clone(&self.stats),
                generation,
                redactor: redactor.clone(),
            };
            hook.retire(queue, raw, meta);
        }
    }

    fn closes(&self) -> &Closes {
        self.closes.get_or_init(|| Closes {
            queue: Arc::clone(CloseQueue::global()),
            registry: false,
        })
    }

    /// Puts this connection's retired instances in `queue` (its registry's)
    /// rather than the global one. Called once, as the registry builds it.
    pub(crate) fn attach_closes(&self, queue: &Arc<CloseQueue>) {
        if self.close.is_some() {
            let _ = self.closes.set(Closes {
                queue: Arc::clone(queue),
                registry: true,
            });
        }
    }

    /// Redacts the values of this connection's configuration, and of the one
    /// a reload last replaced (an instance connected with it may still fail
    /// or close), from text about it: for a connection type that puts a
    /// driver's message in an error of its own. See [`author`](crate::author).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config};
    ///
    /// let config = Config::from_toml("cache", "host = 'cache.internal'\npassword = 'hunter2'")?;
    /// let base = BaseConnection::<u32>::new("cache", "t", "crate::T", config);
    /// let message = "auth failed for password hunter2 at cache.internal";
    /// assert_eq!(base.redactor().redact(message), "auth failed for password *** at cache.internal");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.config.load_full(), self.previous_config.load_full())
    }

    fn labels(&self) -> Labels<'_> {
        Labels {
            name: &self.name,
            type_name: self.type_name,
        }
    }

    /// This connection's health: its state, generation, last connect and counts.
    ///
    /// # Examples
    ///
    /// See [`Health`].
    pub fn health(&self) -> Health {
        let mut health = self.stats.health(
            self.labels(),
            self.type_path,
            self.cell.is_set(),
            self.cell.generation(),
        );
        health.scope = self.scope.as_deref().map(str::to_owned);
        health
    }

    fn traced_reset(&self, reason: ResetReason) {
        self.stats.reset(self.labels(), reason.as_str());
        tracing::debug!(
            connection = &*self.name,
            type_path = self.type_path,
            scope = self.scope.as_deref(),
            generation = self.cell.generation(),
            reason = reason.as_str(),
            "reset"
        );
    }

    /// Lays `next` in place of the configuration and resets if its values
    /// differ; returns whether it reset. A change of origins alone (a key
    /// moved to another file) is swapped in without a reset.
    ///
    /// The swap comes before the reset, so a connect that starts after the
    /// reset reads `next`, and one that started before it is not kept.
    pub(crate) fn reconfigure(&self, next: Config, handled: impl FnOnce(&Config, &Config) -> bool) -> Reconfigured {
        let next = next.with_own_type(self.type_name, self.type_path);
        let current = self.config.load();
        if current.same_values(&next) {
            if !current.same_origins(&next) {
                self.config.store(Arc::new(next));
            }
            return Reconfigured::Unchanged;
        }
        // The type's `_reconfigure` may take the change in place (new
        // credentials for new sessions): then the instance is kept. A hook
        // that panics took nothing: the connection resets, the reload goes on.
        let rotated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handled(&current, &next)))
            .unwrap_or_else(|panic| {
                // It may quote the old values or the new ones.
                let message = next.redact(&self.redactor().redact(&crate::cell::panic_message(&*panic)));
                tracing::warn!(
                    connection = &*self.name,
                    type_path = self.type_path,
                    "`_reconfigure` panicked: {message}; resetting instead"
                );
                false
            });
        // Kept to redact what the old instance's connect or close may quote.
        self.previous_config.store(Some(arc_swap::Guard::into_inner(current)));
        self.config.store(Arc::new(next));
        if rotated {
            tracing::debug!(
                connection = &*self.name,
                type_path = self.type_path,
                generation = self.cell.generation(),
                reason = "rotate",
                "reconfigured in place"
            );
            return Reconfigured::Rotated;
        }
        self.reset_for(ResetReason::Reload);
        Reconfigured::Reset
    }

    /// Whether the current generation holds a connected instance.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let base = BaseConnection::<u8>::new("db", "t", "crate::T", Config::new("db", Default::default()));
    /// assert!(!base.is_connected());
    /// ```
    #[inline]
    pub fn is_connected(&self) -> bool {
        self.cell.is_set()
    }

    /// How many times this connection has been reset.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BaseConnection, Config};
    /// let base = BaseConnection::<u8>::new("db", "t", "crate::T", Config::new("db", Default::default()));
    /// assert_eq!(base.generation(), 0);
    /// ```
    pub fn generation(&self) -> u64 {
        self.cell.generation()
    }
}

impl<R> Drop for BaseConnection<R> {
    /// The connection is gone (evicted, expired or cleared from its
    /// registry's cache, and no longer held): its instance is retired, and
    /// closed once nothing uses it.
    fn drop(&mut self) {
        let Some(hook) = self.close else { return };
        let closes = self.closes();
        self.queue_for_close(hook, &closes.queue, self.cell.take_all());
        // A registry's connection may be dropped under the registry's locks,
        // or by whichever reader held the last snapshot of its cache: it only
        // queues, and the registry sweeps on its next cold path (or now, if
        // the registry is gone). A connection of its own sweeps at once.
        if !closes.registry || closes.queue.has_ended() {
            closes.queue.sweep();
        }
    }
}

/// Streamlit's summary: the name, the class's full path, and where it is configured.
pub(crate) fn describe(f: &mut fmt::Formatter<'_>, name: &str, type_path: &str, config: &Config) -> fmt::Result {
    write!(f, "connection `{name}` ({type_path})")?;
    if config.section_file().is_some() {
        write!(f, ", configured from [connections.{name}]")?;
    }
    Ok(())
}

impl<R> fmt::Display for BaseConnection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, &self.name, self.type_path, &self.config.load())
    }
}

impl<R> fmt::Debug for BaseConnection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseConnection")
            .field("name", &&*self.name)
            .field("type_path", &self.type_path)
            .field("config", &**self.config.load())
            .field("connected", &self.cell.is_set())
            .field("generation", &self.cell.generation())
            .finish_non_exhaustive()
    }
}

/// What a reload did to one connection.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconfigured {
    /// Its configuration did not change.
    Unchanged,
    /// Its type took the change in place (`_reconfigure`): no reset.
    Rotated,
    /// It was reset, to reconnect with the new configuration.
    Reset,
}

/// Why a connection was reset: the `reason` field of the `reset` tracing
/// event, and the `reason` label of the `connections_resets_total` counter.
///
/// A connection type passes one to
/// [`BaseConnection::reset_if_because`] when it resets on its own, so that
/// operators can tell a retry from a reload. See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::author::ResetReason;
///
/// assert_eq!(ResetReason::Retry.as_str(), "retry");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetReason {
    /// `reset()` or `reset_if()` called by the application.
    Manual,
    /// A secrets reload changed the connection's section.
    Reload,
    /// A transient error, before a retry (`SqlConnection` retries them).
    Retry,
    /// A `_check` failed on the instance.
    Check,
    /// A call found the instance broken ([`Connection::reset_if_broken`](crate::Connection::reset_if_broken)).
    Broken,
}

impl ResetReason {
    /// The reason as the tracing event and the metrics label write it:
    /// `manual`, `reload`, `retry`, `check` or `broken`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::Manual => "manual",
            ResetReason::Reload => "reload",
            ResetReason::Retry => "retry",
            ResetReason::Check => "check",
            ResetReason::Broken => "broken",
        }
    }
}
