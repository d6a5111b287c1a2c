//! Scopes against a global lookup, in one run: `cargo bench --bench scope`.
//!
//! * `global`: a cached global lookup plus `instance()`, the baseline;
//! * `scope_then_lookup`: `registry.scope(key)` for a live key, then a
//!   cached session lookup plus `instance()`: the per-request pattern (the
//!   issue's target is at most 2x `global`);
//! * `held_scope_lookup`: the lookup alone, through a scope handle kept;
//! * `new_scope_lifecycle`: a key with no live scope: create it, build and
//!   connect the session connection, end the scope (close included).
//!
//! A thousand other scopes are live, each with its connection.
#![allow(missing_docs, clippy::unused_self, clippy::unnecessary_wraps)]

use std::hint::black_box;
use std::sync::Arc;

use connections_core::Registry;
use connections_core::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};

#[derive(Connection)]
#[connection(type_name = "bench-global")]
struct Global {
    base: BaseConnection<u64>,
}

impl Global {
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

#[derive(Connection)]
#[connection(type_name = "bench-session", scope = "session")]
struct Session {
    base: BaseConnection<u64>,
}

impl Session {
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(11)
    }
}

fn scopes(c: &mut Criterion) {
    let registry = Registry::builder().secrets_toml("bench.toml", "").build();
    registry.connection::<Global>("db").unwrap().instance().unwrap();
    let others: Vec<_> = (0..1_000).map(|i| registry.scope(&format!("other-{i}"))).collect();
    for scope in &others {
        scope.connection::<Session>("session").unwrap().instance().unwrap();
    }
    let held = registry.scope("user-7");
    held.connection::<Session>("session").unwrap().instance().unwrap();

    let mut g = c.benchmark_group("scope_lookup");
    g.bench_function("global", |b| {
        b.iter(|| -> Arc<u64> {
            registry
                .connection::<Global>(black_box("db"))
                .unwrap()
                .instance()
                .unwrap()
        });
    });
    g.bench_function("scope_then_lookup", |b| {
        b.iter(|| -> Arc<u64> {
            registry
                .scope(black_box("user-7"))
                .connection::<Session>(black_box("session"))
                .unwrap()
                .instance()
                .unwrap()
        });
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
    drop(others);
}

criterion_group!(benches, scopes);
criterion_main!(benches);
