//! The hot-path targets as paired ratios: ours and the `RwLock<HashMap>`
//! baseline measured in alternating rounds, so both see the same machine
//! noise, and the median of the per-round ratios reported. One table per
//! size (1 to 100k cached names), with the three access patterns of
//! `support::Pattern`: the 64-name cycle (the best case), a spread stride
//! over all names, uniform random picks.
//!
//! Rows `arc` and `borrowed` are the two lookup paths against the map of
//! `Arc<u64>` the targets name. Rows `conns` pair the `Arc` path against a
//! map of the very connections the registry built, `instance()` included
//! on both sides: the registry's own cost, with the connections' memory
//! (a kilobyte and more each, pages apart at 100k) touched by both.
//!
//! `cargo bench --bench paired`; BENCHMARKS.md quotes its output. Each
//! round times a batch of calls of each contender back to back; a shared,
//! noisy machine shifts both of a round's figures together.
//!
//! A last table pairs the scope target the same way: `registry.scope(key)`
//! for a live key plus a cached session lookup and `instance()`, against a
//! cached global lookup plus `instance()` (at most 2x), with a thousand
//! scopes live and the scoped calls cycling through 64 of them; then the
//! same at 100k scopes and 100k tenants, each side visiting 4,096 of them
//! by the spread stride.
//!
//! `cargo bench --bench paired -- scope` runs the scope table alone,
//! `-- lookup` the lookup tables alone, `-- lookup 100000` one size's.
// Timings as floats and loop counters as indices: precision and width are ample here.
#![allow(missing_docs, clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use connections::{Connection as _, Registry};

mod support;
use support::{Pattern, Session, Tenant, names, probe};

const ROUNDS: usize = 41;
const BATCH: u64 = 200_000;

type Map = RwLock<HashMap<String, Arc<u64>>>;

/// The same names mapped to the very connections the registry built: what
/// a hand-written registry of these connections would hold. Ours against it
/// is the registry's own cost, with the connections' memory on both sides.
type ConnMap = RwLock<HashMap<String, Arc<Tenant>>>;

/// Nanoseconds per call of `f` over a batch, on `threads` threads at once
/// (the slowest thread's time).
fn per_call<S: Sync>(state: &S, threads: usize, f: impl Fn(&S, u64) + Sync) -> f64 {
    let barrier = Barrier::new(threads);
    let slowest = thread::scope(|s| {
        let run = || {
            barrier.wait();
            let start = Instant::now();
            for i in 0..BATCH {
                f(state, i);
            }
            start.elapsed()
        };
        let others: Vec<_> = (1..threads).map(|_| s.spawn(run)).collect();
        let mine = run();
        others.into_iter().map(|h| h.join().unwrap()).fold(mine, Duration::max)
    });
    slowest.as_nanos() as f64 / BATCH as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median ns of `a`, of `b`, and median of the per-round ratios a/b.
fn paired(mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (f64, f64, f64) {
    let (mut xs, mut ys, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (x, y) = if round % 2 == 0 {
            let x = a();
            (x, b())
        } else {
            let y = b();
            (a(), y)
        };
        xs.push(x);
        ys.push(y);
        ratios.push(x / y);
    }
    (median(xs), median(ys), median(ratios))
}

/// A registry with `n` connected tenants, the map of the same names, the
/// map of the same connections, and the names.
fn setup(n: usize) -> (Registry, Map, ConnMap, Vec<String>) {
    let names = names(n);
    let registry = Registry::builder().build();
    for name in &names {
        registry.connection::<Tenant>(name).unwrap().instance().unwrap();
    }
    let map = RwLock::new(names.iter().map(|name| (name.clone(), Arc::new(7))).collect());
    let conns = RwLock::new(
        names
            .iter()
            .map(|name| (name.clone(), registry.connection::<Tenant>(name).unwrap()))
            .collect(),
    );
    (registry, map, conns, names)
}

/// `registry.scope(key)` + a cached session lookup against a cached global
/// lookup, each with `instance()`, on 1 and 2 threads. A thousand scopes are
/// live, each with its connection, and the scoped calls cycle through 64 of
/// them: how long a key's probe in the scope map is depends on the map's
/// random hash seed, so one key alone would measure one probe length.
fn scopes() {
    let keys = names(1_000);
    let scoped = probe(&keys);
    // The same index arithmetic on both sides.
    let global = vec!["tenant_0"; scoped.len()];
    println!();
    scope_rows(&["tenant_0".to_owned()], &keys, &scoped, &global);
}

/// The scope target at scale: 100k live scopes, each with its session
/// connection, beside 100k cached tenants. The scoped calls visit 4,096 of
/// the scopes by the spread stride, the global calls 4,096 of the tenants by
/// the same stride: both sides out of the CPU's caches alike, as a service
/// with a scope per user meets them.
fn scopes_at_scale() {
    let keys = names(100_000);
    let spread = Pattern::Spread.sequence(&keys);
    println!();
    println!("100000 scopes and 100000 tenants, spread over 4096 of each");
    scope_rows(&keys, &keys, &spread, &spread);
}

/// A registry with `tenants` cached and a live scope per key of `scope_keys`,
/// each with its session connection; then the scoped calls (visiting
/// `scoped` in turn) paired against the global ones (visiting `global`),
/// one row per thread count.
fn scope_rows(tenants: &[String], scope_keys: &[String], scoped: &[&str], global: &[&str]) {
    let registry = Registry::builder().build();
    for name in tenants {
        registry.connection::<Tenant>(name).unwrap().instance().unwrap();
    }
    let live: Vec<_> = scope_keys.iter().map(|key| registry.scope(key)).collect();
    for scope in &live {
        scope.connection::<Session>("session").unwrap().instance().unwrap();
    }
    let global_call = |r: &Registry, i: u64| {
        let name = global[i as usize % global.len()];
        black_box(r.connection::<Tenant>(black_box(name)).unwrap().instance().unwrap());
    };
    let scoped_call = |r: &Registry, i: u64| {
        let key = scoped[i as usize % scoped.len()];
        black_box(
            r.scope(black_box(key))
                .connection::<Session>(black_box("session"))
                .unwrap()
                .instance()
                .unwrap(),
        );
    };
    println!("threads  scope(key)+lookup ns  global lookup ns  scope/global (median of paired rounds)");
    for threads in [1, 2] {
        let (s, g, ratio) = paired(
            || per_call(&registry, threads, scoped_call),
            || per_call(&registry, threads, global_call),
        );
        println!("{threads:>7}  {s:>20.1}  {g:>16.1}  {ratio:>6.2}");
    }
    drop(live);
}

/// Whether the command line's filter (its first argument not a flag, as
/// `cargo bench -- <filter>` passes it) selects `section`; none selects all.
fn selected(section: &str) -> bool {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .is_none_or(|f| section.contains(&*f))
}

fn main() {
    if selected("lookup") {
        lookups();
    }
    if selected("scope") {
        scopes();
        scopes_at_scale();
    }
}

/// The lookup tables: ours against the `RwLock<HashMap>`, every size and
/// access pattern, one table per size.
fn lookups() {
    let mut one_thread_ref = 0.0;
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    for n in [1, 1_000, 10_000, 100_000] {
        if !sizes.is_empty() && !sizes.contains(&n) {
            continue;
        }
        let (registry, map, conns, names) = setup(n);
        println!();
        println!("{n} cached names");
        println!("pattern   threads  path      ours ns  rwlock ns  ours/rwlock (median of paired rounds)");
        for pattern in Pattern::ALL {
            let seq = pattern.sequence(&names);
            let p = &seq;
            let ours = |r: &Registry, i: u64| {
                let name = p[i as usize % p.len()];
                black_box(r.connection::<Tenant>(black_box(name)).unwrap().instance().unwrap());
            };
            let ours_ref = |r: &Registry, i: u64| {
                let name = p[i as usize % p.len()];
                black_box(
                    *r.connection_ref::<Tenant>(black_box(name))
                        .unwrap()
                        .instance_ref()
                        .unwrap(),
                );
            };
            let rw = |m: &Map, i: u64| {
                let name = p[i as usize % p.len()];
                black_box(Arc::clone(m.read().unwrap().get(black_box(name)).unwrap()));
            };
            let rw_conns = |m: &ConnMap, i: u64| {
                let name = p[i as usize % p.len()];
                let conn = Arc::clone(m.read().unwrap().get(black_box(name)).unwrap());
                black_box(conn.instance().unwrap());
            };
            let label = pattern.name();
            for threads in [1, 2] {
                let (o, r, ratio) = paired(|| per_call(&registry, threads, ours), || per_call(&map, threads, rw));
                println!("{label:<8}  {threads:>7}  arc     {o:>9.1}  {r:>9.1}  {ratio:>6.2}");
                let (o, r, ratio) = paired(
                    || per_call(&registry, threads, ours_ref),
                    || per_call(&map, threads, rw),
                );
                println!("{label:<8}  {threads:>7}  borrowed{o:>9.1}  {r:>9.1}  {ratio:>6.2}");
                if threads == 1 {
                    let (o, c, ratio) = paired(|| per_call(&registry, 1, ours), || per_call(&conns, 1, rw_conns));
                    println!("{label:<8}  {threads:>7}  conns   {o:>9.1}  {c:>9.1}  {ratio:>6.2}");
                }
                if n == 1 && threads == 1 && matches!(pattern, Pattern::Cycle64) {
                    one_thread_ref = o;
                }
                if n == 1 && threads == 2 && matches!(pattern, Pattern::Cycle64) {
                    let (two, one, ratio) =
                        paired(|| per_call(&registry, 2, ours_ref), || per_call(&registry, 1, ours_ref));
                    println!(
                        "borrowed path, 2 threads / 1 thread: {two:.1} / {one:.1} ns = {ratio:.2} (1-thread figure above: {one_thread_ref:.1})"
                    );
                }
            }
        }
    }
}
