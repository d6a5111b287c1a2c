//! Connection types and helpers shared by the topic modules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use connections::Registry;
use connections::prelude::*;

/// Per-connection-name counters and scripted behaviour, keyed by name so
/// tests that use distinct names never see each other's counts.
#[derive(Default)]
struct Script {
    connects: HashMap<String, usize>,
    fail_next: HashMap<String, usize>,
}

static SCRIPT: Mutex<Option<Script>> = Mutex::new(None);

fn with_script<R>(f: impl FnOnce(&mut Script) -> R) -> R {
    let mut guard = SCRIPT.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Script::default))
}

/// How many times `_connect` ran for connection `name`.
pub fn connects(name: &str) -> usize {
    with_script(|s| s.connects.get(name).copied().unwrap_or(0))
}

/// Makes the next `n` connects of `name` fail.
pub fn fail_next(name: &str, n: usize) {
    with_script(|s| {
        s.fail_next.insert(name.to_owned(), n);
    });
}

/// The raw handle of a `Counted` connection.
#[derive(Debug)]
pub struct Handle {
    /// Which connect (1-based, per name) made it.
    pub serial: usize,
    pub name: String,
    /// The config's `text` key as this connect saw it.
    pub text: Option<String>,
}

/// A connection whose behaviour is scripted by its config:
/// `sleep_ms` (delay inside connect), `panic` (bool), and `fail_next`.
#[derive(Debug, Connection)]
#[connection(type_name = "counted")]
pub struct Counted {
    base: BaseConnection<Handle>,
}

impl Counted {
    fn _connect(&self, config: &Config) -> Result<Handle, BoxError> {
        let name = config.name().to_owned();
        let serial = with_script(|s| {
            let n = s.connects.entry(name.clone()).or_insert(0);
            *n += 1;
            *n
        });
        if let Some(ms) = config.get_opt::<u64>("sleep_ms")? {
            std::thread::sleep(Duration::from_millis(ms));
        }
        assert!(
            !config.get_opt::<bool>("panic")?.unwrap_or(false),
            "connect of {name} panicked on purpose"
        );
        let fail = with_script(|s| match s.fail_next.get_mut(&name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        });
        if fail {
            return Err(format!("scripted failure of {name}").into());
        }
        let text = config.get_opt::<String>("text")?;
        Ok(Handle { serial, name, text })
    }
}

/// A second connection type, for type-resolution and mismatch tests.
#[derive(Debug, Connection)]
#[connection(type_name = "echo")]
pub struct Echo {
    base: BaseConnection<String>,
}

impl Echo {
    fn _connect(&self, config: &Config) -> Result<String, BoxError> {
        Ok(config.get_opt::<String>("text")?.unwrap_or_default())
    }
}

/// A registry reading only `toml`, labelled `test-secrets.toml`.
pub fn registry(toml: &str) -> Registry {
    Registry::builder().secrets_toml("test-secrets.toml", toml).build()
}

/// Joins all threads, returning their results.
pub fn join_all<T>(handles: Vec<std::thread::JoinHandle<T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| h.join().expect("test thread panicked"))
        .collect()
}

/// Counts how many distinct `Arc`s are in `items`.
pub fn distinct<T>(items: &[Arc<T>]) -> usize {
    let mut seen: Vec<&Arc<T>> = Vec::new();
    for item in items {
        if !seen.iter().any(|s| Arc::ptr_eq(s, item)) {
            seen.push(item);
        }
    }
    seen.len()
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines captured from the moment it is made the default (on this
/// thread, and on threads that inherit this thread's subscriber, such as a
/// registry's watcher) until its guard drops.
#[derive(Clone, Default)]
pub struct LogCapture(Sink);

impl LogCapture {
    /// Captures this thread's `tracing` output, DEBUG and above, until the guard drops.
    pub fn set_default(&self) -> tracing::subscriber::DefaultGuard {
        self.set_default_at(tracing::Level::DEBUG)
    }

    /// Captures this thread's `tracing` output at `level` and above until the guard drops.
    pub fn set_default_at(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.0.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        let bytes = self.0.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Waits until `condition` holds, checking every few milliseconds; fails
/// after 10 s with `what`.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Everything logged (through `tracing`) on this thread while `f` runs, at
/// the formatter's default level (INFO and above).
pub fn captured_logs(f: impl FnOnce()) -> String {
    let capture = LogCapture::default();
    let guard = capture.set_default_at(tracing::Level::INFO);
    // A call site first hit on another test's thread while no subscriber was
    // set there may have cached "never"; ask every call site again.
    tracing::callsite::rebuild_interest_cache();
    f();
    drop(guard);
    capture.text()
}

/// Runs `f` on `n` threads released together by a barrier, and returns their
/// results in thread order.
pub fn all_at_once<S, R>(n: usize, state: &Arc<S>, f: impl Fn(&S) -> R + Send + Sync + 'static) -> Vec<R>
where
    S: Send + Sync + 'static,
    R: Send + 'static,
{
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let f = Arc::new(f);
    let handles = (0..n)
        .map(|_| {
            let (state, barrier, f) = (Arc::clone(state), Arc::clone(&barrier), Arc::clone(&f));
            std::thread::spawn(move || {
                barrier.wait();
                f(&state)
            })
        })
        .collect();
    join_all(handles)
}

/// What a child test prints once its checks have run; a child that returned
/// early (its variables missing) does not print it.
pub const CHILD_CHECKED: &str = "child checks passed";

/// Runs the ignored test `test` of this binary in a child process with
/// `envs` set, and asserts it ran its checks ([`CHILD_CHECKED`]) and passed.
///
/// For tests that need environment variables: the workspace forbids
/// `unsafe`, and `std::env::set_var` is unsafe.
pub fn run_in_child(test: &str, envs: &[(&str, &std::ffi::OsStr)]) {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", test, "--ignored", "--nocapture"]);
    for (key, value) in envs {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(CHILD_CHECKED),
        "the child test did not run its checks: {stdout}"
    );
}
