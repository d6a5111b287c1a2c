//! Scopes (Streamlit's `scope="session"`): session-scoped types cached per
//! `registry.scope(key)`, retired when the scope ends, global types shared.
//!
//! Connection names start with `sc_`; each test counts its own type's closes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use connections::prelude::*;
use connections::{Error, Registry};

use crate::common::{Counted, registry};

macro_rules! session_type {
    ($name:ident, $type_name:literal, $closed:ident) => {
        static $closed: AtomicUsize = AtomicUsize::new(0);

        #[derive(Connection)]
        #[connection(type_name = $type_name, scope = "session")]
        struct $name {
            base: BaseConnection<String>,
        }

        impl $name {
            fn _connect(&self, config: &Config) -> Result<String, BoxError> {
                Ok(config.get_opt::<String>("token")?.unwrap_or_default())
            }
            fn _close(_raw: String) -> Result<(), BoxError> {
                $closed.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    };
}

session_type!(UserToken, "sc-token", TOKEN_CLOSED);
session_type!(Dropped, "sc-dropped", DROPPED_CLOSED);
session_type!(Closed, "sc-closed", CLOSED_CLOSED);
session_type!(Many, "sc-many", MANY_CLOSED);

#[test]
fn session_types_are_cached_per_scope_and_global_ones_are_shared() {
    let reg = registry(
        "[connections.sc_api]\ntype = 'sc-token'\ntoken = 'secret-token'\n[connections.sc_shared]\ntype = 'counted'\n",
    );
    let alice = reg.scope("alice");
    let bob = reg.scope("bob");
    let a = alice.connection::<UserToken>("sc_api").unwrap();
    let b = bob.connection::<UserToken>("sc_api").unwrap();
    assert!(!Arc::ptr_eq(&a, &b), "one per scope");
    assert!(
        Arc::ptr_eq(&a, &reg.scope("alice").connection::<UserToken>("sc_api").unwrap()),
        "one per key"
    );
    assert!(Arc::ptr_eq(&a, &alice.lookup("sc_api").get::<UserToken>().unwrap()));
    let dynamic = alice.connection_dyn("sc_api").unwrap();
    assert!(Arc::ptr_eq(&a, &dynamic.downcast::<UserToken>().ok().unwrap()));
    assert_eq!(
        *alice.connection_ref::<UserToken>("sc_api").unwrap().instance().unwrap(),
        "secret-token"
    );

    // A global type through a scope is the registry's.
    let shared = alice.connection::<Counted>("sc_shared").unwrap();
    assert!(Arc::ptr_eq(&shared, &bob.connection::<Counted>("sc_shared").unwrap()));
    assert!(Arc::ptr_eq(&shared, &reg.connection::<Counted>("sc_shared").unwrap()));
    assert!(Arc::ptr_eq(
        &shared,
        &alice
            .connection_dyn("sc_shared")
            .unwrap()
            .downcast::<Counted>()
            .ok()
            .unwrap()
    ));
}

#[test]
fn a_session_type_without_a_scope_is_an_error_saying_what_to_write() {
    let reg = registry("[connections.sc_api]\ntype = 'sc-token'\n");
    let Err(typed) = reg.connection::<UserToken>("sc_api") else {
        panic!("a session-scoped type without a scope")
    };
    assert!(
        matches!(&typed, Error::SessionScoped { name, .. } if name == "sc_api"),
        "{typed:?}"
    );
    assert_eq!(
        typed.to_string(),
        "connection `sc_api` is a `it::scope::UserToken`, which is session-scoped (`#[connection(scope = \"session\")]`): \
         each scope has its own, so look it up through one, e.g. `registry.scope(session_id).connection::<T>(\"sc_api\")`"
    );
    assert!(matches!(reg.connection_dyn("sc_api"), Err(Error::SessionScoped { .. })));
    assert!(matches!(
        reg.lookup("sc_api").ttl(Duration::from_secs(5)).get::<UserToken>(),
        Err(Error::SessionScoped { .. })
    ));
    assert!(matches!(
        reg.connection_ref::<UserToken>("sc_api").err(),
        Some(Error::SessionScoped { .. })
    ));
    assert_eq!(reg.cached_len(), 0, "nothing was cached globally");
}

#[test]
fn the_last_handle_dropped_ends_the_scope_and_closes_once_nothing_uses_the_instance() {
    let reg = registry("");
    let scope = reg.scope("sc-drop");
    let second_handle = scope.clone();
    let conn = scope.connection::<Dropped>("sc_d").unwrap();
    conn.instance().unwrap();
    drop(scope);
    assert_eq!(reg.scope_count(), 1, "a handle is left");
    assert!(Arc::ptr_eq(
        &conn,
        &second_handle.connection::<Dropped>("sc_d").unwrap()
    ));
    drop(second_handle);
    assert_eq!(reg.scope_count(), 0);
    // The connection is still held here: it keeps working, and closes after.
    assert_eq!(DROPPED_CLOSED.load(Ordering::SeqCst), 0);
    assert_eq!(*conn.instance().unwrap(), "");
    drop(conn);
    reg.close_released();
    assert_eq!(DROPPED_CLOSED.load(Ordering::SeqCst), 1);
    // The key starts afresh.
    let again = reg.scope("sc-drop").connection::<Dropped>("sc_d").unwrap();
    assert_eq!(again.generation(), 0);
    assert!(!again.is_connected());
}

#[test]
fn close_ends_the_scope_now() {
    let reg = registry("");
    let scope = reg.scope("sc-close");
    let other = reg.scope("sc-close");
    scope.connection::<Closed>("sc_c").unwrap().instance().unwrap();
    futures_executor::block_on(scope.close());
    assert_eq!(CLOSED_CLOSED.load(Ordering::SeqCst), 1);
    // A handle still held builds anew.
    let fresh = other.connection::<Closed>("sc_c").unwrap();
    assert!(!fresh.is_connected());
}

#[test]
fn ttl_and_max_entries_apply_per_scope() {
    let reg = registry("");
    let a = reg.scope("sc-lru-a");
    let b = reg.scope("sc-lru-b");
    let first = a.lookup("sc_one").max_entries(1).get::<UserToken>().unwrap();
    let in_b = b.lookup("sc_one").max_entries(1).get::<UserToken>().unwrap();
    // A second name evicts the first in scope a only.
    a.lookup("sc_two").max_entries(1).get::<UserToken>().unwrap();
    assert!(!Arc::ptr_eq(
        &first,
        &a.lookup("sc_one").max_entries(1).get::<UserToken>().unwrap()
    ));
    assert!(Arc::ptr_eq(
        &in_b,
        &b.lookup("sc_one").max_entries(1).get::<UserToken>().unwrap()
    ));
    // A zero ttl caches nothing, per scope as everywhere.
    let x = a.lookup("sc_ttl").ttl(Duration::ZERO).get::<UserToken>().unwrap();
    assert!(!Arc::ptr_eq(
        &x,
        &a.lookup("sc_ttl").ttl(Duration::ZERO).get::<UserToken>().unwrap()
    ));
}

#[test]
fn a_reload_reconfigures_scoped_connections_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    std::fs::write(&file, "[connections.sc_reload]\ntype = 'sc-token'\ntoken = 'one'\n").unwrap();
    let reg = Registry::builder().secrets_paths([&file]).build();
    let scope = reg.scope("sc-reload");
    let conn = scope.connection::<UserToken>("sc_reload").unwrap();
    assert_eq!(*conn.instance().unwrap(), "one");
    std::fs::write(&file, "[connections.sc_reload]\ntype = 'sc-token'\ntoken = 'two'\n").unwrap();
    assert_eq!(reg.reload_secrets().unwrap().reset(), ["sc_reload"]);
    assert_eq!(*conn.instance().unwrap(), "two");
    // Health sees scoped connections.
    assert!(reg.health().iter().any(|h| h.name == "sc_reload" && h.resets == 1));
}

static STRESS_CONNECTS: AtomicUsize = AtomicUsize::new(0);

/// Counts its connects and closes, for the race below.
#[derive(Connection)]
#[connection(type_name = "sc-stress", scope = "session")]
struct Stressed {
    base: BaseConnection<usize>,
}

impl Stressed {
    fn _connect(&self, _: &Config) -> Result<usize, BoxError> {
        Ok(STRESS_CONNECTS.fetch_add(1, Ordering::SeqCst))
    }
    fn _close(_raw: usize) -> Result<(), BoxError> {
        STRESS_CLOSED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

static STRESS_CLOSED: AtomicUsize = AtomicUsize::new(0);

/// Lookups in a scope race with the drop of its other handles, round after
/// round: every lookup succeeds and its connection works, and once every
/// handle is gone every instance ever connected has been closed, once.
#[test]
fn a_scope_dropped_while_lookups_run_in_it_loses_nothing_and_closes_everything() {
    const ROUNDS: usize = 200;
    const THREADS: usize = 4;
    let reg = Arc::new(registry(""));
    for round in 0..ROUNDS {
        let key = format!("sc-stress-{}", round % 3);
        let scope = reg.scope(&key);
        scope.connection::<Stressed>("sc_s").unwrap().instance().unwrap();
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (reg, barrier, key) = (Arc::clone(&reg), Arc::clone(&barrier), key.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..20 {
                        let scope = reg.scope(&key);
                        let conn = scope.connection::<Stressed>("sc_s").unwrap();
                        // Usable whatever happened to the scope meanwhile.
                        conn.instance().unwrap();
                    }
                })
            })
            .collect();
        barrier.wait();
        drop(scope);
        for thread in threads {
            thread.join().unwrap();
        }
    }
    reg.close_released();
    assert_eq!(reg.scope_count(), 0);
    let connects = STRESS_CONNECTS.load(Ordering::SeqCst);
    assert!(
        connects >= ROUNDS,
        "each round's scope connected at least once: {connects}"
    );
    assert_eq!(
        STRESS_CLOSED.load(Ordering::SeqCst),
        connects,
        "every instance closed exactly once"
    );
}

#[test]
fn ten_thousand_scopes_close_every_connection_when_dropped() {
    let reg = registry("");
    let start = MANY_CLOSED.load(Ordering::SeqCst);
    let scopes: Vec<_> = (0..10_000).map(|i| reg.scope(&format!("sc-many-{i}"))).collect();
    for scope in &scopes {
        scope.connection::<Many>("sc_m").unwrap().instance().unwrap();
    }
    assert_eq!(reg.scope_count(), 10_000);
    assert_eq!(reg.health().len(), 10_000);
    drop(scopes);
    assert_eq!(reg.scope_count(), 0);
    assert_eq!(
        MANY_CLOSED.load(Ordering::SeqCst) - start,
        10_000,
        "every connection closed"
    );
    assert!(reg.health().is_empty());
}

static ASYNC_CLOSED: AtomicUsize = AtomicUsize::new(0);

/// A session connection whose close hook is async.
#[derive(Connection)]
#[connection(type_name = "sc-async-close", scope = "session", async)]
struct AsyncSession {
    base: BaseConnection<u32>,
}

impl AsyncSession {
    // The derive's async signature; this connect has nothing to await.
    #[allow(clippy::unused_async)]
    async fn _connect(&self, _: &Config) -> Result<u32, BoxError> {
        Ok(1)
    }
    async fn _close(_raw: u32) -> Result<(), BoxError> {
        std::future::ready(()).await;
        ASYNC_CLOSED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn close_awaited_waits_for_async_close_hooks() {
    let reg = registry("");
    futures_executor::block_on(async {
        let scope = reg.scope("sc-async");
        scope
            .connection::<AsyncSession>("sc_a")
            .unwrap()
            .instance()
            .await
            .unwrap();
        let closing = scope.close();
        assert_eq!(
            ASYNC_CLOSED.load(Ordering::SeqCst),
            0,
            "an async hook runs when awaited"
        );
        closing.await;
    });
    assert_eq!(ASYNC_CLOSED.load(Ordering::SeqCst), 1);
}
