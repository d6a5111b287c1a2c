//! `RedisSettings`: the keys of a `type = "redis"` section as typed settings,
//! so the generic checks (unknown and near-miss keys, kinds of values) and
//! the secrets schema cover Redis as they cover any connection type.

use connections_core::Secret;
use schemars::JsonSchema;
use serde::Deserialize;

/// A `type = "redis"` section: a `url`, or the discrete keys; timeouts.
#[derive(Deserialize, JsonSchema)]
#[expect(
    dead_code,
    reason = "read for its checks and schema; `options` reads the values themselves"
)]
pub(crate) struct RedisSettings {
    /// `redis://[username:password@]host[:port][/db]`, or
    /// `unix:///path/to/redis.sock[?db=N]`. Wins over the discrete keys.
    url: Option<String>,
    /// The server's host name (default `127.0.0.1`).
    host: Option<String>,
    /// The server's port (default 6379).
    port: Option<u16>,
    /// The database number (default 0).
    db: Option<i64>,
    /// The ACL user to log in as (default: the `default` user).
    username: Option<String>,
    /// The password; never shown.
    password: Option<Secret<String>>,
    /// Seconds one connect attempt may take (default 5).
    connect_timeout: Option<f64>,
    /// Seconds a command may wait for its answer (default 5).
    response_timeout: Option<f64>,
    /// TLS files; the table turns TLS on for `host` and `port` (a `url` must be `rediss://`).
    tls: Option<TlsSettings>,
}

/// `[connections.<name>.tls]`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "read for its checks and schema")]
pub(crate) struct TlsSettings {
    /// A PEM file of the certificates to trust instead of Mozilla's roots (a private CA).
    ca_file: Option<String>,
    /// A PEM file of the client certificate, for servers that ask for one; with `client_key`.
    client_cert: Option<String>,
    /// A PEM file of the client certificate's private key.
    client_key: Option<String>,
}
