//! Typed settings (`#[connection(settings = T)]`): a section checked against
//! `T`'s JSON Schema before a connect (every problem at once), and the
//! schema of a whole secrets file that editors read.
//!
//! The check walks the section beside the schema `schemars` derives for `T`
//! (draft 7): keys the type does not read (with "did you mean"), every
//! missing required key, values of the wrong kind, numbers out of range,
//! strings outside an enum. What it cannot see, serde's deserialization of
//! `T` still reports. Messages name keys, never values.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::config::Config;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::error::{Error, list_or_none, nearest, nearest_hint};
use crate::redact::is_harmless_key;

/// The JSON Schema keyword that marks a settings field whose value the
/// doctor may show (`#[schemars(extend("x-harmless" = true))]`), beside the
/// names that are harmless anyway (`host`, `port`, `database`...).
pub(crate) const HARMLESS: &str = "x-harmless";

/// What the derive registers for `#[connection(settings = T)]`: how to
/// check a section against `T`, and `T`'s schema. Made by the derive.
#[derive(Clone, Copy)]
pub struct SettingsHooks {
    pub(crate) check: fn(&Config) -> Vec<Diagnostic>,
    pub(crate) schema: fn() -> Json,
}

impl SettingsHooks {
    /// The hooks of settings type `T`.
    pub(crate) const fn of<T: schemars::JsonSchema>() -> Self {
        Self {
            check: check::<T>,
            schema: schema_of::<T>,
        }
    }
}

impl std::fmt::Debug for SettingsHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsHooks").finish_non_exhaustive()
    }
}

/// `T`'s JSON Schema, draft 7 (the draft editors' TOML tools read), with
/// its own `definitions`.
pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Json {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Everything wrong with `config` as settings of type `T`, each a
/// [`Diagnostic`] about the connection.
pub(crate) fn check<T: schemars::JsonSchema>(config: &Config) -> Vec<Diagnostic> {
    let schema = schema_of::<T>();
    check_against(config, &schema, &schema)
}

/// Everything wrong with `config` as settings described by `schema`, whose
/// `$ref`s point into `root`.
pub(crate) fn check_against(config: &Config, root: &Json, schema: &Json) -> Vec<Diagnostic> {
    let mut checker = Checker {
        root,
        config,
        found: Vec::new(),
    };
    checker.table(config.as_table(), schema, "");
    checker.found
}

/// The settings a secrets schema ([`settings_schema`]'s form) gives sections
/// whose `type` is `requested` (a short name, full path or dotted path).
#[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
pub(crate) fn definition_for<'a>(root: &'a Json, requested: &str) -> Option<&'a Json> {
    let normalized = requested.replace('.', "::");
    root.get("definitions")?.as_object()?.values().find(|definition| {
        definition
            .pointer("/properties/type/enum")
            .and_then(Json::as_array)
            .is_some_and(|names| {
                names
                    .iter()
                    .any(|n| n.as_str().is_some_and(|n| n == requested || n == normalized))
            })
    })
}

/// The settings of type `T` in `config`: checked against `T`'s schema
/// (warnings logged, errors all returned at once), then deserialized, once
/// per configuration. What the derive's connect calls.
pub(crate) fn read<'c, T>(
    config: &'c Config,
    type_path: &'static str,
    hooks: Option<SettingsHooks>,
) -> Result<&'c T, Error>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    config.cached_settings(|| {
        let mut problems = Vec::new();
        for found in hooks.map(|hooks| (hooks.check)(config)).unwrap_or_default() {
            if found.severity == Severity::Error {
                problems.push(found.message);
            } else {
                tracing::warn!(connection = config.name(), "{}", found.message);
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidSettings {
                name: config.name().to_owned(),
                type_path,
                problems,
            });
        }
        config.deserialize::<T>()
    })
}

/// Whether the doctor may show the value at `dotted` (a key of a section of
/// a type with settings `schema`): a key the settings declare, not a
/// `Secret` (`writeOnly`), whose name is harmless or that the settings mark
/// [`HARMLESS`].
#[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
pub(crate) fn shows(root: &Json, schema: &Json, dotted: &str) -> bool {
    let write_only = |node: &Json| node.get("writeOnly") == Some(&Json::Bool(true));
    let mut at = resolve(root, schema);
    let mut marked = false;
    for part in dotted.split('.') {
        let Some(raw) = only_alternative(root, at).get("properties").and_then(|p| p.get(part)) else {
            return false;
        };
        at = resolve(root, raw);
        marked = [raw, at]
            .iter()
            .any(|node| node.get(HARMLESS) == Some(&Json::Bool(true)));
        if write_only(raw) || write_only(at) || alternatives(root, at).into_iter().any(write_only) {
            return false;
        }
    }
    let leaf = dotted.rsplit('.').next().unwrap_or(dotted);
    is_harmless_key(leaf) || marked
}

/// Follows `$ref: "#/definitions/Name"` (and draft 2019's `$defs`), and a
/// lone `allOf: [X]` (schemars' way to annotate a `$ref`) into `X`.
fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    let mut at = schema;
    for _ in 0..32 {
        if let Some(target) = at.get("$ref").and_then(Json::as_str) {
            let found = target.strip_prefix("#/").and_then(|path| {
                path.split('/')
                    .try_fold(root, |node, part| node.get(part.replace("~1", "/").replace("~0", "~")))
            });
            match found {
                Some(next) => at = next,
                None => return at,
            }
        } else if let Some([only]) = at.get("allOf").and_then(Json::as_array).map(Vec::as_slice)
            && ["type", "properties", "enum"].iter().all(|k| at.get(*k).is_none())
        {
            at = only;
        } else {
            return at;
        }
    }
    at
}

/// The one non-null alternative of an `anyOf`/`oneOf` (an `Option<T>`), or the schema itself.
fn only_alternative<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    let schema = resolve(root, schema);
    let alternatives = alternatives(root, schema);
    match alternatives.as_slice() {
        [one] => one,
        _ => schema,
    }
}

/// The non-null alternatives of an `anyOf`/`oneOf`, resolved.
fn alternatives<'a>(root: &'a Json, schema: &'a Json) -> Vec<&'a Json> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Json::as_array))
        .flatten()
        .map(|alt| resolve(root, alt))
        .filter(|alt| alt.get("type").and_then(Json::as_str) != Some("null"))
        .collect()
}

struct Checker<'a> {
    root: &'a Json,
    config: &'a Config,
    found: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, kind: DiagnosticKind, keys: Vec<String>, message: String) {
        self.found.push(
            Diagnostic::new(severity, kind, message)
                .connection(self.config.name())
                .keys(keys),
        );
    }

    fn invalid(&mut self, key: &str, problem: String) {
        let error = self.config.invalid(key, problem);
        self.found
            .push(Diagnostic::from_error(&error).connection(self.config.name()));
    }

    /// A table against an object schema: unknown keys, missing required keys, each value.
    fn table(&mut self, table: &toml::Table, schema: &Json, prefix: &str) {
        let root = self.root;
        let schema = only_alternative(root, schema);
        let empty = Map::new();
        let properties = schema.get("properties").and_then(Json::as_object).unwrap_or(&empty);
        // A map (`additionalProperties: {schema}`) takes any key; `false` none but its own.
        let extra = schema.get("additionalProperties");
        let closed = extra == Some(&Json::Bool(false));
        let label = |key: &str| {
            if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            }
        };
        for (key, value) in table {
            let dotted = label(key);
            if prefix.is_empty() && key == "type" && self.config.type_is_ours() {
                continue;
            }
            if let Some(property) = properties.get(key) {
                self.value(value, property, &dotted);
                continue;
            }
            match extra {
                Some(each @ Json::Object(_)) => self.value(value, each, &dotted),
                _ if properties.is_empty() && !closed => {}
                _ if listed(schema, "x-ignored", key) => {
                    let why = schema
                        .get("x-ignored-why")
                        .and_then(Json::as_str)
                        .unwrap_or("it has no effect on this connection type");
                    self.push(
                        Severity::Warning,
                        DiagnosticKind::IgnoredOption,
                        vec![dotted.clone()],
                        format!("[connections.{}]: ignoring `{dotted}`: {why}", self.config.name()),
                    );
                }
                _ => {
                    // A name people write for a key (`x-aliases`), else a close one.
                    let lower = key.to_ascii_lowercase();
                    let near = properties
                        .iter()
                        .find(|(_, property)| listed(property, "x-aliases", &lower))
                        .map(|(name, _)| name.clone())
                        .or_else(|| nearest(key, properties.keys().map(String::as_str)));
                    let (kind, near_text) = match &near {
                        Some(_) => (DiagnosticKind::NearMissKey, nearest_hint(near.as_deref())),
                        None => (DiagnosticKind::UnknownKey, String::new()),
                    };
                    let (severity, effect) = if closed {
                        (Severity::Error, "which its settings refuse")
                    } else {
                        (Severity::Warning, "which it ignores")
                    };
                    // `type` is the framework's key, not one of the settings.
                    let known: Vec<&str> = properties
                        .keys()
                        .map(String::as_str)
                        .filter(|k| !(prefix.is_empty() && *k == "type"))
                        .collect();
                    self.push(
                        severity,
                        kind,
                        vec![dotted.clone()],
                        format!(
                            "[connections.{}] has a key `{dotted}`{near_text} that connection type does not read, {effect}{}",
                            self.config.name(),
                            // The keys it does read, when no near miss says enough and they are few.
                            if near.is_some() {
                                String::new()
                            } else if known.len() > 12 {
                                "; its keys are in its settings' schema (`Registry::settings_schema`, `connections schema`)".to_owned()
                            } else {
                                let under = if prefix.is_empty() { String::new() } else { format!(" under `{prefix}`") };
                                format!("; its keys{under} are {}", list_or_none(&known))
                            }
                        ),
                    );
                }
            }
        }
        let missing: Vec<&str> = schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .filter(|key| !table.contains_key(*key))
            .collect();
        if missing.is_empty() {
            return;
        }
        if prefix.is_empty() {
            let error = self.config.missing_all(&missing);
            self.found
                .push(Diagnostic::from_error(&error).connection(self.config.name()));
        } else {
            let problem = format!("is missing {} (every one is required)", list_or_none(&missing));
            self.invalid(prefix, problem);
        }
    }

    /// One value against its schema: its kind, range and enum, and what it holds.
    fn value(&mut self, value: &toml::Value, schema: &Json, key: &str) {
        let root = self.root;
        let schema = resolve(root, schema);
        let alternatives = alternatives(root, schema);
        match alternatives.as_slice() {
            [] => {}
            [one] => return self.value(value, one, key),
            several => {
                if !several
                    .iter()
                    .any(|alt| kinds(alt).is_none_or(|k| k.iter().any(|t| fits(value, t))))
                {
                    let expected: Vec<String> = several.iter().filter_map(|alt| kinds(alt)).flatten().collect();
                    self.invalid(
                        key,
                        format!("has the wrong kind of value: write {}", list_or_none(&expected)),
                    );
                }
                return;
            }
        }
        if let Some(expected) = kinds(schema)
            && !expected.iter().any(|t| fits(value, t))
        {
            self.invalid(
                key,
                format!(
                    "should be {}, but is {}",
                    expected.iter().map(|t| a_kind(t)).collect::<Vec<_>>().join(" or "),
                    a_kind(kind_of(value))
                ),
            );
            return;
        }
        match value {
            toml::Value::Table(inner) => self.table(inner, schema, key),
            toml::Value::Array(items) => {
                if let Some(each) = schema.get("items").filter(|i| i.is_object()) {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, each, &format!("{key}[{i}]"));
                    }
                }
            }
            _ => {
                self.range(value, schema, key);
                self.one_of(value, schema, key);
            }
        }
    }

    /// `minimum`, `maximum` and their exclusive forms, for a number (or a quoted one).
    #[expect(
        clippy::cast_precision_loss,
        reason = "JSON Schema bounds are f64; beyond 2^53 a bound is approximate anyway"
    )]
    fn range(&mut self, value: &toml::Value, schema: &Json, key: &str) {
        let number = match value {
            toml::Value::Integer(i) => Some(*i as f64),
            toml::Value::Float(f) => Some(*f),
            toml::Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let Some(number) = number else { return };
        let bound = |k: &str| schema.get(k).and_then(Json::as_f64);
        let problem = if let Some(min) = bound("minimum")
            && number < min
        {
            Some(format!("must be at least {min}"))
        } else if let Some(max) = bound("maximum")
            && number > max
        {
            Some(format!("must be at most {max}"))
        } else if let Some(min) = bound("exclusiveMinimum")
            && number <= min
        {
            Some(format!("must be more than {min}"))
        } else if let Some(max) = bound("exclusiveMaximum")
            && number >= max
        {
            Some(format!("must be less than {max}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.invalid(key, format!("is out of range: it {problem}"));
        }
    }

    /// A string outside the schema's `enum`.
    fn one_of(&mut self, value: &toml::Value, schema: &Json, key: &str) {
        let (Some(allowed), toml::Value::String(given)) = (schema.get("enum").and_then(Json::as_array), value) else {
            return;
        };
        let names: Vec<&str> = allowed.iter().filter_map(Json::as_str).collect();
        if names.is_empty() || names.contains(&given.as_str()) {
            return;
        }
        let hint = nearest_hint(nearest(given, names.iter().copied()).as_deref());
        self.invalid(key, format!("is not one of {}{hint}", list_or_none(&names)));
    }
}

/// Whether `schema`'s list `keyword` (`x-ignored`, `x-aliases`) holds `name`.
fn listed(schema: &Json, keyword: &str, name: &str) -> bool {
    schema
        .get(keyword)
        .and_then(Json::as_array)
        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(name)))
}

/// The JSON kinds a schema allows (`type`), `null` left out; `None`: any.
fn kinds(schema: &Json) -> Option<Vec<String>> {
    let kinds: Vec<String> = match schema.get("type")? {
        Json::String(one) => vec![one.clone()],
        Json::Array(many) => many.iter().filter_map(Json::as_str).map(str::to_owned).collect(),
        _ => return None,
    };
    let kinds: Vec<String> = kinds.into_iter().filter(|k| k != "null").collect();
    (!kinds.is_empty()).then_some(kinds)
}

/// Whether a TOML value is of JSON kind `kind`; a quoted number or boolean
/// fits too, as [`Config::get`] reads it (Streamlit files often quote them).
fn fits(value: &toml::Value, kind: &str) -> bool {
    match (kind, value) {
        ("string", toml::Value::String(_) | toml::Value::Datetime(_))
        | ("integer", toml::Value::Integer(_))
        | ("number", toml::Value::Integer(_) | toml::Value::Float(_))
        | ("boolean", toml::Value::Boolean(_))
        | ("array", toml::Value::Array(_))
        | ("object", toml::Value::Table(_)) => true,
        ("integer", toml::Value::String(s)) => s.trim().parse::<i64>().is_ok(),
        ("number", toml::Value::String(s)) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        ("boolean", toml::Value::String(s)) => matches!(s.trim(), "true" | "false"),
        _ => false,
    }
}

/// The JSON kind a TOML value is.
fn kind_of(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) | toml::Value::Datetime(_) => "string",
        toml::Value::Integer(_) => "integer",
        toml::Value::Float(_) => "number",
        toml::Value::Boolean(_) => "boolean",
        toml::Value::Array(_) => "array",
        toml::Value::Table(_) => "object",
    }
}

/// A kind as a message says it: `a string`, `a whole number`, `a table`...
fn a_kind(kind: &str) -> &'static str {
    match kind {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "`true` or `false`",
        "array" => "an array",
        "object" => "a table",
        _ => "another kind of value",
    }
}

/// The schema of a secrets file whose sections are read as `types`: (short
/// name, full path, settings schema).
pub(crate) fn settings_schema(types: &[(&'static str, &'static str, Json)]) -> Json {
    let mut definitions = Map::new();
    let mut branches = Vec::new();
    for (type_name, type_path, schema) in types {
        let prefix = format!("{type_name}.");
        let mut schema = schema.clone();
        // Each type's own definitions, renamed under its name so two types' never clash.
        if let Some(Json::Object(own)) = schema.as_object_mut().and_then(|s| s.remove("definitions")) {
            for (name, mut def) in own {
                rename_refs(&mut def, &prefix);
                definitions.insert(format!("{prefix}{name}"), def);
            }
        }
        rename_refs(&mut schema, &prefix);
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            let names: Vec<Json> = [*type_name, *type_path].iter().map(|n| Json::from(*n)).collect();
            let properties = object.entry("properties").or_insert_with(|| Json::Object(Map::new()));
            if let Some(properties) = properties.as_object_mut() {
                properties.insert(
                    "type".to_owned(),
                    serde_json::json!({ "description": "The connection type.", "enum": names }),
                );
            }
        }
        definitions.insert((*type_name).to_owned(), schema);
        branches.push(serde_json::json!({
            "if": { "properties": { "type": { "enum": [type_name, type_path] } }, "required": ["type"] },
            "then": { "$ref": format!("#/definitions/{type_name}") }
        }));
    }
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Streamlit-style secrets for connections",
        "description": "Top-level keys are free; each [connections.<name>] is the settings of its `type`.",
        "type": "object",
        "properties": {
            "connections": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": { "type": { "type": "string", "description": "The connection type: its short name or full Rust path." } },
                    "allOf": branches
                }
            }
        },
        "definitions": definitions
    })
}

/// `#/definitions/X` -> `#/definitions/<prefix>X`, everywhere in `schema`.
fn rename_refs(schema: &mut Json, prefix: &str) {
    match schema {
        Json::Object(object) => {
            for (key, value) in object.iter_mut() {
                if key == "$ref"
                    && let Json::String(target) = value
                    && let Some(name) = target.strip_prefix("#/definitions/")
                {
                    *target = format!("#/definitions/{prefix}{name}");
                } else {
                    rename_refs(value, prefix);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, prefix)),
        _ => {}
    }
}
