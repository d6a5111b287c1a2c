//! Type registration: what the derive registers, and how a `type` name resolves to it.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::close::CloseQueue;
use crate::config::Config;
use crate::connection::{Connection, DynConnection};
use crate::error::{Error, nearest};

/// How a connection type is built at run time; what the derive registers.
///
/// Made by [`Registration::of`](crate::Registration::of); hand it to nothing yourself: use
/// [`Registry::register`](crate::Registry::register) or rely on the derive's automatic registration.
///
/// # Examples
///
/// ```
/// # use connections_core::{BoxError, BaseConnection, Config, Connection};
/// # #[derive(Connection)]
/// # #[connection(type_name = "echo")]
/// # struct Echo { base: BaseConnection<String> }
/// # impl Echo { fn _connect(&self, c: &Config) -> Result<String, BoxError> { Ok(c.get("text")?) } }
/// let registration = connections_core::Registration::of::<Echo>();
/// assert_eq!(registration.type_name(), "echo");
/// assert_eq!(registration.type_path(), Echo::TYPE_PATH);
/// ```
#[derive(Clone, Copy)]
pub struct Registration {
    pub(super) type_name: &'static str,
    pub(super) type_path: &'static str,
    pub(super) type_id: fn() -> TypeId,
    pub(super) session: bool,
    pub(crate) diagnose: Option<crate::author::Diagnose>,
    #[cfg_attr(not(feature = "doctor"), expect(dead_code, reason = "only the doctor reads it"))]
    pub(crate) block_on: Option<crate::author::BlockOn>,
    #[cfg_attr(not(feature = "settings"), expect(dead_code, reason = "only typed settings read it"))]
    pub(crate) settings: Option<crate::author::SettingsHooks>,
    pub(super) build: fn(&str, Config, &Arc<CloseQueue>) -> Arc<dyn DynConnection>,
}

impl Registration {
    /// The registration of connection type `T`; see [`Registration`](crate::Registration).
    pub const fn of<T: Connection>() -> Self {
        Self {
            type_name: T::TYPE_NAME,
            type_path: T::TYPE_PATH,
            type_id: TypeId::of::<T>,
            session: T::SESSION_SCOPED,
            diagnose: T::DIAGNOSE,
            block_on: T::BLOCK_ON,
            settings: T::SETTINGS,
            build: build::<T>,
        }
    }

    /// The short name (`type_name`), or the full path if the type has none; see [`Registration`](crate::Registration).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The full Rust path; see [`Registration`](crate::Registration).
    pub fn type_path(&self) -> &'static str {
        self.type_path
    }

    /// Whether the type is session-scoped; see [`Connection::SESSION_SCOPED`].
    pub fn is_session_scoped(&self) -> bool {
        self.session
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("type_name", &self.type_name)
            .field("type_path", &self.type_path)
            .finish_non_exhaustive()
    }
}

pub(super) fn build<T: Connection>(name: &str, config: Config, closes: &Arc<CloseQueue>) -> Arc<dyn DynConnection> {
    let conn = T::from_config(name, config);
    conn.base().attach_closes(closes);
    Arc::new(conn)
}

inventory::collect!(Registration);

/// A first-party connection type, a crate of its own that the
/// `connections` crate builds behind a feature. Data, not a `cfg`: this
/// crate never depends on them.
struct FirstParty {
    /// Its `type` name.
    type_name: &'static str,
    /// The `connections` feature that builds it: a section asking for the
    /// type while it is not registered names it instead of calling the type unknown.
    feature: &'static str,
    /// What Streamlit users write as `type` for it (a SQL dialect, with or
    /// without SQLAlchemy's `+driver`): answered with "did you mean".
    written_as: &'static [&'static str],
    /// Keys that point to it in a section with no `type` key.
    keys: &'static [&'static str],
}

const FIRST_PARTY: &[FirstParty] = &[
    FirstParty {
        type_name: "sql",
        feature: "sql",
        written_as: &["postgresql", "postgres", "pg", "mysql", "mariadb", "sqlite", "sqlite3"],
        keys: &["url", "dialect"],
    },
    FirstParty {
        type_name: "redis",
        feature: "redis",
        written_as: &["valkey"],
        // A section needs `type = "redis"`: its `url` key points to SQL.
        keys: &[],
    },
    FirstParty {
        type_name: "files",
        feature: "files",
        written_as: &["filesconnection", "fsspec", "file"],
        keys: &[],
    },
    FirstParty {
        type_name: "http",
        feature: "http",
        written_as: &["https", "rest", "api"],
        keys: &["base_url"],
    },
];

/// The first-party type `requested` is a common stand-in for, if any.
fn written_for(requested: &str) -> Option<&'static str> {
    let base = requested.split('+').next().unwrap_or(requested).to_ascii_lowercase();
    FIRST_PARTY
        .iter()
        .find(|t| t.written_as.contains(&base.as_str()))
        .map(|t| t.type_name)
}

/// The feature to enable for `type_name`, if it is a first-party type's
/// name; asked only once no registered type has that name.
fn disabled_feature(type_name: &str) -> Option<&'static str> {
    FIRST_PARTY.iter().find(|t| t.type_name == type_name).map(|t| t.feature)
}

/// The first-party type a section with no `type` key points to by its keys
/// (`url` or `dialect`: `sql`), registered or not, and the key that points.
pub(super) fn pointed_to_by(section: &toml::Table) -> Option<(String, String)> {
    FIRST_PARTY.iter().find_map(|t| {
        let key = t.keys.iter().find(|key| section.contains_key(**key))?;
        Some((t.type_name.to_owned(), (*key).to_owned()))
    })
}

#[derive(Default)]
pub(super) struct Types {
    pub(super) by_id: HashMap<TypeId, Registration>,
    /// Short names and full paths -> the types that claim them.
    pub(super) by_name: BTreeMap<&'static str, Vec<TypeId>>,
}

impl Types {
    pub(super) fn add(&mut self, reg: Registration) {
        let id = (reg.type_id)();
        if self.by_id.insert(id, reg).is_some() {
            return;
        }
        for name in [reg.type_name, reg.type_path] {
            let ids = self.by_name.entry(name).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    pub(super) fn is_short_name(&self, name: &str) -> Option<Registration> {
        match self.by_name.get(name).map(Vec::as_slice) {
            Some([id]) => self
                .by_id
                .get(id)
                .filter(|r| r.type_name == name && r.type_path != name)
                .copied(),
            _ => None,
        }
    }

    pub(super) fn resolve(&self, requested: &str) -> Result<Registration, Error> {
        // Streamlit writes classes as dotted paths: `my_app.db.Sqlite`.
        let normalized: Cow<'_, str> = if !requested.contains("::") && requested.contains('.') {
            Cow::Owned(requested.replace('.', "::"))
        } else {
            Cow::Borrowed(requested)
        };
        match self.by_name.get(&*normalized).map(Vec::as_slice) {
            Some([id]) => Ok(self.by_id[id]),
            Some(ids) if ids.len() > 1 => Err(Error::AmbiguousType {
                requested: requested.to_owned(),
                candidates: ids.iter().map(|id| self.by_id[id].type_path.to_owned()).collect(),
                asked_by: None,
            }),
            _ if let Some(feature) = disabled_feature(&normalized) => Err(Error::FeatureDisabled {
                requested: requested.to_owned(),
                feature,
                asked_by: None,
            }),
            _ => {
                let registered = self.names();
                Err(Error::UnknownType {
                    nearest: written_for(requested)
                        .map(str::to_owned)
                        .or_else(|| nearest(requested, registered.iter().map(String::as_str))),
                    requested: requested.to_owned(),
                    registered,
                    asked_by: None,
                })
            }
        }
    }

    /// Each registered type with typed settings: (short name, full path, settings schema).
    #[cfg(feature = "settings")]
    pub(super) fn settings_schemas(&self) -> Vec<(&'static str, &'static str, serde_json::Value)> {
        let mut found: Vec<_> = self
            .by_id
            .values()
            .filter_map(|reg| Some((reg.type_name, reg.type_path, (reg.settings?.schema)())))
            .collect();
        found.sort_by_key(|&(name, path, _)| (name, path));
        found
    }

    /// The registered type names, sorted.
    pub(super) fn names(&self) -> Vec<String> {
        self.by_name.keys().map(|&k| k.to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_party_type_left_out_of_the_build_names_its_feature() {
        // Nothing registered: as a build without the type would be.
        let types = Types::default();
        let err = types.resolve("sql").unwrap_err();
        assert!(matches!(err, Error::FeatureDisabled { feature: "sql", .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("needs the `sql` feature of the `connections` crate"),
            "{msg}"
        );
        assert!(
            msg.contains(r#"connections = { version = "0.1.0", features = ["sql"] }"#),
            "{msg}"
        );
        // Any other unknown name is still unknown.
        assert!(matches!(types.resolve("mongo").unwrap_err(), Error::UnknownType { .. }));
        // Redis, left out, names its feature too; Valkey's name suggests it.
        let err = types.resolve("redis").unwrap_err();
        assert!(matches!(err, Error::FeatureDisabled { feature: "redis", .. }), "{err}");
        assert!(
            matches!(&types.resolve("valkey").unwrap_err(), Error::UnknownType { nearest: Some(n), .. } if n == "redis"),
            "valkey"
        );
    }

    #[test]
    fn a_dialect_written_as_the_type_suggests_sql() {
        let types = Types::default();
        for asked in ["postgresql", "PostgreSQL", "postgresql+psycopg2", "mysql", "sqlite"] {
            let err = types.resolve(asked).unwrap_err();
            assert!(
                matches!(&err, Error::UnknownType { nearest: Some(n), .. } if n == "sql"),
                "{asked}: {err}"
            );
            assert!(err.to_string().contains("(did you mean `sql`?)"), "{err}");
        }
    }
}
