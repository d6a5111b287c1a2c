//! `SqlConnection` against sqlx's native pool used directly, on the real
//! servers, each pair measured in one run.
//!
//! `CONNECTIONS_TEST_POSTGRES_URL=... CONNECTIONS_TEST_MYSQL_URL=... cargo bench --bench sql`;
//! a server whose variable is unset is skipped, saying so. Figures and the
//! machine are in BENCHMARKS.md.
//!
//! Per server, and for an in-memory SQLite database (always: the client-side
//! cost alone, with no network to add noise):
//! * `point/native`, `point/ours`: one row by primary key, decoded into a struct;
//! * `rows1000/native`, `rows1000/ours`: 1000 rows, decoded into structs;
//! * `ttl_hit/1`, `ttl_hit/1000`: a cached read of the same (no round trip);
//! * `harness`: the `block_on` and statement text every iteration pays, to
//!   read the cache hits against;
//! * then, printed: `point` and `rows1000` paired call by call, native and
//!   ours alternating, with the median ratio of the pairs (a shared machine's
//!   drift between two criterion runs is larger than the difference sought).
//!
//! Both sides use sqlx's default pool settings, the same statement text and
//! (on PostgreSQL) `sslmode=disable`;
//! each iteration is one `block_on` of a current-thread tokio runtime, the
//! same harness cost on both sides.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use connections::Registry;
use connections::sql::SqlConnection;
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::AssertSqlSafe;

mod support;
use support::{in_turn, paired, server};

const TABLE: &str = "connections_bench_pets";

#[derive(sqlx::FromRow)]
#[expect(dead_code, reason = "decoded on both sides, then only black-boxed")]
struct Pet {
    id: i64,
    name: String,
    age: i64,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The connection under test, on `url`, with its table of 1000 rows.
fn ours(rt: &tokio::runtime::Runtime, url: &str) -> (Registry, std::sync::Arc<SqlConnection>) {
    let registry = Registry::builder()
        .secrets_toml(
            "bench.toml",
            format!("[connections.bench]\ntype = 'sql'\nurl = '{url}'"),
        )
        .build();
    let db = registry.connection::<SqlConnection>("bench").unwrap();
    rt.block_on(async {
        for sql in [
            format!("DROP TABLE IF EXISTS {TABLE}"),
            format!("CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, age BIGINT NOT NULL)"),
        ] {
            db.query(AssertSqlSafe(sql)).execute().await.unwrap();
        }
        let mut tx = db.begin().await.unwrap();
        for id in 0..1000_i64 {
            tx.query(AssertSqlSafe(format!("INSERT INTO {TABLE} VALUES (:id, :name, :age)")))
                .param("id", id)
                .param("name", format!("pet {id}"))
                .param("age", id % 20)
                .execute()
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    });
    (registry, db)
}

/// The same statements on sqlx's native pool, used directly: the baseline.
macro_rules! native_pair {
    ($c:expr, $group:expr, $rt:expr, $db:expr, $native:expr, $point:expr, $all:expr) => {{
        let mut group = $c.benchmark_group($group);
        group.sample_size(40).measurement_time(Duration::from_secs(6));
        let native = $native;
        let point: String = $point;
        let all: String = $all;
        let point_sql = || AssertSqlSafe(point.clone());
        let all_sql = || AssertSqlSafe(all.clone());
        group.bench_function("point/native", |b| {
            b.iter(|| {
                $rt.block_on(async {
                    let rows: Vec<Pet> = sqlx::query_as(point_sql())
                        .bind(black_box(500_i64))
                        .fetch_all(&native)
                        .await
                        .unwrap();
                    black_box(rows)
                })
            });
        });
        group.bench_function("point/ours", |b| {
            b.iter(|| {
                $rt.block_on(async {
                    let rows: Vec<Pet> = $db
                        .query(point_sql())
                        .bind(black_box(500_i64))
                        .fetch_all()
                        .await
                        .unwrap();
                    black_box(rows)
                })
            });
        });
        group.bench_function("rows1000/native", |b| {
            b.iter(|| {
                $rt.block_on(async {
                    let rows: Vec<Pet> = sqlx::query_as(all_sql()).fetch_all(&native).await.unwrap();
                    black_box(rows)
                })
            });
        });
        group.bench_function("rows1000/ours", |b| {
            b.iter(|| {
                $rt.block_on(async {
                    let rows: Vec<Pet> = $db.query(all_sql()).fetch_all().await.unwrap();
                    black_box(rows)
                })
            });
        });
        let ttl = Duration::from_hours(1);
        // What every iteration pays around the call: the runtime's `block_on`
        // and the statement's text, to read the cache hits against.
        group.bench_function("harness", |b| {
            b.iter(|| $rt.block_on(async { black_box(point_sql()) }));
        });
        // Fill the cache on the runtime, then read the hits on a plain
        // executor: a hit does no I/O, and tokio's current-thread `block_on`
        // costs several microseconds more per call once any timer has been
        // registered, which would measure the runtime rather than the cache.
        $rt.block_on(async {
            $db.query(point_sql())
                .bind(500_i64)
                .ttl(ttl)
                .fetch_all::<Pet>()
                .await
                .unwrap();
            $db.query(all_sql()).ttl(ttl).fetch_all::<Pet>().await.unwrap();
        });
        let _runtime = $rt.enter();
        group.bench_function("ttl_hit/harness", |b| {
            b.iter(|| futures_executor::block_on(async { black_box(point_sql()) }));
        });
        group.bench_function("ttl_hit/1", |b| {
            b.iter(|| {
                futures_executor::block_on(async {
                    let rows = $db
                        .query(point_sql())
                        .bind(black_box(500_i64))
                        .ttl(ttl)
                        .fetch_all::<Pet>()
                        .await
                        .unwrap();
                    black_box(rows)
                })
            });
        });
        group.bench_function("ttl_hit/1000", |b| {
            b.iter(|| {
                futures_executor::block_on(async {
                    let rows = $db.query(all_sql()).ttl(ttl).fetch_all::<Pet>().await.unwrap();
                    assert_eq!(rows.len(), 1000);
                    black_box(rows)
                })
            });
        });
        group.finish();
        // Paired: native and ours alternate, call by call (each first in turn),
        // so drift in the machine's load touches both alike.
        paired($group, "point", 2000, |ours_first| {
            $rt.block_on(async {
                let native_call = async {
                    let started = Instant::now();
                    let rows: Vec<Pet> = sqlx::query_as(point_sql())
                        .bind(500_i64)
                        .fetch_all(&native)
                        .await
                        .unwrap();
                    black_box(rows);
                    started.elapsed()
                };
                let ours_call = async {
                    let started = Instant::now();
                    let rows: Vec<Pet> = $db.query(point_sql()).bind(500_i64).fetch_all().await.unwrap();
                    black_box(rows);
                    started.elapsed()
                };
                in_turn(ours_first, native_call, ours_call).await
            })
        });
        paired($group, "rows1000", 200, |ours_first| {
            $rt.block_on(async {
                let native_call = async {
                    let started = Instant::now();
                    let rows: Vec<Pet> = sqlx::query_as(all_sql()).fetch_all(&native).await.unwrap();
                    black_box(rows);
                    started.elapsed()
                };
                let ours_call = async {
                    let started = Instant::now();
                    let rows: Vec<Pet> = $db.query(all_sql()).fetch_all().await.unwrap();
                    black_box(rows);
                    started.elapsed()
                };
                in_turn(ours_first, native_call, ours_call).await
            })
        });
        $rt.block_on(native.close());
    }};
}

fn postgres(c: &mut Criterion) {
    let Some(url) = server("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    // Plaintext on both sides, as a local server is usually reached.
    let url = format!("{url}{}sslmode=disable", if url.contains('?') { '&' } else { '?' });
    let rt = runtime();
    let (_registry, db) = ours(&rt, &url);
    let native = rt.block_on(sqlx::PgPool::connect(&url)).unwrap();
    native_pair!(
        c,
        "sql_postgres",
        rt,
        db,
        native,
        format!("SELECT id, name, age FROM {TABLE} WHERE id = $1"),
        format!("SELECT id, name, age FROM {TABLE} ORDER BY id")
    );
}

fn mysql(c: &mut Criterion) {
    let Some(url) = server("CONNECTIONS_TEST_MYSQL_URL") else {
        return;
    };
    let rt = runtime();
    let (_registry, db) = ours(&rt, &url);
    let native = rt.block_on(sqlx::MySqlPool::connect(&url)).unwrap();
    native_pair!(
        c,
        "sql_mysql",
        rt,
        db,
        native,
        format!("SELECT id, name, age FROM {TABLE} WHERE id = ?"),
        format!("SELECT id, name, age FROM {TABLE} ORDER BY id")
    );
}

/// In-memory SQLite, no network: the client-side cost alone, always run.
fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let (_registry, db) = ours(&rt, "sqlite::memory:");
    // Its own in-memory database, filled the same way; one session keeps it.
    let native = rt.block_on(async {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, age BIGINT NOT NULL)"
        )))
        .execute(&pool)
        .await
        .unwrap();
        for id in 0..1000_i64 {
            sqlx::query(AssertSqlSafe(format!("INSERT INTO {TABLE} VALUES (?, ?, ?)")))
                .bind(id)
                .bind(format!("pet {id}"))
                .bind(id % 20)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool
    });
    native_pair!(
        c,
        "sql_sqlite",
        rt,
        db,
        native,
        format!("SELECT id, name, age FROM {TABLE} WHERE id = ?"),
        format!("SELECT id, name, age FROM {TABLE} ORDER BY id")
    );
}

criterion_group!(benches, sqlite, postgres, mysql);
criterion_main!(benches);
