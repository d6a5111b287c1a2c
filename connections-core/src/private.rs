//! What `#[derive(Connection)]` expansions name. Not public API: anything here
//! may change in any release.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

pub use inventory;

pub use crate::author::{BlockOn, Diagnose};
pub use crate::base::BaseConnection;
pub use crate::config::Config;
pub use crate::connection::{AsyncConnection, BlockingConnection, ConnectFuture, Connecting, Connection, DynConnect};
pub use crate::error::BoxError;
pub use crate::registry::Registration;

pub use crate::author::SettingsHooks;

/// The hooks of settings type `T` (`#[connection(settings = T)]`).
#[cfg(feature = "settings")]
#[inline]
pub const fn settings_hooks<T: SettingsType>() -> SettingsHooks {
    SettingsHooks::of::<T>()
}

/// Without the `settings` feature, `settings = T` is an error that says which feature to enable.
#[cfg(not(feature = "settings"))]
#[inline]
pub const fn settings_hooks<T: SettingsType>() -> SettingsHooks {
    panic!("unreachable: `SettingsType` has no impl without the `settings` feature")
}

/// What a settings type needs: serde's `Deserialize` and schemars' `JsonSchema`.
#[cfg(feature = "settings")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a connection's settings: it needs serde's `Deserialize` and schemars' `JsonSchema`",
    label = "named by `settings = ...`",
    note = "add `#[derive(serde::Deserialize, schemars::JsonSchema)]` to `{Self}` (with `serde` and `schemars = \"1\"` in Cargo.toml)"
)]
pub trait SettingsType: serde::de::DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static {}

#[cfg(feature = "settings")]
impl<T: serde::de::DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static> SettingsType for T {}

/// Without the `settings` feature no type can be a connection's settings.
#[cfg(not(feature = "settings"))]
#[diagnostic::on_unimplemented(
    message = "`settings = {Self}` needs the `settings` feature of `connections`",
    label = "typed settings need the `settings` feature",
    note = "enable it in Cargo.toml: connections = {{ version = \"0.1\", features = [\"settings\"] }}"
)]
pub trait SettingsType {}

/// The settings of `config` as `T`: checked (every problem at once), then
/// deserialized once per configuration; what a connect with
/// `settings = T` reads first.
/// Its only bound is what deserializing needs: a type that is no settings
/// type is reported once, at `settings_hooks`.
#[cfg(feature = "settings")]
#[inline]
pub fn settings<Conn: Connection, T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    config: &Config,
) -> crate::Result<&T> {
    crate::settings::read::<T>(config, Conn::TYPE_PATH, Conn::SETTINGS)
}

/// Unreachable without the `settings` feature: `settings_hooks` already failed.
#[cfg(not(feature = "settings"))]
#[inline]
pub fn settings<Conn: Connection, T>(config: &Config) -> crate::Result<&T> {
    let _ = config;
    unreachable!("`SettingsType` has no impl without the `settings` feature")
}

/// The connect function takes the `&Config` (marker for [`ConnectWith`]).
pub struct ByConfig;
/// The connect function takes the typed settings (marker for [`ConnectWith`]).
pub struct BySettings;

/// A connect function that takes either the `&Config` or the settings
/// `&S`; the marker `M` tells which, inferred from its signature.
#[diagnostic::on_unimplemented(
    message = "the connect function of `{Conn}` takes neither `&Config` nor its settings `&{S}`",
    label = "the connect function of `{Conn}`",
    note = "write `fn _connect(&self, settings: &{S}) -> Result<Raw, E>` (or keep `config: &Config`)"
)]
pub trait ConnectWith<'a, Conn: 'a, S: 'a, O, M> {
    /// Calls the function with what it takes.
    fn call_with(self, this: &'a Conn, config: &'a Config, settings: &'a S) -> O;
}

impl<'a, Conn: 'a, S: 'a, O, F: FnOnce(&'a Conn, &'a Config) -> O> ConnectWith<'a, Conn, S, O, ByConfig> for F {
    #[inline]
    fn call_with(self, this: &'a Conn, config: &'a Config, _settings: &'a S) -> O {
        self(this, config)
    }
}

impl<'a, Conn: 'a, S: 'a, O, F: FnOnce(&'a Conn, &'a S) -> O> ConnectWith<'a, Conn, S, O, BySettings> for F {
    #[inline]
    fn call_with(self, this: &'a Conn, _config: &'a Config, settings: &'a S) -> O {
        self(this, settings)
    }
}

/// Calls a connect function of a type with settings, with the `&Config` or
/// the settings, as its signature asks.
#[inline]
pub fn call_connect_with<'a, Conn: 'a, S: 'a, O, M>(
    connect: impl ConnectWith<'a, Conn, S, O, M>, // write `fn _connect(&self, settings: &Settings) -> Result<Raw, E>`
    this: &'a Conn,
    config: &'a Config,
    settings: &'a S,
) -> O {
    connect.call_with(this, config, settings)
}

/// An async connect whose settings did not fit: the error, as its future.
#[inline]
pub fn failed_connect<'a, Raw: Send + 'a>(error: crate::Error) -> ConnectFuture<'a, Raw> {
    Box::pin(std::future::ready(Err(error.into())))
}

/// A `diagnose = path` hook of the expected shape; another shape fails here,
/// and rustc quotes this line, which ends with the signature to write.
#[inline]
pub const fn diagnose_hook(hook: Diagnose) -> Diagnose {
    hook // write `fn diagnose(config: &Config) -> Vec<Diagnostic>`
}

/// A `block_on = path` hook of the expected shape; another shape fails here,
/// and rustc quotes this line, which ends with the signature to write.
#[inline]
pub const fn block_on_hook(hook: BlockOn) -> BlockOn {
    hook // write `fn block_on(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError>`
}

/// What a blocking connection's `instance()` returns.
pub type BlockingInstance<Raw> = crate::Result<Arc<Raw>>;

/// The blocking `instance()`: the derive's body for it.
#[inline]
pub fn instance_blocking<C: BlockingConnection>(conn: &C) -> crate::Result<Arc<C::Raw>> {
    crate::connection::instance_blocking(conn)
}

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
pub trait ConnectFallback: Sized {
    /// Stands in for a missing `_connect`; uncallable.
    fn _connect(&self, _config: &Config) -> Result<<Self as Connection>::Raw, Infallible>
    where
        Self: Connection + DefinesConnect<<Self as Connection>::Raw>,
    {
        self.never()
    }
}

impl<T> ConnectFallback for T {}

/// The async twin of [`DefinesConnect`]: implemented for nothing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Connection` but has no `_connect` function",
    label = "`_connect` is missing for this connection type",
    note = "add to your code:\n    impl {Self} {{\n        async fn _connect(&self, config: &Config) -> Result<{Raw}, E> {{ ... }}\n    }}\n(E: any error type, e.g. `connections_core::BoxError`), or name another function with `#[connection(connect = path)]`"
)]
pub trait DefinesAsyncConnect<Raw> {
    /// Never called: no type implements this trait.
    fn never(&self) -> std::future::Ready<Result<Raw, Infallible>>;
}

/// The async twin of [`ConnectFallback`], imported instead of it by an
/// `#[connection(async)]` expansion.
pub trait AsyncConnectFallback: Sized {
    /// Stands in for a missing `async fn _connect`; uncallable.
    fn _connect(&self, _config: &Config) -> std::future::Ready<Result<<Self as Connection>::Raw, Infallible>>
    where
        Self: Connection + DefinesAsyncConnect<<Self as Connection>::Raw>,
    {
        self.never()
    }
}

impl<T> AsyncConnectFallback for T {}

/// Wraps an async connect function's output to check, with advice, that it
/// is a future: [`ProbeFuture`] takes it when it is one, and only otherwise
/// does method lookup reach [`ProbeNotFuture`] (autoref), whose bound fails
/// with the message of [`AsyncConnectIsNotAsync`].
pub struct AsyncProbe<Conn, Raw, O> {
    output: O,
    marker: PhantomData<fn() -> (Conn, Raw)>,
}

/// The probe around an `#[connection(async)]` connect function's output.
#[inline]
pub fn async_probe<Conn, Raw, O>(output: O) -> AsyncProbe<Conn, Raw, O> {
    AsyncProbe {
        output,
        marker: PhantomData,
    }
}

/// The output is a future: pass it on.
pub trait ProbeFuture {
    /// The connect function's future.
    type Future;
    /// The future itself.
    fn connect_future(self) -> Self::Future;
}

impl<Conn, Raw, O: Future> ProbeFuture for AsyncProbe<Conn, Raw, O> {
    type Future = O;
    #[inline]
    fn connect_future(self) -> O {
        self.output
    }
}

/// The output is not a future: a compile error that says what to write.
pub trait ProbeNotFuture<Raw>: Sized {
    /// Stands in for the missing future; its bound fails with advice.
    fn connect_future(self) -> std::future::Ready<Result<Raw, Infallible>>
    where
        Self: NotAFuture<Raw>,
    {
        self.never()
    }
}

impl<Conn, Raw, O> ProbeNotFuture<Raw> for &AsyncProbe<Conn, Raw, O> {}

/// Holds only when the probed output names the [`AsyncConnectIsNotAsync`] bound that fails.
pub trait NotAFuture<Raw> {
    /// Never called: the bound below never holds.
    fn never(self) -> std::future::Ready<Result<Raw, Infallible>>;
}

impl<Conn, Raw, O> NotAFuture<Raw> for &AsyncProbe<Conn, Raw, O>
where
    O: AsyncConnectIsNotAsync<Conn, Raw>,
{
    fn never(self) -> std::future::Ready<Result<Raw, Infallible>> {
        O::never()
    }
}

/// Implemented for nothing: reaching it means an `#[connection(async)]`
/// connect function returned something other than a future.
#[diagnostic::on_unimplemented(
    message = "`{Conn}` is marked `#[connection(async)]`, but its connect function returns `{Self}`, not a future",
    label = "this connect function is not `async`",
    note = "write `async fn _connect(&self, config: &Config) -> Result<{Raw}, E>`, or remove `async` from `#[connection(...)]` to keep a blocking connect"
)]
pub trait AsyncConnectIsNotAsync<Conn, Raw> {
    /// Never called: no type implements this trait.
    fn never() -> std::future::Ready<Result<Raw, Infallible>>;
}

/// Boxes an async connect function's future, checking on the way that it is
/// `Send` and gives `Result<Raw, E>` with a boxable `E`.
#[inline]
pub fn box_connect<'a, Conn, Raw, F>(future: F) -> ConnectFuture<'a, Raw>
where
    // A non-`Send` future fails here with rustc's own account of which value
    // is held across which `.await`.
    F: Future + Send + 'a,
    F::Output: ConnectOutput<Conn, Raw>,
    <F::Output as ConnectOutput<Conn, Raw>>::Error: ConnectError<Conn>,
    Raw: 'a,
    Conn: 'a,
{
    Box::pin(async move { box_error::<Conn, Raw, _>(into_result::<Conn, Raw, _>(future.await)) })
}

/// What a connect function may return: `Result<Raw, E>`.
#[diagnostic::on_unimplemented(
    message = "the connect function of `{Conn}` returns `{Self}`, but its raw type needs `Result<{Raw}, E>`",
    label = "the raw type is set by this `BaseConnection<{Raw}>` field",
    note = "write `fn _connect(&self, config: &Config) -> Result<{Raw}, E>`, where E is any error type (`std::error::Error + Send + Sync + 'static`, e.g. `connections_core::BoxError`); if it is an `async fn`, mark the struct `#[connection(async)]`"
)]
pub trait ConnectOutput<Conn, Raw> {
    /// The error type of the result.
    type Error;
    /// The result itself.
    fn into_result(self) -> Result<Raw, Self::Error>;
}

impl<Conn, Raw, E> ConnectOutput<Conn, Raw> for Result<Raw, E> {
    type Error = E;
    #[inline]
    fn into_result(self) -> Self {
        self
    }
}

/// What a connect function's error may be: anything convertible to [`BoxError`].
#[diagnostic::on_unimplemented(
    message = "the connect function of `{Conn}` returns errors of type `{Self}`, which does not convert into `BoxError`",
    label = "the connect function of `{Conn}` returns `Result<_, {Self}>`",
    note = "return an error type that implements `std::error::Error + Send + Sync + 'static` (or `connections_core::BoxError`, or `String`), or convert the error with `.map_err(...)`"
)]
pub trait ConnectError<Conn> {
    /// Boxes the error.
    fn into_box_error(self) -> BoxError;
}

impl<Conn, E: Into<BoxError>> ConnectError<Conn> for E {
    #[inline]
    fn into_box_error(self) -> BoxError {
        self.into()
    }
}

/// Calls a connect function of the expected shape; a function of another shape
/// fails here with rustc's "expected function that takes 2 arguments" or
/// "type mismatch in function arguments", at the struct name.
///
/// rustc quotes the line of the failed bound in its note, so that line ends
/// with the signature to write.
#[inline]
pub fn call_connect<Conn, O>(
    connect: impl FnOnce(&Conn, &Config) -> O, // write `fn _connect(&self, config: &Config) -> Result<Raw, E>`
    this: &Conn,
    config: &Config,
) -> O {
    connect(this, config)
}

/// Calls an async connect function: the same shape, its future borrowing
/// `this` and `config` for `'a`.
#[inline]
pub fn call_connect_async<'a, Conn, O>(
    connect: impl FnOnce(&'a Conn, &'a Config) -> O, // write `async fn _connect(&self, config: &Config) -> Result<Raw, E>`
    this: &'a Conn,
    config: &'a Config,
) -> O {
    connect(this, config)
}

/// The connect function's output as a `Result<Raw, _>`.
#[inline]
pub fn into_result<Conn, Raw, O: ConnectOutput<Conn, Raw>>(output: O) -> Result<Raw, O::Error> {
    output.into_result()
}

/// The result with its error boxed.
#[inline]
pub fn box_error<Conn, Raw, E: ConnectError<Conn>>(result: Result<Raw, E>) -> Result<Raw, BoxError> {
    result.map_err(ConnectError::into_box_error)
}

/// A field other than the base takes its `Default`.
#[diagnostic::on_unimplemented(
    message = "`{Conn}` has a field of type `{Self}`, which does not implement `Default`",
    label = "`#[derive(Connection)]` builds every field but the `BaseConnection` with `Default::default()`",
    note = "add `#[derive(Default)]` to `{Self}` or implement `Default` for it, wrap the field as `Option<{Self}>`, or, if `_connect` makes it, make it part of the raw type"
)]
pub trait ExtraField<Conn>: Sized {
    /// The field's initial value.
    fn extra_default() -> Self;
}

impl<Conn, T: Default> ExtraField<Conn> for T {
    #[inline]
    fn extra_default() -> Self {
        T::default()
    }
}

/// A raw type is shared across threads as `Arc<Raw>`, so it must be `Send`.
#[diagnostic::on_unimplemented(
    message = "the raw type `{Self}` cannot be sent between threads",
    label = "a connection's raw type must be `Send + Sync`: it is shared across threads as `Arc<{Self}>`",
    note = "use a thread-safe type instead, e.g. `Arc` for `Rc`"
)]
pub trait RawSend {}

impl<T: Send> RawSend for T {}

/// A raw type is shared across threads as `Arc<Raw>`, so it must be `Sync`.
#[diagnostic::on_unimplemented(
    message = "the raw type `{Self}` cannot be shared between threads",
    label = "a connection's raw type must be `Send + Sync`: it is shared across threads as `Arc<{Self}>`",
    note = "wrap it in a lock: `BaseConnection<std::sync::Mutex<{Self}>>` (a `Mutex<T>` is `Sync` when `T` is `Send`)"
)]
pub trait RawSync {}

impl<T: Sync> RawSync for T {}

/// The derive's where clause on its impl, `for<'a> Raw: RawGate<'a>`: the impl
/// holds only for a raw type that is `Send + Sync + 'static`, so a raw type
/// without them fails once, in [`register`], instead of once per item of the
/// impl. The lifetime makes the bound higher-ranked, which rustc does not
/// reject as "trivially false" when the raw type is concrete.
pub trait RawGate<'a>: Send + Sync + 'static {}

impl<T: Send + Sync + 'static> RawGate<'_> for T {}

/// The registration of a derived connection type. The raw type is checked
/// first, with advice; rustc then drops the error of the `Connection` bound,
/// which fails on the same `Send` or `Sync` at the same place.
pub const fn register<C, Raw>() -> Registration
where
    Raw: RawSend + RawSync + 'static,
    C: Connection<Raw = Raw>,
{
    Registration::of::<C>()
}

pub use crate::close::{CloseHook, Closing};

/// Sets a connection's close hook, if its type has one; the derive's `from_base` calls it.
#[inline]
pub fn with_close<Raw: Send + Sync + 'static>(
    base: BaseConnection<Raw>,
    hook: Option<CloseHook<Raw>>,
) -> BaseConnection<Raw> {
    match hook {
        Some(hook) => base.with_close(hook),
        None => base,
    }
}

/// The close hook around a function the derive wrote.
#[inline]
pub fn close_hook<Raw: Send + Sync + 'static>(close: fn(Raw) -> Closing) -> CloseHook<Raw> {
    CloseHook::new(close)
}

/// What the fallback `_close` returns: the type has no close hook.
pub struct NoClose;

/// The fallback `_close`, found only when the type has no inherent one: no close hook.
pub trait CloseFallback: Sized {
    /// Stands in for a missing `_close`; never called.
    fn _close(_raw: <Self as Connection>::Raw) -> NoClose
    where
        Self: Connection,
    {
        NoClose
    }
}

impl<T> CloseFallback for T {}

/// Wraps a type's close function (its `_close`, or the fallback) to tell,
/// by method lookup, whether it is the fallback: [`ProbeNoClose`] takes it
/// when it returns [`NoClose`], and otherwise lookup reaches [`ProbeClose`]
/// (autoref).
pub struct CloseProbe<Raw, F> {
    marker: PhantomData<fn(Raw, F)>,
}

/// The probe around a close function.
#[inline]
pub fn close_probe<Raw, F>(_close: F) -> CloseProbe<Raw, F> {
    CloseProbe { marker: PhantomData }
}

/// The close function is the fallback: no close hook.
pub trait ProbeNoClose {
    /// `false`.
    fn defines_close(self) -> bool;
}

impl<Raw, F: FnOnce(Raw) -> NoClose> ProbeNoClose for CloseProbe<Raw, F> {
    #[inline]
    fn defines_close(self) -> bool {
        false
    }
}

/// The type has a close function of its own.
pub trait ProbeClose {
    /// `true`.
    fn defines_close(self) -> bool;
}

impl<Raw, F> ProbeClose for &CloseProbe<Raw, F> {
    #[inline]
    fn defines_close(self) -> bool {
        true
    }
}

/// Calls a close function of the expected shape; a function of another shape
/// fails here with rustc's "expected function that takes 1 argument" or
/// "type mismatch in function arguments", at the struct name (or `close = path`).
///
/// rustc quotes the line of the failed bound in its note, so that line ends
/// with the signature to write.
#[inline]
pub fn call_close<Raw, O>(
    close: impl FnOnce(Raw) -> O, // write `fn _close(raw: Raw) -> Result<(), E>` (or `async fn`), taking the raw instance by value
    raw: Raw,
) -> O {
    close(raw)
}

/// Wraps a close function's output to tell a future (async hook) from a
/// result (sync hook): [`ProbeAsyncOutput`] takes a future, and otherwise
/// lookup reaches [`ProbeSyncOutput`] (autoref).
pub struct CloseOutputProbe<O> {
    // A `Cell` so that the autoref level, which has only `&self`, can move it out.
    output: Cell<Option<O>>,
}

/// The probe around a close function's output.
#[inline]
pub fn close_output<O>(output: O) -> CloseOutputProbe<O> {
    CloseOutputProbe {
        output: Cell::new(Some(output)),
    }
}

/// An async close function's future.
pub struct AsyncClose<O>(Option<O>);

/// A sync close function's result.
pub struct SyncClose<O>(Option<O>);

/// The output is a future: an async hook.
pub trait ProbeAsyncOutput {
    /// [`AsyncClose`].
    type Kind;
    /// The output, marked async.
    fn kind(self) -> Self::Kind;
}

impl<O: Future> ProbeAsyncOutput for CloseOutputProbe<O> {
    type Kind = AsyncClose<O>;
    #[inline]
    fn kind(self) -> AsyncClose<O> {
        AsyncClose(self.output.into_inner())
    }
}

/// The output is not a future: a sync hook.
pub trait ProbeSyncOutput {
    /// [`SyncClose`].
    type Kind;
    /// The output, marked sync.
    fn kind(self) -> Self::Kind;
}

impl<O> ProbeSyncOutput for &CloseOutputProbe<O> {
    type Kind = SyncClose<O>;
    #[inline]
    fn kind(self) -> SyncClose<O> {
        SyncClose(self.output.take())
    }
}

/// A probed close output, as the queue takes it.
pub trait IntoClosing<Conn> {
    /// The outcome, or the future to drive.
    fn into_closing(self) -> Closing;
}

impl<Conn, O> IntoClosing<Conn> for AsyncClose<O>
where
    // A non-`Send` future fails here with rustc's own account of which value
    // is held across which `.await`.
    O: Future + Send + 'static,
    O::Output: CloseResult<Conn>,
{
    #[inline]
    fn into_closing(self) -> Closing {
        match self.0 {
            Some(future) => Closing::Pending(Box::pin(async move { future.await.into_close_result() })),
            None => Closing::Done(Ok(())),
        }
    }
}

impl<Conn, O: CloseResult<Conn>> IntoClosing<Conn> for SyncClose<O> {
    #[inline]
    fn into_closing(self) -> Closing {
        Closing::Done(self.0.map_or(Ok(()), CloseResult::into_close_result))
    }
}

/// The closing of a close function's output; checks it with advice.
#[inline]
pub fn into_closing<Conn, K: IntoClosing<Conn>>(kind: K) -> Closing {
    kind.into_closing()
}

/// What a close function may return: `Result<(), E>` or `()`, or a future of either.
#[diagnostic::on_unimplemented(
    message = "the close function of `{Conn}` returns `{Self}`, but a close hook returns `Result<(), E>` or `()`",
    label = "the close function of `{Conn}`",
    note = "write `fn _close(raw: Raw) -> Result<(), E>`, or `async fn _close(raw: Raw) -> Result<(), E>`, where E is any error type (`std::error::Error + Send + Sync + 'static`, e.g. `connections_core::BoxError`)"
)]
pub trait CloseResult<Conn> {
    /// The outcome, its error boxed.
    fn into_close_result(self) -> Result<(), BoxError>;
}

impl<Conn> CloseResult<Conn> for () {
    #[inline]
    fn into_close_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<Conn> CloseResult<Conn> for NoClose {
    #[inline]
    fn into_close_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<Conn, E: CloseError<Conn>> CloseResult<Conn> for Result<(), E> {
    #[inline]
    fn into_close_result(self) -> Result<(), BoxError> {
        self.map_err(CloseError::into_box_error)
    }
}

/// What a close function's error may be: anything convertible to [`BoxError`].
#[diagnostic::on_unimplemented(
    message = "the close function of `{Conn}` returns errors of type `{Self}`, which does not convert into `BoxError`",
    label = "the close function of `{Conn}` returns `Result<(), {Self}>`",
    note = "return an error type that implements `std::error::Error + Send + Sync + 'static` (or `connections_core::BoxError`, or `String`), or convert the error with `.map_err(...)`"
)]
pub trait CloseError<Conn> {
    /// Boxes the error.
    fn into_box_error(self) -> BoxError;
}

// Not recommended, so rustc reports the unmet `CloseError` (and its advice)
// rather than the `Into<BoxError>` behind it.
#[diagnostic::do_not_recommend]
impl<Conn, E: Into<BoxError>> CloseError<Conn> for E {
    #[inline]
    fn into_box_error(self) -> BoxError {
        self.into()
    }
}

// ---------------------------------------------------------------- `_check`

pub use crate::health::Checking;

/// What the fallback `_check` returns: the type has no check hook.
pub struct NoCheck;

/// The fallback `_check`, found only when the type has no inherent one: no check hook.
pub trait CheckFallback: Sized {
    /// Stands in for a missing `_check`; never called.
    #[inline]
    fn _check(&self) -> NoCheck {
        NoCheck
    }
}

impl<T> CheckFallback for T {}

/// Wraps a type's check function (its `_check`, or the fallback) to tell, by
/// method lookup, whether it is the fallback: [`ProbeNoCheck`] takes it when
/// it returns [`NoCheck`], and otherwise lookup reaches [`ProbeCheck`] (autoref).
pub struct CheckProbe<Conn, F> {
    marker: PhantomData<fn(&Conn, F)>,
}

/// The probe around a check function.
#[inline]
pub fn check_probe<Conn, F>(_check: F) -> CheckProbe<Conn, F> {
    CheckProbe { marker: PhantomData }
}

/// The check function is the fallback: no check hook.
pub trait ProbeNoCheck {
    /// `false`: the type has no `_check`.
    fn defines_check(self) -> bool;
}

impl<Conn, F: for<'a> FnOnce(&'a Conn) -> NoCheck> ProbeNoCheck for CheckProbe<Conn, F> {
    #[inline]
    fn defines_check(self) -> bool {
        false
    }
}

/// The type has a check function of its own.
pub trait ProbeCheck {
    /// `true`: the type has a `_check`.
    fn defines_check(self) -> bool;
}

impl<Conn, F> ProbeCheck for &CheckProbe<Conn, F> {
    #[inline]
    fn defines_check(self) -> bool {
        true
    }
}

/// Calls a check function of the expected shape; a function of another shape
/// fails here with rustc's "type mismatch in function arguments", at the
/// struct name (or `check = path`).
///
/// rustc quotes the line of the failed bound in its note, so that line ends
/// with the signature to write.
#[inline]
pub fn call_check<'s, Conn, O>(
    check: impl FnOnce(&'s Conn) -> O, // write `fn _check(&self) -> Result<(), E>` (or `async fn`)
    conn: &'s Conn,
) -> O {
    check(conn)
}

/// A probed check output (see [`close_output`]), as the registry takes it.
pub trait IntoChecking<'s, Conn> {
    /// The outcome, or the future to drive.
    fn into_checking(self) -> Checking<'s>;
}

impl<'s, Conn, O> IntoChecking<'s, Conn> for AsyncClose<O>
where
    // A non-`Send` future fails here with rustc's own account of which value
    // is held across which `.await`.
    O: Future + Send + 's,
    O::Output: CheckResult<Conn>,
{
    #[inline]
    fn into_checking(self) -> Checking<'s> {
        match self.0 {
            Some(future) => Checking::Pending(Box::pin(async move { future.await.into_check_result() })),
            None => Checking::Done(Ok(())),
        }
    }
}

impl<'s, Conn, O: CheckResult<Conn>> IntoChecking<'s, Conn> for SyncClose<O> {
    #[inline]
    fn into_checking(self) -> Checking<'s> {
        Checking::Done(self.0.map_or(Ok(()), CheckResult::into_check_result))
    }
}

/// The checking of a check function's output; checks it with advice.
#[inline]
pub fn into_checking<'s, Conn, K: IntoChecking<'s, Conn>>(kind: K) -> Checking<'s> {
    kind.into_checking()
}

/// What a check function may return: `Result<(), E>` or `()`, or a future of either.
#[diagnostic::on_unimplemented(
    message = "the check function of `{Conn}` returns `{Self}`, but a check hook returns `Result<(), E>` or `()`",
    label = "the check function of `{Conn}`",
    note = "write `fn _check(&self) -> Result<(), E>`, or `async fn _check(&self) -> Result<(), E>`, where E is any error type (`std::error::Error + Send + Sync + 'static`, e.g. `connections_core::BoxError`)"
)]
pub trait CheckResult<Conn> {
    /// The outcome, its error boxed.
    fn into_check_result(self) -> Result<(), BoxError>;
}

impl<Conn> CheckResult<Conn> for () {
    #[inline]
    fn into_check_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<Conn> CheckResult<Conn> for NoCheck {
    #[inline]
    fn into_check_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<Conn, E: CheckError<Conn>> CheckResult<Conn> for Result<(), E> {
    #[inline]
    fn into_check_result(self) -> Result<(), BoxError> {
        self.map_err(CheckError::into_box_error)
    }
}

/// What a check function's error may be: anything convertible to [`BoxError`].
#[diagnostic::on_unimplemented(
    message = "the check function of `{Conn}` returns errors of type `{Self}`, which does not convert into `BoxError`",
    label = "the check function of `{Conn}` returns `Result<(), {Self}>`",
    note = "return an error type that implements `std::error::Error + Send + Sync + 'static` (or `connections_core::BoxError`, or `String`), or convert the error with `.map_err(...)`"
)]
pub trait CheckError<Conn> {
    /// Boxes the error.
    fn into_box_error(self) -> BoxError;
}

// Not recommended, so rustc reports the unmet `CheckError` (and its advice)
// rather than the `Into<BoxError>` behind it.
#[diagnostic::do_not_recommend]
impl<Conn, E: Into<BoxError>> CheckError<Conn> for E {
    #[inline]
    fn into_box_error(self) -> BoxError {
        self.into()
    }
}

// ---------------------------------------------------------------- `_reconfigure`

/// What the fallback `_reconfigure` returns: the type has no such hook.
pub struct NoReconfigure;

/// The fallback `_reconfigure`, found only when the type has no inherent one.
pub trait ReconfigureFallback: Sized {
    /// Stands in for a missing `_reconfigure`; never called.
    #[inline]
    fn _reconfigure(&self, _old: &Config, _new: &Config) -> NoReconfigure {
        NoReconfigure
    }
}

impl<T> ReconfigureFallback for T {}

/// Wraps a type's reconfigure function to tell, by method lookup, whether it
/// is the fallback ([`ProbeNoReconfigure`]) or the type's own ([`ProbeReconfigure`]).
pub struct ReconfigureProbe<Conn, F> {
    marker: PhantomData<fn(&Conn, F)>,
}

/// The probe around a reconfigure function.
#[inline]
pub fn reconfigure_probe<Conn, F>(_reconfigure: F) -> ReconfigureProbe<Conn, F> {
    ReconfigureProbe { marker: PhantomData }
}

/// The reconfigure function is the fallback.
pub trait ProbeNoReconfigure {
    /// `false`: the type has no `_reconfigure`.
    fn defines_reconfigure(self) -> bool;
}

impl<Conn, F: for<'a, 'b, 'c> FnOnce(&'a Conn, &'b Config, &'c Config) -> NoReconfigure> ProbeNoReconfigure
    for ReconfigureProbe<Conn, F>
{
    #[inline]
    fn defines_reconfigure(self) -> bool {
        false
    }
}

/// The type has a reconfigure function of its own.
pub trait ProbeReconfigure {
    /// `true`: the type has a `_reconfigure`.
    fn defines_reconfigure(self) -> bool;
}

impl<Conn, F> ProbeReconfigure for &ReconfigureProbe<Conn, F> {
    #[inline]
    fn defines_reconfigure(self) -> bool {
        true
    }
}

/// Calls a reconfigure function of the expected shape; another shape fails
/// here, and rustc quotes this line, which ends with the signature to write.
#[inline]
pub fn call_reconfigure<'s, Conn, O>(
    f: impl FnOnce(&'s Conn, &Config, &Config) -> O, // write `fn _reconfigure(&self, old: &Config, new: &Config) -> bool`
    conn: &'s Conn,
    old: &Config,
    new: &Config,
) -> O {
    f(conn, old, new)
}

/// What a reconfigure function may return: whether it took the change.
#[diagnostic::on_unimplemented(
    message = "the reconfigure function of `{Conn}` returns `{Self}`, but it must say whether it took the change",
    label = "the reconfigure function of `{Conn}`",
    note = "write `fn _reconfigure(&self, old: &Config, new: &Config) -> bool`: `true` if the instance took `new` in place, `false` to reset it"
)]
pub trait ReconfigureResult<Conn> {
    /// Whether the change was taken in place.
    fn handled(self) -> bool;
}

impl<Conn> ReconfigureResult<Conn> for bool {
    #[inline]
    fn handled(self) -> bool {
        self
    }
}

impl<Conn> ReconfigureResult<Conn> for NoReconfigure {
    #[inline]
    fn handled(self) -> bool {
        false
    }
}

/// Whether a reconfigure function's output says it took the change; checks it with advice.
#[inline]
pub fn reconfigure_handled<Conn, O: ReconfigureResult<Conn>>(output: O) -> bool {
    output.handled()
}
