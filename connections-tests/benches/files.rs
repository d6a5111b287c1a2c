//! `FilesConnection` against `object_store` used directly, on the same
//! store, in one run: the local disk (a temporary folder) always, and the
//! S3-protocol server when `CONNECTIONS_TEST_S3_URL` is set (`.ci/run` sets
//! it; unset, the S3 rows say they skipped).
//!
//! `cargo bench -p connections-tests --bench files`. Figures and the machine
//! are in BENCHMARKS.md.
//!
//! * `<store>/read_1mib/bare`, `/ours`: a whole 1 MiB object; ours is the
//!   registry lookup by name plus `read(path).bytes()`, as a handler makes it;
//! * `cached_hit_1mib`, `cached_hit_64mib`: the same read from the
//!   connection's `ttl` cache, for a small and a large object, and
//!   `harness`, the `block_on` every iteration pays, to read them against;
//! * `<store>/open_64mib`: every chunk of a 64 MiB object through `open`,
//!   with its throughput;
//! * then, printed: the 1 MiB read paired call by call, bare and ours
//!   alternating, with the median ratio of the pairs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connections::Registry;
use connections::files::FilesConnection;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};

mod support;
use support::{in_turn, paired, server};

const SMALL: usize = 1 << 20;
const LARGE: usize = 64 << 20;

/// The stores measured: a name, the section's keys, and the same store opened bare.
fn stores(dir: &std::path::Path) -> Vec<(&'static str, String, Arc<dyn ObjectStore>)> {
    let local = object_store::local::LocalFileSystem::new_with_prefix(dir).unwrap();
    let mut stores: Vec<(&'static str, String, Arc<dyn ObjectStore>)> =
        vec![("local", format!("url = 'file://{}'", dir.display()), Arc::new(local))];
    if let Some(raw) = server("CONNECTIONS_TEST_S3_URL") {
        let url = url::Url::parse(&raw).unwrap();
        let (bucket, endpoint) = (
            url.path().trim_matches('/').to_owned(),
            format!("http://{}:{}", url.host_str().unwrap(), url.port().unwrap()),
        );
        let prefix = format!("bench-{}", std::process::id());
        // object_store's reqwest client needs a process-wide TLS provider, as the connection installs.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let section = format!(
            "url = 's3://{bucket}/{prefix}'\nendpoint_url = '{endpoint}'\nallow_http = true\naccess_key_id = '{}'\nsecret_access_key = '{}'\nregion = 'us-east-1'\n",
            url.username(),
            url.password().unwrap()
        );
        let bare = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_access_key_id(url.username())
            .with_secret_access_key(url.password().unwrap())
            .with_region("us-east-1")
            .build()
            .unwrap();
        let bare = object_store::prefix::PrefixStore::new(bare, prefix.as_str());
        stores.push(("s3", section, Arc::new(bare)));
    }
    stores
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("files");
    group.bench_function("harness", |b| b.iter(|| rt.block_on(async { black_box(SMALL) })));
    for (store, section, bare) in stores(dir.path()) {
        let registry = Registry::builder()
            .secrets_toml("bench.toml", format!("[connections.bench]\ntype = 'files'\n{section}"))
            .build();
        let files = registry.connection::<FilesConnection>("bench").unwrap();
        rt.block_on(async {
            files.write("small.bin", vec![1_u8; SMALL]).await.unwrap();
            files.write("large.bin", vec![2_u8; LARGE]).await.unwrap();
        });
        let small = Path::from("small.bin");

        group.throughput(Throughput::Bytes(SMALL as u64));
        group.bench_function(format!("{store}/read_1mib/bare"), |b| {
            b.iter(|| rt.block_on(async { black_box(bare.get(&small).await.unwrap().bytes().await.unwrap()) }));
        });
        group.bench_function(format!("{store}/read_1mib/ours"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let files = registry.connection::<FilesConnection>(black_box("bench")).unwrap();
                    black_box(files.read("small.bin").bytes().await.unwrap())
                })
            });
        });
        let minute = Duration::from_mins(1);
        for (path, size) in [("small.bin", SMALL), ("large.bin", LARGE)] {
            rt.block_on(files.read(path).ttl(minute).bytes()).unwrap();
            group.throughput(Throughput::Bytes(size as u64));
            let label = if size == SMALL { "1mib" } else { "64mib" };
            group.bench_function(format!("{store}/cached_hit_{label}"), |b| {
                b.iter(|| rt.block_on(async { black_box(files.read(path).ttl(minute).bytes().await.unwrap()) }));
            });
        }
        group.throughput(Throughput::Bytes(LARGE as u64));
        group.bench_function(format!("{store}/open_64mib"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut chunks = files.open("large.bin").await.unwrap();
                    let mut total = 0;
                    while let Some(chunk) = chunks.try_next().await.unwrap() {
                        total += black_box(chunk).len();
                    }
                    assert_eq!(total, LARGE);
                });
            });
        });

        // Bare and ours alternating, so drift in the machine's load touches both alike.
        paired("files", &format!("{store}/read_1mib"), 2000, |ours_first| {
            rt.block_on(async {
                let bare_call = async {
                    let started = Instant::now();
                    black_box(bare.get(&small).await.unwrap().bytes().await.unwrap());
                    started.elapsed()
                };
                let ours_call = async {
                    let started = Instant::now();
                    let files = registry.connection::<FilesConnection>(black_box("bench")).unwrap();
                    black_box(files.read("small.bin").bytes().await.unwrap());
                    started.elapsed()
                };
                in_turn(ours_first, bare_call, ours_call).await
            })
        });
        rt.block_on(async {
            files.delete("small.bin").await.unwrap();
            files.delete("large.bin").await.unwrap();
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
