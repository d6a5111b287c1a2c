//! The hot path allocates nothing: a lookup of a cached connection plus
//! `instance()`. Its own test binary, because the counter replaces the global
//! allocator.

use std::hint::black_box;

use connections_core::Registry;
use connections_core::prelude::*;

#[derive(Connection)]
#[connection(type_name = "alloc-free")]
struct Fast {
    base: BaseConnection<u64>,
}

impl Fast {
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(42)
    }
}

fn lookups(registry: &Registry, name: &str) -> u64 {
    let mut sum = 0;
    for _ in 0..1_000 {
        let conn = registry.connection::<Fast>(name).unwrap();
        sum += *conn.instance().unwrap();
    }
    sum
}

#[test]
fn a_cached_lookup_and_instance_allocate_nothing() {
    let registry = Registry::builder()
        .secrets_toml("s", "[connections.hot]\nx = 1")
        .build();
    // The first lookup builds and the first instance() connects: those allocate.
    let cold = allocation_counter::measure(|| {
        black_box(lookups(&registry, "hot"));
    });
    assert!(cold.count_total > 0, "the counter must see the cold path's allocations");
    let hot = allocation_counter::measure(|| {
        black_box(lookups(&registry, "hot"));
    });
    assert_eq!(
        hot.count_total, 0,
        "1000 cached lookups + instance() allocated: {hot:?}"
    );
}

#[test]
fn the_borrowed_hot_path_allocates_nothing() {
    let registry = Registry::builder().secrets_toml("s", "").build();
    let lookups_ref = |registry: &Registry| {
        let mut sum = 0;
        for _ in 0..1_000 {
            sum += *registry
                .connection_ref::<Fast>("hot_ref")
                .unwrap()
                .instance_ref()
                .unwrap();
        }
        sum
    };
    black_box(lookups_ref(&registry));
    let hot = allocation_counter::measure(|| {
        black_box(lookups_ref(&registry));
    });
    assert_eq!(hot.count_total, 0, "{hot:?}");
}

#[test]
fn the_global_registry_hot_path_allocates_nothing_either() {
    let global = Registry::global();
    black_box(lookups(global, "alloc_global"));
    let hot = allocation_counter::measure(|| {
        black_box(lookups(global, "alloc_global"));
    });
    assert_eq!(hot.count_total, 0, "{hot:?}");
}
