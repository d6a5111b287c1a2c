//! Unit tests of `Config`: typed reads, quoted scalars, origins, redaction.

use super::*;

#[test]
fn keys_read_as_a_secret_are_redacted_at_any_depth() {
    let config = Config::from_toml("c", "dsn = 'plain-dsn-value'\n[creds]\napi = 'dotted-api-value'").unwrap();
    let text = "failed with plain-dsn-value and dotted-api-value";
    let _: String = config.get("dsn").unwrap();
    let _: String = config.get("creds.api").unwrap();
    assert_eq!(config.redact(text), text, "read, and neither name marks a secret");
    let _: crate::Secret<String> = config.get("dsn").unwrap();
    let _: crate::Secret<String> = config.get("creds.api").unwrap();
    let _: String = config.get("creds.api").unwrap();
    assert_eq!(config.redact(text), "failed with *** and ***");
}

#[test]
fn values_of_keys_the_connection_never_read_are_masked() {
    #[derive(serde::Deserialize)]
    #[expect(dead_code, reason = "only what it reads counts")]
    struct Tenant {
        tenant: String,
    }

    let config = Config::from_toml(
        "c",
        "host = 'db.example.com'\ntenant = 'acme'\npasword = 'hunter2'\nusrname = 'typo'",
    )
    .unwrap();
    let text = "db.example.com acme hunter2 typo";
    assert_eq!(
        config.redact(text),
        "db.example.com *** *** ***",
        "host is harmless, the rest unknown"
    );
    let _: Option<String> = config.get_opt("tenant").unwrap();
    let _: Option<String> = config.get_opt("usrname").unwrap();
    let _: Option<String> = config.get_opt("pasword").unwrap();
    assert_eq!(
        config.redact(text),
        "db.example.com acme *** typo",
        "a near miss of `password` stays secret"
    );

    let config = Config::from_toml("c", "tenant = 'acme'\nusrname = 'typo'").unwrap();
    let _: Tenant = config.deserialize().unwrap();
    assert_eq!(
        config.redact("acme typo"),
        "acme ***",
        "the key serde ignored stays unknown"
    );
}

#[test]
fn a_type_key_naming_the_connection_type_is_left_out_of_deserialize() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        host: String,
    }
    let config = Config::from_toml("c", "type = 'redis'\nhost = 'h'").unwrap();
    assert!(
        config.deserialize::<Strict>().is_err(),
        "a client library's `type` is its data"
    );
    let ours = config.with_type_key_ours(true);
    assert_eq!(ours.deserialize::<Strict>().unwrap().host, "h");
    assert_eq!(ours.get::<String>("type").unwrap(), "redis", "still readable by name");
}

#[test]
fn invalid_type_messages_drop_the_value() {
    let t = Table::new();
    assert_eq!(
        describe("invalid type: string \"s3cr3t\", expected u16", "string", &t),
        "found string, expected u16"
    );
    assert_eq!(
        describe("unknown variant `s3cr3t`, expected one of `a`, `b`", "string", &t),
        "unknown variant, expected one of `a`, `b`"
    );
}

#[test]
fn an_integer_out_of_range_says_so_and_gives_the_range() {
    #[derive(Debug, serde::Deserialize)]
    struct Db {
        #[expect(dead_code, reason = "only its conversion is tested")]
        port: u16,
    }
    let config = Config::from_toml("db", "port = 99999\nretries = -1\nsmall = 300\nname = 7").unwrap();
    let err = config.get::<u16>("port").unwrap_err().to_string();
    assert!(
        err.ends_with("the integer is out of range: expected u16, a whole number from 0 to 65535"),
        "{err}"
    );
    assert!(!err.contains("99999"), "{err}");
    let err = config.get::<u32>("retries").unwrap_err().to_string();
    assert!(
        err.contains("out of range: expected u32, a whole number from 0 to 4294967295"),
        "{err}"
    );
    let err = config.get::<i8>("small").unwrap_err().to_string();
    assert!(err.contains("from -128 to 127"), "{err}");
    // A type mismatch is still a type mismatch.
    let err = config.get::<String>("name").unwrap_err().to_string();
    assert!(err.ends_with("found integer, expected a string"), "{err}");
    // And through serde, nested in a struct.
    let err = config.deserialize::<Db>().unwrap_err().to_string();
    assert!(err.contains("key `port`") && err.contains("from 0 to 65535"), "{err}");
}
