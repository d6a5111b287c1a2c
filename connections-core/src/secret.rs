//! `Secret<T>`: a configuration value that never prints.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A value read from configuration that prints as `***` in `Debug` and
/// `Display`; [`expose`](Secret::expose) gives the value itself.
///
/// Read one with [`Config::get`](crate::Config::get) or as a field of a
/// struct read with [`Config::deserialize`](crate::Config::deserialize), so a
/// password cannot reach a log through a `{:?}` of the surrounding struct.
///
/// # Examples
///
/// ```
/// use connections_core::{Config, Secret};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Db {
///     user: String,
///     password: Secret<String>,
/// }
///
/// let config = Config::from_toml("db", "user = 'app'\npassword = 'hunter2'")?;
/// let db: Db = config.deserialize()?;
/// assert_eq!(format!("{db:?}"), r#"Db { user: "app", password: *** }"#);
/// assert_eq!(db.password.expose(), "hunter2");
///
/// let token: Secret<String> = config.get("password")?;
/// assert_eq!(token.to_string(), "***");
/// # Ok::<(), connections_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = connections_core::Secret::new(42);
    /// assert_eq!(format!("{s:?}"), "***");
    /// ```
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value. The name makes every use of a secret easy to find.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(*connections_core::Secret::new(42).expose(), 42);
    /// ```
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(connections_core::Secret::new(String::from("k")).into_exposed(), "k");
    /// ```
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `Config::get` asks after reading a key, and redacts it from then on.
        READ.set(true);
        T::deserialize(deserializer).map(Self)
    }
}

thread_local! {
    /// Set when a `Secret` is deserialized on this thread.
    static READ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a `Secret` was deserialized on this thread since the last call.
pub(crate) fn take_read() -> bool {
    READ.replace(false)
}

/// A `Secret<T>` field's schema is `T`'s, marked `writeOnly`: editors and
/// the doctor treat it as a value never to show.
#[cfg(feature = "settings")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Secret<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = generator.subschema_for::<T>();
        schema.insert("writeOnly".to_owned(), true.into());
        schema
    }
}
