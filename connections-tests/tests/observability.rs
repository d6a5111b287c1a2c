//! Tracing: lookups (hit or miss), connects (generation and duration), resets
//! (and why), reloads; never a configuration value in any field.
//!
//! A binary of its own, with one global subscriber: `tracing` caches each call
//! site's interest process-wide, and a call site first hit on a thread with no
//! subscriber while another thread sets a scoped one can cache "never" and stay
//! silent for that thread. A global subscriber is never in that race. It writes
//! each thread's output to that thread's own buffer, so tests run in parallel.

// `_connect` has the signature the framework calls, whether or not a given
// connection uses `self` or can fail.
#![allow(clippy::unused_self, clippy::unnecessary_wraps)]

use std::task::{Context, Poll, Waker};

use connections::Registry;
use connections::prelude::*;

mod capture {
    use std::cell::RefCell;
    use std::io::Write;
    use std::sync::Once;

    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// Writes into the emitting thread's buffer.
    struct ThreadBuffer;

    impl Write for ThreadBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            BUFFER.with_borrow_mut(|b| b.extend_from_slice(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Everything traced on this thread while `f` runs, down to `TRACE`,
    /// with each event's spans and their fields.
    pub fn traced(f: impl FnOnce()) -> String {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            tracing_subscriber::fmt()
                .with_writer(|| ThreadBuffer)
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .init();
        });
        BUFFER.with_borrow_mut(Vec::clear);
        f();
        String::from_utf8_lossy(&BUFFER.take()).into_owned()
    }
}

use capture::traced;

/// A connection that connects at once to its name.
#[derive(Connection)]
#[connection(type_name = "traced")]
struct Traced {
    base: BaseConnection<String>,
}

impl Traced {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.name().to_owned())
    }
}

const SENTINEL: &str = "s3cr3t-observability-sentinel";

/// The lines of `log` that mention `needle`.
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(needle)).collect()
}

#[test]
fn lookups_connects_and_resets_are_traced_without_secret_values() {
    let reg = Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!("[connections.traced_db]\ntype = 'traced'\npassword = '{SENTINEL}'"),
        )
        .build();
    let log = traced(|| {
        let conn = reg.connection::<Traced>("traced_db").unwrap();
        conn.instance().unwrap();
        let again = reg.connection::<Traced>("traced_db").unwrap();
        again.reset();
        let stale = again.instance().unwrap();
        assert!(again.reset_if(&stale));
    });

    let miss = lines_with(&log, "cache miss: built");
    assert_eq!(miss.len(), 1, "{log}");
    assert!(
        miss[0].contains("lookup{connection=\"traced_db\"") && miss[0].contains("cache=\"miss\""),
        "a miss builds inside a `lookup` span:\n{log}"
    );
    let hits = lines_with(&log, "lookup: cache hit");
    assert_eq!(hits.len(), 1, "the second lookup is a hit:\n{log}");

    let connected = lines_with(&log, "connected elapsed_us=");
    assert_eq!(connected.len(), 2, "two connects:\n{log}");
    assert!(
        connected[0].contains("connect{connection=\"traced_db\"") && connected[0].contains("generation=0"),
        "{log}"
    );
    assert!(
        connected[1].contains("generation=1"),
        "the reconnect is generation 1:\n{log}"
    );

    let resets = lines_with(&log, " reset ");
    assert_eq!(resets.len(), 2, "{log}");
    assert!(resets.iter().all(|l| l.contains("reason=\"manual\"")), "{log}");
    assert!(
        resets[0].contains("generation=1") && resets[1].contains("generation=2"),
        "{log}"
    );

    assert!(!log.contains(SENTINEL), "no secret value in any field:\n{log}");
}

#[test]
fn a_failed_connect_is_traced_with_its_error_and_no_secret() {
    #[derive(Connection)]
    struct Refused {
        base: BaseConnection<()>,
    }
    impl Refused {
        fn _connect(&self, config: &Config) -> Result<(), BoxError> {
            Err(format!("refused for password {}", config.get::<String>("password")?).into())
        }
    }
    let conn = Refused::from_config(
        "refused",
        Config::from_toml("refused", &format!("password = '{SENTINEL}'")).unwrap(),
    );
    let log = traced(|| assert!(conn.instance().is_err()));
    let failed = lines_with(&log, "connect failed");
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0].contains("connect{connection=\"refused\"") && failed[0].contains("elapsed_us="),
        "{log}"
    );
    assert!(!log.contains(SENTINEL), "{log}");
}

#[test]
fn a_reload_traces_the_resets_it_causes_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    std::fs::write(&file, "[connections.traced_reload]\ntype = 'traced'\ntext = 'one'").unwrap();
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg.connection::<Traced>("traced_reload").unwrap();
    conn.instance().unwrap();
    std::fs::write(&file, "[connections.traced_reload]\ntype = 'traced'\ntext = 'two'").unwrap();
    let log = traced(|| {
        reg.reload_secrets().unwrap();
    });
    let resets = lines_with(&log, "reason=");
    assert_eq!(resets.len(), 1, "{log}");
    assert!(
        resets[0].contains("reload:") && resets[0].contains("reason=\"reload\""),
        "inside the reload span:\n{log}"
    );
}

#[test]
fn async_connects_are_traced_and_a_cancelled_one_says_so() {
    #[derive(Connection)]
    #[connection(async)]
    struct Never {
        base: BaseConnection<()>,
    }
    impl Never {
        async fn _connect(&self, _: &Config) -> Result<(), BoxError> {
            std::future::pending::<()>().await;
            Ok(())
        }
    }
    let conn = Never::from_config("never", Config::from_toml("never", "").unwrap());
    let log = traced(|| {
        let mut future = conn.instance();
        let polled = std::pin::Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(polled, Poll::Pending));
        drop(future);
    });
    let cancelled = lines_with(&log, "connect cancelled");
    assert_eq!(cancelled.len(), 1, "{log}");
    assert!(
        cancelled[0].contains("connect{connection=\"never\"") && cancelled[0].contains("generation=0"),
        "{log}"
    );
}

#[test]
fn a_sql_connect_traces_its_settings_with_the_password_masked() {
    let reg = Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!(
                "[connections.sql_traced]\ntype = 'sql'\nurl = 'postgresql://app:{SENTINEL}@127.0.0.1:1/x'\nacquire_timeout = 0.1"
            ),
        )
        .build();
    let db = reg.connection::<connections::sql::SqlConnection>("sql_traced").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = traced(|| assert!(runtime.block_on(db.pool()).is_err()));
    // The line `SqlConnection::describe()` gives.
    assert!(
        log.contains("connecting settings=dialect=postgresql host=127.0.0.1 port=1 database=x username=app tls=prefer"),
        "{log}"
    );
    assert!(log.contains("url=postgres://app:***@127.0.0.1:1/x"), "{log}");
    assert!(!log.contains(SENTINEL), "{log}");
}

#[test]
fn closes_are_traced_in_a_close_span_and_failures_logged_without_secrets() {
    #[derive(Connection)]
    #[connection(type_name = "traced-close")]
    struct Closed {
        base: BaseConnection<String>,
    }
    impl Closed {
        fn _connect(&self, config: &Config) -> Result<String, BoxError> {
            config.get("password").map_err(Into::into)
        }
        #[allow(clippy::needless_pass_by_value)] // a close hook owns the instance it closes
        fn _close(raw: String) -> Result<(), BoxError> {
            if raw.is_empty() {
                Ok(())
            } else {
                Err(format!("logout refused for password {raw}").into())
            }
        }
    }
    let reg = Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!("[connections.traced_close]\ntype = 'traced-close'\npassword = '{SENTINEL}'\n[connections.traced_close_ok]\ntype = 'traced-close'\npassword = ''"),
        )
        .build();
    let log = traced(|| {
        for name in ["traced_close", "traced_close_ok"] {
            let conn = reg.connection::<Closed>(name).unwrap();
            drop(conn.instance().unwrap());
            conn.reset();
        }
    });
    let closed = lines_with(&log, " closed elapsed_us=");
    assert_eq!(closed.len(), 1, "{log}");
    assert!(
        closed[0].contains("close{connection=\"traced_close_ok\"") && closed[0].contains("generation=0"),
        "{log}"
    );
    let failed = lines_with(&log, "closing connection `traced_close`");
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0].contains("ERROR")
            && failed[0].contains("close{connection=\"traced_close\"")
            && failed[0].contains("logout refused"),
        "{log}"
    );
    assert!(!log.contains(SENTINEL), "no secret value in any field:\n{log}");
}
