//! Lazy connect, exactly once; failures and panics store nothing.

use std::sync::Arc;

use connections::prelude::*;

use crate::common::{Counted, Echo, connects, fail_next, registry};

#[test]
fn lookup_does_not_connect_and_first_instance_connects_once() {
    let reg = registry("[connections.lazy_once]\ntype = 'counted'");
    let conn = reg.connection::<Counted>("lazy_once").unwrap();
    assert!(!conn.is_connected());
    assert_eq!(connects("lazy_once"), 0);
    let a = conn.instance().unwrap();
    let b = conn.instance().unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(conn.is_connected());
    assert_eq!(connects("lazy_once"), 1);
    assert_eq!(a.serial, 1);
}

#[test]
fn eager_connects_during_the_lookup() {
    let reg = registry("");
    let conn = reg.lookup("lazy_eager").eager(true).get::<Counted>().unwrap();
    assert!(conn.is_connected());
    assert_eq!(connects("lazy_eager"), 1);
}

#[test]
fn eager_failure_is_returned_and_not_cached() {
    let reg = registry("");
    fail_next("lazy_eager_fail", 1);
    let err = reg.lookup("lazy_eager_fail").eager(true).get::<Counted>().unwrap_err();
    assert!(matches!(err, Error::ConnectFailed { .. }), "{err}");
    assert_eq!(reg.cached_len(), 0, "a failed creation is never cached");
    let conn = reg.lookup("lazy_eager_fail").eager(true).get::<Counted>().unwrap();
    assert!(conn.is_connected());
    assert_eq!(connects("lazy_eager_fail"), 2);
}

#[test]
fn eager_on_an_entry_built_lazily_connects_it() {
    let reg = registry("");
    let lazy = reg.connection::<Counted>("lazy_then_eager").unwrap();
    let eager = reg.lookup("lazy_then_eager").eager(true).get::<Counted>().unwrap();
    assert!(Arc::ptr_eq(&lazy, &eager));
    assert!(lazy.is_connected());
}

#[test]
fn a_failed_connect_stores_nothing_and_the_next_call_retries() {
    let reg = registry("");
    let conn = reg.connection::<Counted>("lazy_retry").unwrap();
    fail_next("lazy_retry", 1);
    let err = conn.instance().unwrap_err();
    assert!(!conn.is_connected());
    let source = std::error::Error::source(&err).expect("the cause is kept").to_string();
    assert_eq!(source, "scripted failure of lazy_retry");
    let handle = conn.instance().unwrap();
    assert_eq!(handle.serial, 2);
    assert_eq!(connects("lazy_retry"), 2);
}

#[test]
fn a_panicking_connect_is_an_error_and_poisons_nothing() {
    let reg = registry("[connections.lazy_panic]\npanic = true");
    let conn = reg.connection::<Counted>("lazy_panic").unwrap();
    let err = conn.instance().unwrap_err();
    assert!(
        matches!(&err, Error::ConnectPanicked { message, .. } if message.contains("panicked on purpose")),
        "{err}"
    );
    // Still usable: the same connection, asked again, runs connect again.
    assert!(conn.instance().is_err());
    assert_eq!(connects("lazy_panic"), 2);
    // And another connection of the same type is unaffected.
    assert!(
        reg.connection::<Counted>("lazy_after_panic")
            .unwrap()
            .instance()
            .is_ok()
    );
}

#[test]
fn a_config_error_inside_connect_reaches_the_user_unwrapped() {
    #[derive(Connection)]
    struct NeedsUrl {
        base: BaseConnection<String>,
    }
    impl NeedsUrl {
        fn _connect(&self, config: &Config) -> Result<String, BoxError> {
            Ok(config.get("url")?)
        }
    }
    let reg = registry("[connections.needs_url]\nhost = 'h'");
    let err = reg.connection::<NeedsUrl>("needs_url").unwrap().instance().unwrap_err();
    assert!(matches!(err, Error::MissingKey { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("add `url = ...` under [connections.needs_url] in test-secrets.toml"),
        "{msg}"
    );
}

#[test]
fn connect_sees_the_config_and_a_section_is_optional() {
    let reg = registry("");
    let echo = reg.connection::<Echo>("lazy_no_section").unwrap();
    assert!(echo.config().is_empty());
    assert_eq!(*echo.instance().unwrap(), "");
}
