//! A scope that lives as long as a user's session: kept for an idle time
//! between requests, held without borrowing the registry, known to its
//! connections by key, and reported by key in health, checks and tracing.
//!
//! Connection names start with `sl_`; each type counts its own connects and closes.

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use connections::prelude::*;
use connections::{Registry, Scope, ScopedChecks};

use crate::common::{LogCapture, wait_until};

/// Per-type counts of connects and closes, by scope key.
#[derive(Default)]
struct Counts {
    connects: HashMap<String, usize>,
    closes: HashMap<String, usize>,
}

static COUNTS: Mutex<Option<Counts>> = Mutex::new(None);

fn counts<R>(f: impl FnOnce(&mut Counts) -> R) -> R {
    f(COUNTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(Counts::default))
}

fn closes(key: &str) -> usize {
    counts(|c| c.closes.get(key).copied().unwrap_or(0))
}

fn connects(key: &str) -> usize {
    counts(|c| c.connects.get(key).copied().unwrap_or(0))
}

/// A per-user API session: connects as the scope's user with a fresh token.
#[derive(Connection)]
#[connection(type_name = "sl-user-api", scope = "session")]
struct UserApi {
    base: BaseConnection<String>,
}

impl UserApi {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        let user = config.scope_key().ok_or("a session connection knows its scope")?;
        assert_eq!(self.scope_key(), Some(user), "self and config agree");
        let n = counts(|c| {
            let n = c.connects.entry(user.to_owned()).or_insert(0);
            *n += 1;
            *n
        });
        Ok(format!("token-{user}-{n}"))
    }

    fn _check(&self) -> Result<(), BoxError> {
        let user = self.scope_key().ok_or("no scope")?;
        if user.starts_with("revoked") {
            return Err(format!("the token of {user} was revoked").into());
        }
        self.instance()?;
        Ok(())
    }

    /// Counts the close under the token's user.
    #[allow(clippy::needless_pass_by_value, reason = "a close hook owns the instance")]
    fn _close(raw: String) -> Result<(), BoxError> {
        let user = raw
            .strip_prefix("token-")
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(user, _)| user.to_owned())
            .unwrap_or_default();
        counts(|c| *c.closes.entry(user).or_insert(0) += 1);
        Ok(())
    }
}

fn registry_with_idle(idle: Duration) -> Registry {
    Registry::builder()
        .secrets_toml("life.toml", "[connections.sl_api]\ntype = 'sl-user-api'\n")
        .scope_idle(idle)
        .build()
}

#[test]
fn a_session_lives_across_requests_for_its_idle_time_then_closes() {
    let idle = Duration::from_millis(400);
    let registry = registry_with_idle(idle);
    let user = "sl-user-7";
    let mut first: Option<Arc<UserApi>> = None;
    let started = Instant::now();
    let mut released = started;
    // 100 requests, each looking its session up anew, a few milliseconds apart.
    for request in 0..100 {
        let scope = registry.scope(user);
        let api = scope.connection::<UserApi>("sl_api").unwrap();
        assert_eq!(*api.instance().unwrap(), format!("token-{user}-1"), "request {request}");
        match &first {
            Some(first) => assert!(Arc::ptr_eq(first, &api), "request {request} got another session"),
            None => first = Some(Arc::clone(&api)),
        }
        released = Instant::now();
        drop((api, scope));
        std::thread::sleep(Duration::from_millis(6));
    }
    assert!(
        started.elapsed() > idle,
        "the requests spread over more than the idle time"
    );
    assert_eq!(connects(user), 1, "one connect for 100 requests");
    drop(first);
    // Idle now: kept for its idle time, then ended and closed.
    assert_eq!(registry.scope_count(), 1);
    wait_until("the idle session ends", || closes(user) == 1);
    let lived = released.elapsed();
    assert!(lived >= idle, "ended after {lived:?}, before its idle time");
    assert_eq!(registry.scope_count(), 0);
    // The next request starts a new session.
    let api = registry.scope(user).connection::<UserApi>("sl_api").unwrap();
    assert_eq!(*api.instance().unwrap(), format!("token-{user}-2"));
}

#[test]
fn a_scope_can_set_its_own_idle_time_and_close_still_ends_it_now() {
    let registry = registry_with_idle(Duration::ZERO);
    let short = registry.scope("sl-short");
    short.connection::<UserApi>("sl_api").unwrap().instance().unwrap();
    drop(short);
    assert_eq!(closes("sl-short"), 1, "no idle time: ended with its last handle");

    let kept = registry.scope("sl-kept");
    kept.set_idle(Duration::from_hours(1));
    kept.connection::<UserApi>("sl_api").unwrap().instance().unwrap();
    drop(kept);
    assert_eq!((registry.scope_count(), closes("sl-kept")), (1, 0), "kept for its hour");
    futures_executor::block_on(registry.scope("sl-kept").close());
    assert_eq!((registry.scope_count(), closes("sl-kept")), (0, 1), "close ends it now");
}

/// What an axum app keeps in its state: the registry, shared.
struct AppState {
    registry: Arc<Registry>,
}

#[test]
fn an_owned_scope_needs_no_borrow_of_the_registry() {
    let state = AppState {
        registry: Arc::new(registry_with_idle(Duration::ZERO)),
    };
    // Made in a request, kept past it: in a session store, another thread.
    let scope: Scope<'static> = state.registry.owned_scope("sl-owned");
    let token = std::thread::spawn(move || {
        let api = scope.connection::<UserApi>("sl_api").unwrap();
        let token = api.instance().unwrap().to_string();
        (token, scope)
    });
    let (token, scope) = token.join().unwrap();
    assert_eq!(token, "token-sl-owned-1");
    assert!(std::ptr::eq(scope.registry(), Arc::as_ptr(&state.registry)));
    let again = state
        .registry
        .scope("sl-owned")
        .connection::<UserApi>("sl_api")
        .unwrap();
    assert_eq!(*again.instance().unwrap(), token, "the same session");
    drop((again, scope));
    assert_eq!(closes("sl-owned"), 1);
    assert_eq!(
        Arc::strong_count(&state.registry),
        1,
        "no scope holds the registry any more"
    );
}

#[test]
fn health_checks_and_tracing_name_the_scope() {
    let registry = registry_with_idle(Duration::from_hours(1));
    let capture = LogCapture::default();
    let guard = capture.set_default();
    tracing::callsite::rebuild_interest_cache();
    for user in ["sl-ada", "sl-bob", "revoked-sl-eve"] {
        registry
            .scope(user)
            .connection::<UserApi>("sl_api")
            .unwrap()
            .instance()
            .unwrap();
    }
    drop(guard);
    let logs = capture.text();
    assert!(
        logs.contains(r#"lookup{connection="sl_api" type_path="it::scope_life::UserApi" scope="sl-ada""#),
        "{logs}"
    );
    assert!(
        logs.contains(r#"connect{connection="sl_api" type_path="it::scope_life::UserApi" scope="sl-bob""#),
        "{logs}"
    );

    let health = registry.health();
    let scopes: Vec<_> = health.iter().map(|h| h.scope.as_deref()).collect();
    assert_eq!(scopes, [Some("revoked-sl-eve"), Some("sl-ada"), Some("sl-bob")]);

    let each = futures_executor::block_on(registry.check());
    let rows: Vec<_> = each.iter().map(|c| (c.scope.as_deref(), c.ok)).collect();
    assert_eq!(
        rows,
        [
            (Some("revoked-sl-eve"), false),
            (Some("sl-ada"), true),
            (Some("sl-bob"), true)
        ]
    );
    assert_eq!(
        each[0].error.as_deref(),
        Some("the token of revoked-sl-eve was revoked"),
        "{each:?}"
    );
    let json = serde_json::to_value(&each[0]).unwrap();
    assert_eq!(json["scope"], "revoked-sl-eve");
}

#[test]
fn healthz_stays_small_with_ten_thousand_live_scopes() {
    let registry = Registry::builder()
        .secrets_toml(
            "life.toml",
            "[connections.sl_api]\ntype = 'sl-user-api'\n[connections.sl_db]\ntype = 'counted'\n",
        )
        .scope_idle(Duration::from_hours(1))
        .build();
    registry
        .connection::<crate::common::Counted>("sl_db")
        .unwrap()
        .instance()
        .unwrap();
    for i in 0..10_000 {
        let user = if i == 4321 {
            format!("revoked-sl-{i}")
        } else {
            format!("sl-many-{i}")
        };
        registry
            .scope(&user)
            .connection::<UserApi>("sl_api")
            .unwrap()
            .instance()
            .unwrap();
    }
    assert_eq!(registry.scope_count(), 10_000);
    let size = |outcomes: &[connections::CheckOutcome]| serde_json::to_vec(outcomes).unwrap().len();

    let each = futures_executor::block_on(registry.check());
    assert_eq!(each.len(), 10_001);
    let summary = futures_executor::block_on(registry.check_with(ScopedChecks::Summary));
    assert_eq!(summary.len(), 2, "{summary:?}");
    let scoped = summary.iter().find(|c| c.name == "sl_api").unwrap();
    let tally = scoped.scopes.unwrap();
    assert_eq!((tally.checked, tally.failed, scoped.ok), (10_000, 1, false));
    assert_eq!(
        scoped.error.as_deref(),
        Some("in scope `revoked-sl-4321`: the token of revoked-sl-4321 was revoked")
    );
    let skip = futures_executor::block_on(registry.check_with(ScopedChecks::Skip));
    assert_eq!((skip.len(), skip[0].name.as_str(), skip[0].ok), (1, "sl_db", true));
    println!(
        "/healthz with 10,000 live scopes: {} bytes each, {} bytes summed, {} bytes skipped",
        size(&each),
        size(&summary),
        size(&skip)
    );
    assert!(size(&summary) < 1024, "{}", size(&summary));
    assert!(size(&each) > 1_000_000, "each scope its own row: {}", size(&each));
}

#[test]
fn handles_of_one_key_always_share_one_session_while_idle_ones_end() {
    // A tiny idle time, so the sweep ends scopes between rounds while
    // threads take and drop handles of the same key.
    let registry = Arc::new(registry_with_idle(Duration::from_millis(1)));
    let threads = 4;
    let rounds = 200;
    let barrier = Arc::new(Barrier::new(threads));
    let seen: Arc<Mutex<Vec<Vec<usize>>>> = Arc::new(Mutex::new(vec![Vec::new(); rounds]));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (registry, barrier, seen) = (Arc::clone(&registry), Arc::clone(&barrier), Arc::clone(&seen));
            std::thread::spawn(move || {
                for round in 0..rounds {
                    barrier.wait();
                    let scope = registry.scope("sl-race");
                    let api = scope.connection::<UserApi>("sl_api").unwrap();
                    api.instance().unwrap();
                    seen.lock().unwrap()[round].push(Arc::as_ptr(&api) as usize);
                    // Every thread holds its handle until all have theirs.
                    barrier.wait();
                    drop((api, scope));
                    if round % 10 == 0 {
                        std::thread::sleep(Duration::from_millis(30));
                    }
                }
            })
        })
        .collect();
    crate::common::join_all(handles);
    let seen = seen.lock().unwrap();
    for (round, pointers) in seen.iter().enumerate() {
        assert!(
            pointers.iter().all(|p| *p == pointers[0]),
            "round {round}: handles held at once saw {} sessions",
            pointers.iter().collect::<std::collections::BTreeSet<_>>().len()
        );
    }
    wait_until("the last idle session ends", || registry.scope_count() == 0);
    // A session's close runs as its scope is let go of, just after the count
    // drops: wait for the closes to catch up, then check none ran twice.
    wait_until("every session is closed", || closes("sl-race") >= connects("sl-race"));
    let (connected, closed) = (connects("sl-race"), closes("sl-race"));
    assert!(
        connected > 1,
        "the sweep ended idle sessions between rounds: {connected}"
    );
    assert_eq!(connected, closed, "every session closed exactly once");
}
