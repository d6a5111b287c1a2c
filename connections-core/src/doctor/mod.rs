//! The doctor: a report on the secrets as the library reads them (each
//! `[connections.*]` section, where each key came from, its type, every
//! diagnostic), optionally connecting each connection and running its check, for a
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

use toml::Value;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::redact::{EVERY_KEY, is_harmless_key, is_secret_key, redact};
use crate::registry::Registry;
use crate::registry::diagnose;
use crate::secrets::Secrets;

mod connect;
mod render;

/// The doctor's report: the files read, each connection section, and what
/// is wrong. Build it with [`Report::new`]; print it with `Display` (plain
/// text), [`Report::render`] (with colour) or [`Report::to_json`].
///
/// # Examples
///
/// ```
/// # use connections_core::prelude::*;
/// # use connections_core::{Diagnostic, DiagnosticKind};
/// # #[derive(Connection)]
/// # #[connection(type_name = "report-store", diagnose = Store::diagnose)]
/// # struct Store { base: BaseConnection<String> }
/// # impl Store {
/// #     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("url")?) }
/// #     fn diagnose(config: &Config) -> Vec<Diagnostic> {
/// #         let mut found: Vec<Diagnostic> = config.keys().filter(|k| !["type", "url"].contains(k)).map(|k| {
/// #             Diagnostic::warning(DiagnosticKind::UnknownKey, format!("`{k}` is not a key of `store`")).keys(vec![k.to_owned()])
/// #         }).collect();
/// #         if !config.contains("url") { found.push(Diagnostic::from_error(&config.missing("url"))); }
/// #         found
/// #     }
/// # }
/// use connections_core::{Registry, doctor::Report};
///
/// // `report-store`: a type whose `diagnose` hook reports keys it does not read.
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", "[connections.db]\ntype = 'report-store'\nurl = 'postgresql://app:hunter2@db.internal/shop'\n")
///     .build();
/// let report = Report::new(&registry);
/// assert!(!report.has_errors());
/// let db = &report.sections[0];
/// assert_eq!(db.type_name.as_deref(), Some("report-store"));
/// assert_eq!(db.keys[1].value, r#""postgresql://app:***@db.internal/shop""#);
/// assert!(!report.to_string().contains("hunter2"));
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
    /// reads (with a `diagnose` hook, every key it does not report as unknown) or a
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
    /// Whether it connected, and its type's `_check` (if it has one) passed.
    pub ok: bool,
    /// Why it was not tried (an unknown type, errors in the section, a
    /// session-scoped type); such a connection neither passed nor failed.
    pub skipped: Option<String>,
    /// Whether the type's `_check` ran after the connect.
    pub checked: bool,
    /// How long it took, its check included, in milliseconds.
    pub elapsed_ms: f64,
    /// The error, redacted, when it did not connect or its check failed.
    pub error: Option<String>,
}

impl ConnectOutcome {
    /// A connection not tried, and why.
    fn skipped(reason: String) -> Self {
        Self {
            ok: false,
            skipped: Some(reason),
            checked: false,
            elapsed_ms: 0.0,
            error: None,
        }
    }

    /// Whether it was tried and failed (a skipped one did not).
    fn failed(&self) -> bool {
        !self.ok && self.skipped.is_none()
    }
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
    /// Try to connect each connection whose type is registered (and run
    /// its `_check`); the others are reported as skipped, with the reason.
    pub connect: bool,
    /// The doctor runs outside the application (the `connections` command),
    /// where only first-party types are registered: a section whose type it
    /// does not know is a warning that points to the application's own
    /// doctor, not an error.
    pub standalone: bool,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Colour the table: `None` colours when standard output is a terminal
    /// and `NO_COLOR` is unset.
    pub color: Option<bool>,
    /// A secrets schema an application exported
    /// ([`Registry::settings_schema`]): a section whose type this program
    /// does not register but the schema describes is checked against it,
    /// as the application's own doctor would (without connecting it).
    pub schema: Option<serde_json::Value>,
}

impl Options {
    /// Sets [`Options::connect`].
    pub fn connect(mut self, connect: bool) -> Self {
        self.connect = connect;
        self
    }

    /// Sets [`Options::schema`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Registry, doctor::{Options, Report}};
    ///
    /// // What `myapp schema` wrote: the settings of its `myapp-kv` type.
    /// let exported = serde_json::json!({
    ///     "definitions": { "myapp-kv": {
    ///         "type": "object",
    ///         "properties": { "type": { "enum": ["myapp-kv", "myapp::Kv"] }, "host": { "type": "string" } },
    ///         "required": ["host"],
    ///         "additionalProperties": false
    ///     } }
    /// });
    /// let registry = Registry::builder().secrets_toml("s.toml", "[connections.cache]\ntype = 'myapp-kv'\nhots = 'x'\n").build();
    /// let report = Report::with_options(&registry, &Options::default().standalone(true).schema(exported));
    /// let kinds: Vec<_> = report.sections[0].diagnostics.iter().map(|d| d.kind.as_str()).collect();
    /// assert_eq!(kinds, ["near-miss-key", "missing-keys"]);
    /// ```
    pub fn schema(mut self, schema: serde_json::Value) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Sets [`Options::standalone`].
    pub fn standalone(mut self, standalone: bool) -> Self {
        self.standalone = standalone;
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
/// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'mongo'\n").build();
/// // No type `mongo` in this program: an error, so a failing exit code.
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
/// # use connections_core::prelude::*;
/// # use connections_core::{Diagnostic, DiagnosticKind};
/// # #[derive(Connection)]
/// # #[connection(type_name = "run-store", diagnose = Store::diagnose)]
/// # struct Store { base: BaseConnection<String> }
/// # impl Store {
/// #     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("url")?) }
/// #     fn diagnose(config: &Config) -> Vec<Diagnostic> {
/// #         let mut found: Vec<Diagnostic> = config.keys().filter(|k| !["type", "url"].contains(k)).map(|k| {
/// #             Diagnostic::warning(DiagnosticKind::UnknownKey, format!("`{k}` is not a key of `store`")).keys(vec![k.to_owned()])
/// #         }).collect();
/// #         if !config.contains("url") { found.push(Diagnostic::from_error(&config.missing("url"))); }
/// #         found
/// #     }
/// # }
/// use connections_core::{Registry, doctor};
///
/// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'run-store'\nurl = 'memory://'\n").build();
/// let options = doctor::Options::default().connect(true).json(true);
/// assert_eq!(doctor::run_with(&registry, &options), std::process::ExitCode::SUCCESS);
/// ```
pub fn run_with(registry: &Registry, options: &Options) -> ExitCode {
    let mut report = Report::with_options(registry, options);
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

impl Report {
    /// The report on `registry`'s secrets, without connecting, as the
    /// application's own doctor makes it: a type it does not know is an error.
    pub fn new(registry: &Registry) -> Self {
        Self::with_options(registry, &Options::default())
    }

    /// The report on `registry`'s secrets, without connecting; with
    /// [`Options::standalone`], a type it does not know is a warning.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Registry, Severity, doctor::{Options, Report}};
    ///
    /// let registry = Registry::builder().secrets_toml("s.toml", "[connections.cache]\ntype = 'mongo'\n").build();
    /// assert!(Report::new(&registry).has_errors(), "in the application: an unknown type");
    /// let outside = Report::with_options(&registry, &Options::default().standalone(true));
    /// assert!(!outside.has_errors(), "outside it: perhaps the application's own type");
    /// assert!(outside.sections[0].diagnostics[0].message.contains("doctor::run"));
    /// ```
    pub fn with_options(registry: &Registry, options: &Options) -> Self {
        let secrets = match registry.secrets() {
            Ok(secrets) => secrets,
            Err(error) => {
                return Report {
                    files: Vec::new(),
                    searched: Vec::new(),
                    sections: Vec::new(),
                    diagnostics: vec![diagnose::load_error(&error)],
                };
            }
        };
        let diagnostics = diagnose::file_diagnostics(&secrets);
        let sections = secrets
            .connection_names()
            .into_iter()
            .map(|name| section(registry, &secrets, name, options))
            .collect();
        Report {
            files: secrets.files().to_vec(),
            searched: secrets.searched().to_vec(),
            sections,
            diagnostics,
        }
    }

    /// Tries to connect each section's connection, each on its own, never
    /// cached in `registry`, and runs its type's `_check`; records how it
    /// went: an error when it did not connect (or its check failed) within
    /// 30 s. It connects as the application would: a SQLite file that does
    /// not exist yet is created. A section it cannot connect is skipped, with
    /// the reason: a type not registered here, errors in the section, a
    /// session-scoped type (each scope connects its own).
    ///
    /// It runs on a thread of its own, so it may be called from anywhere,
    /// inside an async runtime too. Each connect and check is driven by its
    /// type's runtime hook (`#[connection(block_on = path)]`: a client built
    /// on tokio needs a tokio runtime), else by a plain executor. To drive
    /// them on your own runtime, call [`connect_async`](Report::connect_async)
    /// instead.
    pub fn connect(&mut self, registry: &Registry) {
        std::thread::scope(|scope| {
            scope.spawn(|| {
                connect::connect_sections_blocking(registry, &mut self.sections);
            });
        });
    }

    /// As [`connect`](Report::connect), on the caller's executor: for an
    /// application whose connections need its own runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{BoxError, BaseConnection, Config, Connection, Registry, doctor::Report};
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "doctor-async-doc", async)]
    /// struct Remote { base: BaseConnection<u8> }
    /// impl Remote {
    ///     async fn _connect(&self, _: &Config) -> Result<u8, BoxError> { Ok(1) }
    ///     async fn _check(&self) -> Result<(), BoxError> { Err("the server is read-only".into()) }
    /// }
    ///
    /// let registry = Registry::builder().secrets_toml("s.toml", "[connections.r]\ntype = 'doctor-async-doc'\n").build();
    /// let mut report = Report::new(&registry);
    /// futures_executor::block_on(report.connect_async(&registry));
    /// let outcome = report.sections[0].connect.as_ref().unwrap();
    /// assert!(!outcome.ok && outcome.checked, "{outcome:?}");
    /// assert!(outcome.error.as_deref().unwrap().ends_with("but its check failed: the server is read-only"));
    /// assert!(report.has_errors());
    /// ```
    pub async fn connect_async(&mut self, registry: &Registry) {
        connect::connect_sections(registry, &mut self.sections).await;
    }

    /// Whether anything is an error (a failed connect included): the doctor
    /// then exits with a failure.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
            || self
                .sections
                .iter()
                .any(|s| s.connect.as_ref().is_some_and(ConnectOutcome::failed))
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
    /// # use connections_core::prelude::*;
    /// # use connections_core::{Diagnostic, DiagnosticKind};
    /// # #[derive(Connection)]
    /// # #[connection(type_name = "json-store", diagnose = Store::diagnose)]
    /// # struct Store { base: BaseConnection<String> }
    /// # impl Store {
    /// #     fn _connect(&self, config: &Config) -> Result<String, BoxError> { Ok(config.get("url")?) }
    /// #     fn diagnose(config: &Config) -> Vec<Diagnostic> {
    /// #         let mut found: Vec<Diagnostic> = config.keys().filter(|k| !["type", "url"].contains(k)).map(|k| {
    /// #             Diagnostic::warning(DiagnosticKind::UnknownKey, format!("`{k}` is not a key of `store`")).keys(vec![k.to_owned()])
    /// #         }).collect();
    /// #         if !config.contains("url") { found.push(Diagnostic::from_error(&config.missing("url"))); }
    /// #         found
    /// #     }
    /// # }
    /// use connections_core::{Registry, doctor::Report};
    ///
    /// let registry = Registry::builder().secrets_toml("secrets.toml", "[connections.db]\ntype = 'json-store'\n").build();
    /// let json: serde_json::Value = serde_json::from_str(&Report::new(&registry).to_json()).unwrap();
    /// assert_eq!(json["sections"][0]["name"], "db");
    /// assert_eq!(json["sections"][0]["diagnostics"][0]["kind"], "missing-keys");
    /// assert_eq!(json["sections"][0]["diagnostics"][0]["severity"], "error");
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

/// The report on one `[connections.<name>]` section.
fn section(registry: &Registry, secrets: &Secrets, name: &str, options: &Options) -> Section {
    let table = secrets.section(name).cloned().unwrap_or_default();
    let section_origin = secrets.origin_of(&format!("connections.{name}")).map(Path::to_path_buf);
    let diagnose::SectionDiagnostics {
        registration,
        mut diagnostics,
        diagnosed,
    } = diagnose::section_diagnostics(registry, secrets, name, options.standalone);
    let (mut type_name, mut type_path) = registration.map_or((None, None), |reg| {
        (Some(reg.type_name().to_owned()), Some(reg.type_path().to_owned()))
    });
    // The schema the section's keys are shown by: (the root its `$ref`s point into, the settings).
    let own = registration.and_then(|reg| reg.settings).map(|s| (s.schema)());
    let mut settings = own.as_ref().map(|schema| (schema, schema));
    // A type only the application registers, described by the schema it exported.
    let exported = options
        .schema
        .as_ref()
        .filter(|_| registration.is_none() && options.standalone);
    if let Some(root) = exported
        && let Some(requested) = table.get("type").and_then(Value::as_str)
        && let Some(definition) = crate::settings::definition_for(root, requested)
    {
        let config = Registry::section_config(secrets, name).with_type_key_ours(true);
        diagnostics.retain(|d| d.kind != DiagnosticKind::UnknownType);
        let mut found = crate::settings::check_against(&config, root, definition);
        for d in &mut found {
            if d.origin.is_none() {
                d.origin.clone_from(&section_origin);
            }
        }
        diagnostics.extend(found);
        diagnose::locate(name, &mut diagnostics);
        let names = definition
            .pointer("/properties/type/enum")
            .and_then(serde_json::Value::as_array);
        let name_at = |i: usize| {
            names
                .and_then(|n| n.get(i))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        type_name = name_at(0).or_else(|| Some(requested.to_owned()));
        type_path = name_at(1).map(|path| format!("{path}, from the schema"));
        settings = Some((root, definition));
    }
    let declared = declared_keys(diagnosed, settings, &diagnostics);
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
                redact(&value.to_string(), &table, &EVERY_KEY)
            } else {
                "***".to_owned()
            },
            origin,
        });
    });
    drop(declared);
    // `type` first: it says what the rest is read as.
    keys.sort_by_key(|k| k.key != "type");
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
/// A type with typed settings shows the keys they declare and mark
/// harmless, never a `Secret` (see `settings::shows`). A type with only a
/// `diagnose` hook reads every key its diagnostics do not report as
/// unknown. For other types, only harmless names ([`is_harmless_key`]) show.
fn declared_keys<'a>(
    diagnosed: bool,
    settings: Option<(&'a serde_json::Value, &'a serde_json::Value)>,
    diagnostics: &'a [Diagnostic],
) -> impl Fn(&str) -> bool + 'a {
    move |key: &str| {
        if let Some((root, schema)) = settings {
            return crate::settings::shows(root, schema, key);
        }
        diagnosed
            && !diagnostics.iter().any(|d| {
                matches!(d.kind, DiagnosticKind::UnknownKey | DiagnosticKind::NearMissKey)
                    && d.keys.iter().any(|k| k == key || key.starts_with(&format!("{k}.")))
            })
    }
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
