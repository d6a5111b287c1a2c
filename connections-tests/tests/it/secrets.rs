//! Secrets files and directories: order, merge, typed access, errors.

use std::fs;
use std::path::Path;

use connections::prelude::*;
use connections::{Registry, SECRETS_PATH_ENV};

use crate::common::Echo;

fn write(dir: &Path, rel: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn later_files_merge_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let global = write(
        dir.path(),
        "home/secrets.toml",
        "[connections.db]\ntype = 'echo'\ntext = 'global'\nport = 1\n[connections.other]\ntext = 'o'",
    );
    let project = write(dir.path(), "project/secrets.toml", "[connections.db]\ntext = 'project'");
    let reg = Registry::builder().secrets_paths([&global, &project]).build();
    let secrets = reg.secrets().unwrap();
    // Streamlit would replace [connections] whole; we merge key by key.
    assert_eq!(secrets.get::<String>("connections.db.text").unwrap(), "project");
    assert_eq!(secrets.get::<i64>("connections.db.port").unwrap(), 1);
    assert_eq!(secrets.connection_names(), ["db", "other"]);
    let db = reg.connection_dyn("db").unwrap();
    assert_eq!(db.config().get::<String>("text").unwrap(), "project");
    assert_eq!(secrets.files(), [global, project]);
}

#[test]
fn missing_toml_files_are_skipped_and_an_empty_file_counts_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let empty = write(dir.path(), "empty.toml", "");
    let reg = Registry::builder().secrets_paths([&missing, &empty]).build();
    let secrets = reg.secrets().unwrap();
    assert_eq!(secrets.files(), std::slice::from_ref(&empty));
    assert_eq!(secrets.searched(), [missing, empty]);
    // Found but empty: the error is "no section", not "no secrets".
    let err = reg.connection_dyn("db").unwrap_err();
    assert!(matches!(err, Error::NoSection { .. }), "{err}");
}

#[test]
fn no_secrets_at_all_lists_the_paths_searched() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let reg = Registry::builder().secrets_paths([&a, &b]).build();
    assert!(reg.secrets().unwrap().files().is_empty());
    let err = reg.connection_dyn("db").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoSecrets { .. }), "{msg}");
    assert!(
        msg.contains(&a.display().to_string()) && msg.contains(&b.display().to_string()),
        "{msg}"
    );
    // A typed lookup needs no secrets: the config is just empty.
    assert!(reg.connection::<Echo>("db").unwrap().config().is_empty());
}

#[test]
fn a_configured_directory_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("mounted-secrets");
    let reg = Registry::builder().secrets_paths([&missing_dir]).build();
    let err = reg.secrets().unwrap_err();
    assert!(matches!(err, Error::InvalidSecretsPath { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("mounted-secrets") && msg.contains("neither a `.toml` file nor an existing directory"),
        "{msg}"
    );
}

#[test]
fn directory_secrets_as_kubernetes_mounts_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("secrets");
    write(&root, "api/key", "k-123\n");
    write(&root, "api/region", "eu");
    write(&root, "token/value", "  t-456  ");
    write(&root, "connections/db/type", "echo");
    write(&root, "connections/db/text", "from a directory\n");
    write(&root, "connections/db/port", "5432");
    write(&root, ".hidden/x", "skipped");
    write(&root, "top-level-file", "ignored: only subfolders are tables");
    let reg = Registry::builder().secrets_paths([&root]).build();
    let secrets = reg.secrets().unwrap();
    assert_eq!(secrets.get::<String>("api.key").unwrap(), "k-123");
    assert_eq!(secrets.get::<String>("api.region").unwrap(), "eu");
    // A subfolder with a single file collapses to that value.
    assert_eq!(secrets.get::<String>("token").unwrap(), "t-456");
    assert!(!secrets.contains(".hidden") && !secrets.contains("top-level-file"));
    let db = reg.connection_dyn("db").unwrap();
    assert_eq!(db.type_name(), "echo");
    assert_eq!(db.config().get::<u16>("port").unwrap(), 5432);
    let echo = db.downcast::<Echo>().ok().unwrap();
    assert_eq!(*echo.instance().unwrap(), "from a directory");
}

#[test]
fn a_directory_layer_merges_over_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "secrets.toml",
        "[connections.db]\ntype = 'echo'\ntext = 'file'\nport = 1",
    );
    let mounted = dir.path().join("mounted");
    write(&mounted, "connections/db/text", "mounted");
    let reg = Registry::builder().secrets_paths([&file, &mounted]).build();
    let config = reg.connection_dyn("db").unwrap().config().clone();
    assert_eq!(config.get::<String>("text").unwrap(), "mounted");
    assert_eq!(config.get::<i64>("port").unwrap(), 1);
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "secrets.toml", "[connections.db]\ntype = 'echo'\ntext = \n");
    let reg = Registry::builder().secrets_paths([&bad]).build();
    let err = reg.connection_dyn("db").unwrap_err();
    match &err {
        Error::MalformedSecrets { path, line, column, .. } => {
            assert_eq!(path, &bad);
            assert_eq!(*line, Some(3));
            assert!(column.is_some_and(|c| c >= 7), "column {column:?}");
        }
        other => panic!("expected MalformedSecrets, got {other}"),
    }
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn whole_secrets_are_readable_as_st_secrets() {
    let reg = Registry::builder()
        .secrets_toml("s", "api_key = 'top'\n[service]\nretries = '3'\nurl = 'https://x'")
        .build();
    let s = reg.secrets().unwrap();
    assert_eq!(s.get::<String>("api_key").unwrap(), "top");
    assert_eq!(s.get::<u8>("service.retries").unwrap(), 3);
    assert_eq!(s.get_opt::<String>("service.missing").unwrap(), None);
    let err = s.get::<String>("service.missing").unwrap_err().to_string();
    assert!(
        err.contains("missing key `service.missing`") && err.contains("add it to s"),
        "{err}"
    );
    let err = s.get::<u8>("service.url").unwrap_err().to_string();
    assert!(
        err.contains("key `service.url` in the secrets (from s): found string, expected u8"),
        "{err}"
    );
}

#[test]
fn config_typed_access() {
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Db {
        host: String,
        port: u16,
        #[serde(default)]
        pool: Option<u32>,
        query: Query,
    }
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Query {
        sslmode: String,
    }
    let reg = Registry::builder()
        .secrets_toml(
            "app.toml",
            "[connections.pg]\nhost = 'localhost'\nport = '5432'\n[connections.pg.query]\nsslmode = 'require'",
        )
        .build();
    let conn = reg.connection::<Echo>("pg").unwrap();
    let config = conn.config();
    assert_eq!(config.get::<u16>("port").unwrap(), 5432);
    assert_eq!(config.get::<String>("query.sslmode").unwrap(), "require");
    assert_eq!(config.get_opt::<u32>("pool").unwrap(), None);
    assert_eq!(config.section_file(), Some(Path::new("app.toml")));
    // Whole-table deserialize accepts the quoted port too.
    let db: Db = config.deserialize().unwrap();
    assert_eq!(db.port, 5432);
    let bad = reg.lookup("pg").kwarg("port", "fifty").get::<Echo>().unwrap();
    let err = bad.config().deserialize::<Db>().unwrap_err().to_string();
    assert!(
        err.contains("key `port` in [connections.pg] (from call-site kwargs): found string, expected u16"),
        "{err}"
    );
    let kw = reg.lookup("pg").kwarg("port", 5433).get::<Echo>().unwrap();
    let db: Db = kw.config().deserialize().unwrap();
    assert_eq!(
        db,
        Db {
            host: "localhost".into(),
            port: 5433,
            pool: None,
            query: Query {
                sslmode: "require".into()
            }
        }
    );
}

/// Runs only in a child process that has `CONNECTIONS_SECRETS_PATH` set.
#[test]
#[ignore = "run by secrets_path_env_var_replaces_the_defaults in a child process"]
fn child_reads_secrets_path_from_env() {
    let Ok(expected) = std::env::var("CONNECTIONS_TEST_EXPECTED") else {
        return;
    };
    let reg = Registry::builder().build();
    let secrets = reg.secrets().unwrap();
    assert_eq!(secrets.get::<String>("marker").unwrap(), expected);
    assert_eq!(secrets.files().len(), 2);
    assert_eq!(
        connections::secrets().unwrap().get::<String>("marker").unwrap(),
        expected
    );
    println!("{}", crate::common::CHILD_CHECKED);
}

#[test]
fn secrets_path_env_var_replaces_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "marker = 'from a'");
    let b = write(dir.path(), "b.toml", "marker = 'from b'");
    let paths = std::env::join_paths([&a, &b]).unwrap();
    crate::common::run_in_child(
        "secrets::child_reads_secrets_path_from_env",
        &[
            (SECRETS_PATH_ENV, &paths),
            ("CONNECTIONS_TEST_EXPECTED", "from b".as_ref()),
        ],
    );
}

#[cfg(unix)]
#[test]
fn a_secrets_file_readable_by_others_warns_once_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let open_file = write(dir.path(), "open.toml", "[connections.x]\ntype = 'echo'");
    fs::set_permissions(&open_file, fs::Permissions::from_mode(0o644)).unwrap();
    let closed_file = write(dir.path(), "closed.toml", "[connections.y]\ntype = 'echo'");
    fs::set_permissions(&closed_file, fs::Permissions::from_mode(0o600)).unwrap();

    let logs = crate::common::captured_logs(|| {
        let reg = Registry::builder().secrets_paths([&open_file, &closed_file]).build();
        reg.secrets().unwrap();
        reg.reload_secrets().unwrap();
    });
    let expected = format!("run `chmod 600 {}`", open_file.display());
    assert_eq!(
        logs.matches(&expected).count(),
        1,
        "one warning, naming the file: {logs}"
    );
    assert!(logs.contains("mode 644"), "{logs}");
    assert!(!logs.contains("closed.toml"), "a 600 file is fine: {logs}");
    // Logged once, but data on every ask: the doctor and `diagnostics()` see it.
    let reg = Registry::builder().secrets_paths([&open_file, &closed_file]).build();
    let found = reg.diagnostics();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, connections::DiagnosticKind::Permissions);
    assert_eq!(found[0].origin.as_deref(), Some(open_file.as_path()));
    assert!(found[0].message.contains(&expected), "{}", found[0]);
}

/// Settings read strictly: a typo in the section is an error, not a default.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictSettings {
    host: String,
    port: u16,
}

#[derive(Connection)]
#[connection(type_name = "strict-settings")]
struct Strict {
    base: BaseConnection<(String, u16)>,
}

impl Strict {
    fn _connect(&self, config: &Config) -> Result<(String, u16), BoxError> {
        let settings: StrictSettings = config.deserialize()?;
        Ok((settings.host, settings.port))
    }
}

#[test]
fn a_strict_settings_struct_reads_a_section_with_its_type_key() {
    let reg = Registry::builder()
        .secrets_toml(
            "strict.toml",
            "[connections.ok]\ntype = 'strict-settings'\nhost = 'h'\nport = 1\n\
             [connections.typo]\ntype = 'strict-settings'\nhost = 'h'\nport = 1\nhots = 'x'\n\
             [connections.data]\ntype = 'service_account'\nhost = 'h'\nport = 1\n",
        )
        .build();
    assert_eq!(
        *reg.connection::<Strict>("ok").unwrap().instance().unwrap(),
        ("h".to_owned(), 1)
    );
    // Dynamic lookups and a type given in code see the same.
    let any = reg.connection_dyn("ok").unwrap();
    any.connect().unwrap();
    let err = reg
        .connection::<Strict>("typo")
        .unwrap()
        .instance()
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `hots`"), "{err}");
    // A `type` naming no connection type is the client library's data: kept.
    let err = reg
        .connection::<Strict>("data")
        .unwrap()
        .instance()
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `type`"), "{err}");
}

#[test]
fn a_strict_settings_struct_still_reads_its_section_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    fs::write(
        &file,
        "[connections.s]\ntype = 'strict-settings'\nhost = 'h'\nport = 1\n",
    )
    .unwrap();
    let reg = Registry::builder().secrets_paths([&file]).build();
    let strict = reg.connection::<Strict>("s").unwrap();
    assert_eq!(strict.instance().unwrap().1, 1);
    fs::write(
        &file,
        "[connections.s]\ntype = 'strict-settings'\nhost = 'h'\nport = 2\n",
    )
    .unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["s"]);
    assert_eq!(
        strict.instance().unwrap().1,
        2,
        "the reloaded `type` is still the framework's"
    );
}
