//! Lookups: resolving a name (`env:` included) and [`Lookup`](crate::Lookup), a lookup with options.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use toml::Value;

use super::reload::section_origin;
use super::scope::ScopeState;
use super::types::Types;
use super::{Registration, Registry};
use crate::cache::{Cache, KeyRef, Policy};
use crate::config::Config;
use crate::connection::{Connection, DynConnection};
use crate::error::{Error, Result};
use crate::secrets::Secrets;

/// Resolves `env:VAR` to the value of `$VAR` and checks the result.
pub(super) fn resolve_name(name: &str) -> Result<Cow<'_, str>> {
    let resolved = resolve_env(name)?;
    check_name(name, &resolved)?;
    Ok(resolved)
}

/// Resolves `env:VAR` to the value of `$VAR`; other names are returned as
/// they are. Unchecked: enough for a cache hit, since only names that passed
/// [`check_name`] are ever cached.
#[inline]
pub(super) fn resolve_env(name: &str) -> Result<Cow<'_, str>> {
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
pub(super) fn check_name(name: &str, resolved: &str) -> Result<()> {
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

/// A connection lookup with options, as Streamlit's
/// `st.connection(name, type=None, max_entries=None, ttl=None, **kwargs)`.
///
/// Made by [`lookup`](crate::lookup) or [`Registry::lookup`](crate::Registry::lookup); finished by
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
///     .max_entries(16)                     // beyond 16, one not read recently goes
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
    /// The scope a session-scoped type is cached in.
    scope: Option<Arc<ScopeState>>,
}

impl<'r> Lookup<'r> {
    pub(super) fn new(registry: &'r Registry, name: &'r str) -> Self {
        Self::resolved_result(registry, resolve_name(name))
    }

    pub(super) fn resolved(registry: &'r Registry, name: Cow<'r, str>) -> Self {
        Self::resolved_result(registry, Ok(name))
    }

    pub(super) fn resolved_result(registry: &'r Registry, name: Result<Cow<'r, str>>) -> Self {
        Self {
            registry,
            name,
            type_: None,
            ttl: None,
            max_entries: None,
            kwargs: BTreeMap::new(),
            eager: false,
            scope: None,
        }
    }

    /// This lookup, in `scope`: session-scoped types are cached there.
    pub(super) fn in_scope(mut self, scope: Arc<ScopeState>) -> Self {
        self.scope = Some(scope);
        self
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

    /// Keep at most `n` connections in this lookup's cache, evicting one not
    /// read recently (a clock: O(1) amortized per insert, and a read costs a
    /// load; the least recently used, approximately). Zero is an error ([`Error::InvalidOption`](crate::Error::InvalidOption)).
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
    /// [`Error::TypeMismatch`](crate::Error::TypeMismatch) if `with_type` names another type; otherwise as
    /// [`Registry::connection`](crate::Registry::connection), plus the connect's error when `eager`.
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
    /// As [`Registry::connection_dyn`](crate::Registry::connection_dyn), plus the connect's error when `eager`.
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
    pub(super) fn resolve_with_type(&self, requested: &str) -> Result<Registration> {
        self.registry.with_types(|t| t.resolve(requested)).map_err(|e| {
            e.type_asked_by(|| match &self.name {
                Ok(name) => format!("the `with_type` option of connection `{name}`"),
                Err(_) => "the `with_type` option".to_owned(),
            })
        })
    }

    pub(super) fn type_from_secrets(&self, name: &str) -> Result<Registration> {
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
                // Whether or not its feature is on: a lookup of it then says which to enable.
                suggested: super::types::pointed_to_by(section),
                registered: self.registry.with_types(Types::names),
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
                    "found {}, expected a string naming a connection type, one of: {}",
                    other.type_str(),
                    crate::error::list_or_none(&self.registry.with_types(Types::names))
                ),
            }),
        }
    }

    pub(super) fn run(&self, reg: Registration, explicit: bool) -> Result<Arc<dyn DynConnection>> {
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
        // Session-scoped types are cached per scope, never in the registry's own caches.
        let (own, default): (Option<Arc<Cache>>, &Cache) = if reg.session {
            let Some(scope) = &self.scope else {
                return Err(Error::SessionScoped {
                    name: name.to_owned(),
                    type_path: reg.type_path,
                });
            };
            (scope.cache_for(policy), scope.default_cache())
        } else if policy == shared.default_cache.policy() {
            (None, &shared.default_cache)
        } else {
            (Some(self.registry.cache_for(policy)), &shared.default_cache)
        };
        let cache = own.as_deref().unwrap_or(default);
        let mut built_from = None;
        let conn = cache.get_or_build(
            key,
            || {
                let scope = self.scope_key_for(reg).map(|key| &**key);
                let span = tracing::debug_span!(
                    "lookup",
                    connection = name,
                    type_path = reg.type_path,
                    scope,
                    cache = "miss"
                );
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
    pub(super) fn redact(&self, name: &str, text: &str) -> String {
        // Nothing is read yet: every value but those of harmless names is masked.
        let mut values: toml::Table = self.kwargs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Ok(secrets) = self.registry.secrets()
            && let Some(section) = secrets.section(name)
        {
            for (k, v) in section {
                values.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        crate::redact::redact(text, &values, &crate::redact::NO_KEY)
    }

    /// Builds the (unconnected) connection: reads its section and lays the
    /// kwargs over it. Returns the secrets it was built from, too.
    pub(super) fn build(
        &self,
        reg: Registration,
        name: &str,
        explicit: bool,
    ) -> Result<(Arc<dyn DynConnection>, Arc<Secrets>)> {
        let secrets = self.registry.secrets()?;
        let section = secrets.section(name);
        if explicit {
            self.warn_if_section_names_another_type(reg, name, &secrets);
            self.registry
                .chosen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(name.into(), reg);
        }
        // A `type` naming a registered connection type is the framework's
        // key (left out of `deserialize`); any other is a client library's data.
        let type_is_ours = section
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| self.registry.with_types(|types| types.resolve(t).is_ok()));
        let config = Config::resolved(
            name,
            section,
            |key| section_origin(&secrets, name, key),
            &self.kwargs,
            Arc::new(secrets.info_for(name)),
        )
        .with_type_key_ours(type_is_ours)
        // A session-scoped connection knows whose it is.
        .with_scope(self.scope_key_for(reg).cloned());
        if let Some(hint) = config.missing_section_hint() {
            // A typed lookup needs no section, so this is no error; its first
            // failing connect or missing key repeats the hint.
            tracing::warn!(connection = name, "connection `{name}`: {hint}");
        }
        // User code (`Default` of extra fields) may panic; the cache slot catches it.
        Ok(((reg.build)(name, config, &self.registry.shared.closes), secrets))
    }

    /// The key of the scope a connection of `reg` is built in: this lookup's
    /// scope, for a session-scoped type.
    fn scope_key_for(&self, reg: Registration) -> Option<&Arc<str>> {
        self.scope.as_ref().filter(|_| reg.session).map(|scope| scope.key())
    }

    /// A section `type` naming another registered connection type, while the
    /// call site chose this one: the section's key is left alone (it may be a
    /// client library's own data) but a warning names both.
    pub(super) fn warn_if_section_names_another_type(&self, reg: Registration, name: &str, secrets: &Secrets) {
        if let Some(conflict) = self.registry.type_conflict(reg, name, secrets) {
            tracing::warn!(connection = name, used = reg.type_path, "{conflict}");
        }
    }
}

impl Registry {
    /// Why the section `type` of `name` disagrees with `reg`, the type code
    /// chose: it names another registered type, or names none but comes
    /// close to one (a typo; a `type` close to no type is a client library's
    /// data, such as `type = "service_account"`, and no conflict).
    pub(crate) fn type_conflict(&self, reg: Registration, name: &str, secrets: &Secrets) -> Option<String> {
        let Some(Value::String(section_type)) = secrets.section(name).and_then(|s| s.get("type")) else {
            return None;
        };
        match self.with_types(|t| t.resolve(section_type)) {
            Ok(other) if (other.type_id)() != (reg.type_id)() => Some(format!(
                "connection `{name}` is used as `{}` (chosen in code), but `type = \"{section_type}\"` in [connections.{name}] names the connection type `{}`; the section's `type` is ignored: remove it, or ask for that type",
                reg.type_path, other.type_path
            )),
            Err(Error::UnknownType {
                nearest: Some(nearest), ..
            }) => Some(format!(
                "connection `{name}` is used as `{}` (chosen in code), but `type = \"{section_type}\"` in [connections.{name}] names no connection type (did you mean `{nearest}`?); the section's `type` is ignored: correct it, or remove it",
                reg.type_path
            )),
            _ => None,
        }
    }

    /// The registered type of this short name or full path, if one is.
    #[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
    pub(crate) fn registration(&self, name: &str) -> Option<Registration> {
        self.with_types(|t| t.resolve(name).ok())
    }

    /// The type code chose for `name` in a lookup that built it, if any.
    pub(crate) fn chosen_type(&self, name: &str) -> Option<Registration> {
        self.chosen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// The type a lookup of `name` with no type in code resolves to: the name
    /// itself if it is a short type name, else the section's `type` key; the
    /// error such a lookup would return.
    pub(crate) fn section_type(&self, name: &str) -> Result<Registration> {
        if let Some(reg) = self.with_types(|t| t.is_short_name(name)) {
            return Ok(reg);
        }
        Lookup::resolved(self, Cow::Borrowed(name)).type_from_secrets(name)
    }

    /// The configuration a lookup of `name` with no kwargs would build from `secrets`.
    pub(crate) fn section_config(secrets: &Secrets, name: &str) -> Config {
        Config::resolved(
            name,
            secrets.section(name),
            |key| section_origin(secrets, name, key),
            &BTreeMap::new(),
            Arc::new(secrets.info_for(name)),
        )
    }
}

/// The `eager` option's connect; an async connection cannot be connected by a blocking lookup.
pub(super) fn eager_connect(conn: &dyn DynConnection) -> Result<()> {
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
