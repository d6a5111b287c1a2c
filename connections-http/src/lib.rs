//! HTTP APIs, on reqwest with rustls.
//!
//! [`HttpConnection`] is `type = "http"`: a base URL, credentials from the
//! secrets (a bearer token, basic auth, or an API key in a header or a
//! query parameter), default headers, timeouts, retries, a proxy and TLS,
//! on one pool of keep-alive sessions per section. Requests name a path
//! relative to the base URL ([`get`](HttpConnection::get),
//! [`post`](HttpConnection::post), ... and
//! [`get_json`](HttpConnection::get_json)), with
//! [`query`](Request::query), [`json`](Request::json),
//! [`header`](Request::header), a per-call [`timeout`](Request::timeout),
//! and a read cache with [`ttl`](Request::ttl). A user's own token replaces
//! the section's credentials for the requests made through
//! [`with_token`](HttpConnection::with_token).

use std::fmt;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use connections_core::author::{Redacted, Redactor, ResetReason};
use connections_core::{BaseConnection, BoxError, Config, Connection, Diagnostic, Error, Secret};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
pub use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::cache::ReadCache;
use self::options::{Auth, HttpOptions, Shown};

mod cache;
mod options;
mod settings;
mod tls;

/// How long [`Registry::check`](connections_core::Registry::check) waits for
/// an `HttpConnection`'s check request.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP API: one client, with its pool of keep-alive sessions, per
/// `[connections.<name>]` section.
///
/// ```toml
/// [connections.weather]
/// type = "http"
/// base_url = "https://api.weather.example/v2/"
/// token = "..."                 # or username + password, or api_key
/// headers = { Accept = "application/json" }
/// timeout = 10                  # seconds for a whole request (default 30)
/// ```
///
/// The keys: `base_url` (required); `headers`, a table sent with every
/// request; one kind of credentials: `token` (a bearer token), `username`
/// and `password` (basic auth), or `api_key` in the header `api_key_header`
/// (default `X-API-Key`) or the query parameter `api_key_query`;
/// `connect_timeout` (seconds, default 5), `timeout` (seconds for a whole
/// request, body included, default 30); `retries` (default 2),
/// `retry_backoff` (default 0.2 s, doubled each time) and
/// `retry_backoff_max` (default 10 s); `proxy`
/// (`http://[user:password@]host:port`); `check_path`, what the health
/// check fetches; and a `tls` table: `ca_file` (a PEM file of the roots to
/// trust instead of Mozilla's), `client_cert` and `client_key` (PEM files),
/// `min_version` (`"1.2"`, the default, or `"1.3"`). A TLS setting the
/// client cannot honour (a version it does not speak, a `tls` table on an
/// `http://` URL, an unreadable file) is an error, never a weaker connection.
///
/// Only idempotent requests (`GET`, `HEAD`, `PUT`, `DELETE`, `OPTIONS`) are
/// retried, and only when the connect failed or the server answered 429 or
/// 503; a `Retry-After` is honoured when it is no longer than
/// `retry_backoff_max`, and otherwise the answer comes back as it is. A
/// request that times out is not retried: the caller's bound holds. It
/// resets the connection instead, so the sessions of a network that fell
/// silent are dropped, never reused.
///
/// It is async and runs on tokio, as reqwest does. Errors name the
/// connection, the method, the URL and the host, never a credential: an API
/// key in the query shows as `***`.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
/// use connections_http::HttpConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let server = connections_http::doc_server().await;
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", format!("[connections.api]\ntype = 'http'\nbase_url = '{server}'\ntoken = 'tok'"))
///     .build();
/// let api = registry.connection::<HttpConnection>("api")?;
/// let echoed: serde_json::Value = api.get_json("echo?greeting=hello").await?;
/// assert_eq!(echoed["query"], "greeting=hello");
/// assert_eq!(echoed["authorization"], "Bearer tok");
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Connection)]
// `block_on`: reqwest needs a tokio runtime wherever it sends (the doctor's `--connect`);
// `settings`: the keys, checked before a connect and in the secrets schema;
// `diagnose`: what a schema cannot say (URLs, credentials that clash, TLS files).
#[connection(
    type_name = "http",
    async,
    settings = settings::HttpSettings,
    diagnose = HttpConnection::diagnose,
    block_on = block_on
)]
pub struct HttpConnection {
    base: BaseConnection<HttpClient>,
    /// The responses of requests sent with a `ttl`. Held for a lookup or an
    /// insert, never across a request.
    reads: Mutex<ReadCache>,
}

/// Drives a future on a current-thread tokio runtime of its own: how the
/// doctor's `--connect` connects and checks an `HttpConnection` where no
/// runtime runs.
fn block_on(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future);
    Ok(())
}

/// An [`HttpConnection`]'s instance: the reqwest client built from its
/// section, and what the section says about where and how.
///
/// # Examples
///
/// ```
/// use connections_core::{Config, Connection};
/// use connections_http::HttpConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let api = HttpConnection::from_config("api", Config::from_toml("api", "base_url = 'https://api.example.com/v1'")?);
/// let client = api.instance().await?;
/// assert_eq!(client.base_url().as_str(), "https://api.example.com/v1/");
/// // Any request the connection's methods do not cover: the section's
/// // timeouts, headers, proxy and TLS apply; its credentials do not.
/// let _builder = client.reqwest().get(client.base_url().join("status")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct HttpClient {
    /// The connection's name and redactor, for the messages of its responses.
    name: Box<str>,
    redactor: Redactor,
    reqwest: reqwest::Client,
    options: HttpOptions,
    /// The section's credentials as the header they travel in, if they do.
    auth_header: Option<(HeaderName, HeaderValue)>,
}

impl HttpClient {
    /// The reqwest client: the section's default headers, timeouts, proxy
    /// and TLS, but not its credentials, which the connection's own
    /// requests add.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.reqwest
    }

    /// The section's `base_url`, ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.options.base_url
    }

    fn build(config: &Config, options: HttpOptions, redactor: Redactor) -> Result<Self, Error> {
        let tls = tls::client_config(config, &options.tls)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(options.base_url.scheme() == "https")
            .default_headers(options.headers.clone())
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            // Redirects stay below `base_url` too: a 3xx comes back as it is.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|_| config.invalid("proxy", "could not be used as a proxy; write `http://host:port`"))?;
            builder = builder.proxy(proxy);
        }
        let reqwest = builder
            .build()
            .map_err(|error| config.invalid("base_url", format!("could not be given a client ({})", chain(&error))))?;
        let auth_header = match &options.auth {
            Auth::Bearer(token) => Some((AUTHORIZATION, bearer(token.expose()))),
            Auth::Basic { username, password } => {
                let credentials = format!("{username}:{}", password.as_ref().map_or("", |p| p.expose().as_str()));
                let mut value = HeaderValue::from_str(&format!("Basic {}", base64(credentials.as_bytes())))
                    .map_err(|_| config.invalid("username", "holds a character a header cannot carry"))?;
                value.set_sensitive(true);
                Some((AUTHORIZATION, value))
            }
            Auth::KeyHeader { header, key } => {
                let mut value = HeaderValue::from_str(key.expose())
                    .map_err(|_| config.invalid("api_key", "holds a character a header cannot carry"))?;
                value.set_sensitive(true);
                Some((header.clone(), value))
            }
            Auth::None | Auth::KeyQuery { .. } => None,
        };
        Ok(Self {
            name: config.name().into(),
            redactor,
            reqwest,
            options,
            auth_header,
        })
    }

    /// The URL of `path`: below `base_url`, or refused with what to write.
    fn resolve(&self, path: &str) -> Result<Url, String> {
        let base = &self.options.base_url;
        // Absolute: a scheme before the first `/`, `?` or `#`, then `//`; or `//host`.
        let first = path.find(['/', '?', '#']).unwrap_or(path.len());
        let absolute = path.starts_with("//") || (path[..first].ends_with(':') && path[first..].starts_with("//"));
        let url = if absolute {
            // An absolute URL is taken only below the base (a `next` link of a page).
            Url::parse(path).map_err(|error| format!("`{path}` is not a URL ({error})"))?
        } else {
            if path.contains('\\') {
                return Err(format!("the path `{path}` holds a `\\`; write `/` between segments"));
            }
            let relative = path.trim_start_matches('/');
            let segments = relative.split(['?', '#']).next().unwrap_or_default();
            if segments.split('/').any(is_dot_segment) {
                return Err(format!(
                    "the path `{path}` climbs with `.` or `..`, which could leave `base_url`; write the path below it"
                ));
            }
            // The base's own parts as they are, and the path (and query) set below its
            // path: no host is parsed again, as a join would.
            let (route, query) = match relative.split_once('?') {
                Some((route, query)) => (route, Some(query)),
                None => (relative, None),
            };
            if route.contains('#') || query.is_some_and(|q| q.contains('#')) {
                return Err(format!(
                    "the path `{path}` has a fragment (`#`), which a request never sends; leave it out"
                ));
            }
            let mut url = base.clone();
            let mut full = String::with_capacity(base.path().len() + route.len());
            full.push_str(base.path());
            full.push_str(route);
            url.set_path(&full);
            url.set_query(query);
            url
        };
        let below = url.scheme() == base.scheme()
            && url.host() == base.host()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.path().starts_with(base.path());
        if !below {
            return Err(format!(
                "`{}` is not below `base_url` `{base}`; pass a path relative to it, e.g. `items/1`",
                Shown {
                    url: &url,
                    masked: self.options.auth.query_parameter(),
                }
            ));
        }
        Ok(url)
    }
}

/// `.`, `..` or an encoding of them (`%2e%2E`), which URL parsers climb with.
fn is_dot_segment(segment: &str) -> bool {
    // Only a segment of one or two dots, each written `.` or `%2e`, in any case.
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] | [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
    }
    dots == 1 || dots == 2
}

/// `Bearer <token>`, marked sensitive.
fn bearer(token: &str) -> HeaderValue {
    // A token with a line break cannot travel; its header is then empty and the server refuses it.
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Standard base64, with padding, for basic auth.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl HttpConnection {
    /// What can be told about an `http` section without a request: the
    /// error a connect would fail with first (a URL that is not an API's,
    /// credentials that clash, TLS it cannot honour or files it cannot read).
    fn diagnose(config: &Config) -> Vec<Diagnostic> {
        match options::parse(config).and_then(|options| tls::client_config(config, &options.tls)) {
            Ok(_) => Vec::new(),
            Err(error) => vec![Diagnostic::from_error(&error)],
        }
    }

    #[expect(
        clippy::unused_async,
        reason = "an async type's connect is async; building the client sends nothing yet"
    )]
    async fn _connect(&self, config: &Config) -> Result<HttpClient, Error> {
        let options = options::parse(config)?;
        // The section may point elsewhere now, or hold other credentials: no read of before is served.
        self.reads().forget_all();
        tracing::debug!(settings = %Description::new(&options), "building the client");
        // The redactor of this configuration (and the one it replaced), for its responses' messages.
        HttpClient::build(config, options, self.base().redactor())
    }

    /// The health check [`Registry::check`](connections_core::Registry::check)
    /// runs: `GET check_path`, which must answer 2xx, or without one a
    /// `HEAD` of `base_url`, which any answer passes (the server is there);
    /// within [`CHECK_TIMEOUT`] and the section's `timeout`, never retried.
    async fn _check(&self) -> Result<(), BoxError> {
        let client = self.instance().await?;
        let request = match &client.options.check_path {
            Some(path) => self.get(path),
            None => self.head(""),
        };
        let check = async {
            let response = request.attempts(1).send().await?;
            if client.options.check_path.is_some() {
                response.error_for_status()?;
            }
            Ok::<(), Error>(())
        };
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(outcome) => outcome.map_err(Into::into),
            Err(_) => Err(format!(
                "the check of connection `{}` did not answer within {} s",
                self.name(),
                CHECK_TIMEOUT.as_secs()
            )
            .into()),
        }
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, ReadCache> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request of `method` to `path`, relative to `base_url`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::{HttpConnection, Method};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let response = api.request(Method::OPTIONS, "echo").send().await?;
    /// assert!(response.status().is_success());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn request(&self, method: Method, path: impl Into<String>) -> Request<'_> {
        Request::new(self, None, method, path.into())
    }

    /// A `GET` of `path`, relative to `base_url`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let response = api.get("echo").query(&[("page", 2)]).header("X-Trace", "t1").send().await?;
    /// let echoed: serde_json::Value = response.json()?;
    /// assert_eq!(echoed["query"], "page=2");
    /// assert_eq!(echoed["trace"], "t1");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::GET, path)
    }

    /// A `HEAD` of `path`, relative to `base_url`.
    ///
    /// # Examples
    ///
    /// See [`get`](HttpConnection::get).
    pub fn head(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::HEAD, path)
    }

    /// A `POST` to `path`, relative to `base_url`; never retried.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let echoed: serde_json::Value = api.post("echo").json(&serde_json::json!({"name": "Ada"})).send().await?.json()?;
    /// assert_eq!(echoed["method"], "POST");
    /// assert_eq!(echoed["body"], r#"{"name":"Ada"}"#);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn post(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` to `path`, relative to `base_url`.
    ///
    /// # Examples
    ///
    /// See [`post`](HttpConnection::post).
    pub fn put(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` to `path`, relative to `base_url`; never retried.
    ///
    /// # Examples
    ///
    /// See [`post`](HttpConnection::post).
    pub fn patch(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` of `path`, relative to `base_url`.
    ///
    /// # Examples
    ///
    /// See [`post`](HttpConnection::post).
    pub fn delete(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::DELETE, path)
    }

    /// `GET path` and its JSON body as `T`; an answer other than 2xx is an
    /// error with its status.
    ///
    /// # Errors
    ///
    /// As [`Request::send`] and [`Response::json`].
    ///
    /// # Examples
    ///
    /// See [`HttpConnection`].
    pub async fn get_json<T: DeserializeOwned>(&self, path: impl Into<String>) -> Result<T, Error> {
        self.get(path).send().await?.json()
    }

    /// The requests of a user whose own token replaces the section's
    /// credentials: Streamlit's caller's-rights connections, which act as
    /// the viewer. Every request made through it carries
    /// `Authorization: Bearer <token>` and none of the section's
    /// credentials, and its cached reads are its own: keyed by the token's
    /// identity (a keyed hash, never the value), so no other user's
    /// request is answered from them.
    ///
    /// Keep it where the user's requests are handled (a request handler,
    /// a session's state); the connection itself, shared by every user,
    /// never holds the token.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection, Secret};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'\napi_key = 'service-key'"))?);
    /// let ada = api.with_token(Secret::new("ada-token".to_owned()));
    /// let echoed: serde_json::Value = ada.get_json("echo").await?;
    /// assert_eq!(echoed["authorization"], "Bearer ada-token");
    /// assert_eq!(echoed["api_key"], serde_json::Value::Null, "not the section's key");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn with_token(&self, token: impl Into<Secret<String>>) -> WithToken<'_> {
        let token = token.into();
        WithToken {
            conn: self,
            user: UserAuth {
                identity: identity(token.expose()),
                header: bearer(token.expose()),
            },
        }
    }

    /// What the section resolves to, without a request: the base URL, the
    /// kind of credentials (never their value), the header names, the
    /// timeouts, retries, proxy and TLS.
    ///
    /// # Errors
    ///
    /// The section's mistakes, as a connect would fail with them.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Connection};
    /// use connections_http::HttpConnection;
    ///
    /// let section = "base_url = 'https://api.example.com/v1'\napi_key = 'k-123'\napi_key_header = 'X-Key'\ntimeout = 10";
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", section)?);
    /// let text = api.describe()?.to_string();
    /// assert_eq!(
    ///     text,
    ///     "http at https://api.example.com/v1/, API key in header `x-key`; connect_timeout 5 s, timeout 10 s, 2 retries (backoff 0.2 s to 10 s)"
    /// );
    /// assert!(!text.contains("k-123"));
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn describe(&self) -> Result<Description, Error> {
        options::parse(&self.base().config()).map(|options| Description::new(&options))
    }
}

/// A user's credentials: the header they travel in, and their identity.
struct UserAuth {
    identity: u128,
    header: HeaderValue,
}

/// The identity of a credential: a hash keyed per process, so equal tokens
/// share cached reads and no value can be read back from it.
fn identity(token: &str) -> u128 {
    static KEYS: OnceLock<(std::hash::RandomState, std::hash::RandomState)> = OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (std::hash::RandomState::new(), std::hash::RandomState::new()));
    (u128::from(a.hash_one(token)) << 64) | u128::from(b.hash_one(token))
}

/// A user's requests, with their own token; see [`HttpConnection::with_token`].
pub struct WithToken<'c> {
    conn: &'c HttpConnection,
    user: UserAuth,
}

impl WithToken<'_> {
    /// [`HttpConnection::request`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn request(&self, method: Method, path: impl Into<String>) -> Request<'_> {
        Request::new(self.conn, Some(&self.user), method, path.into())
    }

    /// [`HttpConnection::get`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn get(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::GET, path)
    }

    /// [`HttpConnection::post`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn post(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::POST, path)
    }

    /// [`HttpConnection::put`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn put(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PUT, path)
    }

    /// [`HttpConnection::patch`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn patch(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PATCH, path)
    }

    /// [`HttpConnection::delete`], with the user's token.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub fn delete(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::DELETE, path)
    }

    /// [`HttpConnection::get_json`], with the user's token.
    ///
    /// # Errors
    ///
    /// As [`HttpConnection::get_json`].
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::with_token`].
    pub async fn get_json<T: DeserializeOwned>(&self, path: impl Into<String>) -> Result<T, Error> {
        self.get(path).send().await?.json()
    }
}

impl fmt::Debug for WithToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithToken")
            .field("connection", &self.conn.name())
            .field("token", &"***")
            .finish()
    }
}

/// A request being built; [`send`](Request::send) sends it.
#[must_use = "a request does nothing until it is sent"]
pub struct Request<'c> {
    conn: &'c HttpConnection,
    user: Option<&'c UserAuth>,
    method: Method,
    path: String,
    query: Vec<String>,
    headers: HeaderMap,
    body: Option<Bytes>,
    timeout: Option<Duration>,
    ttl: Option<Duration>,
    attempts: Option<u32>,
    /// The first mistake in building it, reported by `send`.
    problem: Option<String>,
}

impl<'c> Request<'c> {
    fn new(conn: &'c HttpConnection, user: Option<&'c UserAuth>, method: Method, path: String) -> Self {
        Self {
            conn,
            user,
            method,
            path,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            timeout: None,
            ttl: None,
            attempts: None,
            problem: None,
        }
    }

    fn refuse(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    /// Adds query parameters: any serde type that serializes to pairs (a
    /// slice of tuples, a map, a struct).
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::get`].
    pub fn query<T: Serialize + ?Sized>(mut self, query: &T) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(pairs) if pairs.is_empty() => {}
            Ok(pairs) => self.query.push(pairs),
            Err(error) => self.refuse(format!("its query cannot be written as URL parameters ({error})")),
        }
        self
    }

    /// Adds a header to this request, replacing a default header of that
    /// name. A cached read is keyed by the headers added here.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::get`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            (Err(_), _) => self.refuse(format!("`{name}` is not a header name; write letters, digits and `-`")),
            (_, Err(_)) => self.refuse(format!(
                "the value of header `{name}` holds a line break or a control character"
            )),
        }
        self
    }

    /// Sends `body` as JSON (`Content-Type: application/json`).
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::post`].
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(bytes.into());
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(error) => self.refuse(format!("its body cannot be written as JSON ({error})")),
        }
        self
    }

    /// Sends `body` as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let echoed: serde_json::Value = api.put("echo").header("Content-Type", "text/plain").body("hi").send().await?.json()?;
    /// assert_eq!(echoed["body"], "hi");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Bounds this request, its body included, instead of the section's
    /// `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let err = api.get("slow").timeout(Duration::from_millis(100)).send().await.unwrap_err();
    /// assert!(err.to_string().contains("stopped answering"), "{err}");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Answers from the connection's read cache while a response to the same
    /// request lives there, and keeps a 2xx response for `ttl`: Streamlit's
    /// `ttl` on a read. The same request is the same method, URL (query
    /// included), headers added with [`header`](Request::header) and
    /// credentials (the section's, or one user's token). A request to the
    /// URL that may change it (`POST`, `PUT`, `PATCH`, `DELETE`) through this
    /// connection drops its cached reads at once. `GET` and `HEAD` only.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let first: serde_json::Value = api.get("counter").ttl(Duration::from_secs(60)).send().await?.json()?;
    /// let again: serde_json::Value = api.get("counter").ttl(Duration::from_secs(60)).send().await?.json()?;
    /// assert_eq!(first, again, "served from the cache");
    /// api.post("counter").send().await?; // drops the cached read
    /// let after: serde_json::Value = api.get("counter").ttl(Duration::from_secs(60)).send().await?.json()?;
    /// assert_ne!(after, first);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        if self.method == Method::GET || self.method == Method::HEAD {
            self.ttl = Some(ttl).filter(|ttl| !ttl.is_zero());
        } else {
            self.refuse(format!(
                "`ttl` caches `GET` and `HEAD` only, and this is a `{}`; leave `ttl` out",
                self.method
            ));
        }
        self
    }

    /// At most `attempts` in all, instead of `1 + retries`.
    fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// Sends the request, retrying as the section says, and reads the whole
    /// answer. Any status is a [`Response`]; its [`json`](Response::json),
    /// [`text`](Response::text) and [`bytes`](Response::bytes) fail on one
    /// other than 2xx.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCall`] for a request refused before it was sent (a
    /// path outside `base_url`, a header that cannot travel), the connect's
    /// error, and [`Error::Operation`] when no answer came: a connect that
    /// failed, or a server that stopped answering within the timeout.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::get`].
    pub async fn send(self) -> Result<Response, Error> {
        let conn = self.conn;
        let operation = operation(&self.method);
        if let Some(problem) = self.problem {
            return Err(conn.invalid_call(operation, problem));
        }
        // Connected first: a reset or a reload builds the client anew, which forgets every cached read.
        let client = conn.instance().await?;
        // A hit is found by the request as written, before its URL is resolved (a
        // request that cannot be resolved is never kept, so a hit is one that was).
        let cached = self.ttl.map(|ttl| {
            let key = variant(&self.method, &self.path, &self.query, &self.headers, self.user);
            (ttl, key)
        });
        if let Some((_, key)) = &cached
            && let Some(response) = conn.reads().get(key, Instant::now())
        {
            return Ok(response);
        }
        let mut url = client
            .resolve(&self.path)
            .map_err(|problem| conn.invalid_call(operation, problem))?;
        if !self.query.is_empty() {
            let mut query = url.query().map(str::to_owned).unwrap_or_default();
            for pairs in &self.query {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(pairs);
            }
            url.set_query(Some(&query));
        }
        let mut headers = self.headers;
        match (self.user, &client.auth_header) {
            (Some(user), _) => {
                headers.insert(AUTHORIZATION, user.header.clone());
            }
            (None, Some((name, value))) => {
                headers.insert(name.clone(), value.clone());
            }
            (None, None) => {}
        }
        if let (None, Auth::KeyQuery { parameter, key }) = (self.user, &client.options.auth) {
            url.query_pairs_mut().append_pair(parameter, key.expose());
        }
        let writes = changes_state(&self.method);
        // Filed under the URL without its query, which a write to it drops.
        let path = (cached.is_some() || writes).then(|| path_of(&url));
        let started = match &path {
            Some(path) => {
                let mut reads = conn.reads();
                if writes {
                    reads.invalidate(path);
                }
                reads.writes()
            }
            None => 0,
        };
        let exchange = Exchange {
            conn,
            user: self.user,
            client: &client,
            method: self.method,
            url,
            headers,
            body: self.body,
            timeout: self.timeout,
            operation,
        };
        let attempts = self.attempts.unwrap_or(if idempotent(&exchange.method) {
            1 + client.options.retries
        } else {
            1
        });
        // Boxed: the exchange's future is large, and is moved as the caller's future is.
        let outcome = Box::pin(exchange.run(attempts)).await;
        if writes && let Some(path) = &path {
            // A read that began while the request was on its way holds the old state.
            conn.reads().invalidate(path);
        }
        let response = outcome?;
        if let (Some((ttl, key)), Some(path)) = (cached, path)
            && response.status().is_success()
        {
            let now = Instant::now();
            let expires = now
                .checked_add(ttl)
                .unwrap_or_else(|| now + Duration::from_hours(100 * 365 * 24));
            conn.reads().insert(started, &path, key, expires, response.clone());
        }
        Ok(response)
    }
}

/// One request on its way: its attempts, and the errors they end in.
struct Exchange<'a> {
    conn: &'a HttpConnection,
    /// Whether a user's token replaced the section's credentials.
    user: Option<&'a UserAuth>,
    client: &'a Arc<HttpClient>,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    timeout: Option<Duration>,
    operation: &'static str,
}

impl Exchange<'_> {
    async fn run(self, attempts: u32) -> Result<Response, Error> {
        let options = &self.client.options;
        let mut attempt = 1;
        loop {
            let mut request = self
                .client
                .reqwest
                .request(self.method.clone(), self.url.clone())
                .headers(self.headers.clone());
            if let Some(body) = &self.body {
                request = request.body(body.clone());
            }
            if let Some(timeout) = self.timeout {
                request = request.timeout(timeout);
            }
            let outcome = match request.send().await {
                Ok(mut response) => {
                    let status = response.status();
                    let headers = std::mem::take(response.headers_mut());
                    response.bytes().await.map(|body| (status, headers, body))
                }
                Err(error) => Err(error),
            };
            let wait = backoff(options.retry_backoff, options.retry_backoff_max, attempt);
            match outcome {
                Ok((status, headers, body)) => {
                    if attempt < attempts
                        && let Some(wait) = self.busy(status, &headers, wait)
                    {
                        tracing::debug!(
                            connection = self.conn.name(),
                            operation = self.operation,
                            %status,
                            attempt,
                            wait_ms = wait.as_millis(),
                            "the server is busy; sending again"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Ok(self.answer(status, headers, body, attempt));
                }
                Err(error) if error.is_connect() && !error.is_timeout() && attempt < attempts => {
                    tracing::debug!(
                        connection = self.conn.name(),
                        operation = self.operation,
                        attempt,
                        wait_ms = wait.as_millis(),
                        "the connect failed; sending again"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => {
                    if error.is_timeout() {
                        // The sessions of a silent network are dropped with the client, not reused.
                        self.conn.base().reset_if_because(self.client, ResetReason::Broken);
                    }
                    return Err(self.error(&error, attempt));
                }
            }
        }
    }

    /// How long to wait before sending again, if the server answered that
    /// it is busy (429, 503): its `Retry-After`, else `backoff`; `None` when
    /// it is not busy, or asks for longer than `retry_backoff_max`.
    fn busy(&self, status: StatusCode, headers: &HeaderMap, backoff: Duration) -> Option<Duration> {
        if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        let max = self.client.options.retry_backoff_max;
        match headers.get(RETRY_AFTER).and_then(retry_after) {
            Some(asked) if asked > max => {
                tracing::debug!(
                    connection = self.conn.name(),
                    %status,
                    retry_after_s = asked.as_secs_f64(),
                    "the server asks for a wait past `retry_backoff_max`; its answer comes back"
                );
                None
            }
            asked => Some(asked.unwrap_or(backoff)),
        }
    }

    /// The response, after `attempts`.
    fn answer(self, status: StatusCode, headers: HeaderMap, body: Bytes, attempts: u32) -> Response {
        tracing::debug!(
            connection = self.conn.name(),
            operation = self.operation,
            url = %self.shown(),
            %status,
            attempts,
            "answered"
        );
        let options = &self.client.options;
        Response {
            inner: Arc::new(Parts {
                client: Arc::clone(self.client),
                operation: self.operation,
                masked: options.auth.query_parameter().map(Into::into),
                auth: if self.user.is_some() {
                    "the token given to `with_token`"
                } else {
                    options.auth.keys()
                },
                url: self.url,
                attempts,
                status,
                headers,
                body,
            }),
        }
    }

    /// The URL as messages show it.
    fn shown(&self) -> String {
        Shown {
            url: &self.url,
            masked: self.client.options.auth.query_parameter(),
        }
        .to_string()
    }

    /// An [`Error::Operation`] for a request that got no answer.
    fn error(&self, error: &reqwest::Error, attempts: u32) -> Error {
        let options = &self.client.options;
        let endpoint = options::endpoint(&self.url);
        let cause = chain(error);
        let message = if error.is_connect() && error.is_timeout() {
            format!(
                "could not connect to {endpoint}: no answer within `connect_timeout` ({} s): is the host reachable, and the port the API's? ({cause})",
                options.connect_timeout.as_secs_f64()
            )
        } else if error.is_timeout() {
            let (bound, key) = match self.timeout {
                Some(timeout) => (timeout, "the request's `.timeout()`"),
                None => (options.timeout, "`timeout`"),
            };
            format!(
                "the server at {endpoint} stopped answering: no response within {key} ({} s)",
                bound.as_secs_f64()
            )
        } else if error.is_connect() {
            format!("could not connect to {endpoint}: {cause}")
        } else {
            format!("{cause} (at {endpoint})")
        };
        let message = format!(
            "{} {}: {}",
            self.method,
            self.shown(),
            self.conn.base().redactor().redact(&message)
        );
        Error::Operation {
            name: self.conn.name().to_owned(),
            operation: self.operation,
            attempts,
            source: Arc::new(Redacted::new(message.clone(), NoAnswer(cause))),
            message,
        }
    }
}

/// Why a request got no answer: the client's message, without the URL.
#[derive(Debug)]
struct NoAnswer(String);

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

impl HttpConnection {
    fn invalid_call(&self, operation: &'static str, problem: String) -> Error {
        Error::InvalidCall {
            name: self.name().to_owned(),
            operation,
            problem,
        }
    }
}

/// `error`'s message and its causes', without the URL (which may hold a key).
fn chain(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(error) = cause {
        let part = error.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        cause = error.source();
    }
    if text.is_empty() {
        "the request failed".to_owned()
    } else {
        text
    }
}

/// The wait before attempt `attempt + 1`: `first`, doubled per attempt, at most `max`.
fn backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    first
        .checked_mul(1 << (attempt - 1).min(16))
        .map_or(max, |wait| wait.min(max))
}

/// A `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Methods that may be sent twice with the effect of once.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Methods after which a cached read of the URL may be stale.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// The method as an operation's name.
fn operation(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "request",
    }
}

/// The URL without its query: what a cached read is filed under.
fn path_of(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

/// What tells one cached read from another: the method, the path and query
/// as written, the request's own headers, and whose credentials.
fn variant(method: &Method, path: &str, query: &[String], headers: &HeaderMap, user: Option<&UserAuth>) -> Box<str> {
    use std::fmt::Write as _;
    let mut key = String::with_capacity(64 + path.len());
    // The path is free text: its length first, so that no path reads as another path and a query.
    let _ = write!(key, "{method} {}:{path}", path.len());
    // URL-encoded pairs hold no line break, nor do header names and values.
    for pairs in query {
        key.push('\n');
        key.push_str(pairs);
    }
    if !headers.is_empty() {
        let mut names: Vec<&HeaderName> = headers.keys().collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for name in names {
            for value in headers.get_all(name) {
                key.push('\n');
                key.push_str(name.as_str());
                key.push_str(": ");
                key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
        }
    }
    match user {
        Some(user) => {
            let _ = write!(key, "\nuser {:032x}", user.identity);
        }
        None => key.push_str("\nsection"),
    }
    key.into_boxed_str()
}

/// A whole answer: status, headers and body, read before `send` returned.
/// Cheap to clone: a cached hit is one.
#[derive(Clone)]
pub struct Response {
    inner: Arc<Parts>,
}

struct Parts {
    /// The client that sent it: the connection's name and redactor, for messages.
    client: Arc<HttpClient>,
    operation: &'static str,
    url: Url,
    /// The query parameter that holds the API key, masked where the URL is shown.
    masked: Option<Box<str>>,
    /// The keys to check when the server refuses the credentials.
    auth: &'static str,
    attempts: u32,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Parts {
    /// The URL as messages show it.
    fn shown(&self) -> String {
        Shown {
            url: &self.url,
            masked: self.masked.as_deref(),
        }
        .to_string()
    }
}

impl Response {
    /// The status.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::request`].
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The headers.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let response = api.get("echo").send().await?;
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert!(!response.body().is_empty());
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The body as it came, whatever the status.
    ///
    /// # Examples
    ///
    /// See [`Response::headers`].
    pub fn body(&self) -> &Bytes {
        &self.inner.body
    }

    /// The response itself if its status is 2xx, else an [`Error::Operation`]
    /// naming the method, the URL and the status, the body's start after
    /// it (redacted), and for 401 and 403 the keys to check. Its
    /// [`operation_cause`](Error::operation_cause) is a [`StatusError`].
    ///
    /// # Errors
    ///
    /// A status other than 2xx.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::{HttpConnection, StatusCode, StatusError};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// let err = api.get("missing").send().await?.error_for_status().unwrap_err();
    /// assert!(err.to_string().contains("answered 404 Not Found"), "{err}");
    /// let status = err.operation_cause().and_then(|e| e.downcast_ref::<StatusError>()).map(StatusError::status);
    /// assert_eq!(status, Some(StatusCode::NOT_FOUND));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.inner.status.is_success() {
            return Ok(self);
        }
        let parts = &self.inner;
        let mut message = format!("{} {} answered {}", parts.operation, parts.shown(), parts.status);
        if matches!(parts.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            message.push_str(" (the server refused the credentials: check ");
            message.push_str(parts.auth);
            message.push(')');
        }
        let start = String::from_utf8_lossy(&parts.body[..parts.body.len().min(200)]);
        let start = start.trim();
        if !start.is_empty() {
            message.push_str(": ");
            message.push_str(start);
            if parts.body.len() > 200 {
                message.push('…');
            }
        }
        let message = parts.client.redactor.redact(&message);
        Err(Error::Operation {
            name: parts.client.name.to_string(),
            operation: parts.operation,
            attempts: parts.attempts,
            source: Arc::new(Redacted::new(message.clone(), StatusError { status: parts.status })),
            message,
        })
    }

    /// The body as JSON of type `T`, if the status is 2xx.
    ///
    /// # Errors
    ///
    /// As [`error_for_status`](Response::error_for_status), and a body that
    /// is not the JSON `T` reads.
    ///
    /// # Examples
    ///
    /// See [`HttpConnection::post`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let response = self.clone().error_for_status()?;
        serde_json::from_slice(&response.inner.body).map_err(|error| {
            let parts = &self.inner;
            let message = parts.client.redactor.redact(&format!(
                "{} {}: the body is not the JSON `{}` reads ({error})",
                parts.operation,
                parts.shown(),
                std::any::type_name::<T>()
            ));
            Error::Operation {
                name: parts.client.name.to_string(),
                operation: parts.operation,
                attempts: parts.attempts,
                source: Arc::new(Redacted::new(message.clone(), error)),
                message,
            }
        })
    }

    /// The body as text (invalid UTF-8 replaced), if the status is 2xx.
    ///
    /// # Errors
    ///
    /// As [`error_for_status`](Response::error_for_status).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_http::HttpConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let server = connections_http::doc_server().await;
    /// let api = HttpConnection::from_config("api", Config::from_toml("api", &format!("base_url = '{server}'"))?);
    /// assert!(api.get("echo").send().await?.text()?.starts_with('{'));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn text(&self) -> Result<String, Error> {
        let response = self.clone().error_for_status()?;
        Ok(String::from_utf8_lossy(&response.inner.body).into_owned())
    }

    /// The body, if the status is 2xx.
    ///
    /// # Errors
    ///
    /// As [`error_for_status`](Response::error_for_status).
    ///
    /// # Examples
    ///
    /// See [`Response::text`]; `bytes()` is the same body as it came.
    pub fn bytes(&self) -> Result<Bytes, Error> {
        let response = self.clone().error_for_status()?;
        Ok(response.inner.body.clone())
    }

    #[cfg(test)]
    fn for_test(body: &'static str) -> Self {
        let conn = HttpConnection::from_config("test", Config::from_toml("test", "base_url = 'http://h/'").unwrap());
        let config = conn.base().config();
        let options = options::parse(&config).unwrap();
        let client = HttpClient::build(&config, options, conn.base().redactor()).unwrap();
        Response {
            inner: Arc::new(Parts {
                client: Arc::new(client),
                operation: "GET",
                url: Url::parse("http://h/").unwrap(),
                masked: None,
                auth: "`token`",
                attempts: 1,
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body: Bytes::from_static(body.as_bytes()),
            }),
        }
    }

    #[cfg(test)]
    fn text_unchecked(&self) -> &str {
        std::str::from_utf8(&self.inner.body).unwrap_or_default()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.inner.shown())
            .field("status", &self.inner.status)
            .field("body_len", &self.inner.body.len())
            .finish_non_exhaustive()
    }
}

/// An answer other than 2xx, as the cause of the error
/// [`Response::error_for_status`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusError {
    status: StatusCode,
}

impl StatusError {
    /// The status the server answered with.
    ///
    /// # Examples
    ///
    /// See [`Response::error_for_status`].
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "answered {}", self.status)
    }
}

impl std::error::Error for StatusError {}

/// What an `http` section resolves to; see [`HttpConnection::describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    base_url: String,
    auth: String,
    headers: Vec<String>,
    connect_timeout: Duration,
    timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    proxy: Option<String>,
    tls: Vec<String>,
}

impl Description {
    fn new(options: &HttpOptions) -> Self {
        let mut tls = Vec::new();
        if let Some(ca) = &options.tls.ca_file {
            tls.push(format!("roots from `{}`", ca.display()));
        }
        if options.tls.client_cert.is_some() {
            tls.push("a client certificate".to_owned());
        }
        if options.tls.min_tls13 {
            tls.push("TLS 1.3 only".to_owned());
        }
        Self {
            base_url: options.base_url.to_string(),
            auth: options.auth.kind(),
            headers: options.headers.keys().map(|name| format!("`{name}`")).collect(),
            connect_timeout: options.connect_timeout,
            timeout: options.timeout,
            retries: options.retries,
            retry_backoff: options.retry_backoff,
            retry_backoff_max: options.retry_backoff_max,
            proxy: options.proxy.as_ref().map(options::endpoint),
            tls,
        }
    }
}

/// `http at URL, <credentials>[; headers ...]; connect_timeout 5 s, timeout 30 s, 2 retries (...)[; proxy h:p][; tls: ...]`.
impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http at {}, {}", self.base_url, self.auth)?;
        if !self.headers.is_empty() {
            write!(f, "; headers {}", self.headers.join(", "))?;
        }
        write!(
            f,
            "; connect_timeout {} s, timeout {} s, {} retries (backoff {} s to {} s)",
            self.connect_timeout.as_secs_f64(),
            self.timeout.as_secs_f64(),
            self.retries,
            self.retry_backoff.as_secs_f64(),
            self.retry_backoff_max.as_secs_f64()
        )?;
        if let Some(proxy) = &self.proxy {
            write!(f, "; proxy {proxy}")?;
        }
        if !self.tls.is_empty() {
            write!(f, "; tls: {}", self.tls.join(", "))?;
        }
        Ok(())
    }
}

/// A local server for the doc examples: `/echo` answers with what it was
/// sent, `/counter` counts `POST`s, `/slow` never answers, anything else
/// is a 404. Its URL, ending in `/`.
#[doc(hidden)]
pub async fn doc_server() -> String {
    doc_server::start().await
}

mod doc_server;

#[cfg(test)]
mod tests {
    use super::is_dot_segment;

    #[test]
    fn dot_segments_are_found_in_every_spelling_and_only_them() {
        for climbs in [".", "..", "%2e", "%2E", "%2e%2E", ".%2e", "%2E."] {
            assert!(is_dot_segment(climbs), "{climbs}");
        }
        for stays in ["", "...", "a", "a..", "..a", "%2e%2e%2e", "%2f", "%2", "%2e%2"] {
            assert!(!is_dot_segment(stays), "{stays}");
        }
    }
}
