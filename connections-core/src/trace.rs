//! Tracing and redaction helpers: the outcome event of a connect, elapsed
//! times as the `elapsed_us` fields say, and the redaction of a connection's
//! configuration values from messages.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;

/// Redacts a connection's configuration values from a message: those of its
/// current configuration and of the one a reload last replaced.
#[derive(Clone)]
pub(crate) struct Redactor {
    current: Arc<Config>,
    previous: Option<Arc<Config>>,
}

impl Redactor {
    /// Redacts the values of `current`, and of `previous` if there is one.
    pub(crate) fn new(current: Arc<Config>, previous: Option<Arc<Config>>) -> Self {
        Self { current, previous }
    }

    pub(crate) fn redact(&self, text: &str) -> String {
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
