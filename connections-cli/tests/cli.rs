//! End to end: the `connections` binary on real secrets shapes, good and bad.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Never printed by a correct doctor: every secret in these files is this.
const SENTINEL: &str = "hunter2-sentinel";

/// `connections ARGS` in `dir`, with an empty HOME below it and no inherited
/// settings, so only the files a test writes are read.
fn connections(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let home = dir.join("home");
    fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_connections"));
    command
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("NO_COLOR");
    for (var, _) in std::env::vars() {
        if var.starts_with("CONNECTIONS_") {
            command.env_remove(var);
        }
    }
    command.envs(envs.iter().copied());
    command.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Writes `.streamlit/secrets.toml` under `dir` with mode 600.
fn project_secrets(dir: &Path, toml: &str) -> PathBuf {
    let file = dir.join(".streamlit").join("secrets.toml");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, toml).unwrap();
    set_mode(&file, 0o600);
    file
}

#[cfg(unix)]
fn set_mode(file: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(file, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

/// A Streamlit app's secrets, as its docs write them: a SQL connection by
/// discrete keys, one by URL, and top-level keys for other libraries.
fn good_secrets() -> String {
    format!(
        r#"AWS_ACCESS_KEY_ID = "AKIA-example"
AWS_SECRET_ACCESS_KEY = "{SENTINEL}"
RETRIES = 3

[connections.sql]
dialect = "postgresql"
host = "db.internal"
port = 5432
database = "shop"
username = "app"
password = "{SENTINEL}"

[connections.local]
type = "sql"
url = "sqlite:///app.db"

[connections.reports]
type = "sql"
url = "postgresql://reader:{SENTINEL}@reports.internal:5432/reports"
query = {{ sslmode = "require" }}
"#
    )
}

#[test]
fn a_good_file_reads_as_a_table_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(dir.path(), &good_secrets());
    let out = connections(dir.path(), &["doctor"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("secrets read: .streamlit/secrets.toml\n"), "{text}");
    // The section named `sql` has no `type` key: its name is the type, as in Streamlit.
    assert!(
        text.contains("[connections.sql]  type sql (connections_sql::SqlConnection)"),
        "{text}"
    );
    assert!(text.contains("  key       value          from\n"), "{text}");
    assert!(
        text.contains("  host      \"db.internal\"  .streamlit/secrets.toml\n"),
        "{text}"
    );
    assert!(
        text.contains("  password  ***            .streamlit/secrets.toml\n"),
        "{text}"
    );
    assert!(
        text.contains("\"postgresql://reader:***@reports.internal:5432/reports\""),
        "a URL keeps everything but its password: {text}"
    );
    assert!(text.contains("  query.sslmode  \"require\""), "{text}");
    assert!(text.ends_with("3 sections, 0 errors, 0 warnings\n"), "{text}");
    assert!(!text.contains(SENTINEL), "{text}");
    assert!(!text.contains('\x1b'), "no colour when not on a terminal: {text}");
    // On request, colour.
    let coloured = stdout(&connections(dir.path(), &["doctor", "--color", "always"], &[]));
    assert!(coloured.contains("\x1b[1m[connections.local]\x1b[0m"), "{coloured}");
    assert!(
        coloured.contains("\x1b[32m3 sections, 0 errors, 0 warnings\x1b[0m"),
        "{coloured}"
    );
}

#[test]
fn a_malformed_file_is_an_error_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(
        dir.path(),
        &format!("[connections.db]\ntype = \"sql\"\nurl = \"postgresql://u:{SENTINEL}@h/db\n"),
    );
    let out = connections(dir.path(), &["doctor"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("error    .streamlit/secrets.toml is not valid TOML at line 3, column"),
        "{text}"
    );
    assert!(!text.contains(SENTINEL), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&connections(dir.path(), &["doctor", "--json"], &[]).stdout).unwrap();
    let found = &json["diagnostics"][0];
    assert_eq!(found["kind"], "syntax");
    assert_eq!(found["line"], 3);
    assert!(found["column"].as_u64().unwrap() > 1, "{found}");
}

#[test]
fn every_mistake_is_named_with_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = project_secrets(
        dir.path(),
        &format!(
            r#"[connection.analytics]
type = "sql"
url = "sqlite:///a.db"

[connections.db]
type = "sql"
dialect = "postgresql"
user = "app"
password = "{SENTINEL}"
port = 99999

[connections.cache]
type = "mongo"
url = "mongodb://:{SENTINEL}@localhost:27017"

[connections.warehouse]
dialect = "mysql"
host = "wh.internal"
username = "etl"
"#
        ),
    );
    set_mode(&file, 0o644);
    let out = connections(dir.path(), &["doctor"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "warning  found a singular [connection.analytics] table, which no lookup reads; rename it to [connections.analytics]",
        "`user` (did you mean `username`?)",
        "error    missing keys `host`, `username` in [connections.db]: add `host = ...` and `username = ...` under [connections.db] in .streamlit/secrets.toml",
        "warning  [connections.cache]: type `mongo` is not one this command knows",
        "warning  cannot tell the type of connection `warehouse`",
        r#"add a line `type = "sql"` under [connections.warehouse]"#,
        "[connections.cache]  type unknown",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    if cfg!(unix) {
        assert!(
            text.contains("is readable by group or others (mode 644); run `chmod 600 .streamlit/secrets.toml`"),
            "{text}"
        );
    }
    assert!(!text.contains(SENTINEL), "{text}");
    // The same, for machines.
    let json: serde_json::Value =
        serde_json::from_slice(&connections(dir.path(), &["doctor", "--json"], &[]).stdout).unwrap();
    let db = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "db")
        .unwrap();
    let kinds: Vec<&str> = db["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    // The settings' findings (a port out of range, a near miss), then what a connect would fail with.
    assert_eq!(kinds, ["invalid-value", "near-miss-key", "missing-keys"]);
    assert_eq!(db["diagnostics"][0]["keys"], serde_json::json!(["port"]));
    assert_eq!(db["diagnostics"][2]["keys"], serde_json::json!(["host", "username"]));
    assert_eq!(db["type_name"], "sql");
}

#[test]
fn a_misspelt_secret_is_masked_in_the_table_and_the_json() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(
        dir.path(),
        &format!(
            r#"[connections.db]
type = "sql"
url = "sqlite:///app.db"
pasword = "{SENTINEL}-1"
passwrd = "{SENTINEL}-2"
secert = "{SENTINEL}-3"
tokn = "{SENTINEL}-4"
api_ky = "{SENTINEL}-5"
dsn = "{SENTINEL}-6"

[connections.cache]
type = "redis"
host = "cache.internal"
usrname = "{SENTINEL}-7"
pasword = "{SENTINEL}-8"
"#
        ),
    );
    for args in [&["doctor"][..], &["doctor", "--json"], &["doctor", "--color", "always"]] {
        let out = connections(dir.path(), args, &[]);
        let text = stdout(&out);
        assert!(!text.contains(SENTINEL), "{args:?} shows a secret:\n{text}");
        assert!(text.contains("cache.internal"), "harmless values stay readable: {text}");
    }
    let text = stdout(&connections(dir.path(), &["doctor"], &[]));
    assert!(text.contains("  pasword  ***"), "{text}");
    assert!(text.contains("`pasword` (did you mean `password`?)"), "{text}");
}

#[test]
fn an_applications_own_types_are_warnings_that_point_to_its_doctor() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(
        dir.path(),
        "[connections.cache]\ntype = \"mongo\"\nhost = \"cache.internal\"\n\n\
         [connections.local]\ntype = \"sql\"\nurl = \"sqlite:///app.db\"\n",
    );
    let out = connections(dir.path(), &["doctor"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "nothing else is wrong: {text}");
    assert!(
        text.contains(
            "warning  [connections.cache]: type `mongo` is not one this command knows (it knows `connections_files::FilesConnection`, `connections_http::HttpConnection`, `connections_redis::RedisConnection`, `connections_sql::SqlConnection`, `files`, `http`, `redis`, `sql`); \
             if it is your application's own type, check this section with your application's doctor (`connections::doctor::run(Registry::global())` in its binary)"
        ),
        "{text}"
    );
    assert!(text.ends_with("2 sections, 0 errors, 1 warning\n"), "{text}");
    // `--connect` says what it skipped, and why.
    let out = connections(dir.path(), &["doctor", "--connect"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("  connect  skipped: its type is not one this program registers; the application's own doctor (`doctor::run`) connects it"),
        "{text}"
    );
    assert!(text.contains("  connect  connected in "), "{text}");
    assert!(
        text.ends_with("2 sections, 0 errors, 1 warning, 1 connect skipped\n"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&connections(dir.path(), &["doctor", "--connect", "--json"], &[]).stdout).unwrap();
    let cache = &json["sections"][0];
    assert_eq!(cache["name"], "cache");
    assert_eq!(cache["connect"]["ok"], false);
    assert!(
        cache["connect"]["skipped"]
            .as_str()
            .unwrap()
            .contains("not one this program registers")
    );
}

#[test]
fn a_value_out_of_range_says_the_range() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(
        dir.path(),
        "[connections.db]\ntype = \"sql\"\ndialect = \"postgresql\"\nhost = \"h\"\nusername = \"u\"\nport = 99999\n",
    );
    let out = connections(dir.path(), &["doctor"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "key `port` in [connections.db] (from .streamlit/secrets.toml): is out of range: it must be at most 65535"
        ),
        "{text}"
    );
}

#[test]
fn environment_overrides_and_explicit_paths_are_read_as_the_library_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploy.toml");
    fs::write(&file, "[connections.db]\ntype = \"sql\"\nurl = \"sqlite::memory:\"\n").unwrap();
    set_mode(&file, 0o600);
    let out = connections(
        dir.path(),
        &["doctor", "deploy.toml", "missing.toml"],
        &[("CONNECTIONS__DB__PASSWORD", SENTINEL)],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("secrets read: deploy.toml, the environment (CONNECTIONS__*)\n"),
        "{text}"
    );
    assert!(
        text.contains("  password  ***                environment variable CONNECTIONS__DB__PASSWORD\n"),
        "{text}"
    );
    assert!(!text.contains(SENTINEL), "{text}");
    // A secrets directory, as Kubernetes mounts one, layered over the file.
    let mounted = dir.path().join("mounted").join("connections").join("db");
    fs::create_dir_all(&mounted).unwrap();
    fs::write(mounted.join("password"), format!("{SENTINEL}\n")).unwrap();
    fs::write(mounted.join("pool_size"), "4").unwrap();
    let out = connections(dir.path(), &["doctor", "deploy.toml", "mounted"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("secrets read: deploy.toml, mounted\n"), "{text}");
    assert!(text.contains("  password   ***                mounted\n"), "{text}");
    assert!(text.contains("  pool_size  \"4\"                mounted\n"), "{text}");
    assert!(!text.contains(SENTINEL), "{text}");
    // No file at all is an error.
    let out = connections(dir.path(), &["doctor", "missing.toml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("error    no secrets file was found; searched missing.toml"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn connect_tries_each_sql_connection_and_reports_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from(
        "[connections.local]\ntype = \"sql\"\nurl = \"sqlite:///app.db\"\n\n\
         [connections.down]\ntype = \"sql\"\nurl = \"postgresql://app@127.0.0.1:1/db\"\nconnect_timeout = 5\n",
    );
    let server = std::env::var("CONNECTIONS_TEST_POSTGRES_URL").ok();
    match &server {
        Some(url) => toml += &["\n[connections.pg]\ntype = \"sql\"\nurl = \"", url, "\"\n"].concat(),
        None => println!("skipped the PostgreSQL connect: CONNECTIONS_TEST_POSTGRES_URL is not set"),
    }
    project_secrets(dir.path(), &toml);
    let out = connections(dir.path(), &["doctor", "--connect"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "the refused connect is an error: {text}");
    let connect_line = |section: &str| {
        let at = text.find(&format!("[connections.{section}]")).unwrap();
        text[at..]
            .lines()
            .find(|l| l.starts_with("  connect  "))
            .unwrap()
            .to_owned()
    };
    assert!(connect_line("local").starts_with("  connect  connected in "), "{text}");
    let down = connect_line("down");
    assert!(down.starts_with("  connect  failed after "), "{down}");
    assert!(down.contains("refused"), "the cause is shown: {down}");
    if server.is_some() {
        assert!(connect_line("pg").starts_with("  connect  connected in "), "{text}");
    }
    assert!(text.ends_with(" 0 errors, 0 warnings, 1 failed connect\n"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&connections(dir.path(), &["doctor", "--connect", "--json"], &[]).stdout).unwrap();
    let local = &json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "local")
        .unwrap()["connect"];
    assert_eq!(local["ok"], true);
    assert!(local["elapsed_ms"].as_f64().unwrap() >= 0.0);
}

#[test]
fn exec_runs_a_command_with_the_top_level_secrets_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    project_secrets(dir.path(), &good_secrets());
    let out = connections(
        dir.path(),
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "echo \"$AWS_ACCESS_KEY_ID|$AWS_SECRET_ACCESS_KEY|$RETRIES|${connections:-unset}\"",
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), format!("AKIA-example|{SENTINEL}|3|unset\n"));
    // The command's exit code is the exit code.
    let out = connections(dir.path(), &["exec", "--", "sh", "-c", "exit 7"], &[]);
    assert_eq!(out.status.code(), Some(7));
    // A command that cannot run, and secrets that cannot be read, are named.
    let out = connections(dir.path(), &["exec", "--", "no-such-command-here"], &[]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run `no-such-command-here`"), "{err}");
    fs::write(dir.path().join("bad.toml"), "x = \n").unwrap();
    let out = connections(dir.path(), &["exec", "--secrets", "bad.toml", "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml is not valid TOML at line 1"), "{err}");
}

/// The schema an application with a `kv` type exports (`Registry::settings_schema()`).
const APP_SCHEMA: &str = r#"{
  "definitions": {
    "kv": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "type": { "enum": ["kv", "myapp::Kv"] },
        "seed": { "type": "object", "additionalProperties": { "type": "string" } },
        "capacity": { "type": ["integer", "null"], "minimum": 1 },
        "host": { "type": "string" }
      },
      "required": ["host"]
    }
  }
}"#;

#[test]
fn doctor_checks_an_applications_own_types_from_the_schema_it_exported() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = project_secrets(
        dir.path(),
        "[connections.sessions]\ntype = 'kv'\nhost = 'kv.internal'\ncapacity = 0\nsed = { greeting = 'hi' }\napi_tokn = 'tok-sentinel'\n",
    );
    set_mode(&secrets, 0o600);
    fs::write(dir.path().join("app.schema.json"), APP_SCHEMA).unwrap();
    let out = connections(
        dir.path(),
        &["doctor", "--color", "never", "--schema", "app.schema.json"],
        &[],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[connections.sessions]  type kv (myapp::Kv, from the schema)"),
        "{text}"
    );
    assert!(text.contains("`sed` (did you mean `seed`?)"), "{text}");
    assert!(
        text.contains("`capacity` in [connections.sessions]") && text.contains("at least 1"),
        "{text}"
    );
    assert!(text.contains("`api_tokn`") && !text.contains("tok-sentinel"), "{text}");
    assert!(text.contains("\"kv.internal\""), "the host is shown:\n{text}");
    assert!(!text.contains("is not one this command knows"), "{text}");

    // A schema that is not one is a usage error, not a silent pass.
    fs::write(dir.path().join("bad.json"), "{}").unwrap();
    let out = connections(dir.path(), &["doctor", "--schema", "bad.json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no `definitions`"));
}

#[test]
fn schema_prints_a_json_schema_of_the_secrets_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = connections(dir.path(), &["schema"], &[]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["properties"]["connections"]["type"], "object");
    // The types this command knows: `type = "sql"`, its keys and their aliases.
    let sql = &schema["definitions"]["sql"];
    assert_eq!(
        sql["properties"]["type"]["enum"],
        serde_json::json!(["sql", "connections_sql::SqlConnection"])
    );
    assert_eq!(
        sql["properties"]["port"]["type"],
        serde_json::json!(["integer", "string"])
    );
    assert_eq!(sql["properties"]["password"]["writeOnly"], true);
    assert!(
        sql["properties"]["username"]["x-aliases"]
            .as_array()
            .unwrap()
            .contains(&"user".into())
    );
    assert_eq!(
        sql["properties"]["create_engine_kwargs"]["anyOf"][0]["$ref"],
        "#/definitions/sql.EngineKwargs"
    );
}
