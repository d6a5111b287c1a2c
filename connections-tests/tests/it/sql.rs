//! `SqlConnection` against real databases: SQLite in a temp file always;
//! PostgreSQL and MariaDB/MySQL when `CONNECTIONS_TEST_POSTGRES_URL` /
//! `CONNECTIONS_TEST_MYSQL_URL` are set (`.ci/run` sets them to the local
//! servers). A set URL whose server is down fails; an unset one skips, saying so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connections::prelude::*;
use connections::sql::{SqlConnection, SqlErrorExt as _, Value};
use connections::{AsyncConnection, Registry};
use sqlx::AssertSqlSafe;

#[derive(sqlx::FromRow, Clone, Debug, PartialEq)]
struct Pet {
    name: String,
    age: i64,
}

/// What differs between the databases in the statements the tests run.
struct Dialect {
    /// The n-th (1-based) placeholder.
    placeholder: fn(usize) -> String,
    /// SQL giving this session's server-side id as a BIGINT.
    session_id: &'static str,
    /// SQL that kills session `{id}`, run from another session.
    kill: &'static str,
}

const SQLITE: Dialect = Dialect {
    placeholder: |_| "?".to_owned(),
    session_id: "",
    kill: "",
};
const POSTGRES: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    session_id: "SELECT CAST(pg_backend_pid() AS BIGINT) AS id",
    kill: "SELECT pg_terminate_backend({id})",
};
const MYSQL: Dialect = Dialect {
    placeholder: |_| "?".to_owned(),
    session_id: "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id",
    kill: "KILL {id}",
};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The server URL from `var`, or `None` after saying the test skipped.
pub(crate) fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped: {var} is not set (`.ci/run` sets it to the local server)");
    }
    url
}

/// A registry with one `[connections.<name>]` section.
pub(crate) fn registry_with(name: &str, section: &str) -> Registry {
    Registry::builder()
        .secrets_toml("secrets.toml", format!("[connections.{name}]\ntype = 'sql'\n{section}"))
        .build()
}

/// A table name no other run or test uses.
fn table_name(tag: &str) -> String {
    format!("connections_it_{tag}_{}", std::process::id())
}

/// Create, insert with parameters, query typed and as a table, the ttl cache,
/// a transaction rolled back: the same on every database.
async fn round_trip(db: &SqlConnection, dialect: &Dialect, table: &str) {
    let p = dialect.placeholder;
    db.query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute()
        .await
        .unwrap();
    db.query(AssertSqlSafe(format!(
        "CREATE TABLE {table} (name VARCHAR(40) NOT NULL, age BIGINT NOT NULL)"
    )))
    .execute()
    .await
    .unwrap();

    // Parameters are bound: a value full of SQL stays a value.
    let insert = format!("INSERT INTO {table} (name, age) VALUES ({}, {})", p(1), p(2));
    for (name, age) in [("Rex", 3), ("Tom'); DROP TABLE x; --", 7), ("Ada", 11)] {
        let affected = db
            .query(AssertSqlSafe(insert.clone()))
            .bind(name)
            .bind(age)
            .execute()
            .await
            .unwrap();
        assert_eq!(affected, 1);
    }

    let select = format!("SELECT name, age FROM {table} WHERE age > {} ORDER BY age", p(1));
    let pets: Vec<Pet> = db
        .query(AssertSqlSafe(select.clone()))
        .bind(5)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        pets,
        [
            Pet {
                name: "Tom'); DROP TABLE x; --".into(),
                age: 7
            },
            Pet {
                name: "Ada".into(),
                age: 11
            }
        ]
    );

    let table_rows = db
        .query(AssertSqlSafe(select.clone()))
        .bind(0)
        .fetch_table()
        .await
        .unwrap();
    assert_eq!(table_rows.columns(), ["name", "age"]);
    assert_eq!(table_rows.rows()[0], [Value::from("Rex"), Value::Int(3)]);
    let shown = table_rows.to_string();
    assert!(shown.contains("Rex") && shown.contains("(3 rows)"), "{shown}");

    // An empty result still names its columns.
    let none = db
        .query(AssertSqlSafe(select.clone()))
        .bind(100)
        .fetch_table()
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(none.columns(), ["name", "age"]);

    named_parameters(db, table).await;
    cache_and_transaction(db, dialect, table, &insert).await;
    db.query(AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute()
        .await
        .unwrap();
}

/// The ttl cache and a rolled-back transaction, on `table` as `round_trip` made it.
async fn cache_and_transaction(db: &SqlConnection, dialect: &Dialect, table: &str, insert: &str) {
    let p = dialect.placeholder;
    // The ttl cache: a hit does not see a later insert; other params miss.
    let count = format!("SELECT name, age FROM {table} WHERE age >= {}", p(1));
    let ttl = Duration::from_mins(10);
    let pets = async |min_age: i64, ttl: Option<Duration>| -> Vec<Pet> {
        let query = db.query(AssertSqlSafe(count.clone())).bind(min_age);
        match ttl {
            Some(ttl) => query.ttl(ttl).fetch_all().await.unwrap().to_vec(),
            None => query.fetch_all().await.unwrap(),
        }
    };
    let before = pets(0, Some(ttl)).await;
    db.query(AssertSqlSafe(insert.to_owned()))
        .bind("Max")
        .bind(1)
        .execute()
        .await
        .unwrap();
    assert_eq!(pets(0, Some(ttl)).await, before, "served from the cache");
    assert_eq!(pets(0, None).await.len(), before.len() + 1, "no ttl: no cache");
    assert_eq!(
        pets(1, Some(ttl)).await.len(),
        before.len() + 1,
        "the params are part of the key"
    );
    db.clear_cache();
    assert_eq!(pets(0, Some(ttl)).await.len(), before.len() + 1, "cleared");

    // A transaction rolled back leaves nothing behind.
    let mut tx = db.begin().await.unwrap();
    tx.query(AssertSqlSafe(insert.to_owned()))
        .bind("Ghost")
        .bind(99_i64)
        .execute()
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let ghosts = db
        .query(AssertSqlSafe(format!(
            "SELECT name, age FROM {table} WHERE name = {}",
            p(1)
        )))
        .bind("Ghost")
        .fetch_all::<Pet>()
        .await
        .unwrap();
    assert!(ghosts.is_empty(), "rolled back");
}

/// The session the pool holds is killed server-side; the next query succeeds
/// through reset-and-retry (one reset, two connects in all), and a syntax
/// error is not retried.
async fn survives_a_killed_session(db: &SqlConnection, dialect: &Dialect, admin_url: &str) {
    #[derive(sqlx::FromRow, Clone)]
    struct Id {
        id: i64,
    }
    let before: Vec<Id> = db.query(dialect.session_id).fetch_all().await.unwrap();
    let victim = before[0].id;
    assert_eq!(db.generation(), 0);
    println!("restart test: connected (generation 0), session {victim}");

    // Another session, not pooled.
    let admin = registry_with("admin", &format!("url = '{admin_url}'\nmax_connections = 1"));
    let admin = admin.connection::<SqlConnection>("admin").unwrap();
    admin
        .query(AssertSqlSafe(dialect.kill.replace("{id}", &victim.to_string())))
        .execute()
        .await
        .unwrap();
    println!("restart test: session {victim} killed from another session");

    let after: Vec<Id> = db.query(dialect.session_id).fetch_all().await.unwrap();
    assert_ne!(after[0].id, victim, "a new session");
    assert_eq!(db.generation(), 1, "one reset: two connects in all");
    println!(
        "restart test: the next query succeeded on session {} after 1 reset (generation {}, 2 connects)",
        after[0].id,
        db.generation()
    );

    let err = db.query("SELEC 1").fetch_table().await.unwrap_err();
    let Error::Operation { attempts, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*attempts, 1, "a syntax error is not retried: {err}");
    assert_eq!(db.generation(), 1, "and does not reset");
    println!("restart test: a syntax error failed at once, no reset: {err}");
}

/// `:name` parameters, the one style that works on every database: a name
/// used twice, names inside literals, quoted identifiers and comments left
/// alone, and mistakes caught before anything is sent.
async fn named_parameters(db: &SqlConnection, table: &str) {
    let pets: Vec<Pet> = db
        .query(AssertSqlSafe(format!(
            "SELECT name, age FROM {table} /* :not_a_name */ \
             WHERE (name = :name OR name = ':name') AND age > :age AND age < :age + 100 ORDER BY age"
        )))
        .param("name", "Ada")
        .param("age", 3)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        pets,
        [Pet {
            name: "Ada".into(),
            age: 11
        }]
    );
    let err = db
        .query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE name = :name AND age = :age"
        )))
        .param("name", "Ada")
        .param("agee", 11)
        .execute()
        .await
        .unwrap_err();
    let Error::InvalidCall { problem, .. } = &err else {
        panic!("{err}")
    };
    assert!(problem.contains("`:age` used in the statement but not given"), "{err}");
    assert!(problem.contains("`agee` given but not used"), "{err}");
    let left = db
        .query(AssertSqlSafe(format!("SELECT name FROM {table} WHERE name = :name")))
        .param(":name", "Ada")
        .fetch_table()
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "nothing was deleted");
}

/// A registry for a server URL with the pool the restart test needs: one
/// session, not pinged before use, so the killed one is handed out again.
fn server_registry(name: &str, url: &str) -> Registry {
    registry_with(
        name,
        &format!("url = '{url}'\nmax_connections = 1\ntest_before_acquire = false\nretry_wait = 0.05"),
    )
}

#[test]
fn sqlite_in_a_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("it.db");
    let reg = registry_with(
        "sqlite_it",
        &format!("dialect = 'sqlite'\ndatabase = '{}'", path.display()),
    );
    let db = reg.connection::<SqlConnection>("sqlite_it").unwrap();
    runtime().block_on(round_trip(&db, &SQLITE, "pets"));
    assert!(path.exists(), "the file was created");
    assert_eq!(db.dialect(), Some("sqlite"));
}

#[test]
fn sqlite_url_in_sqlalchemy_form_with_four_slashes_is_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("rel.db").display());
    // `sqlite:///` and an absolute path: SQLAlchemy's four-slash absolute form.
    let reg = registry_with("sqlite_abs", &format!("url = '{url}'"));
    let db = reg.connection::<SqlConnection>("sqlite_abs").unwrap();
    runtime().block_on(async {
        db.query("CREATE TABLE t (x INTEGER)").execute().await.unwrap();
    });
    assert!(dir.path().join("rel.db").exists());
}

/// Round trip and restart on the server `var` names, if it is set.
fn on_server(var: &str, name: &str, dialect: &Dialect, expected: &str) {
    let Some(url) = server_url(var) else {
        return;
    };
    let reg = server_registry(name, &url);
    let db = reg.connection::<SqlConnection>(name).unwrap();
    runtime().block_on(async {
        let closer = tokio::spawn(reg.closer());
        round_trip(&db, dialect, &table_name(name)).await;
        assert_eq!(db.dialect(), Some(expected));
        // A clone of the first pool, to watch it be closed: not a handle.
        let killed = (*db.pool().await.unwrap()).clone();
        survives_a_killed_session(&db, dialect, &url).await;
        let second = (*db.pool().await.unwrap()).clone();
        db.reset();
        tokio::time::timeout(Duration::from_secs(10), async {
            while !(killed.is_closed() && second.is_closed()) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("both retired pools are closed by the closer, the one whose session was killed too");
        println!("restart test: both retired pools closed");
        drop(reg);
        tokio::time::timeout(Duration::from_secs(10), closer)
            .await
            .expect("the closer ends with its registry")
            .unwrap();
    });
}

#[test]
fn postgres_round_trip_and_restart() {
    on_server("CONNECTIONS_TEST_POSTGRES_URL", "pg_it", &POSTGRES, "postgresql");
}

#[test]
fn mysql_round_trip_and_restart() {
    on_server("CONNECTIONS_TEST_MYSQL_URL", "mysql_it", &MYSQL, "mysql");
}

#[test]
fn a_constraint_violation_fails_at_once_and_exposes_the_sqlx_error() {
    let reg = registry_with("sqlite_constraint", "url = 'sqlite::memory:'");
    let db = reg.connection::<SqlConnection>("sqlite_constraint").unwrap();
    runtime().block_on(async {
        db.query("CREATE TABLE u (email TEXT PRIMARY KEY)")
            .execute()
            .await
            .unwrap();
        db.query("INSERT INTO u VALUES (?)")
            .bind("a@b")
            .execute()
            .await
            .unwrap();
        let err = db
            .query("INSERT INTO u VALUES (?)")
            .bind("a@b")
            .execute()
            .await
            .unwrap_err();
        let unique = err
            .sql()
            .and_then(sqlx::Error::as_database_error)
            .is_some_and(sqlx::error::DatabaseError::is_unique_violation);
        assert!(unique, "{err}");
        assert!(
            err.to_string()
                .starts_with("execute on connection `sqlite_constraint` failed after 1 attempt(s)"),
            "{err}"
        );
        assert_eq!(db.generation(), 0, "no reset");
    });
}

#[test]
fn a_server_error_names_the_database_and_never_shows_the_password() {
    if server_url("CONNECTIONS_TEST_POSTGRES_URL").is_none() {
        return;
    }
    // Trust auth takes any password: the planted one travels to the server.
    let reg = registry_with(
        "pg_no_db",
        "dialect = 'postgresql'\nhost = '127.0.0.1'\nport = 5432\nusername = 'postgres'\n\
         password = 'Pw-s3ntinel'\ndatabase = 'nosuchdb_shop'",
    );
    let db = reg.connection::<SqlConnection>("pg_no_db").unwrap();
    let err = runtime().block_on(db.query("SELECT 1").fetch_table()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(r#"database "nosuchdb_shop" does not exist (SQLSTATE 3D000)"#),
        "the one fact the user needs stays readable: {text}"
    );
    assert!(
        text.contains("could not connect to PostgreSQL at 127.0.0.1:5432"),
        "{text}"
    );
    assert!(text.contains("check `database`"), "{text}");
    assert!(!text.contains(" at line "), "no line of the server's source: {text}");
    let mut shown = vec![text, format!("{err:?}")];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push(format!("{cause} {cause:?}"));
        source = cause.source();
    }
    for text in shown {
        assert!(!text.contains("Pw-s3ntinel"), "{text}");
    }
}

#[test]
fn a_missing_key_names_the_key_and_the_file() {
    let reg = registry_with("pg_no_host", "dialect = 'postgresql'\nusername = 'app'");
    let db = reg.connection::<SqlConnection>("pg_no_host").unwrap();
    let err = runtime().block_on(db.pool()).unwrap_err();
    let shown = err.to_string();
    assert!(
        matches!(err, Error::MissingKey { ref key, .. } if key == "host"),
        "{shown}"
    );
    assert!(shown.contains("secrets.toml"), "{shown}");
}

#[test]
fn a_connection_named_sql_needs_no_type_key_and_kwargs_override_secrets() {
    let reg = Registry::builder()
        .secrets_toml(
            "secrets.toml",
            "[connections.sql]\nurl = 'postgresql://nobody@127.0.0.1:1/x'",
        )
        .build();
    let any = reg.connection_dyn("sql").unwrap();
    assert_eq!(any.type_name(), "sql");
    assert!(any.is_async());
    let db = reg
        .lookup("sql")
        .kwarg("url", "sqlite::memory:")
        .get::<SqlConnection>()
        .unwrap();
    let table = runtime()
        .block_on(db.query("SELECT 41 + 1 AS answer").fetch_table())
        .unwrap();
    assert_eq!(table.rows()[0][0], Value::Int(42));
}

#[test]
fn queries_from_many_tasks_share_one_pool() {
    fn assert_async<C: AsyncConnection>(_: &C) {}
    let reg = registry_with("sqlite_tasks", "url = 'sqlite::memory:'");
    let db = reg.connection::<SqlConnection>("sqlite_tasks").unwrap();
    assert_async(&*db);
    runtime().block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let db = Arc::clone(&db);
                // `tokio::spawn` needs `Send` futures: the query futures are.
                tokio::spawn(async move { db.query("SELECT ? AS i").bind(i).fetch_table().await.unwrap() })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().rows()[0][0], Value::Int(i64::try_from(i).unwrap()));
        }
    });
    assert_eq!(db.generation(), 0);
}

#[test]
fn a_reload_to_another_database_never_serves_the_old_databases_cached_rows() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.toml");
    let point_at = |db: &str| {
        let url = format!("sqlite:///{}", dir.path().join(db).display());
        std::fs::write(
            &secrets,
            format!("[connections.sqlite_moved]\ntype = 'sql'\nurl = '{url}'\n"),
        )
        .unwrap();
    };
    let ttl = Duration::from_mins(10);
    let reg = Registry::builder().secrets_paths([&secrets]).build();
    let db = reg.connection::<SqlConnection>("sqlite_moved").unwrap();
    runtime().block_on(async {
        for (file, name) in [("two.db", "from two"), ("one.db", "from one")] {
            point_at(file);
            reg.reload_secrets().unwrap();
            db.query("CREATE TABLE t (name TEXT)").execute().await.unwrap();
            db.query("INSERT INTO t VALUES (?)").bind(name).execute().await.unwrap();
        }
        let read = async || db.query("SELECT name FROM t").ttl(ttl).fetch_table().await.unwrap();
        assert_eq!(read().await.rows()[0][0], Value::from("from one"));
        point_at("two.db");
        assert_eq!(reg.reload_secrets().unwrap().reset(), ["sqlite_moved"]);
        assert_eq!(
            read().await.rows()[0][0],
            Value::from("from two"),
            "not the cached rows of one.db"
        );
    });
}

/// `url` with its host and port replaced by `127.0.0.1:port`, and the
/// server's `host:port` it named.
fn through(url: &str, port: u16) -> (String, String) {
    let mut parsed = url::Url::parse(url).unwrap();
    let server = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed
            .port_or_known_default()
            .unwrap_or(if url.starts_with("mysql") { 3306 } else { 5432 })
    );
    parsed.set_host(Some("127.0.0.1")).unwrap();
    parsed.set_port(Some(port)).unwrap();
    (parsed.into(), server)
}

/// A server behind a relay that falls silent: a query fails within
/// `query_timeout` (or its own `.timeout()`), saying the server stopped
/// answering, the check within its bound, and the first query after the
/// network heals succeeds on a new session.
fn silent_network(var: &str, name: &str) {
    let Some(url) = server_url(var) else {
        return;
    };
    runtime().block_on(async {
        let (_, server) = through(&url, 1);
        let relay = super::relay::Relay::start(server).await;
        let (relayed, _) = through(&url, relay.port);
        let registry = registry_with(
            name,
            &format!("url = '{relayed}'\nquery_timeout = 0.5\nconnect_timeout = 0.5"),
        );
        let db = registry.connection::<SqlConnection>(name).unwrap();
        db.query("SELECT 1").execute().await.unwrap();
        let sessions = relay.accepted();

        // A query's own bound, on an open session that falls silent.
        relay.set_silent(true);
        let started = Instant::now();
        let err = db
            .query("SELECT 1")
            .timeout(Duration::from_millis(150))
            .execute()
            .await
            .unwrap_err();
        println!(
            "{name}: with .timeout(150 ms): failed after {:?}: {err}",
            started.elapsed()
        );
        assert!(started.elapsed() < Duration::from_millis(450));
        assert!(err.to_string().contains("stopped answering"), "{err}");
        assert!(err.to_string().contains("`.timeout()` (0.15 s)"), "{err}");

        relay.set_silent(false);
        let started = Instant::now();
        db.query("SELECT 1").execute().await.unwrap();
        println!("{name}: healed: the first query took {:?}", started.elapsed());
        assert!(
            relay.accepted() > sessions,
            "on a new session: the silent ones are dropped"
        );

        // The section's bound.
        relay.set_silent(true);
        let started = Instant::now();
        let err = db.query("SELECT 1").fetch_table().await.unwrap_err();
        let took = started.elapsed();
        println!("{name}: a silent network: failed after {took:?}: {err}");
        assert!(took < Duration::from_millis(1500), "bounded by query_timeout: {took:?}");
        let text = err.to_string();
        assert!(text.contains("stopped answering"), "{text}");
        assert!(!text.contains("could not connect"), "{text}");
        assert!(
            text.contains(&format!("127.0.0.1:{}", relay.port)),
            "names the server: {text}"
        );

        // The check connects anew (the silent pool was dropped), within `connect_timeout`.
        relay.set_silent(true);
        let started = Instant::now();
        let outcomes = registry.check().await;
        println!(
            "{name}: the check on a silent network, after {:?}: {outcomes:?}",
            started.elapsed()
        );
        assert!(outcomes.iter().any(|o| !o.ok), "{outcomes:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "bounded by query_timeout"
        );
        relay.set_silent(false);
        db.query("SELECT 1").execute().await.unwrap();
    });
}

#[test]
fn postgres_on_a_silent_network_fails_within_query_timeout_and_heals() {
    silent_network("CONNECTIONS_TEST_POSTGRES_URL", "pg_silent");
}

#[test]
fn mysql_on_a_silent_network_fails_within_query_timeout_and_heals() {
    silent_network("CONNECTIONS_TEST_MYSQL_URL", "my_silent");
}

/// A query that waits past its bound for a session, while every session
/// is busy, says so and drops nothing: a healthy pool under load is kept.
fn busy_pool(var: &str, name: &str) {
    let Some(url) = server_url(var) else {
        return;
    };
    runtime().block_on(async {
        let registry = registry_with(name, &format!("url = '{url}'\nmax_connections = 1"));
        let db = registry.connection::<SqlConnection>(name).unwrap();
        db.query("SELECT 1").execute().await.unwrap();
        let generation = db.base().health().generation;
        let tx = db.begin().await.unwrap();
        let err = db
            .query("SELECT 1")
            .timeout(Duration::from_millis(200))
            .execute()
            .await
            .unwrap_err();
        println!("{name}: every session busy: {err}");
        let text = err.to_string();
        assert!(text.contains("no session of the pool"), "{text}");
        assert!(!text.contains("stopped answering"), "{text}");
        tx.commit().await.unwrap();
        db.query("SELECT 1").execute().await.unwrap();
        assert_eq!(db.base().health().generation, generation, "the pool was kept");
    });
}

#[test]
fn postgres_waiting_for_a_busy_pool_says_so_and_keeps_it() {
    busy_pool("CONNECTIONS_TEST_POSTGRES_URL", "pg_busy");
}

#[test]
fn mysql_waiting_for_a_busy_pool_says_so_and_keeps_it() {
    busy_pool("CONNECTIONS_TEST_MYSQL_URL", "my_busy");
}
