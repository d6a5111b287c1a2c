//! `HttpSettings`: the keys of a `type = "http"` section as typed settings,
//! so the generic checks (unknown and near-miss keys, kinds of values) and
//! the secrets schema cover HTTP APIs as they cover any connection type.

use std::collections::BTreeMap;

use connections_core::Secret;
use schemars::JsonSchema;
use serde::Deserialize;

/// A `type = "http"` section: where, with which credentials, how long and
/// how often.
#[derive(Deserialize, JsonSchema)]
#[expect(
    dead_code,
    reason = "read for its checks and schema; `options` reads the values themselves"
)]
pub(crate) struct HttpSettings {
    /// The API's root, `https://host[:port][/path/]`: every request's path
    /// is relative to it and cannot leave it.
    #[schemars(extend("x-harmless" = true))]
    base_url: String,
    /// Headers sent with every request (`Accept`, `User-Agent`...).
    headers: Option<BTreeMap<String, String>>,
    /// A bearer token, sent as `Authorization: Bearer <token>`; never shown.
    #[schemars(extend("x-aliases" = ["bearer_token", "access_token"]))]
    token: Option<Secret<String>>,
    /// The user of HTTP basic authentication (with `password`).
    #[schemars(extend("x-aliases" = ["user"]))]
    #[schemars(extend("x-harmless" = true))]
    username: Option<String>,
    /// The password of HTTP basic authentication; never shown.
    password: Option<Secret<String>>,
    /// An API key, sent in the header `api_key_header` (default `X-API-Key`)
    /// or the query parameter `api_key_query`; never shown.
    #[schemars(extend("x-aliases" = ["apikey"]))]
    api_key: Option<Secret<String>>,
    /// The header that carries `api_key` (default `X-API-Key`).
    #[schemars(extend("x-harmless" = true))]
    api_key_header: Option<String>,
    /// The query parameter that carries `api_key`, instead of a header.
    #[schemars(extend("x-harmless" = true))]
    api_key_query: Option<String>,
    /// Seconds one connect (TCP and TLS) may take (default 5).
    #[schemars(extend("x-harmless" = true))]
    connect_timeout: Option<f64>,
    /// Seconds a whole request may take, its body included (default 30).
    #[schemars(extend("x-harmless" = true))]
    timeout: Option<f64>,
    /// Further attempts of an idempotent request after a connect error, a
    /// 429 or a 503 (default 2; 0 never retries).
    #[schemars(range(max = 10))]
    #[schemars(extend("x-harmless" = true))]
    retries: Option<u32>,
    /// Seconds before the first retry, doubled for each next one (default 0.2).
    #[schemars(extend("x-harmless" = true))]
    retry_backoff: Option<f64>,
    /// The longest wait before a retry, in seconds, `Retry-After` included:
    /// a server asking for longer gets its answer back instead (default 10).
    #[schemars(extend("x-harmless" = true))]
    retry_backoff_max: Option<f64>,
    /// A proxy for every request: `http://[user:password@]host:port`.
    proxy: Option<Secret<String>>,
    /// A path, relative to `base_url`, that the health check fetches and
    /// wants a 2xx from; without it, any answer passes.
    #[schemars(extend("x-harmless" = true))]
    check_path: Option<String>,
    /// TLS beyond the defaults (Mozilla's roots, TLS 1.2 and 1.3).
    tls: Option<TlsSettings>,
}

/// `[connections.<name>.tls]`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "read for its checks and schema")]
pub(crate) struct TlsSettings {
    /// A PEM file of the certificates to trust instead of Mozilla's roots
    /// (a private CA).
    ca_file: Option<String>,
    /// A PEM file of the client certificate (and its chain), for servers
    /// that ask for one; with `client_key`.
    client_cert: Option<String>,
    /// A PEM file of the client certificate's private key.
    client_key: Option<String>,
    /// The oldest TLS version to speak: `"1.2"` (default) or `"1.3"`.
    min_version: Option<TlsVersion>,
}

/// A TLS version rustls speaks.
#[derive(Deserialize, JsonSchema)]
pub(crate) enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    V12,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    V13,
}
