//! The hot path against its baselines, each group measured in one run.
//!
//! `cargo bench --bench hot_path`; figures and the machine are in BENCHMARKS.md.
//!
//! Baselines, from cheapest to the naive registry:
//! * `lazylock_arc_clone`: a `LazyLock<Arc<_>>` clone, the floor for any
//!   "global handle" (one atomic increment);
//! * `arc_swap_load_full`: an `arc_swap` load, a resettable global handle;
//! * `arc_swap_load_guard`: the same as a borrowed guard, which touches no
//!   shared reference count (the floor for a scalable handle);
//! * `rwlock_hashmap_lookup`: `RwLock<HashMap<String, Arc<_>>>` read + get +
//!   clone, what a hand-written name-keyed registry does.
#![allow(missing_docs, clippy::unused_self, clippy::unnecessary_wraps, clippy::unused_async)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier, LazyLock, RwLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use connections::Registry;
use connections::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};

const NAME: &str = "bench_db";

#[derive(Connection)]
#[connection(type_name = "bench")]
struct Bench {
    base: BaseConnection<u64>,
}

impl Bench {
    fn _connect(&self, config: &Config) -> Result<u64, BoxError> {
        Ok(config.get_opt::<u64>("seed")?.unwrap_or(7))
    }
}

fn registry() -> Registry {
    // A realistic registry: a few connections besides the one measured.
    let mut toml = String::new();
    for i in 0..16 {
        writeln!(toml, "[connections.other_{i}]\ntype = 'bench'\nseed = {i}").unwrap();
    }
    writeln!(toml, "[connections.{NAME}]\ntype = 'bench'\nseed = 42").unwrap();
    let registry = Registry::builder().secrets_toml("bench.toml", toml).build();
    for i in 0..16 {
        registry
            .connection::<Bench>(&format!("other_{i}"))
            .unwrap()
            .instance()
            .unwrap();
    }
    registry.connection::<Bench>(NAME).unwrap().instance().unwrap();
    registry
}

/// The async twin of `Bench`, for (e).
#[derive(Connection)]
#[connection(type_name = "bench-async", async)]
struct BenchAsync {
    base: BaseConnection<u64>,
}

impl BenchAsync {
    async fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

static LAZY: LazyLock<Arc<u64>> = LazyLock::new(|| Arc::new(42));

fn rwlock_map() -> RwLock<HashMap<String, Arc<u64>>> {
    let mut map: HashMap<String, Arc<u64>> = (0..16).map(|i| (format!("other_{i}"), Arc::new(i))).collect();
    map.insert(NAME.to_owned(), Arc::new(42));
    RwLock::new(map)
}

#[inline]
fn ours(registry: &Registry) -> Arc<u64> {
    registry.connection::<Bench>(NAME).unwrap().instance().unwrap()
}

/// The borrowed path: `connection_ref` + `instance_ref`, no shared counter touched.
#[inline]
fn ours_ref(registry: &Registry) -> u64 {
    *registry.connection_ref::<Bench>(NAME).unwrap().instance_ref().unwrap()
}

#[inline]
fn rwlock_lookup(map: &RwLock<HashMap<String, Arc<u64>>>) -> Arc<u64> {
    Arc::clone(map.read().unwrap().get(NAME).unwrap())
}

/// (a) lookup by name of a cached connection + `instance()`, one thread.
fn lookup_one_thread(c: &mut Criterion) {
    let registry = registry();
    let swap = ArcSwap::from_pointee(42_u64);
    let map = rwlock_map();
    let mut g = c.benchmark_group("a_lookup_instance_1_thread");
    g.bench_function("ours", |b| b.iter(|| black_box(ours(black_box(&registry)))));
    g.bench_function("ours_ref", |b| b.iter(|| black_box(ours_ref(black_box(&registry)))));
    g.bench_function("lazylock_arc_clone", |b| b.iter(|| black_box(Arc::clone(&LAZY))));
    g.bench_function("arc_swap_load_full", |b| b.iter(|| black_box(swap.load_full())));
    g.bench_function("arc_swap_load_guard", |b| b.iter(|| drop(black_box(swap.load()))));
    g.bench_function("rwlock_hashmap_lookup", |b| {
        b.iter(|| black_box(rwlock_lookup(black_box(&map))));
    });
    g.finish();
}

/// Time per call when two threads run `f` at once: both run `iters` calls,
/// the slower one's time is divided by `iters`.
fn contended<S: Sync>(state: &S, iters: u64, f: impl Fn(&S) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let run = || {
            barrier.wait();
            let start = Instant::now();
            for _ in 0..iters {
                f(state);
            }
            start.elapsed()
        };
        let other = s.spawn(run);
        let mine = run();
        mine.max(other.join().unwrap())
    })
}

/// (a) the same, with two threads contending.
fn lookup_two_threads(c: &mut Criterion) {
    let registry = registry();
    let swap = ArcSwap::from_pointee(42_u64);
    let map = rwlock_map();
    let mut g = c.benchmark_group("a_lookup_instance_2_threads");
    g.bench_function("ours", |b| {
        b.iter_custom(|iters| contended(&registry, iters, |r| drop(black_box(ours(r)))));
    });
    g.bench_function("ours_ref", |b| {
        b.iter_custom(|iters| {
            contended(&registry, iters, |r| {
                black_box(ours_ref(r));
            })
        });
    });
    g.bench_function("lazylock_arc_clone", |b| {
        b.iter_custom(|iters| contended(&(), iters, |()| drop(black_box(Arc::clone(&LAZY)))));
    });
    g.bench_function("arc_swap_load_full", |b| {
        b.iter_custom(|iters| contended(&swap, iters, |s| drop(black_box(s.load_full()))));
    });
    g.bench_function("arc_swap_load_guard", |b| {
        b.iter_custom(|iters| contended(&swap, iters, |s| drop(black_box(s.load()))));
    });
    g.bench_function("rwlock_hashmap_lookup", |b| {
        b.iter_custom(|iters| contended(&map, iters, |m| drop(black_box(rwlock_lookup(m)))));
    });
    g.finish();
}

/// (b) `instance()` alone on a connected connection.
fn instance_alone(c: &mut Criterion) {
    let registry = registry();
    let conn = registry.connection::<Bench>(NAME).unwrap();
    let swap = ArcSwap::from_pointee(42_u64);
    let mut g = c.benchmark_group("b_instance");
    g.bench_function("ours", |b| b.iter(|| black_box(black_box(&conn).instance().unwrap())));
    g.bench_function("ours_ref", |b| {
        b.iter(|| drop(black_box(black_box(&conn).instance_ref().unwrap())));
    });
    g.bench_function("arc_swap_load_full", |b| b.iter(|| black_box(swap.load_full())));
    g.bench_function("arc_swap_load_guard", |b| b.iter(|| drop(black_box(swap.load()))));
    g.bench_function("lazylock_arc_clone", |b| b.iter(|| black_box(Arc::clone(&LAZY))));
    g.finish();
}

/// (c) `reset()` + `instance()`: a reconnect (here a trivial `_connect`).
fn reset_instance(c: &mut Criterion) {
    let registry = registry();
    let conn = registry.connection::<Bench>(NAME).unwrap();
    let swap = ArcSwap::from_pointee(42_u64);
    let mut g = c.benchmark_group("c_reset_instance");
    g.bench_function("ours", |b| {
        b.iter(|| {
            conn.reset();
            black_box(conn.instance().unwrap())
        });
    });
    g.bench_function("arc_swap_store_new", |b| {
        b.iter(|| {
            swap.store(Arc::new(42));
            black_box(swap.load_full())
        });
    });
    g.finish();
}

/// (d) a cold lookup that builds the connection (ttl zero: nothing cached).
fn cold_lookup(c: &mut Criterion) {
    let registry = registry();
    let map = rwlock_map();
    let mut g = c.benchmark_group("d_cold_lookup");
    g.bench_function("ours_build_and_connect", |b| {
        b.iter(|| {
            let conn = registry.lookup(NAME).ttl(Duration::ZERO).get::<Bench>().unwrap();
            black_box(conn.instance().unwrap())
        });
    });
    g.bench_function("rwlock_hashmap_insert", |b| {
        b.iter(|| {
            map.write().unwrap().insert(NAME.to_owned(), Arc::new(42));
            black_box(rwlock_lookup(&map))
        });
    });
    g.finish();
}

/// Polls a future once with a no-op waker: what an executor does for a
/// future that is ready at once, without the executor's own cost.
fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("connected: ready at the first poll"),
    }
}

/// (e) `instance().await` on a connected async connection: the future's
/// first poll, against an `arc_swap` load and a ready future of an `Arc` clone.
fn async_instance(c: &mut Criterion) {
    let conn = Arc::new(BenchAsync::from_config("e", Config::from_toml("e", "").unwrap()));
    poll_ready(conn.instance()).unwrap();
    let swap = ArcSwap::from_pointee(42_u64);
    let mut g = c.benchmark_group("e_async_instance");
    g.bench_function("ours", |b| {
        b.iter(|| black_box(poll_ready(black_box(&conn).instance()).unwrap()));
    });
    g.bench_function("arc_swap_load_full", |b| b.iter(|| black_box(swap.load_full())));
    g.bench_function("ready_arc_clone", |b| {
        b.iter(|| black_box(poll_ready(std::future::ready(Arc::clone(black_box(&LAZY))))));
    });
    g.finish();
}

criterion_group!(
    benches,
    lookup_one_thread,
    lookup_two_threads,
    instance_alone,
    reset_instance,
    cold_lookup,
    async_instance
);
criterion_main!(benches);
