//! `SqlSettings`: the keys of a `type = "sql"` section as typed settings,
//! so the generic checks (unknown and near-miss keys, kinds of values) and
//! the secrets schema cover SQL as they cover any connection type.
//!
//! What a schema cannot say stays in the `diagnose` hook: which keys a URL
//! or a dialect needs, driver parameters, TLS that must be honoured.

use std::collections::BTreeMap;

use connections_core::Secret;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::options::{ALIASES, SQLALCHEMY_IGNORED};

/// Defines a settings struct with its own `fields` and the pool settings,
/// which a section may write at the top or in `create_engine_kwargs`, under
/// sqlx's or SQLAlchemy's name: written once for both places.
macro_rules! with_pool_settings {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        $vis struct $name {
            $($fields)*
            /// The pool's maximum number of connections (SQLAlchemy: `pool_size`).
            max_connections: Option<u32>,
            /// SQLAlchemy's name for `max_connections`.
            pool_size: Option<u32>,
            /// The connections the pool keeps open.
            min_connections: Option<u32>,
            /// Seconds to wait for a connection from the pool (SQLAlchemy: `pool_timeout`).
            acquire_timeout: Option<f64>,
            /// SQLAlchemy's name for `acquire_timeout`.
            pool_timeout: Option<f64>,
            /// Seconds a connection may stay idle in the pool.
            idle_timeout: Option<f64>,
            /// Seconds a connection lives before it is replaced (SQLAlchemy: `pool_recycle`).
            max_lifetime: Option<f64>,
            /// SQLAlchemy's name for `max_lifetime`.
            pool_recycle: Option<f64>,
            /// Test each connection before handing it out (SQLAlchemy: `pool_pre_ping`).
            test_before_acquire: Option<bool>,
            /// SQLAlchemy's name for `test_before_acquire`.
            pool_pre_ping: Option<bool>,
        }
    };
}

with_pool_settings! {
    /// A `type = "sql"` section, as Streamlit's `SQLConnection` reads it: a
    /// `url`, or the discrete keys; pool settings at the top or in
    /// `create_engine_kwargs`; driver parameters in `query` or
    /// `create_engine_kwargs.connect_args`.
    #[derive(Deserialize, JsonSchema)]
    #[schemars(transform = sql_extras)]
    #[expect(
        dead_code,
        reason = "read for its checks and schema; `options` reads the values themselves"
    )]
    pub(crate) struct SqlSettings {
        /// A SQLAlchemy-style URL: `postgresql://user:password@host:5432/db`,
        /// `mysql+pymysql://...`, `sqlite:///app.db`. Wins over the discrete keys.
        url: Option<String>,
        /// `postgresql`, `mysql`/`mariadb` or `sqlite` (a `+driver` suffix is ignored).
        dialect: Option<String>,
        /// SQLAlchemy's driver name; sqlx has one native driver per database.
        driver: Option<String>,
        /// The user to log in as.
        username: Option<String>,
        /// The password; never shown.
        password: Option<Secret<String>>,
        /// The server's host name.
        host: Option<String>,
        /// The server's port: a number, or a quoted one as Streamlit files often have.
        #[schemars(schema_with = "port_schema")]
        #[serde(default)]
        port: Option<Port>,
        /// The database (for SQLite, the file's path).
        database: Option<String>,
        /// Driver parameters: `sslmode`, `sslrootcert`, `application_name`...
        query: Option<BTreeMap<String, serde_json::Value>>,
        /// SQLAlchemy's `create_engine` options: pool settings and `connect_args`.
        create_engine_kwargs: Option<EngineKwargs>,
        /// Seconds to wait for a connect; zero waits indefinitely.
        connect_timeout: Option<f64>,
        /// Seconds a statement may take, a session's acquire included (30 on a
        /// server, none on SQLite by default); zero waits indefinitely.
        query_timeout: Option<f64>,
        /// Seconds to wait before retrying a statement after a transient error.
        retry_wait: Option<f64>,
    }
}

with_pool_settings! {
    /// `create_engine_kwargs`: pool settings under either name, and the driver's `connect_args`.
    #[derive(Deserialize, JsonSchema)]
    #[schemars(transform = engine_extras)]
    #[expect(dead_code, reason = "read for its checks and schema")]
    struct EngineKwargs {
        /// Driver parameters: `sslmode`, `connect_timeout`, `application_name`...
        connect_args: Option<BTreeMap<String, serde_json::Value>>,
    }
}

/// A port, as a number or a quoted number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Port {
    Number(#[expect(dead_code, reason = "checked, not read here")] u16),
    Text(#[expect(dead_code, reason = "checked, not read here")] String),
}

fn port_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["integer", "string"],
        "minimum": 0,
        "maximum": 65535,
        "description": "The server's port: a number, or a quoted one as Streamlit files often have."
    })
}

/// The SQLAlchemy options sqlx has no counterpart for (accepted, reported as
/// ignored) and the names people write for a key (`user` for `username`).
fn sql_extras(schema: &mut schemars::Schema) {
    add_ignored(schema);
    mark_harmless(schema);
    if let Some(properties) = schema.get_mut("properties").and_then(serde_json::Value::as_object_mut) {
        for (alias, meant) in ALIASES {
            if let Some(property) = properties.get_mut(meant).and_then(serde_json::Value::as_object_mut) {
                let aliases = property
                    .entry("x-aliases")
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                if let Some(list) = aliases.as_array_mut() {
                    list.push(alias.into());
                }
            }
        }
    }
}

fn engine_extras(schema: &mut schemars::Schema) {
    add_ignored(schema);
    mark_harmless(schema);
}

/// Settings the doctor may show: the pool's sizes and timeouts, the retry
/// wait. No credential is a number of connections or of seconds.
const HARMLESS: [&str; 13] = [
    "max_connections",
    "pool_size",
    "min_connections",
    "acquire_timeout",
    "pool_timeout",
    "idle_timeout",
    "max_lifetime",
    "pool_recycle",
    "test_before_acquire",
    "pool_pre_ping",
    "connect_timeout",
    "query_timeout",
    "retry_wait",
];

fn mark_harmless(schema: &mut schemars::Schema) {
    if let Some(properties) = schema.get_mut("properties").and_then(serde_json::Value::as_object_mut) {
        for name in HARMLESS {
            if let Some(property) = properties.get_mut(name).and_then(serde_json::Value::as_object_mut) {
                property.insert("x-harmless".to_owned(), true.into());
            }
        }
    }
}

fn add_ignored(schema: &mut schemars::Schema) {
    schema.insert("x-ignored".to_owned(), serde_json::json!(SQLALCHEMY_IGNORED));
    schema.insert(
        "x-ignored-why".to_owned(),
        "SQLAlchemy engine options that sqlx has no counterpart for".into(),
    );
}
