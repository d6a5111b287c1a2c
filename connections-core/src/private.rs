//! What `#[derive(Connection)]` expansions name. Not public API: anything here
//! may change in any release.

use std::convert::Infallible;

pub use inventory;

pub use crate::base::BaseConnection;
pub use crate::config::Config;
pub use crate::connection::Connection;
pub use crate::error::BoxError;
pub use crate::registry::Registration;

/// Implemented for nothing: reaching it means the type has no inherent `_connect`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Connection` but has no `_connect` function",
    label = "`_connect` is missing for this connection type",
    note = "add to your code:\n    impl {Self} {{\n        fn _connect(&self, config: &Config) -> Result<{Raw}, E> {{ ... }}\n    }}\n(E: any error type, e.g. `connections_core::BoxError`), or name another function with `#[connection(connect = path)]`"
)]
pub trait DefinesConnect<Raw> {
    /// Never called: no type implements this trait.
    fn never(&self) -> Result<Raw, Infallible>;
}

/// The fallback `_connect`, found only when the type has no inherent one; its
/// unsatisfiable bound turns rustc's bare "no function named `_connect`" into
/// the message above.
pub trait ConnectFallback<Raw>: Sized {
    /// Stands in for a missing `_connect`; uncallable.
    fn _connect(&self, _config: &Config) -> Result<Raw, Infallible>
    where
        Self: DefinesConnect<Raw>,
    {
        self.never()
    }
}

impl<T, Raw> ConnectFallback<Raw> for T {}

/// What a connect function may return: `Result<Raw, E>` with `E` convertible to [`BoxError`].
#[diagnostic::on_unimplemented(
    message = "the connect function returns `{Self}`, but this connection's raw type needs `Result<{Raw}, E>`",
    label = "the raw type is set by this `BaseConnection<{Raw}>` field",
    note = "write `fn _connect(&self, config: &Config) -> Result<{Raw}, E>`, where E is any error type (`std::error::Error + Send + Sync + 'static`, e.g. `connections_core::BoxError`)"
)]
pub trait ConnectOutput<Raw> {
    /// Boxes the error.
    fn into_boxed(self) -> Result<Raw, BoxError>;
}

impl<Raw, E: Into<BoxError>> ConnectOutput<Raw> for Result<Raw, E> {
    #[inline]
    fn into_boxed(self) -> Result<Raw, BoxError> {
        self.map_err(Into::into)
    }
}

/// Calls a connect function of the expected shape; a function of another shape
/// fails here with rustc's "expected signature ... found ..." message.
#[inline]
pub fn call_connect<T, Raw, O: ConnectOutput<Raw>>(
    connect: impl FnOnce(&T, &Config) -> O,
    this: &T,
    config: &Config,
) -> Result<Raw, BoxError> {
    connect(this, config).into_boxed()
}
