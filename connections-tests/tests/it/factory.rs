//! The factory cache: keys, `ttl`, `max_entries`, separate caches per policy.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use connections::Registry;
use connections::prelude::*;

use crate::common::{Counted, Echo, connects, fail_next, registry};

#[test]
fn kwargs_are_keyed_in_canonical_order() {
    let reg = registry("");
    let a = reg.lookup("f_kw").kwarg("a", 1).kwarg("b", "x").get::<Echo>().unwrap();
    let b = reg.lookup("f_kw").kwarg("b", "x").kwarg("a", 1).get::<Echo>().unwrap();
    assert!(Arc::ptr_eq(&a, &b), "call order must not matter");
    let c = reg.lookup("f_kw").kwarg("a", 2).kwarg("b", "x").get::<Echo>().unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    let plain = reg.connection::<Echo>("f_kw").unwrap();
    assert!(!Arc::ptr_eq(&a, &plain));
    // Streamlit leaves `_`-prefixed kwargs out of the key; we keep them.
    let u1 = reg.lookup("f_kw").kwarg("_hidden", 1).get::<Echo>().unwrap();
    let u2 = reg.lookup("f_kw").kwarg("_hidden", 2).get::<Echo>().unwrap();
    assert!(!Arc::ptr_eq(&u1, &u2));
}

#[test]
fn kwargs_override_the_section_key_by_key() {
    let reg = registry("[connections.f_over]\ntext = 'secrets'\nport = 1");
    let conn = reg.lookup("f_over").kwargs([("text", "kwargs")]).get::<Echo>().unwrap();
    assert_eq!(*conn.instance().unwrap(), "kwargs");
    assert_eq!(conn.config().get::<i64>("port").unwrap(), 1);
}

#[test]
fn the_same_name_with_two_types_is_two_entries() {
    let reg = registry("");
    let echo = reg.connection::<Echo>("f_two").unwrap();
    let counted = reg.connection::<Counted>("f_two").unwrap();
    assert_eq!(reg.cached_len(), 2);
    assert_eq!(echo.name(), counted.name());
}

#[test]
fn ttl_counts_from_the_write_and_reads_do_not_extend_it() {
    let reg = registry("");
    let ttl = Duration::from_millis(300);
    let start = Instant::now();
    let first = reg.lookup("f_ttl").ttl(ttl).get::<Echo>().unwrap();
    // Read often; if reads extended the ttl, the entry would never expire.
    loop {
        let now = reg.lookup("f_ttl").ttl(ttl).get::<Echo>().unwrap();
        let elapsed = start.elapsed();
        if elapsed < ttl / 3 {
            assert!(Arc::ptr_eq(&first, &now), "expired early");
        }
        if !Arc::ptr_eq(&first, &now) {
            assert!(elapsed >= ttl, "replaced after {elapsed:?}, before the ttl");
            break;
        }
        assert!(elapsed < ttl * 10, "never expired: reads must have extended it");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn zero_ttl_caches_nothing() {
    let reg = registry("");
    let a = reg.lookup("f_ttl0").ttl(Duration::ZERO).get::<Echo>().unwrap();
    let b = reg.lookup("f_ttl0").ttl(Duration::ZERO).get::<Echo>().unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(reg.cached_len(), 0);
}

#[test]
fn max_entries_evicts_the_least_recently_used() {
    let reg = registry("");
    let get = |name: &str| reg.lookup(name).max_entries(2).get::<Echo>().unwrap();
    let a = get("f_lru_a");
    let b = get("f_lru_b");
    assert!(Arc::ptr_eq(&a, &get("f_lru_a"))); // a is now more recent than b
    let _c = get("f_lru_c"); // evicts b
    assert!(Arc::ptr_eq(&a, &get("f_lru_a")), "a was used recently and stays");
    assert!(
        !Arc::ptr_eq(&b, &get("f_lru_b")),
        "b was least recently used and was evicted"
    );
}

#[test]
fn a_full_cache_keeps_what_is_read_and_never_grows_past_its_bound() {
    let reg = registry("");
    let get = |name: &str| reg.lookup(name).max_entries(100).get::<Echo>().unwrap();
    let hot: Vec<_> = (0..10).map(|i| get(&format!("f_clock_hot_{i}"))).collect();
    // A thousand one-off tenants stream through, while the hot ten are read between them.
    for round in 0..1_000 {
        let _ = get(&format!("f_clock_cold_{round}"));
        for (i, conn) in hot.iter().enumerate() {
            if round % 10 == i {
                assert!(
                    Arc::ptr_eq(conn, &get(&format!("f_clock_hot_{i}"))),
                    "hot {i} evicted at {round}"
                );
            }
        }
        assert!(reg.cached_len() <= 100, "{} entries at round {round}", reg.cached_len());
    }
    // The oldest one-off tenants are gone; the newest are still there.
    assert_eq!(reg.cached_len(), 100);
    let newest = get("f_clock_cold_999");
    assert!(Arc::ptr_eq(&newest, &get("f_clock_cold_999")));
}

#[test]
fn zero_max_entries_is_a_clear_error() {
    let err = registry("").lookup("f_zero").max_entries(0).get::<Echo>().unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "max_entries",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("give at least 1"), "{err}");
}

#[test]
fn one_policy_never_evicts_another() {
    let reg = registry("");
    let unbounded = reg.connection::<Echo>("f_pol_x").unwrap();
    let bounded_x = reg.lookup("f_pol_x").max_entries(1).get::<Echo>().unwrap();
    let _bounded_y = reg.lookup("f_pol_y").max_entries(1).get::<Echo>().unwrap(); // evicts bounded x only
    assert!(Arc::ptr_eq(&unbounded, &reg.connection::<Echo>("f_pol_x").unwrap()));
    assert!(!Arc::ptr_eq(
        &bounded_x,
        &reg.lookup("f_pol_x").max_entries(1).get::<Echo>().unwrap()
    ));
    // Two ttls are two caches too.
    let t1 = reg.lookup("f_pol_t").ttl(Duration::from_mins(1)).get::<Echo>().unwrap();
    let t2 = reg
        .lookup("f_pol_t")
        .ttl(Duration::from_secs(61))
        .get::<Echo>()
        .unwrap();
    assert!(!Arc::ptr_eq(&t1, &t2));
}

#[test]
fn creation_failures_are_never_cached() {
    let reg = registry("");
    fail_next("f_fail", 2);
    for _ in 0..2 {
        let failed = reg.lookup("f_fail").eager(true).max_entries(4).get::<Counted>();
        assert!(matches!(failed, Err(Error::ConnectFailed { .. })), "{failed:?}");
    }
    assert_eq!(reg.cached_len(), 0);
    let ok = reg
        .lookup("f_fail")
        .eager(true)
        .max_entries(4)
        .get::<Counted>()
        .unwrap();
    assert!(ok.is_connected());
    assert_eq!(connects("f_fail"), 3);
    assert_eq!(reg.cached_len(), 1);
}

#[test]
fn clear_cache_drops_entries_but_not_handles() {
    let reg = registry("");
    let a = reg.connection::<Echo>("f_clear").unwrap();
    reg.clear_cache();
    assert_eq!(reg.cached_len(), 0);
    let b = reg.connection::<Echo>("f_clear").unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(a.name(), "f_clear");
}

#[test]
fn a_default_ttl_applies_to_lookups_without_one_and_an_explicit_ttl_wins() {
    let reg = Registry::builder()
        .secrets_toml("s.toml", "")
        .default_ttl(Duration::from_millis(200))
        .build();
    let first = reg.connection::<Echo>("f_dttl").unwrap();
    assert!(
        Arc::ptr_eq(&first, &reg.connection::<Echo>("f_dttl").unwrap()),
        "cached"
    );
    // An explicit zero wins: nothing cached.
    let a = reg.lookup("f_dttl_zero").ttl(Duration::ZERO).get::<Echo>().unwrap();
    assert!(!Arc::ptr_eq(
        &a,
        &reg.lookup("f_dttl_zero").ttl(Duration::ZERO).get::<Echo>().unwrap()
    ));
    // An explicit longer ttl wins too: it outlives the default.
    let long = reg.lookup("f_dttl").ttl(Duration::from_mins(10)).get::<Echo>().unwrap();
    crate::common::wait_until("the default ttl expires the entry", || {
        !Arc::ptr_eq(&first, &reg.connection::<Echo>("f_dttl").unwrap())
    });
    assert!(Arc::ptr_eq(
        &long,
        &reg.lookup("f_dttl").ttl(Duration::from_mins(10)).get::<Echo>().unwrap()
    ));
}

#[test]
fn a_zero_default_ttl_caches_nothing_unless_a_lookup_asks() {
    let reg = Registry::builder()
        .secrets_toml("s.toml", "")
        .default_ttl(Duration::ZERO)
        .build();
    let a = reg.connection::<Echo>("f_dttl0").unwrap();
    assert!(!Arc::ptr_eq(&a, &reg.connection::<Echo>("f_dttl0").unwrap()));
    assert_eq!(reg.cached_len(), 0);
    let kept = reg.lookup("f_dttl0").ttl(Duration::from_mins(1)).get::<Echo>().unwrap();
    assert!(Arc::ptr_eq(
        &kept,
        &reg.lookup("f_dttl0").ttl(Duration::from_mins(1)).get::<Echo>().unwrap()
    ));
}

#[test]
#[ignore = "run by the_default_ttl_variable_is_read_and_checked in a child process"]
fn child_with_default_ttl_variable() {
    let Ok(expect) = std::env::var("CONNECTIONS_TEST_EXPECTED") else {
        return;
    };
    let reg = Registry::builder().secrets_toml("s.toml", "").build();
    if expect == "zero" {
        let a = reg.connection::<Echo>("f_env_ttl").unwrap();
        assert!(
            !Arc::ptr_eq(&a, &reg.connection::<Echo>("f_env_ttl").unwrap()),
            "0 caches nothing"
        );
        assert!(Registry::builder().try_build().is_ok());
    } else {
        // Rejected, typed, naming the variable and what to write; only where the default is used.
        let err = reg.connection::<Echo>("f_env_ttl").unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSetting { var: "CONNECTIONS_DEFAULT_TTL", problem, .. } if *problem == expect),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("CONNECTIONS_DEFAULT_TTL=300"), "{msg}");
        assert!(reg.connection_dyn("f_env_ttl").is_err());
        assert!(
            reg.lookup("f_env_ttl")
                .ttl(Duration::from_secs(5))
                .get::<Echo>()
                .is_ok(),
            "an explicit ttl wins"
        );
        assert!(matches!(
            Registry::builder().try_build(),
            Err(Error::InvalidSetting { .. })
        ));
        // A default ttl given in code wins over the variable.
        let coded = Registry::builder()
            .secrets_toml("s.toml", "")
            .default_ttl(Duration::from_mins(1))
            .try_build()
            .unwrap();
        assert!(coded.connection::<Echo>("f_env_ttl").is_ok());
    }
    println!("{}", crate::common::CHILD_CHECKED);
}

#[test]
fn the_default_ttl_variable_is_read_and_checked() {
    for (value, expected) in [
        ("0", "zero"),
        ("-1", "negative"),
        ("NaN", "not a number"),
        ("ten", "not a number"),
    ] {
        crate::common::run_in_child(
            "factory::child_with_default_ttl_variable",
            &[
                ("CONNECTIONS_DEFAULT_TTL", value.as_ref()),
                ("CONNECTIONS_TEST_EXPECTED", expected.as_ref()),
            ],
        );
    }
}
