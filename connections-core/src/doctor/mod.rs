//! The doctor: a report on the secrets as the library reads them (each
//! `[connections.*]` section, where each key came from, its type, every
//! diagnostic), optionally connecting each first-party connection, for a
//! person (a table, colour on a terminal) or a machine (JSON).
//!
//! The `connections doctor` command (crate `connections-cli`) prints this
//! report. An application with its own connection types runs the same doctor
//! from its own binary, where those types are registered:
//!
//! ```no_run
//! use connections_core::{Registry, doctor};
//!
//! fn main() -> std::process::ExitCode {
//!     if std::env::args().nth(1).as_deref() == Some("doctor") {
//!         return doctor::run(Registry::global());
//!     }
//!     // ... the application
//!     std::process::ExitCode::SUCCESS
//! }
//! ```

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "sql")]
use std::time::Duration;

use toml::Value;

#[cfg(feature = "sql")]
use crate::connection::Connection as _;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::error::Error;
use crate::redact::{EVERY_KEY, collect_secrets, is_harmless_key, is_secret_key, mask};
use crate::registry::Registry;
use crate::secrets::Secrets;

mod render;

/// How long `--connect` waits for one connection.
#[cfg(feature = "sql")]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The doctor's report: the files read, each connection section, and what
/// is wrong. Build it with [`Report::new`]; print it with `Display` (plain
/// text), [`Report::render`] (with colour) or [`Report::to_json`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "sql")] { // these examples use `type = "sql"`
/// use connections_core::{Registry, doctor::Report};
///
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", "[connections.db]\ntype = 'sql'\nurl = 'postgresql://app:hunter2@db.internal/shop'\n")
///     .build();
/// let report = Report::new(&registry);
/// assert!(!report.has_errors());
/// let db = &report.sections[0];
/// assert_eq!(db.type_path.as_deref(), Some("connections_core::sql::SqlConnection"));
/// assert_eq!(db.keys[1].value, r#""postgresql://app:***@db.internal/shop""#);
/// assert!(!report.to_string().contains("hunter2"));
/// # }
/// ```
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The files (and directories, and the environment) read, in order.
    pub files: Vec<PathBuf>,
    /// Every path searched, found or not.
    pub searched: Vec<PathBuf>,
    /// Each `[connections.<name>]` section, in name order.
    pub sections: Vec<Section>,
    /// What is not about one section: syntax errors, permissions, ignored
    /// variables, singular `[connection.<name>]` tables.
    pub diagnostics: Vec<Diagnostic>,
}

/// One `[connections.<name>]` section in a [`Report`].
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Section {
    /// The connection name.
    pub name: String,
    /// The type a lookup with no type in code resolves to, by its short name.
    pub type_name: Option<String>,
    /// The same type's full path.
    pub type_path: Option<String>,
    /// Every key, nested ones dotted (`query.sslmode`), with its value masked.
    pub keys: Vec<Key>,
    /// What is wrong or suspicious in this section.
    pub diagnostics: Vec<Diagnostic>,
    /// How `--connect` went, if it tried this connection.
    pub connect: Option<ConnectOutcome>,
}

/// One key of a [`Section`].
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Key {
    /// The key, dotted for nested tables.
    pub key: String,
    /// Its value as TOML, or `***` unless the key is one the section's type
    /// reads (every key `SqlConnection` does not report as unknown) or a
    /// harmless name (`host`, `port`, `database`, `username`, `url`...) and
    /// no secret (`password`, `token`, a near miss such as `pasword`). A
    /// shown value has the section's secrets it quotes (a URL's password)
    /// replaced by `***`.
    pub value: String,
    /// The file or environment variable it came from.
    pub origin: String,
}

/// How connecting one connection went.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct ConnectOutcome {
    /// Whether it connected.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub elapsed_ms: f64,
    /// The error, redacted, when it did not connect.
    pub error: Option<String>,
}

/// How [`run_with`] reports.
///
/// # Examples
///
/// ```
/// let options = connections_core::doctor::Options::default().connect(true).json(true);
/// assert!(options.connect && options.json);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
#[must_use]
pub struct Options {
    /// Try to connect each first-party connection (`type = "sql"`).
    pub connect: bool,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Colour the table: `None` colours when standard output is a terminal
    /// and `NO_COLOR` is unset.
    pub color: Option<bool>,
}

impl Options {
    /// Sets [`Options::connect`].
    pub fn connect(mut self, connect: bool) -> Self {
        self.connect = connect;
        self
    }

    /// Sets [`Options::json`].
    pub fn json(mut self, json: bool) -> Self {
        self.json = json;
        self
    }

    /// Sets [`Options::color`].
    pub fn color(mut self, color: Option<bool>) -> Self {
        self.color = color;
        self
    }
}

/// Prints the doctor's table for `registry` on standard output and returns
/// the exit code: failure if anything is an error.
///
/// # Examples
///
/// ```
/// use connections_core::{Registry, doctor};
///
/// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'sql'\n").build();
/// // No `url` and no `dialect`: an error, so a failing exit code.
/// assert_eq!(doctor::run(&registry), std::process::ExitCode::FAILURE);
/// ```
pub fn run(registry: &Registry) -> ExitCode {
    run_with(registry, &Options::default())
}

/// As [`run`], with [`Options`]: connect, JSON, colour.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "sql")] { // these examples use `type = "sql"`
/// use connections_core::{Registry, doctor};
///
/// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'sql'\nurl = 'sqlite::memory:'\n").build();
/// let options = doctor::Options::default().connect(true).json(true);
/// assert_eq!(doctor::run_with(&registry, &options), std::process::ExitCode::SUCCESS);
/// # }
/// ```
pub fn run_with(registry: &Registry, options: &Options) -> ExitCode {
    let mut report = Report::new(registry);
    if options.connect {
        report.connect(registry);
    }
    let text = if options.json {
        report.to_json()
    } else {
        let color = options
            .color
            .unwrap_or_else(|| std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
        report.render(color)
    };
    // A closed pipe (`| head`) is no reason to panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

impl Registry {
    /// Every warning and error about this registry's secrets, as data: syntax
    /// errors, loose file permissions, ignored environment variables, singular
    /// `[connection.<name>]` tables, sections with no or an unknown type, and
    /// for first-party types (`sql`) unknown and near-miss keys, ignored
    /// options, missing required keys and invalid values.
    ///
    /// The same warnings go to `tracing` as they happen; this is for whoever
    /// has no subscriber, and for tools (`connections doctor`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "sql")] { // these examples use `type = "sql"`
    /// use connections_core::{DiagnosticKind, Registry, Severity};
    ///
    /// let registry = Registry::builder()
    ///     .secrets_toml("secrets.toml", "[connections.db]\ntype = 'sql'\ndialect = 'postgresql'\nuser = 'app'\n")
    ///     .build();
    /// let found = registry.diagnostics();
    /// let kinds: Vec<_> = found.iter().map(|d| (d.severity, d.kind)).collect();
    /// assert_eq!(kinds, [
    ///     (Severity::Warning, DiagnosticKind::NearMissKey),
    ///     (Severity::Error, DiagnosticKind::MissingKeys),
    /// ]);
    /// assert!(found[0].message.contains("`user` (did you mean `username`?)"));
    /// assert_eq!(found[1].keys, ["host", "username"]);
    /// # }
    /// ```
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let report = Report::new(self);
        report
            .diagnostics
            .into_iter()
            .chain(report.sections.into_iter().flat_map(|s| s.diagnostics))
            .collect()
    }
}

impl Report {
    /// The report on `registry`'s secrets, without connecting.
    pub fn new(registry: &Registry) -> Self {
        let secrets = match registry.secrets() {
            Ok(secrets) => secrets,
            Err(error) => {
                return Report {
                    files: Vec::new(),
                    searched: Vec::new(),
                    sections: Vec::new(),
                    diagnostics: vec![load_error(&error)],
                };
            }
        };
        let mut diagnostics = secrets.load_diagnostics().to_vec();
        if secrets.files().is_empty() {
            diagnostics.push(Diagnostic::new(
                Severity::Error,
                DiagnosticKind::NoSecrets,
                format!(
                    "no secrets file was found; searched {}; create one with a [connections.<name>] table, or set CONNECTIONS_SECRETS_PATH",
                    secrets
                        .searched()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        for name in secrets.singular_sections() {
            let mut found = Diagnostic::warning(
                DiagnosticKind::SingularTable,
                format!("found a singular [connection.{name}] table, which no lookup reads; rename it to [connections.{name}]"),
            )
            .connection(name);
            found.origin = secrets.origin_of(&format!("connection.{name}")).map(Path::to_path_buf);
            diagnostics.push(found);
        }
        let sections = secrets
            .connection_names()
            .into_iter()
            .map(|name| section(registry, &secrets, name))
            .collect();
        Report {
            files: secrets.files().to_vec(),
            searched: secrets.searched().to_vec(),
            sections,
            diagnostics,
        }
    }

    /// Tries to connect each first-party connection (`type = "sql"`) whose
    /// section has no error, each on its own, never cached in `registry`, and
    /// records how it went: an error when it did not connect within its
    /// `connect_timeout` (30 s at most). It connects as the application would:
    /// a SQLite file that does not exist yet is created.
    ///
    /// It runs on a thread of its own with its own runtime, so it may be
    /// called from anywhere, inside an async runtime too. Without the `sql`
    /// feature there is nothing to try.
    pub fn connect(&mut self, registry: &Registry) {
        #[cfg(feature = "sql")]
        std::thread::scope(|scope| {
            scope.spawn(|| sql_connects(registry, &mut self.sections));
        });
        #[cfg(not(feature = "sql"))]
        let _ = registry;
    }

    /// Whether anything is an error (a failed connect included): the doctor
    /// then exits with a failure.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0 || self.sections.iter().any(|s| s.connect.as_ref().is_some_and(|c| !c.ok))
    }

    /// How many diagnostics of `severity` there are, in all.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .chain(self.sections.iter().flat_map(|s| &s.diagnostics))
            .filter(|d| d.severity == severity)
            .count()
    }

    /// The report as pretty-printed JSON, for machines.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "sql")] { // these examples use `type = "sql"`
    /// use connections_core::{Registry, doctor::Report};
    ///
    /// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'sql'\n").build();
    /// let json: serde_json::Value = serde_json::from_str(&Report::new(&registry).to_json()).unwrap();
    /// assert_eq!(json["sections"][0]["name"], "db");
    /// assert_eq!(json["sections"][0]["diagnostics"][0]["kind"], "missing-keys");
    /// assert_eq!(json["sections"][0]["diagnostics"][0]["severity"], "error");
    /// # }
    /// ```
    pub fn to_json(&self) -> String {
        // Strings, numbers and options only: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as a table for a person, coloured with ANSI escapes when
    /// `color` is true. `Display` gives the same without colour.
    pub fn render(&self, color: bool) -> String {
        render::render(self, color)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// An error loading the secrets, as a diagnostic: a syntax error keeps its position.
fn load_error(error: &Error) -> Diagnostic {
    let mut found = Diagnostic::new(Severity::Error, DiagnosticKind::Unreadable, error.to_string());
    match error {
        Error::MalformedSecrets { path, line, column, .. } => {
            found.kind = DiagnosticKind::Syntax;
            found.origin = Some(path.clone());
            found.line = *line;
            found.column = *column;
        }
        Error::ReadSecrets { path, .. } | Error::InvalidSecretsPath { path, .. } => {
            found.origin = Some(path.clone());
        }
        _ => {}
    }
    found
}

/// An error a connection's configuration would fail with, as a diagnostic about `name`.
fn config_error(name: &str, error: &Error) -> Diagnostic {
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
    let severity = if kind == DiagnosticKind::NoType {
        // The type may be given in code: `connection::<T>(name)`.
        Severity::Warning
    } else {
        Severity::Error
    };
    Diagnostic::new(severity, kind, error.to_string())
        .connection(name)
        .keys(keys)
}

/// The report on one `[connections.<name>]` section.
fn section(registry: &Registry, secrets: &Secrets, name: &str) -> Section {
    let table = secrets.section(name).cloned().unwrap_or_default();
    let section_origin = secrets.origin_of(&format!("connections.{name}")).map(Path::to_path_buf);
    let mut diagnostics = Vec::new();
    // The type code chose, where a lookup did: the section is what that type reads.
    let chosen = registry.chosen_type(name);
    if let Some(reg) = chosen
        && let Some(conflict) = registry.type_conflict(reg, name, secrets)
    {
        diagnostics.push(
            Diagnostic::warning(DiagnosticKind::TypeConflict, conflict)
                .connection(name)
                .keys(vec!["type".to_owned()]),
        );
    }
    let (type_name, type_path) = match chosen.map_or_else(|| registry.section_type(name), Ok) {
        Ok(reg) => {
            #[cfg(feature = "sql")]
            if reg.is::<crate::sql::SqlConnection>() {
                let (notes, outcome) = crate::sql::diagnose(&Registry::section_config(secrets, name));
                diagnostics.extend(notes);
                if let Err(error) = outcome {
                    diagnostics.push(config_error(name, &error));
                }
            }
            (Some(reg.type_name().to_owned()), Some(reg.type_path().to_owned()))
        }
        Err(error) => {
            diagnostics.push(config_error(name, &error));
            (None, None)
        }
    };
    let declared = declared_keys(type_path.as_deref(), &diagnostics);
    let mut keys = Vec::new();
    flatten(&table, "", false, &mut |key, value, secret| {
        let origin = secrets
            .key_origin(name, key)
            .or_else(|| secrets.key_origin(name, key.split('.').next().unwrap_or(key)))
            .map(Path::to_path_buf)
            .or_else(|| section_origin.clone())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let shown = !secret && (declared(key) || is_harmless_key(leaf));
        keys.push(Key {
            key: key.to_owned(),
            value: if shown {
                // Its own value, minus any secret of the section it quotes (a URL's password).
                let mut secrets = Vec::new();
                collect_secrets(&table, &EVERY_KEY, &mut secrets);
                mask(&value.to_string(), secrets)
            } else {
                "***".to_owned()
            },
            origin,
        });
    });
    drop(declared);
    // `type` first: it says what the rest is read as.
    keys.sort_by_key(|k| k.key != "type");
    for found in &mut diagnostics {
        if found.origin.is_none() {
            found.origin.clone_from(&section_origin);
        }
    }
    Section {
        name: name.to_owned(),
        type_name,
        type_path,
        keys,
        diagnostics,
        connect: None,
    }
}

/// The keys the section's type is known to read: a value under any other
/// key (a typo, another type's key) may be a secret, and is not shown.
///
/// `SqlConnection` reads every key it does not report as unknown; other
/// types declare none yet, so only harmless names ([`is_harmless_key`]) show.
fn declared_keys<'a>(type_path: Option<&str>, diagnostics: &'a [Diagnostic]) -> Box<dyn Fn(&str) -> bool + 'a> {
    #[cfg(feature = "sql")]
    if type_path == Some(<crate::sql::SqlConnection as crate::Connection>::TYPE_PATH) {
        return Box::new(|key: &str| {
            !diagnostics.iter().any(|d| {
                matches!(d.kind, DiagnosticKind::UnknownKey | DiagnosticKind::NearMissKey)
                    && d.keys.iter().any(|k| k == key || key.starts_with(&format!("{k}.")))
            })
        });
    }
    let _ = (type_path, diagnostics);
    Box::new(|_| false)
}

/// Calls `f(dotted key, value, secret)` for every leaf of `table`; `secret`
/// when the key or a table above it is named like a secret (`password`, `token`...).
fn flatten(table: &toml::Table, prefix: &str, secret: bool, f: &mut impl FnMut(&str, &Value, bool)) {
    for (key, value) in table {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let secret = secret || is_secret_key(key);
        match value {
            Value::Table(inner) if !inner.is_empty() => flatten(inner, &dotted, secret, f),
            _ => f(&dotted, value, secret),
        }
    }
}

/// Connects each `sql` section on a runtime of this thread's own.
#[cfg(feature = "sql")]
fn sql_connects(registry: &Registry, sections: &mut [Section]) {
    use crate::sql::SqlConnection;

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            for section in sections.iter_mut().filter(|s| s.type_name.as_deref() == Some("sql")) {
                section.connect = Some(ConnectOutcome {
                    ok: false,
                    elapsed_ms: 0.0,
                    error: Some(format!("could not start a runtime to connect: {error}")),
                });
            }
            return;
        }
    };
    for section in sections {
        if section.type_path.as_deref() != Some(SqlConnection::TYPE_PATH)
            || section.diagnostics.iter().any(|d| d.severity == Severity::Error)
        {
            continue;
        }
        let started = std::time::Instant::now();
        // A zero ttl caches nothing: the application's own connection, if it
        // has one, is left alone, and this one is dropped right after.
        let outcome = runtime.block_on(async {
            let conn = registry
                .lookup(&section.name)
                .with_type(SqlConnection::TYPE_PATH)
                .ttl(Duration::ZERO)
                .get::<SqlConnection>()?;
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, conn.pool()).await;
            match connected {
                Ok(pool) => pool.map(drop),
                Err(_) => Err(Error::ConnectTimeout {
                    name: section.name.clone(),
                    type_path: SqlConnection::TYPE_PATH,
                    timeout: CONNECT_TIMEOUT,
                }),
            }
        });
        section.connect = Some(ConnectOutcome {
            ok: outcome.is_ok(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            error: outcome.err().map(|e| e.to_string()),
        });
    }
}
