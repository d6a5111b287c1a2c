//! Credential rotation: a reload that changes only what a connection's type
//! can take in place (`_reconfigure`; a `SqlConnection`'s password) keeps the
//! instance and its sessions, where any other change resets.

use std::sync::Arc;

use connections::Registry;
use connections::prelude::*;
use connections::sql::{Pool, SqlConnection, Value};

use crate::sql::{runtime, server_url};

/// Takes a new `token` in place (as a client whose token can be swapped);
/// any other change needs a reconnect.
#[derive(Connection)]
#[connection(type_name = "rt-client")]
struct Client {
    base: BaseConnection<String>,
}

impl Client {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("host")?)
    }
    fn _reconfigure(&self, old: &Config, new: &Config) -> bool {
        old.get::<String>("host").ok() == new.get::<String>("host").ok()
    }
}

fn write_secrets(file: &std::path::Path, toml: &str) {
    std::fs::write(file, toml).unwrap();
}

#[test]
fn a_type_with_reconfigure_takes_a_change_in_place_and_resets_on_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    write_secrets(
        &file,
        "[connections.rt_c]\ntype = 'rt-client'\nhost = 'a'\ntoken = 'one'\n",
    );
    let reg = Registry::builder().secrets_paths([&file]).build();
    let client = reg.connection::<Client>("rt_c").unwrap();
    let first = client.instance().unwrap();

    write_secrets(
        &file,
        "[connections.rt_c]\ntype = 'rt-client'\nhost = 'a'\ntoken = 'two'\n",
    );
    let logs = crate::common::captured_logs(|| {
        let reloaded = reg.reload_secrets().unwrap();
        assert_eq!(
            (reloaded.reset(), reloaded.rotated()),
            (&[][..], &["rt_c".to_owned()][..])
        );
    });
    assert!(logs.contains("reason=\"rotate\""), "{logs}");
    assert!(Arc::ptr_eq(&first, &client.instance().unwrap()), "kept");
    assert_eq!(client.generation(), 0);
    assert_eq!(
        client.config().get::<String>("token").unwrap(),
        "two",
        "the new config is in place"
    );

    write_secrets(
        &file,
        "[connections.rt_c]\ntype = 'rt-client'\nhost = 'b'\ntoken = 'two'\n",
    );
    let reloaded = reg.reload_secrets().unwrap();
    assert_eq!(
        (reloaded.reset(), reloaded.rotated()),
        (&["rt_c".to_owned()][..], &[][..])
    );
    assert_eq!(*client.instance().unwrap(), "b");
}

/// The pids of this test's sessions, by their `application_name`.
async fn session_pids(db: &SqlConnection, app: &str) -> Vec<i64> {
    let table = db
        .query("SELECT pid::bigint AS pid FROM pg_stat_activity WHERE application_name = :app ORDER BY pid")
        .param("app", app)
        .fetch_table()
        .await
        .unwrap();
    table
        .rows()
        .iter()
        .map(|row| match row[0] {
            Value::Int(pid) => pid,
            ref other => panic!("pid {other:?}"),
        })
        .collect()
}

#[test]
fn a_new_postgres_password_keeps_the_pool_and_its_sessions() {
    let Some(server) = server_url("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    let app = format!("rotation_{}", std::process::id());
    let mut url = url::Url::parse(&server).unwrap();
    url.query_pairs_mut().append_pair("application_name", &app);
    let with_password = |password: &str| {
        let mut url = url.clone();
        url.set_password(Some(password)).unwrap();
        format!("[connections.rt_pg]\ntype = 'sql'\nurl = '{url}'\nmax_connections = 3\nmin_connections = 3\n")
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    write_secrets(&file, &with_password("first-pw"));
    let reg = Registry::builder().secrets_paths([&file]).build();
    let db = reg.connection::<SqlConnection>("rt_pg").unwrap();
    runtime().block_on(async {
        // Three queries at once make the pool open all three sessions (its
        // own `min_connections` top-up runs once, in the background, and
        // gives up silently when the server is busy).
        let sleep = || db.query("SELECT pg_sleep(0.3)").execute();
        let (a, b, c) = tokio::join!(sleep(), sleep(), sleep());
        for outcome in [a, b, c] {
            outcome.unwrap();
        }
        let before = session_pids(&db, &app).await;
        assert_eq!(before.len(), 3, "sessions open: {before:?}");

        // Queries keep running while the password changes.
        let running = {
            let db = db.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    db.query("SELECT pg_sleep(0.01)").execute().await.unwrap();
                }
            })
        };
        write_secrets(&file, &with_password("second-pw"));
        let reloaded = reg.reload_secrets().unwrap();
        assert_eq!(reloaded.rotated(), ["rt_pg"]);
        assert!(reloaded.reset().is_empty());
        running.await.unwrap();

        let after = session_pids(&db, &app).await;
        assert!(
            before.iter().all(|pid| after.contains(pid)),
            "sessions survive: {before:?} -> {after:?}"
        );
        assert_eq!(db.generation(), 0, "no reset");
        let health = reg.health();
        assert_eq!(
            (health[0].connects, health[0].resets),
            (1, 0),
            "one connect: {health:?}"
        );
        // The options new sessions log in with carry the new password.
        let Pool::Postgres(pool) = &*db.pool().await.unwrap() else {
            panic!("a PostgreSQL pool")
        };
        let options = format!("{:?}", pool.connect_options());
        assert!(
            options.contains("second-pw") && !options.contains("first-pw"),
            "new sessions use the new password"
        );
        // And `describe` reads the new configuration: same server, same user.
        assert_eq!(db.describe().unwrap().username.as_deref(), Some(url.username()));
        reg.shutdown().await;
    });
}

/// Its `_reconfigure` panics.
#[derive(Connection)]
#[connection(type_name = "rt-panics")]
struct Panicky {
    base: BaseConnection<String>,
}

impl Panicky {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("token")?)
    }
    fn _reconfigure(&self, _old: &Config, new: &Config) -> bool {
        let token: String = new.get("token").unwrap_or_default();
        panic!("cannot take token {token}");
    }
}

#[test]
fn a_reconfigure_hook_that_panics_resets_and_the_reload_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    write_secrets(
        &file,
        "[connections.rt_p]\ntype = 'rt-panics'\ntoken = 'old-token-value'\n",
    );
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg.connection::<Panicky>("rt_p").unwrap();
    conn.instance().unwrap();
    write_secrets(
        &file,
        "[connections.rt_p]\ntype = 'rt-panics'\ntoken = 'new-token-value'\n",
    );
    let logs = crate::common::captured_logs(|| {
        assert_eq!(reg.reload_secrets().unwrap().reset(), ["rt_p"]);
    });
    assert!(
        logs.contains("`_reconfigure` panicked: cannot take token ***; resetting instead"),
        "{logs}"
    );
    assert!(!logs.contains("new-token-value"), "{logs}");
    assert_eq!(*conn.instance().unwrap(), "new-token-value");
}
