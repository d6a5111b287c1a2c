//! The one error type of the crate.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A boxed error, the error type of a connection's `_connect` once boxed.
///
/// Any error type converts into it with `?` or `.into()`.
///
/// # Examples
///
/// ```
/// use connections_core::BoxError;
///
/// fn parse(s: &str) -> Result<u16, BoxError> {
///     Ok(s.parse::<u16>()?)
/// }
/// assert!(parse("80").is_ok());
/// assert!(parse("eighty").is_err());
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `Result` with this crate's [`Error`].
///
/// # Examples
///
/// ```
/// fn check() -> connections_core::Result<()> {
///     Ok(())
/// }
/// assert!(check().is_ok());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when looking up, configuring or connecting a connection.
///
/// Each message says what was asked, what was found and what to write, so
/// errors are safe to log. The crate's own messages quote keys, table names,
/// file paths and type names, never a configuration *value* (the one value
/// quoted is a `type` key's, in [`Error::UnknownType`]: it names a connection
/// type, and the message must show what was asked for). A cause from outside,
/// a driver's message in [`Error::ConnectFailed`] or [`Error::Operation`], is shown
/// with the connection's secrets (passwords, tokens, keys, URL passwords)
/// replaced by `***`, so it still names the host or database it is about.
///
/// `Error` is `Clone`, so that every thread waiting on one failed connect can be
/// handed the same failure.
///
/// # Examples
///
/// ```
/// use connections_core::{Error, Registry};
///
/// let registry = Registry::builder().secrets_toml("inline", "[connections.db]\n").build();
/// let err = registry.connection_dyn("db").unwrap_err();
/// assert!(matches!(err, Error::NoTypeKey { .. }));
/// // The message shows the line to add and where to add it.
/// assert!(err.to_string().contains("add a line `type = "));
/// ```
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connection type was asked for by a name no registered type has.
    #[error(
        "unknown connection type `{requested}`{}{}; registered types: {}; write one of these as `type = \"...\"` or register the type with `Registry::register::<T>()`",
        nearest_hint(nearest.as_deref()),
        asked_by_clause(asked_by.as_deref()),
        list_or_none(registered)
    )]
    UnknownType {
        /// The type asked for.
        requested: String,
        /// The short names and full paths that are registered.
        registered: Vec<String>,
        /// The registered name nearest to `requested`, if one is close.
        nearest: Option<String>,
        /// What asked for it: the `type` key of a `[connections.<name>]`
        /// section and its file, or a lookup's `with_type` option.
        asked_by: Option<String>,
    },

    /// A short type name is claimed by more than one registered type.
    #[error(
        "connection type `{requested}`{} is ambiguous: it is the `type_name` of {}; write the full path instead, e.g. `type = \"{}\"`",
        asked_by_clause(asked_by.as_deref()),
        list_or_none(candidates),
        candidates.first().map_or("", String::as_str)
    )]
    AmbiguousType {
        /// The short name asked for.
        requested: String,
        /// The full paths of the types that claim it.
        candidates: Vec<String>,
        /// What asked for it, as in [`Error::UnknownType`].
        asked_by: Option<String>,
    },

    /// A section exists but has no `type` key, and no type was given in code.
    #[error(
        "cannot tell the type of connection `{name}`: [connections.{name}] in {} has no `type` key; {}, or pass the type in code (`connection::<T>(\"{name}\")` or the `with_type` option)",
        file.display(),
        add_type_line(file, name, suggested.as_ref(), registered)
    )]
    NoTypeKey {
        /// The connection name.
        name: String,
        /// The file that holds the section.
        file: PathBuf,
        /// The type the section's keys point to (`url` or `dialect`: `sql`),
        /// and the key that points to it.
        suggested: Option<(String, String)>,
        /// The registered type names, offered when the keys point to none.
        registered: Vec<String>,
    },

    /// A first-party connection type was asked for, but the feature that
    /// builds it is not enabled in this build.
    #[error(
        "connection type `{requested}` needs the `{feature}` feature of the `connections` crate, which this build does not enable{}; add it in Cargo.toml: connections = {{ version = \"{}\", features = [\"{feature}\"] }}",
        asked_by_clause(asked_by.as_deref()),
        env!("CARGO_PKG_VERSION")
    )]
    FeatureDisabled {
        /// The type as written (`sql`).
        requested: String,
        /// The feature of the `connections` crate that builds it.
        feature: &'static str,
        /// What asked for it, as in [`Error::UnknownType`].
        asked_by: Option<String>,
    },

    /// The secrets have no `[connections.<name>]` section, and the type could not be found elsewhere.
    #[error(
        "no [connections.{name}] section in the secrets ({}); sections that exist: {}{}; add a [connections.{name}] table with a `type = \"...\"` line, or pass the type in code",
        list_paths(files),
        list_or_none(existing),
        hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    NoSection {
        /// The connection name.
        name: String,
        /// The connection sections that do exist.
        existing: Vec<String>,
        /// A likely mistake, e.g. a singular `[connection.<name>]` table.
        hint: Option<String>,
        /// The secrets files that were read.
        files: Vec<PathBuf>,
    },

    /// No secrets file or directory was found at all.
    #[error(
        "no secrets found for connection `{name}`: none of these exist: {}; create one of them with a [connections.{name}] table (e.g. `type = \"...\"`), set CONNECTIONS_SECRETS_PATH, or pass the type in code",
        list_paths(searched)
    )]
    NoSecrets {
        /// The connection name.
        name: String,
        /// Every path searched, in order.
        searched: Vec<PathBuf>,
    },

    /// A secrets file is not valid TOML.
    #[error(
        "{} is not valid TOML{}: {message}; fix it there (the file's contents are not shown because they may be secret)",
        path.display(),
        position(*line, *column)
    )]
    MalformedSecrets {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when the parser gives a position (it
        /// gives none for some limits, e.g. a key nested past its depth limit).
        line: Option<usize>,
        /// 1-based column of the error, when the parser gives a position.
        column: Option<usize>,
        /// The parser's message, without any quoted file contents.
        message: String,
    },

    /// A configured secrets path is neither a `.toml` file nor an existing directory.
    #[error("secrets path {} {problem}", path.display())]
    InvalidSecretsPath {
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it and what to write instead.
        problem: String,
    },

    /// A secrets file or directory exists but could not be read.
    #[error("cannot read secrets from {}: {source}; check that it exists and is readable", path.display())]
    ReadSecrets {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// A configuration key that was asked for is absent, and with it any
    /// others that [`Config::require`](crate::Config::require) found missing.
    #[error("missing {} in {table}: {location}", key_list(key, also_missing))]
    MissingKey {
        /// The key, dotted for nested tables.
        key: String,
        /// The other required keys that are missing too, so one error names
        /// them all; empty when only `key` is.
        also_missing: Vec<String>,
        /// The table it was looked for in, e.g. `[connections.db]`.
        table: String,
        /// Where the table came from and what to add where.
        location: String,
    },

    /// A configuration value has the wrong type or an invalid value.
    #[error("key `{key}` in {table} (from {origin}): {problem}")]
    InvalidValue {
        /// The key, dotted for nested tables.
        key: String,
        /// The table it was read from, e.g. `[connections.db]`.
        table: String,
        /// The file (or "call-site kwargs") the value came from.
        origin: String,
        /// What was found and what was expected; never the value itself.
        problem: String,
    },

    /// A connection exists under the name but is not of the type asked for.
    #[error(
        "connection `{name}` is a `{found}`, not the `{requested}` that was asked for; ask for `{found}` or use another name"
    )]
    TypeMismatch {
        /// The connection name.
        name: String,
        /// The type asked for (full path).
        requested: String,
        /// The type it resolved to (full path).
        found: String,
    },

    /// An `env:VAR` name refers to an unset (or non-UTF-8) environment variable.
    #[error(
        "connection name `env:{var}` refers to the environment variable `{var}`, which is {problem}; set it to the connection's name, e.g. `export {var}=my_db`"
    )]
    EnvVar {
        /// The environment variable.
        var: String,
        /// "not set" or "not valid UTF-8".
        problem: &'static str,
    },

    /// A registry setting read from the environment has an unusable value.
    #[error("environment variable `{var}` is {value:?}: {problem}; {expected}")]
    InvalidSetting {
        /// The environment variable, e.g. `CONNECTIONS_DEFAULT_TTL`.
        var: &'static str,
        /// Its value as found (a setting, never a secret).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
        /// What to write instead.
        expected: &'static str,
    },

    /// A secrets file that was read before is gone; the secrets read from it are kept.
    #[error(
        "secrets file {} was read before and is gone now; its last good secrets are kept until it is back (to drop them, leave the file empty instead of deleting it)",
        path.display()
    )]
    SecretsFileRemoved {
        /// The file.
        path: PathBuf,
    },

    /// [`Registry::init_global`](crate::Registry::init_global) was called
    /// when the global registry already existed.
    #[error(
        "the global registry is already in use: a lookup, `Registry::global()` or an earlier `Registry::init_global` set it up first, and it is left as it is; call `Registry::init_global` once, at the start of `main`, before any lookup"
    )]
    GlobalInUse,

    /// A session-scoped connection type was looked up without a scope.
    #[error(
        "connection `{name}` is a `{type_path}`, which is session-scoped (`#[connection(scope = \"session\")]`): each scope has its own, so look it up through one, e.g. `registry.scope(session_id).connection::<T>(\"{name}\")`"
    )]
    SessionScoped {
        /// The connection name.
        name: String,
        /// The type's full path.
        type_path: &'static str,
    },

    /// A connection name is unusable.
    #[error("invalid connection name {name:?}: {problem}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong and what to write.
        problem: &'static str,
    },

    /// A lookup option has an invalid value.
    #[error("invalid lookup option `{option}`: {problem}")]
    InvalidOption {
        /// The option, e.g. `max_entries`.
        option: &'static str,
        /// What is wrong and what to write.
        problem: &'static str,
    },

    /// The connection's `_connect` returned an error.
    ///
    /// The message shows the cause and its own causes on one line, with the
    /// connection's configuration values replaced by `***` (a driver's message
    /// may quote a password). The [`source`](std::error::Error::source) shows
    /// the same redacted text, so printing the error chain shows no value either;
    /// [`Error::connect_cause`] gives the error `_connect` returned, to downcast.
    #[error(
        "connecting `{name}` ({type_path}{}) failed: {message}{}",
        section.as_ref().map(|s| format!(", configured from {s}")).unwrap_or_default(),
        hint.as_ref().map(|h| format!(" (note: {h})")).unwrap_or_default()
    )]
    ConnectFailed {
        /// The connection name.
        name: String,
        /// The connection type's full path.
        type_path: &'static str,
        /// Where the connection is configured: `[connections.<name>] in <file>`,
        /// when a secrets section configures it.
        section: Option<String>,
        /// The cause chain, `: `-separated, redacted.
        message: String,
        /// A likely mistake when the connection has no section: the nearest
        /// section name, or a singular `[connection.<name>]` table.
        hint: Option<String>,
        /// The error `_connect` returned, behind its redacted text
        /// ([`Error::connect_cause`] reaches it).
        #[source]
        source: Arc<dyn StdError + Send + Sync + 'static>,
    },

    /// A connect did not finish within the time a caller was willing to wait.
    ///
    /// The connect itself goes on, as the generation's one attempt; a later
    /// call gets its outcome instead of starting another.
    #[error(
        "connecting `{name}` ({type_path}) did not finish within {timeout:?}; it goes on in the background and a later call gets its outcome: check that the server is reachable, or wait longer"
    )]
    ConnectTimeout {
        /// The connection name.
        name: String,
        /// The connection type's full path.
        type_path: &'static str,
        /// How long the caller waited.
        timeout: std::time::Duration,
    },

    /// A blocking call was asked to connect an async (`#[connection(async)]`)
    /// connection, which only an `.await` can connect without blocking a thread.
    #[error(
        "connection `{name}` ({type_path}) connects asynchronously (`#[connection(async)]`), so {call} cannot connect it without blocking; write {instead}"
    )]
    AsyncConnection {
        /// The connection name.
        name: String,
        /// The connection type's full path.
        type_path: &'static str,
        /// What was called, e.g. `connect()`.
        call: &'static str,
        /// What to write instead.
        instead: &'static str,
    },

    /// A connection's section does not fit its type's settings
    /// (`#[connection(settings = T)]`): every problem found before the
    /// connect, each naming its key, its table and where it came from.
    #[error(
        "the settings of connection `{name}` ({type_path}) do not fit: {}",
        problems.join("; ")
    )]
    InvalidSettings {
        /// The connection name.
        name: String,
        /// The connection type's full path.
        type_path: &'static str,
        /// Each problem: an unknown key the settings refuse, the missing
        /// keys, a value of the wrong kind or out of range.
        problems: Vec<String>,
    },

    /// A call on a connection (a query, a command, a request) failed, after
    /// any retries the connection type makes.
    ///
    /// `attempts` says how many were made. The cause's message is included
    /// with the connection's secrets replaced by `***`, so it still names
    /// the host or database it is about. The
    /// [`source`](std::error::Error::source) shows the same redacted text
    /// (so printing the error chain or `Debug` shows no value either);
    /// [`Error::operation_cause`] gives the cause itself, to downcast (a
    /// connection type may offer a typed accessor for its driver's error).
    #[error("{operation} on connection `{name}` failed after {attempts} attempt(s): {message}")]
    Operation {
        /// The connection name.
        name: String,
        /// What was called: `query`, `execute`, `get`, `request`...
        operation: &'static str,
        /// Attempts made, the failed one included.
        attempts: u32,
        /// The cause's message, redacted.
        message: String,
        /// The cause, behind its redacted text ([`Error::operation_cause`] reaches it).
        #[source]
        source: Arc<dyn StdError + Send + Sync + 'static>,
    },

    /// A call on a connection was refused before anything was sent: its
    /// arguments do not fit the call or the connection (a statement's
    /// parameters that do not match its placeholders, rows asked for from
    /// another database).
    #[error("{operation} on connection `{name}` was not sent: {problem}")]
    InvalidCall {
        /// The connection name.
        name: String,
        /// What was called: `query`, `execute`...
        operation: &'static str,
        /// What does not fit, and what to write instead.
        problem: String,
    },

    /// The connection's `_connect` panicked; the panic was caught and poisons nothing.
    #[error("connecting `{name}` ({type_path}) panicked: {message}; the next call tries again")]
    ConnectPanicked {
        /// The connection name.
        name: String,
        /// The connection type's full path.
        type_path: &'static str,
        /// The panic message, with any configuration value it quoted replaced by `***`.
        message: String,
    },
}

impl Error {
    /// A failed call's cause, behind an [`Error::Operation`]: to downcast
    /// to the driver's error type.
    ///
    /// Its text may quote configuration values, which this error's own
    /// `Display`, `Debug` and `source()` redact.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use connections_core::{Error, author::Redacted};
    ///
    /// let io = std::io::Error::from(std::io::ErrorKind::TimedOut);
    /// let err = Error::Operation {
    ///     name: "cache".to_owned(),
    ///     operation: "get",
    ///     attempts: 1,
    ///     message: io.to_string(),
    ///     source: Arc::new(Redacted::new(io.to_string(), io)),
    /// };
    /// let cause = err.operation_cause().and_then(|e| e.downcast_ref::<std::io::Error>());
    /// assert_eq!(cause.map(std::io::Error::kind), Some(std::io::ErrorKind::TimedOut));
    /// ```
    pub fn operation_cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match self {
            Error::Operation { source, .. } => source.downcast_ref::<Redacted>().map(|r| &*r.inner),
            _ => None,
        }
    }

    /// The error a connection's `_connect` returned, behind an
    /// [`Error::ConnectFailed`]: to downcast to the connection's own error type.
    ///
    /// Its text may quote configuration values, which this error's own
    /// `Display`, `Debug` and `source()` redact.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BaseConnection, Config, Error};
    ///
    /// let base = BaseConnection::<u32>::new("n", "t", "crate::T", Config::new("n", Default::default()));
    /// let err = base
    ///     .instance_with(|_| Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into()))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "connecting `n` (crate::T) failed: connection refused");
    /// let io = err.connect_cause().and_then(|e| e.downcast_ref::<std::io::Error>()).unwrap();
    /// assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect_cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match self {
            Error::ConnectFailed { source, .. } => source.downcast_ref::<Redacted>().map(|r| &*r.inner),
            _ => None,
        }
    }

    /// Wraps an error returned by a connection's `_connect`: its cause chain
    /// on one line, passed through `redact`, with the section it is
    /// configured from, and `hint` for a connection that has no section.
    ///
    /// An error that already is a [`Error`] (a missing config key, say) is
    /// returned unchanged, so its message reaches the user directly.
    pub(crate) fn connect_failed(
        name: &str,
        type_path: &'static str,
        err: BoxError,
        redact: impl Fn(&str) -> String,
        section: Option<String>,
        hint: Option<String>,
    ) -> Self {
        match err.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => {
                let message = redact(&cause_chain(&*other));
                Error::ConnectFailed {
                    name: name.to_owned(),
                    type_path,
                    section,
                    hint,
                    source: Arc::new(Redacted {
                        text: message.clone(),
                        inner: other,
                    }),
                    message,
                }
            }
        }
    }

    /// Names what asked for an unknown or ambiguous type; other errors are unchanged.
    pub(crate) fn type_asked_by(mut self, by: impl FnOnce() -> String) -> Self {
        if let Error::UnknownType { asked_by, .. }
        | Error::AmbiguousType { asked_by, .. }
        | Error::FeatureDisabled { asked_by, .. } = &mut self
        {
            *asked_by = Some(by());
        }
        self
    }
}

impl fmt::Debug for Error {
    /// The message first, as `Display` gives it, then the variant and its
    /// fields: `fn main() -> Result<(), Error>` (or `Box<dyn Error>`) prints
    /// this, so what to do is the first thing a user reads.
    ///
    /// ```text
    /// Error: missing key `username` in [connections.db]: add `username = ...` under [connections.db] in .streamlit/secrets.toml
    ///
    /// MissingKey { key: "username", also_missing: [], table: "[connections.db]", location: "..." }
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}\n\n")?;
        self.fmt_fields(f)
    }
}

/// `Variant { field: value, ... }`, as `#[derive(Debug)]` writes it.
macro_rules! fields {
    ($f:expr, $variant:literal $(, $field:ident)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut s = $f.debug_struct($variant);
        $(s.field(stringify!($field), $field);)*
        s.finish()
    }};
}

impl Error {
    /// The variant and its fields, as a derived `Debug` would show them.
    #[expect(clippy::too_many_lines, reason = "one arm per variant")]
    fn fmt_fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownType {
                requested,
                registered,
                nearest,
                asked_by,
            } => fields!(f, "UnknownType", requested, registered, nearest, asked_by),
            Error::AmbiguousType {
                requested,
                candidates,
                asked_by,
            } => fields!(f, "AmbiguousType", requested, candidates, asked_by),
            Error::NoTypeKey {
                name,
                file,
                suggested,
                registered,
            } => fields!(f, "NoTypeKey", name, file, suggested, registered),
            Error::FeatureDisabled {
                requested,
                feature,
                asked_by,
            } => fields!(f, "FeatureDisabled", requested, feature, asked_by),
            Error::NoSection {
                name,
                existing,
                hint,
                files,
            } => fields!(f, "NoSection", name, existing, hint, files),
            Error::NoSecrets { name, searched } => fields!(f, "NoSecrets", name, searched),
            Error::MalformedSecrets {
                path,
                line,
                column,
                message,
            } => fields!(f, "MalformedSecrets", path, line, column, message),
            Error::InvalidSecretsPath { path, problem } => fields!(f, "InvalidSecretsPath", path, problem),
            Error::ReadSecrets { path, source } => fields!(f, "ReadSecrets", path, source),
            Error::MissingKey {
                key,
                also_missing,
                table,
                location,
            } => fields!(f, "MissingKey", key, also_missing, table, location),
            Error::InvalidValue {
                key,
                table,
                origin,
                problem,
            } => fields!(f, "InvalidValue", key, table, origin, problem),
            Error::TypeMismatch { name, requested, found } => fields!(f, "TypeMismatch", name, requested, found),
            Error::EnvVar { var, problem } => fields!(f, "EnvVar", var, problem),
            Error::InvalidSetting {
                var,
                value,
                problem,
                expected,
            } => fields!(f, "InvalidSetting", var, value, problem, expected),
            Error::SecretsFileRemoved { path } => fields!(f, "SecretsFileRemoved", path),
            Error::GlobalInUse => fields!(f, "GlobalInUse"),
            Error::SessionScoped { name, type_path } => fields!(f, "SessionScoped", name, type_path),
            Error::InvalidName { name, problem } => fields!(f, "InvalidName", name, problem),
            Error::InvalidOption { option, problem } => fields!(f, "InvalidOption", option, problem),
            Error::ConnectFailed {
                name,
                type_path,
                section,
                message,
                hint,
                source,
            } => fields!(f, "ConnectFailed", name, type_path, section, message, hint, source),
            Error::ConnectTimeout {
                name,
                type_path,
                timeout,
            } => fields!(f, "ConnectTimeout", name, type_path, timeout),
            Error::AsyncConnection {
                name,
                type_path,
                call,
                instead,
            } => fields!(f, "AsyncConnection", name, type_path, call, instead),
            Error::Operation {
                name,
                operation,
                attempts,
                message,
                source,
            } => fields!(f, "Operation", name, operation, attempts, message, source),
            Error::InvalidCall {
                name,
                operation,
                problem,
            } => fields!(f, "InvalidCall", name, operation, problem),
            Error::InvalidSettings {
                name,
                type_path,
                problems,
            } => fields!(f, "InvalidSettings", name, type_path, problems),
            Error::ConnectPanicked {
                name,
                type_path,
                message,
            } => fields!(f, "ConnectPanicked", name, type_path, message),
        }
    }
}

/// An error and its sources on one line, `: `-separated. A source whose text
/// the line already holds (a wrapper that prints its cause, at the end or
/// before a note) is not repeated.
pub(crate) fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// `key `host`` or `keys `host`, `username``.
fn key_list(key: &str, also: &[String]) -> String {
    if also.is_empty() {
        return format!("key `{key}`");
    }
    let all: Vec<&str> = std::iter::once(key).chain(also.iter().map(String::as_str)).collect();
    format!("keys {}", list_or_none(&all))
}

fn asked_by_clause(asked_by: Option<&str>) -> String {
    asked_by.map(|a| format!(", asked for by {a}")).unwrap_or_default()
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        _ => " (the parser gave no position)".to_owned(),
    }
}

/// Where to write the missing `type` key: in the file, or in the environment
/// when that is where the section is defined.
/// Suggests the type its keys point to, else lists the registered ones.
fn add_type_line(
    file: &std::path::Path,
    name: &str,
    suggested: Option<&(String, String)>,
    registered: &[String],
) -> String {
    let example = suggested.map_or("...", |(type_name, _)| type_name.as_str());
    let line = match crate::origin::env_var_for(file, name, "type") {
        Some(var) => format!("set `{var}={example}` in the environment, where [connections.{name}] is defined"),
        None => format!(
            "add a line `type = \"{example}\"` under [connections.{name}] in {}",
            file.display()
        ),
    };
    match suggested {
        Some((type_name, key)) => format!("{line} (its `{key}` key is a `{type_name}` connection's)"),
        None if registered.is_empty() => format!(
            "{line}, but no connection type is registered: derive `Connection` on one, or enable a first-party type's feature of the `connections` crate (`sql` for `type = \"sql\"`)"
        ),
        None => format!(
            "{line}, naming one of the registered types: {}",
            list_or_none(registered)
        ),
    }
}

/// ` (did you mean `x`?)` for a near miss, else nothing: the tail of a
/// message about a name that matched nothing. See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::author::{nearest, nearest_hint};
///
/// let hint = nearest_hint(nearest("sslmdoe", ["sslmode", "sslrootcert"]).as_deref());
/// assert_eq!(hint, " (did you mean `sslmode`?)");
/// assert_eq!(nearest_hint(None), "");
/// ```
pub fn nearest_hint(nearest: Option<&str>) -> String {
    nearest.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default()
}

/// `` `a`, `b` `` (each item quoted), or `none`: a list of names in a message.
/// See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::author::list_or_none;
///
/// assert_eq!(list_or_none(&["disable", "require"]), "`disable`, `require`");
/// assert_eq!(list_or_none::<&str>(&[]), "none");
/// ```
pub fn list_or_none<S: fmt::Display>(items: &[S]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no files".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `asked`, if any is close enough to be a typo
/// (Jaro-Winkler similarity at least 0.8, case ignored): for "did you mean"
/// hints on names a connection type knows. See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::author::nearest;
///
/// assert_eq!(nearest("hots", ["host", "port"]).as_deref(), Some("host"));
/// assert_eq!(nearest("zzz", ["host", "port"]), None);
/// ```
pub fn nearest<'a>(asked: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&asked.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

/// An error kept as a source behind its redacted text: `Display` and `Debug`
/// show only that text, and it has no source of its own, so a printed error
/// chain never shows the configuration values the original quoted. The
/// original stays reachable through the accessor of the error that holds it
/// ([`Error::operation_cause`], [`Error::connect_cause`]).
///
/// A connection type puts a driver's error in an [`Error::Operation`]
/// behind one; see [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use connections_core::author::Redacted;
///
/// let io = std::io::Error::other("password hunter2 refused");
/// let redacted = Redacted::new("password *** refused".to_owned(), io);
/// assert_eq!(redacted.to_string(), "password *** refused");
/// assert!(!format!("{redacted:?}").contains("hunter2"));
/// assert!(redacted.source().is_none());
/// ```
pub struct Redacted {
    text: String,
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Redacted {
    /// `inner` behind `text`, its redacted message; see [`Redacted`].
    pub fn new(text: String, inner: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            text,
            inner: Box::new(inner),
        }
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Redacted").field(&self.text).finish()
    }
}

impl StdError for Redacted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_source_shows_no_value_in_display_debug_or_the_chain() {
        let inner = std::io::Error::other("password hunter2-sentinel refused");
        let message = "password *** refused".to_owned();
        let err = Error::Operation {
            name: "db".into(),
            operation: "query",
            attempts: 1,
            source: Arc::new(Redacted::new(message.clone(), inner)),
            message,
        };
        let mut shown = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
        let mut source = err.source();
        while let Some(cause) = source {
            shown.push(format!("{cause} {cause:?}"));
            source = cause.source();
        }
        assert_eq!(shown.len(), 4, "one source, redacted, with none of its own");
        for text in shown {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(
            err.operation_cause()
                .is_some_and(|cause| cause.to_string().contains("hunter2-sentinel")),
            "Error::operation_cause still reaches the original"
        );
    }
}
