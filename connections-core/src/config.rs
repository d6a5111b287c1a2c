//! A connection's configuration: its `[connections.<name>]` section merged with
//! call-site kwargs, with typed access whose errors never show a value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde_path_to_error::{Path as SerdePath, Segment};
use toml::{Table, Value};

use crate::error::{Error, Result};
use crate::origin::{SourceInfo, env_var_for};
use crate::redact::{NO_KEY, all_scalars, collect_secrets, mask, redact};

/// Where one configuration value came from, as error messages name it: a
/// secrets file (or the environment variable standing in for it), the call
/// site's kwargs, or a `Config` built in code.
///
/// From [`Config::origin`]; see [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::{Config, author::Origin};
///
/// let config = Config::from_toml("db", "port = 5432")?;
/// assert_eq!(config.origin("port"), Origin::Code);
/// assert_eq!(config.origin("port").to_string(), "a Config built in code");
/// # Ok::<(), connections_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A secrets file, by path (an environment variable's value shows the variable's pseudo-path).
    File(PathBuf),
    /// The call site's kwargs (`Lookup::kwarg`).
    Kwargs,
    /// A [`Config`] built in code, or a key no source set.
    Code,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Kwargs => f.write_str("call-site kwargs"),
            Origin::Code => f.write_str("a Config built in code"),
        }
    }
}

/// The configuration of one connection: its `[connections.<name>]` secrets
/// section with call-site kwargs laid over it key by key.
///
/// This is what a connection's `_connect` receives. Values are read with
/// [`get`](Config::get), [`get_opt`](Config::get_opt) or
/// [`deserialize`](Config::deserialize); errors name the key, the table and the
/// file it came from, and never the value.
///
/// `Debug` shows the connection name and the keys, never the values, so a
/// `Config` is safe to log.
///
/// # Examples
///
/// ```
/// use connections_core::Config;
///
/// let config = Config::from_toml("db", "database = 'app.db'\nport = '5432'").unwrap();
/// let path: String = config.get("database").unwrap();
/// assert_eq!(path, "app.db");
/// // Streamlit files often quote numbers; typed access accepts that.
/// assert_eq!(config.get::<u16>("port").unwrap(), 5432);
/// assert_eq!(config.get_opt::<u32>("timeout").unwrap(), None);
/// assert_eq!(format!("{config:?}"), r#"Config { connection: "db", keys: ["database", "port"], .. }"#);
/// ```
#[derive(Clone)]
pub struct Config {
    name: Arc<str>,
    values: Table,
    origins: BTreeMap<String, Origin>,
    info: Arc<SourceInfo>,
    /// The keys the connection read, and those it read as a [`Secret`](crate::Secret).
    reads: Arc<Mutex<Reads>>,
    /// Whether the `type` key names the connection's own type (the
    /// framework's key, which [`deserialize`](Config::deserialize) leaves out)
    /// rather than being a client library's data.
    type_is_ours: bool,
    /// The scope a session-scoped connection was built in.
    scope: Option<Arc<str>>,
    /// The typed settings read from this configuration (`#[connection(settings = T)]`), once.
    settings: Arc<std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>>,
}

/// What a connection read of its configuration: redaction masks the values
/// of keys it never read (unless their names are harmless), and of keys it
/// read as a [`Secret`](crate::Secret) whatever their names.
#[derive(Default)]
struct Reads {
    /// Top-level keys read, looked for, or deserialized into a field.
    known: BTreeSet<String>,
    /// Keys (dotted for nested tables) read as a `Secret`.
    secret: BTreeSet<String>,
}

impl Config {
    /// A configuration built in code, e.g. for tests or for a connection made
    /// without a registry.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::Config;
    ///
    /// let mut table = toml::Table::new();
    /// table.insert("url".into(), "sqlite::memory:".into());
    /// let config = Config::new("mem", table);
    /// assert_eq!(config.get::<String>("url").unwrap(), "sqlite::memory:");
    /// ```
    pub fn new(name: &str, values: Table) -> Self {
        let origins = values.keys().map(|k| (k.clone(), Origin::Code)).collect();
        Self {
            name: name.into(),
            values,
            origins,
            info: Arc::new(SourceInfo::default()),
            reads: Arc::default(),
            type_is_ours: false,
            scope: None,
            settings: Arc::default(),
        }
    }

    /// A configuration parsed from TOML text, as a `[connections.<name>]` section body.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedSecrets`] naming the line and column if `toml` does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::Config;
    ///
    /// let config = Config::from_toml("db", "database = 'app.db'").unwrap();
    /// assert!(config.contains("database"));
    /// assert!(Config::from_toml("db", "database = ").is_err());
    /// ```
    pub fn from_toml(name: &str, toml: &str) -> Result<Self> {
        let table = parse_toml(Path::new("<inline config>"), toml)?;
        Ok(Self::new(name, table))
    }

    pub(crate) fn resolved(
        name: &str,
        section: Option<&Table>,
        section_origins: impl Fn(&str) -> Origin,
        kwargs: &BTreeMap<String, Value>,
        info: Arc<SourceInfo>,
    ) -> Self {
        let mut values = section.cloned().unwrap_or_default();
        let mut origins: BTreeMap<String, Origin> = values.keys().map(|k| (k.clone(), section_origins(k))).collect();
        for (k, v) in kwargs {
            values.insert(k.clone(), v.clone());
            origins.insert(k.clone(), Origin::Kwargs);
        }
        Self {
            name: name.into(),
            values,
            origins,
            info,
            reads: Arc::default(),
            type_is_ours: false,
            scope: None,
            settings: Arc::default(),
        }
    }

    /// This configuration with its secrets part replaced: `section` (the new
    /// `[connections.<name>]`, environment overrides included) with this
    /// configuration's call-site kwargs laid over it again, as a lookup lays them.
    pub(crate) fn relaid(
        &self,
        section: Option<&Table>,
        section_origins: impl Fn(&str) -> Origin,
        info: Arc<SourceInfo>,
    ) -> Self {
        let kwargs: BTreeMap<String, Value> = self
            .origins
            .iter()
            .filter(|(_, origin)| **origin == Origin::Kwargs)
            .filter_map(|(key, _)| Some((key.clone(), self.values.get(key)?.clone())))
            .collect();
        let mut next =
            Self::resolved(&self.name, section, section_origins, &kwargs, info).with_scope(self.scope.clone());
        // The `type` key stays the framework's while it names the same type.
        next.type_is_ours = self.type_is_ours && next.values.get("type") == self.values.get("type");
        next
    }

    /// Whether both hold the same keys and values (a float compared by its
    /// bits, so a `nan` value does not count as a change on every reload).
    pub(crate) fn same_values(&self, other: &Self) -> bool {
        same_tables(&self.values, &other.values)
    }

    /// Whether every key came from the same place, and the section from the same file.
    pub(crate) fn same_origins(&self, other: &Self) -> bool {
        // Not the hint: a new section near this name changes no key of this one.
        let (a, b) = (&*self.info, &*other.info);
        self.origins == other.origins
            && (&a.section_file, &a.files, &a.searched) == (&b.section_file, &b.files, &b.searched)
    }

    /// The connection name this configuration belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::new("db", toml::Table::new());
    /// assert_eq!(config.name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The top-level keys, in sorted order.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::from_toml("db", "b = 1\na = 2").unwrap();
    /// assert_eq!(config.keys().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Whether there are no keys at all.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(connections_core::Config::new("db", toml::Table::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `key` is present. Dotted keys (`query.sslmode`) look into sub-tables.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::from_toml("db", "[query]\nsslmode = 'require'").unwrap();
    /// assert!(config.contains("query.sslmode"));
    /// assert!(!config.contains("query.timeout"));
    /// ```
    pub fn contains(&self, key: &str) -> bool {
        self.mark_known([key]);
        find(&self.values, key).is_some()
    }

    /// The raw TOML values, for code that wants to walk them.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::from_toml("db", "port = 5432").unwrap();
    /// assert_eq!(config.as_table()["port"].as_integer(), Some(5432));
    /// ```
    pub fn as_table(&self) -> &Table {
        &self.values
    }

    /// The file that holds this connection's `[connections.<name>]` section, if one does.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::new("db", toml::Table::new());
    /// assert_eq!(config.section_file(), None);
    /// ```
    pub fn section_file(&self) -> Option<&Path> {
        self.info.section_file.as_deref()
    }

    /// Reads `key` as a `T`.
    ///
    /// A string value is also accepted where a number or boolean is asked for
    /// (`port = "5432"` reads as `5432_u16`), as Streamlit's files often quote them.
    ///
    /// # Errors
    ///
    /// [`Error::MissingKey`] says where to add the key;
    /// [`Error::InvalidValue`] names the key, its file, what was found and what
    /// was expected, never the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::from_toml("db", "port = 'five'").unwrap();
    /// let err = config.get::<u16>("port").unwrap_err().to_string();
    /// assert!(err.contains("key `port` in [connections.db]"), "{err}");
    /// assert!(!err.contains("five"), "values never appear: {err}");
    /// assert!(config.get::<u16>("timeout").is_err());
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        self.get_opt(key)?.ok_or_else(|| self.missing(key))
    }

    /// Reads `key` as a `T`, or `None` if it is absent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] if the key is present but is not a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = connections_core::Config::from_toml("db", "pool = 4").unwrap();
    /// assert_eq!(config.get_opt::<u32>("pool").unwrap(), Some(4));
    /// assert_eq!(config.get_opt::<u32>("timeout").unwrap(), None);
    /// ```
    pub fn get_opt<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(value) = find(&self.values, key) else {
            self.mark_known([key]);
            return Ok(None);
        };
        crate::secret::take_read();
        let converted = convert(value, &self.values);
        let secret = crate::secret::take_read();
        let mut reads = self.reads();
        reads.known.insert(top_key(key).to_owned());
        if secret {
            reads.secret.insert(key.to_owned());
        }
        drop(reads);
        converted.map(Some).map_err(|problem| Error::InvalidValue {
            key: key.to_owned(),
            table: self.table_label(),
            origin: self.origin(key).to_string(),
            problem,
        })
    }

    /// Checks that every key of `keys` is present (dotted for nested tables),
    /// so a connection that needs several reports all the missing ones at once.
    ///
    /// # Errors
    ///
    /// One [`Error::MissingKey`] naming every missing key (the first as `key`,
    /// the rest as `also_missing`) and where to add them.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Error};
    ///
    /// let config = Config::from_toml("db", "host = 'localhost'").unwrap();
    /// assert!(config.require(&["host"]).is_ok());
    /// let err = config.require(&["host", "username", "password"]).unwrap_err();
    /// assert!(matches!(&err, Error::MissingKey { key, also_missing, .. }
    ///     if key == "username" && also_missing == &["password"]));
    /// assert!(err.to_string().starts_with("missing keys `username`, `password` in [connections.db]"), "{err}");
    /// ```
    pub fn require(&self, keys: &[&str]) -> Result<()> {
        self.mark_known(keys.iter().copied());
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| find(&self.values, k).is_none())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(self.missing_all(&missing))
        }
    }

    /// Reads the whole configuration into a `T` with serde.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] naming the first key that does not fit `T`
    /// (a missing required field is named too).
    ///
    /// A `type` key that names the connection's type (`type = "redis"`) is
    /// the framework's, not a setting, and is left out: a `T` with
    /// `#[serde(deny_unknown_fields)]` catches typos without tripping on it.
    /// A `type` that names no connection type (a service account's
    /// `type = "service_account"`) is the client library's data and stays.
    /// Keys `T` ignores stay unknown to redaction: their values are masked in
    /// errors that quote them.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Debug, serde::Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Db { host: String, port: u16 }
    ///
    /// let config = connections_core::Config::from_toml("db", "host = 'localhost'\nport = 5432").unwrap();
    /// let db: Db = config.deserialize().unwrap();
    /// assert_eq!((db.host.as_str(), db.port), ("localhost", 5432));
    ///
    /// let err = connections_core::Config::from_toml("db", "host = 'h'").unwrap()
    ///     .deserialize::<Db>().unwrap_err();
    /// assert!(err.to_string().contains("missing field `port`"), "{err}");
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let mut table = self.values.clone();
        if self.type_is_ours {
            // The framework's key, not a setting: strict structs must not see it.
            table.remove("type");
        }
        let mut working = Value::Table(table);
        // The path of the quoted scalar fixed last, and the error it first gave.
        let mut fixed: Option<(String, String)> = None;
        // Each retry turns one quoted scalar that did not fit (`port = "5432"`)
        // into the number or boolean it spells, as `get` does.
        loop {
            let mut ignored = BTreeSet::new();
            let mut note_ignored = |path: serde_ignored::Path<'_>| {
                if let serde_ignored::Path::Map {
                    parent: serde_ignored::Path::Root,
                    key,
                } = path
                {
                    ignored.insert(key);
                }
            };
            let (path, problem) = match convert_at::<T>(working.clone(), &self.values, &mut note_ignored) {
                Ok(value) => {
                    // Every key `T` took is one the connection reads; those it
                    // ignored stay unknown, and masked.
                    let keys = working.as_table().into_iter().flat_map(|t| t.keys());
                    self.mark_known(keys.map(String::as_str).filter(|k| !ignored.contains(*k)));
                    return Ok(value);
                }
                Err(e) => e,
            };
            let key = path_key(&path);
            if let Some((fixed_key, original)) = fixed.take()
                && fixed_key == key
            {
                // The unquoted value does not fit either: report the original.
                return Err(self.invalid(key, original));
            }
            let slot = value_at_mut(&mut working, &path);
            match slot.and_then(|slot| Some((slot.as_str().and_then(scalar_from_str)?, slot))) {
                Some((scalar, slot)) => {
                    *slot = scalar;
                    fixed = Some((key, problem));
                }
                None => return Err(self.invalid(key, problem)),
            }
        }
    }

    /// An [`Error::InvalidValue`] about `key` (dotted for a nested one:
    /// `query.sslmode`), naming the table and where the value came from:
    /// for a connection type that checks a value beyond its Rust type
    /// (a URL's scheme, a range). `problem` says what is wrong and what to
    /// write, and never quotes the value. See [`author`](crate::author).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::Config;
    ///
    /// let config = Config::from_toml("cache", "url = 'http://cache.internal'")?;
    /// let err = config.invalid("url", "has scheme `http`; write `redis://` or `rediss://`");
    /// assert!(err.to_string().contains("`url` in [connections.cache]"), "{err}");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn invalid(&self, key: impl Into<String>, problem: impl Into<String>) -> Error {
        let (path, problem) = (key.into(), problem.into());
        let key = if path.is_empty() {
            "(whole table)".to_owned()
        } else {
            path
        };
        let origin = self.origin(&key).to_string();
        Error::InvalidValue {
            key,
            table: self.table_label(),
            origin,
            problem,
        }
    }

    fn table_label(&self) -> String {
        format!("[connections.{}]", self.name)
    }

    /// Where `key`'s value came from (a dotted key's, from where its table
    /// did); see [`Origin`].
    pub fn origin(&self, key: &str) -> Origin {
        // `query.sslmode` and `hosts[1]` came from where `query` and `hosts` did.
        let top = key.split(['.', '[']).next().unwrap_or(key);
        self.origins
            .get(key)
            .or_else(|| self.origins.get(top))
            .cloned()
            .unwrap_or_else(|| match &self.info.section_file {
                Some(f) => Origin::File(f.clone()),
                None => Origin::Code,
            })
    }

    /// An [`Error::MissingKey`] for `key`, saying where to add it (the
    /// section's file, or the environment variable that sets it): for a
    /// connection type that needs one of several keys, once it knows which.
    /// See [`author`](crate::author).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Error};
    ///
    /// let config = Config::from_toml("cache", "port = 6379")?;
    /// assert!(matches!(config.missing("host"), Error::MissingKey { key, .. } if key == "host"));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn missing(&self, key: &str) -> Error {
        self.missing_all(&[key])
    }

    /// One [`Error::MissingKey`] naming every key of `keys` (at least one),
    /// and where to add them.
    pub(crate) fn missing_all(&self, keys: &[&str]) -> Error {
        let table = self.table_label();
        let info = &self.info;
        let lines = keys
            .iter()
            .map(|k| format!("`{k} = ...`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let location = if let Some(file) = &info.section_file {
            let vars: Option<Vec<String>> = keys.iter().map(|k| env_var_for(file, &self.name, k)).collect();
            match vars {
                Some(vars) => format!(
                    "set {} in the environment, where {table} is defined",
                    vars.iter()
                        .map(|v| format!("`{v}=...`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                None => format!("add {lines} under {table} in {}", file.display()),
            }
        } else if let Some(last) = info.files.last() {
            format!(
                "there is no {table} section in {}{}; add {table} with {lines} to {}",
                crate::error::list_or_none(&info.files.iter().map(|p| p.display()).collect::<Vec<_>>()),
                info.hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default(),
                last.display()
            )
        } else if !info.searched.is_empty() {
            format!(
                "no secrets file was found (searched {}); create {} containing {table} and {lines}",
                crate::error::list_or_none(&info.searched.iter().map(|p| p.display()).collect::<Vec<_>>()),
                info.searched
                    .last()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        } else {
            format!(
                "add {} to the configuration, or pass {} as kwargs",
                crate::error::list_or_none(keys),
                if keys.len() == 1 { "it" } else { "them" }
            )
        };
        Error::MissingKey {
            key: keys.first().copied().unwrap_or_default().to_owned(),
            also_missing: keys.iter().skip(1).map(|k| (*k).to_owned()).collect(),
            table,
            location,
        }
    }

    /// When this connection has no section and a likely mistake explains it
    /// (a singular `[connection.<name>]` table, a near-miss section name):
    /// the files read, and the mistake.
    pub(crate) fn missing_section_hint(&self) -> Option<String> {
        let hint = self.info.hint.as_ref()?;
        let files: Vec<_> = self.info.files.iter().map(|p| p.display()).collect();
        Some(format!(
            "there is no {} section in {}; {hint}",
            self.table_label(),
            crate::error::list_or_none(&files)
        ))
    }

    /// Replaces every secret of this configuration quoted in `text` with
    /// `***`: values of secret-named keys (`password`, `token`, `api_key`
    /// and near misses such as `pasword`) and of keys read as a
    /// [`Secret`](crate::Secret), passwords inside URLs, and values of keys
    /// the connection never read unless their names are harmless (`host`,
    /// `port`, `database`...). Hosts and database names stay, so a message
    /// still says what it is about.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::Config;
    ///
    /// let config = Config::from_toml("db", "host = 'db.internal'\npassword = 'hunter2'")?;
    /// assert_eq!(config.redact("hunter2 refused at db.internal"), "*** refused at db.internal");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn redact(&self, text: &str) -> String {
        let reads = self.reads();
        let mut secrets = Vec::new();
        collect_secrets(&self.values, &|key: &str| reads.known.contains(key), &mut secrets);
        // Keys read as a `Secret`, dotted ones (`creds.api`) included.
        for key in &reads.secret {
            if let Some(value) = find(&self.values, key) {
                all_scalars(value, &mut secrets);
            }
        }
        mask(text, secrets)
    }

    /// What the connection read so far.
    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the connection looked for `keys`: their values are
    /// no longer unknown to redaction (unless their names are secret).
    fn mark_known<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        let mut reads = self.reads();
        for key in keys {
            reads.known.insert(top_key(key).to_owned());
        }
    }

    /// The scope a session-scoped connection is built in.
    pub(crate) fn with_scope(mut self, scope: Option<Arc<str>>) -> Self {
        self.scope = scope;
        self
    }

    /// The key of the [`Scope`](crate::Scope) a session-scoped connection was
    /// built in (a user, a session id, a tenant), for a `_connect` that
    /// connects as that user; `None` for a global connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "scope-key-doc", scope = "session")]
    /// struct AsUser { base: BaseConnection<String> }
    /// impl AsUser {
    ///     fn _connect(&self, config: &Config) -> Result<String, BoxError> {
    ///         Ok(format!("token for {}", config.scope_key().unwrap_or("nobody")))
    ///     }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s", "").build();
    /// let conn = registry.scope("ada").connection::<AsUser>("api")?;
    /// assert_eq!(*conn.instance()?, "token for ada");
    /// assert_eq!(conn.scope_key(), Some("ada"));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn scope_key(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The shared scope key, for the connection built from this configuration.
    pub(crate) fn scope_arc(&self) -> Option<&Arc<str>> {
        self.scope.as_ref()
    }

    /// Marks the `type` key as the framework's own (it names the
    /// connection's type): [`deserialize`](Config::deserialize) leaves it out.
    /// Whether the `type` key is the framework's (left out of settings).
    #[cfg_attr(not(feature = "settings"), expect(dead_code, reason = "only typed settings ask"))]
    pub(crate) fn type_is_ours(&self) -> bool {
        self.type_is_ours
    }

    /// The typed settings of this configuration, read by `read` the first
    /// time and kept: a connect deserializes them once per configuration.
    /// A second settings type asks again each time (no connection has two).
    #[cfg_attr(not(feature = "settings"), expect(dead_code, reason = "only typed settings ask"))]
    pub(crate) fn cached_settings<T: Send + Sync + 'static>(&self, read: impl FnOnce() -> Result<T>) -> Result<&T> {
        if let Some(found) = self.settings.get() {
            return found.downcast_ref::<T>().map_or_else(
                || Err(self.invalid("", "is read as two different settings types; a connection type has one")),
                Ok,
            );
        }
        let value = read()?;
        let stored = self.settings.get_or_init(|| Box::new(value));
        stored
            .downcast_ref::<T>()
            .ok_or_else(|| self.invalid("", "is read as two different settings types; a connection type has one"))
    }

    pub(crate) fn with_type_key_ours(mut self, ours: bool) -> Self {
        self.type_is_ours = ours;
        self
    }

    /// This configuration, its `type` key marked as the framework's if it
    /// names the connection type `type_name` (by short name, full path, or
    /// Streamlit's dotted path).
    pub(crate) fn with_own_type(mut self, type_name: &str, type_path: &str) -> Self {
        let names_it = |t: &str| t == type_name || t == type_path || t.replace('.', "::") == type_path;
        if self.values.get("type").and_then(Value::as_str).is_some_and(names_it) {
            self.type_is_ours = true;
        }
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("connection", &&*self.name)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Whether two tables hold the same values (floats compared bit for bit, so
/// an unchanged NaN is unchanged).
pub(crate) fn same_tables(a: &Table, b: &Table) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Table(x), Value::Table(y)) => same_tables(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w)),
        _ => a == b,
    }
}

/// The top-level key of a dotted key (`query` of `query.sslmode`).
fn top_key(key: &str) -> &str {
    key.split(['.', '[']).next().unwrap_or(key)
}

/// Finds `key` in `table`: the literal key first, then a dotted path.
pub(crate) fn find<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    if let Some(v) = table.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut current = table.get(parts.next()?)?;
    for part in parts {
        current = current.as_table()?.get(part)?;
    }
    Some(current)
}

/// Converts `value` to `T`; the error text is safe to show (no values).
pub(crate) fn convert<T: DeserializeOwned>(value: &Value, all: &Table) -> std::result::Result<T, String> {
    match convert_at::<T>(value.clone(), all, &mut |_| {}) {
        Ok(v) => Ok(v),
        Err((_, problem)) => {
            // `port = "5432"`: accept a quoted scalar where a number or bool is wanted.
            if let Value::String(s) = value
                && let Some(scalar) = scalar_from_str(s)
                && let Ok(v) = convert_at::<T>(scalar, all, &mut |_| {})
            {
                return Ok(v);
            }
            Err(problem)
        }
    }
}

fn scalar_from_str(s: &str) -> Option<Value> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        Some(Value::Integer(i))
    } else if let Ok(f) = t.parse::<f64>() {
        Some(Value::Float(f))
    } else if let Ok(b) = t.parse::<bool>() {
        Some(Value::Boolean(b))
    } else {
        None
    }
}

/// Deserializes, returning on failure the path of the failing value and a
/// value-free description of the problem.
fn convert_at<T: DeserializeOwned>(
    value: Value,
    all: &Table,
    ignored: &mut dyn FnMut(serde_ignored::Path<'_>),
) -> std::result::Result<T, (SerdePath, String)> {
    let mut root = value.clone();
    serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(value, &mut { ignored })).map_err(|err| {
        let path = err.path().clone();
        let found = value_at_mut(&mut root, &path).map_or("nothing", |v| v.type_str());
        let message = err.into_inner().message().to_owned();
        (path, describe(&message, found, all))
    })
}

/// A serde path as a key: `query.sslmode`, `hosts[1]`; empty for the whole value.
fn path_key(path: &SerdePath) -> String {
    let key = path.to_string();
    if key == "." { String::new() } else { key }
}

/// The value at a serde path, walked segment by segment (a key may itself
/// hold `.` or `[`, so the path's text cannot be split reliably).
fn value_at_mut<'a>(root: &'a mut Value, path: &SerdePath) -> Option<&'a mut Value> {
    let mut current = root;
    for segment in path {
        current = match (current, segment) {
            (Value::Table(t), Segment::Map { key } | Segment::Enum { variant: key }) => t.get_mut(key)?,
            (Value::Array(a), Segment::Seq { index }) => a.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Rebuilds serde's standard messages without the value they quote.
fn describe(message: &str, found: &str, all: &Table) -> String {
    const EXPECTED: &str = ", expected ";
    let message = message.trim();
    if message.starts_with("invalid value: integer ")
        && let Some(i) = message.find(EXPECTED)
        && let Some(range) = integer_range(&message[i + EXPECTED.len()..])
    {
        return range;
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if message.starts_with(prefix)
            && let Some(i) = message.find(EXPECTED)
        {
            return format!("found {found}, expected {}", &message[i + EXPECTED.len()..]);
        }
    }
    if message.starts_with("unknown variant ")
        && let Some(i) = message.find(EXPECTED)
    {
        return format!("unknown variant, expected {}", &message[i + EXPECTED.len()..]);
    }
    if [
        "missing field ",
        "unknown field ",
        "duplicate field ",
        "invalid length ",
    ]
    .iter()
    .any(|p| message.starts_with(p))
    {
        // These quote field names and counts, never values.
        return message.to_owned();
    }
    // A custom message from a `Deserialize` impl: keep it, minus any value it quotes.
    format!("found {found}: {}", redact(message, all, &NO_KEY))
}

/// "out of range ..." for an integer that does not fit the integer type
/// serde expected (`u16` for a port); `None` for any other expectation.
fn integer_range(expected: &str) -> Option<String> {
    let range = match expected {
        "u8" => (u64::from(u8::MIN).to_string(), u8::MAX.to_string()),
        "u16" => (u16::MIN.to_string(), u16::MAX.to_string()),
        "u32" => (u32::MIN.to_string(), u32::MAX.to_string()),
        "u64" => (u64::MIN.to_string(), u64::MAX.to_string()),
        "usize" => (usize::MIN.to_string(), usize::MAX.to_string()),
        "i8" => (i8::MIN.to_string(), i8::MAX.to_string()),
        "i16" => (i16::MIN.to_string(), i16::MAX.to_string()),
        "i32" => (i32::MIN.to_string(), i32::MAX.to_string()),
        "i64" => (i64::MIN.to_string(), i64::MAX.to_string()),
        "isize" => (isize::MIN.to_string(), isize::MAX.to_string()),
        _ => return None,
    };
    Some(format!(
        "the integer is out of range: expected {expected}, a whole number from {} to {}",
        range.0, range.1
    ))
}

/// Parses a TOML document; the error names the line and column but quotes none of the text.
pub(crate) fn parse_toml(path: &Path, text: &str) -> Result<Table> {
    text.parse::<Table>().map_err(|e| {
        // Some errors (a key nested past the parser's depth limit) come without a position.
        let (line, column) = e.span().map(|span| line_col(text, span.start)).unzip();
        Error::MalformedSecrets {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
