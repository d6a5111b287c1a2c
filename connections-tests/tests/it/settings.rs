//! Typed settings (`#[connection(settings = T)]`): a section checked against
//! `T` before a connect, every problem at once; diagnostics and the doctor
//! for user types; the secrets schema, checked by an independent validator.

use std::path::Path;
use std::process::Command;

use connections::prelude::*;
use connections::{DiagnosticKind, Registry, Severity, doctor::Report};
use serde::Deserialize;

/// A cache's settings, as a user writes them.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// The server's host name.
    host: String,
    /// The server's port.
    port: u16,
    /// The database number.
    #[schemars(range(min = 0, max = 15))]
    #[serde(default)]
    db: u8,
    /// Never shown.
    password: Option<Secret<String>>,
    /// How values are encoded; shown by the doctor, as marked.
    #[schemars(extend("x-harmless" = true))]
    #[serde(default)]
    codec: Codec,
    /// TLS, when asked.
    tls: Option<Tls>,
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    #[default]
    Json,
    Bincode,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    ca_file: String,
}

/// `_connect` takes the typed settings.
#[derive(Connection)]
#[connection(type_name = "settings-cache", settings = CacheSettings)]
pub struct Cache {
    base: BaseConnection<String>,
}

impl Cache {
    fn _connect(&self, settings: &CacheSettings) -> Result<String, BoxError> {
        let secret = settings.password.as_ref().map_or("", |p| p.expose().as_str());
        let tls = settings.tls.as_ref().map_or("-", |t| t.ca_file.as_str());
        Ok(format!(
            "{}:{}/{} {} {:?} tls={tls}",
            settings.host,
            settings.port,
            settings.db,
            secret.len(),
            matches!(settings.codec, Codec::Bincode)
        ))
    }
}

/// The same settings; `_connect` keeps `&Config`, and is async.
#[derive(Connection)]
#[connection(type_name = "settings-remote", async, settings = CacheSettings)]
pub struct Remote {
    base: BaseConnection<String>,
}

impl Remote {
    #[expect(clippy::unused_async, reason = "a real client awaits its connect here")]
    async fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("host")?)
    }
}

/// The same settings, async, taking them.
#[derive(Connection)]
#[connection(type_name = "settings-remote-typed", async, settings = CacheSettings)]
pub struct RemoteTyped {
    base: BaseConnection<String>,
}

impl RemoteTyped {
    #[expect(clippy::unused_async, reason = "a real client awaits its connect here")]
    async fn _connect(&self, settings: &CacheSettings) -> Result<String, BoxError> {
        Ok(format!("{}:{}", settings.host, settings.port))
    }
}

fn registry(toml: &str) -> Registry {
    Registry::builder().secrets_toml("settings.toml", toml).build()
}

#[test]
fn connect_takes_the_typed_settings_read_once_with_type_left_out() {
    let reg = registry(
        "[connections.c]\ntype = 'settings-cache'\nhost = 'cache.internal'\nport = '6379'\npassword = 'hunter2'\ncodec = 'bincode'\ntls = { ca_file = 'ca.pem' }",
    );
    assert_eq!(reg.connection_dyn("c").unwrap().type_name(), "settings-cache");
    let cache = reg.connection::<Cache>("c").unwrap();
    // `type` never reaches `deny_unknown_fields`; a quoted port reads as a number.
    assert_eq!(*cache.instance().unwrap(), "cache.internal:6379/0 7 true tls=ca.pem");
    drop(cache);
}

#[test]
fn async_connects_take_the_config_or_the_settings() {
    let reg = registry(
        "[connections.r]\ntype = 'settings-remote'\nhost = 'r.internal'\nport = 1\n[connections.t]\ntype = 'settings-remote-typed'\nhost = 't.internal'\nport = 2",
    );
    let remote = reg.connection::<Remote>("r").unwrap();
    assert_eq!(*futures_executor::block_on(remote.instance()).unwrap(), "r.internal");
    let typed = reg.connection::<RemoteTyped>("t").unwrap();
    assert_eq!(*futures_executor::block_on(typed.instance()).unwrap(), "t.internal:2");
    // A section that does not fit fails the async connect too, before `_connect`.
    let bad = registry("[connections.t]\ntype = 'settings-remote-typed'\nhost = 't.internal'");
    let err = futures_executor::block_on(bad.connection::<RemoteTyped>("t").unwrap().instance()).unwrap_err();
    assert!(matches!(err, Error::InvalidSettings { .. }), "{err}");
}

#[test]
fn a_section_that_does_not_fit_names_every_problem_at_once_and_no_value() {
    // A misspelt key, two missing keys, a string where a number belongs, a
    // number out of range, a nested unknown key, a value outside an enum.
    let reg = registry(
        "[connections.c]\ntype = 'settings-cache'\nhots = 'cache.internal'\ndb = 99\npassword = 'hunter2'\ncodec = 'binkode'\ntls = { ca_file = 'ca.pem', ca_fiel = 'x' }\n[connections.d]\ntype = 'settings-cache'\nhost = 'h'\nport = 'sixty'",
    );
    let err = reg.connection::<Cache>("c").unwrap().instance().unwrap_err();
    let Error::InvalidSettings { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let text = err.to_string();
    assert_eq!(problems.len(), 5, "{text}");
    for expected in [
        "`hots` (did you mean `host`?)",
        "`tls.ca_fiel` (did you mean `ca_file`?)",
        "keys `host`, `port`",
        "`db` in [connections.c]",
        "out of range: it must be at most 15",
        "is not one of `json`, `bincode` (did you mean `bincode`?)",
        "settings.toml",
    ] {
        assert!(text.contains(expected), "{expected:?} not in: {text}");
    }
    for value in ["hunter2", "cache.internal", "binkode", "99"] {
        assert!(!text.contains(value), "{value:?} shown in: {text}");
    }
    let err = reg.connection::<Cache>("d").unwrap().instance().unwrap_err();
    assert!(
        err.to_string().contains("`port` in [connections.d]")
            && err.to_string().contains("should be a whole number, but is a string"),
        "{err}"
    );
    assert!(!err.to_string().contains("sixty"), "{err}");
}

#[test]
fn diagnostics_report_a_user_types_settings_with_their_file() {
    let reg = registry("[connections.c]\ntype = 'settings-cache'\nhots = 'cache.internal'\nport = 70000\n");
    let found = reg.diagnostics();
    let kinds: Vec<_> = found.iter().map(|d| (d.severity, d.kind, d.keys.clone())).collect();
    assert_eq!(
        kinds,
        [
            (Severity::Error, DiagnosticKind::NearMissKey, vec!["hots".to_owned()]),
            (Severity::Error, DiagnosticKind::InvalidValue, vec!["port".to_owned()]),
            (Severity::Error, DiagnosticKind::MissingKeys, vec!["host".to_owned()]),
        ],
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|d| d.origin.as_deref() == Some(Path::new("settings.toml"))),
        "{found:#?}"
    );
    assert!(found.iter().all(|d| d.connection.as_deref() == Some("c")));
}

#[test]
fn diagnostics_point_at_the_line_and_column_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    std::fs::write(
        &file,
        "TOP = 1\n\n[connections.c]\ntype = 'settings-cache'\n  hots = 'cache.internal'\nport = 70000\ntls = { ca_file = 'a', ca_fiel = 'b' }\n",
    )
    .unwrap();
    let reg = Registry::builder().secrets_paths([&file]).build();
    let at: Vec<_> = reg
        .diagnostics()
        .into_iter()
        .filter(|d| d.connection.as_deref() == Some("c"))
        .map(|d| (d.keys[0].clone(), d.line, d.column))
        .collect();
    assert_eq!(
        at,
        [
            ("hots".to_owned(), Some(5), Some(3)),
            ("port".to_owned(), Some(6), Some(1)),
            ("tls.ca_fiel".to_owned(), Some(7), Some(24)),
            // A missing key: the section's header, where it is to be added.
            ("host".to_owned(), Some(3), Some(14)),
        ]
    );
    let report = Report::new(&reg).to_string();
    assert!(report.contains(&format!("(at {}:5:3)", file.display())), "{report}");
}

#[test]
fn the_doctor_shows_only_harmless_and_marked_keys_and_never_a_secret() {
    let reg = registry(
        "[connections.c]\ntype = 'settings-cache'\nhost = 'cache.internal'\nport = 6379\npassword = 'hunter2-sentinel'\ncodec = 'json'\ntls = { ca_file = 'ca-sentinel.pem' }\npasword = 'typo-sentinel'\n",
    );
    let report = Report::new(&reg);
    let section = &report.sections[0];
    let shown = |key: &str| {
        section
            .keys
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.value.clone())
            .unwrap()
    };
    assert_eq!(shown("host"), "\"cache.internal\"");
    assert_eq!(shown("port"), "6379");
    assert_eq!(shown("codec"), "\"json\"");
    // A declared key neither harmless nor marked, a secret, a misspelt secret: masked.
    assert_eq!(shown("tls.ca_file"), "***");
    assert_eq!(shown("password"), "***");
    assert_eq!(shown("pasword"), "***");
    let text = format!("{report}\n{}", report.to_json());
    for sentinel in ["hunter2-sentinel", "ca-sentinel", "typo-sentinel"] {
        assert!(!text.contains(sentinel), "{sentinel} shown:\n{text}");
    }
    assert!(text.contains("`pasword` (did you mean `password`?)"), "{text}");
}

/// The secrets schema of this test binary's types.
fn schema() -> serde_json::Value {
    Registry::builder().build().settings_schema()
}

/// A secrets file as JSON, as editors validate it.
fn as_json(toml_text: &str) -> serde_json::Value {
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    serde_json::to_value(table).unwrap()
}

const GOOD: &str = r#"
API_KEY = "anything at the top level"
[connections.c]
type = "settings-cache"
host = "cache.internal"
port = 6379
codec = "bincode"
tls = { ca_file = "ca.pem" }
[connections.other]
type = "some-type-the-schema-does-not-know"
whatever = 1
"#;

const MISSPELT: &str = "[connections.c]\ntype = 'settings-cache'\nhost = 'h'\nport = 1\nhots = 'x'\n";
const STRING_FOR_NUMBER: &str = "[connections.c]\ntype = 'settings-cache'\nhost = 'h'\nport = 'sixty'\n";

#[test]
fn the_schema_validates_secrets_files_with_an_independent_validator() {
    let schema = schema();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    assert!(
        validator.is_valid(&as_json(GOOD)),
        "{:?}",
        validator
            .iter_errors(&as_json(GOOD))
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    for bad in [MISSPELT, STRING_FOR_NUMBER] {
        assert!(!validator.is_valid(&as_json(bad)), "accepted:\n{bad}");
    }
    // `type` by full path selects the same settings.
    let by_path = GOOD.replace("\"settings-cache\"", "\"it::settings::Cache\"");
    assert!(validator.is_valid(&as_json(&by_path)));
    let by_path_bad = MISSPELT.replace("'settings-cache'", "'it::settings::Cache'");
    assert!(!validator.is_valid(&as_json(&by_path_bad)));
}

/// Taplo's CLI (the engine of Even Better TOML), when `CONNECTIONS_TEST_TAPLO`
/// names it: it accepts a good file and rejects a misspelt key and a string
/// for a number, through the file's own `#:schema` line.
#[test]
fn taplo_checks_secrets_files_through_their_schema_line() {
    let Some(taplo) = std::env::var_os("CONNECTIONS_TEST_TAPLO") else {
        println!("skipped: CONNECTIONS_TEST_TAPLO is not set (`.ci/run` installs Taplo and sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("secrets.schema.json");
    std::fs::write(&schema_path, serde_json::to_string_pretty(&schema()).unwrap()).unwrap();
    let check = |name: &str, body: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("#:schema ./secrets.schema.json\n{body}")).unwrap();
        let out = Command::new(&taplo)
            .args(["lint", "--no-auto-config"])
            .arg(&file)
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("CONNECTIONS_TEST_TAPLO is set but Taplo does not run: {e}"));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = check("good.toml", GOOD);
    assert!(ok, "Taplo rejected a good file:\n{out}");
    let (ok, out) = check("misspelt.toml", MISSPELT);
    println!("{out}");
    assert!(!ok && out.contains("hots"), "Taplo accepted a misspelt key:\n{out}");
    let (ok, out) = check("string.toml", STRING_FOR_NUMBER);
    println!("{out}");
    assert!(
        !ok && out.contains("sixty"),
        "Taplo accepted a string for a number:\n{out}"
    );
}
