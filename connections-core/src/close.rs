//! Close hooks: a retired raw instance is closed once nothing uses it.
//!
//! An instance is *retired* when its generation ends (`reset`, a reload that
//! changed its section, a retry) or when the connection holding it is dropped
//! (evicted, expired or cleared from a registry's cache and no longer held).
//! Retired instances of a type with a close hook wait in a [`CloseQueue`]
//! until a *sweep* finds their last handle gone (`Arc::try_unwrap`), so a
//! close never runs under a caller still using the instance. Sweeps run on
//! the cold paths: a reset, a connect, a lookup that builds, `clear_cache`, a
//! reload, a registry's drop or [`shutdown`](crate::Registry::shutdown).
//!
//! A sync hook runs in the sweeping thread. An async hook's future is handed
//! to whatever drives closes, a [`Closer`] the application spawned or a
//! `shutdown().await`: the core starts no task and assumes no runtime.
//! Errors and panics in hooks are logged, never raised, and never stop the
//! other closes.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::{BoxError, cause_chain};
use crate::health::{Labels, Stats};
use crate::trace::{Redactor, elapsed_us};

thread_local! {
    /// How many [`DeferSweeps`] guards this thread holds.
    static DEFERRED: Cell<u32> = const { Cell::new(0) };
}

/// While alive, a connection dropped on this thread queues its instances
/// without sweeping: the registry holds a lock (its cache's, a reload's)
/// under which no hook, which is user code, may run. The registry sweeps
/// once it lets go.
pub(crate) struct DeferSweeps(());

impl DeferSweeps {
    pub(crate) fn new() -> Self {
        DEFERRED.with(|d| d.set(d.get() + 1));
        Self(())
    }
}

impl Drop for DeferSweeps {
    fn drop(&mut self) {
        DEFERRED.with(|d| d.set(d.get() - 1));
    }
}

/// Whether this thread is inside a [`DeferSweeps`].
pub(crate) fn sweeps_deferred() -> bool {
    DEFERRED.with(|d| d.get() > 0)
}

/// The future an async close hook returns, boxed.
pub type CloseFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// What a close hook returned: its outcome (sync) or a future of it (async).
pub enum Closing {
    /// A sync hook ran: its outcome.
    Done(Result<(), BoxError>),
    /// An async hook: the future to drive.
    Pending(CloseFuture),
}

/// A connection type's close hook, as the derive makes it.
pub struct CloseHook<R> {
    close: fn(R) -> Closing,
    /// Boxes a retired instance for the type-erased queue (made where `R`'s
    /// bounds are known, so `BaseConnection`'s `Drop` needs none).
    enqueue: fn(&CloseQueue, Retiring<R>),
}

impl<R> Clone for CloseHook<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for CloseHook<R> {}

impl<R: Send + Sync + 'static> CloseHook<R> {
    /// The hook that calls `close`.
    pub(crate) fn new(close: fn(R) -> Closing) -> Self {
        Self {
            close,
            enqueue: enqueue::<R>,
        }
    }
}

impl<R> CloseHook<R> {
    /// Queues `raw`, of connection `meta`, to be closed once nothing uses it.
    pub(crate) fn retire(self, queue: &CloseQueue, raw: Arc<R>, meta: CloseMeta) {
        (self.enqueue)(
            queue,
            Retiring {
                raw,
                close: self.close,
                meta,
            },
        );
    }
}

fn enqueue<R: Send + Sync + 'static>(queue: &CloseQueue, retiring: Retiring<R>) {
    queue.lock().retired.push(Box::new(retiring));
}

/// Which instance a close is for: what its span and log lines name.
pub(crate) struct CloseMeta {
    pub(crate) name: Box<str>,
    pub(crate) type_name: &'static str,
    pub(crate) type_path: &'static str,
    /// The connection's counters: a close counts as one.
    pub(crate) stats: Arc<Stats>,
    pub(crate) generation: u64,
    /// Redacts the hook's error messages: they may quote a config value.
    pub(crate) redactor: Redactor,
}

impl CloseMeta {
    fn span(&self) -> tracing::Span {
        tracing::debug_span!(
            "close",
            connection = &*self.name,
            type_path = self.type_path,
            generation = self.generation
        )
    }
}

/// A retired instance waiting for its last handle to go.
pub(crate) struct Retiring<R> {
    raw: Arc<R>,
    close: fn(R) -> Closing,
    meta: CloseMeta,
}

/// A retired instance, type-erased for the queue.
trait Retired: Send {
    /// Runs the hook if nothing else holds the instance; `self` back if something does.
    fn try_close(self: Box<Self>) -> Result<Started, Box<dyn Retired>>;
    fn meta(&self) -> &CloseMeta;
}

impl<R: Send + Sync + 'static> Retired for Retiring<R> {
    fn try_close(self: Box<Self>) -> Result<Started, Box<dyn Retired>> {
        let Retiring { raw, close, meta } = *self;
        // Atomic: succeeds only if this is the last strong reference, and no
        // new one can be made from it meanwhile (no `Weak` is ever handed out).
        match Arc::try_unwrap(raw) {
            Ok(raw) => Ok(start(close, raw, meta)),
            Err(raw) => Err(Box::new(Retiring { raw, close, meta })),
        }
    }

    fn meta(&self) -> &CloseMeta {
        &self.meta
    }
}

/// A close whose hook has been called.
enum Started {
    /// Finished (sync), and logged.
    Done,
    /// An async hook's future, not yet polled.
    Pending(PendingClose),
}

/// Calls the hook in the close's span, catching a panic.
fn start<R>(close: fn(R) -> Closing, raw: R, meta: CloseMeta) -> Started {
    let span = meta.span();
    let started = Instant::now();
    let called = span.in_scope(|| catch_unwind(AssertUnwindSafe(|| close(raw))));
    match called {
        Ok(Closing::Done(outcome)) => {
            span.in_scope(|| traced_close(&meta, started, outcome.map_err(Failure::Error)));
            Started::Done
        }
        Ok(Closing::Pending(future)) => Started::Pending(PendingClose {
            future,
            meta,
            span,
            started,
        }),
        Err(payload) => {
            span.in_scope(|| {
                traced_close(
                    &meta,
                    started,
                    Err(Failure::Panic(crate::cell::panic_message(&*payload))),
                );
            });
            Started::Done
        }
    }
}

enum Failure {
    Error(BoxError),
    Panic(String),
}

/// The event that ends a close's span. Failures are logged at ERROR, with
/// config values redacted: a close is never raised to anyone.
fn traced_close(meta: &CloseMeta, started: Instant, outcome: Result<(), Failure>) {
    let elapsed_us = elapsed_us(started);
    let labels = Labels {
        name: &meta.name,
        type_name: meta.type_name,
    };
    meta.stats.closed(labels, outcome.is_ok());
    match outcome {
        Ok(()) => tracing::debug!(elapsed_us, "closed"),
        Err(Failure::Error(error)) => {
            let error = meta.redactor.redact(&cause_chain(&*error));
            tracing::error!(
                elapsed_us,
                error,
                "closing connection `{}` ({}) failed: {error}",
                meta.name,
                meta.type_path
            );
        }
        Err(Failure::Panic(message)) => {
            let message = meta.redactor.redact(&message);
            tracing::error!(
                elapsed_us,
                panic = message,
                "closing connection `{}` ({}) panicked: {message}",
                meta.name,
                meta.type_path
            );
        }
    }
}

/// An async close in progress.
struct PendingClose {
    future: CloseFuture,
    meta: CloseMeta,
    span: tracing::Span,
    started: Instant,
}

impl PendingClose {
    /// Polls it in its span; `Ready` once it finished (and was logged).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let _entered = self.span.enter();
        let polled = catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx)));
        let outcome = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(outcome)) => outcome.map_err(Failure::Error),
            Err(payload) => Err(Failure::Panic(crate::cell::panic_message(&*payload))),
        };
        traced_close(&self.meta, self.started, outcome);
        Poll::Ready(())
    }
}

/// Where retired instances wait to be closed: one per registry, plus one for
/// the global registry and connections built without a registry.
pub(crate) struct CloseQueue {
    state: Mutex<QueueState>,
    /// The global registry's (and standalone connections'): its warning
    /// names `Registry::global()`.
    global: bool,
    /// Set once the "nothing drives async closes" warning was given.
    warned_undriven: AtomicBool,
}

#[derive(Default)]
struct QueueState {
    /// Retired instances that were still in use at the last sweep.
    retired: Vec<Box<dyn Retired>>,
    /// Async closes started and not yet taken by a driver.
    pending: Vec<PendingClose>,
    /// Live [`Closer`]s (a `shutdown` runs one).
    drivers: usize,
    /// Async closes a closer has taken and not yet finished.
    in_flight: usize,
    /// The wakers of the drivers waiting for work.
    wakers: Vec<(u64, Waker)>,
    next_id: u64,
    /// The registry was dropped: a driver ends once its work is done.
    ended: bool,
}

impl CloseQueue {
    pub(crate) fn new() -> Arc<Self> {
        Self::with_global(false)
    }

    fn with_global(global: bool) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(QueueState::default()),
            global,
            warned_undriven: AtomicBool::new(false),
        })
    }

    /// The queue of the global registry and of connections built without one.
    pub(crate) fn global() -> &'static Arc<Self> {
        static GLOBAL: std::sync::LazyLock<Arc<CloseQueue>> =
            std::sync::LazyLock::new(|| CloseQueue::with_global(true));
        &GLOBAL
    }

    /// Whether its registry was dropped.
    pub(crate) fn has_ended(&self) -> bool {
        self.lock().ended
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // User code never runs under this lock; a poisoned lock can only come
        // from a bug here, and the state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every retired instance nothing uses any more: sync hooks here,
    /// in this thread; async hooks handed to the drivers. Call it with no
    /// lock of the registry held: hooks are user code.
    pub(crate) fn sweep(&self) {
        let taken = std::mem::take(&mut self.lock().retired);
        if taken.is_empty() {
            return;
        }
        let mut in_use = Vec::new();
        let mut pending = Vec::new();
        for retired in taken {
            match retired.try_close() {
                Ok(Started::Done) => {}
                Ok(Started::Pending(close)) => pending.push(close),
                Err(retired) => in_use.push(retired),
            }
        }
        let mut state = self.lock();
        state.retired.append(&mut in_use);
        if pending.is_empty() {
            return;
        }
        if state.drivers > 0 {
            state.pending.append(&mut pending);
            let wakers = std::mem::take(&mut state.wakers);
            drop(state);
            for (_, waker) in wakers {
                waker.wake();
            }
        } else {
            drop(state);
            self.drop_undriven(pending);
        }
    }

    /// Async closes with nothing to drive them: dropped (the instance with
    /// them, unclosed), with one warning per queue that says what to write.
    fn drop_undriven(&self, pending: Vec<PendingClose>) {
        for close in pending {
            let first = !self.warned_undriven.swap(true, Ordering::Relaxed);
            let CloseMeta { name, type_path, .. } = &close.meta;
            if first {
                let registry = if self.global { "Registry::global()" } else { "registry" };
                tracing::warn!(
                    connection = &**name,
                    type_path = *type_path,
                    "connection `{name}` ({type_path}) has an async close hook, but nothing drives async closes, so its old instance was dropped without it: spawn the registry's closer on your runtime, e.g. `tokio::spawn({registry}.closer())`, or call `{registry}.shutdown().await` before exiting"
                );
            } else {
                close
                    .span
                    .in_scope(|| tracing::debug!("dropped without its async close: nothing drives async closes"));
            }
        }
    }

    /// The retired instances still in use, for `shutdown`'s report.
    pub(crate) fn in_use(&self) -> Vec<String> {
        self.lock()
            .retired
            .iter()
            .map(|r| format!("`{}` (generation {})", r.meta().name, r.meta().generation))
            .collect()
    }

    /// The registry is gone: drivers end once their work is done.
    pub(crate) fn end(&self) {
        let wakers = {
            let mut state = self.lock();
            state.ended = true;
            std::mem::take(&mut state.wakers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }
}

impl fmt::Debug for CloseQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("CloseQueue")
            .field("retired", &state.retired.len())
            .field("pending", &state.pending.len())
            .field("drivers", &state.drivers)
            .finish_non_exhaustive()
    }
}

/// Drives a registry's async close hooks: a future to spawn on the
/// application's runtime, from [`Registry::closer`](crate::Registry::closer).
///
/// It runs until its registry is dropped and every close it took has
/// finished (the global registry's closer runs for the life of the process).
/// Dropping it hands the closes it had started to another closer, if one is
/// running, and drops them otherwise. Several may run; each close is driven
/// by one of them.
///
/// # Examples
///
/// ```
/// let registry = connections_core::Registry::builder().secrets_toml("s", "").build();
/// let closer = registry.closer();
/// drop(registry);
/// // Its registry is gone and nothing is left to close: it finishes at once.
/// futures_executor::block_on(closer);
/// ```
#[must_use = "a closer does nothing unless spawned or polled: `tokio::spawn(registry.closer())`"]
pub struct Closer {
    queue: Arc<CloseQueue>,
    id: u64,
    running: Vec<PendingClose>,
    /// Finish once nothing is pending (`shutdown`), not when the registry ends.
    until_idle: bool,
}

impl Closer {
    pub(crate) fn new(queue: &Arc<CloseQueue>, until_idle: bool) -> Self {
        let id = {
            let mut state = queue.lock();
            state.drivers += 1;
            state.next_id += 1;
            state.next_id
        };
        Self {
            queue: Arc::clone(queue),
            id,
            running: Vec::new(),
            until_idle,
        }
    }
}

impl Future for Closer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            {
                let mut state = this.queue.lock();
                state.in_flight += state.pending.len();
                this.running.append(&mut state.pending);
                // Registered under the lock, so a close queued after this is
                // either taken above or wakes this task.
                let id = this.id;
                match state.wakers.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, waker)) => waker.clone_from(cx.waker()),
                    None => state.wakers.push((id, cx.waker().clone())),
                }
            }
            let before = this.running.len();
            this.running.retain_mut(|close| close.poll(cx).is_pending());
            let finished = before - this.running.len();
            let mut state = this.queue.lock();
            state.in_flight -= finished;
            if !state.pending.is_empty() {
                // Queued while the others were polled: take them too.
                continue;
            }
            if finished > 0 && state.in_flight == 0 {
                // A `shutdown` may be waiting for closes another closer ran.
                let wakers = std::mem::take(&mut state.wakers);
                drop(state);
                for (_, waker) in wakers {
                    waker.wake();
                }
                state = this.queue.lock();
            }
            let idle = this.running.is_empty() && state.pending.is_empty();
            return if idle && (state.ended || (this.until_idle && state.in_flight == 0)) {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        let running = std::mem::take(&mut self.running);
        let (orphans, wakers) = {
            let mut state = self.queue.lock();
            state.drivers -= 1;
            state.in_flight -= running.len();
            let id = self.id;
            state.wakers.retain(|(i, _)| *i != id);
            if state.drivers > 0 {
                // Another closer finishes them.
                state.pending.extend(running);
                (Vec::new(), std::mem::take(&mut state.wakers))
            } else {
                let mut orphans = running;
                orphans.append(&mut state.pending);
                (orphans, Vec::new())
            }
        };
        for (_, waker) in wakers {
            waker.wake();
        }
        for close in orphans {
            close
                .span
                .in_scope(|| tracing::debug!("close cancelled: the closer driving it was dropped"));
        }
    }
}

impl fmt::Debug for Closer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closer")
            .field("running", &self.running.len())
            .field("until_idle", &self.until_idle)
            .finish_non_exhaustive()
    }
}
