//! Named, configured, lazily connected, resettable connections for Rust:
//! Streamlit's `st.connection` system, with its mistakes caught at compile
//! time. This is the crate to add; it re-exports the core, the derive and
//! the prelude, and builds the first-party connection types its features
//! ask for.
//!
//! ```toml
//! [dependencies]
//! connections = { version = "0.1", features = ["sql"] }
//! ```
//!
//! | Feature | What it adds |
//! |---|---|
//! | `derive` (default) | `#[derive(Connection)]` |
//! | `watch` (default) | [`RegistryBuilder::watch`]: reload the secrets when their files change |
//! | `sql` | `type = "sql"`: `sql::SqlConnection` on sqlx (SQLite bundled, PostgreSQL, MySQL/MariaDB), on tokio |
//! | `sql-tls` | TLS (rustls, webpki roots) for SQL servers; a TLS mode asked for without it is an error, never plaintext |
//! | `redis` | `type = "redis"`: `redis::RedisConnection` on the `redis` crate's multiplexed connection with automatic reconnect, on tokio |
//! | `http` | `type = "http"`: `http::HttpConnection`, an HTTP API on reqwest with rustls: base URL, credentials, retries, a read cache |
//! | `files` | `type = "files"`: `files::FilesConnection`, files on `object_store` (S3, GCS, Azure, local disk, memory) |
//! | `metrics` | counters and histograms through the `metrics` facade |
//! | `doctor` | `doctor`: the secrets report that the `connections` command prints, as a table or JSON |
//!
//! A `type` naming a first-party type whose feature is off is an error that
//! names the feature and the line to add to `Cargo.toml`.
//!
//! You write a struct with a [`BaseConnection<Raw>`](BaseConnection) field
//! and one `_connect` function; `#[derive(Connection)]` writes the rest.
//! Connections are looked up by name, configured from `[connections.<name>]`
//! in Streamlit's secrets files, connect on first use, and reconnect after
//! `reset()`:
//!
//! ```
//! use connections::prelude::*;
//!
//! #[derive(Connection)]
//! #[connection(type_name = "greeter")]
//! pub struct Greeter {
//!     base: BaseConnection<String>,
//! }
//!
//! impl Greeter {
//!     fn _connect(&self, config: &Config) -> Result<String, BoxError> {
//!         Ok(format!("hello, {}", config.get::<String>("who")?))
//!     }
//! }
//!
//! let registry = connections::Registry::builder()
//!     .secrets_toml(".streamlit/secrets.toml", "[connections.hi]\ntype = 'greeter'\nwho = 'world'")
//!     .build();
//! let hi = registry.connection::<Greeter>("hi")?;
//! assert!(!hi.is_connected());
//! assert_eq!(*hi.instance()?, "hello, world");
//! # Ok::<(), connections::Error>(())
//! ```
//!
//! Everything below is `connections_core`'s, re-exported: its documentation
//! is the reference (the state machine, scopes, async connections, reloads,
//! secrets, errors, tracing, and the [`author`] module for writing a
//! connection type as the first-party ones are written).

pub use connections_core::*;

/// `type = "sql"`: SQLite, PostgreSQL and MySQL/MariaDB on sqlx's native
/// drivers (the `connections-sql` crate, built by the `sql` feature).
#[cfg(feature = "sql")]
pub use connections_sql as sql;

/// `type = "redis"`: Redis on the `redis` crate's multiplexed connection,
/// which reconnects by itself (the `connections-redis` crate, built by the
/// `redis` feature).
#[cfg(feature = "redis")]
pub use connections_redis as redis;

/// `type = "http"`: an HTTP API on reqwest with rustls, with a base URL,
/// credentials from the secrets, retries and a read cache (the
/// `connections-http` crate, built by the `http` feature).
#[cfg(feature = "http")]
pub use connections_http as http;

/// `type = "files"`: files and objects on the `object_store` crate, with a
/// read cache its own writes invalidate (the `connections-files` crate,
/// built by the `files` feature).
#[cfg(feature = "files")]
pub use connections_files as files;
