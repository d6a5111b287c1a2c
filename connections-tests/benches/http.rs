//! `HttpConnection` against a bare `reqwest::Client`, on a local HTTP server
//! started in the same process, in one run. Figures and the machine are in
//! BENCHMARKS.md.
//!
//! * `get/bare`, `get/ours`: a `GET` of a small JSON body, decoded into a
//!   struct; ours is the registry lookup by name plus `get_json`, as a
//!   request handler makes it; bare is reqwest's `get`, `send`, `bytes`
//!   and `serde_json` on a client with the section's default timeouts
//!   (connect 5 s, request 30 s);
//! * `cached_hit/ours`: the same read answered from the connection's read
//!   cache (`.ttl()`, no request), decoded, and `harness`, the `block_on`
//!   every iteration pays, to read the hit against;
//! * then, printed: `get` paired call by call, bare and ours alternating,
//!   with the median ratio of the pairs; and `client`, the same pairs with
//!   ours replaced by the connection's own reqwest client used directly
//!   (`instance().await?.reqwest()`), which tells the client's settings
//!   from what the connection's request path adds.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connections::http::HttpConnection;
use connections::{Connection as _, Registry};
use criterion::{Criterion, criterion_group, criterion_main};
use serde::Deserialize;

mod support;
use support::{in_turn, paired};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    id: u64,
    name: String,
}

/// Starts the server on its own runtime thread; its address.
fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            let app = axum::Router::new().route(
                "/item",
                axum::routing::get(|| async {
                    ([("content-type", "application/json")], r#"{"id":1,"name":"widget"}"#)
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn bench(c: &mut Criterion) {
    let address = start_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::builder()
        .secrets_toml(
            "bench.toml",
            format!("[connections.bench]\ntype = 'http'\nbase_url = 'http://{address}/'"),
        )
        .build();
    let ours = registry.connection::<HttpConnection>("bench").unwrap();
    rt.block_on(ours.get_json::<Item>("item")).unwrap();
    let client = rt.block_on(ours.instance()).unwrap();
    // The bare client with the same timeouts (a service's client has them: each
    // request then arms a timer) and TLS provider (not used over `http://`).
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
    .with_no_client_auth();
    let bare = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let url = format!("http://{address}/item");
    let bare_get = || async {
        let body = bare.get(&url).send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice::<Item>(&body).unwrap()
    };
    rt.block_on(bare_get());

    let mut group = c.benchmark_group("http");
    group.bench_function("get/bare", |b| {
        b.iter(|| rt.block_on(async { black_box(bare_get().await) }));
    });
    group.bench_function("get/ours", |b| {
        b.iter(|| {
            rt.block_on(async {
                let conn = registry.connection::<HttpConnection>(black_box("bench")).unwrap();
                black_box(conn.get_json::<Item>("item").await.unwrap())
            })
        });
    });
    group.bench_function("harness", |b| b.iter(|| rt.block_on(async { black_box(&url) })));
    let ttl = Duration::from_mins(1);
    group.bench_function("cached_hit/ours", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = ours.get(black_box("item")).ttl(ttl).send().await.unwrap();
                black_box(response.json::<Item>().unwrap())
            })
        });
    });
    group.finish();

    // Bare and ours alternating, so drift in the machine's load touches both alike.
    paired("http", "client", 4000, |ours_first| {
        rt.block_on(async {
            let bare_call = async {
                let started = Instant::now();
                black_box(bare_get().await);
                started.elapsed()
            };
            let ours_call = async {
                let started = Instant::now();
                let body = client.reqwest().get(&url).send().await.unwrap().bytes().await.unwrap();
                black_box(serde_json::from_slice::<Item>(&body).unwrap());
                started.elapsed()
            };
            in_turn(ours_first, bare_call, ours_call).await
        })
    });
    paired("http", "get", 4000, |ours_first| {
        rt.block_on(async {
            let bare_call = async {
                let started = Instant::now();
                black_box(bare_get().await);
                started.elapsed()
            };
            let ours_call = async {
                let started = Instant::now();
                let conn = registry.connection::<HttpConnection>(black_box("bench")).unwrap();
                black_box(conn.get_json::<Item>("item").await.unwrap());
                started.elapsed()
            };
            in_turn(ours_first, bare_call, ours_call).await
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
