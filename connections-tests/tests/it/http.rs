//! `type = "http"` against a real local HTTP server that each test starts
//! (axum on a free port): nothing to skip, on any machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use connections::http::HttpConnection;
use connections::{Error, Registry, Secret};

use super::relay::Relay;
use super::sql::runtime;
use super::tls::Pki;

/// What the test server saw.
#[derive(Default)]
struct Seen {
    /// Per path: each request's headers.
    requests: Mutex<Vec<(String, HeaderMap)>>,
    /// Per key: how many times it was asked for.
    hits: Mutex<HashMap<String, u32>>,
    /// `/counter`'s count.
    counter: Mutex<u64>,
}

impl Seen {
    fn hit(&self, key: &str) -> u32 {
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(key.to_owned()).or_default();
        *n += 1;
        *n
    }

    fn hits(&self, key: &str) -> u32 {
        self.hits.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn requests(&self) -> Vec<(String, HeaderMap)> {
        self.requests.lock().unwrap().clone()
    }
}

/// The test API:
/// - `/echo`: the method, query and the headers a credential travels in;
/// - `/status/{code}`: that status, counted per code;
/// - `/busy/{id}?code=&times=&retry_after=`: `code` for the first `times`
///   requests of `id`, with `Retry-After` if given, then 200;
/// - `/counter`: the count, which `POST` raises;
/// - `/whoami`: the bearer token's user, after a pause (so that two users'
///   requests overlap);
/// - `/leaky`: a 401 whose body repeats the `Authorization` header;
/// - anything else: the request's full URI (a proxy sees absolute ones).
fn api(seen: Arc<Seen>) -> Router {
    async fn echo(method: Method, uri: Uri, headers: HeaderMap) -> axum::Json<serde_json::Value> {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        axum::Json(serde_json::json!({
            "method": method.as_str(),
            "query": uri.query(),
            "authorization": header("authorization"),
            "x-api-key": header("x-api-key"),
            "accept": header("accept"),
        }))
    }
    async fn status(State(seen): State<Arc<Seen>>, Path(code): Path<u16>) -> StatusCode {
        seen.hit(&format!("status/{code}"));
        StatusCode::from_u16(code).unwrap()
    }
    async fn busy(
        State(seen): State<Arc<Seen>>,
        Path(id): Path<String>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let n = seen.hit(&id);
        let times: u32 = q.get("times").map_or(1, |t| t.parse().unwrap());
        if n <= times {
            let code = StatusCode::from_u16(q["code"].parse().unwrap()).unwrap();
            let mut response = (code, "busy").into_response();
            if let Some(after) = q.get("retry_after") {
                response.headers_mut().insert("retry-after", after.parse().unwrap());
            }
            return response;
        }
        (StatusCode::OK, "done").into_response()
    }
    async fn counter(State(seen): State<Arc<Seen>>, method: Method) -> String {
        seen.hit("counter");
        let mut count = seen.counter.lock().unwrap();
        if method == Method::POST {
            *count += 1;
        }
        format!("{{\"count\":{count}}}")
    }
    async fn whoami(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> String {
        seen.hit("whoami");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let auth = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let user = auth.strip_prefix("Bearer token-of-").unwrap_or("nobody");
        format!("{{\"user\":\"{user}\"}}")
    }
    async fn leaky(headers: HeaderMap) -> (StatusCode, String) {
        let auth = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (StatusCode::UNAUTHORIZED, format!("bad credentials: {auth}"))
    }
    async fn other(State(seen): State<Arc<Seen>>, uri: Uri, headers: HeaderMap) -> String {
        seen.requests.lock().unwrap().push((uri.to_string(), headers));
        format!("{{\"uri\":\"{uri}\"}}")
    }
    Router::new()
        .route("/echo", any(echo))
        .route("/status/{code}", any(status))
        .route("/busy/{id}", any(busy))
        .route("/counter", any(counter))
        .route("/whoami", get(whoami))
        .route("/leaky", get(leaky))
        .fallback(other)
        .with_state(seen)
}

/// Starts the test API on a free port; its address and what it sees.
async fn start() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let app = api(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

/// A registry with `[connections.<name>]` of type `http` and `section`'s keys.
fn registry_with(name: &str, section: &str) -> Registry {
    Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!("[connections.{name}]\ntype = 'http'\n{section}"),
        )
        .build()
}

#[test]
fn every_kind_of_credentials_arrives_and_default_headers_with_them() {
    runtime().block_on(async {
        let (address, seen) = start().await;
        let cases = [
            ("token = 'tok-1'", "authorization", "Bearer tok-1"),
            // `ada:pw-2` in base64.
            (
                "username = 'ada'\npassword = 'pw-2'",
                "authorization",
                "Basic YWRhOnB3LTI=",
            ),
            ("api_key = 'key-3'", "x-api-key", "key-3"),
        ];
        for (i, (credentials, header, expected)) in cases.into_iter().enumerate() {
            let name = format!("api{i}");
            let registry = registry_with(
                &name,
                &format!("base_url = 'http://{address}/'\nheaders = {{ Accept = 'application/json' }}\n{credentials}"),
            );
            let api = registry.connection::<HttpConnection>(&name).unwrap();
            let echoed: serde_json::Value = api.get_json("echo").await.unwrap();
            assert_eq!(echoed[header], expected, "{credentials}: {echoed}");
            assert_eq!(echoed["accept"], "application/json", "the default headers");
        }

        let registry = registry_with(
            "apiq",
            &format!("base_url = 'http://{address}/'\napi_key = 'key-4'\napi_key_query = 'key'"),
        );
        let api = registry.connection::<HttpConnection>("apiq").unwrap();
        let echoed: serde_json::Value = api
            .get("echo")
            .query(&[("page", "2")])
            .send()
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(echoed["query"], "page=2&key=key-4");
        assert_eq!(echoed["authorization"], serde_json::Value::Null);
        assert_eq!(seen.requests().len(), 0, "every request found its route");
    });
}

#[test]
fn no_credential_appears_in_errors_debug_or_describe() {
    runtime().block_on(async {
        let (address, _seen) = start().await;
        let registry = registry_with(
            "leaky",
            &format!("base_url = 'http://{address}/'\ntoken = 'sekrit-token-5'"),
        );
        let api = registry.connection::<HttpConnection>("leaky").unwrap();
        // The server repeats the credential in its answer; the error masks it.
        let err = api.get_json::<serde_json::Value>("leaky").await.unwrap_err();
        let text = err.to_string();
        println!("{text}");
        assert!(!text.contains("sekrit-token-5"), "{text}");
        assert!(text.contains("answered 401 Unauthorized"), "{text}");
        assert!(text.contains("check `token`"), "says what to check: {text}");
        assert!(text.contains(&format!("http://{address}/leaky")), "names the URL: {text}");
        assert!(!format!("{err:?}").contains("sekrit-token-5"));
        assert!(!api.describe().unwrap().to_string().contains("sekrit-token-5"));
        let user = api.with_token(Secret::new("user-token-6".to_owned()));
        assert!(!format!("{user:?}").contains("user-token-6"));

        // An API key in the query of a request that found no server.
        let registry = registry_with(
            "gone",
            "base_url = 'http://127.0.0.1:9/'\napi_key = 'query-key-7'\napi_key_query = 'key'\nretries = 0\nconnect_timeout = 1",
        );
        let api = registry.connection::<HttpConnection>("gone").unwrap();
        let err = api.get("items").send().await.unwrap_err();
        let text = err.to_string();
        println!("{text}");
        assert!(!text.contains("query-key-7"), "{text}");
        assert!(text.contains("key=***"), "the URL, its key masked: {text}");
        assert!(text.contains("could not connect to 127.0.0.1:9"), "{text}");
    });
}

#[test]
fn idempotent_requests_retry_on_503_and_429_honouring_retry_after_and_stop_on_400() {
    runtime().block_on(async {
        let (address, seen) = start().await;
        let registry = registry_with(
            "retry",
            &format!("base_url = 'http://{address}/'\nretries = 2\nretry_backoff = 0.05\nretry_backoff_max = 2"),
        );
        let api = registry.connection::<HttpConnection>("retry").unwrap();

        // A 400 is the caller's mistake: never sent again.
        let response = api.get("status/400").send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(seen.hits("status/400"), 1, "no retry on a 400");

        // A 503, then 200: the second attempt answers.
        let response = api.get("busy/a?code=503&times=1").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(seen.hits("a"), 2);

        // A 429 asking for a second: waited for.
        let started = Instant::now();
        let response = api.get("busy/b?code=429&times=1&retry_after=1").send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), 200);
        assert_eq!(seen.hits("b"), 2);
        assert!(took >= Duration::from_millis(950), "Retry-After honoured: {took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");

        // Busy past the retries: the last answer comes back, after 1 + 2 attempts.
        let response = api.get("busy/c?code=503&times=9").send().await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(seen.hits("c"), 3);
        let err = response.error_for_status().unwrap_err();
        assert!(matches!(err, Error::Operation { attempts: 3, .. }), "{err}");

        // A wait past `retry_backoff_max`: the 429 comes back at once.
        let started = Instant::now();
        let response = api.get("busy/d?code=429&times=1&retry_after=60").send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(seen.hits("d"), 1);
        assert!(started.elapsed() < Duration::from_secs(1));

        // A POST is never sent twice.
        let response = api.post("busy/e?code=503&times=1").send().await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(seen.hits("e"), 1, "no retry of a POST");
    });
}

#[test]
fn the_cache_serves_hits_expires_them_and_drops_them_on_a_write() {
    runtime().block_on(async {
        let (address, seen) = start().await;
        let registry = registry_with("cached", &format!("base_url = 'http://{address}/'"));
        let api = registry.connection::<HttpConnection>("cached").unwrap();
        let ttl = Duration::from_millis(400);
        let read = || async {
            let response = api.get("counter").ttl(ttl).send().await.unwrap();
            response.json::<serde_json::Value>().unwrap()["count"].as_u64().unwrap()
        };
        assert_eq!(read().await, 0);
        assert_eq!(read().await, 0);
        assert_eq!(seen.hits("counter"), 1, "the second read is a hit");

        // Another query is another read; a header added per request too.
        api.get("counter?x=1").ttl(ttl).send().await.unwrap();
        api.get("counter")
            .header("X-Tenant", "t1")
            .ttl(ttl)
            .send()
            .await
            .unwrap();
        assert_eq!(seen.hits("counter"), 3);

        // A POST to the URL drops its cached reads at once.
        api.post("counter").send().await.unwrap();
        assert_eq!(read().await, 1, "a read after a write sees it");
        assert_eq!(seen.hits("counter"), 5);

        // The ttl expires a read.
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        assert_eq!(read().await, 1);
        assert_eq!(seen.hits("counter"), 6, "expired: fetched again");

        // Only 2xx answers are kept; only GET and HEAD may ask.
        api.get("status/500").ttl(ttl).send().await.unwrap();
        api.get("status/500").ttl(ttl).send().await.unwrap();
        assert!(seen.hits("status/500") >= 2);
        let err = api.post("counter").ttl(ttl).send().await.unwrap_err();
        assert!(matches!(err, Error::InvalidCall { .. }), "{err}");
    });
}

#[test]
fn a_users_token_replaces_the_sections_credentials_in_its_scope_only() {
    runtime().block_on(async {
        let (address, seen) = start().await;
        let registry = Arc::new(registry_with(
            "users",
            &format!("base_url = 'http://{address}/'\napi_key = 'service-key'"),
        ));
        // Two users' scopes at once, each reading through the cache many times.
        let tasks: Vec<_> = ["ada", "bob"]
            .into_iter()
            .map(|user| {
                let registry = Arc::clone(&registry);
                tokio::spawn(async move {
                    let scope = registry.owned_scope(user);
                    for _ in 0..50 {
                        let api = scope.connection::<HttpConnection>("users").unwrap();
                        let mine = api.with_token(Secret::new(format!("token-of-{user}")));
                        for ttl in [None, Some(Duration::from_mins(1))] {
                            let mut request = mine.get("whoami");
                            if let Some(ttl) = ttl {
                                request = request.ttl(ttl);
                            }
                            let answer: serde_json::Value = request.send().await.unwrap().json().unwrap();
                            assert_eq!(answer["user"], user, "{user} is answered as {answer}");
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // 50 uncached reads each, and one cached read each.
        assert_eq!(seen.hits("whoami"), 102, "cached per user, never across");

        // Without a user, the section's key; and never both.
        let api = registry.connection::<HttpConnection>("users").unwrap();
        let echoed: serde_json::Value = api.get_json("echo").await.unwrap();
        assert_eq!(echoed["x-api-key"], "service-key");
        assert_eq!(echoed["authorization"], serde_json::Value::Null);
        let echoed: serde_json::Value = api
            .with_token(Secret::new("t".to_owned()))
            .get_json("echo")
            .await
            .unwrap();
        assert_eq!(
            echoed["x-api-key"],
            serde_json::Value::Null,
            "the section's key stays out"
        );
        assert_eq!(echoed["authorization"], "Bearer t");
    });
}

#[test]
fn paths_cannot_leave_base_url() {
    runtime().block_on(async {
        let (address, seen) = start().await;
        let registry = registry_with("fenced", &format!("base_url = 'http://{address}/v1'"));
        let api = registry.connection::<HttpConnection>("fenced").unwrap();
        for path in [
            "../admin",
            "a/../../admin",
            "%2e%2e/admin",
            ".%2E/admin",
            "http://elsewhere.example/v1/x",
            "//elsewhere.example/v1/x",
            &format!("http://{address}/admin"),
            "a\\..\\..\\admin",
        ] {
            let err = api.get(path).send().await.unwrap_err();
            println!("{path}: {err}");
            assert!(matches!(err, Error::InvalidCall { .. }), "{path}: {err}");
        }
        assert!(seen.requests().is_empty(), "nothing was sent");
        // Below the base, relative or absolute (a page's `next` link), it goes.
        api.get("/items").send().await.unwrap();
        api.get(format!("http://{address}/v1/items?page=2"))
            .send()
            .await
            .unwrap();
        // A URL in a query value is not the request's URL.
        api.get("items?next=http://elsewhere.example/").send().await.unwrap();
        let uris: Vec<String> = seen.requests().into_iter().map(|(uri, _)| uri).collect();
        assert_eq!(
            uris,
            [
                "/v1/items",
                "/v1/items?page=2",
                "/v1/items?next=http://elsewhere.example/"
            ]
        );
    });
}

#[test]
fn a_proxy_carries_every_request() {
    runtime().block_on(async {
        // The test server as the proxy: it sees the absolute URL a proxy is sent.
        let (proxy, seen) = start().await;
        let registry = registry_with(
            "proxied",
            &format!("base_url = 'http://api.invalid/v1/'\nproxy = 'http://{proxy}'"),
        );
        let api = registry.connection::<HttpConnection>("proxied").unwrap();
        assert!(api.describe().unwrap().to_string().contains(&format!("proxy {proxy}")));
        api.get("items").send().await.unwrap();
        let uris: Vec<String> = seen.requests().into_iter().map(|(uri, _)| uri).collect();
        assert_eq!(uris, ["http://api.invalid/v1/items"]);
    });
}

#[test]
fn settings_it_cannot_honour_are_errors_before_any_request() {
    runtime().block_on(async {
        let cases = [
            ("base_url = 'ftp://files.example/'", "base_url", "scheme `ftp`"),
            ("base_url = 'https://u:p@api.example/'", "base_url", "holds credentials"),
            (
                "base_url = 'https://api.example/'\ntoken = 't'\napi_key = 'k'",
                "api_key",
                "second kind of credentials",
            ),
            (
                "base_url = 'http://api.example/'\n[connections.bad.tls]\nmin_version = '1.3'",
                "tls",
                "plaintext",
            ),
            (
                "base_url = 'https://api.example/'\n[connections.bad.tls]\nmin_version = '1.1'",
                "tls.min_version",
                "`1.2` or `1.3`",
            ),
            (
                "base_url = 'https://api.example/'\n[connections.bad.tls]\nca_file = '/nonexistent/ca.pem'",
                "tls.ca_file",
                "cannot be read",
            ),
            (
                "base_url = 'https://api.example/'\n[connections.bad.tls]\nclient_cert = 'c.pem'",
                "tls.client_cert",
                "without `client_key`",
            ),
            ("base_url = 'https://api.example/'\ntimeout = 0", "timeout", "is zero"),
        ];
        for (section, key, says) in cases {
            let registry = registry_with("bad", section);
            let api = registry.connection::<HttpConnection>("bad").unwrap();
            let err = api.get("x").send().await.unwrap_err();
            let text = err.to_string();
            println!("{text}");
            assert!(text.contains(&format!("`{key}`")), "names `{key}`: {text}");
            assert!(text.contains(says), "says `{says}`: {text}");
            let findings = registry.diagnostics();
            assert!(!findings.is_empty(), "the doctor sees it too: {section}");
        }
    });
}

#[test]
fn a_silent_network_fails_within_the_timeout_and_heals_on_a_new_session() {
    runtime().block_on(async {
        let (address, _seen) = start().await;
        let relay = Relay::start(address).await;
        let registry = registry_with(
            "http_silent",
            &format!(
                "base_url = 'http://127.0.0.1:{}/'\ntimeout = 0.5\nconnect_timeout = 0.5",
                relay.port
            ),
        );
        let api = registry.connection::<HttpConnection>("http_silent").unwrap();
        api.get("echo").send().await.unwrap();
        let sessions = relay.accepted();

        relay.set_silent(true);
        let started = Instant::now();
        let err = api.get("echo").send().await.unwrap_err();
        let took = started.elapsed();
        println!("a silent network: failed after {took:?}: {err}");
        assert!(took < Duration::from_millis(1500), "bounded by timeout: {took:?}");
        let text = err.to_string();
        assert!(text.contains("stopped answering"), "{text}");
        assert!(
            text.contains(&format!("127.0.0.1:{}", relay.port)),
            "names the server: {text}"
        );
        assert!(
            matches!(err, Error::Operation { attempts: 1, .. }),
            "a timeout is not retried"
        );

        // A request's own bound wins over the section's.
        let started = Instant::now();
        let err = api
            .get("echo")
            .timeout(Duration::from_millis(150))
            .send()
            .await
            .unwrap_err();
        println!("with .timeout(150 ms): failed after {:?}: {err}", started.elapsed());
        assert!(started.elapsed() < Duration::from_millis(450));
        assert!(err.to_string().contains("`.timeout()` (0.15 s)"), "{err}");

        relay.set_silent(false);
        let started = Instant::now();
        api.get("echo").send().await.unwrap();
        println!("healed: the first request took {:?}", started.elapsed());
        assert!(
            relay.accepted() > sessions,
            "on a new session: the silent one is dropped"
        );

        relay.set_silent(true);
        let started = Instant::now();
        let outcomes = registry.check().await;
        println!(
            "the check on a silent network, after {:?}: {outcomes:?}",
            started.elapsed()
        );
        assert!(outcomes.iter().any(|o| !o.ok), "{outcomes:?}");
        assert!(started.elapsed() < Duration::from_millis(1500), "bounded by timeout");
        relay.set_silent(false);
        api.get("echo").send().await.unwrap();
    });
}

#[test]
fn tls_is_verified_against_the_roots_asked_for_and_never_weakened() {
    use tokio_rustls::rustls::version::{TLS12, TLS13};
    runtime().block_on(async {
        let (address, _seen) = start().await;
        let pki = Pki::new();
        let request = |name: &'static str, port: u16, tls: String| {
            let registry = registry_with(
                name,
                &format!("base_url = 'https://localhost:{port}/'\nretries = 0\n[connections.{name}.tls]\n{tls}"),
            );
            async move {
                let api = registry.connection::<HttpConnection>(name).unwrap();
                api.get_json::<serde_json::Value>("echo").await
            }
        };
        let ca = format!("ca_file = '{}'", pki.ca_file.display());

        // The private CA's server, trusted through `ca_file`.
        let port = pki.front(address.clone(), &[&TLS12, &TLS13], false).await;
        let echoed = request("tls_ok", port, ca.clone()).await.unwrap();
        assert_eq!(echoed["method"], "GET");
        // Without `ca_file`, Mozilla's roots: the private CA is not among them.
        let err = request("tls_untrusted", port, "min_version = '1.2'".to_owned())
            .await
            .unwrap_err();
        println!("untrusted: {err}");
        assert!(err.to_string().contains("certificate"), "{err}");

        // A server that speaks TLS 1.2 only, and a client that wants 1.3.
        let port12 = pki.front(address.clone(), &[&TLS12], false).await;
        request("tls_12", port12, ca.clone()).await.unwrap();
        let err = request("tls_13", port12, format!("{ca}\nmin_version = '1.3'"))
            .await
            .unwrap_err();
        println!("1.3 against a 1.2 server: {err}");
        assert!(matches!(err, Error::Operation { .. }), "{err}");

        // A server that asks for a client certificate.
        let mtls = pki.front(address, &[&TLS13], true).await;
        let err = request("tls_anonymous", mtls, ca.clone()).await.unwrap_err();
        println!("no client certificate: {err}");
        let with_cert = format!(
            "{ca}\nclient_cert = '{}'\nclient_key = '{}'",
            pki.client_cert.display(),
            pki.client_key.display()
        );
        let echoed = request("tls_client", mtls, with_cert).await.unwrap();
        assert_eq!(echoed["method"], "GET");
    });
}

#[test]
fn metrics_carry_the_http_type_and_a_timeout_counts_as_a_broken_reset() {
    use metrics_util::debugging::DebugValue;
    let seen = super::health::recorded(|| {
        // One thread: the recorder is this thread's.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (address, _seen) = start().await;
            let relay = Relay::start(address).await;
            let registry = registry_with(
                "http_metrics",
                &format!("base_url = 'http://127.0.0.1:{}/'\ntimeout = 0.2", relay.port),
            );
            let api = registry.connection::<HttpConnection>("http_metrics").unwrap();
            api.get("echo").send().await.unwrap();
            assert!(registry.check().await.iter().all(|c| c.ok));
            relay.set_silent(true);
            api.get("echo").send().await.unwrap_err();
            relay.set_silent(false);
        });
    });
    let find = |name: &str, extra: (&str, &str)| seen.find(name, ("http_metrics", "http"), extra);
    assert_eq!(
        find("connections_connects_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert_eq!(
        find("connections_checks_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert_eq!(
        find("connections_resets_total", ("reason", "broken")),
        &DebugValue::Counter(1)
    );
}
