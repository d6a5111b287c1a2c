//! The name-keyed registry: connection types, secrets, and the factory cache.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use toml::Value;

use crate::cache::{Cache, KeyRef, Policy};
use crate::close::{CloseQueue, Closer, DeferSweeps};
use crate::config::{Config, Origin};
use crate::connection::{Connection, DynConnection};
use crate::error::{Error, Result, nearest};
use crate::handle::ConnectionRef;
use crate::secrets::{self, Secrets, Source};
#[cfg(feature = "watch")]
use crate::watch::{WatchSettings, Watcher};

/// How a connection type is built at run time; what the derive registers.
///
/// Made by [`Registration::of`]; hand it to nothing yourself: use
/// [`Registry::register`] or rely on the derive's automatic registration.
///
/// # Examples
///
/// ```
/// # use connections_core::{BoxError, BaseConnection, Config, Connection};
/// # #[derive(Connection)]
/// # #[connection(type_name = "echo")]
/// # struct Echo { base: BaseConnection<String> }
/// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
/// let registration = connections_core::Registration::of::<Echo>();
/// assert_eq!(registration.type_name(), "echo");
/// assert_eq!(registration.type_path(), Echo::TYPE_PATH);
/// ```
#[derive(Clone, Copy)]
pub struct Registration {
    type_name: &'static str,
    type_path: &'static str,
    type_id: fn() -> TypeId,
    build: fn(&str, Config, &Arc<CloseQueue>) -> Arc<dyn DynConnection>,
}

impl Registration {
    /// The registration of connection type `T`; see [`Registration`].
    pub const fn of<T: Connection>() -> Self {
        Self {
            type_name: T::TYPE_NAME,
            type_path: T::TYPE_PATH,
            type_id: TypeId::of::<T>,
            build: build::<T>,
        }
    }

    /// The short name (`type_name`), or the full path if the type has none; see [`Registration`].
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The full Rust path; see [`Registration`].
    pub fn type_path(&self) -> &'static str {
        self.type_path
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("type_name", &self.type_name)
            .field("type_path", &self.type_path)
            .finish_non_exhaustive()
    }
}

fn build<T: Connection>(name: &str, config: Config, closes: &Arc<CloseQueue>) -> Arc<dyn DynConnection> {
    let conn = T::from_config(name, config);
    conn.base().attach_closes(closes);
    Arc::new(conn)
}

inventory::collect!(Registration);

#[derive(Default)]
struct Types {
    by_id: HashMap<TypeId, Registration>,
    /// Short names and full paths -> the types that claim them.
    by_name: BTreeMap<&'static str, Vec<TypeId>>,
}

impl Types {
    fn add(&mut self, reg: Registration) {
        let id = (reg.type_id)();
        if self.by_id.insert(id, reg).is_some() {
            return;
        }
        for name in [reg.type_name, reg.type_path] {
            let ids = self.by_name.entry(name).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    fn is_short_name(&self, name: &str) -> Option<Registration> {
        match self.by_name.get(name).map(Vec::as_slice) {
            Some([id]) => self
                .by_id
                .get(id)
                .filter(|r| r.type_name == name && r.type_path != name)
                .copied(),
            _ => None,
        }
    }

    fn resolve(&self, requested: &str) -> std::result::Result<Registration, Error> {
        // Streamlit writes classes as dotted paths: `my_app.db.Sqlite`.
        let normalized: Cow<'_, str> = if !requested.contains("::") && requested.contains('.') {
            Cow::Owned(requested.replace('.', "::"))
        } else {
            Cow::Borrowed(requested)
        };
        match self.by_name.get(&*normalized).map(Vec::as_slice) {
            Some([id]) => Ok(self.by_id[id]),
            Some(ids) if ids.len() > 1 => Err(Error::AmbiguousType {
                requested: requested.to_owned(),
                candidates: ids.iter().map(|id| self.by_id[id].type_path.to_owned()).collect(),
                asked_by: None,
            }),
            _ => {
                let registered: Vec<String> = self.by_name.keys().map(|k| (*k).to_owned()).collect();
                Err(Error::UnknownType {
                    nearest: nearest(requested, registered.iter().map(String::as_str)),
                    requested: requested.to_owned(),
                    registered,
                    asked_by: None,
                })
            }
        }
    }

    fn example_name(&self) -> String {
        self.by_id
            .values()
            .map(|r| r.type_name)
            .min()
            .unwrap_or("my_crate::MyConnection")
            .to_owned()
    }
}

/// A registry of connection types with its own secrets and factory cache.
///
/// The process-wide one is [`Registry::global`], which the free functions
/// ([`connection`](crate::connection), [`connection_dyn`](crate::connection_dyn),
/// [`lookup`](crate::lookup), [`secrets`](crate::secrets)) use. Build
/// independent ones with [`Registry::builder`] for tests and embedding: each has
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
}

/// What [`Registry::reload_secrets`] did.
///
/// # Examples
///
/// ```
/// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
/// let reloaded = registry.reload_secrets().unwrap();
/// assert!(reloaded.reset().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    changed: bool,
    reset: Vec<String>,
}

impl Reloaded {
    /// Whether the merged secrets differ from the ones they replaced (or none
    /// had been read yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// registry.secrets().unwrap();
    /// assert!(!registry.reload_secrets().unwrap().changed(), "inline secrets never change");
    /// ```
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The names of the live connections whose configuration changed and
    /// which were therefore reset, sorted, each once (a name cached with
    /// several kwargs or types is listed once).
    ///
    /// # Examples
    ///
    /// See [`Registry::reload_secrets`].
    pub fn reset(&self) -> &[String] {
        &self.reset
    }
}

static GLOBAL: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(|| {
    RegistryBuilder {
        closes: Some(Arc::clone(CloseQueue::global())),
        ..Registry::builder()
    }
    .build()
});

/// The environment variable that makes a registry watch its secrets files
/// (`1`, `true`, `on` or `yes`; `0`, `false`, `off`, `no` or empty for not), for
/// registries whose builder did not call [`RegistryBuilder::watch`]: this is
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

/// Builds a [`Registry`].
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
    sources: Option<Vec<Source>>,
    environment: bool,
    linked: bool,
    extra: Vec<Registration>,
    default_ttl: Option<Duration>,
    watch: Option<bool>,
    watch_poll_interval: Option<Duration>,
    watch_debounce: Option<Duration>,
    /// The global registry shares its close queue with connections built
    /// without a registry; every other registry has its own.
    closes: Option<Arc<CloseQueue>>,
}

impl Default for RegistryBuilder {
    /// The same as [`Registry::builder`].
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
    /// long after they were built. An explicit [`Lookup::ttl`], even
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

    /// Whether to watch the secrets files and directories and reload them
    /// when they change, as [`Registry::reload_secrets`] does (default: off,
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
    /// [`Error::InvalidSetting`] if [`DEFAULT_TTL_ENV`](crate::DEFAULT_TTL_ENV)
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
    /// [`Error::InvalidSetting`] (lookups with their own `ttl` work);
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
            closes: self.closes.unwrap_or_else(CloseQueue::new),
        });
        #[cfg(feature = "watch")]
        let watcher = self.watch.unwrap_or_else(watch_from_env).then(|| {
            let defaults = WatchSettings::default();
            let settings = WatchSettings {
                poll_interval: self.watch_poll_interval,
                debounce: self.watch_debounce.unwrap_or(defaults.debounce),
            };
            Watcher::start(&shared, settings)
        });
        Registry {
            types: RwLock::new(types),
            shared,
            default_ttl,
            #[cfg(feature = "watch")]
            watcher: watcher.flatten(),
        }
    }
}

/// Whether [`WATCH_ENV`] asks to watch; another value is ignored with a warning.
#[cfg(feature = "watch")]
fn watch_from_env() -> bool {
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

/// Resolves `env:VAR` to the value of `$VAR` and checks the result.
fn resolve_name(name: &str) -> Result<Cow<'_, str>> {
    let resolved = resolve_env(name)?;
    check_name(name, &resolved)?;
    Ok(resolved)
}

/// Resolves `env:VAR` to the value of `$VAR`; other names are returned as
/// they are. Unchecked: enough for a cache hit, since only names that passed
/// [`check_name`] are ever cached.
#[inline]
fn resolve_env(name: &str) -> Result<Cow<'_, str>> {
    Ok(match name.strip_prefix("env:") {
        Some(var) => match std::env::var(var) {
            Ok(value) => Cow::Owned(value),
            Err(std::env::VarError::NotPresent) => {
                return Err(Error::EnvVar {
                    var: var.to_owned(),
                    problem: "not set",
                });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::EnvVar {
                    var: var.to_owned(),
                    problem: "not valid UTF-8",
                });
            }
        },
        None => Cow::Borrowed(name),
    })
}

/// Rejects a resolved name no section can have: empty, or with control characters.
fn check_name(name: &str, resolved: &str) -> Result<()> {
    if resolved.is_empty() {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            problem: "a connection name cannot be empty; use the name of a [connections.<name>] section, e.g. \"db\"",
        });
    }
    if resolved.chars().any(char::is_control) {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            problem: "a connection name cannot contain control characters; use the name of a [connections.<name>] section, e.g. \"db\"",
        });
    }
    Ok(())
}

impl Registry {
    /// The process-wide registry, created on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = connections_core::Registry::global();
    /// assert!(std::ptr::eq(a, connections_core::Registry::global()));
    /// ```
    pub fn global() -> &'static Registry {
        &GLOBAL
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
        self.types
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_name
            .keys()
            .copied()
            .collect()
    }

    /// The merged secrets, read on first use and then kept.
    ///
    /// # Errors
    ///
    /// A malformed file ([`Error::MalformedSecrets`]), an unreadable one
    /// ([`Error::ReadSecrets`]) or a bad configured path
    /// ([`Error::InvalidSecretsPath`]). Finding no file at all is not an
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
    /// This is what a watching registry ([`RegistryBuilder::watch`]) runs on
    /// each change.
    ///
    /// # Errors
    ///
    /// As [`secrets`](Registry::secrets), and
    /// [`Error::SecretsFileRemoved`] if a file that was read before is gone.
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
    /// change ([`RegistryBuilder::watch`], [`WATCH_ENV`]). Always `false`
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
    /// without one, `_connect` sees an empty [`Config`].
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
    /// See [`Registry`].
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
    /// [`ConnectionRef`] that touches no shared reference count when the
    /// connection is cached, so the lookup scales with threads. Pair it with
    /// [`instance_ref`](Connection::instance_ref) on a request's hot path.
    ///
    /// # Errors
    ///
    /// As [`connection`](Registry::connection).
    ///
    /// # Examples
    ///
    /// See [`ConnectionRef`].
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
    /// See [`DynConnection`].
    pub fn connection_dyn(&self, name: &str) -> Result<Arc<dyn DynConnection>> {
        self.lookup(name).get_dyn()
    }

    /// A lookup with options: type override, `ttl`, `max_entries`, kwargs, `eager`.
    ///
    /// # Examples
    ///
    /// See [`Lookup`].
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

impl Shared {
    fn secrets(&self) -> Result<Arc<Secrets>> {
        if let Some(secrets) = self.secrets.load_full() {
            return Ok(secrets);
        }
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(secrets) = self.secrets.load_full() {
            return Ok(secrets);
        }
        let loaded = Arc::new(secrets::load(&self.sources, self.environment)?);
        self.secrets.store(Some(Arc::clone(&loaded)));
        Ok(loaded)
    }

    /// See [`Registry::reload_secrets`].
    /// Reloads the secrets, then closes what the reload retired (after the
    /// reload's lock is released: hooks are user code).
    pub(crate) fn reload(&self) -> Result<Reloaded> {
        let reloaded = self.reload_locked();
        self.closes.sweep();
        reloaded
    }

    /// Drops every cached connection.
    fn clear(&self) {
        self.default_cache.clear();
        for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).values() {
            cache.clear();
        }
    }

    fn reload_locked(&self) -> Result<Reloaded> {
        // Its resets run under the lock below: the caller sweeps after.
        let _defer = DeferSweeps::new();
        let _span = tracing::debug_span!("reload").entered();
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.secrets.load_full();
        let loaded = secrets::load(&self.sources, self.environment)?;
        if let Some(previous) = &previous {
            self.check_nothing_removed(previous, &loaded)?;
        }
        let changed = previous
            .as_ref()
            .is_none_or(|p| !crate::config::same_tables(p.as_table(), loaded.as_table()));
        let loaded = Arc::new(loaded);
        // Stored before any reset, so a lookup that misses the cache from
        // here on builds with the new secrets.
        self.secrets.store(Some(Arc::clone(&loaded)));
        let mut reset = BTreeSet::new();
        for conn in self.live() {
            if conn.dyn_reconfigure(config_for_reload(&*conn, &loaded)) {
                reset.insert(conn.name().to_owned());
            }
        }
        let reset: Vec<String> = reset.into_iter().collect();
        if !reset.is_empty() {
            tracing::info!(
                reset = ?reset,
                "secrets reloaded; reset the connections whose configuration changed: {}",
                reset.join(", ")
            );
        }
        Ok(Reloaded { changed, reset })
    }

    /// A `.toml` file read last time and missing now: an editor's save
    /// midway, or a deletion. Either way, not a reason to forget its secrets.
    fn check_nothing_removed(&self, previous: &Secrets, loaded: &Secrets) -> Result<()> {
        for source in &self.sources {
            if let Source::Path(path) = source
                && previous.files().contains(path)
                && !loaded.files().contains(path)
            {
                return Err(Error::SecretsFileRemoved { path: path.clone() });
            }
        }
        Ok(())
    }

    /// Every built, unexpired connection in every cache.
    fn live(&self) -> Vec<Arc<dyn DynConnection>> {
        let mut live = self.default_cache.live();
        for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).values() {
            live.extend(cache.live());
        }
        live
    }

    /// A connection built from `used` while a reload stored newer secrets:
    /// the reload may have looked at the cache before the connection was in
    /// it, so it catches up here.
    fn catch_up(&self, conn: &dyn DynConnection, used: &Arc<Secrets>) {
        // A reset here sweeps after the lock, in the lookup that called this.
        let _defer = DeferSweeps::new();
        let _load = self.secrets_load.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(current) = self.secrets.load_full()
            && !Arc::ptr_eq(&current, used)
        {
            conn.dyn_reconfigure(config_for_reload(conn, &current));
        }
    }
}

/// `conn`'s configuration with its section taken from `secrets` and its kwargs kept.
fn config_for_reload(conn: &dyn DynConnection, secrets: &Secrets) -> Config {
    let name = conn.name();
    conn.config().relaid(
        secrets.section(name),
        |key| section_origin(secrets, name, key),
        Arc::new(secrets.info_for(name)),
    )
}

fn section_origin(secrets: &Secrets, name: &str, key: &str) -> Origin {
    secrets
        .key_origin(name, key)
        .map_or(Origin::Code, |p| Origin::File(p.to_path_buf()))
}

impl Drop for Registry {
    /// Clears the cache and closes what nothing uses any more; a running
    /// [`Closer`] finishes the async closes, then ends.
    fn drop(&mut self) {
        self.shared.clear();
        self.shared.closes.sweep();
        self.shared.closes.end();
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

impl Source {
    fn label(&self) -> &std::path::Path {
        match self {
            Source::Path(p) | Source::Inline { label: p, .. } => p,
        }
    }
}

/// A connection lookup with options, as Streamlit's
/// `st.connection(name, type=None, max_entries=None, ttl=None, **kwargs)`.
///
/// Made by [`lookup`](crate::lookup) or [`Registry::lookup`]; finished by
/// [`get`](Lookup::get) (typed) or [`get_dyn`](Lookup::get_dyn).
///
/// Lookups with the same `ttl` and `max_entries` share one cache; entries are
/// keyed by (type, resolved name, kwargs), kwargs in sorted order so call
/// order does not matter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
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
///     .secrets_toml("s", "[connections.e]\ntype = 'echo'\ntext = 'from secrets'")
///     .build();
/// let echo = registry
///     .lookup("e")
///     .kwarg("text", "from kwargs")       // overrides the secrets key by key
///     .ttl(Duration::from_secs(60))        // rebuilt a minute after it was built
///     .max_entries(16)                     // least-recently-used beyond 16
///     .eager(true)                         // connect now, and return its error
///     .get::<Echo>()
///     .unwrap();
/// assert!(echo.is_connected());
/// assert_eq!(*echo.instance().unwrap(), "from kwargs");
/// ```
#[must_use]
pub struct Lookup<'r> {
    registry: &'r Registry,
    name: Result<Cow<'r, str>>,
    type_: Option<String>,
    ttl: Option<Duration>,
    max_entries: Option<usize>,
    kwargs: BTreeMap<String, Value>,
    eager: bool,
}

impl<'r> Lookup<'r> {
    fn new(registry: &'r Registry, name: &'r str) -> Self {
        Self::resolved_result(registry, resolve_name(name))
    }

    fn resolved(registry: &'r Registry, name: Cow<'r, str>) -> Self {
        Self::resolved_result(registry, Ok(name))
    }

    fn resolved_result(registry: &'r Registry, name: Result<Cow<'r, str>>) -> Self {
        Self {
            registry,
            name,
            type_: None,
            ttl: None,
            max_entries: None,
            kwargs: BTreeMap::new(),
            eager: false,
        }
    }

    /// The connection type, by short name or full path (`"sqlite"`,
    /// `"my_app::db::Sqlite"`, or Streamlit's dotted `"my_app.db.Sqlite"`).
    /// It wins over the section's `type` key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo-typed")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// let registry = Registry::builder().secrets_toml("s", "[connections.x]\ntype = 'service_account'").build();
    /// let conn = registry.lookup("x").with_type("echo-typed").get_dyn().unwrap();
    /// assert_eq!(conn.type_name(), "echo-typed");
    /// ```
    pub fn with_type(mut self, type_name: impl Into<String>) -> Self {
        self.type_ = Some(type_name.into());
        self
    }

    /// Expire the cached connection this long after it was built (reads do not
    /// extend it). `Duration::ZERO` caches nothing: every lookup builds anew.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// # let registry = Registry::builder().secrets_toml("s", "").build();
    /// use std::{sync::Arc, time::Duration};
    /// let a = registry.lookup("t").ttl(Duration::ZERO).get::<Echo>().unwrap();
    /// let b = registry.lookup("t").ttl(Duration::ZERO).get::<Echo>().unwrap();
    /// assert!(!Arc::ptr_eq(&a, &b));
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Keep at most `n` connections in this lookup's cache, evicting the
    /// least recently used. Zero is an error ([`Error::InvalidOption`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// # let registry = Registry::builder().secrets_toml("s", "").build();
    /// assert!(registry.lookup("m").max_entries(8).get::<Echo>().is_ok());
    /// assert!(registry.lookup("m").max_entries(0).get::<Echo>().is_err());
    /// ```
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// Sets one config key, overriding the secrets section's key of that name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// let registry = Registry::builder().secrets_toml("s", "[connections.k]\ntext = 'a'").build();
    /// let conn = registry.lookup("k").kwarg("text", "b").get::<Echo>().unwrap();
    /// assert_eq!(*conn.instance().unwrap(), "b");
    /// ```
    pub fn kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(key.into(), value.into());
        self
    }

    /// Sets several config keys; see [`kwarg`](Lookup::kwarg).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// # let registry = Registry::builder().secrets_toml("s", "").build();
    /// let conn = registry.lookup("k").kwargs([("text", "hi"), ("mode", "fast")]).get::<Echo>().unwrap();
    /// assert_eq!(conn.config().keys().collect::<Vec<_>>(), ["mode", "text"]);
    /// ```
    pub fn kwargs<K: Into<String>, V: Into<Value>>(mut self, kwargs: impl IntoIterator<Item = (K, V)>) -> Self {
        self.kwargs
            .extend(kwargs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Connect during the lookup and return the connect's error, as
    /// Streamlit's constructor does. Off by default: connections are lazy.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// # let registry = Registry::builder().secrets_toml("s", "").build();
    /// let conn = registry.lookup("e").eager(true).get::<Echo>().unwrap();
    /// assert!(conn.is_connected());
    /// ```
    pub fn eager(mut self, eager: bool) -> Self {
        self.eager = eager;
        self
    }

    /// The connection as a `T`.
    ///
    /// # Errors
    ///
    /// [`Error::TypeMismatch`] if `with_type` names another type; otherwise as
    /// [`Registry::connection`], plus the connect's error when `eager`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// # let registry = Registry::builder().secrets_toml("s", "").build();
    /// let echo = registry.lookup("g").get::<Echo>().unwrap();
    /// assert_eq!(echo.name(), "g");
    /// ```
    pub fn get<T: Connection>(self) -> Result<Arc<T>> {
        let name = self.name.as_deref().map_err(Clone::clone)?;
        let wanted = Registration::of::<T>();
        if let Some(requested) = &self.type_ {
            let found = self.resolve_with_type(requested)?;
            if (found.type_id)() != (wanted.type_id)() {
                return Err(Error::TypeMismatch {
                    name: name.to_owned(),
                    requested: T::TYPE_PATH.to_owned(),
                    found: found.type_path.to_owned(),
                });
            }
        }
        let conn = self.run(wanted, true)?;
        conn.downcast::<T>().map_err(|other| Error::TypeMismatch {
            name: other.name().to_owned(),
            requested: T::TYPE_PATH.to_owned(),
            found: other.type_path().to_owned(),
        })
    }

    /// The connection, its type from the `with_type` option, the name, or the
    /// secrets section's `type` key, in that order (Streamlit's order).
    ///
    /// # Errors
    ///
    /// As [`Registry::connection_dyn`], plus the connect's error when `eager`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "echo-dyn")]
    /// # struct Echo { base: BaseConnection<String> }
    /// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get_opt("text")?.unwrap_or_default()) } }
    /// let registry = Registry::builder().secrets_toml("s", "[connections.d]\ntype = 'echo-dyn'").build();
    /// assert_eq!(registry.lookup("d").get_dyn().unwrap().type_name(), "echo-dyn");
    /// ```
    pub fn get_dyn(self) -> Result<Arc<dyn DynConnection>> {
        let name = self.name.as_deref().map_err(Clone::clone)?;
        let (reg, explicit) = if let Some(requested) = &self.type_ {
            (self.resolve_with_type(requested)?, true)
        } else if let Some(reg) = self.registry.with_types(|t| t.is_short_name(name)) {
            (reg, true)
        } else {
            (self.type_from_secrets(name)?, false)
        };
        self.run(reg, explicit)
    }

    /// The type named by the `with_type` option; an error names the option and the connection.
    fn resolve_with_type(&self, requested: &str) -> Result<Registration> {
        self.registry.with_types(|t| t.resolve(requested)).map_err(|e| {
            e.type_asked_by(|| match &self.name {
                Ok(name) => format!("the `with_type` option of connection `{name}`"),
                Err(_) => "the `with_type` option".to_owned(),
            })
        })
    }

    fn type_from_secrets(&self, name: &str) -> Result<Registration> {
        let secrets = self.registry.secrets()?;
        let Some(section) = secrets.section(name) else {
            if !secrets.found_any() {
                return Err(Error::NoSecrets {
                    name: name.to_owned(),
                    searched: secrets.searched().to_vec(),
                });
            }
            return Err(Error::NoSection {
                name: name.to_owned(),
                existing: secrets.connection_names().into_iter().map(str::to_owned).collect(),
                hint: secrets.section_hint(name),
                files: secrets.files().to_vec(),
            });
        };
        let section_file = || {
            secrets
                .origin_of(&format!("connections.{name}"))
                .map(PathBuf::from)
                .unwrap_or_default()
        };
        match section.get("type") {
            None => Err(Error::NoTypeKey {
                name: name.to_owned(),
                file: section_file(),
                example: self.registry.with_types(Types::example_name),
            }),
            Some(Value::String(t)) => self.registry.with_types(|types| types.resolve(t)).map_err(|e| {
                // Which section asked, and in which file, as for every other section error.
                e.type_asked_by(|| {
                    let file = secrets
                        .key_origin(name, "type")
                        .map_or_else(section_file, std::path::Path::to_path_buf);
                    format!("the `type` key of [connections.{name}] in {}", file.display())
                })
            }),
            Some(other) => Err(Error::InvalidValue {
                key: "type".to_owned(),
                table: format!("[connections.{name}]"),
                origin: secrets
                    .key_origin(name, "type")
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                problem: format!(
                    "found {}, expected a string naming a connection type, e.g. `type = \"{}\"`",
                    other.type_str(),
                    self.registry.with_types(Types::example_name)
                ),
            }),
        }
    }

    fn run(&self, reg: Registration, explicit: bool) -> Result<Arc<dyn DynConnection>> {
        let name = self.name.as_deref().map_err(Clone::clone)?;
        let max_entries = match self.max_entries {
            None => None,
            Some(n) => Some(NonZeroUsize::new(n).ok_or(Error::InvalidOption {
                option: "max_entries",
                problem: "zero would cache nothing and fail every insert; give at least 1, or leave it unset for no limit",
            })?),
        };
        let ttl = match self.ttl {
            Some(ttl) => Some(ttl),
            // An explicit ttl wins, so an unusable default fails only lookups that use it.
            None => self.registry.default_ttl.clone()?,
        };
        let policy = Policy { ttl, max_entries };
        let kwargs = if self.kwargs.is_empty() {
            String::new()
        } else {
            toml::to_string(&self.kwargs).unwrap_or_else(|_| format!("{:?}", self.kwargs))
        };
        let key = KeyRef {
            type_id: (reg.type_id)(),
            name,
            kwargs: &kwargs,
        };
        let shared = &*self.registry.shared;
        let cache = if policy == shared.default_cache.policy() {
            None
        } else {
            Some(self.registry.cache_for(policy))
        };
        let cache = cache.as_deref().unwrap_or(&shared.default_cache);
        let mut built_from = None;
        let conn = cache.get_or_build(
            key,
            || {
                let span = tracing::debug_span!("lookup", connection = name, type_path = reg.type_path, cache = "miss");
                let _entered = span.enter();
                let (conn, secrets) = self.build(reg, name, explicit)?;
                tracing::debug!("cache miss: built");
                built_from = Some(secrets);
                if self.eager {
                    // Inside the build, so a failed eager connect caches nothing,
                    // as a failing Streamlit constructor.
                    eager_connect(&*conn)?;
                }
                Ok(conn)
            },
            |message| Error::ConnectPanicked {
                name: name.to_owned(),
                type_path: reg.type_path,
                message: self.redact(name, &message),
            },
        )?;
        if let Some(used) = built_from {
            shared.catch_up(&*conn, &used);
            // A cold path with no lock held: close what was evicted or
            // expired by this insert, or let go of since the last sweep.
            shared.closes.sweep();
        } else {
            tracing::trace!(connection = name, "lookup: cache hit");
        }
        if self.eager {
            // A cached entry built by a lazy lookup: connect it now.
            eager_connect(&*conn)?;
        }
        Ok(conn)
    }

    /// `text` with the values of `name`'s section and of the kwargs replaced by
    /// `***`: for a panic while building, when there is no `Config` yet.
    fn redact(&self, name: &str, text: &str) -> String {
        let kwargs: toml::Table = self.kwargs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let text = crate::config::redact(text, &kwargs);
        match self.registry.secrets() {
            Ok(secrets) => match secrets.section(name) {
                Some(section) => crate::config::redact(&text, section),
                None => text,
            },
            Err(_) => text,
        }
    }

    /// Builds the (unconnected) connection: reads its section and lays the
    /// kwargs over it. Returns the secrets it was built from, too.
    fn build(&self, reg: Registration, name: &str, explicit: bool) -> Result<(Arc<dyn DynConnection>, Arc<Secrets>)> {
        let secrets = self.registry.secrets()?;
        let section = secrets.section(name);
        if explicit {
            self.warn_if_section_names_another_type(reg, name, &secrets);
        }
        let config = Config::resolved(
            name,
            section,
            |key| section_origin(&secrets, name, key),
            &self.kwargs,
            Arc::new(secrets.info_for(name)),
        );
        // User code (`Default` of extra fields) may panic; the cache slot catches it.
        Ok(((reg.build)(name, config, &self.registry.shared.closes), secrets))
    }

    /// A section `type` naming another registered connection type, while the
    /// call site chose this one: the section's key is left alone (it may be a
    /// client library's own data) but a warning names both.
    fn warn_if_section_names_another_type(&self, reg: Registration, name: &str, secrets: &Secrets) {
        let Some(Value::String(section_type)) = secrets.section(name).and_then(|s| s.get("type")) else {
            return;
        };
        let other = self.registry.with_types(|t| t.resolve(section_type).ok());
        if let Some(other) = other
            && (other.type_id)() != (reg.type_id)()
        {
            tracing::warn!(
                connection = name,
                used = reg.type_path,
                section_type = other.type_path,
                "connection `{name}` is used as `{}` (chosen in code), but `type = \"{section_type}\"` in [connections.{name}] names the connection type `{}`; the section's `type` is ignored: remove it, or ask for that type",
                reg.type_path,
                other.type_path
            );
        }
    }
}

/// The `eager` option's connect; an async connection cannot be connected by a blocking lookup.
fn eager_connect(conn: &dyn DynConnection) -> Result<()> {
    if conn.is_async() {
        return Err(Error::AsyncConnection {
            name: conn.name().to_owned(),
            type_path: conn.type_path(),
            call: "a lookup with `eager(true)`",
            instead: "the lookup without `eager(true)`, then `conn.instance().await` to connect",
        });
    }
    conn.connect()
}
