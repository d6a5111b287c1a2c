//! Diagnostics as data: what is wrong or suspicious in the secrets, for
//! [`Registry::diagnostics`](crate::Registry::diagnostics) and the doctor.

use std::fmt;
use std::path::PathBuf;

use crate::error::Error;

/// How bad a [`Diagnostic`] is.
///
/// # Examples
///
/// ```
/// use connections_core::Severity;
///
/// assert!(Severity::Error > Severity::Warning);
/// assert_eq!(Severity::Warning.to_string(), "warning");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Suspicious, but the connection may still work: an ignored key, a
    /// near-miss key name, a file readable by others.
    Warning,
    /// The connection cannot work as configured: a malformed file, an unknown
    /// type, a missing required key, a value of the wrong type.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What a [`Diagnostic`] is about, for code that sorts or filters them.
///
/// # Examples
///
/// ```
/// use connections_core::DiagnosticKind;
///
/// assert_eq!(DiagnosticKind::NearMissKey.as_str(), "near-miss-key");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A secrets file is not valid TOML (with its line and column).
    Syntax,
    /// The secrets could not be read at all (an unreadable file, a bad path).
    Unreadable,
    /// No secrets file or directory was found.
    NoSecrets,
    /// A secrets file is readable by group or others.
    Permissions,
    /// A secrets file is a mount of its own (a Kubernetes `subPath` mount),
    /// which is never updated when its source changes.
    FrozenMount,
    /// A `CONNECTIONS__...` environment variable was ignored.
    IgnoredVariable,
    /// A singular `[connection.<name>]` table, where `[connections.<name>]` was meant.
    SingularTable,
    /// A section has no `type` key and its name names no type.
    NoType,
    /// A section's `type` names no registered type, or one whose feature is off.
    UnknownType,
    /// A section's `type` names another type than the one code looks it up as.
    TypeConflict,
    /// A key the connection type does not read, with no close known key.
    UnknownKey,
    /// A key the connection type does not read, close to one it does (`user` for `username`).
    NearMissKey,
    /// An option that is read but has no effect here (an SQLAlchemy engine option, a driver parameter).
    IgnoredOption,
    /// Required keys of the connection type are missing.
    MissingKeys,
    /// A key has a value of the wrong type or out of range, or a setting cannot be honoured.
    InvalidValue,
}

impl DiagnosticKind {
    /// The kind as it appears in JSON: `near-miss-key`, `missing-keys`...
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::Syntax => "syntax",
            DiagnosticKind::Unreadable => "unreadable",
            DiagnosticKind::NoSecrets => "no-secrets",
            DiagnosticKind::Permissions => "permissions",
            DiagnosticKind::FrozenMount => "frozen-mount",
            DiagnosticKind::IgnoredVariable => "ignored-variable",
            DiagnosticKind::SingularTable => "singular-table",
            DiagnosticKind::NoType => "no-type",
            DiagnosticKind::UnknownType => "unknown-type",
            DiagnosticKind::TypeConflict => "type-conflict",
            DiagnosticKind::UnknownKey => "unknown-key",
            DiagnosticKind::NearMissKey => "near-miss-key",
            DiagnosticKind::IgnoredOption => "ignored-option",
            DiagnosticKind::MissingKeys => "missing-keys",
            DiagnosticKind::InvalidValue => "invalid-value",
        }
    }
}

/// One finding about the secrets: its severity and kind, where it is, and a
/// message that says what to write. Messages never quote a secret value.
///
/// # Examples
///
/// ```
/// use connections_core::{DiagnosticKind, Registry, Severity};
///
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", "[connection.db]\ntype = 'sql'\n")
///     .build();
/// let found = registry.diagnostics();
/// assert_eq!(found[0].kind, DiagnosticKind::SingularTable);
/// assert_eq!(found[0].severity, Severity::Warning);
/// assert_eq!(found[0].connection.as_deref(), Some("db"));
/// assert!(found[0].to_string().contains("rename it to [connections.db]"));
/// ```
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// What it is about.
    pub kind: DiagnosticKind,
    /// The connection (`[connections.<name>]`) it is about, if any.
    pub connection: Option<String>,
    /// The keys it is about, dotted for nested tables (`query.sslmode`).
    pub keys: Vec<String>,
    /// The file, or `environment variable ...`, it is about.
    pub origin: Option<PathBuf>,
    /// 1-based line, for a syntax error.
    pub line: Option<usize>,
    /// 1-based column, for a syntax error.
    pub column: Option<usize>,
    /// What is wrong and what to write.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic with no connection, keys, origin or position yet: for a
    /// connection type's `diagnose` hook (see [`author`](crate::author)).
    /// The message says what is wrong and what to write, and never quotes
    /// a configuration value.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Diagnostic, DiagnosticKind, Severity};
    ///
    /// let found = Diagnostic::new(Severity::Warning, DiagnosticKind::IgnoredOption, "`pool_size` has no effect on SQLite")
    ///     .connection("db")
    ///     .keys(vec!["pool_size".to_owned()]);
    /// assert_eq!(found.to_string(), "warning: `pool_size` has no effect on SQLite");
    /// assert_eq!(found.keys, ["pool_size"]);
    /// ```
    pub fn new(severity: Severity, kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self {
            severity,
            kind,
            connection: None,
            keys: Vec::new(),
            origin: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A warning; see [`Diagnostic::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Diagnostic, DiagnosticKind, Severity};
    ///
    /// let found = Diagnostic::warning(DiagnosticKind::UnknownKey, "`colour` is not a key of `paint`");
    /// assert_eq!(found.severity, Severity::Warning);
    /// ```
    pub fn warning(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, kind, message)
    }

    /// The diagnostic for an [`Error`] a connection's configuration would
    /// fail with: a missing key, an invalid value, an unknown type. Its
    /// message is the error's, its keys the ones the error names.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Diagnostic, DiagnosticKind, Severity};
    ///
    /// let config = Config::from_toml("cache", "port = 6379")?;
    /// let found = Diagnostic::from_error(&config.missing("host")).connection("cache");
    /// assert_eq!((found.severity, found.kind), (Severity::Error, DiagnosticKind::MissingKeys));
    /// assert_eq!(found.keys, ["host"]);
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn from_error(error: &Error) -> Self {
        let (kind, keys) = match error {
            Error::MissingKey { key, also_missing, .. } => (
                DiagnosticKind::MissingKeys,
                std::iter::once(key.clone())
                    .chain(also_missing.iter().cloned())
                    .collect(),
            ),
            Error::InvalidValue { key, .. } => (DiagnosticKind::InvalidValue, vec![key.clone()]),
            Error::UnknownType { .. } | Error::AmbiguousType { .. } | Error::FeatureDisabled { .. } => {
                (DiagnosticKind::UnknownType, vec!["type".to_owned()])
            }
            Error::NoTypeKey { .. } => (DiagnosticKind::NoType, Vec::new()),
            _ => (DiagnosticKind::InvalidValue, Vec::new()),
        };
        // Without a `type` key, the type may still be given in code: `connection::<T>(name)`.
        let severity = if kind == DiagnosticKind::NoType {
            Severity::Warning
        } else {
            Severity::Error
        };
        Self::new(severity, kind, error.to_string()).keys(keys)
    }

    /// About the connection `name`; see [`Diagnostic::new`].
    #[must_use]
    pub fn connection(mut self, name: &str) -> Self {
        self.connection = Some(name.to_owned());
        self
    }

    /// About these keys, dotted for nested ones; see [`Diagnostic::new`].
    #[must_use]
    pub fn keys(mut self, keys: Vec<String>) -> Self {
        self.keys = keys;
        self
    }

    /// About this file or variable; see [`Diagnostic::new`].
    #[must_use]
    pub fn origin(mut self, origin: impl Into<PathBuf>) -> Self {
        self.origin = Some(origin.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `warning: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)
    }
}

impl fmt::Debug for Diagnostic {
    /// The message first, as `Display` gives it, then the fields, as for
    /// [`Error`](crate::Error): what to do is the first thing a reader sees.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}\n\n")?;
        f.debug_struct("Diagnostic")
            .field("severity", &self.severity)
            .field("kind", &self.kind)
            .field("connection", &self.connection)
            .field("keys", &self.keys)
            .field("origin", &self.origin)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("message", &self.message)
            .finish()
    }
}
