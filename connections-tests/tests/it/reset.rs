//! `reset()` and `reset_if()`.

use std::sync::Arc;

use connections::prelude::*;

use crate::common::{Counted, all_at_once, connects, registry};

#[test]
fn reset_reconnects_and_old_handles_stay_valid() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("reset_basic").unwrap();
    let old = conn.instance().unwrap();
    conn.reset();
    assert!(!conn.is_connected());
    assert_eq!(conn.base().generation(), 1);
    let new = conn.instance().unwrap();
    assert!(!Arc::ptr_eq(&old, &new));
    assert_eq!((old.serial, new.serial), (1, 2));
    assert_eq!(old.name, "reset_basic", "the old handle is still usable");
    assert_eq!(connects("reset_basic"), 2);
}

#[test]
fn reset_keeps_the_cache_entry() {
    // As Streamlit: reset forgets the raw instance; the wrapper stays cached.
    let reg = registry("");
    let a = reg.connection::<Counted>("reset_cached").unwrap();
    a.instance().unwrap();
    a.reset();
    let b = reg.connection::<Counted>("reset_cached").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn reset_before_connect_is_harmless() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("reset_early").unwrap();
    conn.reset();
    conn.instance().unwrap();
    assert_eq!(connects("reset_early"), 1);
}

#[test]
fn many_threads_that_saw_the_same_broken_handle_reconnect_once() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("reset_if_many").unwrap();
    let broken = conn.instance().unwrap();
    let results = all_at_once(16, &Arc::new((conn, broken)), |(conn, broken)| {
        let did_reset = conn.reset_if(broken);
        let fresh = conn.instance().unwrap();
        (did_reset, fresh)
    });
    let resets = results.iter().filter(|(did, _)| *did).count();
    assert_eq!(resets, 1, "exactly one thread resets");
    assert_eq!(connects("reset_if_many"), 2, "one reconnect, not one per thread");
    let fresh: Vec<_> = results.into_iter().map(|(_, h)| h).collect();
    assert!(fresh.iter().all(|h| h.serial == 2));
}

#[test]
fn reset_if_with_a_stale_handle_leaves_a_newer_one_alone() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("reset_if_stale").unwrap();
    let first = conn.instance().unwrap();
    conn.reset();
    let second = conn.instance().unwrap();
    assert!(!conn.reset_if(&first));
    assert!(conn.is_connected());
    assert!(conn.reset_if(&second));
    assert!(!conn.is_connected());
}

#[test]
fn dyn_reset_and_connect() {
    let reg = registry("[connections.reset_dyn]\ntype = 'counted'");
    let any = reg.connection_dyn("reset_dyn").unwrap();
    any.connect().unwrap();
    any.connect().unwrap();
    assert_eq!(connects("reset_dyn"), 1);
    any.reset();
    assert!(!any.is_connected());
    assert_eq!(any.generation(), 1);
    any.connect().unwrap();
    assert_eq!(connects("reset_dyn"), 2);
}

#[test]
fn borrowed_handles_stay_valid_across_reset_and_convert_to_arcs() {
    let reg = registry("");
    let miss = reg.connection_ref::<Counted>("reset_ref").unwrap(); // built now: an owned handle
    let hit = reg.connection_ref::<Counted>("reset_ref").unwrap(); // cached: a borrowed one
    assert!(Arc::ptr_eq(&miss.to_arc(), &hit.to_arc()));
    let raw = hit.instance_ref().unwrap();
    assert_eq!(raw.serial, 1);
    assert!(hit.reset_if(&raw.to_arc()));
    assert_eq!(raw.serial, 1, "a borrowed instance outlives the reset that ended it");
    let fresh = hit.instance_ref().unwrap();
    assert_eq!(fresh.serial, 2);
    assert!(!hit.reset_if(&raw.to_arc()));
    assert_eq!(connects("reset_ref"), 2);
    assert_eq!(format!("{:?}", hit.base()), format!("{hit:?}"));
}
