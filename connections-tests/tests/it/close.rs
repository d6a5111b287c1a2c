//! Close hooks: a retired instance is closed exactly once, only once no
//! handle to it is left, on reset, reload, eviction, expiry, clear and drop;
//! a failing or panicking hook is logged and never stops the other closes.
//!
//! Connection names start with `cl_` and are unique per test, so the close
//! log (`closed`) never mixes tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use connections::Registry;
use connections::prelude::*;

use crate::common::{LogCapture, captured_logs, registry, wait_until};

/// Per-name connect counts and close logs.
static CONNECTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
static CLOSED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn next_serial(name: &str) -> usize {
    let mut guard = CONNECTS.lock().unwrap_or_else(PoisonError::into_inner);
    let n = guard
        .get_or_insert_with(HashMap::new)
        .entry(name.to_owned())
        .or_insert(0);
    *n += 1;
    *n
}

/// The instances of connection `name` closed so far, as `name#serial`, in order.
fn closed(name: &str) -> Vec<String> {
    let prefix = format!("{name}#");
    CLOSED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|c| c.starts_with(&prefix))
        .cloned()
        .collect()
}

/// The raw instance: which connect of which name made it, and how its close
/// should go (`close = "fail" | "crash"` in the config).
#[derive(Debug)]
struct Session {
    name: String,
    serial: usize,
    close: Option<String>,
    password: Option<String>,
}

impl Session {
    fn open(config: &Config) -> Result<Session, BoxError> {
        let name = config.name().to_owned();
        let serial = next_serial(&name);
        if let Some(ms) = config.get_opt::<u64>("sleep_ms")? {
            std::thread::sleep(Duration::from_millis(ms));
        }
        Ok(Session {
            serial,
            name,
            close: config.get_opt("close")?,
            password: config.get_opt("password")?,
        })
    }

    fn label(&self) -> String {
        format!("{}#{}", self.name, self.serial)
    }

    fn close(self) -> Result<(), BoxError> {
        match self.close.as_deref() {
            Some("fail") => Err(format!(
                "server refused to close {} for password {}",
                self.label(),
                self.password.clone().unwrap_or_default()
            )
            .into()),
            Some("crash") => panic!("close of {} panicked on purpose", self.label()),
            _ => {
                CLOSED.lock().unwrap_or_else(PoisonError::into_inner).push(self.label());
                Ok(())
            }
        }
    }
}

/// A blocking connection with a sync close hook.
#[derive(Connection)]
#[connection(type_name = "closing")]
struct Closing {
    base: BaseConnection<Session>,
}

impl Closing {
    fn _connect(&self, config: &Config) -> Result<Session, BoxError> {
        Session::open(config)
    }

    fn _close(session: Session) -> Result<(), BoxError> {
        session.close()
    }
}

/// An async connection with an async close hook (that yields once, as a
/// real goodbye to a server would).
#[derive(Connection)]
#[connection(type_name = "closing-async", async)]
struct AsyncClosing {
    base: BaseConnection<Session>,
}

impl AsyncClosing {
    #[allow(clippy::unused_async)] // the signature an async connection's connect has
    async fn _connect(&self, config: &Config) -> Result<Session, BoxError> {
        Session::open(config)
    }

    async fn _close(session: Session) -> Result<(), BoxError> {
        tokio::task::yield_now().await;
        if session.close.as_deref() == Some("slow") {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        session.close()
    }
}

/// A connection with no close hook, beside them: nothing is kept for it.
#[derive(Connection)]
#[connection(type_name = "closing-none")]
struct NoHook {
    base: BaseConnection<Session>,
}

impl NoHook {
    fn _connect(&self, config: &Config) -> Result<Session, BoxError> {
        Session::open(config)
    }
}

fn sections(names: &[&str], ty: &str, extra: &str) -> String {
    names
        .iter()
        .map(|n| format!("[connections.{n}]\ntype = '{ty}'\n{extra}\n"))
        .collect::<Vec<_>>()
        .concat()
}

/// A fresh directory and the path of a `secrets.toml` in it, for reload tests.
fn secrets_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    (dir, file)
}

#[test]
fn reset_with_no_handle_held_closes_at_once() {
    let reg = registry(&sections(&["cl_reset"], "closing", ""));
    let conn = reg.connection::<Closing>("cl_reset").unwrap();
    drop(conn.instance().unwrap());
    conn.reset();
    assert_eq!(closed("cl_reset"), ["cl_reset#1"]);
    conn.instance().unwrap();
    assert_eq!(closed("cl_reset"), ["cl_reset#1"], "the new instance is open");
}

#[test]
fn reset_waits_for_the_last_handle_then_closes_before_the_reconnect() {
    let reg = registry(&sections(&["cl_held"], "closing", ""));
    let conn = reg.connection::<Closing>("cl_held").unwrap();
    let held = conn.instance().unwrap();
    let borrowed = conn.instance_ref().unwrap();
    conn.reset();
    assert!(closed("cl_held").is_empty(), "never under a caller still using it");
    drop(held);
    conn.reset(); // a sweep: the borrowed handle still holds it
    assert!(closed("cl_held").is_empty(), "a borrowed handle counts too");
    assert_eq!(borrowed.serial, 1, "and it is still usable");
    drop(borrowed);
    // The next connect sweeps first: the old instance goes before the new one comes.
    let fresh = conn.instance().unwrap();
    assert_eq!(fresh.serial, 2);
    assert_eq!(closed("cl_held"), ["cl_held#1"]);
}

#[test]
fn close_released_closes_what_was_let_go_of_since_the_last_sweep() {
    let reg = registry(&sections(&["cl_released"], "closing", ""));
    let conn = reg.connection::<Closing>("cl_released").unwrap();
    let held = conn.instance().unwrap();
    conn.reset();
    reg.close_released();
    assert!(closed("cl_released").is_empty(), "still held");
    drop(held);
    reg.close_released();
    assert_eq!(closed("cl_released"), ["cl_released#1"]);
}

#[test]
fn many_threads_resetting_the_same_instance_close_it_once() {
    let reg = registry(&sections(&["cl_reset_if"], "closing", ""));
    let conn = reg.connection::<Closing>("cl_reset_if").unwrap();
    let seen = conn.instance().unwrap();
    let resets = crate::common::all_at_once(8, &Arc::new((Arc::clone(&conn), Arc::clone(&seen))), |(c, s)| {
        c.reset_if(s)
    });
    assert_eq!(resets.iter().filter(|r| **r).count(), 1);
    drop(seen);
    conn.instance().unwrap();
    assert_eq!(closed("cl_reset_if"), ["cl_reset_if#1"]);
}

#[test]
fn a_connect_that_lost_its_generation_is_closed_when_released() {
    let reg = registry(&sections(&["cl_lost"], "closing", "sleep_ms = 200"));
    let conn = reg.connection::<Closing>("cl_lost").unwrap();
    // Reset while the first connect runs: its result is not kept.
    let started = Arc::new(std::sync::Barrier::new(2));
    let connecting = {
        let (conn, started) = (Arc::clone(&conn), Arc::clone(&started));
        std::thread::spawn(move || {
            started.wait();
            conn.instance().unwrap()
        })
    };
    started.wait();
    wait_until("the connect has started", || {
        CONNECTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|c| c.contains_key("cl_lost"))
    });
    conn.reset();
    let orphan = connecting.join().unwrap();
    assert_eq!(orphan.serial, 1);
    assert!(!conn.is_connected(), "a result of an ended generation is not kept");
    drop(orphan);
    let fresh = conn.instance().unwrap();
    assert_eq!(fresh.serial, 2);
    assert_eq!(
        closed("cl_lost"),
        ["cl_lost#1"],
        "retired at birth, closed once released"
    );
}

#[test]
fn eviction_closes_the_evicted_connection() {
    let reg = registry(&sections(&["cl_evict_a", "cl_evict_b"], "closing", ""));
    let a = reg.lookup("cl_evict_a").max_entries(1).get::<Closing>().unwrap();
    a.instance().unwrap();
    drop(a);
    let b = reg.lookup("cl_evict_b").max_entries(1).get::<Closing>().unwrap();
    b.instance().unwrap();
    assert_eq!(closed("cl_evict_a"), ["cl_evict_a#1"], "evicted by b's insert");
    assert!(closed("cl_evict_b").is_empty());
}

#[test]
fn an_evicted_connection_still_held_is_closed_when_dropped() {
    let reg = registry(&sections(&["cl_kept_a", "cl_kept_b"], "closing", ""));
    let a = reg.lookup("cl_kept_a").max_entries(1).get::<Closing>().unwrap();
    a.instance().unwrap();
    reg.lookup("cl_kept_b").max_entries(1).get::<Closing>().unwrap();
    assert!(closed("cl_kept_a").is_empty(), "a is still held: it keeps working");
    assert_eq!(a.instance().unwrap().serial, 1);
    drop(a);
    reg.lookup("cl_kept_b").max_entries(1).get::<Closing>().unwrap(); // a hit: no sweep
    reg.clear_cache(); // a sweep
    assert_eq!(closed("cl_kept_a"), ["cl_kept_a#1"]);
}

#[test]
fn expiry_closes_the_expired_connection() {
    let reg = registry(&sections(&["cl_ttl"], "closing", ""));
    let ttl = Duration::from_millis(50);
    let first = reg.lookup("cl_ttl").ttl(ttl).get::<Closing>().unwrap();
    first.instance().unwrap();
    drop(first);
    std::thread::sleep(ttl + Duration::from_millis(20));
    let second = reg.lookup("cl_ttl").ttl(ttl).get::<Closing>().unwrap();
    assert_eq!(closed("cl_ttl"), ["cl_ttl#1"], "replaced on expiry, and closed");
    assert_eq!(second.instance().unwrap().serial, 2);
}

#[test]
fn a_reload_closes_only_the_instances_it_replaced() {
    let (_dir, file) = secrets_file();
    let write = |text: &str| {
        std::fs::write(
            &file,
            format!(
                "[connections.cl_reload_a]\ntype = 'closing'\ntext = '{text}'\n[connections.cl_reload_b]\ntype = 'closing'\n"
            ),
        )
        .unwrap();
    };
    write("one");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let a = reg.connection::<Closing>("cl_reload_a").unwrap();
    let b = reg.connection::<Closing>("cl_reload_b").unwrap();
    a.instance().unwrap();
    b.instance().unwrap();
    write("two");
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["cl_reload_a"]);
    assert_eq!(closed("cl_reload_a"), ["cl_reload_a#1"]);
    assert!(
        closed("cl_reload_b").is_empty(),
        "an unchanged section keeps its instance"
    );
}

#[test]
fn clear_and_drop_close_what_nothing_holds() {
    let reg = registry(&sections(
        &["cl_clear_free", "cl_clear_held", "cl_clear_obj"],
        "closing",
        "",
    ));
    reg.connection::<Closing>("cl_clear_free").unwrap().instance().unwrap();
    let handle = reg.connection::<Closing>("cl_clear_held").unwrap().instance().unwrap();
    let object = reg.connection::<Closing>("cl_clear_obj").unwrap();
    object.instance().unwrap();
    reg.clear_cache();
    assert_eq!(closed("cl_clear_free"), ["cl_clear_free#1"]);
    assert!(closed("cl_clear_held").is_empty(), "its handle is still held");
    assert!(closed("cl_clear_obj").is_empty(), "its connection is still held");

    drop(handle);
    drop(reg);
    assert_eq!(
        closed("cl_clear_held"),
        ["cl_clear_held#1"],
        "the registry's drop sweeps"
    );
    assert_eq!(
        object.instance().unwrap().serial,
        1,
        "a held connection outlives its registry"
    );
    drop(object);
    assert_eq!(
        closed("cl_clear_obj"),
        ["cl_clear_obj#1"],
        "closed when the last holder drops it"
    );
}

#[test]
fn a_connection_built_without_a_registry_closes_when_dropped() {
    let conn = Closing::from_config("cl_alone", Config::from_toml("cl_alone", "").unwrap());
    conn.instance().unwrap();
    conn.reset();
    conn.instance().unwrap();
    assert_eq!(closed("cl_alone"), ["cl_alone#1"]);
    drop(conn);
    assert_eq!(closed("cl_alone"), ["cl_alone#1", "cl_alone#2"]);
}

#[test]
fn a_type_without_a_hook_keeps_nothing() {
    let conn = NoHook::from_config("cl_none", Config::from_toml("cl_none", "").unwrap());
    let weak = Arc::downgrade(&conn.instance().unwrap());
    conn.reset();
    assert!(weak.upgrade().is_none(), "forgotten at once, as Streamlit's reset()");
}

#[test]
fn failing_and_panicking_hooks_are_logged_and_the_other_closes_run() {
    let secret = "cl-s3cr3t-password";
    let toml = [
        sections(
            &["cl_fail_err"],
            "closing",
            &format!("close = 'fail'\npassword = '{secret}'"),
        ),
        sections(&["cl_fail_panic"], "closing", "close = 'crash'"),
        sections(&["cl_fail_ok1", "cl_fail_ok2"], "closing", ""),
    ]
    .concat();
    let reg = registry(&toml);
    for name in ["cl_fail_err", "cl_fail_panic", "cl_fail_ok1", "cl_fail_ok2"] {
        reg.connection::<Closing>(name).unwrap().instance().unwrap();
    }
    let log = captured_logs(|| reg.clear_cache());
    assert_eq!(closed("cl_fail_ok1"), ["cl_fail_ok1#1"]);
    assert_eq!(closed("cl_fail_ok2"), ["cl_fail_ok2#1"]);
    assert!(
        log.contains("ERROR") && log.contains("closing connection `cl_fail_err`") && log.contains("server refused"),
        "{log}"
    );
    assert!(
        log.contains("closing connection `cl_fail_panic`") && log.contains("panicked on purpose"),
        "{log}"
    );
    assert!(!log.contains(secret), "the config's values are redacted:\n{log}");
    // Nothing was raised, nothing is poisoned: the registry carries on.
    assert_eq!(
        reg.connection::<Closing>("cl_fail_ok1")
            .unwrap()
            .instance()
            .unwrap()
            .serial,
        2
    );
}

#[test]
fn every_instance_is_closed_exactly_once_under_concurrent_resets() {
    let reg = registry(&sections(&["cl_stress"], "closing", ""));
    let conn = reg.connection::<Closing>("cl_stress").unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let (conn, stop) = (Arc::clone(&conn), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let raw = conn.instance().unwrap();
                    match i % 3 {
                        0 => conn.reset(),
                        1 => {
                            conn.reset_if(&raw);
                        }
                        _ => kept.push(raw), // held a while, across resets
                    }
                    if kept.len() > 3 {
                        kept.remove(0);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    crate::common::join_all(workers);
    conn.reset();
    let connects = CONNECTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .unwrap()["cl_stress"];
    let closes = closed("cl_stress");
    assert!(connects > 10, "the stress ran ({connects} connects)");
    assert_eq!(closes.len(), connects, "every instance closed, none twice");
    let mut unique = closes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), closes.len(), "none closed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_hook_runs_on_the_registrys_closer() {
    let reg = registry(&sections(&["cl_async"], "closing-async", ""));
    let closer = tokio::spawn(reg.closer());
    let conn = reg.connection::<AsyncClosing>("cl_async").unwrap();
    conn.instance().await.unwrap();
    conn.reset();
    tokio::time::timeout(Duration::from_secs(10), async {
        while closed("cl_async").is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the closer ran the close");
    assert_eq!(closed("cl_async"), ["cl_async#1"]);
    conn.instance().await.unwrap();
    drop(conn);
    drop(reg);
    tokio::time::timeout(Duration::from_secs(10), closer)
        .await
        .expect("the closer ends with its registry")
        .unwrap();
    assert_eq!(
        closed("cl_async"),
        ["cl_async#1", "cl_async#2"],
        "the registry's drop closed the rest"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_waits_for_every_async_close() {
    let reg = registry(&sections(&["cl_shut_a", "cl_shut_b"], "closing-async", ""));
    for name in ["cl_shut_a", "cl_shut_b"] {
        reg.connection::<AsyncClosing>(name).unwrap().instance().await.unwrap();
    }
    reg.shutdown().await;
    assert_eq!(closed("cl_shut_a"), ["cl_shut_a#1"]);
    assert_eq!(closed("cl_shut_b"), ["cl_shut_b#1"]);
    assert_eq!(reg.cached_len(), 0);
    // Still usable afterwards.
    let again = reg.connection::<AsyncClosing>("cl_shut_a").unwrap();
    assert_eq!(again.instance().await.unwrap().serial, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_closes_a_spawned_closer_took() {
    let names = ["cl_both_a", "cl_both_b", "cl_both_c", "cl_both_d"];
    let reg = registry(&sections(&names, "closing-async", "close = 'slow'"));
    let closer = tokio::spawn(reg.closer());
    for name in names {
        let conn = reg.connection::<AsyncClosing>(name).unwrap();
        conn.instance().await.unwrap();
        conn.reset(); // handed to the spawned closer, which takes it
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Nothing is pending now, but the closes are still running on the other closer.
    reg.shutdown().await;
    for name in names {
        assert_eq!(
            closed(name),
            [format!("{name}#1")],
            "shutdown returned before {name} closed"
        );
    }
    drop(reg);
    tokio::time::timeout(Duration::from_secs(10), closer)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn an_async_hook_with_nothing_to_drive_it_warns_once() {
    let reg = registry(&sections(&["cl_undriven_a", "cl_undriven_b"], "closing-async", ""));
    let capture = LogCapture::default();
    let _guard = capture.set_default_at(tracing::Level::WARN);
    tracing::callsite::rebuild_interest_cache();
    for name in ["cl_undriven_a", "cl_undriven_b"] {
        let conn = reg.connection::<AsyncClosing>(name).unwrap();
        futures_executor::block_on(conn.instance()).unwrap();
        conn.reset();
    }
    let log = capture.text();
    assert!(closed("cl_undriven_a").is_empty() && closed("cl_undriven_b").is_empty());
    assert_eq!(log.matches("nothing drives async closes").count(), 1, "{log}");
    assert!(
        log.contains("tokio::spawn(registry.closer())"),
        "says what to write:\n{log}"
    );
}

#[test]
fn a_sync_hook_needs_no_closer_and_a_closer_needs_no_runtime() {
    let reg = registry(&sections(&["cl_plain"], "closing", ""));
    let closer = reg.closer();
    reg.connection::<Closing>("cl_plain").unwrap().instance().unwrap();
    reg.clear_cache();
    assert_eq!(closed("cl_plain"), ["cl_plain#1"], "closed in the clearing thread");
    drop(reg);
    futures_executor::block_on(closer);
}

/// Counts the closes of a type whose hook is named with `close = path`.
static PATH_CLOSES: AtomicUsize = AtomicUsize::new(0);

#[derive(Connection)]
#[connection(close = Self::hang_up)]
struct NamedHook {
    base: BaseConnection<u8>,
}

impl NamedHook {
    fn _connect(&self, _: &Config) -> Result<u8, BoxError> {
        Ok(1)
    }

    fn hang_up(_raw: u8) {
        PATH_CLOSES.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn close_path_names_another_function_which_may_return_nothing() {
    let conn = NamedHook::from_config("cl_path", Config::from_toml("cl_path", "").unwrap());
    conn.instance().unwrap();
    conn.reset();
    assert_eq!(PATH_CLOSES.load(Ordering::SeqCst), 1);
}

#[test]
fn a_failed_close_after_a_reload_redacts_the_values_the_instance_connected_with() {
    let (_dir, file) = secrets_file();
    let write = |password: &str| {
        std::fs::write(
            &file,
            format!("[connections.cl_rotated]\ntype = 'closing'\nclose = 'fail'\npassword = '{password}'\n"),
        )
        .unwrap();
    };
    write("cl-old-s3cr3t");
    let reg = Registry::builder().secrets_paths([&file]).build();
    let conn = reg.connection::<Closing>("cl_rotated").unwrap();
    conn.instance().unwrap();
    write("cl-new-s3cr3t");
    let log = captured_logs(|| {
        assert_eq!(reg.reload_secrets().unwrap().reset(), ["cl_rotated"]);
    });
    assert!(log.contains("closing connection `cl_rotated`"), "{log}");
    assert!(
        !log.contains("cl-old-s3cr3t"),
        "the rotated-out password is redacted:\n{log}"
    );
}
