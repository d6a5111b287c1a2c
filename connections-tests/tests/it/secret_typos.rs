//! A misspelt secret is still a secret: every secret key name, with one, two
//! and three typos, carries a sentinel value through the doctor's table and
//! JSON, `diagnostics()`, health and the tracing output, and none of them
//! shows it. Harmless keys (host, user) stay readable.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use connections::doctor::Report;
use connections::prelude::*;
use connections::{Registry, Secret};

use crate::common::LogCapture;

/// Every sentinel value starts with this; no output may contain it.
const MARK: &str = "S3NTL";

/// Key names that hold secrets, as Streamlit apps and drivers spell them.
const SECRET_NAMES: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "auth_token",
    "api_key",
    "apikey",
    "private_key",
    "secret_access_key",
    "credentials",
    "auth",
];

/// Names a typo may land on that are real, harmless keys of their own.
const HARMLESS: [&str; 12] = [
    "type", "url", "host", "port", "db", "user", "username", "database", "server", "schema", "driver", "dialect",
];

/// `name` with `count` typos as hands make them: a letter dropped, doubled,
/// or swapped with the next, at positions spread over the name; one variant
/// per starting position and first kind of typo.
fn typos(name: &str, count: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for start in 0..name.len() {
        for first in 0..3 {
            let mut letters: Vec<char> = name.chars().collect();
            for k in 0..count {
                if letters.len() < 2 {
                    break;
                }
                let at = (start + 2 * k) % letters.len();
                match (first + k) % 3 {
                    0 => {
                        letters.remove(at);
                    }
                    1 => letters.insert(at, letters[at]),
                    _ => {
                        let at = at.min(letters.len() - 2);
                        letters.swap(at, at + 1);
                    }
                }
            }
            out.insert(letters.into_iter().collect());
        }
    }
    out.retain(|t: &String| t != name && !t.is_empty() && !HARMLESS.contains(&t.as_str()));
    out
}

/// Every misspelt key, with its typo count, once.
fn misspelt_keys() -> Vec<(String, usize)> {
    let mut seen = BTreeSet::new();
    let mut keys = Vec::new();
    for name in SECRET_NAMES {
        for count in 1..=3 {
            for typo in typos(name, count) {
                if !SECRET_NAMES.contains(&typo.as_str()) && seen.insert(typo.clone()) {
                    keys.push((typo, count));
                }
            }
        }
    }
    keys
}

/// A connection whose `_connect` fails the way a chatty driver does: its
/// message quotes every value of its section, read or not.
#[derive(Connection)]
#[connection(type_name = "typo-probe")]
struct TypoProbe {
    base: BaseConnection<()>,
}

impl TypoProbe {
    fn _connect(&self, config: &Config) -> Result<(), BoxError> {
        let host: String = config.get("host")?;
        let user: String = config.get("username")?;
        let _password: Secret<String> = config.get("password")?;
        let dsn: Vec<String> = config
            .as_table()
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        Err(format!("login refused for {user} at {host} ({})", dsn.join(" ")).into())
    }

    fn _check(&self) -> Result<(), BoxError> {
        self.instance()?;
        Ok(())
    }
}

fn secrets_toml(keys: &[(String, usize)]) -> String {
    let mut toml = format!(
        "[connections.app]\ntype = 'typo-probe'\nhost = 'db.example.com'\nusername = 'app'\npassword = '{MARK}-real'\n"
    );
    for (i, (key, _)) in keys.iter().enumerate() {
        let _ = writeln!(toml, "\"{key}\" = '{MARK}-{i}-v'");
    }
    toml.push_str("\n[connections.db]\ntype = 'sql'\nurl = 'sqlite::memory:'\n");
    for (i, (key, _)) in keys.iter().enumerate() {
        let _ = writeln!(toml, "\"{key}\" = '{MARK}-{i}-w'");
    }
    toml
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    if let Some(at) = text.find(MARK) {
        let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
        panic!("{what} shows a secret: {}", &text[from..to]);
    }
}

#[test]
fn a_misspelt_secret_shows_nowhere() {
    let keys = misspelt_keys();
    for count in 1..=3 {
        let n = keys.iter().filter(|(_, c)| *c == count).count();
        assert!(n >= 20, "only {n} keys with {count} typo(s): {keys:?}");
    }
    let registry = Registry::builder()
        .secrets_toml("typos/secrets.toml", secrets_toml(&keys))
        .build();

    // The doctor: its table (with and without colour), its JSON, and the data.
    let report = Report::new(&registry);
    assert_clean("doctor", &report.to_string());
    assert_clean("doctor (colour)", &report.render(true));
    assert_clean("doctor --json", &report.to_json());
    assert_clean("report Debug", &format!("{report:?}"));
    let found = registry.diagnostics();
    for d in &found {
        assert_clean("diagnostic", &format!("{d} {d:?}"));
    }
    // Harmless values stay readable, and the misspelt keys are listed by name.
    let app = report.sections.iter().find(|s| s.name == "app").unwrap();
    let shown = |key: &str| app.keys.iter().find(|k| k.key == key).map(|k| k.value.clone());
    assert_eq!(shown("host").as_deref(), Some("\"db.example.com\""));
    assert_eq!(shown("username").as_deref(), Some("\"app\""));
    assert_eq!(shown("pasword").as_deref(), Some("***"), "a near miss of `password`");
    let db = report.sections.iter().find(|s| s.name == "db").unwrap();
    assert!(
        db.diagnostics
            .iter()
            .any(|d| d.message.contains("`pasword` (did you mean `password`?)")),
        "{:?}",
        db.diagnostics
    );

    // Tracing: a failed connect and a failed check, whose error quotes every value.
    let capture = LogCapture::default();
    let guard = capture.set_default();
    tracing::callsite::rebuild_interest_cache();
    let app = registry.connection::<TypoProbe>("app").unwrap();
    let err = app.instance().unwrap_err();
    let checks = futures_executor::block_on(registry.check());
    drop(guard);
    let logs = capture.text();
    assert!(logs.contains("connect failed"), "{logs}");
    assert_clean("tracing", &logs);
    assert_clean("connect error", &format!("{err} {err:?}"));
    assert!(
        err.to_string().contains("login refused for app at db.example.com"),
        "still says who and where: {err}"
    );
    assert_clean("check outcomes", &format!("{checks:?}"));
    assert_clean("health", &format!("{:?}", registry.health()));
}

#[test]
fn the_typos_are_the_ones_people_make() {
    assert!(typos("password", 1).contains("pasword"));
    assert!(typos("password", 1).contains("passowrd"));
    assert!(typos("token", 1).contains("tokn"));
    assert!(typos("secret", 1).contains("secert"));
    assert!(typos("password", 2).iter().all(|t| t.len() >= 6));
}
