//! What one cached lookup touches, for a cache simulator to count: `n`
//! cached names, the lookups of one access pattern, on our side
//! (`registry.connection::<T>(name)` + `instance()`) and on the
//! `RwLock<HashMap<String, Arc<_>>>` baseline, each in a function of its own
//! so the profiler counts the two apart.
//!
//! ```text
//! cargo build --release -p connections-tests --example lookup_profile
//! valgrind --tool=callgrind --cache-sim=yes \
//!     --toggle-collect='lookup_profile::ours' --toggle-collect='lookup_profile::map' \
//!     target/release/examples/lookup_profile spread 100000 2
//! callgrind_annotate --inclusive=yes --show=Ir,D1mr callgrind.out.<pid> | grep lookup_profile::
//! ```
//!
//! Arguments: the pattern (`cycle64`, `spread`, `uniform`), the number of
//! names, and the passes over the pattern's sequence (1 or more). The
//! simulator sees only the counted functions, so the first pass finds
//! every line cold: run once with 1 pass and once with 2, and the
//! difference is one warm pass, a service's steady state. `D1mr` is the
//! cache lines a lookup misses; with `--D1=8388608,2048,4096` the
//! simulated "lines" are 4 KiB pages and the cache 2,048 of them, the
//! second-level TLB of this machine's CPU, so `D1mr` is the pages a lookup
//! misses in the TLB. BENCHMARKS.md quotes both.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};

use connections::{Connection as _, Registry};

#[path = "../benches/support/mod.rs"]
mod support;
use support::{Pattern, Tenant, names};

type Map = RwLock<HashMap<String, Arc<u64>>>;

/// Our side: each name of `seq`, looked up and its instance read, `passes` times.
#[inline(never)]
fn ours(registry: &Registry, seq: &[&str], passes: usize) {
    for _ in 0..passes {
        for name in seq {
            black_box(
                registry
                    .connection::<Tenant>(black_box(name))
                    .unwrap()
                    .instance()
                    .unwrap(),
            );
        }
    }
}

/// The baseline: each name of `seq` in the map, its `Arc` cloned, `passes` times.
#[inline(never)]
fn map(map: &Map, seq: &[&str], passes: usize) {
    for _ in 0..passes {
        for name in seq {
            black_box(Arc::clone(map.read().unwrap().get(black_box(*name)).unwrap()));
        }
    }
}

/// The process's resident memory in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}; usage: lookup_profile [cycle64|spread|uniform] [names, e.g. 100000] [passes, e.g. 2]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pattern = match args.next().as_deref() {
        Some("cycle64") => Pattern::Cycle64,
        Some("spread") | None => Pattern::Spread,
        Some("uniform") => Pattern::Uniform,
        Some(other) => usage(&format!("unknown pattern {other:?}")),
    };
    let mut count = |what: &str, default: usize| match args.next().map(|n| n.parse::<usize>()) {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => usage(&format!("the {what} must be a positive integer")),
    };
    let n = count("number of names", 100_000);
    let passes = count("number of passes", 1);
    let names = names(n);
    let before = rss_kib();
    let registry = Registry::builder().build();
    for name in &names {
        registry.connection::<Tenant>(name).unwrap().instance().unwrap();
    }
    let built = rss_kib();
    let baseline: Map = RwLock::new(names.iter().map(|name| (name.clone(), Arc::new(7))).collect());
    let mapped = rss_kib();
    let seq = pattern.sequence(&names);
    ours(&registry, &seq, passes);
    map(&baseline, &seq, passes);
    let per_name = |kib: u64| kib * 1024 / n as u64;
    println!(
        "{n} names, pattern {}: {} passes of {} lookups per side; resident memory per name: ours {} B, the map {} B",
        pattern.name(),
        passes,
        seq.len(),
        per_name(built - before),
        per_name(mapped - built),
    );
}
