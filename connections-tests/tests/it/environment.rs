//! `CONNECTIONS__<NAME>__<KEY>` environment variables: connections defined
//! with no file, and the precedence files < environment < kwargs.
//!
//! The variables are set on a child process running the ignored test below
//! (the workspace forbids `unsafe`, and `std::env::set_var` is unsafe).

use connections::Registry;
use connections::prelude::*;

use crate::common::Echo;

const FILE: &str = "[connections.db]\ntype = 'echo'\ntext = 'file'\nport = 1\nhost = 'file-host'\n\
                    [connections.MyDb]\ntype = 'echo'\ntext = 'kept'\n";

#[test]
#[ignore = "run by environment_overrides_the_files in a child process"]
fn child_with_connection_variables() {
    if std::env::var("CONNECTIONS__ENVONLY__TYPE").is_err() {
        return;
    }
    let reg = Registry::builder().secrets_toml("secrets.toml", FILE).build();

    // A connection defined by environment variables alone.
    let env_only = reg.connection_dyn("envonly").unwrap();
    assert_eq!(env_only.type_name(), "echo");
    let echo = env_only.downcast::<Echo>().ok().unwrap();
    assert_eq!(*echo.instance().unwrap(), "from the environment");

    // A section defined in the environment gets its missing keys there too.
    let missing = echo.config().get::<String>("user").unwrap_err().to_string();
    assert!(
        missing.contains(
            "set `CONNECTIONS__ENVONLY__USER=...` in the environment, where [connections.envonly] is defined"
        ),
        "{missing}"
    );
    let untyped = reg.connection_dyn("notype").unwrap_err().to_string();
    assert!(
        untyped.contains("set `CONNECTIONS__NOTYPE__TYPE=")
            && untyped.contains("` in the environment, where [connections.notype] is defined"),
        "{untyped}"
    );

    // The environment overrides the file key by key; untouched keys stay.
    let db = reg.connection::<Echo>("db").unwrap();
    assert_eq!(*db.instance().unwrap(), "env text");
    assert_eq!(db.config().get::<String>("host").unwrap(), "file-host");
    // Values stay text and read as numbers when asked: a numeric password stays a string.
    assert_eq!(db.config().get::<u16>("port").unwrap(), 5433);
    assert_eq!(db.config().get::<String>("password").unwrap(), "12345");
    assert_eq!(db.config().get::<String>("query.sslmode").unwrap(), "require");
    // A variable sets one key: the section is still the file's, so a missing
    // key says to add it there, not to the variable.
    let missing = db.config().get::<String>("user").unwrap_err().to_string();
    assert!(
        missing.contains("add `user = ...` under [connections.db] in secrets.toml"),
        "{missing}"
    );
    // Errors name the variable a value came from.
    let err = db.config().get::<u32>("timeout").unwrap_err().to_string();
    assert!(
        err.contains("(from environment variable CONNECTIONS__DB__TIMEOUT)"),
        "{err}"
    );

    // Kwargs override the environment.
    let kw = reg.lookup("db").kwarg("text", "kwarg text").get::<Echo>().unwrap();
    assert_eq!(*kw.instance().unwrap(), "kwarg text");

    // A name matches an existing section whatever its case.
    let my_db = reg.connection::<Echo>("MyDb").unwrap();
    assert_eq!(my_db.config().get::<String>("host").unwrap(), "mixed-case");
    assert_eq!(*my_db.instance().unwrap(), "kept");

    // Malformed variables are ignored, not fatal, and the registry's
    // diagnostics name them for whoever has no tracing subscriber.
    assert!(
        reg.secrets()
            .unwrap()
            .get_opt::<String>("connections.lonely")
            .unwrap()
            .is_none()
    );
    let ignored: Vec<_> = reg
        .diagnostics()
        .into_iter()
        .filter(|d| d.kind == connections::DiagnosticKind::IgnoredVariable)
        .collect();
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert_eq!(
        ignored[0].message,
        "ignoring `CONNECTIONS__LONELY`: write it as CONNECTIONS__<NAME>__<KEY>=value"
    );
    assert_eq!(
        ignored[0].origin.as_deref(),
        Some(std::path::Path::new("environment variable CONNECTIONS__LONELY"))
    );

    // A registry can opt out.
    let plain = Registry::builder()
        .secrets_toml("secrets.toml", FILE)
        .env_overrides(false)
        .build();
    assert!(plain.connection_dyn("envonly").is_err());
    assert_eq!(*plain.connection::<Echo>("db").unwrap().instance().unwrap(), "file");
    println!("{}", crate::common::CHILD_CHECKED);
}

#[test]
fn environment_overrides_the_files() {
    let vars = [
        ("CONNECTIONS__ENVONLY__TYPE", "echo"),
        ("CONNECTIONS__ENVONLY__TEXT", "from the environment"),
        ("CONNECTIONS__NOTYPE__TEXT", "no type"),
        ("CONNECTIONS__DB__TEXT", "env text"),
        ("CONNECTIONS__DB__PORT", "5433"),
        ("CONNECTIONS__DB__PASSWORD", "12345"),
        ("CONNECTIONS__DB__QUERY__SSLMODE", "require"),
        ("CONNECTIONS__DB__TIMEOUT", "soon"),
        ("CONNECTIONS__MYDB__HOST", "mixed-case"),
        ("CONNECTIONS__LONELY", "no key"),
    ];
    let envs: Vec<(&str, &std::ffi::OsStr)> = vars.iter().map(|(k, v)| (*k, v.as_ref())).collect();
    crate::common::run_in_child("environment::child_with_connection_variables", &envs);
}
