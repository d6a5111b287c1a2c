//! The cost of the hot path's tracing with no subscriber, in instructions.
//!
//! Timings on a shared machine cannot tell a few instructions from noise, so
//! this counts them with callgrind, which is exact and repeatable. It runs
//! the hot path `N` times (the first argument; default 1 000 000) and does
//! nothing else; run it under callgrind twice, with tracing compiled in and
//! compiled out, and subtract:
//!
//! ```sh
//! cargo bench --bench tracing_cost --no-run                                    # tracing in
//! cargo bench --bench tracing_cost --no-run --features tracing/max_level_off  # tracing out
//! valgrind --tool=callgrind <binary> 1000000   # and again with 0, to subtract the setup
//! ```
//!
//! `BENCHMARKS.md` has the counts.
#![allow(missing_docs, clippy::unused_self, clippy::unnecessary_wraps)]

use std::hint::black_box;

use connections::Registry;
use connections::prelude::*;

#[derive(Connection)]
#[connection(type_name = "tracing-cost")]
struct Costed {
    base: BaseConnection<u64>,
}

impl Costed {
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; only a number counts as `N`.
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let registry = Registry::builder()
        .secrets_toml("cost.toml", "[connections.cost]\ntype = 'tracing-cost'")
        .build();
    registry.connection::<Costed>("cost").unwrap().instance().unwrap();
    let mut sum = 0_u64;
    for _ in 0..n {
        // (a): a cached lookup (a TRACE event on the hit) and `instance()`.
        sum = sum.wrapping_add(
            *black_box(&registry)
                .connection::<Costed>("cost")
                .unwrap()
                .instance()
                .unwrap(),
        );
    }
    println!(
        "{n} lookups; tracing's static max level: {}",
        tracing::level_filters::STATIC_MAX_LEVEL
    );
    black_box(sum);
}
