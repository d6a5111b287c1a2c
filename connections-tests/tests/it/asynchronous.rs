//! `#[connection(async)]`: the sync contract (one connect per generation,
//! shared failures, panics as errors, `reset_if`) under tokio (multi- and
//! current-thread) and under `futures::executor`, plus cancellation: a
//! dropped driver never leaves a generation stuck.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use connections::prelude::*;
use connections::{Connecting, Registry};
use tokio::sync::watch;

/// An async connection whose connect waits for a gate to open, counts its
/// runs, can be told to fail or panic, and counts its connect futures dropped
/// unfinished (cancelled).
#[derive(Connection)]
#[connection(type_name = "async-gated", async)]
struct Gated {
    base: BaseConnection<Raw>,
    script: Script,
}

#[derive(Debug)]
struct Raw {
    serial: usize,
}

struct Script {
    gate: watch::Sender<bool>,
    runs: AtomicUsize,
    cancelled: Arc<AtomicUsize>,
    fail_next: AtomicUsize,
    panic_next: AtomicUsize,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            gate: watch::Sender::new(true),
            runs: AtomicUsize::new(0),
            cancelled: Arc::new(AtomicUsize::new(0)),
            fail_next: AtomicUsize::new(0),
            panic_next: AtomicUsize::new(0),
        }
    }
}

/// Counts a connect future dropped before it finished.
struct CancelGuard {
    cancelled: Arc<AtomicUsize>,
    finished: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Gated {
    async fn _connect(&self, _config: &Config) -> Result<Raw, BoxError> {
        let serial = self.script.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let mut guard = CancelGuard {
            cancelled: Arc::clone(&self.script.cancelled),
            finished: false,
        };
        let mut gate = self.script.gate.subscribe();
        gate.wait_for(|open| *open).await.map_err(|_| "gate dropped")?;
        guard.finished = true;
        assert!(!take_one(&self.script.panic_next), "scripted panic in connect {serial}");
        if take_one(&self.script.fail_next) {
            return Err(format!("scripted failure of connect {serial}").into());
        }
        Ok(Raw { serial })
    }

    fn new(name: &str) -> Self {
        Self::from_config(name, Config::new(name, Table::new()))
    }

    fn close_gate(&self) {
        self.script.gate.send_replace(false);
    }

    fn open_gate(&self) {
        self.script.gate.send_replace(true);
    }

    fn runs(&self) -> usize {
        self.script.runs.load(Ordering::SeqCst)
    }

    fn cancelled(&self) -> usize {
        self.script.cancelled.load(Ordering::SeqCst)
    }
}

type Table = toml::Table;

/// A waker that counts its wake-ups, for polling by hand.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (Arc::clone(&counter), Waker::from(counter))
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Many tasks ask at once while the connect is held open: one connect, one
/// instance for all.
async fn sixteen_tasks_share_one_connect(
    conn: Arc<Gated>,
    spawn: impl Fn(Arc<Gated>) -> tokio::task::JoinHandle<Arc<Raw>>,
) {
    conn.close_gate();
    let tasks: Vec<_> = (0..16).map(|_| spawn(Arc::clone(&conn))).collect();
    // Let every task reach the connect or its wait before opening.
    while conn.runs() == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..32 {
        tokio::task::yield_now().await;
    }
    conn.open_gate();
    let mut raws = Vec::new();
    for task in tasks {
        raws.push(task.await.unwrap());
    }
    assert_eq!(conn.runs(), 1, "exactly one connect for 16 tasks");
    assert!(raws.iter().all(|raw| Arc::ptr_eq(raw, &raws[0])));
}

#[test]
fn one_connect_for_many_tasks_on_tokio_multi_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = Arc::new(Gated::new("async_mt"));
        // `tokio::spawn` needs a `Send` future: the `instance()` future is one.
        sixteen_tasks_share_one_connect(conn, |c| tokio::spawn(async move { c.instance().await.unwrap() })).await;
    });
}

#[test]
fn one_connect_for_many_tasks_on_tokio_current_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let conn = Arc::new(Gated::new("async_ct"));
        sixteen_tasks_share_one_connect(conn, |c| tokio::spawn(async move { c.instance().await.unwrap() })).await;
    });
}

#[test]
fn one_connect_for_many_threads_under_futures_executor() {
    // No tokio runtime anywhere: each thread runs its own `block_on`.
    let conn = Arc::new(Gated::new("async_futures"));
    conn.close_gate();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let conn = Arc::clone(&conn);
            std::thread::spawn(move || futures_executor::block_on(conn.instance()).unwrap())
        })
        .collect();
    while conn.runs() == 0 {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(20));
    conn.open_gate();
    let raws: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(conn.runs(), 1);
    assert!(raws.iter().all(|raw| Arc::ptr_eq(raw, &raws[0])));
    // Connected: the next call is ready at its first poll.
    let (_, waker) = counting_waker();
    let mut again = conn.instance();
    assert!(matches!(poll_once(&mut again, &waker), Poll::Ready(Ok(raw)) if Arc::ptr_eq(&raw, &raws[0])));
}

#[test]
fn waiters_share_a_failure_which_is_not_cached() {
    let conn = Gated::new("async_fail");
    conn.close_gate();
    conn.script.fail_next.store(1, Ordering::SeqCst);
    let (_, waker) = counting_waker();
    let mut driver = conn.instance();
    let mut waiter = conn.instance();
    assert!(poll_once(&mut driver, &waker).is_pending());
    assert!(poll_once(&mut waiter, &waker).is_pending());
    conn.open_gate();
    let Poll::Ready(Err(first)) = poll_once(&mut driver, &waker) else {
        panic!("the driver fails")
    };
    let Poll::Ready(Err(second)) = poll_once(&mut waiter, &waker) else {
        panic!("the waiter shares it")
    };
    assert!(matches!(first, Error::ConnectFailed { .. }), "{first}");
    assert_eq!(first.to_string(), second.to_string());
    assert_eq!(conn.runs(), 1, "the waiter did not retry on its own");
    assert!(!conn.is_connected());
    let raw = futures_executor::block_on(conn.instance()).unwrap();
    assert_eq!((raw.serial, conn.runs()), (2, 2), "the next call connects again");
}

#[test]
fn a_panicking_connect_becomes_an_error_and_poisons_nothing() {
    let conn = Gated::new("async_panic");
    conn.script.panic_next.store(1, Ordering::SeqCst);
    let err = futures_executor::block_on(conn.instance()).unwrap_err();
    assert!(matches!(err, Error::ConnectPanicked { .. }), "{err}");
    assert!(err.to_string().contains("scripted panic in connect 1"), "{err}");
    assert_eq!(futures_executor::block_on(conn.instance()).unwrap().serial, 2);
}

#[test]
fn dropping_the_driver_hands_the_connect_to_a_waiter() {
    let conn = Gated::new("async_cancel_waiter");
    conn.close_gate();
    let (driver_count, driver_waker) = counting_waker();
    let (waiter_count, waiter_waker) = counting_waker();
    let mut driver = conn.instance();
    let mut waiter = conn.instance();
    assert!(poll_once(&mut driver, &driver_waker).is_pending());
    assert!(poll_once(&mut waiter, &waiter_waker).is_pending());
    assert_eq!(conn.runs(), 1);

    drop(driver); // the task driving the connect is cancelled mid-way
    assert_eq!(conn.cancelled(), 1, "the unfinished connect future was dropped");
    assert_eq!(
        waiter_count.0.load(Ordering::SeqCst),
        1,
        "the waiter is woken to take over"
    );
    assert_eq!(driver_count.0.load(Ordering::SeqCst), 0);

    // The waiter now drives a fresh connect.
    assert!(poll_once(&mut waiter, &waiter_waker).is_pending());
    assert_eq!(conn.runs(), 2);
    conn.open_gate();
    let Poll::Ready(Ok(raw)) = poll_once(&mut waiter, &waiter_waker) else {
        panic!("the new driver connects")
    };
    assert_eq!(raw.serial, 2);
    assert!(conn.is_connected());
}

#[test]
fn dropping_the_only_driver_leaves_the_next_caller_free_to_connect() {
    let conn = Gated::new("async_cancel_alone");
    conn.close_gate();
    let (_, waker) = counting_waker();
    let mut driver = conn.instance();
    assert!(poll_once(&mut driver, &waker).is_pending());
    drop(driver);
    assert!(!conn.is_connected());
    conn.open_gate();
    let raw = futures_executor::block_on(conn.instance()).unwrap();
    assert_eq!((raw.serial, conn.runs(), conn.cancelled()), (2, 2, 1));
}

#[test]
fn a_runtime_timeout_cancels_safely() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = Gated::new("async_timeout");
        conn.close_gate();
        let timed_out = tokio::time::timeout(Duration::from_millis(20), conn.instance()).await;
        assert!(timed_out.is_err(), "the gate is closed: the connect cannot finish");
        conn.open_gate();
        let raw = tokio::time::timeout(Duration::from_secs(30), conn.instance())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(raw.serial, 2);
        assert_eq!(conn.cancelled(), 1);
    });
}

#[test]
fn reset_during_a_connect_does_not_store_the_stale_instance() {
    let conn = Gated::new("async_reset_mid");
    conn.close_gate();
    let (_, waker) = counting_waker();
    let mut old = conn.instance();
    assert!(poll_once(&mut old, &waker).is_pending());
    conn.reset();
    conn.open_gate();
    let Poll::Ready(Ok(stale)) = poll_once(&mut old, &waker) else {
        panic!("the old attempt finishes")
    };
    assert_eq!(stale.serial, 1);
    assert!(!conn.is_connected(), "an ended generation's result is not stored");
    assert_eq!(futures_executor::block_on(conn.instance()).unwrap().serial, 2);
}

#[test]
fn reset_if_from_many_tasks_reconnects_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = Arc::new(Gated::new("async_reset_if"));
        let broken = conn.instance().await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (conn, broken) = (Arc::clone(&conn), Arc::clone(&broken));
                tokio::spawn(async move {
                    let reset = conn.reset_if(&broken);
                    (reset, conn.instance().await.unwrap())
                })
            })
            .collect();
        let mut resets = 0;
        for task in tasks {
            let (reset, raw) = task.await.unwrap();
            resets += usize::from(reset);
            assert_eq!(raw.serial, 2, "everyone gets the one new instance");
        }
        assert_eq!(resets, 1);
        assert_eq!(conn.runs(), 2);
    });
}

#[test]
fn the_instance_future_is_send_and_named() {
    fn assert_send<T: Send>(_: &T) {}
    let conn = Gated::new("async_send");
    let future: Connecting<'_, Gated> = conn.instance();
    assert_send(&future);
    assert!(format!("{future:?}").contains("async_send"));
}

#[test]
fn polling_after_completion_returns_the_instance_again() {
    let conn = Gated::new("async_repoll");
    let (_, waker) = counting_waker();
    let mut future = pin!(conn.instance());
    let Poll::Ready(Ok(first)) = future.as_mut().poll(&mut Context::from_waker(&waker)) else {
        panic!()
    };
    let Poll::Ready(Ok(again)) = future.as_mut().poll(&mut Context::from_waker(&waker)) else {
        panic!()
    };
    assert!(Arc::ptr_eq(&first, &again));
}

#[test]
fn dynamic_lookup_connects_async_connections_with_connect_async() {
    let reg = Registry::builder()
        .secrets_toml("inline", "[connections.async_dyn]\ntype = 'async-gated'")
        .build();
    let any = reg.connection_dyn("async_dyn").unwrap();
    assert!(any.is_async());
    let err = any.connect().unwrap_err();
    assert!(matches!(err, Error::AsyncConnection { .. }), "{err}");
    assert!(err.to_string().contains("write `.connect_async().await`"), "{err}");
    futures_executor::block_on(any.connect_async()).unwrap();
    assert!(any.is_connected());
    let typed = any.downcast::<Gated>().ok().unwrap();
    assert_eq!(futures_executor::block_on(typed.instance()).unwrap().serial, 1);
}

#[test]
fn eager_lookup_of_an_async_connection_is_refused_and_caches_nothing() {
    let reg = Registry::builder()
        .secrets_toml("inline", "[connections.async_eager]\ntype = 'async-gated'")
        .build();
    let Err(err) = reg.lookup("async_eager").eager(true).get::<Gated>() else {
        panic!("refused")
    };
    assert!(err.to_string().contains("then `conn.instance().await`"), "{err}");
    assert_eq!(reg.cached_len(), 0);
    let conn = reg.connection::<Gated>("async_eager").unwrap();
    assert!(!conn.is_connected());
}

/// Many tasks on many threads mixing `instance`, `reset` and `reset_if`, bounded by
/// time: every instance is created once per generation and dropped exactly once.
#[test]
fn stress_tasks_mixing_instance_and_resets() {
    static CREATED: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    #[derive(Connection)]
    #[connection(async)]
    struct Tracked {
        base: BaseConnection<Probe>,
    }
    struct Probe;
    impl Drop for Probe {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    impl Tracked {
        async fn _connect(&self, _: &Config) -> Result<Probe, BoxError> {
            tokio::task::yield_now().await;
            CREATED.fetch_add(1, Ordering::SeqCst);
            Ok(Probe)
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let conn = Arc::new(Tracked::from_config(
        "async_stress",
        Config::new("async_stress", Table::new()),
    ));
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    runtime.block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let conn = Arc::clone(&conn);
                tokio::spawn(async move {
                    let mut n = 0_u64;
                    while std::time::Instant::now() < deadline {
                        let raw = conn.instance().await.unwrap();
                        match (i + n) % 7 {
                            0 => conn.reset(),
                            1 => {
                                conn.reset_if(&raw);
                            }
                            _ => {}
                        }
                        n += 1;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let watchdog = tokio::time::timeout(Duration::from_mins(1), async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        watchdog.await.expect("no deadlock: every task finished");
    });
    drop(runtime);
    // Nothing was cancelled, so each generation had at most one connect.
    let created = CREATED.load(Ordering::SeqCst);
    let generations = usize::try_from(conn.generation()).unwrap() + 1;
    assert!(
        created <= generations,
        "{created} connects for {generations} generations"
    );
    assert!(created > 1, "the stress reset and reconnected");
    drop(Arc::try_unwrap(conn).ok().expect("the last handle"));
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        CREATED.load(Ordering::SeqCst),
        "every instance dropped exactly once"
    );
}
