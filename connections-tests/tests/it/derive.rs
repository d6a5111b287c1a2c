//! What the derive accepts and generates.

use std::sync::Mutex;

use connections::Registry;
use connections::prelude::*;

use crate::common::registry;

/// Extra fields take their `Default`; `connect = ...` names another function.
#[derive(Connection)]
#[connection(type_name = "with-extras", connect = Self::open)]
pub struct WithExtras {
    pub opened_by: Mutex<Vec<&'static str>>,
    base: BaseConnection<u32>,
    pub label: String,
}

impl WithExtras {
    fn open(&self, config: &Config) -> Result<u32, std::num::ParseIntError> {
        self.opened_by.lock().unwrap().push("open");
        config
            .get_opt::<String>("n")
            .ok()
            .flatten()
            .unwrap_or_else(|| "7".into())
            .parse()
    }
}

#[test]
fn extra_fields_default_and_connect_names_another_function() {
    let conn = registry("").connection::<WithExtras>("d_extras").unwrap();
    assert!(conn.label.is_empty());
    assert_eq!(*conn.instance().unwrap(), 7);
    assert_eq!(*conn.opened_by.lock().unwrap(), ["open"]);
    assert_eq!(WithExtras::TYPE_NAME, "with-extras");
}

/// A tuple struct, and a free function as `connect`.
#[derive(Connection)]
#[connection(connect = open_tuple)]
pub struct Tuple(BaseConnection<String>, u8);

fn open_tuple(conn: &Tuple, _config: &Config) -> Result<String, BoxError> {
    Ok(format!("tuple {}", conn.1))
}

#[test]
fn tuple_structs_and_free_connect_functions() {
    let conn = registry("").connection::<Tuple>("d_tuple").unwrap();
    assert_eq!(*conn.instance().unwrap(), "tuple 0");
}

#[test]
fn without_type_name_the_full_path_is_the_type_name() {
    assert_eq!(Tuple::TYPE_NAME, "it::derive::Tuple");
    assert_eq!(Tuple::TYPE_NAME, Tuple::TYPE_PATH);
    let reg = registry("[connections.t]\ntype = 'it::derive::Tuple'");
    assert!(reg.connection_dyn("t").unwrap().is::<Tuple>());
}

/// A re-exporting crate names the runtime with `crate = ...`.
mod facade {
    pub use connections;
}

mod through_facade {
    use super::facade::connections::{BaseConnection, BoxError, Config};

    #[derive(super::facade::connections::Connection)]
    #[connection(crate = super::facade::connections, type_name = "facaded")]
    pub struct Facaded {
        base: BaseConnection<u8>,
    }

    impl Facaded {
        fn _connect(&self, _: &Config) -> Result<u8, BoxError> {
            Ok(1)
        }
    }
}

#[test]
fn crate_attribute_for_re_exporters() {
    use connections::Connection as _;
    let conn = registry("").connection::<through_facade::Facaded>("d_facade").unwrap();
    assert_eq!(*conn.instance().unwrap(), 1);
}

/// The raw type can be anything `Send + Sync + 'static`, e.g. a `Mutex` around a `!Sync` client.
#[derive(Connection)]
#[connection(type_name = "sqlite-test")]
pub struct Sqlite {
    base: BaseConnection<Mutex<rusqlite::Connection>>,
}

impl Sqlite {
    fn _connect(&self, config: &Config) -> Result<Mutex<rusqlite::Connection>, BoxError> {
        let path: String = config.get("database")?;
        Ok(Mutex::new(rusqlite::Connection::open(path)?))
    }
}

#[test]
fn a_real_database_connects_resets_and_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let reg = Registry::builder()
        .secrets_toml(
            "s",
            format!(
                "[connections.local]\ntype = 'sqlite-test'\ndatabase = {:?}",
                db.display().to_string()
            ),
        )
        .build();
    let conn = reg.connection::<Sqlite>("local").unwrap();
    {
        let raw = conn.instance().unwrap();
        let raw = raw.lock().unwrap();
        raw.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (41);")
            .unwrap();
    }
    conn.reset();
    let raw = conn.instance().unwrap();
    let x: i64 = raw
        .lock()
        .unwrap()
        .query_row("SELECT x + 1 FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(x, 42, "the reconnected handle sees the data written before reset");
}

#[test]
fn display_shows_name_type_and_section() {
    let reg = registry("[connections.shown]\ntext = 'x'");
    let with_section = reg.connection::<crate::common::Echo>("shown").unwrap();
    assert_eq!(
        with_section.base().to_string(),
        "connection `shown` (it::common::Echo), configured from [connections.shown]"
    );
    let without = reg.connection::<crate::common::Echo>("unshown").unwrap();
    assert_eq!(without.base().to_string(), "connection `unshown` (it::common::Echo)");
    let any = reg.lookup("shown").with_type("echo").get_dyn().unwrap();
    assert_eq!(any.to_string(), with_section.base().to_string());
}
