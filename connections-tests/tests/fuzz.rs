//! Property-based tests: no input makes the runtime panic, and every rejection
//! is a typed `connections::Error` whose message names where the input
//! was (the secrets file and line, the connection name, the key, the type asked
//! for) and never shows a configuration value.
//!
//! Its own test binary: the connection types below register globally, and the
//! cases are counted so the whole binary runs in a few seconds in debug.

#![allow(clippy::unused_self, clippy::unnecessary_wraps)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use connections::prelude::*;
use connections::{Registry, Secrets};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// Echoes its `text` key, so a test can see which config a connection got.
#[derive(Connection)]
#[connection(type_name = "fuzz-echo")]
struct FuzzEcho {
    base: BaseConnection<String>,
}

impl FuzzEcho {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get_opt::<String>("text")?.unwrap_or_default())
    }
}

/// A second type, so a type name can resolve to the wrong one.
#[derive(Connection)]
#[connection(type_name = "fuzz-other")]
struct FuzzOther {
    base: BaseConnection<()>,
}

impl FuzzOther {
    fn _connect(&self, _: &Config) -> Result<(), BoxError> {
        Ok(())
    }
}

fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn fail(what: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(what.into())
}

/// A planted secret: it must never appear in an error's `Display` or `Debug`.
fn secret() -> impl Strategy<Value = String> {
    "SECRET-[A-Za-z0-9]{6,16}"
}

/// Text with control characters and any other `char`.
fn any_chars(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// `err`'s `Display`, `Debug` and alternate `Debug` hold neither `secret` nor
/// the marker every planted secret starts with.
fn assert_no_secret(err: &Error, secret: &str) -> Result<(), TestCaseError> {
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        prop_assert!(!text.contains(secret), "a value leaked: {}", text);
        prop_assert!(!text.contains("SECRET-"), "part of a value leaked: {}", text);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. Secrets text
// ---------------------------------------------------------------------------

/// A secrets label: the usual one, or odd but printable file names.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fuzz-secrets.toml".to_owned()),
        "[a-z0-9 _./-]{1,16}\\.toml",
        "[^\\x00/\\p{Cc}]{1,8}\\.toml",
    ]
}

/// A TOML key as written, bare or quoted, valid or nearly so.
fn toml_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_-]{0,6}",
        1 => Just("connections".to_owned()),
        1 => "\"[^\"\\n]{0,8}\"",
        1 => "'[^'\\n]{0,8}'",
        1 => "[a-z.\\-\" =\\[\\]]{0,6}",
        1 => "\\PC{0,4}",
    ]
    .boxed()
}

/// A dotted key path as written: `a`, `a.b`, `"x".'y'.z`.
fn toml_path() -> BoxedStrategy<String> {
    vec(toml_key(), 1..4).prop_map(|keys| keys.join(".")).boxed()
}

/// A scalar as written, valid or nearly so; some hold a planted secret.
fn toml_scalar() -> BoxedStrategy<String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        "[+-]?(0x|0o|0b)?[0-9a-fA-F_]{1,10}",
        "[+-]?[0-9_]{1,5}(\\.[0-9_]{0,4})?([eE][+-]?[0-9]{0,3})?",
        "[+-]?(nan|inf)",
        "true|false|tru|False",
        "\"[^\"\\n]{0,12}\"",
        "'[^'\\n]{0,12}'",
        "\"\"\"[^\\x00]{0,16}\"\"\"",
        "'''[^\\x00]{0,16}'''",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "[0-9]{2}:[0-9]{2}(:[0-9]{2})?",
        secret().prop_map(|s| format!("\"{s}\"")),
        secret().prop_map(|s| format!("'{s}'")),
        // Not TOML values: bare, unterminated, or with a raw control character.
        secret(),
        secret().prop_map(|s| format!("\"{s}")),
        secret().prop_map(|s| format!("\"\"\"{s}")),
        secret().prop_map(|s| format!("\"{s}\u{1}\"")),
    ]
    .boxed()
}

/// A value as written: scalars, arrays and inline tables, balanced or not.
fn toml_value_text() -> BoxedStrategy<String> {
    toml_scalar()
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
                vec(inner.clone(), 0..4).prop_map(|v| format!("[\n{},\n]", v.join(",\n"))),
                vec((toml_path(), inner.clone()), 0..4).prop_map(|kv| {
                    let kv: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", kv.join(", "))
                }),
                vec(inner, 0..3).prop_map(|v| format!("[{}", v.join(", "))),
            ]
        })
        .boxed()
}

/// One line of a near-TOML file.
fn toml_line() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (toml_path(), toml_value_text()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => toml_path().prop_map(|p| format!("[{p}]")),
        2 => toml_key().prop_map(|k| format!("[connections.{k}]")),
        1 => toml_value_text().prop_map(|v| format!("type = {v}")),
        1 => Just("type = \"fuzz-echo\"".to_owned()),
        1 => toml_path().prop_map(|p| format!("[[{p}]]")),
        1 => "[ \\t]*#[^\\n]{0,16}",
        1 => "\\PC{0,24}",
        1 => any_chars(8),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// Lines of any kind, joined by `\n`, `\r\n`, a lone `\r`, or a space: mostly
/// malformed.
fn junk_toml() -> impl Strategy<Value = String> {
    let sep = prop_oneof![6 => Just("\n"), 1 => Just("\r\n"), 1 => Just("\r"), 1 => Just(" ")];
    vec((toml_line(), sep), 0..12).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(line, sep)| [line, sep.to_owned()])
            .collect()
    })
}

fn valid_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_-]{0,6}",
        1 => "\"[a-zA-Z0-9 ._é-]{0,8}\"",
        1 => "'[a-zA-Z0-9 ._é-]{0,8}'",
    ]
    .boxed()
}

fn valid_value() -> BoxedStrategy<String> {
    let scalar = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        "[+-]?[0-9]{1,5}\\.[0-9]{1,4}",
        "[+-]?(nan|inf)",
        "true|false",
        "\"[^\"\\\\\\p{Cc}]{0,12}\"",
        "'[^'\\p{Cc}]{0,12}'",
        "19[0-9]{2}-0[1-9]-[0-2][1-8](T[01][0-9]:[0-5][0-9]:[0-5][0-9]Z)?",
        secret().prop_map(|s| format!("\"{s}\"")),
    ];
    scalar
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
                vec((valid_key(), inner), 0..4).prop_map(|kv| {
                    let kv: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", kv.join(", "))
                }),
            ]
        })
        .boxed()
}

/// A line that is valid TOML on its own (a repeated key or table still makes
/// the file invalid).
fn valid_line() -> BoxedStrategy<String> {
    let path = vec(valid_key(), 1..3).prop_map(|keys| keys.join("."));
    prop_oneof![
        6 => (path.clone(), valid_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => valid_key().prop_map(|k| format!("[connections.{k}]")),
        1 => path.prop_map(|p| format!("[{p}]")),
        2 => prop_oneof![Just("fuzz-echo"), Just("fuzz-other"), Just("fuzz::FuzzEcho"), Just("nope")]
            .prop_map(|t| format!("type = \"{t}\"")),
        1 => "# [^\\p{Cc}]{0,16}",
        1 => Just(String::new()),
    ]
    .boxed()
}

/// Valid-looking files, some with a few edits: a character or some
/// punctuation inserted, a character removed, or a malformed line spliced in,
/// anywhere. Planted secrets stay in value position; keys are shown by design.
fn near_toml() -> impl Strategy<Value = String> {
    let edit = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        toml_line().prop_map(|l| format!("\n{l}\n")),
        "[\"'\\[\\]{}=,.#\\\\ ]{1,3}",
        Just(String::new()),
    ];
    let file = vec(valid_line(), 0..16).prop_map(|lines| lines.join("\n"));
    let edited = (file.clone(), vec((any::<Index>(), edit), 1..3)).prop_map(|(mut text, edits)| {
        for (at, insert) in edits {
            let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let at = bounds[at.index(bounds.len())];
            if insert.is_empty() {
                // Remove the character at `at`, if any.
                if let Some(c) = text[at..].chars().next() {
                    text.replace_range(at..at + c.len_utf8(), "");
                }
            } else {
                text.insert_str(at, &insert);
            }
        }
        text
    });
    prop_oneof![file, edited, junk_toml()]
}

/// Deep nesting, up to 128 levels (past the parser's own nesting limit, which
/// must give a typed error too): headers, arrays of tables, dotted keys,
/// nested arrays and inline tables, duplicates, unclosed brackets, and any of
/// them cut short.
///
/// `toml` reports a dotted key or header of 80 or more parts with no
/// position; `MalformedSecrets` then says so rather than invent one.
fn deep_toml() -> impl Strategy<Value = String> {
    (1usize..=128, 0usize..8, any::<bool>(), any::<Index>()).prop_map(|(depth, kind, cut, at)| {
        let path = vec!["a"; depth].join(".");
        let text = match kind {
            0 => format!("[{path}]\nk = 1\n"),
            1 => format!("[[{path}]]\nk = 1\n[[{path}]]\n"),
            2 => format!("{path} = 1\n"),
            3 => format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
            4 => format!("x = {}1{}\n", "{ a = ".repeat(depth), " }".repeat(depth)),
            5 => format!("[{path}]\n[{path}]\n"),
            6 => format!("{path} = 1\n[{path}]\n"),
            _ => format!("x = {}\n", "[".repeat(depth)),
        };
        if cut {
            // ASCII only, so any byte offset is a char boundary.
            text[..at.index(text.len() + 1)].to_owned()
        } else {
            text
        }
    })
}

/// Files with one huge (50 to 120 KB) string, key or bare value, ASCII or not.
fn huge_toml() -> impl Strategy<Value = String> {
    (50_000usize..=120_000, 0usize..7, any::<bool>(), secret()).prop_map(|(len, kind, wide, secret)| {
        let body = if wide { "xé".repeat(len / 3) } else { "x".repeat(len) };
        match kind {
            0 => format!("[connections.big]\ntype = \"fuzz-echo\"\ntext = \"{body}\"\n"),
            1 => format!("text = \"{body}{secret}\n"),
            2 => format!("text = '''{body}\n{secret}"),
            3 => format!("text = \"{body}\u{1}{secret}\"\n"),
            4 => format!("\"{body}\" = 1\n"),
            5 => format!("{body} = 1\n"),
            _ => format!("a = 1\ntext = {body}{secret}\n"),
        }
    })
}

/// Reads `text` as the secrets file `label` (after a valid layer, if `layered`)
/// and as a `Config`; checks either the error or what the secrets give.
fn check_secrets_text(label: &str, text: &str, layered: bool) -> Result<(), TestCaseError> {
    let mut builder = Registry::builder();
    if layered {
        builder = builder.secrets_toml("fuzz-base.toml", "[connections.base]\ntype = 'fuzz-echo'");
    }
    let registry = builder.secrets_toml(label, text).build();
    let from_config = Config::from_toml("fuzz", text);
    match registry.secrets() {
        Ok(secrets) => {
            prop_assert!(
                from_config.is_ok(),
                "the registry parsed what Config::from_toml did not"
            );
            exercise_secrets(&registry, &secrets)
        }
        Err(err) => {
            check_malformed(&err, label, text)?;
            let config_err = from_config
                .err()
                .ok_or_else(|| fail("Config::from_toml parsed a malformed text"))?;
            check_malformed(&config_err, "<inline config>", text)?;
            // The same position, whichever label names the text.
            let (
                Error::MalformedSecrets {
                    line: l1, column: c1, ..
                },
                Error::MalformedSecrets {
                    line: l2, column: c2, ..
                },
            ) = (&err, &config_err)
            else {
                unreachable!("checked above");
            };
            prop_assert_eq!((l1, c1), (l2, c2));
            Ok(())
        }
    }
}

/// A parse error is `MalformedSecrets` at a line and column inside `text`,
/// named in the message with the file, and quotes none of the text.
fn check_malformed(err: &Error, label: &str, text: &str) -> Result<(), TestCaseError> {
    let Error::MalformedSecrets { path, line, column, .. } = err else {
        return Err(fail(format!("not MalformedSecrets: {err:?}")));
    };
    prop_assert_eq!(path.as_path(), Path::new(label));
    let shown = err.to_string();
    let (Some(line), Some(column)) = (line, column) else {
        prop_assert!(
            line.is_none() && column.is_none(),
            "half a position: {:?} {:?}",
            line,
            column
        );
        prop_assert!(shown.contains(label) && shown.contains("no position"), "{}", shown);
        return assert_no_secret(err, "SECRET-");
    };
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        *line >= 1 && *line <= lines.len() + 1,
        "line {} of {}",
        line,
        lines.len()
    );
    let line_chars = lines.get(line - 1).map_or(0, |l| l.chars().count());
    prop_assert!(
        *column >= 1 && *column <= line_chars + 1,
        "column {} on a line of {} chars",
        column,
        line_chars
    );
    prop_assert!(shown.contains(label), "the file is not named: {}", shown);
    prop_assert!(
        shown.contains(&format!("line {line}")),
        "the line is not named: {}",
        shown
    );
    assert_no_secret(err, "SECRET-")
}

/// Parsed secrets: every top-level key reads without panicking, and every
/// connection section looks up, typed and dynamically, or fails with a typed
/// error that names it.
fn exercise_secrets(registry: &Registry, secrets: &Secrets) -> Result<(), TestCaseError> {
    let _ = format!("{secrets:?}");
    for key in secrets.as_table().keys() {
        prop_assert!(secrets.contains(key));
        let value = secrets.get_opt::<Value>(key).map_err(|e| fail(format!("{key}: {e}")))?;
        prop_assert!(value.is_some());
        if let Err(err) = secrets.get::<u16>(key) {
            let Error::InvalidValue { key: k, .. } = &err else {
                return Err(fail(format!("not InvalidValue: {err:?}")));
            };
            prop_assert_eq!(k, key);
            prop_assert!(err.to_string().contains(&format!("`{key}`")), "{}", err);
            if !key.contains("SECRET-") {
                assert_no_secret(&err, "SECRET-")?;
            }
        }
    }
    for name in secrets.connection_names() {
        check_typed_lookup(registry, name, None)?;
        let resolved = match classify(name) {
            Name::Valid(resolved) => resolved,
            bad => {
                check_name_error(&registry.connection_dyn(name).map(drop), name, &bad)?;
                continue;
            }
        };
        match registry.connection_dyn(name) {
            Ok(conn) => prop_assert_eq!(conn.name(), resolved.as_str()),
            Err(err) => {
                let named = match &err {
                    Error::NoSection { name: n, .. } | Error::NoTypeKey { name: n, .. } => n == &resolved,
                    Error::InvalidValue { key, table, .. } => {
                        key == "type" && table == &format!("[connections.{resolved}]")
                    }
                    Error::UnknownType { .. } | Error::AmbiguousType { .. } => true,
                    _ => false,
                };
                prop_assert!(named, "connection_dyn({:?}): {:?}", name, err);
                prop_assert!(err.to_string().contains(&resolved), "the name is not shown: {}", err);
                if !resolved.contains("SECRET-") {
                    assert_no_secret(&err, "SECRET-")?;
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 2. Connection names
// ---------------------------------------------------------------------------

/// What a name should do, from the README: `env:VAR` stands for `$VAR`; the
/// resolved name must be non-empty and free of control characters.
#[derive(Debug)]
enum Name {
    Invalid,
    Unset(String),
    Valid(String),
}

fn classify(name: &str) -> Name {
    let resolved = match name.strip_prefix("env:") {
        Some(var) => match std::env::var(var) {
            Ok(value) => value,
            Err(_) => return Name::Unset(var.to_owned()),
        },
        None => name.to_owned(),
    };
    if resolved.is_empty() || resolved.chars().any(char::is_control) {
        Name::Invalid
    } else {
        Name::Valid(resolved)
    }
}

fn connection_name() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("env:".to_owned()),
        "env:CONNECTIONS_FUZZ_UNSET_[A-Za-z0-9_]{0,24}",
        any_chars(12).prop_map(|c| format!("env:CONNECTIONS_FUZZ_UNSET_{c}")),
        Just("env:PATH".to_owned()),
        Just(FuzzEcho::TYPE_NAME.to_owned()),
        Just(FuzzOther::TYPE_NAME.to_owned()),
        "[a-z_][a-z0-9_.-]{0,12}",
        "\\PC{1,16}",
        any_chars(16),
        "[\\x00-\\x1f\\x7f-\\u{9f}]{1,3}",
        ("\\PC{1,4}", "[\\x00-\\x1f\\x7f-\\u{9f}]", "\\PC{0,4}").prop_map(|(a, c, b)| a + &c + &b),
        (1usize..20_000).prop_map(|n| "n".repeat(n)),
        "[a-zé ]{2000,4000}",
    ]
    .boxed()
}

/// How the secrets of a name test look.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// No secrets file at all.
    Missing,
    /// An empty file.
    Empty,
    /// `[connections.<name>]` with `type = "fuzz-echo"`.
    Typed,
    /// `[connections.<name>]` without a `type` key.
    Untyped,
    /// `[connections.<name>]` with a `type` no type has.
    UnknownType,
}

const UNKNOWN_TYPE: &str = "no-such-fuzz-type";

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Missing),
        Just(Layout::Empty),
        Just(Layout::Typed),
        Just(Layout::Untyped),
        Just(Layout::UnknownType),
    ]
}

/// A registry whose secrets hold, per `layout`, a section for `section`, with `text = section`.
fn registry_for(layout: Layout, section: &str) -> Registry {
    let label = "fuzz-names.toml";
    let ty = match layout {
        Layout::Missing => {
            return Registry::builder()
                .secrets_paths(["/nonexistent/connections-fuzz/secrets.toml"])
                .build();
        }
        Layout::Empty => return Registry::builder().secrets_toml(label, "").build(),
        Layout::Typed => Some(FuzzEcho::TYPE_NAME),
        Layout::Untyped => None,
        Layout::UnknownType => Some(UNKNOWN_TYPE),
    };
    let mut table = Table::new();
    table.insert("text".into(), section.into());
    if let Some(ty) = ty {
        table.insert("type".into(), ty.into());
    }
    let text = toml::to_string(&sections([(section, table)])).expect("a table serializes");
    Registry::builder().secrets_toml(label, text).build()
}

/// `{ connections = { name = table, ... } }`.
fn sections<'a>(items: impl IntoIterator<Item = (&'a str, Table)>) -> Table {
    let connections: Table = items
        .into_iter()
        .map(|(name, table)| (name.to_owned(), Value::Table(table)))
        .collect();
    Table::from_iter([("connections".to_owned(), Value::Table(connections))])
}

/// A rejected name: `InvalidName` naming the name as given, or `EnvVar`
/// naming the variable; either message says "connection name".
fn check_name_error<T>(result: &Result<T, Error>, name: &str, expected: &Name) -> Result<(), TestCaseError> {
    let Err(err) = result else {
        return Err(fail(format!("{name:?} ({expected:?}) was accepted")));
    };
    let shown = err.to_string();
    match (expected, err) {
        (Name::Invalid, Error::InvalidName { name: n, problem }) => {
            prop_assert_eq!(n, name);
            prop_assert!(!problem.is_empty());
        }
        (Name::Unset(var), Error::EnvVar { var: v, .. }) => {
            prop_assert_eq!(v, var);
            prop_assert!(shown.contains(var.as_str()), "the variable is not named: {}", shown);
        }
        _ => return Err(fail(format!("{name:?} ({expected:?}) gave {err:?}"))),
    }
    prop_assert!(shown.contains("connection name"), "{}", shown);
    Ok(())
}

/// `connection::<FuzzEcho>` and `connection_ref` succeed for every valid name
/// (a section is not required) and reject the others by name; `text`, when
/// given, is what the connection must echo.
fn check_typed_lookup(registry: &Registry, name: &str, text: Option<&str>) -> Result<(), TestCaseError> {
    let typed = registry.connection::<FuzzEcho>(name);
    let by_ref = registry.connection_ref::<FuzzEcho>(name);
    match classify(name) {
        Name::Valid(resolved) => {
            let conn = typed.map_err(|e| fail(format!("typed {name:?}: {e}")))?;
            let by_ref = by_ref.map_err(|e| fail(format!("connection_ref {name:?}: {e}")))?;
            prop_assert_eq!(conn.name(), resolved.as_str());
            prop_assert!(
                Arc::ptr_eq(&conn, &by_ref.to_arc()),
                "connection_ref is not the cached one"
            );
            match conn.instance() {
                Ok(echoed) => {
                    if let Some(text) = text {
                        prop_assert_eq!(echoed.as_str(), text);
                    }
                }
                // Only a non-string `text` key in a fuzzed file fails here.
                Err(err) => {
                    prop_assert!(
                        matches!(&err, Error::InvalidValue { key, .. } if key == "text"),
                        "{:?}",
                        err
                    );
                    if !name.contains("SECRET-") {
                        assert_no_secret(&err, "SECRET-")?;
                    }
                }
            }
        }
        bad => {
            check_name_error(&typed, name, &bad)?;
            check_name_error(&by_ref.map(|r| r.to_arc()), name, &bad)?;
        }
    }
    Ok(())
}

fn check_name(name: &str, layout: Layout) -> Result<(), TestCaseError> {
    let expected = classify(name);
    let section = match &expected {
        Name::Valid(resolved) => resolved.as_str(),
        _ => name,
    };
    let registry = registry_for(layout, section);
    let text = match layout {
        Layout::Missing | Layout::Empty => "",
        _ => section,
    };
    check_typed_lookup(&registry, name, Some(text))?;

    let dynamic = registry.connection_dyn(name);
    let Name::Valid(resolved) = expected else {
        return check_name_error(&dynamic.map(drop), name, &expected);
    };
    if resolved == FuzzEcho::TYPE_NAME || resolved == FuzzOther::TYPE_NAME {
        // A name that is itself a `type_name` is that type (Streamlit's rule).
        let conn = dynamic.map_err(|e| fail(format!("{e}")))?;
        prop_assert_eq!(conn.type_name(), resolved.as_str());
        return Ok(());
    }
    if let Layout::Typed = layout {
        let conn = dynamic.map_err(|e| fail(format!("{name:?}: {e}")))?;
        prop_assert_eq!(conn.name(), resolved.as_str());
        prop_assert_eq!(conn.type_name(), FuzzEcho::TYPE_NAME);
        return Ok(());
    }
    let err = dynamic
        .err()
        .ok_or_else(|| fail(format!("{name:?} in {layout:?} was accepted")))?;
    let typed_right = match (layout, &err) {
        (Layout::Missing, Error::NoSecrets { name: n, .. })
        | (Layout::Empty, Error::NoSection { name: n, .. })
        | (Layout::Untyped, Error::NoTypeKey { name: n, .. }) => n == &resolved,
        (Layout::UnknownType, Error::UnknownType { requested, .. }) => requested == UNKNOWN_TYPE,
        _ => false,
    };
    prop_assert!(typed_right, "{:?} in {:?} gave {:?}", name, layout, err);
    let shown = err.to_string();
    prop_assert!(shown.contains(&resolved), "the connection is not named: {}", shown);
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. kwargs
// ---------------------------------------------------------------------------

fn kwarg_key() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("text".to_owned()),
        "[a-z]{1,3}(\\.[a-z]{0,3}){0,2}",
        "\\.{1,3}",
        "\\PC{0,8}",
        any_chars(6),
    ]
    .boxed()
}

/// Any TOML value: strings (control characters included), integers, floats
/// (NaN, both infinities, both zeros), booleans, datetimes, arrays and tables.
fn toml_value() -> BoxedStrategy<Value> {
    toml_value_with(None)
}

/// As [`toml_value`], with `secret` (bare and inside other text) among the strings.
fn toml_value_with(secret: Option<String>) -> BoxedStrategy<Value> {
    let float = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
    ];
    let datetime = prop_oneof![
        Just("1979-05-27T07:32:00Z"),
        Just("1979-05-27T00:32:00.999999-07:00"),
        Just("1979-05-27T07:32:00"),
        Just("1979-05-27"),
        Just("07:32:00"),
    ]
    .prop_map(|s| Value::Datetime(s.parse().expect("a valid datetime")));
    let strings = prop_oneof![
        "\\PC{0,12}",
        any_chars(8),
        // Quoted scalars, which typed reads accept as numbers and booleans.
        "[ ]?-?[0-9]{1,6}[ ]?",
        "-?[0-9]{1,3}\\.[0-9]{1,3}(e[0-9])?",
        "true|false",
    ];
    let mut leaves = vec![
        (4, strings.prop_map(Value::String).boxed()),
        (2, any::<i64>().prop_map(Value::Integer).boxed()),
        (1, (0i64..70_000).prop_map(Value::Integer).boxed()),
        (2, float.prop_map(Value::Float).boxed()),
        (1, any::<bool>().prop_map(Value::Boolean).boxed()),
        (1, datetime.boxed()),
    ];
    if let Some(secret) = secret {
        let forms = [secret.clone(), format!(" {secret} "), format!("user:{secret}@host")];
        leaves.push((
            4,
            proptest::sample::select(forms.to_vec()).prop_map(Value::String).boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(leaves)
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                vec((kwarg_key(), inner), 0..4).prop_map(|kv| Value::Table(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Distinct keys (the first value of a repeated key wins), in generation order.
fn kwargs() -> impl Strategy<Value = Vec<(String, Value)>> {
    vec((kwarg_key(), toml_value()), 0..6).prop_map(|pairs| {
        let mut seen = std::collections::BTreeSet::new();
        pairs.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect()
    })
}

/// Equal as configuration: floats by bits, but any NaN equals any NaN.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Table(x), Value::Table(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// As [`same_value`], except that a datetime reads back as its text: reading
/// into a `toml::Value` goes through serde, and `toml`'s own `Value` to
/// `Value` deserialization turns datetimes into strings.
fn reads_back_as(given: &Value, read: &Value) -> bool {
    match (given, read) {
        (Value::Datetime(d), Value::String(s)) => d.to_string() == *s,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| reads_back_as(a, b)),
        (Value::Table(x), Value::Table(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| reads_back_as(v, w)))
        }
        _ => same_value(given, read),
    }
}

fn same_kwargs(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    let a: BTreeMap<_, _> = a.iter().map(|(k, v)| (k, v)).collect();
    let b: BTreeMap<_, _> = b.iter().map(|(k, v)| (k, v)).collect();
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
}

fn lookup_with(registry: &Registry, kwargs: &[(String, Value)]) -> Result<Arc<FuzzEcho>, TestCaseError> {
    let mut lookup = registry.lookup("kw");
    for (k, v) in kwargs {
        lookup = lookup.kwarg(k.clone(), v.clone());
    }
    lookup
        .get::<FuzzEcho>()
        .map_err(|e| fail(format!("kwargs {kwargs:?}: {e}")))
}

fn check_kwargs(
    kwargs: &[(String, Value)],
    shuffled: &[(String, Value)],
    other: &[(String, Value)],
) -> Result<(), TestCaseError> {
    let registry = Registry::builder()
        .secrets_toml("fuzz-kwargs.toml", "[connections.kw]\ntext = 'from secrets'\nport = 1")
        .build();
    let conn = lookup_with(&registry, kwargs)?;
    let again = lookup_with(&registry, shuffled)?;
    prop_assert!(
        Arc::ptr_eq(&conn, &again),
        "the same kwargs in another order built another connection"
    );

    let different = lookup_with(&registry, other)?;
    if !same_kwargs(kwargs, other) {
        prop_assert!(
            !Arc::ptr_eq(&conn, &different),
            "different kwargs share a connection: {:?} and {:?}",
            kwargs,
            other
        );
    }

    let config = conn.config();
    for (key, value) in kwargs {
        let read = config
            .get_opt::<Value>(key)
            .map_err(|e| fail(format!("kwarg {key:?} reads back as an error: {e}")))?;
        let read = read.ok_or_else(|| fail(format!("kwarg {key:?} is missing from the config")))?;
        prop_assert!(
            reads_back_as(value, &read),
            "kwarg {:?}: {:?} read back as {:?}",
            key,
            value,
            read
        );
        // Dotted prefixes reach into sub-tables, or find nothing; never a panic.
        for (i, _) in key.match_indices('.') {
            let _ = config.get_opt::<Value>(&key[..i]);
        }
    }

    let text = kwargs.iter().find(|(k, _)| k == "text").map(|(_, v)| v);
    match (conn.instance(), text) {
        (Ok(echoed), None) => prop_assert_eq!(echoed.as_str(), "from secrets"),
        (Ok(echoed), Some(Value::String(s))) => prop_assert_eq!(echoed.as_str(), s.as_str()),
        // A datetime reads as its text.
        (Ok(echoed), Some(Value::Datetime(d))) => prop_assert_eq!(echoed.as_str(), d.to_string()),
        (Err(err), Some(v)) if !v.is_str() && !v.is_datetime() => {
            prop_assert!(
                matches!(&err, Error::InvalidValue { key, .. } if key == "text"),
                "{:?}",
                err
            );
            prop_assert!(err.to_string().contains("call-site kwargs"), "{}", err);
        }
        (result, text) => return Err(fail(format!("text kwarg {text:?} gave {result:?}"))),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. Type names
// ---------------------------------------------------------------------------

fn type_name() -> BoxedStrategy<String> {
    prop_oneof![
        Just(FuzzEcho::TYPE_NAME.to_owned()),
        Just(FuzzEcho::TYPE_PATH.to_owned()),
        Just(FuzzEcho::TYPE_PATH.replace("::", ".")),
        Just(FuzzOther::TYPE_NAME.to_owned()),
        Just(FuzzOther::TYPE_PATH.to_owned()),
        Just(String::new()),
        "(::|\\.|fuzz::|fuzz-ech|FUZZ-ECHO|fuzz\\.\\.FuzzEcho|fuzz::FuzzEcho\\.x|fuzz\\.FuzzEcho::)",
        "[a-zA-Z:.\\-]{0,12}",
        "\\PC{0,16}",
        any_chars(12),
        "[a-z]{500,3000}",
    ]
    .boxed()
}

#[derive(Debug, PartialEq)]
enum Resolves {
    Echo,
    Other,
    Nothing,
}

/// The README's rule: a short name or full path, or Streamlit's dotted path.
fn resolves(requested: &str) -> Resolves {
    let normalized = if !requested.contains("::") && requested.contains('.') {
        requested.replace('.', "::")
    } else {
        requested.to_owned()
    };
    if normalized == FuzzEcho::TYPE_NAME || normalized == FuzzEcho::TYPE_PATH {
        Resolves::Echo
    } else if normalized == FuzzOther::TYPE_NAME || normalized == FuzzOther::TYPE_PATH {
        Resolves::Other
    } else {
        Resolves::Nothing
    }
}

/// An unknown type is `UnknownType` asking for exactly `requested`, and says so.
fn check_unknown_type(err: &Error, requested: &str) -> Result<(), TestCaseError> {
    let Error::UnknownType { requested: r, .. } = err else {
        return Err(fail(format!("{requested:?} gave {err:?}")));
    };
    prop_assert_eq!(r, requested);
    let shown = err.to_string();
    prop_assert!(shown.contains("unknown connection type"), "{}", shown);
    prop_assert!(shown.contains(requested), "the type asked for is not shown: {}", shown);
    Ok(())
}

fn check_type_name(requested: &str) -> Result<(), TestCaseError> {
    let expected = resolves(requested);

    // As `with_type`.
    let registry = Registry::builder().secrets_toml("fuzz-types.toml", "").build();
    let typed = registry.lookup("by_code").with_type(requested).get::<FuzzEcho>();
    match (&expected, typed) {
        (Resolves::Echo, Ok(_)) => {}
        (
            Resolves::Other,
            Err(Error::TypeMismatch {
                requested: r, found, ..
            }),
        ) => {
            prop_assert_eq!(r, FuzzEcho::TYPE_PATH);
            prop_assert_eq!(found, FuzzOther::TYPE_PATH);
        }
        (Resolves::Nothing, Err(err)) => {
            check_unknown_type(&err, requested)?;
            let shown = err.to_string();
            prop_assert!(
                shown.contains("the `with_type` option of connection `by_code`"),
                "the option and connection are not named: {}",
                shown
            );
        }
        (expected, result) => return Err(fail(format!("{requested:?} ({expected:?}): {:?}", result.map(drop)))),
    }
    let dynamic = registry.lookup("by_code").with_type(requested).get_dyn();
    match (&expected, dynamic) {
        (Resolves::Echo, Ok(conn)) => prop_assert_eq!(conn.type_path(), FuzzEcho::TYPE_PATH),
        (Resolves::Other, Ok(conn)) => prop_assert_eq!(conn.type_path(), FuzzOther::TYPE_PATH),
        (Resolves::Nothing, Err(err)) => check_unknown_type(&err, requested)?,
        (expected, result) => return Err(fail(format!("{requested:?} ({expected:?}): {:?}", result.map(drop)))),
    }

    // As `type = "..."` in a section.
    let section = Table::from_iter([("type".to_owned(), Value::String(requested.to_owned()))]);
    let text = toml::to_string(&sections([("by_file", section)])).expect("a table serializes");
    let registry = Registry::builder().secrets_toml("fuzz-types.toml", text).build();
    match (&expected, registry.connection_dyn("by_file")) {
        (Resolves::Echo, Ok(conn)) => prop_assert_eq!(conn.type_path(), FuzzEcho::TYPE_PATH),
        (Resolves::Other, Ok(conn)) => prop_assert_eq!(conn.type_path(), FuzzOther::TYPE_PATH),
        (Resolves::Nothing, Err(err)) => {
            check_unknown_type(&err, requested)?;
            let shown = err.to_string();
            prop_assert!(
                shown.contains("[connections.by_file]") && shown.contains("fuzz-types.toml"),
                "the section and file are not named: {}",
                shown
            );
        }
        (expected, result) => return Err(fail(format!("{requested:?} ({expected:?}): {:?}", result.map(drop)))),
    }
    // A typed lookup does not read the section's `type` as the connection type.
    let conn = registry
        .connection::<FuzzEcho>("by_file")
        .map_err(|e| fail(format!("typed lookup beside type {requested:?}: {e}")))?;
    prop_assert_eq!(conn.name(), "by_file");
    Ok(())
}

// ---------------------------------------------------------------------------
// 5. Typed config reads
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Safe,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Small {
    host: String,
    port: u16,
    #[serde(default)]
    tls: bool,
    #[serde(default)]
    tags: Vec<u32>,
    #[serde(default)]
    mode: Option<Mode>,
}

const SMALL_FIELDS: [&str; 5] = ["host", "port", "tls", "tags", "mode"];

fn config_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(SMALL_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
        1 => "[a-z]{1,4}\\.[a-z]{1,4}",
        1 => "\\PC{1,8}",
    ]
    .boxed()
}

/// A planted secret, and entries whose values may hold it.
fn planted() -> impl Strategy<Value = (String, Vec<(String, Value)>)> {
    secret().prop_flat_map(|secret| {
        let entries = vec((config_key(), toml_value_with(Some(secret.clone()))), 0..6);
        (Just(secret), entries)
    })
}

/// An `InvalidValue` for a value that is there: it names `key`, says what
/// was found there (never "nothing"), names where the value came from, and
/// shows no value.
fn check_invalid_value(err: &Error, key: &str, origin: &str, secret: &str) -> Result<(), TestCaseError> {
    let Error::InvalidValue {
        key: k,
        origin: o,
        problem,
        ..
    } = err
    else {
        return Err(fail(format!("reading {key:?}: {err:?}")));
    };
    prop_assert_eq!(k, key);
    prop_assert_eq!(o, origin);
    prop_assert!(
        !problem.starts_with("found nothing"),
        "the value found is not described: {}",
        err
    );
    prop_assert!(
        err.to_string().contains(&format!("`{key}`")),
        "the key is not named: {}",
        err
    );
    assert_no_secret(err, secret)
}

/// Reads `key` (present) as a `T` with `get` and `get_opt`.
fn check_read<T: DeserializeOwned>(
    config: &Config,
    key: &str,
    origin: &str,
    secret: &str,
) -> Result<(), TestCaseError> {
    let from_opt = match config.get_opt::<T>(key) {
        Ok(Some(_)) => None,
        Ok(None) => return Err(fail(format!("get_opt found nothing under {key:?}, which is present"))),
        Err(err) => Some(err),
    };
    for err in [config.get::<T>(key).err(), from_opt].into_iter().flatten() {
        check_invalid_value(&err, key, origin, secret)?;
    }
    Ok(())
}

/// Every key read as each type, and the whole config as a `Small`; `origin`
/// is where every value came from.
fn check_config(config: &Config, keys: &[&str], origin: &str, secret: &str) -> Result<(), TestCaseError> {
    for key in keys {
        check_read::<u16>(config, key, origin, secret)?;
        check_read::<bool>(config, key, origin, secret)?;
        check_read::<String>(config, key, origin, secret)?;
        check_read::<Vec<u32>>(config, key, origin, secret)?;
        check_read::<Small>(config, key, origin, secret)?;
    }
    if let Err(err) = config.deserialize::<Small>() {
        let Error::InvalidValue { key, .. } = &err else {
            return Err(fail(format!("deserialize: {err:?}")));
        };
        if key == "(whole table)" {
            // A missing field: nothing was found, and the message says which.
            prop_assert!(err.to_string().contains("missing field"), "{}", err);
            assert_no_secret(&err, secret)?;
        } else {
            let first = key.split(['.', '[']).next().unwrap_or_default();
            prop_assert!(SMALL_FIELDS.contains(&first), "deserialize blamed {:?}", key);
            check_invalid_value(&err, key, origin, secret)?;
        }
    }
    Ok(())
}

fn check_typed_reads(secret: &str, entries: Vec<(String, Value)>) -> Result<(), TestCaseError> {
    let mut table: Table = entries.into_iter().collect();
    table.insert("password".to_owned(), Value::String(secret.to_owned()));
    let keys: Vec<String> = table.keys().cloned().collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

    // Built in code.
    let config = Config::new("typed", table.clone());
    check_config(&config, &keys, "a Config built in code", secret)?;

    // Given as kwargs, over no section.
    let registry = Registry::builder().secrets_toml("fuzz-typed.toml", "").build();
    let mut lookup = registry.lookup("typed");
    for (k, v) in &table {
        lookup = lookup.kwarg(k.clone(), v.clone());
    }
    let conn = lookup.get::<FuzzEcho>().map_err(|e| fail(format!("{e}")))?;
    check_config(&conn.config(), &keys, "call-site kwargs", secret)?;

    // Read from a secrets file.
    let text = toml::to_string(&sections([("typed", table)])).expect("a table serializes");
    let registry = Registry::builder().secrets_toml("fuzz-typed.toml", text).build();
    let conn = registry
        .connection::<FuzzEcho>("typed")
        .map_err(|e| fail(format!("{e}")))?;
    check_config(&conn.config(), &keys, "fuzz-typed.toml", secret)?;
    let secrets = registry.secrets().map_err(|e| fail(format!("{e}")))?;
    for key in &keys {
        let path = format!("connections.typed.{key}");
        for err in [secrets.get::<u16>(&path).err(), secrets.get::<Vec<u32>>(&path).err()]
            .into_iter()
            .flatten()
        {
            // A key with a dot reads as a path into sub-tables, and may find nothing.
            if let Error::MissingKey { key: k, .. } = &err {
                prop_assert!(key.contains('.'), "{:?} is there: {}", key, err);
                prop_assert_eq!(k, &path);
            } else {
                check_invalid_value(&err, &path, "fuzz-typed.toml", secret)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Random bytes, read as UTF-8 with replacement characters, as a secrets file.
    #[test]
    fn secrets_from_random_bytes(bytes in vec(any::<u8>(), 0..2048), label in label(), layered in any::<bool>()) {
        check_secrets_text(&label, &String::from_utf8_lossy(&bytes), layered)?;
    }

    /// Near-TOML: tables, keys and values, valid and nearly so.
    #[test]
    fn secrets_from_near_toml(text in near_toml(), label in label(), layered in any::<bool>()) {
        check_secrets_text(&label, &text, layered)?;
    }

    /// Connection names: empty, `env:` forms, control characters, any Unicode, very long.
    #[test]
    fn connection_names(name in connection_name(), layout in layout()) {
        check_name(&name, layout)?;
    }

    /// Type names, given in code and in a section's `type` key.
    #[test]
    fn type_names(requested in type_name()) {
        check_type_name(&requested)?;
    }

    /// Typed reads of random values, with a planted secret that must never show.
    #[test]
    fn typed_config_reads((secret, entries) in planted()) {
        check_typed_reads(&secret, entries)?;
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// Nesting up to 128 levels deep, whole or cut short.
    #[test]
    fn secrets_deeply_nested(text in deep_toml(), label in label()) {
        check_secrets_text(&label, &text, false)?;
    }

    /// Random kwargs: any key, any value; their order never matters.
    #[test]
    fn kwargs_in_any_order(
        (kwargs, shuffled) in kwargs().prop_flat_map(|kw| (Just(kw.clone()), Just(kw).prop_shuffle())),
        other in kwargs(),
    ) {
        check_kwargs(&kwargs, &shuffled, &other)?;
    }
}

proptest! {
    #![proptest_config(cases(6))]

    /// A huge value, key or bare word, ASCII or not.
    #[test]
    fn secrets_with_huge_strings(text in huge_toml(), label in label()) {
        check_secrets_text(&label, &text, false)?;
    }
}
