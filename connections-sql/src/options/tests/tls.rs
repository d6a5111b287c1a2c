//! Driver parameters (`query`, `connect_args`) and TLS: what reaches sqlx, and what it cannot honour.

use super::*;

fn connect_args(base: &str, args: &str) -> String {
    format!("{base}\n[create_engine_kwargs.connect_args]\n{args}")
}

const MYSQL: &str = "dialect = 'mysql'\nhost = 'h'\nusername = 'u'\n";

#[test]
fn postgres_connect_args_reach_sqlx() {
    let o = ok(&connect_args(
        PG,
        "sslmode = 'verify-full'\nsslrootcert = '/ca.pem'\nsslcert = '/c.pem'\nsslkey = '/k.pem'\n\
         application_name = 'shop'\noptions = '-c search_path=app'\nconnect_timeout = 10",
    ));
    let pg = pg(&o.url);
    assert_eq!(pg.get_application_name(), Some("shop"));
    assert_eq!(pg.get_options(), Some("-c search_path=app"));
    assert!(o.url.contains("sslmode=verify-full"), "{}", o.url);
    assert!(
        o.url.contains("sslrootcert=%2Fca.pem") && o.url.contains("sslcert=") && o.url.contains("sslkey="),
        "{}",
        o.url
    );
    assert_eq!(o.connect_timeout, Some(Duration::from_secs(10)));
    assert_eq!(
        o.tls,
        Tls {
            mode: "verify-full",
            required: true,
            origin: Some("create_engine_kwargs.connect_args.sslmode".to_owned())
        }
    );
    // connect_args win over the URL's query, as SQLAlchemy merges them.
    let o = ok(&connect_args(
        "url = 'postgresql://u@h/d?sslmode=disable'",
        "sslmode = 'require'",
    ));
    assert!(o.url.ends_with("?sslmode=require"), "{}", o.url);
}

#[test]
fn postgres_root_certificates_verify_as_libpq_does() {
    // With a root certificate, `require` verifies the chain.
    let o = ok(&connect_args(PG, "sslmode = 'require'\nsslrootcert = '/ca.pem'"));
    assert_eq!((o.tls.mode, o.tls.required), ("verify-ca", true));
    // A root certificate alone leaves the default.
    let o = ok(&connect_args(PG, "sslrootcert = '/ca.pem'"));
    assert_eq!((o.tls.mode, o.tls.required), ("prefer", false));
    // `system`: the system's roots, `verify-full`, and nothing weaker.
    let o = ok(&connect_args(PG, "sslrootcert = 'system'"));
    assert_eq!((o.tls.mode, o.tls.required), ("verify-full", true));
    assert!(!o.url.contains("sslrootcert"), "{}", o.url);
    let e = err(&connect_args(PG, "sslrootcert = 'system'\nsslmode = 'require'"));
    let text = e.to_string();
    assert!(
        text.contains("key `create_engine_kwargs.connect_args.sslmode`"),
        "{text}"
    );
    assert!(text.contains("weaker than the `verify-full`"), "{text}");
}

#[test]
fn tls_and_authentication_settings_sqlx_cannot_honour_are_errors() {
    for (base, args, key) in [
        (
            PG,
            format!("sslpassword = '{SENTINEL}'"),
            "create_engine_kwargs.connect_args.sslpassword",
        ),
        (
            PG,
            "sslcrl = '/crl.pem'".to_owned(),
            "create_engine_kwargs.connect_args.sslcrl",
        ),
        (
            PG,
            "channel_binding = 'require'".to_owned(),
            "create_engine_kwargs.connect_args.channel_binding",
        ),
        (
            MYSQL,
            "ssl = { ca = '/ca.pem', capath = '/certs' }".to_owned(),
            "create_engine_kwargs.connect_args.ssl.capath",
        ),
        (
            MYSQL,
            "ssl = { ca = '/ca.pem', cipher = 'AES' }".to_owned(),
            "create_engine_kwargs.connect_args.ssl.cipher",
        ),
    ] {
        let e = err(&connect_args(base, &args));
        assert!(matches!(&e, Error::InvalidValue { key: k, .. } if k == key), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("cannot honour"), "{text}");
        assert!(!text.contains(SENTINEL) && !text.contains("/certs"), "{text}");
    }
    let e = err(&format!("url = 'postgresql://u@h/d?sslpassword={SENTINEL}'"));
    let text = e.to_string();
    assert!(
        text.contains("key `url`") && text.contains("its parameter `sslpassword`"),
        "{text}"
    );
    assert!(!text.contains(SENTINEL), "{text}");
}

#[test]
fn mysql_ssl_settings_map_as_its_python_drivers_read_them() {
    for (args, mode, origin) in [
        // PyMySQL's and mysqlclient's `ssl` table: a CA verifies the chain and the host name.
        ("ssl = { ca = '/ca.pem' }", "VERIFY_IDENTITY", "ssl.ca"),
        (
            "ssl = { ca = '/ca.pem', check_hostname = false }",
            "VERIFY_CA",
            "ssl.ca",
        ),
        ("ssl = { cert = '/c.pem', key = '/k.pem' }", "REQUIRED", "ssl.cert"),
        // PyMySQL's keys: a CA verifies the chain, the host name only when asked.
        ("ssl_ca = '/ca.pem'", "VERIFY_CA", "ssl_ca"),
        (
            "ssl_ca = '/ca.pem'\nssl_verify_identity = true",
            "VERIFY_IDENTITY",
            "ssl_ca",
        ),
        // mysqlclient's mode, in MySQL's or libpq's words.
        ("ssl_mode = 'REQUIRED'", "REQUIRED", "ssl_mode"),
        ("ssl_mode = 'verify_identity'", "VERIFY_IDENTITY", "ssl_mode"),
        ("sslmode = 'verify-full'", "VERIFY_IDENTITY", "sslmode"),
        (
            "ssl = { ca = '/ca.pem' }\nssl_mode = 'VERIFY_IDENTITY'",
            "VERIFY_IDENTITY",
            "ssl_mode",
        ),
    ] {
        let o = ok(&connect_args(MYSQL, args));
        assert_eq!(o.tls.mode, mode, "{args}");
        assert!(o.tls.required, "{args}");
        assert_eq!(
            o.tls.origin.as_deref(),
            Some(format!("create_engine_kwargs.connect_args.{origin}").as_str()),
            "{args}"
        );
        // sqlx reads every parameter we pass it.
        o.url
            .parse::<MySqlConnectOptions>()
            .unwrap_or_else(|e| panic!("{args}: {e}"));
        assert!(o.url.contains(&format!("ssl-mode={mode}")), "{args}: {}", o.url);
    }
    let o = ok(&connect_args(
        MYSQL,
        "ssl = { ca = '/ca.pem', cert = '/c.pem', key = '/k.pem' }\ncharset = 'utf8mb4'\nconnect_timeout = 3",
    ));
    for part in [
        "ssl-ca=%2Fca.pem",
        "ssl-cert=%2Fc.pem",
        "ssl-key=%2Fk.pem",
        "charset=utf8mb4",
    ] {
        assert!(o.url.contains(part), "{part} in {}", o.url);
    }
    assert_eq!(o.connect_timeout, Some(Duration::from_secs(3)));
    // An explicit mode that gives up TLS while the `ssl` table asks for it is
    // a contradiction, never a downgrade; one that keeps TLS wins (mysqlclient's rule).
    let e = err(&connect_args(MYSQL, "ssl = { ca = '/ca.pem' }\nssl_mode = 'DISABLED'"));
    assert!(e.to_string().contains("weaker than the `VERIFY_IDENTITY`"), "{e}");
    let o = ok(&connect_args(MYSQL, "ssl = { ca = '/ca.pem' }\nssl_mode = 'VERIFY_CA'"));
    assert_eq!((o.tls.mode, o.tls.required), ("VERIFY_CA", true));
    let e = err(&connect_args(MYSQL, "ssl_mode = 'sometimes'"));
    assert!(
        e.to_string().contains("is not a TLS mode; expected one of `DISABLED`"),
        "{e}"
    );
    // connect_args may carry the log-in, as PyMySQL's do.
    let o = ok(&connect_args(
        MYSQL,
        &format!("user = 'app'\npasswd = '{SENTINEL}'\ndb = 'shop'\nport = 3307"),
    ));
    let my = o.url.parse::<MySqlConnectOptions>().unwrap();
    assert_eq!(
        (my.get_username(), my.get_database(), my.get_port()),
        ("app", Some("shop"), 3307)
    );
    assert!(!format!("{o:?}").contains(SENTINEL));
}

#[test]
fn tls_asked_for_without_the_sql_tls_feature_is_an_error_saying_what_to_enable() {
    let config = cfg(&connect_args(PG, "sslmode = 'verify-full'"));
    let o = parse(&config).unwrap();
    let e = tls_unavailable(&config, &o.tls, false).expect("refused, never plaintext");
    let text = e.to_string();
    assert!(
        text.contains("key `create_engine_kwargs.connect_args.sslmode`"),
        "{text}"
    );
    assert!(
        text.contains("asks for TLS (`verify-full`)") && text.contains("`sql-tls` feature"),
        "{text}"
    );
    assert!(tls_unavailable(&config, &o.tls, true).is_none(), "built with TLS");
    let config = cfg(&connect_args(PG, "sslmode = 'prefer'"));
    assert!(
        tls_unavailable(&config, &parse(&config).unwrap().tls, false).is_none(),
        "not required"
    );
}

#[test]
fn connect_timeout_defaults_to_five_seconds_and_zero_waits_indefinitely() {
    assert_eq!(ok(PG).connect_timeout, Some(DEFAULT_CONNECT_TIMEOUT));
    assert_eq!(
        ok(&format!("{PG}connect_timeout = 2.5")).connect_timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(ok(&connect_args(PG, "connect_timeout = 0")).connect_timeout, None);
    assert_eq!(
        ok("url = 'postgresql://u@h/d?connect_timeout=7'").connect_timeout,
        Some(Duration::from_secs(7))
    );
    let e = err(&connect_args(PG, "connect_timeout = 'soon'"));
    assert!(e.to_string().contains("expected a number of seconds"), "{e}");
}

#[test]
fn sqlite_connect_args_are_warned_about_except_check_same_thread() {
    let (_, warns) = warnings(|| ok(&connect_args("url = 'sqlite::memory:'", "check_same_thread = false")));
    assert!(warns.is_empty(), "{warns:?}");
    let (_, warns) = warnings(|| ok(&connect_args("url = 'sqlite::memory:'", "timeout = 20")));
    assert!(
        warns.len() == 1 && warns[0].contains("`create_engine_kwargs.connect_args.timeout`"),
        "{warns:?}"
    );
    let e = err("url = 'sqlite::memory:'\ncreate_engine_kwargs = { connect_args = 'x' }");
    assert!(e.to_string().contains("expected a table"), "{e}");
}

// ---------------------------------------------------------------- what `describe` reads back

#[test]
fn parts_read_back_host_port_database_and_user() {
    let parts = |toml: &str| {
        let p = ok(toml).parts();
        (p.host, p.port, p.database, p.username)
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        parts(&format!("url = 'postgresql://app:{SENTINEL}@db.internal/shop%20db'")),
        (s("db.internal"), Some(5432), s("shop db"), s("app"))
    );
    assert_eq!(
        parts("url = 'mysql://root@127.0.0.1:3307/test'"),
        (s("127.0.0.1"), Some(3307), s("test"), s("root"))
    );
    // libpq's query parameters override the URL's parts; a socket has no port.
    assert_eq!(
        parts("url = 'postgresql:///shop?host=/var/run/postgresql&user=app&dbname=other'"),
        (s("/var/run/postgresql"), None, s("other"), s("app"))
    );
    assert_eq!(
        parts("dialect = 'postgresql'\nhost = '/tmp'\nusername = 'u'\ndatabase = 'd'"),
        (s("/tmp"), None, s("d"), s("u"))
    );
    assert_eq!(
        parts("dialect = 'mysql'\nhost = '/run/mysqld/mysqld.sock'\nusername = 'u'"),
        (s("/run/mysqld/mysqld.sock"), None, None, s("u"))
    );
    assert_eq!(
        parts("url = 'sqlite:///data/app db.sqlite'"),
        (None, None, s("data/app db.sqlite"), None)
    );
    assert_eq!(parts("url = 'sqlite::memory:'"), (None, None, s(":memory:"), None));
    assert_eq!(ok("url = 'postgresql://u@h:6543/d'").endpoint(), "h:6543");
    assert_eq!(ok("url = 'postgresql:///d?host=/tmp'").endpoint(), "socket /tmp");
}

#[test]
fn review_cases_never_weaken_tls() {
    // asyncpg's `ssl=require` in SQLAlchemy's URL.
    let o = ok("url = 'postgresql+asyncpg://u@h/d?ssl=require'");
    assert_eq!((o.tls.mode, o.tls.required), ("require", true));
    // `requiressl` never lowers an explicit `sslmode`.
    let o = ok(&connect_args(
        "url = 'postgresql://u@h/d?sslmode=verify-full'",
        "requiressl = 1",
    ));
    assert_eq!(o.tls.mode, "verify-full");
    let o = ok(&connect_args(PG, "requiressl = 1"));
    assert_eq!((o.tls.mode, o.tls.required), ("require", true));
    // An unknown TLS parameter is refused, not dropped.
    let e = err(&connect_args(PG, "sslcertmode = 'require'"));
    assert!(e.to_string().contains("cannot honour"), "{e}");
    // Settings that ask for nothing sqlx lacks are accepted.
    ok(&connect_args(PG, "gssencmode = 'disable'\nchannel_binding = 'prefer'"));
    let e = err(&connect_args(PG, "channel_binding = 'require'"));
    assert!(e.to_string().contains("cannot honour"), "{e}");
    // MySQL: `ssl = true`, `ssl_check_hostname`, a CA with REQUIRED, the sqlx spellings of a CA.
    let o = ok(&connect_args(MYSQL, "ssl = true"));
    assert_eq!((o.tls.mode, o.tls.required), ("REQUIRED", true));
    let o = ok("url = 'mysql://u@h/d?ssl_ca=/ca.pem&ssl_check_hostname=true'");
    assert_eq!(o.tls.mode, "VERIFY_IDENTITY");
    let o = ok(&connect_args(MYSQL, "ssl_mode = 'REQUIRED'\nssl = { ca = '/ca.pem' }"));
    assert_eq!(o.tls.mode, "VERIFY_CA", "a CA is never left unused");
    let o = ok("url = 'mysql://u@h/d?ssl-ca=/ca.pem'");
    assert_eq!((o.tls.mode, o.tls.required), ("VERIFY_CA", true));
    let e = err(&connect_args(MYSQL, "ssl_crl = '/crl.pem'"));
    assert!(e.to_string().contains("cannot honour"), "{e}");
    // `timezone` would move the session off UTC, where TIMESTAMP is read as UTC: warned, not passed.
    let (o, warns) = warnings(|| ok(&connect_args(MYSQL, "timezone = '+02:00'")));
    assert!(!o.url.contains("timezone"), "{}", o.url);
    assert!(warns.iter().any(|w| w.contains("timezone")), "{warns:?}");
}
