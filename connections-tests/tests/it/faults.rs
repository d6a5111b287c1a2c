//! Faults: a hanging connect, repeated failures, a panic, secrets that vanish
//! or turn unreadable mid-run. The registry keeps serving what it can, and
//! every failure is a typed error.

use std::fs;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connections::Registry;
use connections::prelude::*;

use crate::common::{Counted, connects, fail_next, registry};

/// Its connect blocks until the test sends on the gate (or 30 s pass).
#[derive(Connection)]
struct Hanging {
    base: BaseConnection<u32>,
}

static HANG_GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
static HANG_CONNECTS: Mutex<u32> = Mutex::new(0);

impl Hanging {
    fn _connect(&self, _: &Config) -> Result<u32, BoxError> {
        *HANG_CONNECTS.lock().unwrap() += 1;
        let gate = HANG_GATE.lock().unwrap().take().ok_or("no gate")?;
        gate.recv_timeout(Duration::from_secs(30))?;
        Ok(7)
    }
}

#[test]
fn a_hanging_connect_times_out_naming_the_timeout_and_the_connection() {
    let (open, gate) = mpsc::channel();
    *HANG_GATE.lock().unwrap() = Some(gate);
    let conn = registry("").connection::<Hanging>("fault_hang").unwrap();
    let timeout = Duration::from_millis(50);

    let started = Instant::now();
    let err = conn.instance_timeout(timeout).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the caller was not released"
    );
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("connecting `fault_hang`") && msg.contains("50ms"), "{msg}");

    // Later callers wait on the same attempt: still one connect, however many time out.
    for _ in 0..5 {
        assert!(matches!(
            conn.instance_timeout(timeout),
            Err(Error::ConnectTimeout { .. })
        ));
    }
    assert_eq!(
        *HANG_CONNECTS.lock().unwrap(),
        1,
        "a hanging server must not pile up connects"
    );
    assert!(!conn.is_connected());

    // The server answers: the one connect finishes and its instance serves everyone.
    open.send(()).unwrap();
    assert_eq!(*conn.instance_timeout(Duration::from_secs(30)).unwrap(), 7);
    assert_eq!(*conn.instance().unwrap(), 7);
    assert_eq!(*HANG_CONNECTS.lock().unwrap(), 1);
}

#[test]
fn a_connect_that_fails_n_times_then_succeeds() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("fault_flaky").unwrap();
    fail_next("fault_flaky", 3);
    for attempt in 1..=3 {
        let err = conn.instance().unwrap_err();
        assert!(matches!(err, Error::ConnectFailed { .. }), "attempt {attempt}: {err}");
        assert!(!conn.is_connected());
    }
    let handle = conn.instance().unwrap();
    assert_eq!(handle.serial, 4);
    assert_eq!(connects("fault_flaky"), 4);
    // A timeout-bounded call on a connected connection returns at once.
    assert_eq!(Arc::new(conn).instance_timeout(Duration::ZERO).unwrap().serial, 4);
}

#[test]
fn a_panicking_connect_is_a_typed_error_each_time() {
    let reg = registry("[connections.fault_panic]\npanic = true");
    let conn = Arc::clone(&reg.connection::<Counted>("fault_panic").unwrap());
    for _ in 0..3 {
        assert!(matches!(conn.instance(), Err(Error::ConnectPanicked { .. })));
    }
    assert!(matches!(
        conn.instance_timeout(Duration::from_secs(30)),
        Err(Error::ConnectPanicked { .. })
    ));
    // The registry goes on serving other connections.
    assert!(
        reg.connection::<Counted>("fault_after_panic")
            .unwrap()
            .instance()
            .is_ok()
    );
}

#[test]
fn secrets_that_vanish_or_turn_unreadable_keep_the_last_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.toml");
    fs::write(&file, "[connections.fault_db]\ntype = 'counted'\nsleep_ms = 0").unwrap();
    let reg = Registry::builder().secrets_paths([&file]).build();
    let live = reg.connection_dyn("fault_db").unwrap();
    live.connect().unwrap();

    // Turns unreadable (not text): the reload fails, typed, naming the file; the old secrets stay.
    fs::write(&file, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let err = reg.reload_secrets().unwrap_err();
    assert!(
        matches!(&err, Error::ReadSecrets { path, .. } if path == &file),
        "{err}"
    );
    assert!(reg.secrets().unwrap().contains("connections.fault_db"));
    assert!(reg.connection_dyn("fault_db").is_ok());

    // Malformed: the same, with the line.
    fs::write(&file, "[connections.fault_db\n").unwrap();
    assert!(matches!(
        reg.reload_secrets(),
        Err(Error::MalformedSecrets { line: Some(1), .. })
    ));
    assert!(reg.secrets().unwrap().contains("connections.fault_db"));

    // Vanishes: a file read before and missing now (a deletion, or an
    // editor's save midway) keeps the last good secrets too, with a typed
    // error naming the file; live connections keep their config and instance.
    fs::remove_file(&file).unwrap();
    let err = reg.reload_secrets().unwrap_err();
    assert!(
        matches!(&err, Error::SecretsFileRemoved { path } if path == &file),
        "{err}"
    );
    assert!(err.to_string().contains("leave the file empty instead"), "{err}");
    assert!(live.is_connected());
    assert_eq!(live.config().get::<String>("type").unwrap(), "counted");
    assert!(reg.connection_dyn("fault_db").is_ok());

    // Comes back: picked up by the next reload.
    fs::write(&file, "[connections.fault_other]\ntype = 'counted'").unwrap();
    reg.reload_secrets().unwrap();
    assert_eq!(reg.connection_dyn("fault_other").unwrap().type_name(), "counted");
    // Its section is gone: the live connection now has an empty config
    // (a typed lookup needs none), and a dynamic lookup cannot tell its type.
    assert!(live.config().is_empty());
    assert!(matches!(reg.connection_dyn("fault_db"), Err(Error::NoSection { .. })));
}
