//! The heap's high-water mark while a 64 MiB object goes up through
//! `FilesConnection::write_stream` and comes back through `open`, on the
//! local disk and, when `CONNECTIONS_TEST_S3_URL` is set, on the S3-protocol
//! server. Its own binary: the global allocator counts every byte of the
//! process, and the one test here runs alone.

use std::time::Instant;

use connections::Registry;
use connections::files::{FilesConnection, PART_SIZE, PARTS_IN_FLIGHT};
use futures_util::{StreamExt as _, TryStreamExt as _};
use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const OBJECT: usize = 64 << 20;
const CHUNK: usize = 1 << 20;
/// `bytes` in MiB, to a tenth.
fn mib(bytes: usize) -> String {
    format!("{}.{}", bytes >> 20, ((bytes & ((1 << 20) - 1)) * 10) >> 20)
}

/// The byte at `offset` of the object: its chunk's number, mod 251.
fn byte_at(offset: usize) -> u8 {
    u8::try_from((offset / CHUNK) % 251).unwrap()
}

/// The S3 test server's section keys, or `None` after saying it skipped.
fn s3_section() -> Option<String> {
    let Ok(raw) = std::env::var("CONNECTIONS_TEST_S3_URL") else {
        println!("skipped on S3: CONNECTIONS_TEST_S3_URL is not set (`.ci/run` sets it to the local server)");
        return None;
    };
    let url = url::Url::parse(&raw).expect("CONNECTIONS_TEST_S3_URL is a URL");
    Some(format!(
        "url = 's3://{}/memory-{}'\nendpoint_url = 'http://{}:{}'\nallow_http = true\naccess_key_id = '{}'\nsecret_access_key = '{}'\nregion = 'us-east-1'\n",
        url.path().trim_matches('/'),
        std::process::id(),
        url.host_str().unwrap(),
        url.port().unwrap(),
        url.username(),
        url.password().unwrap(),
    ))
}

/// Writes and reads back 64 MiB through `section`'s store; the heap's high
/// water marks above where each began, in bytes.
async fn through(section: &str) -> (usize, usize) {
    let registry = Registry::builder()
        .secrets_toml("secrets.toml", format!("[connections.big]\ntype = 'files'\n{section}"))
        .build();
    let files = registry.connection::<FilesConnection>("big").unwrap();
    files.write("warm-up.txt", "x").await.unwrap();

    HEAP.reset_peak_usage();
    let base = HEAP.current_usage();
    let started = Instant::now();
    // Chunks made as they are sent, each dropped once it is on its way.
    let chunks =
        futures_util::stream::iter(0..OBJECT / CHUNK).map(|n| Ok::<_, std::io::Error>(vec![byte_at(n * CHUNK); CHUNK]));
    assert_eq!(files.write_stream("big.bin", chunks).await.unwrap(), OBJECT as u64);
    let write_peak = HEAP.peak_usage().saturating_sub(base);
    let wrote = started.elapsed();

    HEAP.reset_peak_usage();
    let base = HEAP.current_usage();
    let started = Instant::now();
    let mut stream = files.open("big.bin").await.unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.try_next().await.unwrap() {
        // Every byte is where the write put it.
        for (i, byte) in chunk.iter().enumerate() {
            assert_eq!(*byte, byte_at(total + i));
        }
        total += chunk.len();
    }
    let read_peak = HEAP.peak_usage().saturating_sub(base);
    assert_eq!(total, OBJECT);
    println!(
        "64 MiB: write_stream {} MiB of heap at most ({wrote:.2?}), open {} MiB ({:.2?})",
        mib(write_peak),
        mib(read_peak),
        started.elapsed()
    );
    files.delete("big.bin").await.unwrap();
    files.delete("warm-up.txt").await.unwrap();
    (write_peak, read_peak)
}

#[test]
fn sixty_four_mib_go_up_and_come_back_in_bounded_memory() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![("local disk", format!("url = 'file://{}'", dir.path().display()))];
    stores.extend(s3_section().map(|section| ("S3", section)));
    // The parts on their way, the one being filled, and a chunk of the body.
    let write_bound = PART_SIZE * (PARTS_IN_FLIGHT + 1) + 2 * CHUNK;
    for (label, section) in stores {
        let (write_peak, read_peak) = runtime.block_on(through(&section));
        println!("{label}: bound {} MiB", mib(write_bound));
        assert!(
            write_peak <= write_bound,
            "{label}: write_stream held {write_peak} bytes"
        );
        assert!(read_peak <= 4 * CHUNK, "{label}: open held {read_peak} bytes");
    }
}
