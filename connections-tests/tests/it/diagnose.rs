//! `Registry::diagnostics` and the doctor's report: every warning about the
//! secrets as data, with the same hints the lookups give.

use connections::doctor::Report;
use connections::prelude::*;
use connections::{DiagnosticKind, Registry, Severity};

use crate::common::registry;

#[test]
fn registered_types_are_resolved_and_clean_sections_have_no_diagnostics() {
    let reg = registry("[connections.e]\ntype = 'echo'\ntext = 'hi'\n[connections.counted]\nsleep_ms = 0\n");
    assert_eq!(reg.diagnostics(), []);
    let report = Report::new(&reg);
    let types: Vec<_> = report
        .sections
        .iter()
        .map(|s| (s.name.as_str(), s.type_path.as_deref()))
        .collect();
    // `counted` has no `type` key: its name is a type's short name, as in Streamlit.
    assert_eq!(
        types,
        [
            ("counted", Some("it::common::Counted")),
            ("e", Some("it::common::Echo"))
        ]
    );
    assert!(!report.has_errors());
}

#[test]
fn sections_without_a_usable_type_are_named_as_lookups_name_them() {
    let reg = registry(
        "[connections.a]\ntext = 'x'\n[connections.b]\ntype = 'echoo'\n[connections.c]\nurl = 'sqlite::memory:'\n",
    );
    let found = reg.diagnostics();
    let summary: Vec<_> = found
        .iter()
        .map(|d| (d.connection.as_deref().unwrap(), d.severity, d.kind))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", Severity::Warning, DiagnosticKind::NoType),
            ("b", Severity::Error, DiagnosticKind::UnknownType),
            ("c", Severity::Warning, DiagnosticKind::NoType),
        ]
    );
    // The same messages a lookup gives.
    assert_eq!(found[1].message, reg.connection_dyn("b").unwrap_err().to_string());
    assert!(found[1].message.contains("(did you mean `echo`?)"), "{}", found[1]);
    assert!(found[2].message.contains("add a line `type = \"sql\"`"), "{}", found[2]);
    assert!(
        found
            .iter()
            .all(|d| d.origin.as_deref() == Some(std::path::Path::new("test-secrets.toml")))
    );
}

#[test]
fn a_malformed_file_is_one_error_with_its_position() {
    let reg = registry("[connections.a]\ntype = 'echo'\ntext = 'unterminated\n");
    let found = reg.diagnostics();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].severity, found[0].kind),
        (Severity::Error, DiagnosticKind::Syntax)
    );
    assert_eq!((found[0].line, found[0].column.is_some()), (Some(3), true));
    assert_eq!(found[0].message, reg.secrets().unwrap_err().to_string());
}

#[test]
fn values_are_masked_by_the_redaction_rules_and_origins_named() {
    let reg = Registry::builder()
        .secrets_toml("base.toml", "[connections.db]\ntype = 'echo'\nhost = 'db.internal'\npassword = 'base-pw'\n")
        .secrets_toml(
            "override.toml",
            "[connections.db]\napi_token = 'tok-123'\ndsn = 'postgresql://u:dsn-pw@db.internal/x'\n[connections.db.credentials]\npin = 1234\n",
        )
        .build();
    let report = Report::new(&reg);
    let keys: Vec<_> = report.sections[0]
        .keys
        .iter()
        .map(|k| (k.key.as_str(), k.value.as_str(), k.origin.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("type", "\"echo\"", "base.toml"),
            ("api_token", "***", "override.toml"),
            ("credentials.pin", "***", "override.toml"),
            // A key `echo` does not declare may hold anything: masked whole.
            ("dsn", "***", "override.toml"),
            ("host", "\"db.internal\"", "base.toml"),
            ("password", "***", "base.toml"),
        ]
    );
    let text = format!("{report}{}", report.to_json());
    for secret in ["base-pw", "tok-123", "dsn-pw", "1234"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn diagnostics_check_a_section_against_the_type_code_chose() {
    // Copied from a SQL section, used in code as an `Echo`.
    let reg = registry("[connections.cache]\ntype = 'sql'\nhost = 'cache.internal'\n");
    let before = reg.diagnostics();
    assert!(
        before.iter().any(|d| d.message.contains("dialect")),
        "before any lookup, the section reads as SQL: {before:?}"
    );
    reg.connection::<crate::common::Echo>("cache").unwrap();
    let after = reg.diagnostics();
    assert!(!after.iter().any(|d| d.message.contains("dialect")), "{after:?}");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        (after[0].severity, after[0].kind),
        (Severity::Warning, DiagnosticKind::TypeConflict)
    );
    assert!(
        after[0]
            .message
            .contains("is used as `it::common::Echo` (chosen in code), but `type = \"sql\"`"),
        "{}",
        after[0]
    );
    let report = Report::new(&reg);
    assert_eq!(report.sections[0].type_name.as_deref(), Some("echo"));
}

/// An application's own type: logs in with `username` and `password`.
#[derive(Connection)]
#[connection(type_name = "dg-login")]
struct Login {
    base: BaseConnection<String>,
}

impl Login {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        config.require(&["username", "password"])?;
        Ok(config.get("username")?)
    }

    fn _check(&self) -> Result<(), BoxError> {
        if self.instance()?.as_str() == "locked" {
            return Err("the account is locked".into());
        }
        Ok(())
    }
}

/// A session-scoped type: each scope connects its own.
#[derive(Connection)]
#[connection(type_name = "dg-session", scope = "session")]
struct PerUser {
    base: BaseConnection<()>,
}

impl PerUser {
    fn _connect(&self, _: &Config) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn the_applications_doctor_connects_its_own_types_and_runs_their_checks() {
    let reg = registry(
        "[connections.good]\ntype = 'dg-login'\nusername = 'app'\npassword = 'pw'\n\
         [connections.typos]\ntype = 'dg-login'\nusrname = 'app'\npasswrd = 'pw'\n\
         [connections.locked]\ntype = 'dg-login'\nusername = 'locked'\npassword = 'pw'\n\
         [connections.sessions]\ntype = 'dg-session'\n\
         [connections.unknown]\ntype = 'dg-nothing'\n",
    );
    let mut report = Report::new(&reg);
    report.connect(&reg);
    let outcome = |name: &str| {
        report
            .sections
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.connect.clone())
            .unwrap()
    };
    let good = outcome("good");
    assert!(good.ok && good.checked && good.error.is_none(), "{good:?}");
    let typos = outcome("typos");
    assert!(!typos.ok && !typos.checked, "{typos:?}");
    assert!(
        typos
            .error
            .as_deref()
            .unwrap()
            .starts_with("missing keys `username`, `password` in [connections.typos]"),
        "{typos:?}"
    );
    let locked = outcome("locked");
    assert!(!locked.ok && locked.checked, "{locked:?}");
    assert_eq!(
        locked.error.as_deref(),
        Some("connected `locked` (it::diagnose::Login), but its check failed: the account is locked")
    );
    let sessions = outcome("sessions");
    assert!(
        sessions.skipped.as_deref().unwrap().contains("is session-scoped"),
        "{sessions:?}"
    );
    let unknown = outcome("unknown");
    assert!(
        unknown
            .skipped
            .as_deref()
            .unwrap()
            .contains("fix the section's `type` first"),
        "{unknown:?}"
    );
    assert!(report.has_errors());
    let text = report.to_string();
    assert!(
        text.contains("connected in ") && text.contains(", check passed"),
        "{text}"
    );
    assert!(text.ends_with("2 failed connects, 2 connects skipped"), "{text}");
    // Nothing was cached in the application's registry.
    assert_eq!(reg.cached_len(), 0);
}
