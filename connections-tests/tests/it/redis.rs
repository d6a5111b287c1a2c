//! `type = "redis"` against the real server when `CONNECTIONS_TEST_REDIS_URL`
//! is set (`.ci/run` sets it to the local Redis); each test says it skipped
//! when it is not, and fails if it is set and the server cannot be reached.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use connections::redis::RedisConnection;
use connections::{Connection as _, Registry};
use redis::aio::ConnectionManager;

use tokio_rustls::rustls::version::{TLS12, TLS13};

use super::relay::Relay;
use super::sql::{runtime, server_url};

/// A registry with `[connections.<name>]` of type `redis` and `section`'s keys.
fn registry_with(name: &str, section: &str) -> Registry {
    Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!("[connections.{name}]\ntype = 'redis'\n{section}"),
        )
        .build()
}

/// A key no other run or test uses.
fn key(tag: &str) -> String {
    format!("connections_it:{tag}:{}", std::process::id())
}

/// The host and port of the test server's URL,
/// `redis://[user:password@]host[:port][/db]`.
fn host_port(url: &str) -> (String, u16) {
    let authority = url.trim_start_matches("redis://").split('/').next().unwrap_or_default();
    let server = authority.rsplit('@').next().unwrap_or(authority);
    match server.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap()),
        None => (server.to_owned(), 6379),
    }
}

/// The driver's own connection, for what a test does as the server's
/// administrator (`ACL`, `CLIENT KILL`), apart from the connections tested.
async fn admin(url: &str) -> ConnectionManager {
    ConnectionManager::new(redis::Client::open(url).unwrap()).await.unwrap()
}

/// Runs the command `words` on the administrator's connection.
async fn command<T: redis::FromRedisValue>(admin: &mut ConnectionManager, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for word in &words[1..] {
        cmd.arg(*word);
    }
    cmd.query_async(admin).await.unwrap()
}

/// Tasks running `round(task, rounds_done)` again and again until stopped.
/// Each yields between rounds: a call that fails at once never waits, and a
/// regression would then starve the runtime instead of failing the test.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(u32, Vec<String>)>>,
}

impl Load {
    fn start<F, Fut>(tasks: usize, round: F) -> Load
    where
        F: Fn(usize, u32) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<(), connections::Error>> + Send,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..tasks)
            .map(|task| {
                let (round, stop) = (round.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let (mut done, mut failed) = (0_u32, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        match round(task, done).await {
                            Ok(()) => done += 1,
                            Err(error) => failed.push(error.to_string()),
                        }
                        tokio::task::yield_now().await;
                    }
                    (done, failed)
                })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the tasks: the rounds done, and the errors of those that failed.
    async fn stop(self) -> (u32, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut done, mut failed) = (0, Vec::new());
        for task in self.tasks {
            let (d, f) = task.await.unwrap();
            done += d;
            failed.extend(f);
        }
        (done, failed)
    }
}

#[test]
fn a_round_trip_of_every_helper() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let registry = registry_with("redis_it", &format!("url = '{url}'"));
        let cache = registry.connection::<RedisConnection>("redis_it").unwrap();
        let (text, counter, hash, short) = (key("text"), key("counter"), key("hash"), key("short"));

        assert_eq!(cache.get::<String>(&text).await.unwrap(), None, "absent at first");
        cache.set(&text, "hello", None).await.unwrap();
        assert_eq!(cache.get::<String>(&text).await.unwrap().as_deref(), Some("hello"));
        assert!(cache.del(&text).await.unwrap(), "it was there");
        assert!(!cache.del(&text).await.unwrap(), "and is gone");

        assert_eq!(cache.incr(&counter, 5).await.unwrap(), 5);
        assert_eq!(cache.incr(&counter, -2).await.unwrap(), 3);
        assert_eq!(cache.get::<i64>(&counter).await.unwrap(), Some(3));

        cache.hset(&hash, "a", 1).await.unwrap();
        cache.hset(&hash, "b", 2).await.unwrap();
        assert_eq!(cache.hget::<i64>(&hash, "b").await.unwrap(), Some(2));
        assert_eq!(cache.hget::<i64>(&hash, "zz").await.unwrap(), None);
        let all = cache.hgetall::<i64>(&hash).await.unwrap();
        assert_eq!((all.len(), all["a"], all["b"]), (2, 1, 2));

        cache
            .set(&short, "brief", Some(Duration::from_millis(50)))
            .await
            .unwrap();
        assert!(cache.get::<String>(&short).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get::<String>(&short).await.unwrap(), None, "expired");

        let err = cache
            .set(&short, "x", Some(Duration::from_micros(10)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("under a millisecond"), "{err}");

        // Any other command through the driver's connection.
        let mut raw = (*cache.instance().await.unwrap()).clone();
        let pong: String = redis::cmd("PING").query_async(&mut raw).await.unwrap();
        assert_eq!(pong, "PONG");

        // The health check: `PING` within its timeout.
        let outcomes = registry.check().await;
        assert!(outcomes.iter().all(|o| o.ok), "{outcomes:?}");

        for k in [&counter, &hash] {
            cache.del(k).await.unwrap();
        }
    });
}

#[test]
fn a_wrong_password_names_the_user_and_never_the_password() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let mut admin = admin(&url).await;
        let user = format!("connections_it_{}", std::process::id());
        let _: () = command(
            &mut admin,
            &["ACL", "SETUSER", &user, "on", ">right-horse-battery", "~*", "+@all"],
        )
        .await;

        let (host, port) = host_port(&url);
        let section = format!("host = '{host}'\nport = {port}\nusername = '{user}'\npassword = 'wrong-staple-9f3k'");
        let registry = registry_with("redis_wrong", &section);
        let wrong = registry.connection::<RedisConnection>("redis_wrong").unwrap();
        let err = wrong.get::<String>("anything").await.unwrap_err();
        println!("a wrong password: {err}");
        let text = format!("{err} {err:?}");
        assert!(
            text.contains(&format!("authentication failed for user `{user}`")),
            "{text}"
        );
        assert!(text.contains(&format!("{host}:{port}")), "names the server: {text}");
        assert!(!text.contains("wrong-staple-9f3k"), "the password leaked: {text}");

        // The right one works, through the discrete keys.
        let section = format!("host = '{host}'\nport = {port}\nusername = '{user}'\npassword = 'right-horse-battery'");
        let right = registry_with("redis_right", &section);
        let right = right.connection::<RedisConnection>("redis_right").unwrap();
        right.set(&key("acl"), 1, None).await.unwrap();
        right.del(&key("acl")).await.unwrap();

        let _: () = command(&mut admin, &["ACL", "DELUSER", &user]).await;
    });
}

#[test]
fn cached_reads_serve_hits_see_their_own_writes_and_expire() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let registry = registry_with("redis_cached", &format!("url = '{url}'"));
        let cache = registry.connection::<RedisConnection>("redis_cached").unwrap();
        let other = registry_with("redis_cached_other", &format!("url = '{url}'"));
        let other = other.connection::<RedisConnection>("redis_cached_other").unwrap();
        let (text, hash) = (key("cached"), key("cached_hash"));
        cache.set(&text, "one", None).await.unwrap();
        cache.hset(&hash, "f", 1).await.unwrap();

        let short = cache.cached(Duration::from_millis(300));
        assert_eq!(short.get::<String>(&text).await.unwrap().as_deref(), Some("one"));
        assert_eq!(short.hget::<i64>(&hash, "f").await.unwrap(), Some(1));
        // Another client's write is not seen while the read lives: a hit.
        other.set(&text, "two", None).await.unwrap();
        other.hset(&hash, "f", 2).await.unwrap();
        assert_eq!(
            short.get::<String>(&text).await.unwrap().as_deref(),
            Some("one"),
            "a hit"
        );
        assert_eq!(short.hget::<i64>(&hash, "f").await.unwrap(), Some(1), "a hit");
        // A write through this connection drops its key's reads at once.
        cache.set(&text, "three", None).await.unwrap();
        assert_eq!(short.get::<String>(&text).await.unwrap().as_deref(), Some("three"));
        assert_eq!(
            short.hget::<i64>(&hash, "f").await.unwrap(),
            Some(1),
            "another key: still cached"
        );
        // And the ttl expires the rest.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            short.hget::<i64>(&hash, "f").await.unwrap(),
            Some(2),
            "expired: read again"
        );
        // No cache with a zero ttl.
        other.set(&text, "four", None).await.unwrap();
        let none = cache.cached(Duration::ZERO);
        assert_eq!(none.get::<String>(&text).await.unwrap().as_deref(), Some("four"));
        cache.del(&text).await.unwrap();
        cache.del(&hash).await.unwrap();
    });
}

#[test]
fn client_kill_of_every_client_under_load_fails_no_request() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let registry = registry_with("redis_kill", &format!("url = '{url}'"));
        let cache = registry.connection::<RedisConnection>("redis_kill").unwrap();
        let mut admin = admin(&url).await;
        let base = key("kill");
        cache.set(&base, "v", None).await.unwrap();

        let load = Load::start(8, {
            let (cache, base) = (Arc::clone(&cache), base.clone());
            move |task, done| {
                let (cache, base) = (Arc::clone(&cache), base.clone());
                async move {
                    let (text, hash) = (format!("{base}:{task}"), format!("{base}:{task}:hash"));
                    cache.set(&text, done, None).await?;
                    cache.get::<String>(&base).await?;
                    cache.hset(&hash, "n", done).await?;
                    cache.del(&text).await.map(drop)
                }
            }
        });
        let mut kills = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // Every client but the administrator's own, ours included.
            kills += command::<i64>(&mut admin, &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (done, failed) = load.stop().await;
        println!(
            "CLIENT KILL under load: {kills} clients killed in 10 rounds, {done} rounds of 4 requests, {} failed",
            failed.len()
        );
        for task in 0..8 {
            cache.del(&format!("{base}:{task}:hash")).await.unwrap();
        }
        assert!(kills >= 10, "every round killed our connection: {kills}");
        assert!(done > 0, "no request succeeded: {:?}", failed.first());
        assert!(failed.is_empty(), "requests failed: {failed:?}");
        cache.del(&base).await.unwrap();
    });
}

#[test]
fn tls_settings_it_cannot_honour_and_foreign_urls_are_refused_before_any_connect() {
    // No server needed: these fail while reading the section.
    runtime().block_on(async {
        let cases = [
            (
                "url = 'redis://app:pw-7731@cache.example:6380'\n[connections.bad.tls]\nca_file = 'ca.pem'",
                "`tls`",
                "plaintext",
            ),
            (
                "url = 'rediss://app:pw-7731@cache.example:6380/#insecure'",
                "`url`",
                "certificate checks off",
            ),
            (
                "host = 'cache.example'\n[connections.bad.tls]\nmin_version = '1.3'",
                "`tls.min_version`",
                "does not read",
            ),
            (
                "host = 'cache.example'\n[connections.bad.tls]\nclient_key = 'k.pem'",
                "`tls.client_key`",
                "without `client_cert`",
            ),
            (
                "url = 'rediss://cache.example'\n[connections.bad.tls]\nca_file = '/nonexistent/ca.pem'",
                "`tls.ca_file`",
                "cannot be read",
            ),
            ("url = 'http://cache.example'", "`url`", "is not a Redis URL"),
        ];
        for (section, key, says) in cases {
            let registry = registry_with("bad", section);
            let err = registry
                .connection::<RedisConnection>("bad")
                .unwrap()
                .get::<String>("k")
                .await
                .unwrap_err();
            let text = err.to_string();
            println!("{text}");
            assert!(text.contains(key) && text.contains(says), "{key}, {says}: {text}");
            assert!(!text.contains("pw-7731"), "{text}");
        }

        let registry = registry_with("redis_zero", "response_timeout = 0");
        let diagnostics = registry.diagnostics();
        assert!(
            diagnostics.iter().any(|d| d.to_string().contains("response_timeout")),
            "{diagnostics:?}"
        );
    });
}

#[test]
fn tls_is_verified_against_the_roots_asked_for_with_a_client_certificate() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let (host, port) = host_port(&url);
        let pki = super::tls::Pki::new();
        let tls = pki.front(format!("{host}:{port}"), &[&TLS12, &TLS13], false).await;
        let mtls = pki.front(format!("{host}:{port}"), &[&TLS13], true).await;
        let ca = format!("ca_file = '{}'", pki.ca_file.display());
        let client = format!(
            "client_cert = '{}'\nclient_key = '{}'",
            pki.client_cert.display(),
            pki.client_key.display()
        );
        let ping = |name: &'static str, section: String| async move {
            let registry = registry_with(name, &format!("connect_timeout = 2\n{section}"));
            let cache = registry.connection::<RedisConnection>(name).unwrap();
            let outcome = cache.get::<String>(&key("tls")).await;
            (outcome, cache.describe().unwrap().to_string())
        };

        // Through `rediss://` with the private CA, and through the keys with a `tls` table.
        let (outcome, described) = ping(
            "redis_tls_url",
            format!("url = 'rediss://localhost:{tls}'\n[connections.redis_tls_url.tls]\n{ca}"),
        )
        .await;
        outcome.unwrap();
        assert!(described.contains("TLS (roots from"), "{described}");
        let (outcome, _) = ping(
            "redis_tls_keys",
            format!("host = 'localhost'\nport = {tls}\n[connections.redis_tls_keys.tls]\n{ca}"),
        )
        .await;
        outcome.unwrap();

        // Without `ca_file`, Mozilla's roots: the private CA is not among them.
        let (outcome, _) = ping("redis_tls_untrusted", format!("url = 'rediss://localhost:{tls}'")).await;
        let err = outcome.unwrap_err();
        println!("untrusted: {err}");
        assert!(err.to_string().contains("could not connect"), "{err}");

        // A server that asks for a client certificate.
        let (outcome, _) = ping(
            "redis_mtls",
            format!("url = 'rediss://localhost:{mtls}'\n[connections.redis_mtls.tls]\n{ca}\n{client}"),
        )
        .await;
        outcome.unwrap();
        let (outcome, _) = ping(
            "redis_mtls_anonymous",
            format!("url = 'rediss://localhost:{mtls}'\n[connections.redis_mtls_anonymous.tls]\n{ca}"),
        )
        .await;
        println!("no client certificate: {outcome:?}");
        assert!(outcome.is_err());
    });
}

#[test]
fn a_silent_network_fails_within_response_timeout_and_heals_on_a_new_session() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    runtime().block_on(async {
        let (host, port) = host_port(&url);
        let relay = Relay::start(format!("{host}:{port}")).await;
        let section = format!(
            "host = '127.0.0.1'\nport = {}\nresponse_timeout = 0.5\nconnect_timeout = 0.5",
            relay.port
        );
        let registry = registry_with("redis_silent", &section);
        let cache = registry.connection::<RedisConnection>("redis_silent").unwrap();
        let k = key("silent");
        cache.set(&k, "before", None).await.unwrap();

        // A call's own bound, on the open session falling silent.
        relay.set_silent(true);
        let started = Instant::now();
        let err = cache
            .timeout(Duration::from_millis(150))
            .get::<String>(&k)
            .await
            .unwrap_err();
        println!("with .timeout(150 ms): failed after {:?}: {err}", started.elapsed());
        assert!(started.elapsed() < Duration::from_millis(450));
        assert!(err.to_string().contains("stopped answering"), "{err}");
        assert!(err.to_string().contains("`.timeout()` (0.15 s)"), "{err}");
        relay.set_silent(false);
        cache.get::<String>(&k).await.unwrap();
        let sessions = relay.accepted();

        relay.set_silent(true);
        let started = Instant::now();
        let err = cache.get::<String>(&k).await.unwrap_err();
        let took = started.elapsed();
        println!("a silent network: failed after {took:?}: {err}");
        assert!(
            took < Duration::from_millis(1500),
            "bounded by response_timeout: {took:?}"
        );
        let text = err.to_string();
        assert!(text.contains("stopped answering"), "{text}");
        assert!(
            text.contains(&format!("127.0.0.1:{}", relay.port)),
            "names the server: {text}"
        );

        relay.set_silent(false);
        let started = Instant::now();
        assert_eq!(
            cache.get::<String>(&k).await.unwrap().as_deref(),
            Some("before"),
            "the first request after healing"
        );
        println!("healed: the first request took {:?}", started.elapsed());
        assert!(
            relay.accepted() > sessions,
            "on a new session: the silent one is dropped, not reused"
        );

        // The health check fails within its own bound, not hanging.
        relay.set_silent(true);
        let started = Instant::now();
        let outcomes = registry.check().await;
        println!(
            "the check on a silent network, after {:?}: {outcomes:?}",
            started.elapsed()
        );
        assert!(outcomes.iter().any(|o| !o.ok), "{outcomes:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "bounded by response_timeout, not CHECK_TIMEOUT: {:?}",
            started.elapsed()
        );
        relay.set_silent(false);
        assert_eq!(
            cache.get::<String>(&k).await.unwrap().as_deref(),
            Some("before"),
            "healed again"
        );
        cache.del(&k).await.unwrap();
    });
}

#[test]
fn a_rotated_password_is_taken_in_place_under_load_with_no_failed_request() {
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    let user = format!("connections_rot_{}", std::process::id());
    let (host, port) = host_port(&url);
    let section = |password: &str| {
        format!(
            "[connections.redis_rot]\ntype = 'redis'\nhost = '{host}'\nport = {port}\nusername = '{user}'\npassword = '{password}'\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    std::fs::write(&file, section("first-rot-pw")).unwrap();
    runtime().block_on(async {
        let mut admin = admin(&url).await;
        let _: () = command(
            &mut admin,
            &["ACL", "SETUSER", &user, "on", ">first-rot-pw", "~*", "+@all"],
        )
        .await;

        let registry = Registry::builder().secrets_paths([&file]).build();
        let cache = registry.connection::<RedisConnection>("redis_rot").unwrap();
        let k = key("rot");
        cache.set(&k, "v", None).await.unwrap();
        let before = cache.instance().await.unwrap();

        let load = Load::start(4, {
            let (cache, k) = (Arc::clone(&cache), k.clone());
            move |_, _| {
                let (cache, k) = (Arc::clone(&cache), k.clone());
                async move { cache.get::<String>(&k).await.map(drop) }
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The server's password changes first (the old one stops working),
        // then the secrets; the reload rotates the connection in place.
        let _: () = command(&mut admin, &["ACL", "SETUSER", &user, "resetpass", ">second-rot-pw"]).await;
        std::fs::write(&file, section("second-rot-pw")).unwrap();
        let reloaded = registry.reload_secrets().unwrap();
        assert_eq!(reloaded.rotated(), ["redis_rot"]);
        assert!(reloaded.reset().is_empty(), "{:?}", reloaded.reset());
        tokio::time::sleep(Duration::from_millis(100)).await;

        // Sessions opened from now on log in with the new password: kill ours.
        let _: i64 = command(&mut admin, &["CLIENT", "KILL", "USER", &user]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (done, failed) = load.stop().await;
        println!(
            "a password rotated under load: {done} requests, {} failed",
            failed.len()
        );
        assert!(failed.is_empty(), "{failed:?}");
        assert!(done > 0);
        let after = cache.instance().await.unwrap();
        assert!(Arc::ptr_eq(&before, &after), "kept, not reset");
        assert_eq!(
            cache.get::<String>(&k).await.unwrap().as_deref(),
            Some("v"),
            "after the kill, on the new password"
        );

        cache.del(&k).await.unwrap();
        let _: () = command(&mut admin, &["ACL", "DELUSER", &user]).await;
    });
}

#[test]
fn metrics_carry_the_redis_type() {
    use metrics_util::debugging::DebugValue;
    let Some(url) = server_url("CONNECTIONS_TEST_REDIS_URL") else {
        return;
    };
    let seen = super::health::recorded(|| {
        // One thread: the recorder is this thread's.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let registry = registry_with("redis_metrics", &format!("url = '{url}'"));
            let cache = registry.connection::<RedisConnection>("redis_metrics").unwrap();
            cache.get::<String>(&key("metrics")).await.unwrap();
            assert!(registry.check().await.iter().all(|c| c.ok));
            cache.reset();
        });
    });
    let find = |name: &str, extra: (&str, &str)| seen.find(name, ("redis_metrics", "redis"), extra);
    assert_eq!(
        find("connections_connects_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert_eq!(
        find("connections_checks_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert_eq!(
        find("connections_resets_total", ("reason", "manual")),
        &DebugValue::Counter(1)
    );
    assert!(matches!(
        find("connections_connect_duration_seconds", ("outcome", "ok")),
        DebugValue::Histogram(h) if h.len() == 1
    ));
}
