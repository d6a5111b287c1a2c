//! No secret value in any output: a sentinel password is planted, every
//! `Display` and `Debug` the tests can reach is checked.

use connections::prelude::*;
use connections::{Registry, Secrets};

use crate::common::{Counted, Echo};

const SENTINEL: &str = "S3NT1NEL-hunter2";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SENTINEL), "{what} leaked the secret: {text}");
    assert!(!text.contains("S3NT1NEL"), "{what} leaked part of the secret: {text}");
}

fn check<T: std::fmt::Display + std::fmt::Debug>(what: &str, value: &T) {
    assert_clean(&format!("{what} Display"), &value.to_string());
    assert_clean(&format!("{what} Debug"), &format!("{value:?}"));
    assert_clean(&format!("{what} Debug (alternate)"), &format!("{value:#?}"));
}

fn secrets_toml() -> String {
    format!(
        "[connections.vault]\ntype = 'echo'\npassword = '{SENTINEL}'\nport = '{SENTINEL}'\nmode = '{SENTINEL}'\n\
         [connections.vault.query]\nsslmode = '{SENTINEL}'\n\
         [connections.panicky]\ntype = 'counted'\npanic = true\npassword = '{SENTINEL}'\n\
         [api]\nkey = '{SENTINEL}'"
    )
}

/// Panics with the password in its message.
#[derive(Connection)]
struct Leaky {
    base: BaseConnection<()>,
}
impl Leaky {
    fn _connect(&self, config: &Config) -> Result<(), BoxError> {
        let password: String = config.get("password")?;
        panic!("could not log in with password {password}");
    }
}

/// Its close hook fails, or panics, quoting the password it connected with.
#[derive(Connection)]
#[connection(type_name = "leaky-close")]
struct LeakyClose {
    base: BaseConnection<(String, bool)>,
}
impl LeakyClose {
    fn _connect(&self, config: &Config) -> Result<(String, bool), BoxError> {
        Ok((config.get("password")?, config.get_opt("panic")?.unwrap_or(false)))
    }
    fn _close((password, panic): (String, bool)) -> Result<(), BoxError> {
        assert!(!panic, "could not log out with password {password}");
        Err(format!("logout refused for password {password}").into())
    }
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Settings {
    password: String,
    mode: Mode,
}
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
enum Mode {
    Fast,
    Safe,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Login {
    password: Secret<String>,
    query: std::collections::BTreeMap<String, Secret<String>>,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Custom {
    #[serde(deserialize_with = "reject_quoting")]
    password: String,
}

fn reject_quoting<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    Err(serde::de::Error::custom(format!("password {s} is too weak")))
}

#[test]
fn no_output_contains_the_secret() {
    let reg = Registry::builder().secrets_toml("vault.toml", secrets_toml()).build();
    check("registry", &format!("{reg:?}"));

    let secrets: std::sync::Arc<Secrets> = reg.secrets().unwrap();
    assert_clean("secrets Debug", &format!("{secrets:?} {secrets:#?}"));
    check("secrets.get error", &secrets.get::<u32>("api.key").unwrap_err());

    let echo = reg.connection::<Echo>("vault").unwrap();
    check("connection", echo.base());
    check("config", &format!("{:?}", echo.config()));
    let any = reg.connection_dyn("vault").unwrap();
    assert_clean("dyn Display", &any.to_string());
    assert_clean("dyn Debug", &format!("{any:?}"));

    let config = echo.config();
    check("invalid type", &config.get::<u16>("port").unwrap_err());
    check("invalid nested type", &config.get::<u16>("query.sslmode").unwrap_err());
    check("invalid bool", &config.get::<bool>("password").unwrap_err());
    check("unknown variant", &config.deserialize::<Settings>().unwrap_err());
    check("custom message", &config.deserialize::<Custom>().unwrap_err());
    check("missing key", &config.get::<String>("nope").unwrap_err());

    // Secret<T> read from the config, alone and inside a struct.
    let password: Secret<String> = config.get("password").unwrap();
    check("Secret", &password);
    assert_eq!(password.expose(), SENTINEL);
    let login: Login = config.deserialize().unwrap();
    assert_clean("struct with Secret fields", &format!("{login:?} {login:#?}"));

    // A panic quoting the password.
    let leaky = reg
        .lookup("vault")
        .with_type("it::redaction::Leaky")
        .get::<Leaky>()
        .unwrap();
    let err = leaky.instance().unwrap_err();
    assert!(matches!(err, Error::ConnectPanicked { .. }), "{err}");
    assert!(err.to_string().contains("could not log in with password ***"), "{err}");
    check("connect panicked", &err);

    let panicky = reg.connection::<Counted>("panicky").unwrap();
    check("connect panicked (counted)", &panicky.instance().unwrap_err());

    // Type errors, mismatches, bad names.
    check(
        "type mismatch",
        &reg.lookup("vault").with_type("counted").get::<Echo>().unwrap_err(),
    );
    // The one value errors quote is the `type` key's, which names a connection
    // type (the message must show what was asked for); other keys stay hidden.
    let unknown = Registry::builder()
        .secrets_toml(
            "s",
            format!("[connections.x]\ntype = 'no-such-type'\npassword = '{SENTINEL}'"),
        )
        .build()
        .connection_dyn("x")
        .unwrap_err();
    assert!(unknown.to_string().contains("`no-such-type`"), "{unknown}");
    check("unknown type", &unknown);

    // Malformed TOML whose bad line holds the secret.
    let bad = Registry::builder()
        .secrets_toml(
            "bad.toml",
            format!("[connections.x]\npassword = \"{SENTINEL}\nport = 1"),
        )
        .build();
    check("malformed toml", &bad.secrets().unwrap_err());
    let bad = Registry::builder()
        .secrets_toml("bad2.toml", format!("[connections.x]\npassword = {SENTINEL}"))
        .build();
    check("malformed toml (bare value)", &bad.secrets().unwrap_err());

    // Close hooks that fail and panic quoting the password: logged, redacted.
    let closing = Registry::builder()
        .secrets_toml(
            "closing.toml",
            format!(
                "[connections.fails]\ntype = 'leaky-close'\npassword = '{SENTINEL}'\n\
                 [connections.panics]\ntype = 'leaky-close'\npassword = '{SENTINEL}'\npanic = true"
            ),
        )
        .build();
    for name in ["fails", "panics"] {
        closing.connection::<LeakyClose>(name).unwrap().instance().unwrap();
    }
    let log = crate::common::captured_logs(|| closing.clear_cache());
    assert!(
        log.contains("logout refused for password ***") && log.contains("could not log out with password ***"),
        "both closes were logged: {log}"
    );
    assert_clean("close hook logs", &log);
}

/// Fails quoting its database, as a server does, and its password.
#[derive(Connection)]
#[connection(type_name = "no-such-db")]
struct NoSuchDb {
    base: BaseConnection<()>,
}
impl NoSuchDb {
    fn _connect(&self, config: &Config) -> Result<(), BoxError> {
        let database: String = config.get("database")?;
        let password: String = config.get("password")?;
        panic!("database \"{database}\" does not exist (user app, password {password}, sslmode require)");
    }
}

#[test]
fn redaction_masks_secrets_and_keeps_the_rest_readable() {
    let reg = Registry::builder()
        .secrets_toml(
            "shop.toml",
            format!(
                "[connections.shop]\ntype = 'no-such-db'\ndatabase = 'shop'\nusername = 'app'\n\
                 password = '{SENTINEL}'\nsslmode = 'require'"
            ),
        )
        .build();
    let err = reg.connection::<NoSuchDb>("shop").unwrap().instance().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(r#"database "shop" does not exist (user app, password ***, sslmode require)"#),
        "{text}"
    );
    check("a readable error", &err);
}
