//! [`ConnectionRef`]: a borrowed handle on a cached connection, for the hot path.
//!
//! `Arc<T>` handles cost an atomic increment and decrement on a counter every
//! thread shares, and under contention that cache line bounces between cores
//! (see BENCHMARKS.md). This guard borrows the cache entry through `arc-swap`'s
//! per-thread debt slots instead, so lookups scale with threads. Hold it for
//! the duration of a request; convert with `to_arc()` to keep one.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::Guard;

use crate::cache::Entry;
use crate::connection::Connection;

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
