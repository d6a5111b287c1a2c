//! `Registry::health` (state, generation, last connect, counts) and
//! `Registry::check` (the `_check` hooks, sync and async).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use connections::prelude::*;
use connections::{ConnectionState, Registry};

use crate::common::{Counted, fail_next, registry};

/// Closes count in its health; its check fails while `SICK` is set, quoting
/// its password (which must come out redacted).
#[derive(Connection)]
#[connection(type_name = "hl-checked")]
struct Checked {
    base: BaseConnection<String>,
}

static SICK: AtomicBool = AtomicBool::new(false);
static CHECKS: AtomicUsize = AtomicUsize::new(0);

impl Checked {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get("password")?)
    }
    fn _check(&self) -> Result<(), BoxError> {
        CHECKS.fetch_add(1, Ordering::SeqCst);
        let password = self.instance()?;
        if SICK.load(Ordering::SeqCst) {
            return Err(format!("server rejected {password}").into());
        }
        Ok(())
    }
    fn _close(_raw: String) -> Result<(), BoxError> {
        Ok(())
    }
}

/// An async check, through `check = path`, that panics when asked to.
#[derive(Connection)]
#[connection(type_name = "hl-async", async, check = Self::probe)]
struct AsyncChecked {
    base: BaseConnection<bool>,
}

impl AsyncChecked {
    // The derive's async signature; this connect has nothing to await.
    #[allow(clippy::unused_async)]
    async fn _connect(&self, config: &Config) -> Result<bool, BoxError> {
        Ok(config.get_opt("panic")?.unwrap_or(false))
    }
    async fn probe(&self) -> Result<(), BoxError> {
        let panics = *self.instance().await?;
        assert!(!panics, "probe of {} panicked on purpose", self.name());
        Ok(())
    }
}

#[test]
fn health_reports_state_generation_last_connect_and_counts() {
    let reg = registry("[connections.hl_a]\ntype = 'hl-checked'\npassword = 'pw-a'\n");
    assert!(reg.health().is_empty(), "nothing cached yet");
    let a = reg.connection::<Checked>("hl_a").unwrap();
    let fresh = &reg.health()[0];
    assert_eq!(
        (fresh.state, fresh.generation, fresh.connects),
        (ConnectionState::NotConnected, 0, 0)
    );
    assert_eq!((fresh.last_connect, fresh.last_connect_duration), (None, None));

    let before = SystemTime::now();
    let raw = a.instance().unwrap();
    drop(raw);
    a.reset();
    a.instance().unwrap();
    let health = &reg.health()[0];
    assert_eq!(health.name, "hl_a");
    assert_eq!(
        (health.type_name, health.type_path),
        ("hl-checked", "it::health::Checked")
    );
    assert_eq!(health.state, ConnectionState::Connected);
    assert_eq!(
        (
            health.generation,
            health.connects,
            health.failures,
            health.resets,
            health.closes
        ),
        (1, 2, 0, 1, 1),
        "the reset retired the first instance, and its close hook ran"
    );
    assert!(health.last_connect.unwrap() >= before);
    assert!(health.last_connect_duration.is_some());
    assert_eq!(health.last_error, None);
    // JSON, as a `/healthz` serves it: times and durations as plain numbers.
    let json = serde_json::to_value(health).unwrap();
    assert_eq!(json["state"], "connected");
    assert!(json["last_connect_ms"].as_f64().unwrap() >= 0.0, "{json}");
    assert!(json["last_connect_unix"].as_f64().unwrap() > 1.7e9, "{json}");
    assert_eq!(json["closes"], 1);
}

#[test]
fn a_failing_connection_shows_its_redacted_error_until_it_connects() {
    let reg = registry("[connections.hl_fail]\ntype = 'counted'\npassword = 'hl-secret'\n");
    let conn = reg.connection::<Counted>("hl_fail").unwrap();
    fail_next("hl_fail", 2);
    assert!(conn.instance().is_err());
    assert!(conn.instance().is_err());
    let health = &reg.health()[0];
    assert_eq!(
        (health.state, health.failures, health.connects),
        (ConnectionState::Failing, 2, 0)
    );
    assert_eq!(
        health.last_error.as_deref(),
        Some(
            "connecting `hl_fail` (it::common::Counted, configured from [connections.hl_fail] in test-secrets.toml) \
             failed: scripted failure of hl_fail"
        )
    );
    conn.instance().unwrap();
    let health = &reg.health()[0];
    assert_eq!(
        (health.state, health.failures, health.connects),
        (ConnectionState::Connected, 2, 1)
    );
    assert_eq!(health.last_error, None);
}

#[test]
fn check_runs_each_hook_and_reports_failures_redacted() {
    let reg = registry(
        "[connections.hl_ok]\ntype = 'hl-checked'\npassword = 'hl-pw-1'\n\
         [connections.hl_plain]\ntype = 'counted'\n\
         [connections.hl_down]\ntype = 'counted'\n",
    );
    reg.connection::<Checked>("hl_ok").unwrap();
    reg.connection::<Counted>("hl_plain").unwrap().instance().unwrap();
    let down = reg.connection::<Counted>("hl_down").unwrap();
    fail_next("hl_down", 1);
    assert!(down.instance().is_err());

    let before = CHECKS.load(Ordering::SeqCst);
    let checked = futures_executor::block_on(reg.check());
    let summary: Vec<_> = checked.iter().map(|c| (c.name.as_str(), c.ok, c.checked)).collect();
    assert_eq!(
        summary,
        [
            ("hl_down", false, false),
            ("hl_ok", true, true),
            ("hl_plain", true, false)
        ]
    );
    assert!(CHECKS.load(Ordering::SeqCst) > before, "the hook ran");
    assert!(
        checked[0]
            .error
            .as_deref()
            .unwrap()
            .ends_with("scripted failure of hl_down"),
        "a type with no hook reports its failing connect: {checked:?}"
    );

    SICK.store(true, Ordering::SeqCst);
    let checked = futures_executor::block_on(reg.check());
    SICK.store(false, Ordering::SeqCst);
    let ok = checked.iter().find(|c| c.name == "hl_ok").unwrap();
    assert!(!ok.ok);
    assert_eq!(ok.error.as_deref(), Some("server rejected ***"), "redacted: {ok:?}");
}

#[test]
fn async_hooks_are_awaited_and_a_panic_is_a_failed_check() {
    let reg = registry(
        "[connections.hl_async]\ntype = 'hl-async'\n[connections.hl_panics]\ntype = 'hl-async'\npanic = true\n",
    );
    futures_executor::block_on(async {
        reg.connection::<AsyncChecked>("hl_async").unwrap();
        reg.connection::<AsyncChecked>("hl_panics").unwrap();
        let checked = reg.check().await;
        assert_eq!(
            (checked[0].name.as_str(), checked[0].ok, checked[0].checked),
            ("hl_async", true, true)
        );
        assert_eq!(checked[1].name, "hl_panics");
        assert!(!checked[1].ok);
        assert_eq!(
            checked[1].error.as_deref(),
            Some("the check panicked: probe of hl_panics panicked on purpose")
        );
        // The check connected both; the one whose check failed was reset after.
        assert!(checked[1].reset && !checked[0].reset, "{checked:?}");
        let health = reg.health();
        assert_eq!(
            (health[0].state, health[1].state, health[1].connects, health[1].resets),
            (ConnectionState::Connected, ConnectionState::NotConnected, 1, 1)
        );
    });
}

#[test]
fn a_sql_connection_checks_with_select_1() {
    let reg = Registry::builder()
        .secrets_toml(
            "s.toml",
            "[connections.hl_sql]\ntype = 'sql'\nurl = 'sqlite::memory:'\n\
             [connections.hl_sql_down]\ntype = 'sql'\nurl = 'postgresql://app@127.0.0.1:1/db'\nconnect_timeout = 5\n",
        )
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reg.connection::<connections::sql::SqlConnection>("hl_sql").unwrap();
        reg.connection::<connections::sql::SqlConnection>("hl_sql_down")
            .unwrap();
        let checked = reg.check().await;
        assert_eq!(
            (checked[0].name.as_str(), checked[0].ok),
            ("hl_sql", true),
            "{checked:?}"
        );
        assert!(checked[0].checked);
        assert_eq!(checked[1].name, "hl_sql_down");
        assert!(!checked[1].ok);
        assert!(checked[1].error.as_deref().unwrap().contains("refused"), "{checked:?}");
        reg.shutdown().await;
    });
}

/// What the `metrics` facade recorded while `f` ran on this thread.
pub(crate) fn recorded(f: impl FnOnce()) -> Recorded {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    Recorded(
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                (key.name().to_owned(), labels, value)
            })
            .collect(),
    )
}

/// One metric as recorded: name, labels, value.
type Metric = (String, Vec<(String, String)>, metrics_util::debugging::DebugValue);

/// Metrics as recorded.
pub(crate) struct Recorded(Vec<Metric>);

impl Recorded {
    /// The value of metric `name` for connection `connection` of type
    /// `type_name`, with the label `extra`.
    pub(crate) fn find(
        &self,
        name: &str,
        (connection, type_name): (&str, &str),
        extra: (&str, &str),
    ) -> &metrics_util::debugging::DebugValue {
        let has = |labels: &[(String, String)], (k, v): (&str, &str)| labels.iter().any(|(lk, lv)| lk == k && lv == v);
        self.0
            .iter()
            .find(|(n, labels, _)| {
                n == name
                    && has(labels, ("connection", connection))
                    && has(labels, ("type", type_name))
                    && has(labels, extra)
            })
            .map_or_else(|| panic!("no {name} {extra:?} in {:?}", self.0), |(_, _, value)| value)
    }
}

#[test]
fn metrics_count_connects_resets_closes_and_checks() {
    use metrics_util::debugging::DebugValue;

    let seen = recorded(|| {
        let reg = registry("[connections.hl_metrics]\ntype = 'hl-checked'\npassword = 'pw'\n");
        let conn = reg.connection::<Checked>("hl_metrics").unwrap();
        drop(conn.instance().unwrap());
        conn.reset();
        conn.instance().unwrap();
        futures_executor::block_on(reg.check());
    });
    let find = |name: &str, extra: (&str, &str)| seen.find(name, ("hl_metrics", "hl-checked"), extra);
    assert_eq!(
        find("connections_connects_total", ("outcome", "ok")),
        &DebugValue::Counter(2)
    );
    assert_eq!(
        find("connections_resets_total", ("reason", "manual")),
        &DebugValue::Counter(1)
    );
    // The reset's instance, then the second one as the registry was dropped.
    assert_eq!(
        find("connections_closes_total", ("outcome", "ok")),
        &DebugValue::Counter(2)
    );
    assert_eq!(
        find("connections_checks_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert!(
        matches!(find("connections_connect_duration_seconds", ("outcome", "ok")), DebugValue::Histogram(h) if h.len() == 2)
    );
    assert!(
        matches!(find("connections_check_duration_seconds", ("outcome", "ok")), DebugValue::Histogram(h) if h.len() == 1)
    );
}
