//! The doctor's `--connect`: each section's connection built afresh (never
//! cached), connected within a deadline, and its `_check` run; a section it
//! cannot connect is skipped with the reason.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{ConnectOutcome, Section};
use crate::connection::DynConnection;
use crate::diagnostic::{DiagnosticKind, Severity};
use crate::registry::Registry;

/// How long `--connect` waits for one connection, its check included.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects each section that can be, one after another, and records how
/// it went; the others are marked skipped, with the reason.
pub(super) async fn connect_sections(registry: &Registry, sections: &mut [Section]) {
    for section in sections {
        section.connect = Some(match skip_reason(registry, section) {
            Some(reason) => ConnectOutcome::skipped(reason),
            None => connect_one(registry, section).await,
        });
    }
}

/// As [`connect_sections`], on this thread: each section's connect and
/// check are driven by its type's runtime hook (`#[connection(block_on =
/// path)]`, for a client that needs, say, tokio), else by a plain executor.
pub(super) fn connect_sections_blocking(registry: &Registry, sections: &mut [Section]) {
    for section in sections {
        let outcome = if let Some(reason) = skip_reason(registry, section) {
            ConnectOutcome::skipped(reason)
        } else {
            let hook = section
                .type_path
                .as_deref()
                .and_then(|path| registry.registration(path))
                .and_then(|reg| reg.block_on);
            match hook {
                None => block_on(connect_one(registry, section)),
                Some(hook) => {
                    let mut outcome = None;
                    let driven = hook(std::pin::pin!(async {
                        outcome = Some(connect_one(registry, section).await);
                    }));
                    match (driven, outcome) {
                        (_, Some(outcome)) => outcome,
                        (Err(error), None) => ConnectOutcome::skipped(format!(
                            "could not start the runtime its type connects on: {error}"
                        )),
                        (Ok(()), None) => ConnectOutcome::skipped(
                            "its type's `block_on` hook returned before the connect finished".to_owned(),
                        ),
                    }
                }
            }
        };
        section.connect = Some(outcome);
    }
}

/// Why `section` cannot be connected here, if it cannot.
fn skip_reason(registry: &Registry, section: &Section) -> Option<String> {
    let Some(type_path) = section.type_path.as_deref() else {
        let unknown = section
            .diagnostics
            .iter()
            .any(|d| d.kind == DiagnosticKind::UnknownType && d.severity == Severity::Warning);
        return Some(if unknown {
            "its type is not one this program registers; the application's own doctor (`doctor::run`) connects it"
                .to_owned()
        } else {
            "its type is unknown; fix the section's `type` first".to_owned()
        });
    };
    if section.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Some("the section has errors; fix them first".to_owned());
    }
    match registry.registration(type_path) {
        Some(reg) if reg.is_session_scoped() => Some(format!(
            "`{type_path}` is session-scoped: each scope connects its own, as its user"
        )),
        Some(_) => None,
        None => Some(format!("`{type_path}` is not registered here")),
    }
}

/// Builds the connection of `section` afresh (a zero `ttl` caches nothing,
/// so the application's own connection, if any, is left alone), connects
/// it, and runs its check, within [`CONNECT_TIMEOUT`].
async fn connect_one(registry: &Registry, section: &Section) -> ConnectOutcome {
    let started = Instant::now();
    let type_path = section.type_path.clone().unwrap_or_default();
    let outcome = match registry
        .lookup(&section.name)
        .with_type(type_path.clone())
        .ttl(Duration::ZERO)
        .get_dyn()
    {
        Ok(conn) => with_deadline(connect_and_check(conn), CONNECT_TIMEOUT).await,
        Err(error) => Some(Err((error.to_string(), false))),
    };
    let (ok, checked, error) = match outcome {
        Some(Ok(checked)) => (true, checked, None),
        Some(Err((error, checked))) => (false, checked, Some(error)),
        None => (
            false,
            false,
            Some(format!(
                "connecting `{}` ({type_path}) did not finish within {} s",
                section.name,
                CONNECT_TIMEOUT.as_secs()
            )),
        ),
    };
    ConnectOutcome {
        ok,
        skipped: None,
        checked,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        error,
    }
}

/// Connects (a blocking connect on a thread of its own, so the deadline
/// holds), then runs the type's `_check`: whether a check ran, or the error
/// (redacted) and whether it came from the check.
async fn connect_and_check(conn: Arc<dyn DynConnection>) -> Result<bool, (String, bool)> {
    let connected = if conn.is_async() {
        conn.connect_async().await.map_err(|error| error.to_string())
    } else {
        let blocking = Arc::clone(&conn);
        off_thread(move || blocking.connect().map_err(|error| error.to_string())).await
    };
    connected.map_err(|error| (error, false))?;
    match conn.run_check().await {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(cause)) => Err((
            format!(
                "connected `{}` ({}), but its check failed: {cause}",
                conn.name(),
                conn.type_path()
            ),
            true,
        )),
    }
}

/// Runs a blocking connect on a thread of its own; the future resolves with
/// its outcome (a connect's panic is caught by `connect()` itself).
fn off_thread(
    connect: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> impl Future<Output = Result<(), String>> {
    let slot: Arc<Slot<Result<(), String>>> = Arc::default();
    let filler = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("connections-doctor".into())
        .spawn(move || filler.fill(connect()));
    if let Err(error) = spawned {
        slot.fill(Err(format!("could not start a thread to connect on: {error}")));
    }
    SlotFuture(slot)
}

/// A value handed from a thread to a future, and the waker to call.
struct Slot<T> {
    state: Mutex<(Option<T>, Option<Waker>)>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new((None, None)),
        }
    }
}

impl<T> Slot<T> {
    fn fill(&self, value: T) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = Some(value);
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    }
}

struct SlotFuture<T>(Arc<Slot<T>>);

impl<T> Future for SlotFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = state.0.take() {
            return Poll::Ready(value);
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// `future`'s output, or `None` once `deadline` has passed: a timer thread
/// wakes the task, so any executor will do.
async fn with_deadline<F: Future>(future: F, deadline: Duration) -> Option<F::Output> {
    let timer: Arc<Slot<()>> = Arc::default();
    let ringer = Arc::clone(&timer);
    // The timer may outlive the wait; it only sleeps, then fills a slot no one reads.
    let _ = std::thread::Builder::new()
        .name("connections-doctor-timer".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            ringer.fill(());
        });
    let mut future = std::pin::pin!(future);
    let mut timer = SlotFuture(timer);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        Pin::new(&mut timer).poll(cx).map(|()| None)
    })
    .await
}

/// Drives `future` to its end on this thread, parking between wakes: the
/// doctor's executor for types that need no particular runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
