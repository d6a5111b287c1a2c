//! For connection authors: what a connection type needs beyond
//! `#[derive(Connection)]` and `_connect`, the same for first-party types
//! (SQL, and those to come) as for yours.
//!
//! Every first-party connection type is a crate of its own built on this
//! module and the rest of the public API, with no door into the core that
//! your type does not have. What each item is for:
//!
//! | Item | A connection needs it to |
//! |---|---|
//! | [`Redactor`], [`BaseConnection::redactor`], [`Config::redact`](crate::Config::redact) | put a driver's message in an error without its password, token or key, still naming the host |
//! | [`Redacted`], [`Error::Operation`](crate::Error::Operation), [`Error::InvalidCall`](crate::Error::InvalidCall) | fail a call (a query, a command, a request) with a redacted message, the driver's error still reachable ([`Error::operation_cause`](crate::Error::operation_cause)) |
//! | [`ResetReason`], [`BaseConnection::reset_if_because`], [`BaseConnection::is_current`] | reset on its own (a retry after a transient error) so that the `reset` event and the resets counter say why; retry on the newest instance |
//! | [`Diagnose`], `#[connection(diagnose = path)]`, [`Diagnostic::new`](crate::Diagnostic::new), [`Diagnostic::from_error`](crate::Diagnostic::from_error) | report its settings' mistakes (unknown and near-miss keys, missing keys, values it cannot honour) in [`Registry::diagnostics`](crate::Registry::diagnostics) and the doctor, which then shows the values of the keys it reads |
//! | [`Config::invalid`](crate::Config::invalid), [`Config::missing`](crate::Config::missing), [`Config::origin`](crate::Config::origin), [`Origin`] | reject a value its Rust type cannot (a URL's scheme, a range), naming the key, the table and where the value came from |
//! | [`nearest`], [`nearest_hint`], [`list_or_none`] | end a message about a name it does not know with "did you mean" and the names it does |
//! | [`seconds_to_duration`] | read a timeout in seconds, as Streamlit's `ttl` and SQLAlchemy's `connect_timeout` are written, rejecting NaN and negatives |
//! | [`percent_decode`] | read a user or password out of a URL |
//! | [`ReadCache`] | keep reads made with a `ttl` (Redis values, a file's rows) until they expire or the connection writes what they read |
//! | [`BlockOn`], `#[connection(block_on = path)]` | have its futures driven by the runtime its client needs (tokio for sqlx) where none runs, as in the doctor's `--connect` |
//!
//! # Stability
//!
//! Everything in this module follows semver, as the rest of the crate,
//! with two exceptions, which may change in any minor release:
//! - the wording of the text that [`nearest_hint`] and [`list_or_none`]
//!   produce (their signatures are stable);
//! - new [`ResetReason`] variants (it is `#[non_exhaustive]`).
//!
//! The derive's expansion goes through `__private`, which is not public API
//! at all: never name it.
//!
//! # Examples
//!
//! A connection type whose driver errors quote its password, with settings
//! diagnostics of its own:
//!
//! ```
//! use std::sync::Arc;
//! use connections_core::author::{Redacted, ResetReason};
//! use connections_core::prelude::*;
//! use connections_core::{Diagnostic, DiagnosticKind, Error};
//!
//! #[derive(Connection)]
//! #[connection(type_name = "echo-server", diagnose = Echo::diagnose)]
//! pub struct Echo {
//!     base: BaseConnection<String>,
//! }
//!
//! impl Echo {
//!     fn _connect(&self, config: &Config) -> Result<String, BoxError> {
//!         Ok(config.get("host")?)
//!     }
//!
//!     /// Mistakes in a section, before any connect.
//!     fn diagnose(config: &Config) -> Vec<Diagnostic> {
//!         config
//!             .keys()
//!             .filter(|key| !["type", "host", "password"].contains(key))
//!             .map(|key| {
//!                 Diagnostic::warning(DiagnosticKind::UnknownKey, format!("`{key}` is not a key of `echo-server`"))
//!                     .keys(vec![key.to_owned()])
//!             })
//!             .collect()
//!     }
//!
//!     /// A call whose driver error quotes the password.
//!     pub fn send(&self) -> Result<String, Error> {
//!         let host = self.instance()?;
//!         let driver_error = std::io::Error::other(format!("{host}: password hunter2 refused"));
//!         // The instance is broken: the next call reconnects, and the reset says why.
//!         self.base().reset_if_because(&host, ResetReason::Broken);
//!         let message = self.base().redactor().redact(&driver_error.to_string());
//!         Err(Error::Operation {
//!             name: self.name().to_owned(),
//!             operation: "send",
//!             attempts: 1,
//!             source: Arc::new(Redacted::new(message.clone(), driver_error)),
//!             message,
//!         })
//!     }
//! }
//!
//! let config = Config::from_toml("echo", "host = 'echo.internal'\npassword = 'hunter2'\ncolour = 'red'")?;
//! let echo = Echo::from_config("echo", config.clone());
//! let err = echo.send().unwrap_err();
//! assert_eq!(err.to_string(), "send on connection `echo` failed after 1 attempt(s): echo.internal: password *** refused");
//! assert!(!echo.is_connected());
//!
//! let found = Echo::DIAGNOSE.map(|diagnose| diagnose(&config)).unwrap_or_default();
//! assert_eq!(found[0].keys, ["colour"]);
//! # Ok::<(), connections_core::Error>(())
//! ```

use std::future::Future;
use std::pin::Pin;

pub use crate::base::ResetReason;
pub use crate::config::Origin;
pub use crate::error::{Redacted, list_or_none, nearest, nearest_hint};
pub use crate::read_cache::ReadCache;
pub use crate::redact::percent_decode;
pub use crate::secrets::seconds_to_duration;
pub use crate::trace::Redactor;
#[expect(unused_imports, reason = "the intra-doc links above")]
use crate::{BaseConnection, Config, Diagnostic};

/// The hooks of a type's typed settings (written by the derive); see `Connection::SETTINGS`.
#[cfg(feature = "settings")]
#[doc(hidden)]
pub use crate::settings::SettingsHooks;

/// The hooks of a type's typed settings, which need the `settings` feature;
/// without it, none can be made.
#[cfg(not(feature = "settings"))]
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct SettingsHooks {
    #[expect(dead_code, reason = "an uninhabited field: no value of this type exists")]
    never: std::convert::Infallible,
}

/// A connection type's settings diagnostics: what is wrong with a section
/// before any connect, as [`Diagnostic`]s (a fatal one has
/// [`Severity::Error`](crate::Severity::Error)). Named by
/// `#[connection(diagnose = path)]`; [`Registry::diagnostics`](crate::Registry::diagnostics)
/// and the doctor run it on each section of the type.
///
/// A type with a `diagnose` hook is taken to read every key it does not
/// report as [`UnknownKey`](crate::DiagnosticKind::UnknownKey) or
/// [`NearMissKey`](crate::DiagnosticKind::NearMissKey): the doctor shows
/// those keys' values unless they are named like secrets.
///
/// # Examples
///
/// ```
/// use connections_core::author::Diagnose;
/// use connections_core::{Config, Diagnostic};
///
/// fn needs_host(config: &Config) -> Vec<Diagnostic> {
///     match config.contains("host") {
///         true => Vec::new(),
///         false => vec![Diagnostic::from_error(&config.missing("host"))],
///     }
/// }
/// let hook: Diagnose = needs_host;
/// assert_eq!(hook(&Config::from_toml("c", "port = 1")?).len(), 1);
/// # Ok::<(), connections_core::Error>(())
/// ```
pub type Diagnose = fn(&Config) -> Vec<Diagnostic>;

/// Drives a connection type's future to its end on the calling thread, on
/// the runtime its client needs (for a client built on tokio: a
/// current-thread runtime's `block_on`). Named by
/// `#[connection(block_on = path)]`; the doctor's `--connect` drives the
/// type's connect and check through it. An error (the runtime could not
/// start) is reported as the section's outcome.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use connections_core::BoxError;
/// use connections_core::author::BlockOn;
///
/// fn drive(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError> {
///     futures_executor::block_on(future);
///     Ok(())
/// }
/// let hook: BlockOn = drive;
/// let mut done = false;
/// hook(std::pin::pin!(async { done = true }))?;
/// assert!(done);
/// # Ok::<(), BoxError>(())
/// ```
pub type BlockOn = fn(Pin<&mut dyn Future<Output = ()>>) -> Result<(), crate::BoxError>;
