//! Exactly-once connects and builds under contention; no key blocks another.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use connections::Registry;
use connections::prelude::*;

use crate::common::{Counted, all_at_once, connects, distinct, fail_next, join_all, registry};

const THREADS: usize = 16;

#[test]
fn sixteen_threads_one_connect() {
    // The connect sleeps, so every thread arrives while it runs.
    let reg = registry("[connections.cc_once]\nsleep_ms = 100");
    let conn = reg.connection::<Counted>("cc_once").unwrap();
    let handles = all_at_once(THREADS, &conn, |conn| conn.instance().unwrap());
    assert_eq!(connects("cc_once"), 1);
    assert_eq!(distinct(&handles), 1);
}

#[test]
fn waiters_on_a_failing_connect_share_its_failure() {
    let reg = registry("[connections.cc_fail]\nsleep_ms = 200");
    let conn = reg.connection::<Counted>("cc_fail").unwrap();
    fail_next("cc_fail", 1);
    let results = all_at_once(THREADS, &conn, |conn| {
        conn.instance().map(|_| ()).map_err(|e| e.to_string())
    });
    let failed = results.iter().filter(|r| r.is_err()).count();
    // Threads released by the barrier join the one attempt while it sleeps; a
    // straggler arriving after the failure was delivered starts a fresh attempt,
    // which succeeds. Never one attempt per thread.
    assert!(failed >= 1, "{results:?}");
    assert!(
        connects("cc_fail") <= 2,
        "retry storm: {} connects",
        connects("cc_fail")
    );
    assert!(conn.instance().is_ok());
}

#[test]
fn concurrent_first_lookups_of_one_key_build_one_connection() {
    let reg = Arc::new(registry("[connections.cc_build]\nsleep_ms = 100"));
    let conns = all_at_once(THREADS, &reg, |reg| {
        reg.lookup("cc_build").eager(true).get::<Counted>().unwrap()
    });
    assert_eq!(distinct(&conns), 1);
    assert_eq!(connects("cc_build"), 1);
}

/// A connection whose connect blocks until the test lets it go.
#[derive(Connection)]
struct Gate {
    base: BaseConnection<()>,
}

static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

impl Gate {
    fn _connect(&self, _: &Config) -> Result<(), BoxError> {
        let rx = GATE.lock().unwrap().take().ok_or("gate already used")?;
        rx.recv_timeout(Duration::from_secs(30))?;
        Ok(())
    }
}

#[test]
fn a_slow_build_of_one_key_never_blocks_another() {
    let reg = Arc::new(registry(""));
    let (open, rx) = mpsc::channel();
    *GATE.lock().unwrap() = Some(rx);
    let slow = {
        let reg = Arc::clone(&reg);
        thread::spawn(move || reg.lookup("cc_slow").eager(true).get::<Gate>().map(|_| ()))
    };
    // Wait until the slow build holds its slot.
    let start = Instant::now();
    while GATE.lock().unwrap().is_some() {
        assert!(start.elapsed() < Duration::from_secs(30), "slow build never started");
        thread::yield_now();
    }
    // Other keys, in the same cache, build and connect while it is stuck.
    let (done_tx, done_rx) = mpsc::channel();
    let fast = {
        let reg = Arc::clone(&reg);
        thread::spawn(move || {
            let conn = reg
                .lookup("cc_fast")
                .eager(true)
                .get::<Counted>()
                .map(|c| c.is_connected());
            done_tx.send(conn.is_ok_and(|c| c)).unwrap();
        })
    };
    let fast_ok = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("another key was blocked by a slow build");
    assert!(fast_ok);
    open.send(()).unwrap();
    fast.join().unwrap();
    slow.join().unwrap().unwrap();
}

/// Used by the stress test alone, so its counters are its own.
#[derive(Connection)]
struct Stressed {
    base: BaseConnection<StressHandle>,
}

static STRESS_CONNECTS: AtomicUsize = AtomicUsize::new(0);
static STRESS_DROPS: AtomicUsize = AtomicUsize::new(0);

struct StressHandle;

impl Drop for StressHandle {
    fn drop(&mut self) {
        STRESS_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

impl Stressed {
    fn _connect(&self, _: &Config) -> Result<StressHandle, BoxError> {
        STRESS_CONNECTS.fetch_add(1, Ordering::SeqCst);
        Ok(StressHandle)
    }
}

#[test]
fn stress_every_instance_is_created_once_per_generation_and_dropped_once() {
    let reg = Arc::new(Registry::builder().secrets_toml("s", "").build());
    let names: Vec<String> = (0..4).map(|i| format!("cc_stress_{i}")).collect();
    let deadline = Instant::now() + Duration::from_millis(800);
    let handles = (0..THREADS)
        .map(|t| {
            let (reg, names) = (Arc::clone(&reg), names.clone());
            thread::spawn(move || {
                let mut i = t;
                while Instant::now() < deadline {
                    let name = &names[i % names.len()];
                    if i % 2 == 0 {
                        // Owned handles.
                        let conn = reg.connection::<Stressed>(name).unwrap();
                        let handle = conn.instance().unwrap();
                        match i % 7 {
                            0 => conn.reset(),
                            1 | 2 => {
                                conn.reset_if(&handle);
                            }
                            _ => {}
                        }
                    } else {
                        // Borrowed handles.
                        let conn = reg.connection_ref::<Stressed>(name).unwrap();
                        let handle = conn.instance_ref().unwrap();
                        if i % 5 == 0 {
                            conn.reset_if(&handle.to_arc());
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    // Watchdog: a deadlock fails the test instead of hanging it.
    let (done_tx, done_rx) = mpsc::channel();
    let joiner = thread::spawn(move || {
        join_all(handles);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_mins(1))
        .expect("deadlock: stress threads did not finish");
    joiner.join().unwrap();

    let mut generations = 0;
    for name in &names {
        let conn = reg.connection::<Stressed>(name).unwrap();
        generations += conn.base().generation() + 1;
    }
    let connects = STRESS_CONNECTS.load(Ordering::SeqCst) as u64;
    assert!(connects >= 4, "every connection connected");
    assert!(
        connects <= generations,
        "{connects} connects for {generations} generations: more than one per generation"
    );
    drop(reg);
    assert_eq!(
        STRESS_DROPS.load(Ordering::SeqCst),
        STRESS_CONNECTS.load(Ordering::SeqCst),
        "every raw instance is dropped exactly once"
    );
}
