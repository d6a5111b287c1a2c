//! Borrowed handles for the hot path: guards that touch no shared reference count.
//!
//! `Arc<T>` handles cost an atomic increment and decrement on a counter every
//! thread shares, and under contention that cache line bounces between cores
//! (see BENCHMARKS.md). These guards borrow the current value through
//! `arc-swap`'s per-thread debt slots instead, so lookups scale with threads.
//! Hold them for the duration of a request; convert with `to_arc()` to keep one.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::Guard;

use crate::cache::Entry;
use crate::connection::Connection;

/// A borrowed raw instance, from [`Connection::instance_ref`].
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

/// A borrowed connection, from [`Registry::connection_ref`](crate::Registry::connection_ref).
///
/// Derefs to the connection type `T`. A lookup that hits the cache borrows the
/// entry without touching the shared reference count; call
/// [`to_arc`](ConnectionRef::to_arc) to keep the connection.
///
/// # Examples
///
/// ```
/// use connections_core::{prelude::*, Registry};
///
/// #[derive(Connection)]
/// struct Answer { base: BaseConnection<u64> }
/// impl Answer { fn _connect(&self, _: &Config) -> Result<u64, BoxError> { Ok(42) } }
///
/// let registry = Registry::builder().secrets_toml("s", "").build();
/// // The hot path of a request handler: no lock, no allocation, no shared counter.
/// let answer = *registry.connection_ref::<Answer>("a")?.instance_ref()?;
/// assert_eq!(answer, 42);
/// let kept: std::sync::Arc<Answer> = registry.connection_ref::<Answer>("a")?.to_arc();
/// assert_eq!(kept.name(), "a");
/// # Ok::<(), connections_core::Error>(())
/// ```
pub struct ConnectionRef<T> {
    inner: Inner,
    _type: PhantomData<fn() -> T>,
}

enum Inner {
    // Invariant: holds `Some` entry whose connection is a `T`.
    Cached(Guard<Option<Arc<Entry>>>),
    Owned(Arc<dyn crate::DynConnection>),
}

impl<T: Connection> ConnectionRef<T> {
    pub(crate) fn cached(guard: Guard<Option<Arc<Entry>>>) -> Option<Self> {
        let is_t = guard.as_ref().is_some_and(|e| e.conn.is::<T>());
        is_t.then_some(Self {
            inner: Inner::Cached(guard),
            _type: PhantomData,
        })
    }

    pub(crate) fn owned(conn: Arc<T>) -> Self {
        Self {
            inner: Inner::Owned(conn),
            _type: PhantomData,
        }
    }

    /// An owned `Arc` of the connection, to store.
    ///
    /// # Panics
    ///
    /// Never: a `ConnectionRef` is only made around a connection of type `T`.
    pub fn to_arc(&self) -> Arc<T> {
        let conn = match &self.inner {
            Inner::Cached(guard) => guard.as_ref().map(|e| Arc::clone(&e.conn)),
            Inner::Owned(conn) => Some(Arc::clone(conn)),
        };
        conn.and_then(|c| c.downcast::<T>().ok())
            .expect("a ConnectionRef always holds a connection of its type")
    }
}

impl<T: Connection> Deref for ConnectionRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        let conn = match &self.inner {
            Inner::Cached(guard) => guard.as_ref().map(|e| &*e.conn),
            Inner::Owned(conn) => Some(&**conn),
        };
        conn.and_then(|c| c.downcast_ref::<T>())
            .expect("a ConnectionRef always holds a connection of its type")
    }
}

impl<T: Connection> fmt::Debug for ConnectionRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.base(), f)
    }
}
