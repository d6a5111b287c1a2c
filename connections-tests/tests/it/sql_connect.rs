//! How `SqlConnection` connects: TLS settings honoured or refused (never
//! dropped), failing fast with the real cause, and retrying only errors a
//! reconnect can cure. Server tests run when their URL variable is set.

use std::time::{Duration, Instant};

use connections::Error;
use connections::prelude::*;
use connections::sql::{SqlConnection, Value};

use crate::sql::{registry_with, runtime, server_url};

/// The `host`, `port`, `username` and `database` keys of a server URL, for
/// sections that add `create_engine_kwargs` to them.
fn discrete_keys(url: &str, dialect: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!(
        "dialect = '{dialect}'\nhost = '{}'\nport = {}\nusername = '{}'\ndatabase = '{}'",
        url.host_str().unwrap(),
        url.port().unwrap(),
        url.username(),
        url.path().trim_start_matches('/'),
    )
}

/// Whether this PostgreSQL session is encrypted, from `pg_stat_ssl`.
async fn pg_session_uses_tls(db: &SqlConnection) -> bool {
    let table = db
        .query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_table()
        .await
        .unwrap();
    table.rows()[0][0] == Value::Bool(true)
}

#[test]
fn postgres_tls_modes_in_connect_args_are_honoured_or_refused() {
    let Some(url) = server_url("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    let keys = discrete_keys(&url, "postgresql");
    let section = |args: &str| format!("{keys}\n[connections.pg_tls.create_engine_kwargs.connect_args]\n{args}");
    runtime().block_on(async {
        // This server offers TLS with a self-signed certificate.
        let reg = registry_with("pg_tls", &section("sslmode = 'require'"));
        let db = reg.connection::<SqlConnection>("pg_tls").unwrap();
        assert!(pg_session_uses_tls(&db).await, "`require` encrypts");

        let reg = registry_with("pg_tls", &section("sslmode = 'disable'"));
        let db = reg.connection::<SqlConnection>("pg_tls").unwrap();
        assert!(!pg_session_uses_tls(&db).await, "`disable` does not");

        // No root certificate signs this server's: verification must fail, not fall back.
        let reg = registry_with("pg_tls", &section("sslmode = 'verify-full'"));
        let db = reg.connection::<SqlConnection>("pg_tls").unwrap();
        let err = db.query("SELECT 1").fetch_table().await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TLS was required (`verify-full`"), "{text}");
        assert!(text.contains("create_engine_kwargs.connect_args.sslmode"), "{text}");
        assert!(!db.is_connected());

        // The same in the URL's query, in SQLAlchemy's form.
        let reg = registry_with("pg_tls", &format!("url = '{url}?sslmode=verify-ca'"));
        let db = reg.connection::<SqlConnection>("pg_tls").unwrap();
        let err = db.query("SELECT 1").fetch_table().await.unwrap_err();
        assert!(err.to_string().contains("TLS was required (`verify-ca`"), "{err}");
    });
}

#[test]
fn mysql_ssl_table_in_connect_args_requires_tls() {
    let Some(url) = server_url("CONNECTIONS_TEST_MYSQL_URL") else {
        return;
    };
    let keys = discrete_keys(&url, "mysql");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not read: the server offers no TLS").unwrap();
    let reg = registry_with(
        "my_tls",
        &format!(
            "{keys}\n[connections.my_tls.create_engine_kwargs.connect_args]\nssl = {{ ca = '{}' }}",
            ca.display()
        ),
    );
    let db = reg.connection::<SqlConnection>("my_tls").unwrap();
    let err = runtime().block_on(db.query("SELECT 1").fetch_table()).unwrap_err();
    let text = err.to_string();
    // This server has TLS disabled (`have_ssl = DISABLED`).
    assert!(text.contains("server does not support TLS"), "{text}");
    assert!(text.contains("TLS was required (`VERIFY_IDENTITY`"), "{text}");
    assert!(text.contains("create_engine_kwargs.connect_args.ssl.ca"), "{text}");

    // Without TLS asked for, the same server connects.
    let reg = registry_with(
        "my_tls",
        &format!(
            "{keys}\n[connections.my_tls.create_engine_kwargs.connect_args]\nssl_mode = 'DISABLED'\ncharset = 'utf8mb4'"
        ),
    );
    let db = reg.connection::<SqlConnection>("my_tls").unwrap();
    let table = runtime()
        .block_on(db.query("SELECT @@character_set_client AS cs").fetch_table())
        .unwrap();
    assert_eq!(table.rows()[0][0], Value::from("utf8mb4"));
}

#[test]
fn a_closed_port_fails_within_the_connect_timeout_saying_refused_for_every_waiting_query() {
    // No server needed: nothing listens on port 1.
    let reg = registry_with(
        "pg_down",
        "dialect = 'postgresql'\nhost = '127.0.0.1'\nport = '1'\nusername = 'app'\npassword = 'hunter2-sentinel'\ndatabase = 'shop'",
    );
    let db = reg.connection::<SqlConnection>("pg_down").unwrap();
    let started = Instant::now();
    let errors = runtime().block_on(async {
        let queries = (0..8).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.query("SELECT 1").fetch_table().await.unwrap_err() })
        });
        let mut errors = Vec::new();
        for query in queries.collect::<Vec<_>>() {
            errors.push(query.await.unwrap());
        }
        errors
    });
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(6), "8 queries took {elapsed:?}");
    for err in &errors {
        let Error::Operation {
            attempts, operation, ..
        } = err
        else {
            panic!("{err}")
        };
        assert_eq!((*attempts, *operation), (1, "connect"), "{err}");
        let text = err.to_string();
        assert!(text.contains("refused"), "{text}");
        assert!(text.contains("at 127.0.0.1:1"), "names where it went: {text}");
        assert!(text.contains("check that the server is running"), "{text}");
        for shown in [text, format!("{err:?}")] {
            assert!(!shown.contains("hunter2-sentinel"), "{shown}");
        }
    }
    assert!(!db.is_connected());
}

#[test]
fn a_server_that_never_answers_fails_after_connect_timeout() {
    // A listener that accepts and then says nothing: the handshake never completes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reg = registry_with(
        "pg_silent",
        &format!(
            "dialect = 'postgresql'\nhost = '127.0.0.1'\nport = {port}\nusername = 'app'\n\
             [connections.pg_silent.create_engine_kwargs.connect_args]\nconnect_timeout = 1"
        ),
    );
    let db = reg.connection::<SqlConnection>("pg_silent").unwrap();
    let started = Instant::now();
    let err = runtime().block_on(db.query("SELECT 1").fetch_table()).unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    let text = err.to_string();
    assert!(text.contains("no answer within `connect_timeout` (1 s)"), "{text}");
    assert!(text.contains("raise `connect_timeout`"), "{text}");
    drop(listener);
}

#[test]
fn one_bind_for_two_postgres_placeholders_fails_after_one_attempt_with_no_reset() {
    let Some(url) = server_url("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    // A long retry wait and one pooled session: a retry would show in the
    // time taken, and a reset in a new backend pid.
    let reg = registry_with(
        "pg_bind",
        &format!("url = '{url}'\nmax_connections = 1\nretry_wait = 5"),
    );
    let db = reg.connection::<SqlConnection>("pg_bind").unwrap();
    runtime().block_on(async {
        let pid = || async {
            db.query("SELECT CAST(pg_backend_pid() AS BIGINT) AS pid")
                .fetch_table()
                .await
                .unwrap()
                .rows()[0][0]
                .clone()
        };
        let before = pid().await;
        let started = Instant::now();
        let err = db
            .query("SELECT CAST($1 AS BIGINT) + CAST($2 AS BIGINT) AS sum")
            .bind(1)
            .fetch_table()
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "no retry wait");
        let Error::Operation { attempts, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*attempts, 1, "{err}");
        assert!(err.to_string().contains("08P01"), "names the SQLSTATE: {err}");
        assert_eq!(db.generation(), 0, "no reset");
        assert_eq!(pid().await, before, "the pooled session lives on");
    });
}

#[test]
fn describe_gives_the_resolved_settings_without_the_password() {
    let reg = registry_with(
        "described",
        "dialect = 'postgresql'\nhost = 'db.internal'\nusername = 'app'\npassword = 'Pw-d3scribe'\ndatabase = 'shop'\n\
         pool_size = 4\npool_recycle = 600\n\
         [connections.described.create_engine_kwargs.connect_args]\nsslmode = 'verify-full'\nconnect_timeout = 2",
    );
    let db = reg.connection::<SqlConnection>("described").unwrap();
    let d = db.describe().unwrap();
    assert_eq!(d.dialect, "postgresql");
    assert_eq!((d.host.as_deref(), d.port), (Some("db.internal"), Some(5432)));
    assert_eq!(
        (d.database.as_deref(), d.username.as_deref()),
        (Some("shop"), Some("app"))
    );
    assert_eq!((d.tls_mode, d.tls_required), ("verify-full", true));
    assert_eq!(d.connect_timeout, Some(Duration::from_secs(2)));
    assert_eq!((d.max_connections, d.max_lifetime), (4, Some(Duration::from_mins(10))));
    // sqlx's defaults, filled in.
    assert_eq!(
        (d.min_connections, d.acquire_timeout, d.test_before_acquire),
        (0, Duration::from_secs(30), true)
    );
    let line = d.to_string();
    assert_eq!(
        line,
        "dialect=postgresql host=db.internal port=5432 database=shop username=app tls=verify-full tls_required=true \
         connect_timeout=2s query_timeout=30s max_connections=4 min_connections=0 acquire_timeout=30s idle_timeout=600s \
         max_lifetime=600s test_before_acquire=true retry_wait=1s \
         url=postgres://app:***@db.internal/shop?sslmode=verify-full"
    );
    assert!(!format!("{d:?}").contains("Pw-d3scribe"));
    assert!(!db.is_connected(), "describing connects nothing");

    let bad = registry_with("described_bad", "dialect = 'oracle'\nhost = 'h'\nusername = 'u'");
    let err = bad
        .connection::<SqlConnection>("described_bad")
        .unwrap()
        .describe()
        .unwrap_err();
    assert!(err.to_string().contains("`oracle` is not supported"), "{err}");
}

#[test]
fn queries_waiting_for_a_session_move_to_the_new_pool_when_a_reload_replaces_it() {
    // One session, held by an open transaction: every other query waits for
    // it, up to `acquire_timeout` (30 s). A reload that changes the section
    // must move them to the new pool at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    let section = |db: &str| {
        format!(
            "[connections.waiting]\ntype = 'sql'\nurl = 'sqlite:///{}'\nmax_connections = 1",
            dir.path().join(db).display()
        )
    };
    std::fs::write(&file, section("a.db")).unwrap();
    let reg = connections::Registry::builder().secrets_paths([&file]).build();
    let db = reg.connection::<SqlConnection>("waiting").unwrap();
    runtime().block_on(async {
        let tx = db.begin().await.unwrap();
        let waiting: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.query("SELECT 1 AS one").fetch_table().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            waiting.iter().all(|w| !w.is_finished()),
            "they wait for the one session"
        );

        std::fs::write(&file, section("b.db")).unwrap();
        let started = Instant::now();
        assert_eq!(reg.reload_secrets().unwrap().reset(), ["waiting"]);
        for query in waiting {
            let table = query.await.unwrap().unwrap();
            assert_eq!(table.rows()[0][0], Value::Int(1));
        }
        let moved = started.elapsed();
        assert!(moved < Duration::from_secs(2), "moved to the new pool in {moved:?}");
        assert_eq!(db.generation(), 1, "the reload's reset only: the move is not a retry");
        tx.rollback().await.unwrap();
    });
}
