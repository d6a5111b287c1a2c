//! Unit tests of the mapping of connect arguments and TLS settings onto sqlx options.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::ConnectOptions as _;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::*;
use connections_core::Connection as _;

const SENTINEL: &str = "Sentinel-Pw-7f3a";

fn cfg(toml: &str) -> Config {
    Config::from_toml("db", toml).unwrap()
}

fn ok(toml: &str) -> SqlOptions {
    parse(&cfg(toml)).unwrap_or_else(|e| panic!("{toml}: {e}"))
}

fn err(toml: &str) -> Error {
    parse(&cfg(toml)).expect_err(toml)
}

fn sqlite_file(url: &str) -> PathBuf {
    (url).parse::<SqliteConnectOptions>().unwrap().get_filename().to_owned()
}

fn pg(url: &str) -> PgConnectOptions {
    (url).parse::<PgConnectOptions>().unwrap()
}

// ---------------------------------------------------------------- warnings capture

type Events = Arc<Mutex<Vec<(tracing::Level, String)>>>;

/// A subscriber that records every event's level and fields.
struct Capture(Events);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        self.0.lock().unwrap().push((*event.metadata().level(), text.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `f`, returning its result and the warnings it logged.
fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let events = Events::default();
    let out = tracing::subscriber::with_default(Capture(events.clone()), f);
    let events = events.lock().unwrap();
    let warns = events
        .iter()
        .filter(|(level, _)| *level == tracing::Level::WARN)
        .map(|(_, text)| text.clone())
        .collect();
    (out, warns)
}

fn all_events<T>(f: impl FnOnce() -> T) -> Vec<String> {
    let events = Events::default();
    tracing::subscriber::with_default(Capture(events.clone()), f);
    events.lock().unwrap().iter().map(|(_, t)| t.clone()).collect()
}

// ---------------------------------------------------------------- server URLs

#[test]
fn sqlalchemy_schemes_map_to_sqlx_schemes() {
    for (given, scheme, dialect) in [
        ("postgresql", "postgres", Dialect::Postgres),
        ("postgres", "postgres", Dialect::Postgres),
        ("postgresql+psycopg2", "postgres", Dialect::Postgres),
        ("PostgreSQL+asyncpg", "postgres", Dialect::Postgres),
        ("mysql", "mysql", Dialect::MySql),
        ("mysql+pymysql", "mysql", Dialect::MySql),
        ("mariadb", "mysql", Dialect::MySql),
        ("mariadb+mariadbconnector", "mysql", Dialect::MySql),
    ] {
        let o = ok(&format!(
            "url = '{given}://app:pw@db.example:5433/shop?sslmode=require'"
        ));
        // sqlx's name for the same setting, and MySQL's name for the mode.
        let tls = if dialect == Dialect::MySql {
            "ssl-mode=REQUIRED"
        } else {
            "sslmode=require"
        };
        assert_eq!(
            o.url,
            format!("{scheme}://app:pw@db.example:5433/shop?{tls}"),
            "{given}"
        );
        assert_eq!(o.dialect, dialect, "{given}");
        assert_eq!(o.display_url, format!("{scheme}://app:***@db.example:5433/shop?{tls}"));
        assert!(o.tls.required);
        assert!(!o.in_memory);
    }
    let options = pg(&ok("url = 'postgresql+psycopg2://app:pw@db.example:5433/shop'").url);
    assert_eq!(
        (
            options.get_host(),
            options.get_port(),
            options.get_username(),
            options.get_database()
        ),
        ("db.example", 5433, "app", Some("shop"))
    );
    let options = ok("url = 'mariadb://app@db.example/shop'")
        .url
        .parse::<MySqlConnectOptions>()
        .unwrap();
    assert_eq!(
        (options.get_host(), options.get_database()),
        ("db.example", Some("shop"))
    );
}

#[test]
fn unsupported_dialects_are_named_with_the_supported_ones() {
    for (toml, key, dialect) in [
        ("url = 'mssql+pyodbc://u:pw@h/db'", "url", "mssql"),
        ("url = 'snowflake://u:pw@acct/db'", "url", "snowflake"),
        ("dialect = 'oracle'\nhost = 'h'\nusername = 'u'", "dialect", "oracle"),
    ] {
        let e = err(toml);
        assert!(matches!(&e, Error::InvalidValue { key: k, .. } if k == key), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{dialect}` is not supported")), "{msg}");
        assert!(
            msg.contains("`postgresql`") && msg.contains("`mariadb`") && msg.contains("`sqlite`"),
            "{msg}"
        );
    }
}

#[test]
fn malformed_urls_are_rejected_without_showing_them() {
    for url in [
        format!("app:{SENTINEL}@host/db"), // no scheme: the "scheme" would be the user name
        SENTINEL.to_owned(),               // no colon at all
        format!("postgresql:app:{SENTINEL}@h"), // no `//`
        format!("postgresql://app:{SENTINEL}@h:99999/db"), // bad port
        format!("9pg://app:{SENTINEL}@h/db"), // not a scheme
    ] {
        let e = err(&format!("url = '{url}'"));
        assert!(matches!(&e, Error::InvalidValue { key, .. } if key == "url"), "{e:?}");
        let msg = e.to_string();
        assert!(!msg.contains(SENTINEL) && !msg.contains("app:"), "{msg}");
    }
    // The user name before a missing scheme is not echoed as a dialect either.
    assert!(!err("url = 'alice:pw@host'").to_string().contains("alice"));
}

#[test]
fn url_wins_over_the_discrete_keys() {
    let config = cfg("url = 'sqlite://'\ndialect = 'postgresql'\nhost = 'h'\nusername = 'u'\npassword = 'x'");
    let events = all_events(|| assert_eq!(parse(&config).unwrap().dialect, Dialect::Sqlite));
    // A debug note names the ignored keys; nothing warns about them.
    assert!(
        events
            .iter()
            .any(|e| e.contains("`url` is set") && e.contains("`host`")),
        "{events:?}"
    );
    let (_, warns) = warnings(|| parse(&config));
    assert!(warns.is_empty(), "{warns:?}");
}

// ---------------------------------------------------------------- discrete keys

#[test]
fn discrete_keys_build_a_percent_encoded_url() {
    let user = "app@corp:x/y%41";
    let password = "p@ss:w/rd%41#?& é";
    let database = "my db/1%";
    let config = Config::new("db", {
        let mut t = toml::Table::new();
        t.insert("dialect".into(), "postgresql".into());
        t.insert("driver".into(), "psycopg2".into());
        t.insert("host".into(), "db.example".into());
        t.insert("port".into(), 6543.into());
        t.insert("username".into(), user.into());
        t.insert("password".into(), password.into());
        t.insert("database".into(), database.into());
        t
    });
    let o = parse(&config).unwrap();
    let options = pg(&o.url);
    assert_eq!(options.get_username(), user);
    assert_eq!(options.get_database(), Some(database));
    assert_eq!((options.get_host(), options.get_port()), ("db.example", 6543));
    let parsed = Url::parse(&o.url).unwrap();
    assert_eq!(percent_decode(parsed.password().unwrap()).as_deref(), Some(password));
    assert!(
        !o.display_url.contains("p@ss") && o.display_url.contains(":***@"),
        "{}",
        o.display_url
    );
}

#[test]
fn port_may_be_quoted() {
    for port in ["5432", "'5432'"] {
        let o = ok(&format!(
            "dialect = 'postgres'\nhost = 'h'\nusername = 'u'\nport = {port}"
        ));
        assert_eq!(pg(&o.url).get_port(), 5432);
    }
    let e = err("dialect = 'postgres'\nhost = 'h'\nusername = 'u'\nport = 'fivefour'");
    assert!(matches!(&e, Error::InvalidValue { key, .. } if key == "port"), "{e:?}");
    assert!(!e.to_string().contains("fivefour"));
}

#[test]
fn query_becomes_url_parameters_inline_or_as_a_sub_table() {
    for toml in [
        "dialect = 'postgresql'\nhost = 'h'\nusername = 'u'\nquery = { sslmode = 'disable', application_name = 'my app&co' }",
        "dialect = 'postgresql'\nhost = 'h'\nusername = 'u'\n[query]\nsslmode = 'disable'\napplication_name = 'my app&co'",
    ] {
        let o = ok(toml);
        assert_eq!(o.url, "postgres://u@h/?application_name=my+app%26co&sslmode=disable");
        assert_eq!(pg(&o.url).get_application_name(), Some("my app&co"));
    }
    // Scalars of any kind are written as text; what sqlx does not read is dropped, with a warning.
    let (o, warns) = warnings(|| {
        ok("dialect = 'mysql'\nhost = 'h'\nusername = 'u'\nquery = { statement-cache-capacity = 10, flag = true }")
    });
    assert!(o.url.ends_with("/?statement-cache-capacity=10"), "{}", o.url);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("`query.flag`"), "{warns:?}");

    let e = err("dialect = 'mysql'\nhost = 'h'\nusername = 'u'\nquery = { ssl = ['a'] }");
    assert!(
        matches!(&e, Error::InvalidValue { key, .. } if key == "query.ssl"),
        "{e:?}"
    );
    let e = err("dialect = 'mysql'\nhost = 'h'\nusername = 'u'\nquery = 'sslmode=disable'");
    assert!(e.to_string().contains("expected a table"), "{e}");
}

#[test]
fn hosts_may_be_ipv6_or_unix_sockets() {
    let o = ok("dialect = 'postgresql'\nhost = '::1'\nusername = 'u'\nport = 5432");
    assert_eq!(o.url, "postgres://u@[::1]:5432/");
    let socket = ok("dialect = 'postgresql'\nhost = '/var/run/postgresql'\nusername = 'u'");
    assert_eq!(
        pg(&socket.url).get_socket().map(PathBuf::as_path),
        Some(std::path::Path::new("/var/run/postgresql"))
    );
    let socket = ok("dialect = 'mariadb'\nhost = '/run/mysqld/mysqld.sock'\nusername = 'u'");
    let options = socket.url.parse::<MySqlConnectOptions>().unwrap();
    assert_eq!(
        options.get_socket().map(PathBuf::as_path),
        Some(std::path::Path::new("/run/mysqld/mysqld.sock"))
    );
    let e = err("dialect = 'postgresql'\nhost = 'bad host'\nusername = 'u'");
    assert!(matches!(&e, Error::InvalidValue { key, .. } if key == "host"), "{e:?}");
}

#[test]
fn required_keys_are_named() {
    for (toml, key) in [
        ("host = 'h'\nusername = 'u'", "dialect"),
        ("dialect = 'postgresql'\nusername = 'u'", "host"),
        ("dialect = 'mysql'\nhost = 'h'", "username"),
        ("dialect = 'sqlite'", "database"),
        ("driver = 'psycopg2'", "dialect"),
    ] {
        let e = err(toml);
        assert!(
            matches!(&e, Error::MissingKey { key: k, table, .. } if k == key && table == "[connections.db]"),
            "{toml}: {e:?}"
        );
    }
}

#[test]
fn several_missing_keys_are_named_in_one_error() {
    let e = err("dialect = 'postgresql'\nport = 5432");
    assert!(
        matches!(&e, Error::MissingKey { key, also_missing, .. } if key == "host" && also_missing == &["username"]),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("missing keys `host`, `username` in [connections.db]"),
        "{msg}"
    );
    let e = err("driver = 'psycopg2'");
    assert!(
        matches!(&e, Error::MissingKey { key, also_missing, .. } if key == "dialect" && also_missing == &["host", "username"]),
        "{e:?}"
    );
}

#[test]
fn missing_keys_name_the_file() {
    let registry = connections_core::Registry::builder()
        .secrets_toml(
            "/app/.streamlit/secrets.toml",
            "[connections.db]\ndialect = 'postgresql'\nusername = 'u'\n",
        )
        .build();
    // The config the registry builds for the connection.
    let config = registry.connection::<crate::SqlConnection>("db").unwrap().config();
    let msg = parse(&config).unwrap_err().to_string();
    assert!(
        msg.contains("`host`") && msg.contains("/app/.streamlit/secrets.toml"),
        "{msg}"
    );
}

#[test]
fn no_configuration_says_what_to_write() {
    for toml in ["", "type = 'sql'", "pool_size = 3"] {
        let e = err(toml);
        assert!(matches!(&e, Error::MissingKey { key, .. } if key == "url"), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("url = \"postgresql://") && msg.contains("[connections.db]"),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------- SQLite

#[test]
fn sqlite_urls_read_as_sqlalchemy_and_sqlx_mean_them() {
    for (url, path) in [
        ("sqlite:///app.db", "app.db"),
        ("sqlite:///data/app.db", "data/app.db"),
        ("sqlite:////abs/app.db", "/abs/app.db"),
        ("sqlite:app.db", "app.db"),
        ("sqlite://app.db", "app.db"),
        ("sqlite:///my%20app.db", "my app.db"),
        ("sqlite:///my app.db", "my app.db"),
    ] {
        let o = ok(&format!("url = '{url}'"));
        assert_eq!(o.dialect, Dialect::Sqlite);
        assert!(!o.in_memory, "{url}");
        assert_eq!(sqlite_file(&o.url), PathBuf::from(path), "{url} as {}", o.url);
        assert!(o.url.ends_with("?mode=rwc"), "{url} as {}", o.url);
        assert_eq!(o.display_url, o.url);
    }
}

#[test]
fn sqlite_memory_forms() {
    for url in [
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite::memory:",
        "sqlite:",
        "sqlite://?mode=memory",
    ] {
        let o = ok(&format!("url = '{url}'"));
        assert!(o.in_memory, "{url}");
        assert_eq!(o.url, "sqlite::memory:");
        assert!(o.url.parse::<SqliteConnectOptions>().is_ok());
    }
    assert!(ok("dialect = 'sqlite'\ndatabase = ':memory:'").in_memory);
}

#[test]
fn sqlite_paths_with_special_characters_reach_sqlx_unchanged() {
    for path in [
        "/tmp/my dir/50% off?#1.db",
        "rel/a%41b.db",
        "/a/./b/../c.db",
        "data/../x.db",
        "//server/share/x.db",
        "C:\\Users\\me\\app.db",
        "dír/ünï©ødé.db",
    ] {
        let mut t = toml::Table::new();
        t.insert("dialect".into(), "sqlite".into());
        t.insert("database".into(), path.into());
        let o = parse(&Config::new("db", t)).unwrap();
        assert_eq!(sqlite_file(&o.url), PathBuf::from(path), "{path} as {}", o.url);
        let lossy = o.url.parse::<SqliteConnectOptions>().unwrap().to_url_lossy();
        assert!(lossy.query().is_some_and(|q| q.contains("mode=rwc")), "{lossy}");
    }
}

#[test]
fn sqlite_creates_a_missing_file_in_a_directory_with_special_characters() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a dir #1 %41?");
    std::fs::create_dir(&sub).unwrap();
    let file = sub.join("new db.sqlite");
    let mut t = toml::Table::new();
    t.insert("dialect".into(), "sqlite".into());
    t.insert("database".into(), file.to_str().unwrap().into());
    let o = parse(&Config::new("db", t)).unwrap();
    let options = o.url.parse::<SqliteConnectOptions>().unwrap();
    sqlx::test_block_on(async move {
        use sqlx::Connection as _;
        options.connect().await.unwrap().close().await.unwrap();
    });
    assert!(file.is_file(), "{} was not created from {}", file.display(), o.url);
}

#[test]
fn sqlite_parameters_sqlx_reads_are_kept_and_others_dropped_with_a_warning() {
    let (o, warns) = warnings(|| ok("url = 'sqlite:///app.db?mode=ro&timeout=20&check_same_thread=false'"));
    assert_eq!(o.url, "sqlite:app.db?mode=ro");
    assert!(o.url.parse::<SqliteConnectOptions>().is_ok());
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(
        warns[0].contains("`timeout`") && warns[0].contains("`check_same_thread`"),
        "{warns:?}"
    );
    assert!(
        !warns[0].contains("20") && !warns[0].contains("false"),
        "values never appear: {warns:?}"
    );

    let o = ok("dialect = 'sqlite'\ndatabase = 'app.db'\nquery = { cache = 'shared' }");
    assert_eq!(o.url, "sqlite:app.db?mode=rwc&cache=shared");
}

#[test]
fn undecodable_sqlite_paths_are_rejected() {
    let e = err("url = 'sqlite:///%FF.db'");
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}

// ---------------------------------------------------------------- pool and retry_wait

const PG: &str = "url = 'postgresql://u@h/db'\n";

#[test]
fn pool_settings_use_sqlx_or_sqlalchemy_names_at_top_level_or_in_create_engine_kwargs() {
    let top = ok(&format!(
        "{PG}max_connections = 8\nmin_connections = 2\nacquire_timeout = 2.5\nidle_timeout = 60\nmax_lifetime = '120'\ntest_before_acquire = false"
    ));
    let expected = PoolSettings {
        max_connections: Some(8),
        min_connections: Some(2),
        acquire_timeout: Some(Duration::from_millis(2500)),
        idle_timeout: Some(Duration::from_mins(1)),
        max_lifetime: Some(Duration::from_mins(2)),
        test_before_acquire: Some(false),
    };
    assert_eq!(top.pool, expected);
    let sqlalchemy = ok(&format!(
        "{PG}min_connections = 2\nidle_timeout = 60\n[create_engine_kwargs]\npool_size = 8\npool_timeout = 2.5\npool_recycle = 120\npool_pre_ping = 'false'"
    ));
    assert_eq!(sqlalchemy.pool, expected);
    assert_eq!(ok(PG).pool, PoolSettings::default());
}

#[test]
fn the_top_level_and_sqlx_names_win() {
    let o = ok(&format!(
        "{PG}pool_size = 3\nmax_connections = 4\ncreate_engine_kwargs = {{ pool_size = 5, max_connections = 6 }}"
    ));
    assert_eq!(o.pool.max_connections, Some(4));
    let o = ok(&format!(
        "{PG}pool_size = 3\ncreate_engine_kwargs = {{ max_connections = 6 }}"
    ));
    assert_eq!(o.pool.max_connections, Some(3));
    let o = ok(&format!(
        "{PG}create_engine_kwargs = {{ pool_size = 5, max_connections = 6 }}"
    ));
    assert_eq!(o.pool.max_connections, Some(6));
}

#[test]
fn bad_pool_values_name_their_key() {
    for (toml, key) in [
        ("pool_timeout = -1", "pool_timeout"),
        ("idle_timeout = nan", "idle_timeout"),
        ("max_lifetime = inf", "max_lifetime"),
        ("acquire_timeout = 1e300", "acquire_timeout"),
        (
            "create_engine_kwargs = { pool_recycle = -1 }",
            "create_engine_kwargs.pool_recycle",
        ),
        ("max_connections = -2", "max_connections"),
        ("pool_size = 0", "pool_size"),
        ("max_connections = 2\nmin_connections = 3", "min_connections"),
        ("pool_pre_ping = 'sometimes'", "pool_pre_ping"),
        ("create_engine_kwargs = 5", "create_engine_kwargs"),
        ("retry_wait = -0.5", "retry_wait"),
        ("retry_wait = 'soon'", "retry_wait"),
    ] {
        let e = err(&format!("{PG}{toml}"));
        assert!(
            matches!(&e, Error::InvalidValue { key: k, .. } if k == key),
            "{toml}: {e:?}"
        );
    }
}

#[test]
fn retry_wait_is_seconds_and_defaults_to_one() {
    assert_eq!(ok(PG).retry_wait, Duration::from_secs(1));
    assert_eq!(
        ok(&format!("{PG}retry_wait = 0.25")).retry_wait,
        Duration::from_millis(250)
    );
    assert_eq!(ok(&format!("{PG}retry_wait = '2'")).retry_wait, Duration::from_secs(2));
    assert_eq!(ok(&format!("{PG}retry_wait = 0")).retry_wait, Duration::ZERO);
}

// ---------------------------------------------------------------- warnings

#[test]
fn ignored_engine_options_are_each_named_and_no_value() {
    use connections_core::DiagnosticKind;

    let found = diagnostics(&format!(
        "{PG}echo = true\n[connections.db.create_engine_kwargs]\nmax_overflow = 10\npool_size = 2\n\
         connect_args = {{ sslmode = 'disable', keepalives_idle = '{SENTINEL}' }}"
    ));
    let ignored: Vec<_> = found
        .iter()
        .filter(|d| d.kind == DiagnosticKind::IgnoredOption)
        .map(|d| (d.keys.clone(), d.message.as_str()))
        .collect();
    let keys: Vec<&str> = ignored.iter().map(|(keys, _)| keys[0].as_str()).collect();
    // The settings' two (in key order), then the `diagnose` hook's: an
    // unmapped driver parameter, named, never its value.
    assert_eq!(
        keys,
        [
            "create_engine_kwargs.max_overflow",
            "echo",
            "create_engine_kwargs.connect_args.keepalives_idle"
        ],
        "{found:#?}"
    );
    assert!(
        ignored[1]
            .1
            .contains("ignoring `echo`: SQLAlchemy engine options that sqlx has no counterpart for"),
        "{ignored:?}"
    );
    let all = format!("{found:?}");
    assert!(!all.contains("pool_size") && !all.contains(SENTINEL), "{all}");
}

/// A `sql` section's diagnostics, as the doctor and `Registry::diagnostics` give them.
fn diagnostics(toml: &str) -> Vec<Diagnostic> {
    connections_core::Registry::builder()
        .secrets_toml("secrets.toml", format!("[connections.db]\ntype = 'sql'\n{toml}"))
        .build()
        .diagnostics()
}

#[test]
fn unknown_keys_are_warned_with_a_suggestion() {
    use connections_core::DiagnosticKind;

    let found = diagnostics(&format!(
        "dialect = 'postgresql'\nhostname = 'h'\nuser = 'u'\npasswd = '{SENTINEL}'\ndb = 'x'\npasword = '{SENTINEL}'\n\
         max_conections = 3\nzzz = 1\ncreate_engine_kwargs = {{ pool_sise = 2 }}"
    ));
    let of = |kind: DiagnosticKind| -> Vec<&str> {
        found
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.message.as_str())
            .collect()
    };
    // The settings name each near miss, from SQL's aliases or by closeness.
    let near = of(DiagnosticKind::NearMissKey).join("\n");
    for expected in [
        "`hostname` (did you mean `host`?)",
        "`user` (did you mean `username`?)",
        "`passwd` (did you mean `password`?)",
        "`db` (did you mean `database`?)",
        "`pasword` (did you mean `password`?)",
        "`max_conections` (did you mean `max_connections`?)",
        "`create_engine_kwargs.pool_sise` (did you mean `pool_size`?)",
    ] {
        assert!(near.contains(expected), "{expected} not in {near}");
    }
    assert!(
        near.contains("that connection type does not read, which it ignores"),
        "{near}"
    );
    let unknown = of(DiagnosticKind::UnknownKey);
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].contains("has a key `zzz` that connection type does not read"),
        "{unknown:?}"
    );
    assert!(
        !near.contains("zzz") && !unknown[0].contains("did you mean"),
        "{found:?}"
    );
    let all = format!("{found:?}");
    assert!(!all.contains(SENTINEL), "{all}");
    // Warnings: the section still connects (the missing `host` and `username` are its error).
    assert!(
        found
            .iter()
            .filter(|d| d.severity == connections_core::Severity::Error)
            .all(|d| d.kind == DiagnosticKind::MissingKeys),
        "{found:?}"
    );
}

#[test]
fn warnings_are_data_too() {
    use connections_core::{DiagnosticKind, Severity};

    let found = diagnostics(
        "url = 'sqlite:///app.db?foo=1'\nuser = 'u'\nzzz = 1\necho = true\n\
         create_engine_kwargs = { connect_args = { timeout = 5 } }",
    );
    let kinds: Vec<_> = found.iter().map(|n| (n.severity, n.kind, n.keys.clone())).collect();
    assert_eq!(
        kinds,
        [
            // The settings': an ignored SQLAlchemy option, a near miss, an unknown key.
            (
                Severity::Warning,
                DiagnosticKind::IgnoredOption,
                vec!["echo".to_owned()]
            ),
            (Severity::Warning, DiagnosticKind::NearMissKey, vec!["user".to_owned()]),
            (Severity::Warning, DiagnosticKind::UnknownKey, vec!["zzz".to_owned()]),
            // The `diagnose` hook's: driver parameters SQLite does not take.
            (Severity::Warning, DiagnosticKind::IgnoredOption, vec!["url".to_owned()]),
            (
                Severity::Warning,
                DiagnosticKind::IgnoredOption,
                vec!["create_engine_kwargs.connect_args.timeout".to_owned()]
            ),
        ],
        "{found:#?}"
    );
    assert!(found.iter().all(|n| n.connection.as_deref() == Some("db")), "{found:?}");
    assert!(
        found[0]
            .message
            .contains("SQLAlchemy engine options that sqlx has no counterpart for"),
        "{found:?}"
    );
    // `parse` logs what only it can tell: the driver parameters.
    let (_, logged) = warnings(|| parse(&cfg("url = 'sqlite:///app.db?foo=1'\nuser = 'u'")).unwrap());
    assert_eq!(logged.len(), 1, "{logged:?}");
}

#[test]
fn known_keys_and_type_are_never_warned_about() {
    let (_, warns) = warnings(|| {
        ok(
            "type = 'sql'\ndialect = 'postgresql'\ndriver = 'psycopg2'\nhost = 'h'\nport = 1\nusername = 'u'\n\
            password = 'p'\ndatabase = 'd'\nquery = { sslmode = 'require' }\nretry_wait = 1\nmax_connections = 2\n\
            min_connections = 1\nacquire_timeout = 1\nidle_timeout = 1\nmax_lifetime = 1\ntest_before_acquire = true\n\
            pool_timeout = 1\npool_recycle = 1\npool_pre_ping = true\n\
            create_engine_kwargs = { pool_size = 1, max_connections = 2 }",
        )
    });
    assert!(warns.is_empty(), "{warns:?}");
}

// ---------------------------------------------------------------- credential rotation

#[test]
fn only_a_password_or_a_credential_parameter_is_a_credentials_only_change() {
    let rotated = |old: &str, new: &str| credentials_only(&ok(old), &ok(new));
    let url = |rest: &str| format!("url = 'postgresql://app:{rest}'");
    // The password, in the URL or as the `password` key.
    assert!(rotated(&url("one@db:5432/shop"), &url("two@db:5432/shop")));
    let keys = "dialect = 'postgresql'\nhost = 'db'\nusername = 'app'\ndatabase = 'shop'\n";
    assert!(rotated(
        &format!("{keys}password = 'one'"),
        &format!("{keys}password = 'two'")
    ));
    // A credential-named query parameter, kept in place with the others.
    assert!(rotated(
        &url("pw@db/shop?sslmode=disable&password=one"),
        &url("pw@db/shop?sslmode=disable&password=two"),
    ));
    assert!(rotated(
        &format!("{keys}query = {{ password = 'one' }}"),
        &format!("{keys}query = {{ password = 'two' }}"),
    ));
    // Anything else changing, with or beside the password, is not.
    for other in [
        url("two@db2:5432/shop"),
        url("two@db:5433/shop"),
        url("two@db:5432/other"),
        "url = 'postgresql://admin:two@db:5432/shop'".to_owned(),
        url("two@db:5432/shop?sslmode=disable"),
        url("two@db:5432/shop?application_name=x"),
        format!("{}\nmax_connections = 3", url("two@db:5432/shop")),
        url("one@db:5432/shop").replace("postgresql", "mysql"),
    ] {
        assert!(!rotated(&url("one@db:5432/shop"), &other), "{other}");
    }
    // No change at all, and SQLite (no credentials), are not rotations.
    assert!(!rotated(&url("one@db/shop"), &url("one@db/shop")));
    assert!(!rotated("url = 'sqlite:///a.db'", "url = 'sqlite:///b.db'"));
}

// ---------------------------------------------------------------- secrets never shown

#[test]
fn debug_shows_the_masked_url_only() {
    let o = ok(&format!(
        "url = 'postgresql://app:{SENTINEL}@h/db?password={SENTINEL}&sslmode=require'"
    ));
    assert!(o.url.contains(SENTINEL));
    let debug = format!("{o:?}");
    assert!(!debug.contains(SENTINEL), "{debug}");
    assert!(
        debug.contains("postgres://app:***@h/db?password=***&sslmode=require"),
        "{debug}"
    );
}

#[test]
fn no_error_or_warning_shows_the_password() {
    let base = format!("password = '{SENTINEL}'\n");
    for toml in [
        format!("{base}dialect = 'postgresql'"),
        format!("{base}dialect = 'postgresql'\nhost = 'h'"),
        format!("{base}dialect = 'oracle'\nhost = 'h'\nusername = 'u'"),
        format!("{base}dialect = 'postgresql'\nhost = 'h h'\nusername = 'u'"),
        format!("{base}dialect = 'postgresql'\nhost = 'h'\nusername = 'u'\nport = 'x'"),
        format!("{base}dialect = 'postgresql'\nhost = 'h'\nusername = 'u'\npool_timeout = -1"),
        format!("{base}url = 'mssql://u:{SENTINEL}@h/db'"),
        format!("{base}url = 'postgresql://u:{SENTINEL}@h:x/db'"),
        format!("{base}url = 'postgresql://u:{SENTINEL}@h/db'\npool_size = 'x'\npasswd = 1\necho = true"),
    ] {
        let (result, warns) = warnings(|| parse(&cfg(&toml)));
        let shown = match result {
            Ok(o) => format!("{o:?}"),
            Err(e) => format!("{e} {e:?}"),
        };
        assert!(!shown.contains(SENTINEL), "{toml}: {shown}");
        assert!(warns.iter().all(|w| !w.contains(SENTINEL)), "{toml}: {warns:?}");
    }
}

#[test]
fn percent_decoding_keeps_stray_percents() {
    assert_eq!(percent_decode("a%20b%zz%4").as_deref(), Some("a b%zz%4"));
    assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
    assert_eq!(percent_decode("%FF"), None);
}

mod tls;
