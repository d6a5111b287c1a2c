//! Reading a `type = "http"` section into what the client is built with:
//! the base URL, default headers, credentials, timeouts, retries, proxy and TLS.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use connections_core::author::seconds_to_duration;
use connections_core::{Config, Error, Secret};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// One connect's default bound (TCP and TLS).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole request's default bound, its body included: a server that stops
/// answering fails a request in this long.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
/// Further attempts of an idempotent request, by default.
pub(crate) const RETRIES: u32 = 2;
/// The first retry's wait, doubled for each next one.
pub(crate) const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait before a retry, `Retry-After` included.
pub(crate) const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// The header an `api_key` goes in when the section names none.
pub(crate) const API_KEY_HEADER: &str = "X-API-Key";

/// A section, read.
#[derive(Clone)]
pub(crate) struct HttpOptions {
    /// Ends in `/`: a relative path joins below it.
    pub(crate) base_url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) auth: Auth,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) proxy: Option<Url>,
    pub(crate) check_path: Option<String>,
    pub(crate) tls: TlsOptions,
}

/// `host:port` of `url` (the scheme's port when it has none written).
pub(crate) fn endpoint(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The credentials every request of a section carries.
#[derive(Clone)]
pub(crate) enum Auth {
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret<String>),
    /// `Authorization: Basic ...`.
    Basic {
        username: String,
        password: Option<Secret<String>>,
    },
    /// The key in a header of its own.
    KeyHeader {
        header: HeaderName,
        key: Secret<String>,
    },
    /// The key in a query parameter.
    KeyQuery {
        parameter: String,
        key: Secret<String>,
    },
}

impl Auth {
    /// What it is, never its value: "bearer token", "basic auth as `ada`".
    pub(crate) fn kind(&self) -> String {
        match self {
            Auth::None => "no credentials".to_owned(),
            Auth::Bearer(_) => "bearer token (`token`)".to_owned(),
            Auth::Basic { username, .. } => format!("basic auth as `{username}`"),
            Auth::KeyHeader { header, .. } => format!("API key in header `{header}`"),
            Auth::KeyQuery { parameter, .. } => format!("API key in query parameter `{parameter}`"),
        }
    }

    /// The key to say what to check when the server refuses the credentials.
    pub(crate) fn keys(&self) -> &'static str {
        match self {
            Auth::None => "`token`, `username` and `password`, or `api_key`",
            Auth::Bearer(_) => "`token`",
            Auth::Basic { .. } => "`username` and `password`",
            Auth::KeyHeader { .. } | Auth::KeyQuery { .. } => "`api_key`",
        }
    }

    /// The query parameter that holds a credential, to mask in URLs shown.
    pub(crate) fn query_parameter(&self) -> Option<&str> {
        match self {
            Auth::KeyQuery { parameter, .. } => Some(parameter),
            _ => None,
        }
    }
}

/// The `tls` table.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) client_cert: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    /// TLS 1.3 only.
    pub(crate) min_tls13: bool,
}

impl TlsOptions {
    fn is_set(&self) -> bool {
        *self != TlsOptions::default()
    }
}

/// Reads `config`.
pub(crate) fn parse(config: &Config) -> Result<HttpOptions, Error> {
    let base_url = base_url(config)?;
    let tls = tls(config)?;
    if tls.is_set() && base_url.scheme() == "http" {
        return Err(config.invalid(
            "tls",
            format!(
                "sets TLS options, but `base_url` is `http://`, which would send every request in plaintext; write `{}`, or remove the `tls` table",
                base_url.as_str().replacen("http://", "https://", 1)
            ),
        ));
    }
    let retry_backoff = seconds(config, "retry_backoff")?.unwrap_or(RETRY_BACKOFF);
    let retry_backoff_max = seconds(config, "retry_backoff_max")?.unwrap_or(RETRY_BACKOFF_MAX);
    if retry_backoff > retry_backoff_max {
        return Err(config.invalid(
            "retry_backoff",
            format!(
                "is longer than `retry_backoff_max` ({} s); write a first wait no longer than the longest",
                retry_backoff_max.as_secs_f64()
            ),
        ));
    }
    Ok(HttpOptions {
        headers: headers(config)?,
        auth: auth(config)?,
        connect_timeout: seconds(config, "connect_timeout")?.unwrap_or(CONNECT_TIMEOUT),
        timeout: seconds(config, "timeout")?.unwrap_or(TIMEOUT),
        retries: config.get_opt::<u32>("retries")?.unwrap_or(RETRIES),
        retry_backoff,
        retry_backoff_max,
        proxy: proxy(config)?,
        check_path: config.get_opt::<String>("check_path")?,
        tls,
        base_url,
    })
}

fn base_url(config: &Config) -> Result<Url, Error> {
    let written = config.get::<String>("base_url")?;
    let mut url = Url::parse(&written).map_err(|error| {
        config.invalid(
            "base_url",
            format!("is not a URL ({error}); write `https://api.example.com/v1/`"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(config.invalid(
            "base_url",
            format!(
                "has the scheme `{}`; write an `https://` (or `http://`) URL",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(config.invalid("base_url", "has no host; write `https://api.example.com/v1/`"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config.invalid(
            "base_url",
            "holds credentials; move them to `username` and `password` (or `token`), which are never shown",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config.invalid(
            "base_url",
            "has a query or a fragment; write the API's root only, and pass query parameters per request with `.query()` (an API key: `api_key` with `api_key_query`)",
        ));
    }
    // `https://host/v1` and `https://host/v1/` mean the same root: paths join below `v1`.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn headers(config: &Config) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    let Some(headers) = config.get_opt::<BTreeMap<String, Secret<String>>>("headers")? else {
        return Ok(map);
    };
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            config.invalid(
                "headers",
                format!("has `{name}`, which is not a header name; write letters, digits and `-`"),
            )
        })?;
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            config.invalid(
                "headers",
                format!("has a value for `{name}` that a header cannot carry (a line break or a control character)"),
            )
        })?;
        // Never in hyper's debug output; the cache keys the credential identity, not this.
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

fn auth(config: &Config) -> Result<Auth, Error> {
    let token = config.get_opt::<Secret<String>>("token")?;
    let username = config.get_opt::<String>("username")?;
    let password = config.get_opt::<Secret<String>>("password")?;
    let api_key = config.get_opt::<Secret<String>>("api_key")?;
    let header = config.get_opt::<String>("api_key_header")?;
    let query = config.get_opt::<String>("api_key_query")?;

    // Which kinds of credentials the section gives: (a key of it, how to say it).
    let mut given: Vec<(&str, &str)> = Vec::new();
    if token.is_some() {
        given.push(("token", "`token`"));
    }
    if username.is_some() || password.is_some() {
        let key = if username.is_some() { "username" } else { "password" };
        given.push((key, "`username` and `password`"));
    }
    if api_key.is_some() {
        given.push(("api_key", "`api_key`"));
    }
    if let [(_, first), (second, _), ..] = given[..] {
        return Err(config.invalid(
            second,
            format!(
                "is a second kind of credentials beside {first}; keep one: `token` (bearer), `username` and `password` (basic), or `api_key`"
            ),
        ));
    }
    if api_key.is_none() {
        for (key, value) in [("api_key_header", &header), ("api_key_query", &query)] {
            if value.is_some() {
                return Err(config.invalid(key, "is set, but there is no `api_key` to send; add `api_key`"));
            }
        }
    }
    if let Some(token) = token {
        return Ok(Auth::Bearer(token));
    }
    if let Some(key) = api_key {
        return match (header, query) {
            (Some(_), Some(_)) => Err(config.invalid(
                "api_key_query",
                "is set with `api_key_header`; the key goes in one place: keep one of them",
            )),
            (None, Some(parameter)) if parameter.is_empty() => Err(config.invalid(
                "api_key_query",
                "is empty; write the query parameter's name, e.g. `api_key`",
            )),
            (None, Some(parameter)) => Ok(Auth::KeyQuery { parameter, key }),
            (header, None) => {
                let header = header.as_deref().unwrap_or(API_KEY_HEADER);
                let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    config.invalid(
                        "api_key_header",
                        format!("`{header}` is not a header name; write letters, digits and `-`, e.g. `X-API-Key`"),
                    )
                })?;
                if HeaderValue::from_str(key.expose()).is_err() {
                    return Err(config.invalid(
                        "api_key",
                        "holds a character a header cannot carry (a line break or a control character)",
                    ));
                }
                Ok(Auth::KeyHeader { header, key })
            }
        };
    }
    match (username, password) {
        (Some(username), password) => Ok(Auth::Basic { username, password }),
        (None, Some(_)) => Err(config.invalid(
            "password",
            "is set without `username`; basic authentication sends both: add `username`",
        )),
        (None, None) => Ok(Auth::None),
    }
}

fn proxy(config: &Config) -> Result<Option<Url>, Error> {
    let Some(proxy) = config.get_opt::<Secret<String>>("proxy")? else {
        return Ok(None);
    };
    // The parser's message could quote the URL, password included: only the shape is said.
    let url = Url::parse(proxy.expose()).map_err(|_| {
        config.invalid(
            "proxy",
            "is not a URL; write `http://[user:password@]host:port` (a password with `@`, `:` or `/` percent-encoded)",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config.invalid(
            "proxy",
            "is not an HTTP proxy's URL; write `http://[user:password@]host:port`",
        ));
    }
    Ok(Some(url))
}

fn tls(config: &Config) -> Result<TlsOptions, Error> {
    if !config.contains("tls") {
        return Ok(TlsOptions::default());
    }
    let table = config.get::<BTreeMap<String, toml_value::Value>>("tls")?;
    let text = |key: &str| -> Result<Option<String>, Error> {
        match table.get(key) {
            None => Ok(None),
            Some(toml_value::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(config.invalid(format!("tls.{key}"), "should be a string: a file's path")),
        }
    };
    for key in table.keys() {
        if !["ca_file", "client_cert", "client_key", "min_version"].contains(&key.as_str()) {
            return Err(config.invalid(
                format!("tls.{key}"),
                "is not a TLS setting this connection knows; write `ca_file`, `client_cert`, `client_key` or `min_version`",
            ));
        }
    }
    let options = TlsOptions {
        ca_file: text("ca_file")?.map(PathBuf::from),
        client_cert: text("client_cert")?.map(PathBuf::from),
        client_key: text("client_key")?.map(PathBuf::from),
        min_tls13: match text("min_version")?.as_deref() {
            None | Some("1.2") => false,
            Some("1.3") => true,
            Some(other) => {
                return Err(config.invalid(
                    "tls.min_version",
                    format!(
                        "is `{other}`, a version this client cannot honour: it speaks TLS 1.2 and 1.3 only; write \"1.2\" or \"1.3\""
                    ),
                ));
            }
        },
    };
    match (&options.client_cert, &options.client_key) {
        (Some(_), None) => Err(config.invalid(
            "tls.client_cert",
            "is set without `client_key`; a client certificate needs its private key: add `client_key`",
        )),
        (None, Some(_)) => Err(config.invalid(
            "tls.client_key",
            "is set without `client_cert`; add the certificate it belongs to as `client_cert`",
        )),
        _ => Ok(options),
    }
}

/// The values a `tls` table holds, read without knowing their kinds first.
mod toml_value {
    use serde::Deserialize;

    /// A TOML value, as far as the `tls` table needs.
    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Value {
        String(String),
        Other(serde::de::IgnoredAny),
    }
}

/// A timeout in seconds, as `key` writes it.
fn seconds(config: &Config, key: &str) -> Result<Option<Duration>, Error> {
    config
        .get_opt::<f64>(key)?
        .map(|s| match seconds_to_duration(s) {
            Ok(limit) if limit.is_zero() && key.ends_with("timeout") => Err(config.invalid(
                key,
                "is zero, which would fail every request; write a number of seconds, e.g. 5",
            )),
            Ok(limit) => Ok(limit),
            Err(problem) => Err(config.invalid(key, format!("is {problem}; write a number of seconds, e.g. 5"))),
        })
        .transpose()
}

/// A URL for messages: the query parameter holding a credential masked.
pub(crate) struct Shown<'a> {
    pub(crate) url: &'a Url,
    pub(crate) masked: Option<&'a str>,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(parameter) = self.masked.filter(|_| self.url.query().is_some()) else {
            return write!(f, "{}", self.url);
        };
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == parameter {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        write!(f, "{url}")
    }
}
