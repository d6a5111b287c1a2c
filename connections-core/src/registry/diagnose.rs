//! What is wrong with the secrets, as data: the files' diagnostics and each
//! section's, its type's `diagnose` hook included. [`Registry::diagnostics`]
//! returns them; the doctor builds its report on them.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::error::{Error, list_or_none, nearest_hint};
use crate::registry::{Registration, Registry};
use crate::secrets::Secrets;

impl Registry {
    /// Every warning and error about this registry's secrets, as data: syntax
    /// errors, loose file permissions, ignored environment variables, singular
    /// `[connections.<name>]` tables, sections with no or an unknown type, and
    /// what each section's type reports through its `diagnose` hook (SQL's:
    /// unknown and near-miss keys, ignored options, missing required keys
    /// and invalid values).
    ///
    /// The same warnings go to `tracing` as they happen; this is for whoever
    /// has no subscriber, and for tools (`connections doctor`).
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{DiagnosticKind, Registry, Severity};
    ///
    /// let registry = Registry::builder()
    ///     .secrets_toml("secrets.toml", "[connection.db]\ntype = 'kv'\n[connections.cache]\n")
    ///     .build();
    /// let found = registry.diagnostics();
    /// let kinds: Vec<_> = found.iter().map(|d| (d.severity, d.kind)).collect();
    /// assert_eq!(kinds, [
    ///     (Severity::Warning, DiagnosticKind::SingularTable),
    ///     (Severity::Warning, DiagnosticKind::NoType),
    /// ]);
    /// assert!(found[0].message.contains("rename it to [connections.db]"));
    /// assert_eq!(found[1].connection.as_deref(), Some("cache"));
    /// ```
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let secrets = match self.secrets() {
            Ok(secrets) => secrets,
            Err(error) => return vec![load_error(&error)],
        };
        let mut found = file_diagnostics(&secrets);
        for name in secrets.connection_names() {
            found.extend(section_diagnostics(self, &secrets, name, false).diagnostics);
        }
        found
    }
}

/// What is wrong with the secrets files themselves: their load diagnostics
/// (permissions, ignored variables), no file at all, singular tables.
pub(crate) fn file_diagnostics(secrets: &Secrets) -> Vec<Diagnostic> {
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
            format!(
                "found a singular [connection.{name}] table, which no lookup reads; rename it to [connections.{name}]"
            ),
        )
        .connection(name);
        found.origin = secrets.origin_of(&format!("connection.{name}")).map(Path::to_path_buf);
        diagnostics.push(found);
    }
    diagnostics
}

/// An error loading the secrets, as a diagnostic: a syntax error keeps its position.
pub(crate) fn load_error(error: &Error) -> Diagnostic {
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

/// Gives each diagnostic about `[connections.<name>]` that has a TOML file
/// but no position the line and column of its first key there, or of the
/// section's header for a key that is missing. The file is read again: a
/// diagnostic is made rarely, and the loaded secrets keep no spans.
pub(crate) fn locate(name: &str, diagnostics: &mut [Diagnostic]) {
    let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
    for found in diagnostics.iter_mut().filter(|d| d.line.is_none()) {
        let Some(path) = found
            .origin
            .clone()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        else {
            continue;
        };
        let text = if let Some((_, text)) = files.iter().find(|(p, _)| *p == path) {
            text.clone()
        } else {
            let text = std::fs::read_to_string(&path).ok();
            files.push((path.clone(), text.clone()));
            text
        };
        let key = found.keys.first().map_or("", String::as_str);
        if let Some((line, column)) = text.as_deref().and_then(|text| position(text, name, key)) {
            found.line = Some(line);
            found.column = Some(column);
        }
    }
}

/// Where `key` (dotted) of `[connections.<name>]` is written in `text`: the
/// deepest part of its path that is there.
fn position(text: &str, name: &str, key: &str) -> Option<(usize, usize)> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut at = None;
    let parts = ["connections", name]
        .into_iter()
        .chain(key.split('.').map(|part| part.split('[').next().unwrap_or(part)))
        .filter(|part| !part.is_empty());
    for part in parts {
        let Some((found, value)) = table.iter().find(|(k, _)| &**k.get_ref() == part) else {
            break;
        };
        at = Some(found.span().start);
        match value.get_ref() {
            toml::de::DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    at.map(|offset| crate::config::line_col(text, offset))
}

/// What [`section_diagnostics`] found about one section.
pub(crate) struct SectionDiagnostics {
    /// The type the section is read as, if it resolves.
    #[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
    pub(crate) registration: Option<Registration>,
    /// What is wrong with it, each with the section's file where it has no origin of its own.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Whether the type's settings or `diagnose` hook checked the section: they flag the keys it does not read.
    #[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
    pub(crate) diagnosed: bool,
}

/// What is wrong with `[connections.<name>]`: a type that code looks it up as
/// and its `type` key disagree on, a type that does not resolve (with
/// `standalone`, an unknown one is a warning: perhaps the application's own),
/// what its typed settings find, and what its `diagnose` hook reports.
pub(crate) fn section_diagnostics(
    registry: &Registry,
    secrets: &Secrets,
    name: &str,
    standalone: bool,
) -> SectionDiagnostics {
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
    let mut diagnosed = false;
    let registration = match chosen.map_or_else(|| registry.section_type(name), Ok) {
        Ok(reg) => {
            let config = Registry::section_config(secrets, name).with_own_type(reg.type_name(), reg.type_path());
            #[cfg(feature = "settings")]
            if let Some(settings) = reg.settings {
                diagnosed = true;
                diagnostics.extend((settings.check)(&config));
            }
            if let Some(diagnose) = reg.diagnose {
                diagnosed = true;
                // What the settings already refused is said once: a hook's
                // finding about only those keys is left out.
                let refused: Vec<String> = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .flat_map(|d| d.keys.clone())
                    .collect();
                let found = diagnose(&config)
                    .into_iter()
                    .filter(|d| d.keys.is_empty() || !d.keys.iter().all(|k| refused.contains(k)));
                diagnostics.extend(found.map(|found| {
                    if found.connection.is_some() {
                        found
                    } else {
                        found.connection(name)
                    }
                }));
            }
            Some(reg)
        }
        Err(Error::UnknownType {
            requested,
            registered,
            nearest,
            ..
        }) if standalone => {
            // Perhaps the application's own type: only its binary registers it.
            diagnostics.push(
                Diagnostic::warning(
                    DiagnosticKind::UnknownType,
                    format!(
                        "[connections.{name}]: type `{requested}` is not one this command knows (it knows {}){}; if it is your application's own type, check this section with your application's doctor (`connections::doctor::run(Registry::global())` in its binary), where its types are registered",
                        list_or_none(&registered),
                        nearest_hint(nearest.as_deref())
                    ),
                )
                .connection(name)
                .keys(vec!["type".to_owned()]),
            );
            None
        }
        Err(error) => {
            diagnostics.push(Diagnostic::from_error(&error).connection(name));
            None
        }
    };
    let section_origin = secrets.origin_of(&format!("connections.{name}")).map(Path::to_path_buf);
    for found in &mut diagnostics {
        if found.origin.is_none() {
            found.origin.clone_from(&section_origin);
        }
    }
    locate(name, &mut diagnostics);
    SectionDiagnostics {
        registration,
        diagnostics,
        diagnosed,
    }
}

#[cfg(feature = "settings")]
impl Registry {
    /// A JSON Schema (draft 7) of a secrets file for this registry's types:
    /// each `[connections.<name>]` whose `type` names a registered type with
    /// settings (`#[connection(settings = T)]`) is checked against them;
    /// other sections and top-level keys stay free. Write it to a file and
    /// name it on a `#:schema ./secrets.schema.json` line at the top of the
    /// secrets file: Taplo (Even Better TOML), `JetBrains`' TOML support and
    /// other schema-aware editors then complete and check the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::prelude::*;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// #[serde(deny_unknown_fields)]
    /// struct CacheSettings {
    ///     host: String,
    ///     port: Option<u16>,
    /// }
    ///
    /// #[derive(Connection)]
    /// #[connection(type_name = "schema-doc-cache", settings = CacheSettings)]
    /// struct Cache { base: BaseConnection<String> }
    /// impl Cache {
    ///     fn _connect(&self, settings: &CacheSettings) -> Result<String, BoxError> {
    ///         Ok(settings.host.clone())
    ///     }
    /// }
    ///
    /// let schema = connections_core::Registry::builder().build().settings_schema();
    /// let branch = &schema["definitions"]["schema-doc-cache"];
    /// assert_eq!(branch["properties"]["port"]["maximum"], 65535);
    /// assert_eq!(branch["required"][0], "host");
    /// ```
    pub fn settings_schema(&self) -> serde_json::Value {
        crate::settings::settings_schema(&self.with_types(super::types::Types::settings_schemas))
    }
}
