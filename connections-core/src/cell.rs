//! A resettable single-flight cell: the state machine behind `instance()` and
//! behind each factory-cache slot.
//!
//! * Reading a set value is one `arc-swap` load: no lock, no allocation.
//! * Exactly one initialiser runs per generation; every caller that arrives
//!   while it runs waits for it and receives its outcome, success or failure
//!   (no retry storm). A failure stores nothing, so the next caller tries again.
//! * A panicking initialiser is caught and turned into an error; nothing is
//!   poisoned (the lock is never held while user code runs).
//! * `reset()` ends the generation. An initialiser still running for the old
//!   generation hands its result to the callers that waited for it but does not
//!   store it; handles already handed out stay valid until dropped.
//! * The async form ([`AsyncInit`]) keeps the same contract without a runtime:
//!   waiters park their `Waker`s on the attempt. If the future driving the
//!   connect is dropped mid-way, the attempt is abandoned and its waiters wake
//!   and start over, one of them driving a new connect: no generation is left
//!   stuck behind a cancelled task.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
// The async waiters' list uses std's primitives under loom too: loom models the sync path.
use std::sync::atomic::{AtomicBool, Ordering as StdOrdering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arc_swap::Guard;

use self::sync::{AtomicU64, Condvar, Current, Mutex, MutexGuard, Ordering};

/// The primitives, swapped for loom's under `--cfg connections_loom` so the model checker
/// explores every interleaving of the state machine (`tests/loom.rs`).
#[cfg(not(connections_loom))]
mod sync {
    pub(super) use std::sync::atomic::{AtomicU64, Ordering};
    pub(super) use std::sync::{Condvar, Mutex, MutexGuard};

    /// The current value: one lock-free `arc-swap` load to read.
    pub(super) type Current<T> = arc_swap::ArcSwapOption<T>;
}

#[cfg(connections_loom)]
mod sync {
    use std::sync::Arc;

    use arc_swap::Guard;
    pub(super) use loom::sync::atomic::{AtomicU64, Ordering};
    pub(super) use loom::sync::{Condvar, Mutex, MutexGuard};

    /// `arc-swap` is invisible to loom; a loom mutex gives the same
    /// semantics (an atomic swap of an `Option<Arc<T>>`) in a form it models.
    pub(super) struct Current<T>(Mutex<Option<Arc<T>>>);

    impl<T> Current<T> {
        pub(super) fn empty() -> Self {
            Self(Mutex::new(None))
        }
        pub(super) fn load_full(&self) -> Option<Arc<T>> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
        }
        pub(super) fn load(&self) -> Guard<Option<Arc<T>>> {
            Guard::from_inner(self.load_full())
        }
        pub(super) fn store(&self, value: Option<Arc<T>>) {
            *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = value;
        }
        pub(super) fn swap(&self, value: Option<Arc<T>>) -> Option<Arc<T>> {
            std::mem::replace(
                &mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
                value,
            )
        }
    }
}

/// One run of the initialiser; waiters hold it until its outcome is set.
struct Attempt<T, E> {
    outcome: OnceLock<Result<Arc<T>, E>>,
    /// Set when the future driving an async attempt was dropped before it finished.
    abandoned: AtomicBool,
    /// Async waiters, woken once the outcome is set or the attempt is abandoned.
    wakers: StdMutex<Wakers>,
}

#[derive(Default)]
struct Wakers {
    next_id: u64,
    list: Vec<(u64, Waker)>,
}

impl<T, E> Attempt<T, E> {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            outcome: OnceLock::new(),
            abandoned: AtomicBool::new(false),
            wakers: StdMutex::new(Wakers::default()),
        })
    }

    fn is_abandoned(&self) -> bool {
        self.abandoned.load(StdOrdering::Acquire)
    }

    fn wakers(&self) -> StdMutexGuard<'_, Wakers> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every async waiter. Called after the outcome (or `abandoned`)
    /// is set, so a waiter that registers under the lock either sees it or
    /// is in the list taken here: no wake-up is lost.
    fn wake_all(&self) {
        let list = std::mem::take(&mut self.wakers().list);
        for (_, waker) in list {
            waker.wake();
        }
    }
}

struct State<T, E> {
    /// The attempt running for the current generation, if any.
    inflight: Option<Arc<Attempt<T, E>>>,
    /// Values that left the cell (a reset, or an attempt whose generation
    /// ended before it finished), with their generation, when `keep_retired`
    /// is set: their owner closes them.
    retired: Vec<(u64, Arc<T>)>,
}

/// What [`SingleFlight::wait_for_attempt`] saw.
pub(crate) enum Wait<T, E> {
    /// The value, or the in-flight attempt's outcome.
    Done(Result<Arc<T>, E>),
    /// The attempt is still running.
    TimedOut,
    /// No value and no attempt in flight.
    Idle,
}

pub(crate) struct SingleFlight<T, E> {
    current: Current<T>,
    /// Bumped by every reset; written under `state`'s lock, read anywhere.
    generation: AtomicU64,
    state: Mutex<State<T, E>>,
    done: Condvar,
    /// Keep retired values for [`take_retired`](SingleFlight::take_retired)
    /// (a connection with a close hook); otherwise they are just dropped.
    keep_retired: bool,
}

impl<T, E> SingleFlight<T, E> {
    pub(crate) fn new() -> Self {
        Self {
            current: Current::empty(),
            generation: AtomicU64::new(0),
            state: Mutex::new(State {
                inflight: None,
                retired: Vec::new(),
            }),
            done: Condvar::new(),
            keep_retired: false,
        }
    }

    /// Keeps every value that leaves the cell until [`take_retired`](SingleFlight::take_retired).
    pub(crate) fn keep_retired(&mut self) {
        self.keep_retired = true;
    }

    /// The values that left the cell since the last call, each exactly once.
    pub(crate) fn take_retired(&self) -> Vec<(u64, Arc<T>)> {
        if !self.keep_retired {
            return Vec::new();
        }
        std::mem::take(&mut self.lock().retired)
    }

    /// Ends the cell for good (its owner is dropped): the current value
    /// joins the retired ones, and all are returned.
    pub(crate) fn take_all(&self) -> Vec<(u64, Arc<T>)> {
        if !self.keep_retired {
            return Vec::new();
        }
        let mut state = self.lock();
        self.end_generation(&mut state);
        std::mem::take(&mut state.retired)
    }

    /// The value of the current generation, if it is set. Never blocks.
    #[inline]
    pub(crate) fn get(&self) -> Option<Arc<T>> {
        self.current.load_full()
    }

    /// Borrows the current value without touching its reference count.
    #[inline]
    pub(crate) fn peek(&self) -> Guard<Option<Arc<T>>> {
        self.current.load()
    }

    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.current.load().is_some()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, State<T, E>> {
        // The lock is never held across user code, so a poisoned lock can only
        // come from a bug here; its state is still consistent, so carry on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the current value, running `init` if there is none.
    ///
    /// `on_panic` turns a caught panic's message into the error handed to every waiter.
    #[inline]
    pub(crate) fn get_or_try_init(
        &self,
        init: impl FnOnce() -> Result<Arc<T>, E>,
        on_panic: impl FnOnce(String) -> E,
    ) -> Result<Arc<T>, E>
    where
        E: Clone,
    {
        if let Some(value) = self.current.load_full() {
            return Ok(value);
        }
        self.init_slow(init, on_panic)
    }

    #[cold]
    fn init_slow(
        &self,
        init: impl FnOnce() -> Result<Arc<T>, E>,
        on_panic: impl FnOnce(String) -> E,
    ) -> Result<Arc<T>, E>
    where
        E: Clone,
    {
        let mut state = self.lock();
        if let Some(value) = self.current.load_full() {
            return Ok(value);
        }
        while let Some(attempt) = state.inflight.clone() {
            // Someone is connecting: wait for that attempt and share its outcome.
            loop {
                if let Some(outcome) = attempt.outcome.get() {
                    return outcome.clone();
                }
                if attempt.is_abandoned() {
                    // Its driver was dropped: start over (connect, or wait for the new attempt).
                    break;
                }
                state = self.done.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if let Some(value) = self.current.load_full() {
                return Ok(value);
            }
        }
        let attempt = Attempt::new();
        state.inflight = Some(Arc::clone(&attempt));
        let generation = self.generation.load(Ordering::Acquire);
        drop(state);

        // No lock is held while user code runs.
        let outcome = match catch_unwind(AssertUnwindSafe(init)) {
            Ok(result) => result,
            Err(payload) => Err(on_panic(panic_message(payload.as_ref()))),
        };

        self.finish(&attempt, generation, &outcome);
        outcome
    }

    /// Publishes an attempt's outcome: stored if its generation is still
    /// current and it succeeded; handed to every waiter either way.
    fn finish(&self, attempt: &Attempt<T, E>, generation: u64, outcome: &Result<Arc<T>, E>)
    where
        E: Clone,
    {
        let mut relocked = self.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            if let Ok(value) = outcome {
                self.current.store(Some(Arc::clone(value)));
            }
            relocked.inflight = None;
        } else if let Ok(value) = outcome
            && self.keep_retired
        {
            // Connected for a generation already ended: retired at birth.
            relocked.retired.push((generation, Arc::clone(value)));
        }
        // Set under the lock, so a waiter cannot check, miss it and then sleep forever.
        let _ = attempt.outcome.set(outcome.clone());
        drop(relocked);
        self.done.notify_all();
        attempt.wake_all();
    }

    /// Gives up an async attempt whose driver was dropped: its waiters wake
    /// and start over, and the next caller connects.
    fn abandon(&self, attempt: &Arc<Attempt<T, E>>) {
        let mut state = self.lock();
        if state.inflight.as_ref().is_some_and(|a| Arc::ptr_eq(a, attempt)) {
            state.inflight = None;
        }
        attempt.abandoned.store(true, StdOrdering::Release);
        drop(state);
        self.done.notify_all();
        attempt.wake_all();
    }

    /// Waits up to `timeout` for the attempt in flight, without starting one.
    pub(crate) fn wait_for_attempt(&self, timeout: Duration) -> Wait<T, E>
    where
        E: Clone,
    {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        if let Some(value) = self.current.load_full() {
            return Wait::Done(Ok(value));
        }
        let Some(attempt) = state.inflight.clone() else {
            return Wait::Idle;
        };
        loop {
            if let Some(outcome) = attempt.outcome.get() {
                return Wait::Done(outcome.clone());
            }
            if attempt.is_abandoned() {
                return Wait::Idle;
            }
            let now = Instant::now();
            if now >= deadline {
                return Wait::TimedOut;
            }
            state = self
                .done
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Ends the generation: the next `get_or_try_init` runs the initialiser again.
    pub(crate) fn reset(&self) {
        let mut state = self.lock();
        self.end_generation(&mut state);
    }

    /// Resets only if `stale` is still the current value; returns whether it did.
    ///
    /// Many threads that saw the same broken value call this; the first one
    /// resets and the others find a newer (or no) value and leave it alone.
    pub(crate) fn reset_if(&self, seen: &Arc<T>) -> bool {
        let mut state = self.lock();
        let is_current = self.current.load().as_ref().is_some_and(|cur| Arc::ptr_eq(cur, seen));
        if is_current {
            self.end_generation(&mut state);
        }
        is_current
    }

    fn end_generation(&self, state: &mut State<T, E>) {
        let ended = self.generation.fetch_add(1, Ordering::AcqRel);
        state.inflight = None;
        let old = self.current.swap(None);
        if let Some(old) = old
            && self.keep_retired
        {
            state.retired.push((ended, old));
        }
    }
}

/// A connect in flight: the future an [`AsyncInit`] drives.
pub(crate) type Connect<'a, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// How an [`AsyncInit`] starts a connect, names a panic and traces the outcome.
pub(crate) trait Connector<'a, T, E> {
    /// The connect future (called once, by the caller that drives the attempt).
    fn start(&self) -> Connect<'a, T, E>;
    /// The error for a connect that panicked, from the panic's message.
    fn panicked(&self, message: String) -> E;
    /// The tracing span the connect runs in (entered while it is polled).
    fn span(&self) -> tracing::Span;
    /// Called once the connect has ended, inside its span.
    fn finished(&self, outcome: &Result<Arc<T>, E>, started: Instant);
}

enum Phase<'a, T, E> {
    /// Not yet looked at the cell (or told to start over).
    Start,
    /// This future runs the generation's connect.
    Driving {
        attempt: Arc<Attempt<T, E>>,
        generation: u64,
        connect: Connect<'a, T, E>,
        span: tracing::Span,
        started: Instant,
    },
    /// Another future runs it; this one waits for its outcome.
    Waiting {
        attempt: Arc<Attempt<T, E>>,
        id: Option<u64>,
    },
}

/// The async twin of [`SingleFlight::get_or_try_init`], as a state machine
/// polled by the connection's `instance()` future.
///
/// No runtime is assumed: waiting is done with the `Waker` of the task that
/// polls, and no lock is held while the connect runs or across a `Pending`.
pub(crate) struct AsyncInit<'a, T, E> {
    cell: &'a SingleFlight<T, E>,
    phase: Phase<'a, T, E>,
}

impl<'a, T, E> AsyncInit<'a, T, E> {
    pub(crate) fn new(cell: &'a SingleFlight<T, E>) -> Self {
        Self {
            cell,
            phase: Phase::Start,
        }
    }

    /// Polls for the current value, starting or joining the generation's connect.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, connector: &impl Connector<'a, T, E>) -> Poll<Result<Arc<T>, E>>
    where
        E: Clone,
    {
        loop {
            match &mut self.phase {
                Phase::Start => {
                    if let Some(value) = self.cell.current.load_full() {
                        return Poll::Ready(Ok(value));
                    }
                    let mut state = self.cell.lock();
                    if let Some(value) = self.cell.current.load_full() {
                        return Poll::Ready(Ok(value));
                    }
                    if let Some(attempt) = state.inflight.clone() {
                        self.phase = Phase::Waiting { attempt, id: None };
                        continue;
                    }
                    let attempt = Attempt::new();
                    state.inflight = Some(Arc::clone(&attempt));
                    let generation = self.cell.generation.load(Ordering::Acquire);
                    drop(state);
                    let span = connector.span();
                    let started = Instant::now();
                    // Calling the connect function runs user code too (a `connect = path`
                    // may do work before returning its future).
                    match span.in_scope(|| catch_unwind(AssertUnwindSafe(|| connector.start()))) {
                        Ok(connect) => {
                            self.phase = Phase::Driving {
                                attempt,
                                generation,
                                connect,
                                span,
                                started,
                            };
                        }
                        Err(payload) => {
                            let outcome = Err(connector.panicked(panic_message(payload.as_ref())));
                            self.cell.finish(&attempt, generation, &outcome);
                            return Poll::Ready(outcome);
                        }
                    }
                }
                Phase::Driving {
                    attempt,
                    generation,
                    connect,
                    span,
                    started,
                } => {
                    let entered = span.enter();
                    let polled = catch_unwind(AssertUnwindSafe(|| connect.as_mut().poll(cx)));
                    let outcome = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(raw))) => Ok(Arc::new(raw)),
                        Ok(Poll::Ready(Err(error))) => Err(error),
                        Err(payload) => Err(connector.panicked(panic_message(payload.as_ref()))),
                    };
                    connector.finished(&outcome, *started);
                    drop(entered);
                    let (attempt, generation) = (Arc::clone(attempt), *generation);
                    // Drop the finished connect before publishing; `Start` so that a
                    // poll after completion starts afresh instead of abandoning.
                    self.phase = Phase::Start;
                    self.cell.finish(&attempt, generation, &outcome);
                    return Poll::Ready(outcome);
                }
                Phase::Waiting { attempt, id } => {
                    if let Some(outcome) = attempt.outcome.get() {
                        let outcome = outcome.clone();
                        self.stop_waiting();
                        return Poll::Ready(outcome);
                    }
                    let mut wakers = attempt.wakers();
                    if let Some(outcome) = attempt.outcome.get() {
                        let outcome = outcome.clone();
                        drop(wakers);
                        self.stop_waiting();
                        return Poll::Ready(outcome);
                    }
                    if attempt.is_abandoned() {
                        drop(wakers);
                        self.stop_waiting();
                        continue;
                    }
                    let waker = cx.waker();
                    let known = id.and_then(|id| wakers.list.iter_mut().find(|(i, _)| *i == id));
                    if let Some((_, registered)) = known {
                        if !registered.will_wake(waker) {
                            registered.clone_from(waker);
                        }
                    } else {
                        let new_id = wakers.next_id;
                        wakers.next_id += 1;
                        wakers.list.push((new_id, waker.clone()));
                        *id = Some(new_id);
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Leaves `Waiting`: takes this waiter's waker off the attempt.
    fn stop_waiting(&mut self) {
        if let Phase::Waiting { attempt, id: Some(id) } = std::mem::replace(&mut self.phase, Phase::Start) {
            attempt.wakers().list.retain(|(i, _)| *i != id);
        }
    }
}

impl<T, E> Drop for AsyncInit<'_, T, E> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Start) {
            Phase::Driving {
                attempt, connect, span, ..
            } => {
                // Cancelled mid-connect: drop the connect, then let a waiter take over.
                span.in_scope(|| tracing::debug!("connect cancelled: its future was dropped"));
                drop(connect);
                self.cell.abandon(&attempt);
            }
            waiting @ Phase::Waiting { .. } => {
                self.phase = waiting;
                self.stop_waiting();
            }
            Phase::Start => {}
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

#[cfg(all(test, not(connections_loom)))]
mod tests {
    use super::*;
    use crate::Error;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;
    use std::thread;
    use std::time::Duration;

    fn boom(msg: String) -> Error {
        Error::ConnectPanicked {
            name: "t".into(),
            type_path: "t",
            message: msg,
        }
    }

    #[test]
    fn waiters_share_one_failure_and_the_next_call_retries() {
        let cell = Arc::new(SingleFlight::<u32, Error>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (cell, runs, entered) = (cell.clone(), runs.clone(), entered.clone());
                thread::spawn(move || {
                    entered.fetch_add(1, Ordering::SeqCst);
                    cell.get_or_try_init(
                        || {
                            runs.fetch_add(1, Ordering::SeqCst);
                            // Hold the attempt open until every thread has asked.
                            while entered.load(Ordering::SeqCst) < 8 {
                                thread::yield_now();
                            }
                            thread::sleep(Duration::from_millis(200));
                            Err(Error::InvalidOption {
                                option: "x",
                                problem: "fail",
                            })
                        },
                        boom,
                    )
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap().is_err());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "waiters must share the one failure");
        assert!(!cell.is_set());
        let v = cell.get_or_try_init(|| Ok(Arc::new(7)), boom).unwrap();
        assert_eq!(*v, 7);
    }

    #[test]
    fn reset_during_connect_does_not_store_the_stale_result() {
        let cell = Arc::new(SingleFlight::<u32, Error>::new());
        let started = Arc::new(Barrier::new(2));
        let c2 = cell.clone();
        let s2 = started.clone();
        let t = thread::spawn(move || {
            c2.get_or_try_init(
                || {
                    s2.wait();
                    thread::sleep(Duration::from_millis(30));
                    Ok(Arc::new(1))
                },
                boom,
            )
        });
        started.wait();
        cell.reset();
        assert_eq!(*t.join().unwrap().unwrap(), 1);
        assert!(!cell.is_set(), "a result of an ended generation must not be stored");
        assert_eq!(*cell.get_or_try_init(|| Ok(Arc::new(2)), boom).unwrap(), 2);
    }
}
