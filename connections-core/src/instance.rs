//! [`InstanceRef`]: a borrowed guard on a connection's raw instance.
//!
//! `Arc<R>` handles cost an atomic increment and decrement on a counter every
//! thread shares, and under contention that cache line bounces between cores
//! (see BENCHMARKS.md). This guard borrows the instance through `arc-swap`'s
//! per-thread debt slots instead, so `instance_ref()` scales with threads.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::Guard;

/// A borrowed raw instance, from [`Connection::instance_ref`](crate::Connection::instance_ref).
///
/// Derefs to the raw type. It keeps the instance alive like an `Arc` would
/// (a `reset()` meanwhile does not invalidate it) but borrows it without
/// touching the shared reference count. Prefer it for short-lived use on hot
/// paths; call [`to_arc`](InstanceRef::to_arc) to store the handle.
///
/// # Examples
///
/// ```
/// use connections_core::prelude::*;
///
/// #[derive(Connection)]
/// struct Answer { base: BaseConnection<u64> }
/// impl Answer { fn _connect(&self, _: &Config) -> Result<u64, BoxError> { Ok(42) } }
///
/// let answer = Answer::from_config("a", Config::new("a", Default::default()));
/// let raw = answer.instance_ref()?;
/// assert_eq!(*raw, 42);
/// answer.reset();
/// assert_eq!(*raw, 42, "still valid after reset");
/// assert!(!answer.reset_if(&raw.to_arc()), "already reset: nothing to do");
/// # Ok::<(), connections_core::Error>(())
/// ```
pub struct InstanceRef<R> {
    // Invariant: holds `Some`; every constructor checks it.
    guard: Guard<Option<Arc<R>>>,
}

impl<R> InstanceRef<R> {
    pub(crate) fn from_guard(guard: Guard<Option<Arc<R>>>) -> Option<Self> {
        guard.is_some().then_some(Self { guard })
    }

    pub(crate) fn from_arc(arc: Arc<R>) -> Self {
        Self {
            guard: Guard::from_inner(Some(arc)),
        }
    }

    /// An owned `Arc` of the instance, to store or to pass to `reset_if`.
    ///
    /// # Panics
    ///
    /// Never: an `InstanceRef` is only made around an instance.
    pub fn to_arc(&self) -> Arc<R> {
        Arc::clone(self.arc())
    }

    fn arc(&self) -> &Arc<R> {
        self.guard.as_ref().expect("an InstanceRef always holds an instance")
    }
}

impl<R> Deref for InstanceRef<R> {
    type Target = R;
    fn deref(&self) -> &R {
        self.arc()
    }
}

impl<R: fmt::Debug> fmt::Debug for InstanceRef<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
