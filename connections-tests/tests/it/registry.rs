//! Registration, typed and dynamic lookup, type resolution, `env:` names.

use std::sync::Arc;

use connections::prelude::*;
use connections::{DynConnection, Registry};

use crate::common::{Counted, Echo, registry};

#[test]
fn derived_types_register_under_type_name_and_full_path() {
    let names = registry("").type_names();
    assert!(names.contains(&"counted"), "{names:?}");
    assert!(names.contains(&"it::common::Counted"), "{names:?}");
    assert_eq!(Counted::TYPE_PATH, "it::common::Counted");
    assert_eq!(Counted::TYPE_NAME, "counted");
}

#[test]
fn explicit_registration_on_an_empty_registry() {
    let reg = Registry::builder()
        .linked_types(false)
        .secrets_toml("s", "[connections.e]\ntype = 'echo'")
        .build();
    let err = reg.connection_dyn("e").unwrap_err();
    assert!(matches!(err, Error::UnknownType { .. }), "{err}");
    reg.register::<Echo>();
    reg.register::<Echo>(); // twice is harmless
    assert_eq!(reg.type_names(), ["echo", "it::common::Echo"]);
    assert_eq!(reg.connection_dyn("e").unwrap().type_name(), "echo");
}

#[test]
fn typed_lookup_is_cached_per_name() {
    let reg = registry("");
    let a = reg.connection::<Echo>("a").unwrap();
    let a2 = reg.connection::<Echo>("a").unwrap();
    let b = reg.connection::<Echo>("b").unwrap();
    assert!(Arc::ptr_eq(&a, &a2));
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(reg.cached_len(), 2);
}

#[test]
fn independent_registries_have_their_own_cache_and_secrets() {
    let one = registry("[connections.x]\ntext = 'one'");
    let two = registry("[connections.x]\ntext = 'two'");
    let a = one.connection::<Echo>("x").unwrap();
    let b = two.connection::<Echo>("x").unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(*a.instance().unwrap(), "one");
    assert_eq!(*b.instance().unwrap(), "two");
}

#[test]
fn dyn_lookup_takes_the_type_from_the_section() {
    let reg = registry(
        "[connections.short]\ntype = 'echo'\n\
         [connections.full]\ntype = 'it::common::Echo'\n\
         [connections.dotted]\ntype = 'it.common.Echo'",
    );
    for name in ["short", "full", "dotted"] {
        let conn = reg.connection_dyn(name).unwrap();
        assert_eq!(conn.type_path(), "it::common::Echo", "{name}");
        assert!(conn.is::<Echo>());
    }
}

#[test]
fn dyn_and_typed_lookups_share_one_entry() {
    let reg = registry("[connections.e]\ntype = 'echo'");
    let any = reg.connection_dyn("e").unwrap();
    let typed = reg.connection::<Echo>("e").unwrap();
    let downcast = any.downcast::<Echo>().ok().unwrap();
    assert!(Arc::ptr_eq(&typed, &downcast));
}

#[test]
fn downcast_to_the_wrong_type_gives_the_connection_back() {
    let reg = registry("[connections.e]\ntype = 'echo'");
    let any = reg.connection_dyn("e").unwrap();
    assert!(any.downcast_ref::<Counted>().is_none());
    let back: Arc<dyn DynConnection> = any.downcast::<Counted>().unwrap_err();
    assert_eq!(back.name(), "e");
}

#[test]
fn a_name_that_is_a_type_name_is_that_type() {
    // Streamlit: `st.connection("sql")` needs no `type` key.
    let reg = registry("[connections.other]\ntype = 'counted'");
    let conn = reg.connection_dyn("echo").unwrap();
    assert_eq!(conn.type_name(), "echo");
}

#[test]
fn explicit_type_option_wins_over_the_section() {
    let reg = registry("[connections.c]\ntype = 'echo'\ntext = 'x'");
    let conn = reg.lookup("c").with_type("counted").get_dyn().unwrap();
    assert!(conn.is::<Counted>());
    let conn = reg.lookup("c").with_type("it::common::Echo").get::<Echo>().unwrap();
    assert_eq!(*conn.instance().unwrap(), "x");
}

#[test]
fn typed_lookup_ignores_a_client_librarys_own_type_key() {
    // A Google service account keeps `type = "service_account"` in its section.
    let reg = registry("[connections.gcp]\ntype = 'service_account'\ntext = 'kept'");
    let conn = reg.connection::<Echo>("gcp").unwrap();
    assert_eq!(*conn.instance().unwrap(), "kept");
    assert_eq!(conn.config().get::<String>("type").unwrap(), "service_account");
}

#[test]
fn typed_lookup_with_a_conflicting_type_option_is_a_mismatch() {
    let reg = registry("");
    let err = reg.lookup("m").with_type("counted").get::<Echo>().unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("it::common::Counted") && msg.contains("it::common::Echo"),
        "{msg}"
    );
}

#[test]
fn env_names_resolve_before_anything_else() {
    // Cargo sets CARGO_PKG_NAME for the test process: it is "connections-tests".
    let reg = registry("[connections.connections-tests]\ntype = 'echo'\ntext = 'via env'");
    let via_env = reg.connection::<Echo>("env:CARGO_PKG_NAME").unwrap();
    let direct = reg.connection::<Echo>("connections-tests").unwrap();
    assert!(Arc::ptr_eq(&via_env, &direct), "the resolved name keys the cache");
    assert_eq!(via_env.name(), "connections-tests");
    assert_eq!(*via_env.instance().unwrap(), "via env");
    assert_eq!(reg.connection_dyn("env:CARGO_PKG_NAME").unwrap().type_name(), "echo");
}

#[test]
fn unset_env_name_is_an_error_naming_the_variable() {
    let err = registry("")
        .connection::<Echo>("env:CONNECTIONS_TEST_SURELY_UNSET")
        .unwrap_err();
    assert!(matches!(&err, Error::EnvVar { var, .. } if var == "CONNECTIONS_TEST_SURELY_UNSET"));
    assert!(
        err.to_string().contains("export CONNECTIONS_TEST_SURELY_UNSET="),
        "{err}"
    );
}

#[test]
fn global_registry_and_free_functions() {
    let a = connections::connection::<Echo>("registry_global_echo").unwrap();
    let b = Registry::global().connection::<Echo>("registry_global_echo").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let c = connections::lookup("registry_global_echo").get::<Echo>().unwrap();
    assert!(Arc::ptr_eq(&a, &c));
}

mod ambiguous {
    use super::*;

    // Claims the same short name as `other::Twin`.
    #[derive(Connection)]
    #[connection(type_name = "twin")]
    pub struct Twin {
        base: BaseConnection<()>,
    }
    impl Twin {
        fn _connect(&self, _: &Config) -> Result<(), BoxError> {
            Ok(())
        }
    }

    pub mod other {
        use super::*;
        #[derive(Connection)]
        #[connection(type_name = "twin")]
        pub struct Twin {
            base: BaseConnection<()>,
        }
        impl Twin {
            fn _connect(&self, _: &Config) -> Result<(), BoxError> {
                Ok(())
            }
        }
    }

    #[test]
    fn a_short_name_claimed_twice_asks_for_the_full_path() {
        let reg =
            registry("[connections.t]\ntype = 'twin'\n[connections.u]\ntype = 'it::registry::ambiguous::other::Twin'");
        let err = reg.connection_dyn("t").unwrap_err();
        assert!(matches!(err, Error::AmbiguousType { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("it::registry::ambiguous::Twin"), "{msg}");
        assert!(msg.contains("it::registry::ambiguous::other::Twin"), "{msg}");
        assert!(msg.contains("write the full path"), "{msg}");
        assert!(reg.connection_dyn("u").unwrap().is::<other::Twin>());
    }
}

mod warnings {
    use super::*;
    use crate::common::captured_logs as captured;

    #[test]
    fn a_section_type_naming_another_registered_type_warns_naming_both() {
        let reg = registry("[connections.w]\ntype = 'counted'");
        let logs = captured(|| {
            reg.connection::<Echo>("w").unwrap();
        });
        assert!(logs.contains("WARN"), "{logs}");
        assert!(
            logs.contains("it::common::Echo") && logs.contains("it::common::Counted"),
            "{logs}"
        );
    }

    #[test]
    fn an_unregistered_section_type_does_not_warn() {
        let reg = registry("[connections.w]\ntype = 'service_account'");
        let logs = captured(|| {
            reg.connection::<Echo>("w").unwrap();
        });
        assert!(logs.is_empty(), "{logs}");
    }
}
