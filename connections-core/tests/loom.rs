//! Model checking of the connection state machine with loom: every
//! interleaving of two threads is explored.
//!
//! Run with `RUSTFLAGS="--cfg connections_loom" cargo test -p connections-core --test loom --release`.
//! Each model asserts exactly one connect per generation, and loom itself
//! fails any model in which a waiter is never woken (a deadlock).
#![cfg(connections_loom)]
#![allow(missing_docs)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::sync::atomic::AtomicUsize as StdAtomicUsize;

use connections_core::{BaseConnection, BoxError, Config, Error};

type Base = BaseConnection<usize>;

fn base() -> std::sync::Arc<Base> {
    std::sync::Arc::new(BaseConnection::new(
        "m",
        "model",
        "loom::Model",
        Config::new("m", toml::Table::new()),
    ))
}

/// A connect that counts itself and returns its serial number.
fn counting(connects: &AtomicUsize) -> impl FnOnce(&Config) -> Result<usize, BoxError> + '_ {
    move |_| Ok(connects.fetch_add(1, Ordering::SeqCst) + 1)
}

#[test]
fn instance_instance_connects_once() {
    loom::model(|| {
        let base = base();
        let connects = Arc::new(AtomicUsize::new(0));
        let (b, c) = (base.clone(), connects.clone());
        let other = thread::spawn(move || *b.instance_with(counting(&c)).unwrap());
        let mine = *base.instance_with(counting(&connects)).unwrap();
        let theirs = other.join().unwrap();
        assert_eq!(connects.load(Ordering::SeqCst), 1, "exactly one connect");
        assert_eq!((mine, theirs), (1, 1), "both see the one instance");
    });
}

#[test]
fn instance_reset_connects_at_most_once_per_generation() {
    loom::model(|| {
        let base = base();
        let connects = Arc::new(AtomicUsize::new(0));
        let (b, c) = (base.clone(), connects.clone());
        let other = thread::spawn(move || *b.instance_with(counting(&c)).unwrap());
        base.reset();
        let seen = other.join().unwrap();
        assert_eq!(seen, 1);
        assert_eq!(connects.load(Ordering::SeqCst), 1);
        // Whether the connect landed before or after the reset, the next call
        // leaves exactly one instance for the current generation.
        let now = *base.instance_with(counting(&connects)).unwrap();
        let total = connects.load(Ordering::SeqCst);
        assert!(total <= 2 && now == total, "now {now}, total {total}");
        assert_eq!(*base.get().unwrap(), now);
    });
}

#[test]
fn reset_reset_ends_each_generation_once() {
    loom::model(|| {
        let base = base();
        base.instance_with(|_| Ok(1)).unwrap();
        let b = base.clone();
        let other = thread::spawn(move || b.reset());
        base.reset();
        other.join().unwrap();
        assert_eq!(base.generation(), 2);
        assert!(!base.is_connected());
        let connects = AtomicUsize::new(0);
        assert_eq!(*base.instance_with(counting(&connects)).unwrap(), 1);
    });
}

#[test]
fn reset_if_from_two_threads_that_saw_the_same_handle_reconnects_once() {
    loom::model(|| {
        let base = base();
        let connects = Arc::new(AtomicUsize::new(0));
        let broken = base.instance_with(counting(&connects)).unwrap();
        let (b, c, seen) = (base.clone(), connects.clone(), broken.clone());
        let other = thread::spawn(move || {
            let reset = b.reset_if(&seen);
            (reset, *b.instance_with(counting(&c)).unwrap())
        });
        let my_reset = base.reset_if(&broken);
        let mine = *base.instance_with(counting(&connects)).unwrap();
        let (their_reset, theirs) = other.join().unwrap();
        assert!(my_reset ^ their_reset, "exactly one thread resets");
        assert_eq!(connects.load(Ordering::SeqCst), 2, "one reconnect, not two");
        assert_eq!((mine, theirs), (2, 2));
    });
}

fn fail_first(attempts: &AtomicUsize) -> Result<usize, BoxError> {
    let n = attempts.fetch_add(1, Ordering::SeqCst);
    if n == 0 { Err("refused".into()) } else { Ok(n + 1) }
}

#[test]
fn a_failing_connect_is_shared_or_retried_never_stored() {
    loom::model(|| {
        let base = base();
        let attempts = Arc::new(AtomicUsize::new(0));
        let (b, a) = (base.clone(), attempts.clone());
        let other = thread::spawn(move || b.instance_with(|_| fail_first(&a)).map(|v| *v));
        let mine = base.instance_with(|_| fail_first(&attempts)).map(|v| *v);
        let theirs = other.join().unwrap();
        let failures = [&mine, &theirs].iter().filter(|r| r.is_err()).count();
        // A waiter shares the failure (one attempt, two failures) or arrives
        // after it and retries (two attempts, one failure); never more, and
        // a failure is never stored.
        let attempts_made = attempts.load(Ordering::SeqCst);
        assert!(
            (attempts_made == 1 && failures == 2) || (attempts_made == 2 && failures == 1),
            "{attempts_made} attempts, {failures} failures"
        );
        assert_eq!(base.is_connected(), attempts_made == 2);
    });
}

#[test]
fn a_panicking_connect_becomes_an_error_and_poisons_nothing() {
    loom::model(|| {
        let base = base();
        let b = base.clone();
        let other = thread::spawn(move || b.instance_with(|_| panic!("connect exploded")).map(|v| *v));
        let mine = base.instance_with(|_| Ok(7)).map(|v| *v);
        let theirs = other.join().unwrap();
        match (&mine, &theirs) {
            // Ours connected first; theirs was served the stored instance.
            (Ok(7), Ok(7)) => {}
            // Theirs ran first and panicked: we shared its error, or came later and connected.
            (Ok(7) | Err(Error::ConnectPanicked { .. }), Err(Error::ConnectPanicked { message, .. })) => {
                assert!(message.contains("connect exploded"), "{message}");
            }
            other => panic!("unexpected outcome {other:?}"),
        }
        // Nothing is poisoned: the next call connects or returns the stored instance.
        let next = *base.instance_with(|_| Ok(9)).unwrap();
        assert_eq!(next, if mine.is_ok() { 7 } else { 9 });
    });
}

/// Counts connects and closes of [`Closed`]; reset at each model run.
// std's atomics: statics outlive each model run, which resets them.
static CONNECTED: StdAtomicUsize = StdAtomicUsize::new(0);
static CLOSED: StdAtomicUsize = StdAtomicUsize::new(0);

/// A connection with a close hook.
#[derive(connections_core::Connection)]
struct Closed {
    base: BaseConnection<usize>,
}

impl Closed {
    fn _connect(&self, _: &Config) -> Result<usize, BoxError> {
        Ok(CONNECTED.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn _close(_raw: usize) {
        CLOSED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_instance_that_leaves_is_closed_exactly_once() {
    use connections_core::Connection;
    loom::model(|| {
        CONNECTED.store(0, Ordering::SeqCst);
        CLOSED.store(0, Ordering::SeqCst);
        let conn = std::sync::Arc::new(Closed::from_config("m", Config::new("m", toml::Table::new())));
        let c = conn.clone();
        // A connect and a `reset_if` racing a `reset` and a connect: an
        // instance may be stored, replaced, or retired at birth.
        let other = thread::spawn(move || {
            let raw = c.instance().unwrap();
            c.reset_if(&raw);
        });
        conn.reset();
        drop(conn.instance().unwrap());
        other.join().unwrap();
        drop(conn);
        assert_eq!(
            CLOSED.load(Ordering::SeqCst),
            CONNECTED.load(Ordering::SeqCst),
            "every instance closed once, none twice, none left open"
        );
    });
}
