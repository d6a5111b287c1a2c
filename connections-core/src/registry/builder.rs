//! The registry builder: secrets sources, registrations, cache defaults and watching.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use super::{Registration, Registry, Shared, Types};
use crate::cache::{Cache, Policy};
use crate::close::CloseQueue;
use crate::connection::Connection;
use crate::error::Result;
use crate::secrets::{self, Source};
#[cfg(feature = "watch")]
use crate::watch::{WatchSettings, Watcher};

/// The environment variable that makes a registry watch its secrets files
/// (`1`, `true`, `on` or `yes`; `0`, `false`, `off`, `no` or empty for not), for
/// registries whose builder did not call [`RegistryBuilder::watch`](crate::RegistryBuilder::watch): this is
/// how the global registry, which does not watch by default, is made to.
///
/// Another value is ignored with a warning that names the variable. Needs
/// the `watch` feature (on by default).
///
/// # Examples
///
/// ```
/// assert_eq!(connections_core::WATCH_ENV, "CONNECTIONS_WATCH");
/// ```
pub const WATCH_ENV: &str = "CONNECTIONS_WATCH";

/// Builds a [`Registry`](crate::Registry).
///
/// # Examples
///
/// ```
/// let registry = connections_core::Registry::builder()
///     .secrets_paths(["config/secrets.toml"])
///     .secrets_toml("overrides", "[connections.db]\ntype = 'sqlite'")
///     .build();
/// # let _ = registry;
/// ```
#[derive(Debug)]
#[must_use]
pub struct RegistryBuilder {
    pub(super) sources: Option<Vec<Source>>,
    pub(super) environment: bool,
    pub(super) linked: bool,
    pub(super) extra: Vec<Registration>,
    pub(super) default_ttl: Option<Duration>,
    pub(super) watch: Option<bool>,
    pub(super) watch_poll_interval: Option<Duration>,
    pub(super) watch_debounce: Option<Duration>,
    /// How long a scope outlives its last handle.
    pub(super) scope_idle: Duration,
    /// The global registry shares its close queue with connections built
    /// without a registry; every other registry has its own.
    pub(super) closes: Option<Arc<CloseQueue>>,
}

impl Default for RegistryBuilder {
    /// The same as [`Registry::builder`](crate::Registry::builder).
    fn default() -> Self {
        Registry::builder()
    }
}

impl RegistryBuilder {
    /// Reads secrets from these paths, in order, instead of the defaults.
    ///
    /// Each is a `.toml` file (skipped if it does not exist, as in Streamlit) or
    /// a secrets directory (an error if it does not exist). Later paths merge
    /// into earlier ones key by key.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("secrets.toml");
    /// std::fs::write(&file, "[api]\nkey = 'k'").unwrap();
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_paths([dir.path().join("absent.toml"), file])
    ///     .build();
    /// assert_eq!(registry.secrets().unwrap().get::<String>("api.key").unwrap(), "k");
    /// ```
    pub fn secrets_paths<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        let sources = self.sources.get_or_insert_with(Vec::new);
        sources.extend(paths.into_iter().map(|p| Source::Path(p.into())));
        self
    }

    /// Adds TOML text as a secrets layer, after any paths; `label` names it in errors.
    ///
    /// Giving any source replaces the defaults, so a test registry reads only what it is given.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("base", "[connections.db]\nhost = 'a'\nport = 1")
    ///     .secrets_toml("override", "[connections.db]\nhost = 'b'")
    ///     .build();
    /// let secrets = registry.secrets().unwrap();
    /// assert_eq!(secrets.get::<String>("connections.db.host").unwrap(), "b");
    /// assert_eq!(secrets.get::<u16>("connections.db.port").unwrap(), 1);
    /// ```
    pub fn secrets_toml(mut self, label: impl Into<PathBuf>, toml: impl Into<String>) -> Self {
        let sources = self.sources.get_or_insert_with(Vec::new);
        sources.push(Source::Inline {
            label: label.into(),
            text: toml.into(),
        });
        self
    }

    /// Whether `CONNECTIONS__<NAME>__<KEY>` environment variables override the
    /// secrets files (default `true`); see [`ENV_PREFIX`](crate::ENV_PREFIX).
    ///
    /// # Examples
    ///
    /// ```
    /// // A registry that reads only what it is given, whatever the environment holds.
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("s", "")
    ///     .env_overrides(false)
    ///     .build();
    /// assert!(registry.secrets().unwrap().connection_names().is_empty());
    /// ```
    pub fn env_overrides(mut self, yes: bool) -> Self {
        self.environment = yes;
        self
    }

    /// Whether to start with every `#[derive(Connection)]` type linked into the
    /// program (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().linked_types(false).build();
    /// assert!(registry.type_names().is_empty());
    /// ```
    pub fn linked_types(mut self, yes: bool) -> Self {
        self.linked = yes;
        self
    }

    /// Registers `T` in the registry being built.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// let registry = Registry::builder().linked_types(false).register::<Echo>().build();
    /// assert_eq!(registry.type_names().len(), 2); // "echo" and its full path
    /// ```
    pub fn register<T: Connection>(mut self) -> Self {
        self.extra.push(Registration::of::<T>());
        self
    }

    /// The `ttl` of lookups that give none: cached connections expire this
    /// long after they were built. An explicit [`Lookup::ttl`](crate::Lookup::ttl), even
    /// `Duration::ZERO`, wins; `Duration::ZERO` here caches nothing by default.
    ///
    /// Without it, [`DEFAULT_TTL_ENV`](crate::DEFAULT_TTL_ENV)
    /// (`CONNECTIONS_DEFAULT_TTL`, in seconds) sets it; with neither, cached
    /// connections never expire.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let registry = Registry::builder().secrets_toml("s", "").default_ttl(Duration::ZERO).build();
    /// let a = registry.connection::<Echo>("t").unwrap();
    /// assert!(!Arc::ptr_eq(&a, &registry.connection::<Echo>("t").unwrap()), "nothing cached by default");
    /// let b = registry.lookup("t").ttl(Duration::from_secs(60)).get::<Echo>().unwrap();
    /// assert!(Arc::ptr_eq(&b, &registry.lookup("t").ttl(Duration::from_secs(60)).get::<Echo>().unwrap()));
    /// ```
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// How long a [`Scope`](crate::Scope) outlives its last handle: a user's
    /// session, looked up per request with `registry.scope(user)`, keeps its
    /// connections from one request to the next, and ends once it has had no
    /// request for `idle` (then its connections close, as at
    /// [`Scope::close`](crate::Scope::close)). Zero, the default, ends a
    /// scope with its last handle. [`Scope::set_idle`](crate::Scope::set_idle)
    /// sets it per scope.
    ///
    /// A scope ends between `idle` and `idle` plus a quarter of it (at most a
    /// second more) after its last handle: a thread of the registry's looks
    /// at the scopes that have an idle time, and stops with the registry.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "idle-doc", scope = "session")]
    /// # struct Token { base: BaseConnection<String> }
    /// # impl Token { fn _connect(&self, _: &Config) -> Result<String, BoxError> { Ok("t".into()) } }
    ///
    /// let registry = Registry::builder()
    ///     .secrets_toml("s", "")
    ///     .scope_idle(Duration::from_millis(50))
    ///     .build();
    /// let first = registry.scope("user-1").connection::<Token>("token")?;   // request 1
    /// let again = registry.scope("user-1").connection::<Token>("token")?;   // request 2
    /// assert!(std::sync::Arc::ptr_eq(&first, &again), "the same session");
    /// while registry.scope_count() > 0 {
    ///     std::thread::sleep(Duration::from_millis(10)); // idle for 50 ms: it ends
    /// }
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn scope_idle(mut self, idle: Duration) -> Self {
        self.scope_idle = idle;
        self
    }

    /// Whether to watch the secrets files and directories and reload them
    /// when they change, as [`Registry::reload_secrets`](crate::Registry::reload_secrets) does (default: off,
    /// unless [`WATCH_ENV`] says on). Needs the `watch` feature (on by default);
    /// without it, this setting does nothing.
    ///
    /// Watching takes one background thread (`connections-watch`) and, on
    /// Linux, one inotify watch per directory watched: the directory holding
    /// each secrets file (editors save by renaming a new file over the old,
    /// which a watch on the file itself would miss), and each secrets
    /// directory with everything under it. A directory that does not exist
    /// yet is watched through its nearest existing ancestor, and picked up
    /// when it appears. Where file-system events are unavailable (the
    /// watcher cannot start, or the system's watch limit is reached), it
    /// polls instead, once a second, and says so in a warning.
    ///
    /// Changes are debounced (see [`watch_debounce`](RegistryBuilder::watch_debounce)),
    /// so one save is one reload. A reload that fails (a malformed file, a
    /// file deleted) keeps the last good secrets and logs one error (through
    /// `tracing`) naming the file and line; the next good save is picked up.
    /// The thread holds the registry weakly and stops when it is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// use std::time::{Duration, Instant};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("secrets.toml");
    /// std::fs::write(&file, "[connections.greeting]\ntext = 'hello'").unwrap();
    /// let registry = Registry::builder().secrets_paths([&file]).watch(true).build();
    /// let greeting = registry.connection::<Echo>("greeting").unwrap();
    /// assert_eq!(*greeting.instance().unwrap(), "hello");
    ///
    /// std::fs::write(&file, "[connections.greeting]\ntext = 'bonjour'").unwrap();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while *greeting.instance().unwrap() != "bonjour" {
    ///     assert!(Instant::now() < deadline, "the edit was not picked up");
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// ```
    pub fn watch(mut self, yes: bool) -> Self {
        self.watch = Some(yes);
        self
    }

    /// Watch by polling every `interval` instead of by file-system events;
    /// implies [`watch(true)`](RegistryBuilder::watch).
    ///
    /// Each poll reads the secrets files (and the files of secrets
    /// directories) and compares their contents, so a change is seen however
    /// close to the last one it comes. For file systems that send no events
    /// (some network and container mounts), and for tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("secrets.toml");
    /// std::fs::write(&file, "[api]\nkey = 'a'").unwrap();
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_paths([&file])
    ///     .watch_poll_interval(Duration::from_millis(20))
    ///     .build();
    /// assert_eq!(registry.secrets().unwrap().get::<String>("api.key").unwrap(), "a");
    ///
    /// std::fs::write(&file, "[api]\nkey = 'b'").unwrap();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while registry.secrets().unwrap().get::<String>("api.key").unwrap() != "b" {
    ///     assert!(Instant::now() < deadline, "the edit was not picked up");
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// ```
    pub fn watch_poll_interval(mut self, interval: Duration) -> Self {
        self.watch = Some(true);
        self.watch_poll_interval = Some(interval);
        self
    }

    /// How long the watcher waits after the last change before it reloads
    /// (default 150 ms), so that a save that writes in several steps, or an
    /// editor that writes a temporary file and renames it, is one reload of
    /// the finished file.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("s", "")
    ///     .watch(true)
    ///     .watch_debounce(std::time::Duration::from_millis(50))
    ///     .build();
    /// # let _ = registry;
    /// ```
    pub fn watch_debounce(mut self, debounce: Duration) -> Self {
        self.watch_debounce = Some(debounce);
        self
    }

    /// As [`build`](RegistryBuilder::build), but a setting read from the
    /// environment that cannot be used is an error now rather than at the
    /// first lookup that needs it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) if [`DEFAULT_TTL_ENV`](crate::DEFAULT_TTL_ENV)
    /// is read (no [`default_ttl`](RegistryBuilder::default_ttl) was given)
    /// and is not a number of seconds, zero or more.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .default_ttl(std::time::Duration::from_secs(300))
    ///     .try_build()
    ///     .unwrap();
    /// # let _ = registry;
    /// ```
    pub fn try_build(self) -> Result<Registry> {
        // Checked before building: a registry that fails starts no watcher.
        if self.default_ttl.is_none() {
            secrets::default_ttl_from_env()?;
        }
        Ok(self.build())
    }

    /// Builds the registry.
    ///
    /// With no secrets source given, it reads Streamlit's files,
    /// `~/.streamlit/secrets.toml` then `./.streamlit/secrets.toml`, or the
    /// paths in `CONNECTIONS_SECRETS_PATH` when that is set.
    ///
    /// An unusable `CONNECTIONS_DEFAULT_TTL` does not fail the build: each
    /// lookup that would use the default ttl returns the
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) (lookups with their own `ttl` work);
    /// [`try_build`](RegistryBuilder::try_build) returns it at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().build();
    /// // Reads ~/.streamlit/secrets.toml and ./.streamlit/secrets.toml on first use.
    /// let _searched = registry.secrets().map(|s| s.searched().len());
    /// ```
    pub fn build(self) -> Registry {
        let mut types = Types::default();
        if self.linked {
            for reg in inventory::iter::<Registration> {
                types.add(*reg);
            }
        }
        for reg in self.extra {
            types.add(reg);
        }
        let sources = self.sources.unwrap_or_else(|| {
            secrets::paths_from_env_or_default()
                .into_iter()
                .map(Source::Path)
                .collect()
        });
        let default_ttl = match self.default_ttl {
            Some(ttl) => Ok(Some(ttl)),
            None => secrets::default_ttl_from_env(),
        };
        let shared = Arc::new(Shared {
            sources,
            environment: self.environment,
            secrets: ArcSwapOption::empty(),
            secrets_load: Mutex::new(()),
            default_cache: Cache::new(Policy {
                ttl: default_ttl.as_ref().ok().copied().flatten(),
                max_entries: None,
            }),
            caches: Mutex::new(HashMap::new()),
            // Resizes finish in the insert that starts them, as the caches' do:
            // once scopes stop arriving, a lookup probes one table.
            scopes: papaya::HashMap::builder()
                .hasher(crate::cache::KeyHasher::default())
                .resize_mode(papaya::ResizeMode::Blocking)
                .build(),
            scope_writes: Mutex::new(()),
            scope_keepers: Mutex::new(Vec::new()),
            scope_idle: self.scope_idle,
            scope_tick: std::sync::atomic::AtomicU64::new(u64::MAX),
            scope_sweeper: std::sync::OnceLock::new(),
            closes: self.closes.unwrap_or_else(CloseQueue::new),
        });
        #[cfg(feature = "watch")]
        let watcher = self.watch.unwrap_or_else(watch_from_env).then(|| {
            let defaults = WatchSettings::default();
            let settings = WatchSettings {
                poll_interval: self.watch_poll_interval,
                debounce: self.watch_debounce.unwrap_or(defaults.debounce),
            };
            let target: std::sync::Weak<Shared> = Arc::downgrade(&shared);
            Watcher::start(target, &shared.sources, settings)
        });
        Registry {
            types: RwLock::new(types),
            chosen: Mutex::default(),
            shared,
            default_ttl,
            #[cfg(feature = "watch")]
            watcher: watcher.flatten(),
        }
    }
}

/// Whether [`WATCH_ENV`] asks to watch; another value is ignored with a warning.
#[cfg(feature = "watch")]
pub(super) fn watch_from_env() -> bool {
    let Some(value) = std::env::var_os(WATCH_ENV) else {
        return false;
    };
    match value.to_string_lossy().trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => true,
        "" | "0" | "false" | "off" | "no" => false,
        _ => {
            tracing::warn!(
                variable = WATCH_ENV,
                "ignoring `{WATCH_ENV}`: write `{WATCH_ENV}=1` to watch the secrets files and reload them on change, or `{WATCH_ENV}=0` not to"
            );
            false
        }
    }
}
