//! Every error says what was asked, what was found, and what to write.

use std::error::Error as _;

use connections_core::Registry;
use connections_core::prelude::*;

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
        assert!(msg.contains("is a SQL connection's"), "{msg}");
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
