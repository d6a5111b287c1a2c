//! What the benches share: a connection per tenant, a connection per
//! session scope, the names of `n` tenants, and the three ways lookups visit
//! them: a 64-name cycle (the best case), a spread stride over all of them,
//! and uniform random picks; and, for the benches against real servers,
//! calls paired with the bare driver's and the server URLs.

// Each bench binary compiles this module and uses a part of it.
#![allow(dead_code, reason = "each bench uses a part of this module")]

use std::future::Future;
use std::time::Duration;

use connections::prelude::*;

/// A connection whose connect does nothing, so a figure is the registry's.
#[derive(Connection)]
#[connection(type_name = "tenant")]
pub struct Tenant {
    base: BaseConnection<u64>,
}

impl Tenant {
    #[allow(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the derive's `_connect` signature"
    )]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

/// A session-scoped connection whose connect does nothing.
#[derive(Connection)]
#[connection(type_name = "session", scope = "session")]
pub struct Session {
    base: BaseConnection<u64>,
}

impl Session {
    #[allow(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the derive's `_connect` signature"
    )]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(11)
    }
}

/// `tenant_0` .. `tenant_{n-1}`.
pub fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("tenant_{i}")).collect()
}

/// 64 of `names`, spread evenly (every `n/64`-th; all of them when fewer), so
/// a figure is the map's cost at that size rather than the memory latency of
/// touching every name at random.
pub fn probe(names: &[String]) -> Vec<&str> {
    let step = (names.len() / 64).max(1);
    names.iter().step_by(step).take(64).map(String::as_str).collect()
}

/// How the lookups of a bench visit the cached names.
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// [`probe`]: 64 names, again and again; the best case, always in cache.
    Cycle64,
    /// [`spread`]: 4,096 names by a fixed stride through all of them, as
    /// requests from many tenants are.
    Spread,
    /// [`uniform`]: names drawn at random over all of them (a fixed seed).
    Uniform,
}

impl Pattern {
    /// Every pattern, the best case first.
    pub const ALL: [Pattern; 3] = [Pattern::Cycle64, Pattern::Spread, Pattern::Uniform];

    /// Its name in the tables: `cycle64`, `spread`, `uniform`.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Cycle64 => "cycle64",
            Pattern::Spread => "spread",
            Pattern::Uniform => "uniform",
        }
    }

    /// The sequence of names a bench looks up, in order, cycling; the same
    /// for both sides of a comparison.
    pub fn sequence(self, names: &[String]) -> Vec<&str> {
        match self {
            Pattern::Cycle64 => probe(names),
            Pattern::Spread => spread(names),
            Pattern::Uniform => uniform(names),
        }
    }
}

/// A prime larger than every size benched, so the stride visits names all
/// over the table (and, below 4,096 names, every one of them).
const STRIDE: usize = 7_919;

/// 4,096 of `names` by a fixed prime stride: `i * 7919 mod n`.
pub fn spread(names: &[String]) -> Vec<&str> {
    (0..4_096).map(|i| names[(i * STRIDE) % names.len()].as_str()).collect()
}

/// 65,536 names drawn uniformly over `names` by a fixed-seed generator
/// (splitmix64): the same sequence in every run and for both sides.
pub fn uniform(names: &[String]) -> Vec<&str> {
    let mut state: u64 = 0x5eed_c0ff_ee00_0001;
    (0..65_536)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The remainder is below `names.len()`, a `usize`.
            let at = usize::try_from(z % names.len() as u64).unwrap_or_default();
            names[at].as_str()
        })
        .collect()
}

/// Awaits the two timed calls of one pair, ours first or the driver's:
/// (the driver's time, ours).
pub async fn in_turn(
    ours_first: bool,
    driver: impl Future<Output = Duration>,
    ours: impl Future<Output = Duration>,
) -> (Duration, Duration) {
    if ours_first {
        let ours = ours.await;
        (driver.await, ours)
    } else {
        let driver = driver.await;
        (driver, ours.await)
    }
}

/// Runs `pair` `n` times (alternating which side goes first) and prints the
/// median of each side and the median of the per-pair ratios ours / native.
pub fn paired(group: &str, name: &str, n: usize, mut pair: impl FnMut(bool) -> (Duration, Duration)) {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut native, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (n_time, o_time) = pair(i % 2 == 0);
        native.push(n_time.as_secs_f64() * 1e6);
        ours.push(o_time.as_secs_f64() * 1e6);
        ratios.push(o_time.as_secs_f64() / n_time.as_secs_f64());
    }
    println!(
        "{group}/{name} paired over {n} calls: native median {:.1} µs, ours median {:.1} µs, median ratio ours/native {:.3}",
        median(native),
        median(ours),
        median(ratios)
    );
}

/// The server URL from `var`, or `None` after saying the bench skipped it.
pub fn server(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped: {var} is not set");
    }
    url
}
