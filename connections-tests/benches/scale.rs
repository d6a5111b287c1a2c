//! The registry at scale: lookups and builds over 1 to 100k cached connections,
//! against a hand-written `RwLock<HashMap<String, Arc<_>>>` of the same names,
//! each size measured in one run.
//!
//! `cargo bench --bench scale`; figures and the machine are in BENCHMARKS.md.
//!
//! * `scale_lookup/<pattern>/<n>`: lookup + `instance()` of connected
//!   connections, visiting the `n` cached names in three patterns (see
//!   `support::Pattern`): `cycle64`, 64 names again and again (the best case,
//!   always in the CPU's cache); `spread`, 4,096 names by a fixed stride
//!   through all of them; `uniform`, names drawn at random over all of them.
//! * `scale_build/<n>`: the first lookups of `n` names into a fresh registry,
//!   each building (not connecting) its connection: the insert path.
//! * `scale_evict/<n>`: a lookup that misses a full `max_entries(n)` cache,
//!   builds its connection and evicts one: flat from 1k to 100k entries when
//!   eviction is O(1) amortized (the clock), not O(n) (a scan for the least
//!   recently used).
// Timings as floats and loop counters as indices: precision and width are ample here.
#![allow(missing_docs, clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use connections::{Connection as _, Registry};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

mod support;
use support::{Pattern, Tenant, names};

const SIZES: [usize; 4] = [1, 1_000, 10_000, 100_000];

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_lookup");
    for n in SIZES {
        let names = names(n);
        let registry = Registry::builder().build();
        for name in &names {
            registry.connection::<Tenant>(name).unwrap().instance().unwrap();
        }
        let map: RwLock<HashMap<String, Arc<u64>>> =
            RwLock::new(names.iter().map(|name| (name.clone(), Arc::new(7))).collect());
        for pattern in Pattern::ALL {
            let seq = pattern.sequence(&names);
            let mut i = 0;
            let id = |side: &str| BenchmarkId::new(format!("{side}/{}", pattern.name()), n);
            g.bench_function(id("ours"), |b| {
                b.iter(|| {
                    i = (i + 1) % seq.len();
                    let conn = registry.connection::<Tenant>(black_box(seq[i])).unwrap();
                    black_box(conn.instance().unwrap())
                });
            });
            g.bench_function(id("ours_ref"), |b| {
                b.iter(|| {
                    i = (i + 1) % seq.len();
                    let conn = registry.connection_ref::<Tenant>(black_box(seq[i])).unwrap();
                    black_box(*conn.instance_ref().unwrap())
                });
            });
            g.bench_function(id("rwlock_hashmap_lookup"), |b| {
                b.iter(|| {
                    i = (i + 1) % seq.len();
                    black_box(Arc::clone(map.read().unwrap().get(black_box(seq[i])).unwrap()))
                });
            });
        }
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_build");
    g.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let names = names(n);
        g.bench_function(BenchmarkId::new("ours", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let registry = Registry::builder().build();
                    let start = Instant::now();
                    for name in &names {
                        black_box(registry.connection::<Tenant>(name).unwrap());
                    }
                    total += start.elapsed();
                }
                total
            });
        });
        g.bench_function(BenchmarkId::new("rwlock_hashmap_insert", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let map: RwLock<HashMap<String, Arc<u64>>> = RwLock::default();
                    let start = Instant::now();
                    for name in &names {
                        map.write().unwrap().insert(name.clone(), Arc::new(7));
                    }
                    total += start.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

fn evict(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_evict");
    for n in [1_000, 10_000, 100_000] {
        // Twice as many names as the cache holds, visited in turn: every lookup misses.
        let names = names(2 * n);
        let registry = Registry::builder().build();
        for name in &names[..n] {
            registry.lookup(name).max_entries(n).get::<Tenant>().unwrap();
        }
        let mut i = n;
        g.bench_function(BenchmarkId::new("ours", n), |b| {
            b.iter(|| {
                i = (i + 1) % names.len();
                black_box(
                    registry
                        .lookup(black_box(&names[i]))
                        .max_entries(n)
                        .get::<Tenant>()
                        .unwrap(),
                )
            });
        });
    }
    g.finish();
}

criterion_group!(benches, lookup, build, evict);
criterion_main!(benches);
