//! Tracing and redaction helpers: the outcome event of a connect, elapsed
//! times as the `elapsed_us` fields say, and the redaction of a connection's
//! configuration values from messages.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;

/// Redacts a connection's secrets from a message: the values of its current
/// configuration and of the one a reload last replaced, as
/// [`Config::redact`] does.
///
/// Made by [`BaseConnection::redactor`](crate::BaseConnection::redactor);
/// a connection type runs a driver's error message through it before putting
/// it in an error of its own. See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::{BaseConnection, Config};
///
/// let config = Config::from_toml("db", "url = 'postgres://app:hunter2@db.internal/shop'")?;
/// let base = BaseConnection::<u8>::new("db", "t", "crate::T", config);
/// let redactor = base.redactor();
/// assert_eq!(
///     redactor.redact("login as app with hunter2 refused by db.internal"),
///     "login as app with *** refused by db.internal"
/// );
/// # Ok::<(), connections_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Redactor {
    current: Arc<Config>,
    previous: Option<Arc<Config>>,
}

impl Redactor {
    /// Redacts the values of `current`, and of `previous` if there is one.
    pub(crate) fn new(current: Arc<Config>, previous: Option<Arc<Config>>) -> Self {
        Self { current, previous }
    }

    /// `text` with every secret of the connection's configurations replaced
    /// by `***`; see [`Redactor`].
    pub fn redact(&self, text: &str) -> String {
        let text = self.current.redact(text);
        match &self.previous {
            Some(previous) => previous.redact(&text),
            None => text,
        }
    }
}

/// The event that ends a connect's span: how long it took and how it ended.
pub(crate) fn traced_outcome<T>(outcome: &Result<T>, started: Instant) {
    let elapsed_us = elapsed_us(started);
    match outcome {
        Ok(_) => tracing::debug!(elapsed_us, "connected"),
        // Our errors never show a configuration value.
        Err(error) => tracing::debug!(elapsed_us, %error, "connect failed"),
    }
}

/// Microseconds since `started`, as the `elapsed_us` tracing fields say.
pub(crate) fn elapsed_us(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}
