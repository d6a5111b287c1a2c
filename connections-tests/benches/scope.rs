//! Scopes against a global lookup, in one run: `cargo bench --bench scope`.
//!
//! * `global`: a cached global lookup plus `instance()`, the baseline;
//! * `scope_then_lookup`: `registry.scope(key)` for a live key, then a
//!   cached session lookup plus `instance()`: the per-request pattern (the
//!   issue's target is at most 2x `global`);
//! * `scope_then_lookup_idle`: the same in a registry with an idle time
//!   (`scope_idle`), whose scopes are kept between requests rather than by
//!   handles held: the per-request pattern of a service;
//! * `scope_handle`: `registry.scope(key)` alone, for a live key;
//! * `held_scope_lookup`: the lookup alone, through a scope handle kept;
//! * `new_scope_lifecycle`: a key with no live scope: create it, build and
//!   connect the session connection, end the scope (close included).
//!
//! Group `healthz`: `check_with` over 10,000 live scopes, each with a
//! connection whose `_check` passes, and one global connection: `each`
//! (a row per scope, what `check()` does), `summary` (one row per name) and
//! `skip` (the global one only).
//!
//! A thousand scopes are live, each with its connection. The calls with a
//! key cycle through 64 of them: a key's probe length in the scope map
//! depends on the map's random hash seed, so one key alone would measure
//! one probe length, which varies from run to run. `global` indexes a list
//! of one name the same way, so both sides do the same arithmetic.
//! `cargo bench --bench paired -- scope` pairs the target's two figures in
//! alternating rounds, which a noisy machine disturbs less.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use connections::prelude::*;
use connections::{Registry, ScopedChecks};
use criterion::{Criterion, criterion_group, criterion_main};

mod support;
use support::{Session, Tenant, names, probe};

/// A counter that cycles through `probe(keys)`.
fn cycle<'k>(keys: &'k [String]) -> impl FnMut() -> &'k str {
    let probe = probe(keys);
    let mut i = 0;
    move || {
        i = (i + 1) % probe.len();
        probe[i]
    }
}

fn scopes(c: &mut Criterion) {
    let registry = Registry::builder().secrets_toml("bench.toml", "").build();
    registry.connection::<Tenant>("db").unwrap().instance().unwrap();
    let keys = names(1_000);
    let live: Vec<_> = keys.iter().map(|key| registry.scope(key)).collect();
    for scope in &live {
        scope.connection::<Session>("session").unwrap().instance().unwrap();
    }
    let held = registry.scope("user-7");
    held.connection::<Session>("session").unwrap().instance().unwrap();
    let db = vec!["db".to_owned(); 64];

    let mut g = c.benchmark_group("scope_lookup");
    g.bench_function("global", |b| {
        let mut name = cycle(&db);
        b.iter(|| -> Arc<u64> {
            registry
                .connection::<Tenant>(black_box(name()))
                .unwrap()
                .instance()
                .unwrap()
        });
    });
    g.bench_function("scope_then_lookup", |b| {
        let mut key = cycle(&keys);
        b.iter(|| -> Arc<u64> {
            registry
                .scope(black_box(key()))
                .connection::<Session>(black_box("session"))
                .unwrap()
                .instance()
                .unwrap()
        });
    });
    let idle_registry = Registry::builder()
        .secrets_toml("bench.toml", "")
        .scope_idle(std::time::Duration::from_hours(1))
        .build();
    for key in &keys {
        // Dropped at once: the idle time keeps each scope and its connection.
        idle_registry
            .scope(key)
            .connection::<Session>("session")
            .unwrap()
            .instance()
            .unwrap();
    }
    g.bench_function("scope_then_lookup_idle", |b| {
        let mut key = cycle(&keys);
        b.iter(|| -> Arc<u64> {
            idle_registry
                .scope(black_box(key()))
                .connection::<Session>(black_box("session"))
                .unwrap()
                .instance()
                .unwrap()
        });
    });
    g.bench_function("scope_handle", |b| {
        let mut key = cycle(&keys);
        b.iter(|| registry.scope(black_box(key())));
    });
    g.bench_function("held_scope_lookup", |b| {
        b.iter(|| -> Arc<u64> {
            held.connection::<Session>(black_box("session"))
                .unwrap()
                .instance()
                .unwrap()
        });
    });
    g.bench_function("new_scope_lifecycle", |b| {
        b.iter(|| {
            let scope = registry.scope(black_box("short-lived"));
            black_box(scope.connection::<Session>("session").unwrap().instance().unwrap());
        });
    });
    g.finish();
    drop(live);
}

/// A session-scoped connection with a `_check` that passes.
#[derive(Connection)]
#[connection(type_name = "checked-session", scope = "session")]
struct CheckedSession {
    base: BaseConnection<u64>,
}

impl CheckedSession {
    #[allow(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the derive's `_connect` signature"
    )]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(3)
    }

    fn _check(&self) -> Result<(), BoxError> {
        self.instance()?;
        Ok(())
    }
}

fn healthz(c: &mut Criterion) {
    let registry = Registry::builder().secrets_toml("bench.toml", "").build();
    registry.connection::<Tenant>("db").unwrap().instance().unwrap();
    let live: Vec<_> = names(10_000).iter().map(|key| registry.scope(key)).collect();
    for scope in &live {
        scope
            .connection::<CheckedSession>("session")
            .unwrap()
            .instance()
            .unwrap();
    }
    let mut g = c.benchmark_group("healthz");
    g.sample_size(20);
    for (label, scoped) in [
        ("each", ScopedChecks::Each),
        ("summary", ScopedChecks::Summary),
        ("skip", ScopedChecks::Skip),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| black_box(futures_executor::block_on(registry.check_with(scoped))));
        });
    }
    g.finish();
    drop(live);
}

criterion_group!(benches, scopes, healthz);
criterion_main!(benches);
