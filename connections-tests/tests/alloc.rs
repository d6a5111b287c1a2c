//! The hot path allocates nothing: a lookup of a cached connection plus
//! `instance()`. Its own test binary, because the counter replaces the global
//! allocator.

use std::hint::black_box;

use connections::Registry;
use connections::prelude::*;

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

/// A session-scoped type, for the memory of many live scopes.
#[derive(Connection)]
#[connection(type_name = "alloc-session", scope = "session")]
struct PerSession {
    base: BaseConnection<u64>,
}

impl PerSession {
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn _connect(&self, _: &Config) -> Result<u64, BoxError> {
        Ok(7)
    }
}

#[test]
fn ten_thousand_live_scopes_keep_bounded_memory_and_give_it_all_back() {
    const SCOPES: usize = 10_000;
    let registry = Registry::builder().secrets_toml("s", "").build();
    let keys: Vec<String> = (0..SCOPES).map(|i| format!("session-{i}")).collect();
    // Warm up: the registry's own maps and the first lookup's one-time costs.
    drop(
        registry
            .scope("warm")
            .connection::<PerSession>("cart")
            .unwrap()
            .instance()
            .unwrap(),
    );
    let mut live = Vec::new();
    let built = allocation_counter::measure(|| {
        live = keys.iter().map(|k| registry.scope(k)).collect();
        for scope in &live {
            black_box(scope.connection::<PerSession>("cart").unwrap().instance().unwrap());
        }
    });
    let per_scope = built.bytes_current / i64::try_from(SCOPES).unwrap();
    println!(
        "{SCOPES} live scopes with one connection each: {} bytes, {per_scope} per scope",
        built.bytes_current
    );
    assert!(per_scope <= 4096, "{per_scope} bytes per live scope: {built:?}");
    let dropped = allocation_counter::measure(|| {
        drop(std::mem::take(&mut live));
        registry.close_released();
    });
    // Everything the scopes held is freed; the scope map may keep its grown
    // table (one, not one per scope), so allow for it.
    let kept = built.bytes_current + dropped.bytes_current;
    println!("after dropping them: {kept} bytes kept");
    assert!(
        kept <= 1 << 20,
        "{kept} bytes kept after every scope ended: {dropped:?}"
    );
    assert_eq!(registry.scope_count(), 0);
}
