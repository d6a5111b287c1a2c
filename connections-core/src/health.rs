//! Health: each connection's counts and last connect ([`Health`]), the
//! optional `_check` hook's outcome ([`CheckOutcome`]), and the `metrics`
//! feature's counters and histograms.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use crate::error::BoxError;

/// Where a connection stands, as [`Health::state`] reports it.
///
/// # Examples
///
/// ```
/// use connections_core::ConnectionState;
///
/// assert_eq!(ConnectionState::Failing.to_string(), "failing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionState {
    /// No instance, and the last connect (if any) did not fail: lazy and idle,
    /// or reset since.
    NotConnected,
    /// This generation holds a connected instance.
    Connected,
    /// No instance, and the last connect failed; the next use tries again.
    Failing,
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionState::NotConnected => "not connected",
            ConnectionState::Connected => "connected",
            ConnectionState::Failing => "failing",
        })
    }
}

/// One connection's health: what [`Registry::health`](crate::Registry::health)
/// reports for each cached connection, and [`BaseConnection::health`](crate::BaseConnection::health) for one.
///
/// # Examples
///
/// ```
/// use connections_core::{BaseConnection, Config, ConnectionState};
///
/// let base = BaseConnection::<u8>::new("db", "t", "crate::T", Config::new("db", Default::default()));
/// assert!(base.instance_with(|_| Err("refused".into())).is_err());
/// let health = base.health();
/// assert_eq!(health.state, ConnectionState::Failing);
/// assert_eq!((health.connects, health.failures), (0, 1));
/// assert_eq!(health.last_error.as_deref(), Some("connecting `db` (crate::T) failed: refused"));
///
/// base.instance_with(|_| Ok(1)).unwrap();
/// let health = base.health();
/// assert_eq!(health.state, ConnectionState::Connected);
/// assert_eq!((health.connects, health.failures, health.last_error), (1, 1, None));
/// assert!(health.last_connect_duration.is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// The connection name.
    pub name: String,
    /// The key of the scope a session-scoped connection belongs to; `None`
    /// for a global one.
    pub scope: Option<String>,
    /// The type's short name.
    pub type_name: &'static str,
    /// The type's full path.
    pub type_path: &'static str,
    /// Connected, not connected, or failing.
    pub state: ConnectionState,
    /// How many times it has been reset.
    pub generation: u64,
    /// When the last connect attempt ended (in JSON, `last_connect_unix`:
    /// seconds since the Unix epoch).
    #[serde(rename = "last_connect_unix", serialize_with = "unix_seconds")]
    pub last_connect: Option<SystemTime>,
    /// How long the last connect attempt took, none for one that panicked
    /// (in JSON, `last_connect_ms`: milliseconds).
    #[serde(rename = "last_connect_ms", serialize_with = "millis")]
    pub last_connect_duration: Option<Duration>,
    /// The last connect's error, if it failed; redacted like every error.
    pub last_error: Option<String>,
    /// Connects that succeeded.
    pub connects: u64,
    /// Connect attempts that failed or panicked.
    pub failures: u64,
    /// Resets: by hand, by a reload, before a retry.
    pub resets: u64,
    /// Close hooks run (`_close`), whether they succeeded or not.
    pub closes: u64,
}

/// What [`Registry::check`](crate::Registry::check) found for one cached connection.
///
/// # Examples
///
/// See [`Registry::check`](crate::Registry::check).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CheckOutcome {
    /// The connection name.
    pub name: String,
    /// The key of the scope a session-scoped connection belongs to; `None`
    /// for a global one, and for a row that sums a name's scopes
    /// ([`ScopedChecks::Summary`]).
    pub scope: Option<String>,
    /// For a row that sums a name's session-scoped connections
    /// ([`ScopedChecks::Summary`]): how many were checked, and how many failed.
    pub scopes: Option<ScopeTally>,
    /// The type's full path.
    pub type_path: &'static str,
    /// Whether it is healthy: its `_check` passed, or, for a type with no
    /// `_check`, its last connect did not fail.
    pub ok: bool,
    /// Whether a `_check` hook ran (else only the state was looked at).
    pub checked: bool,
    /// How long the hook took (in JSON, `elapsed_ms`: milliseconds).
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    /// Why it is not healthy, redacted.
    pub error: Option<String>,
    /// Whether the failed check reset the connection (it was connected, and
    /// its type resets on a failed check): its next use reconnects.
    pub reset: bool,
}

/// How [`Registry::check_with`](crate::Registry::check_with) reports
/// session-scoped connections, of which a service may hold thousands.
///
/// # Examples
///
/// See [`Registry::check_with`](crate::Registry::check_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopedChecks {
    /// Check each one and report it on a row of its own, with its scope key
    /// (what [`Registry::check`](crate::Registry::check) does).
    #[default]
    Each,
    /// Check each one, and report one row per connection name and type that
    /// sums them ([`CheckOutcome::scopes`]), with the first failure's error.
    Summary,
    /// Leave them out: check the global connections only.
    Skip,
}

/// How many session-scoped connections a summary row of
/// [`Registry::check_with`](crate::Registry::check_with) sums.
///
/// # Examples
///
/// See [`Registry::check_with`](crate::Registry::check_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ScopeTally {
    /// Connections checked (one per live scope that has one).
    pub checked: usize,
    /// Of those, the ones whose check failed.
    pub failed: usize,
}

/// A duration as milliseconds (with fractions), for JSON readers.
fn millis<S: serde::Serializer, D: Into<Option<Duration>> + Copy>(duration: &D, s: S) -> Result<S::Ok, S::Error> {
    match (*duration).into() {
        Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
        None => s.serialize_none(),
    }
}

/// A time as seconds since the Unix epoch (with fractions), for JSON readers.
#[expect(
    clippy::ref_option,
    reason = "serde's `serialize_with` passes a reference to the field"
)]
fn unix_seconds<S: serde::Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match time.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// What a `_check` hook gave: its outcome, or (async) the future to await.
#[doc(hidden)]
pub enum Checking<'a> {
    /// A sync hook ran: its outcome.
    Done(Result<(), BoxError>),
    /// An async hook: the future to drive.
    Pending(Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>),
}

impl Checking<'_> {
    /// The hook's outcome; a panic in the hook is an error, not a panic of the caller.
    pub(crate) async fn outcome(self) -> Result<(), BoxError> {
        match self {
            Checking::Done(outcome) => outcome,
            Checking::Pending(future) => CatchUnwind(future).await,
        }
    }
}

/// Polls a hook's future, turning a panic into an error.
struct CatchUnwind<'a>(Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>);

impl Future for CatchUnwind<'_> {
    type Output = Result<(), BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))).unwrap_or_else(|panic| {
            let message = crate::cell::panic_message(&*panic);
            Poll::Ready(Err(format!("the check panicked: {message}").into()))
        })
    }
}

/// The last connect attempt.
struct LastConnect {
    at: SystemTime,
    duration: Option<Duration>,
    error: Option<String>,
}

/// A connection's counters, kept by its `BaseConnection` and its close jobs.
pub(crate) struct Stats {
    connects: AtomicU64,
    failures: AtomicU64,
    resets: AtomicU64,
    closes: AtomicU64,
    last: Mutex<Option<LastConnect>>,
}

/// The labels of a connection's metrics.
#[derive(Clone, Copy)]
pub(crate) struct Labels<'a> {
    pub(crate) name: &'a str,
    pub(crate) type_name: &'static str,
}

impl Stats {
    pub(crate) const fn new() -> Self {
        Self {
            connects: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            closes: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// A connect attempt ended: `error` is its (redacted) message if it failed;
    /// `duration` is none for a panic.
    pub(crate) fn connected(&self, labels: Labels<'_>, duration: Option<Duration>, error: Option<String>) {
        let counter = if error.is_none() {
            &self.connects
        } else {
            &self.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        {
            let outcome = if error.is_none() { "ok" } else { "error" };
            metrics::counter!("connections_connects_total", "connection" => labels.name.to_owned(), "type" => labels.type_name, "outcome" => outcome).increment(1);
            if let Some(duration) = duration {
                metrics::histogram!("connections_connect_duration_seconds", "connection" => labels.name.to_owned(), "type" => labels.type_name, "outcome" => outcome).record(duration.as_secs_f64());
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = labels;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(LastConnect {
            at: SystemTime::now(),
            duration,
            error,
        });
    }

    pub(crate) fn reset(&self, labels: Labels<'_>, reason: &'static str) {
        self.resets.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("connections_resets_total", "connection" => labels.name.to_owned(), "type" => labels.type_name, "reason" => reason).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (labels, reason);
    }

    pub(crate) fn closed(&self, labels: Labels<'_>, ok: bool) {
        self.closes.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("connections_closes_total", "connection" => labels.name.to_owned(), "type" => labels.type_name, "outcome" => if ok { "ok" } else { "error" }).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (labels, ok);
    }

    /// The health of a connection with these counters.
    pub(crate) fn health(
        &self,
        labels: Labels<'_>,
        type_path: &'static str,
        connected: bool,
        generation: u64,
    ) -> Health {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let last = last.as_ref();
        let last_error = last.and_then(|l| l.error.clone());
        Health {
            name: labels.name.to_owned(),
            scope: None,
            type_name: labels.type_name,
            type_path,
            state: if connected {
                ConnectionState::Connected
            } else if last_error.is_some() {
                ConnectionState::Failing
            } else {
                ConnectionState::NotConnected
            },
            generation,
            last_connect: last.map(|l| l.at),
            last_connect_duration: last.and_then(|l| l.duration),
            last_error,
            connects: self.connects.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            closes: self.closes.load(Ordering::Relaxed),
        }
    }
}

/// Records a check's outcome in the `metrics` feature's counter and histogram.
pub(crate) fn record_check(labels: Labels<'_>, outcome: &CheckOutcome) {
    #[cfg(feature = "metrics")]
    {
        let result = if outcome.ok { "ok" } else { "error" };
        metrics::counter!("connections_checks_total", "connection" => labels.name.to_owned(), "type" => labels.type_name, "outcome" => result).increment(1);
        if outcome.checked {
            metrics::histogram!("connections_check_duration_seconds", "connection" => labels.name.to_owned(), "type" => labels.type_name, "outcome" => result).record(outcome.elapsed.as_secs_f64());
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (labels, outcome);
}
