//! Every error says what was asked, what was found, and what to write.

use std::error::Error as _;

use connections::Registry;
use connections::prelude::*;

use crate::common::{Counted, Echo, fail_next, registry};

#[test]
fn unknown_type_lists_registered_names_and_the_nearest() {
    let err = registry("[connections.db]\ntype = 'echoo'")
        .connection_dyn("db")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::UnknownType { nearest: Some(n), .. } if n == "echo"),
        "{msg}"
    );
    assert!(
        msg.contains("unknown connection type `echoo` (did you mean `echo`?)"),
        "{msg}"
    );
    assert!(
        msg.contains("`counted`") && msg.contains("`it::common::Counted`"),
        "{msg}"
    );
    let err = registry("").lookup("x").with_type("zzzz").get_dyn().unwrap_err();
    assert!(matches!(&err, Error::UnknownType { nearest: None, .. }), "{err}");
}

#[test]
fn no_type_key_shows_the_line_to_add_and_the_file() {
    let err = registry("[connections.db]\nurl = 'x'")
        .connection_dyn("db")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoTypeKey { .. }));
    assert!(msg.contains("add a line `type = \""), "{msg}");
    assert!(msg.contains("under [connections.db] in test-secrets.toml"), "{msg}");
}

#[test]
fn no_type_key_suggests_sql_from_a_url_or_dialect_and_otherwise_lists_the_types() {
    for key in ["url = 'postgresql://db.example.com/shop'", "dialect = 'postgresql'"] {
        let err = registry(&format!("[connections.pg]\n{key}"))
            .connection_dyn("pg")
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(r#"add a line `type = "sql"` under [connections.pg]"#),
            "{msg}"
        );
        assert!(msg.contains("key is a `sql` connection's"), "{msg}");
    }
    // Nothing to go on: no guess, the registered types to choose from.
    let err = registry("[connections.cache]\nhost = 'localhost'")
        .connection_dyn("cache")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, Error::NoTypeKey { suggested: None, .. }), "{msg}");
    assert!(msg.contains(r#"add a line `type = "..."`"#), "{msg}");
    assert!(
        msg.contains("naming one of the registered types: ") && msg.contains("`counted`"),
        "{msg}"
    );
    assert!(!msg.contains(r#"type = "counted""#), "no type is guessed: {msg}");
}

#[test]
fn no_section_lists_the_sections_and_spots_a_singular_table() {
    let reg = registry("[connection.db]\ntype = 'echo'\n[connections.other]\ntype = 'echo'");
    let err = reg.connection_dyn("db").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoSection { .. }), "{msg}");
    assert!(msg.contains("sections that exist: `other`"), "{msg}");
    assert!(
        msg.contains("found a singular [connection.db] table; rename it to [connections.db]"),
        "{msg}"
    );
    let typo = reg.connection_dyn("othr").unwrap_err().to_string();
    assert!(typo.contains("did you mean [connections.other]?"), "{typo}");
}

#[test]
fn a_non_string_type_key_is_named() {
    let err = registry("[connections.db]\ntype = 3").connection_dyn("db").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("key `type` in [connections.db] (from test-secrets.toml): found integer, expected a string"),
        "{msg}"
    );
}

#[test]
fn missing_and_mistyped_keys_name_key_table_and_file() {
    let reg = registry("[connections.db]\nport = 'abc'");
    let conn = reg.connection::<Echo>("db").unwrap();
    let missing = conn.config().get::<String>("host").unwrap_err().to_string();
    assert_eq!(
        missing,
        "missing key `host` in [connections.db]: add `host = ...` under [connections.db] in test-secrets.toml"
    );
    let mistyped = conn.config().get::<u16>("port").unwrap_err().to_string();
    assert_eq!(
        mistyped,
        "key `port` in [connections.db] (from test-secrets.toml): found string, expected u16"
    );
    // With no section at all, the message says where to create it.
    let bare = reg.connection::<Echo>("nosection").unwrap();
    let msg = bare.config().get::<String>("host").unwrap_err().to_string();
    assert!(
        msg.contains("there is no [connections.nosection] section in `test-secrets.toml`"),
        "{msg}"
    );
}

#[test]
fn missing_key_with_no_secrets_file_says_which_file_to_create() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(".streamlit").join("secrets.toml");
    let reg = Registry::builder().secrets_paths([&project]).build();
    let conn = reg.connection::<Echo>("db").unwrap();
    let msg = conn.config().get::<String>("host").unwrap_err().to_string();
    assert!(msg.contains("no secrets file was found"), "{msg}");
    assert!(
        msg.contains(&format!(
            "create {} containing [connections.db] and `host = ...`",
            project.display()
        )),
        "{msg}"
    );
}

#[test]
fn connect_failed_keeps_its_source_and_names_the_connection() {
    let reg = registry("");
    fail_next("e_fail", 1);
    let err = reg.connection::<Counted>("e_fail").unwrap().instance().unwrap_err();
    assert!(matches!(err, Error::ConnectFailed { .. }));
    assert!(
        err.to_string()
            .starts_with("connecting `e_fail` (it::common::Counted) failed"),
        "{err}"
    );
    assert_eq!(err.source().unwrap().to_string(), "scripted failure of e_fail");
    assert_eq!(
        err.to_string(),
        "connecting `e_fail` (it::common::Counted) failed: scripted failure of e_fail"
    );
}

/// A connection whose connect fails as a driver might: quoting its password,
/// behind a wrapper error that keeps the cause as its source.
#[derive(Connection)]
#[connection(type_name = "leaky")]
struct Leaky {
    base: BaseConnection<()>,
}

#[derive(Debug)]
struct Wrapper(std::io::Error);

impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("driver gave up")
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl Leaky {
    fn _connect(&self, config: &Config) -> Result<(), BoxError> {
        let password: String = config.get("password")?;
        let host: String = config.get("host")?;
        Err(Box::new(Wrapper(std::io::Error::other(format!(
            "auth as app:{password} at {host} refused"
        )))))
    }
}

#[test]
fn connect_failed_shows_its_cause_chain_redacted_on_one_line() {
    let reg = registry("[connections.db]\nhost = 'db.internal'\npassword = 'hunter2-sentinel'");
    let err = reg.connection::<Leaky>("db").unwrap().instance().unwrap_err();
    assert_eq!(
        err.to_string(),
        "connecting `db` (it::errors::Leaky, configured from [connections.db] in test-secrets.toml) failed: \
         driver gave up: auth as app:*** at db.internal refused"
    );
    let mut shown = vec![format!("{err:?}"), format!("{err:#?}")];
    let mut source = err.source();
    while let Some(cause) = source {
        shown.push(format!("{cause} {cause:?}"));
        source = cause.source();
    }
    assert_eq!(shown.len(), 3, "one source, redacted, with none of its own");
    for text in &shown {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // The cause itself stays reachable, to downcast.
    let cause = err.connect_cause().unwrap().downcast_ref::<Wrapper>().unwrap();
    assert!(cause.0.to_string().contains("hunter2-sentinel"));
}

#[test]
fn typed_lookups_give_the_same_hints_as_dyn_ones() {
    let reg = registry("[connections.postgresql]\ntype = 'echo'\n[connection.sql]\ntype = 'echo'\n");
    let dyn_err = reg.connection_dyn("postgress").unwrap_err().to_string();
    assert!(dyn_err.contains("did you mean [connections.postgresql]?"), "{dyn_err}");
    let mut logs = String::new();
    for (name, hint) in [
        ("postgress", "did you mean [connections.postgresql]?"),
        (
            "sql",
            "found a singular [connection.sql] table; rename it to [connections.sql]",
        ),
    ] {
        // Typed, and typed with options: no section is needed to build, so the
        // hint comes with the first missing key...
        logs.push_str(&crate::common::captured_logs(|| {
            let conn = reg.connection::<Echo>(name).unwrap();
            let err = conn.config().get::<String>("host").unwrap_err().to_string();
            assert!(err.contains(hint) && err.contains("test-secrets.toml"), "{err}");
        }));
        let conn = reg.lookup(name).kwarg("text", "t").get::<Echo>().unwrap();
        let err = conn.config().get::<String>("host").unwrap_err().to_string();
        assert!(err.contains(hint), "{err}");
        // ...or with the first failed connect.
        fail_next(name, 1);
        let err = reg
            .connection::<Counted>(name)
            .unwrap()
            .instance()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "connecting `{name}` (it::common::Counted) failed: scripted failure of {name} \
                 (note: there is no [connections.{name}] section in `test-secrets.toml`; {hint})"
            )
        );
    }
    // The lookup itself warns, for whoever has a subscriber.
    assert!(
        logs.contains(
            "connection `postgress`: there is no [connections.postgress] section in `test-secrets.toml`; did you mean [connections.postgresql]?"
        ),
        "{logs}"
    );
    assert!(logs.contains("found a singular [connection.sql] table"), "{logs}");
    // A name with a section, or with nothing near it, gets no hint.
    fail_next("zzzzzz", 1);
    let err = reg
        .connection::<Counted>("zzzzzz")
        .unwrap()
        .instance()
        .unwrap_err()
        .to_string();
    assert!(!err.contains("note:"), "{err}");
}

#[test]
fn errors_are_clone_send_sync_and_static() {
    fn assert_traits<T: Clone + Send + Sync + 'static + std::error::Error>() {}
    assert_traits::<Error>();
}

#[test]
fn invalid_names_are_rejected() {
    let reg = registry("");
    let empty = reg.connection::<Echo>("").unwrap_err();
    assert!(matches!(empty, Error::InvalidName { .. }), "{empty}");
    assert!(empty.to_string().contains("cannot be empty"), "{empty}");
    let control = reg.connection::<Echo>("a\u{7}b").unwrap_err();
    assert!(control.to_string().contains("control characters"), "{control}");
    // The name is checked first, whatever the other options say.
    let bad_name_and_type = reg.lookup("").with_type("counted").get::<Echo>().unwrap_err();
    assert!(
        matches!(bad_name_and_type, Error::InvalidName { .. }),
        "{bad_name_and_type}"
    );
    // Unicode is fine.
    assert_eq!(reg.connection::<Echo>("données").unwrap().name(), "données");
}

/// `fn main() -> Result<(), Error>` fails this way.
fn main_returning(err: Error) -> Result<(), Error> {
    Err(err)
}

#[test]
fn debug_leads_with_the_message_so_main_prints_what_to_do() {
    let err = registry("[connections.db]\ntype = 'counted'\n")
        .connection::<Echo>("db")
        .unwrap()
        .config()
        .require(&["username", "host"])
        .unwrap_err();
    let message = err.to_string();
    // What `main` prints: `Error: ` and the `Debug` of the error.
    let printed = format!("Error: {:?}", main_returning(err.clone()).unwrap_err());
    assert!(printed.starts_with(&format!("Error: {message}\n\n")), "{printed}");
    assert!(
        printed.ends_with(r#"MissingKey { key: "username", also_missing: ["host"], table: "[connections.db]", location: "add `username = ...` and `host = ...` under [connections.db] in test-secrets.toml" }"#),
        "{printed}"
    );
    // Through `Box<dyn Error>` too, and pretty with `{:#?}`.
    let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
    assert!(format!("{boxed:?}").starts_with(&message), "{boxed:?}");
    let pretty = format!("{err:#?}");
    assert!(
        pretty.starts_with(&format!("{message}\n\nMissingKey {{\n    key: \"username\",")),
        "{pretty}"
    );
    // A diagnostic reads the same way.
    let found = registry("[connection.db]\ntype = 'echo'\n").diagnostics();
    let shown = format!("{:?}", found[0]);
    assert!(
        shown.starts_with(&format!(
            "{}\n\nDiagnostic {{ severity: Warning, kind: SingularTable",
            found[0]
        )),
        "{shown}"
    );
}

#[test]
fn a_dialect_written_as_the_type_suggests_sql() {
    for dialect in ["postgresql", "mysql", "postgresql+psycopg2"] {
        let err = registry(&format!("[connections.db]\ntype = '{dialect}'\nhost = 'h'\n"))
            .connection_dyn("db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("unknown connection type `{dialect}` (did you mean `sql`?)")),
            "{err}"
        );
    }
}

#[test]
fn a_typed_lookup_warns_once_of_a_misspelt_section_type() {
    let reg = registry(
        "[connections.typo]\ntype = 'echoo'\ntext = 'hi'\n\
         [connections.data]\ntype = 'service_account'\n\
         [connections.other]\ntype = 'counted'\n",
    );
    let logs = crate::common::captured_logs(|| {
        for _ in 0..3 {
            reg.connection::<Echo>("typo").unwrap();
            reg.connection::<Echo>("data").unwrap();
            reg.connection::<Echo>("other").unwrap();
        }
    });
    let warned = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        warned(r#"`type = "echoo"` in [connections.typo] names no connection type (did you mean `echo`?)"#),
        1,
        "{logs}"
    );
    assert_eq!(warned("names the connection type `it::common::Counted`"), 1, "{logs}");
    // A `type` near no connection type is a client library's data: no warning.
    assert_eq!(warned("service_account"), 0, "{logs}");
}

/// Fails to connect; its check connects.
#[derive(Connection)]
#[connection(type_name = "errors-unreachable")]
struct Unreachable {
    base: BaseConnection<()>,
}

impl Unreachable {
    fn _connect(&self, _: &Config) -> Result<(), BoxError> {
        Err("no route to the probe".into())
    }
    fn _check(&self) -> Result<(), BoxError> {
        self.instance()?;
        Ok(())
    }
}

#[test]
fn a_check_error_states_its_cause_once() {
    // No section, and a near one: the failed connect carries a note after its cause.
    let reg = registry("[connections.checks_typo]\ntype = 'errors-unreachable'\n");
    let conn = reg.connection::<Unreachable>("checkstypo").unwrap();
    assert!(conn.instance().is_err());
    let checks = futures_executor::block_on(reg.check());
    let error = checks[0].error.as_deref().unwrap();
    assert_eq!(error.matches("no route to the probe").count(), 1, "{error}");
    assert!(
        error.contains("(note: there is no [connections.checkstypo] section"),
        "{error}"
    );
}
