//! Secrets: Streamlit's `secrets.toml` files and secrets directories, merged key by key.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::config::{convert, find, parse_toml};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::error::{Error, Result};
use crate::origin::{ENV_ORIGIN, ENV_PREFIX, SourceInfo};

/// The environment variable that replaces the default list of secrets paths.
///
/// It holds paths separated as `PATH` is (`:` on Unix, `;` on Windows); each is
/// a `.toml` file or a secrets directory.
///
/// # Examples
///
/// ```
/// assert_eq!(connections_core::SECRETS_PATH_ENV, "CONNECTIONS_SECRETS_PATH");
/// ```
pub const SECRETS_PATH_ENV: &str = "CONNECTIONS_SECRETS_PATH";

/// The environment variable that sets a registry's default `ttl`, in seconds.
///
/// A number of seconds, whole or fractional (`300`, `0.5`); `0` caches nothing
/// by default. It applies to lookups that give no `ttl` of their own: an
/// explicit [`Lookup::ttl`](crate::Lookup::ttl), even zero, wins.
/// [`RegistryBuilder::default_ttl`](crate::RegistryBuilder::default_ttl) in
/// code wins over it. A value that is not a finite, non-negative number fails
/// every lookup that would use it (and
/// [`RegistryBuilder::try_build`](crate::RegistryBuilder::try_build)) with
/// [`Error::InvalidSetting`] naming the variable.
///
/// # Examples
///
/// ```
/// assert_eq!(connections_core::DEFAULT_TTL_ENV, "CONNECTIONS_DEFAULT_TTL");
/// ```
pub const DEFAULT_TTL_ENV: &str = "CONNECTIONS_DEFAULT_TTL";

/// The default ttl named by [`DEFAULT_TTL_ENV`], if it is set.
pub(crate) fn default_ttl_from_env() -> Result<Option<Duration>> {
    match std::env::var_os(DEFAULT_TTL_ENV) {
        None => Ok(None),
        Some(value) => parse_ttl_seconds(&value.to_string_lossy()).map(Some),
    }
}

/// Seconds as a `Duration`: finite, non-negative, whole or fractional.
fn parse_ttl_seconds(value: &str) -> Result<Duration> {
    const EXPECTED: &str = "write a number of seconds, zero or more, e.g. `CONNECTIONS_DEFAULT_TTL=300` or `CONNECTIONS_DEFAULT_TTL=0.5` (0 caches nothing), or unset it for no default ttl";
    let invalid = |problem| Error::InvalidSetting {
        var: DEFAULT_TTL_ENV,
        value: value.to_owned(),
        problem,
        expected: EXPECTED,
    };
    let seconds: f64 = value.trim().parse().map_err(|_| invalid("not a number"))?;
    seconds_to_duration(seconds).map_err(invalid)
}

/// A number of seconds as a `Duration`, or what is wrong with it: NaN,
/// negative, or too large (infinity included). See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use connections_core::author::seconds_to_duration;
///
/// assert_eq!(seconds_to_duration(1.5), Ok(Duration::from_millis(1500)));
/// assert_eq!(seconds_to_duration(-1.0), Err("negative"));
/// ```
pub fn seconds_to_duration(seconds: f64) -> std::result::Result<Duration, &'static str> {
    if seconds.is_nan() {
        return Err("not a number");
    }
    if seconds < 0.0 {
        return Err("negative");
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "too large to be a duration")
}

/// One place secrets are read from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// A `.toml` file (skipped if missing) or a secrets directory (an error if missing).
    Path(PathBuf),
    /// TOML text given in code; `label` names it in errors.
    Inline { label: PathBuf, text: String },
}

/// Streamlit's default secrets files, in order: global, then project.
pub(crate) fn default_paths() -> Vec<PathBuf> {
    let mut paths = Vec::with_capacity(2);
    if let Some(home) = std::env::home_dir() {
        paths.push(home.join(".streamlit").join("secrets.toml"));
    }
    paths.push(PathBuf::from(".streamlit").join("secrets.toml"));
    paths
}

/// The default paths, or those named by [`SECRETS_PATH_ENV`] when it is set.
pub(crate) fn paths_from_env_or_default() -> Vec<PathBuf> {
    match std::env::var_os(SECRETS_PATH_ENV) {
        Some(v) if !v.is_empty() => std::env::split_paths(&v).collect(),
        _ => default_paths(),
    }
}

/// All secrets, merged from every file and directory found, as Streamlit's `st.secrets`.
///
/// Later files merge into earlier ones key by key: a `[connections.db]` table
/// in the project file adds to and overrides keys of the same table in the
/// global file, instead of hiding it whole as Streamlit's shallow merge does.
///
/// `Debug` lists the files and top-level keys, never values.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
///
/// let registry = Registry::builder()
///     .secrets_toml("global", "[api]\nkey = 'k1'\nregion = 'eu'")
///     .secrets_toml("project", "[api]\nkey = 'k2'")
///     .build();
/// let secrets = registry.secrets().unwrap();
/// assert_eq!(secrets.get::<String>("api.key").unwrap(), "k2");
/// assert_eq!(secrets.get::<String>("api.region").unwrap(), "eu"); // kept: merged key by key
/// assert_eq!(secrets.get_opt::<String>("api.token").unwrap(), None);
/// ```
#[derive(Clone, Default)]
pub struct Secrets {
    root: Table,
    /// Dotted path -> the file that last wrote it (tables included).
    origins: HashMap<String, PathBuf>,
    files: Vec<PathBuf>,
    searched: Vec<PathBuf>,
    /// What loading found suspicious: loose file permissions, ignored variables.
    diagnostics: Vec<Diagnostic>,
}

impl Secrets {
    /// Reads `path` (dotted: `"api.key"`) as a `T`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingKey`] if absent, [`Error::InvalidValue`] if not a `T`;
    /// both name the key and the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "token = 'abc'").build();
    /// assert_eq!(registry.secrets().unwrap().get::<String>("token").unwrap(), "abc");
    /// assert!(registry.secrets().unwrap().get::<String>("missing").is_err());
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_opt(path)?.ok_or_else(|| Error::MissingKey {
            key: path.to_owned(),
            also_missing: Vec::new(),
            table: "the secrets".to_owned(),
            location: match self.files.last() {
                Some(f) => format!("add it to {}", f.display()),
                None => format!(
                    "no secrets file was found (searched {})",
                    self.searched
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        })
    }

    /// Reads `path` as a `T`, or `None` if it is absent. Never fails for want of
    /// a secrets file (Streamlit issue 8559).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] if present but not a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
    /// assert_eq!(registry.secrets().unwrap().get_opt::<String>("api.key").unwrap(), None);
    /// ```
    pub fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        let Some(value) = find(&self.root, path) else {
            return Ok(None);
        };
        convert(value, &self.root)
            .map(Some)
            .map_err(|problem| Error::InvalidValue {
                key: path.to_owned(),
                table: "the secrets".to_owned(),
                origin: self
                    .origin_of(path)
                    .map_or_else(|| "secrets".to_owned(), |p| p.display().to_string()),
                problem,
            })
    }

    /// Whether `path` (dotted) is present.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "[a]\nb = 1").build();
    /// assert!(registry.secrets().unwrap().contains("a.b"));
    /// ```
    pub fn contains(&self, path: &str) -> bool {
        find(&self.root, path).is_some()
    }

    /// The names of every `[connections.<name>]` section.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("s", "[connections.a]\n[connections.b]").build();
    /// assert_eq!(registry.secrets().unwrap().connection_names(), ["a", "b"]);
    /// ```
    pub fn connection_names(&self) -> Vec<&str> {
        self.connections()
            .map(|t| t.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The files (and secrets directories) that were found and read, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("inline", "").build();
    /// assert_eq!(registry.secrets().unwrap().files(), [std::path::Path::new("inline")]);
    /// ```
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every path that was searched, found or not.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_paths(["/nonexistent/secrets.toml"]).build();
    /// let secrets = registry.secrets().unwrap();
    /// assert!(secrets.files().is_empty());
    /// assert_eq!(secrets.searched(), [std::path::Path::new("/nonexistent/secrets.toml")]);
    /// ```
    pub fn searched(&self) -> &[PathBuf] {
        &self.searched
    }

    /// The whole merged secrets as a TOML table.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder().secrets_toml("s", "x = 1").build();
    /// assert_eq!(registry.secrets().unwrap().as_table()["x"].as_integer(), Some(1));
    /// ```
    pub fn as_table(&self) -> &Table {
        &self.root
    }

    fn connections(&self) -> Option<&Table> {
        self.root.get("connections").and_then(Value::as_table)
    }

    pub(crate) fn section(&self, name: &str) -> Option<&Table> {
        self.connections()?.get(name)?.as_table()
    }

    pub(crate) fn origin_of(&self, path: &str) -> Option<&Path> {
        self.origins.get(path).map(PathBuf::as_path)
    }

    /// The section-level origin lookup for a key of `[connections.<name>]`.
    pub(crate) fn key_origin(&self, name: &str, key: &str) -> Option<&Path> {
        self.origin_of(&format!("connections.{name}.{key}"))
    }

    pub(crate) fn info_for(&self, name: &str) -> SourceInfo {
        let section_file = self.origin_of(&format!("connections.{name}")).map(Path::to_path_buf);
        SourceInfo {
            hint: if section_file.is_none() {
                self.section_hint(name)
            } else {
                None
            },
            section_file,
            files: self.files.clone(),
            searched: self.searched.clone(),
        }
    }

    /// Whether any file or directory was found.
    pub(crate) fn found_any(&self) -> bool {
        !self.files.is_empty()
    }

    /// What loading found suspicious: loose file permissions, ignored
    /// `CONNECTIONS__*` variables.
    pub(crate) fn load_diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The names under a singular `[connection]` table, where `[connections]` was meant.
    pub(crate) fn singular_sections(&self) -> Vec<&str> {
        self.root
            .get("connection")
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .filter(|(_, v)| v.is_table())
                    .map(|(k, _)| k.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The top-level string and number secrets as environment variables, in
    /// key order: what Streamlit exports to its process environment, for a
    /// child process (`Command::envs`, or `connections exec -- CMD`).
    ///
    /// Strings are exported as they are, integers and floats as text;
    /// booleans, dates, arrays and tables are not, nor a key or value no
    /// environment can hold (empty, or with `=` or NUL in a key, NUL in a value).
    ///
    /// This crate never sets its own process's environment: `set_var` is
    /// unsafe while other threads may read it.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = connections_core::Registry::builder()
    ///     .secrets_toml("secrets.toml", "AWS_ACCESS_KEY_ID = 'AKIA-example'\nRETRIES = 3\nDEBUG = true\n[connections.db]\nurl = 'sqlite::memory:'")
    ///     .build();
    /// let vars = registry.secrets().unwrap().env_vars();
    /// assert_eq!(vars, [("AWS_ACCESS_KEY_ID".to_owned(), "AKIA-example".to_owned()), ("RETRIES".to_owned(), "3".to_owned())]);
    /// let status = std::process::Command::new("sh")
    ///     .args(["-c", "test \"$AWS_ACCESS_KEY_ID\" = AKIA-example"])
    ///     .envs(vars)
    ///     .status()
    ///     .unwrap();
    /// assert!(status.success());
    /// ```
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.root
            .iter()
            .filter(|(key, _)| !key.is_empty() && !key.contains(['=', '\0']))
            .filter_map(|(key, value)| {
                let text = match value {
                    Value::String(s) if !s.contains('\0') => s.clone(),
                    Value::Integer(_) | Value::Float(_) => value.to_string(),
                    _ => return None,
                };
                Some((key.clone(), text))
            })
            .collect()
    }

    /// A likely mistake behind a missing `[connections.<name>]`: a singular
    /// `[connection.<name>]`, a top-level `[<name>]`, or a near-miss name.
    pub(crate) fn section_hint(&self, name: &str) -> Option<String> {
        if let Some(t) = self.root.get("connection").and_then(Value::as_table)
            && t.contains_key(name)
        {
            return Some(format!(
                "found a singular [connection.{name}] table; rename it to [connections.{name}]"
            ));
        }
        if self.root.get(name).is_some_and(Value::is_table) {
            return Some(format!(
                "found a top-level [{name}] table; rename it to [connections.{name}]"
            ));
        }
        crate::error::nearest(name, self.connection_names()).map(|n| format!("did you mean [connections.{n}]?"))
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("files", &self.files)
            .field("keys", &self.root.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads and merges `sources`, in order, then the environment overrides.
pub(crate) fn load(sources: &[Source], environment: bool) -> Result<Secrets> {
    let mut secrets = load_sources(sources)?;
    if environment {
        secrets.apply_environment(std::env::vars_os());
    }
    Ok(secrets)
}

impl Secrets {
    /// Lays `CONNECTIONS__<NAME>__<KEY>` variables over the merged files.
    fn apply_environment(&mut self, vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>) {
        let mut applied: Vec<(String, String)> = Vec::new();
        for (var, value) in vars {
            let Some(var) = var.to_str() else { continue };
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<&str> = rest.split("__").collect();
            if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
                self.ignore_variable(
                    var,
                    format!("ignoring `{var}`: write it as {ENV_PREFIX}<NAME>__<KEY>=value"),
                );
                continue;
            }
            let Some(value) = value.to_str() else {
                self.ignore_variable(var, format!("ignoring `{var}`: its value is not valid UTF-8"));
                continue;
            };
            applied.push((var.to_owned(), value.to_owned()));
        }
        // Sorted, so the outcome does not depend on the environment's order.
        applied.sort();
        for (var, value) in &applied {
            self.set_from_env(var, value);
        }
        if !applied.is_empty() {
            self.files
                .push(PathBuf::from(format!("the environment ({ENV_PREFIX}*)")));
        }
    }

    /// Warns that `var` is ignored, and keeps the warning for [`Secrets::diagnostics`].
    fn ignore_variable(&mut self, var: &str, message: String) {
        tracing::warn!(variable = var, "{message}");
        self.diagnostics
            .push(Diagnostic::warning(DiagnosticKind::IgnoredVariable, message).origin(format!("{ENV_ORIGIN}{var}")));
    }

    fn set_from_env(&mut self, var: &str, value: &str) {
        let origin = PathBuf::from(format!("{ENV_ORIGIN}{var}"));
        let parts = var[ENV_PREFIX.len()..].split("__");
        let mut table = self
            .root
            .entry("connections")
            .or_insert_with(|| Value::Table(Table::new()));
        let mut path = String::from("connections");
        let mut parts = parts.peekable();
        while let Some(part) = parts.next() {
            let Value::Table(current) = table else {
                let message = format!("ignoring `{var}`: `{path}` is not a table in the secrets");
                self.ignore_variable(var, message);
                return;
            };
            // An existing key of any case, else the lowercased part.
            let key = current
                .keys()
                .find(|k| k.eq_ignore_ascii_case(part))
                .cloned()
                .unwrap_or_else(|| part.to_ascii_lowercase());
            path = format!("{path}.{key}");
            if parts.peek().is_none() {
                self.origins.insert(path, origin);
                current.insert(key, Value::String(value.to_owned()));
                return;
            }
            // A table a file defined stays that file's: "add `key = ...` under
            // [connections.db] in secrets.toml" must not name this variable.
            self.origins.entry(path.clone()).or_insert_with(|| origin.clone());
            table = current.entry(key).or_insert_with(|| Value::Table(Table::new()));
        }
    }
}

fn load_sources(sources: &[Source]) -> Result<Secrets> {
    let mut secrets = Secrets::default();
    for source in sources {
        match source {
            Source::Inline { label, text } => {
                secrets.searched.push(label.clone());
                let table = parse_toml(label, text)?;
                secrets.merge(table, label);
            }
            Source::Path(path) => {
                secrets.searched.push(path.clone());
                if path.is_dir() {
                    let table = read_dir_secrets(path)?;
                    secrets.merge(table, path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    match fs::read_to_string(path) {
                        // An empty file counts as found, as in Streamlit.
                        Ok(text) => {
                            secrets.diagnostics.extend(readable_by_others(path));
                            secrets.diagnostics.extend(mounted_alone(path));
                            let table = parse_toml(path, &text)?;
                            secrets.merge(table, path);
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(read_error(path, e)),
                    }
                } else {
                    return Err(Error::InvalidSecretsPath {
                        path: path.clone(),
                        problem: "is neither a `.toml` file nor an existing directory; give a path ending in `.toml`, or create the directory"
                            .to_owned(),
                    });
                }
            }
        }
    }
    Ok(secrets)
}

impl Secrets {
    fn merge(&mut self, table: Table, file: &Path) {
        self.files.push(file.to_path_buf());
        merge_into(&mut self.root, table, "", file, &mut self.origins);
    }
}

/// A warning when a secrets file is readable by its group or by others;
/// logged once per file per process, returned on every load.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<Diagnostic> {
    use std::os::unix::fs::PermissionsExt;

    let meta = fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o777;
    // The group and other bits, as `chmod` spells them.
    #[allow(clippy::verbose_bit_mask)]
    if mode & 0o077 == 0 {
        return None;
    }
    let message = format!(
        "secrets file {} is readable by group or others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    );
    Some(warn_once(path, DiagnosticKind::Permissions, message))
}

/// A warning of `kind` about the secrets file `path`: logged the first time
/// this process finds it, returned as data on every load (the doctor and
/// `diagnostics()` see it each time).
#[cfg_attr(not(unix), allow(dead_code))]
fn warn_once(path: &Path, kind: DiagnosticKind, message: String) -> Diagnostic {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    static WARNED: Mutex<BTreeSet<(PathBuf, &'static str)>> = Mutex::new(BTreeSet::new());
    let first_time = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert((path.to_path_buf(), kind.as_str()));
    if first_time {
        tracing::warn!(file = %path.display(), kind = kind.as_str(), "{message}");
    }
    Diagnostic::warning(kind, message).origin(path)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<Diagnostic> {
    None
}

/// A warning when a secrets file is a mount point of its own, as a
/// Kubernetes `subPath` mount (or a single-file `docker run -v`) makes it:
/// the kubelet never updates such a file when its Secret changes, so no
/// reload can see a new value. Logged once per file per process.
#[cfg(target_os = "linux")]
fn mounted_alone(path: &Path) -> Option<Diagnostic> {
    let canonical = fs::canonicalize(path).ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    if !canonical.is_file() || !is_mount_point(&mountinfo, &canonical) {
        return None;
    }
    let message = format!(
        "secrets file {} is a mount of its own (a Kubernetes `subPath` mount, or a single file given to `docker run -v`): it is never updated when its source changes, so a reload cannot see new values; mount the Secret's whole folder and name the file inside it",
        path.display()
    );
    Some(warn_once(path, DiagnosticKind::FrozenMount, message))
}

#[cfg(not(target_os = "linux"))]
fn mounted_alone(_path: &Path) -> Option<Diagnostic> {
    None
}

/// Whether `path` is a mount point in `mountinfo` (`/proc/self/mountinfo`:
/// the fifth field of each line, with spaces and the like written `\040`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn is_mount_point(mountinfo: &str, path: &Path) -> bool {
    let unescape = |field: &str| -> Vec<u8> {
        let bytes = field.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let octal = bytes
                .get(i + 1..i + 4)
                .filter(|digits| digits.iter().all(|d| (b'0'..=b'7').contains(d)));
            match (bytes[i], octal) {
                (b'\\', Some(digits)) => {
                    out.push(
                        digits
                            .iter()
                            .fold(0_u8, |n, d| n.wrapping_mul(8).wrapping_add(d - b'0')),
                    );
                    i += 4;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        out
    };
    let wanted = path.as_os_str().as_encoded_bytes();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| unescape(point) == wanted)
}

/// Merges `src` into `dst` key by key: tables merge recursively, anything else replaces.
fn merge_into(dst: &mut Table, src: Table, prefix: &str, file: &Path, origins: &mut HashMap<String, PathBuf>) {
    for (key, value) in src {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        origins.insert(path.clone(), file.to_path_buf());
        match (dst.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => {
                merge_into(existing, incoming, &path, file, origins);
            }
            (_, value) => {
                record_origins(&value, &path, file, origins);
                dst.insert(key, value);
            }
        }
    }
}

fn record_origins(value: &Value, path: &str, file: &Path, origins: &mut HashMap<String, PathBuf>) {
    if let Value::Table(t) = value {
        for (k, v) in t {
            let p = format!("{path}.{k}");
            origins.insert(p.clone(), file.to_path_buf());
            record_origins(v, &p, file, origins);
        }
    }
}

fn read_error(path: &Path, e: io::Error) -> Error {
    Error::ReadSecrets {
        path: path.to_path_buf(),
        source: Arc::new(e),
    }
}

/// A secrets directory, as Kubernetes mounts them: each subfolder is a table
/// and each file in it a key whose value is the file's trimmed content; a
/// subfolder holding a single file collapses to that value. Deeper folders
/// nest further (an extension: `connections/db/password` is
/// `[connections.db] password`). Hidden entries (`.x`, `..data`) are skipped.
fn read_dir_secrets(dir: &Path) -> Result<Table> {
    let mut root = Table::new();
    for (name, path) in sorted_entries(dir)? {
        if path.is_dir() {
            let table = read_dir_tree(&path)?;
            let single_file = sorted_entries(&path)?;
            let value = match (single_file.as_slice(), table.len()) {
                ([(_, only)], 1) if only.is_file() => {
                    table.into_iter().next().map_or(Value::Table(Table::new()), |(_, v)| v)
                }
                _ => Value::Table(table),
            };
            root.insert(name, value);
        }
    }
    Ok(root)
}

fn read_dir_tree(dir: &Path) -> Result<Table> {
    let mut table = Table::new();
    for (name, path) in sorted_entries(dir)? {
        if path.is_dir() {
            table.insert(name, Value::Table(read_dir_tree(&path)?));
        } else {
            let text = fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
            table.insert(name, Value::String(text.trim().to_owned()));
        }
    }
    Ok(table)
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        entries.push((name, entry.path()));
    }
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::line_col;

    #[test]
    fn a_file_mounted_on_its_own_is_told_from_one_in_a_mounted_folder() {
        // A Kubernetes pod: the Secret's folder mounted, and one key mounted by `subPath`.
        let mountinfo = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
1480 1461 0:96 / /etc/connections rw,relatime - tmpfs tmpfs ro
1481 1461 8:1 /var/lib/kubelet/pods/p/volumes/kubernetes.io~secret/app/..2026_12_03/secrets.toml /app/.streamlit/secrets.toml ro,relatime - ext4 /dev/sda1 rw
1482 1461 8:1 /x /srv/my\\040app/secrets.toml ro - ext4 /dev/sda1 rw
";
        assert!(is_mount_point(mountinfo, Path::new("/app/.streamlit/secrets.toml")));
        assert!(
            is_mount_point(mountinfo, Path::new("/srv/my app/secrets.toml")),
            "an escaped space"
        );
        assert!(
            !is_mount_point(mountinfo, Path::new("/etc/connections/secrets.toml")),
            "inside a mounted folder"
        );
        assert!(!is_mount_point(mountinfo, Path::new("/app/.streamlit")));
        assert!(!is_mount_point("garbage\n\n", Path::new("/")));
    }

    #[test]
    fn a_file_on_the_root_file_system_is_not_mounted_alone() {
        let dir = std::env::temp_dir().join(format!("connections-mount-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secrets.toml");
        fs::write(&file, "").unwrap();
        assert!(mounted_alone(&file).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ttl_seconds_parse_or_say_what_is_wrong() {
        assert_eq!(parse_ttl_seconds("300").unwrap(), Duration::from_mins(5));
        assert_eq!(parse_ttl_seconds(" 0.5 ").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_ttl_seconds("0").unwrap(), Duration::ZERO);
        for (value, problem) in [
            ("-1", "negative"),
            ("NaN", "not a number"),
            ("ten", "not a number"),
            ("", "not a number"),
            ("inf", "too large to be a duration"),
            ("1e300", "too large to be a duration"),
        ] {
            let err = parse_ttl_seconds(value).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidSetting { var: DEFAULT_TTL_ENV, problem: p, .. } if *p == problem),
                "{value}: {err}"
            );
            assert!(err.to_string().contains("CONNECTIONS_DEFAULT_TTL=300"), "{err}");
        }
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a = 1\nb = ", 10), (2, 5));
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn malformed_toml_names_line_without_quoting_text() {
        let err = parse_toml(Path::new("s.toml"), "ok = 1\npassword = \"s3cr3t-value\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("s.toml is not valid TOML at line 2, column"), "{msg}");
        assert!(!msg.contains("s3cr3t-value"), "{msg}");
    }
}
