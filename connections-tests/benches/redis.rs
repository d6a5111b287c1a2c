//! `RedisConnection` against the `redis` crate's `ConnectionManager` used
//! directly, on the real server, in one run.
//!
//! `CONNECTIONS_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench redis`;
//! unset, it says it skipped. Figures and the machine are in BENCHMARKS.md.
//!
//! * `get/bare`, `get/ours`: `GET` of a 5-byte value; ours is the registry
//!   lookup by name plus the helper, as a request handler makes it;
//! * `cached_hit/ours`: the same read from the connection's `cached(ttl)`
//!   reads (no round trip), and `harness`, the `block_on` every iteration
//!   pays, to read the hit against;
//! * then, printed: `get` paired call by call, bare and ours alternating,
//!   with the median ratio of the pairs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use connections::Registry;
use connections::redis::RedisConnection;
use criterion::{Criterion, criterion_group, criterion_main};

mod support;
use support::{in_turn, paired, server};

const KEY: &str = "connections_bench:greeting";

fn bench(c: &mut Criterion) {
    let Some(url) = server("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::builder()
        .secrets_toml(
            "bench.toml",
            format!("[connections.bench]\ntype = 'redis'\nurl = '{url}'"),
        )
        .build();
    let ours = registry.connection::<RedisConnection>("bench").unwrap();
    rt.block_on(ours.set(KEY, "hello", None)).unwrap();
    let mut bare = rt
        .block_on(redis::aio::ConnectionManager::new(
            redis::Client::open(url.as_str()).unwrap(),
        ))
        .unwrap();
    let get = redis::cmd("GET").arg(KEY).to_owned();

    let mut group = c.benchmark_group("redis");
    group.bench_function("get/bare", |b| {
        b.iter(|| rt.block_on(async { black_box(get.query_async::<Option<String>>(&mut bare).await.unwrap()) }));
    });
    group.bench_function("get/ours", |b| {
        b.iter(|| {
            rt.block_on(async {
                let conn = registry.connection::<RedisConnection>(black_box("bench")).unwrap();
                black_box(conn.get::<String>(KEY).await.unwrap())
            })
        });
    });
    group.bench_function("harness", |b| b.iter(|| rt.block_on(async { black_box(KEY) })));
    let minute = ours.cached(Duration::from_mins(1));
    rt.block_on(minute.get::<String>(KEY)).unwrap();
    group.bench_function("cached_hit/ours", |b| {
        b.iter(|| rt.block_on(async { black_box(minute.get::<String>(KEY).await.unwrap()) }));
    });
    group.finish();

    // Bare and ours alternating, so drift in the machine's load touches both alike.
    paired("redis", "get", 4000, |ours_first| {
        rt.block_on(async {
            let mut bare = bare.clone();
            let bare_call = async {
                let started = Instant::now();
                black_box(get.query_async::<Option<String>>(&mut bare).await.unwrap());
                started.elapsed()
            };
            let ours_call = async {
                let started = Instant::now();
                let conn = registry.connection::<RedisConnection>(black_box("bench")).unwrap();
                black_box(conn.get::<String>(KEY).await.unwrap());
                started.elapsed()
            };
            in_turn(ours_first, bare_call, ours_call).await
        })
    });
    rt.block_on(ours.del(KEY)).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
