//! Maps the driver parameters a Streamlit app writes (SQLAlchemy's
//! `create_engine_kwargs.connect_args`, the URL's `query` parameters) to the
//! ones sqlx reads, per database.
//!
//! A TLS or authentication setting that cannot be honoured is an error, never
//! a warning followed by a weaker connection: an app that asked for
//! `sslmode = "verify-full"` must not connect in plaintext. Any other
//! parameter sqlx has no counterpart for is dropped with one warning that
//! names it (never its value). Only parameters sqlx knows are passed on,
//! since sqlx logs the value of any it does not.

use std::time::Duration;

use toml::Value as Toml;
use url::Url;

use super::Dialect;
use connections_core::Config;
use connections_core::Error;
use connections_core::{Diagnostic, DiagnosticKind};

/// One driver parameter as written, and where.
pub(super) struct Param {
    /// The config key it came from, for errors and warnings:
    /// `create_engine_kwargs.connect_args.sslmode`, `query.sslmode`, or `url`.
    pub origin: String,
    /// The parameter's name (`sslmode`, `ssl.ca`).
    pub name: String,
    pub value: Toml,
}

/// The TLS a connection asked for, and where it was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tls {
    /// The mode in the driver's own words: `prefer`, `verify-full`
    /// (PostgreSQL), `PREFERRED`, `VERIFY_IDENTITY` (MySQL), `none` (SQLite).
    pub mode: &'static str,
    /// Whether a connection without TLS must fail.
    pub required: bool,
    /// Where the setting that made it required was written; `None` for the default.
    pub origin: Option<String>,
}

impl Tls {
    fn default_for(dialect: Dialect) -> Self {
        Tls {
            mode: match dialect {
                Dialect::Postgres => "prefer",
                Dialect::MySql => "PREFERRED",
                Dialect::Sqlite => "none",
            },
            required: false,
            origin: None,
        }
    }
}

/// What the parameters come to.
pub(super) struct Mapped {
    /// Parameters for sqlx's URL, in its names.
    pub query: Vec<(String, String)>,
    pub connect_timeout: Option<ConnectTimeout>,
    pub tls: Tls,
}

/// A `connect_timeout` as written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum ConnectTimeout {
    Limit(Duration),
    /// Zero or less: wait indefinitely, as libpq.
    Unbounded,
}

/// The PostgreSQL TLS modes, weakest first (libpq's).
const PG_MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
/// The MySQL TLS modes, weakest first (`--ssl-mode`'s).
const MYSQL_MODES: [&str; 5] = ["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"];

/// libpq's modes and the MySQL modes that mean the same.
const PG_TO_MYSQL: [(&str, &str); 6] = [
    ("disable", "DISABLED"),
    ("allow", "PREFERRED"),
    ("prefer", "PREFERRED"),
    ("require", "REQUIRED"),
    ("verify-ca", "VERIFY_CA"),
    ("verify-full", "VERIFY_IDENTITY"),
];

/// libpq and driver settings about TLS or authentication that sqlx cannot
/// honour: each is an error, since connecting without it may be weaker than
/// what was asked.
const PG_UNHONOURED: [&str; 10] = [
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "channel_binding",
    "gssencmode",
    "require_auth",
    "sslnegotiation",
    "passfile",
];
const MYSQL_UNHONOURED: [&str; 6] = [
    "ssl.capath",
    "ssl.cipher",
    "ssl_capath",
    "ssl_cipher",
    "auth_plugin",
    "tls_version",
];

/// The names a MySQL CA certificate is written under.
const MYSQL_CA: [&str; 4] = ["ssl.ca", "ssl_ca", "ssl-ca", "sslca"];

/// Parameters with no meaning here, accepted without a warning.
/// (`check_same_thread`: sqlx's SQLite connections may move between threads.)
const MEANINGLESS: [&str; 1] = ["check_same_thread"];

/// SQLite's `connect_args` (Python's `sqlite3.connect` arguments): none maps;
/// each but `check_same_thread` is warned about.
pub(super) fn sqlite(config: &Config, params: &[Param], notes: &mut Vec<Diagnostic>) -> Mapped {
    let mut state = State::new(config);
    for param in params {
        state.unknown(param);
    }
    state.note_unknown(notes);
    Mapped {
        query: Vec::new(),
        connect_timeout: None,
        tls: Tls::default_for(Dialect::Sqlite),
    }
}

/// Maps `params` (later ones win) for `dialect`; sets the URL parts that
/// `connect_args` may override on MySQL (`user`, `password`, `host`, `port`, `database`).
pub(super) fn map(
    config: &Config,
    dialect: Dialect,
    params: Vec<Param>,
    url: &mut Url,
    notes: &mut Vec<Diagnostic>,
) -> Result<Mapped, Error> {
    let mut state = State::new(config);
    let params = flatten(config, params)?;
    for param in &params {
        match dialect {
            Dialect::Postgres => state.postgres(param)?,
            Dialect::MySql => state.mysql(param, url)?,
            Dialect::Sqlite => state.unknown(param),
        }
    }
    if dialect == Dialect::MySql {
        state.mysql_implied(&params)?;
    }
    let tls = state.tls(dialect)?;
    state.note_unknown(notes);
    if tls.origin.is_some() {
        let key = if dialect == Dialect::Postgres {
            "sslmode"
        } else {
            "ssl-mode"
        };
        set(&mut state.query, key, tls.mode);
    }
    Ok(Mapped {
        query: state.query,
        connect_timeout: state.connect_timeout,
        tls,
    })
}

/// The error for a TLS mode asked for while TLS support (the `sql-tls`
/// feature, `built_with_tls`) is off: sqlx would refuse too, but saying
/// neither which setting asked nor what to enable.
pub(crate) fn tls_unavailable(config: &Config, tls: &Tls, built_with_tls: bool) -> Option<Error> {
    if !tls.required || built_with_tls {
        return None;
    }
    let origin = tls.origin.clone().unwrap_or_else(|| "url".to_owned());
    Some(config.invalid(
        origin,
        format!(
            "asks for TLS (`{}`), but connections was built without TLS support for SQL: enable its `sql-tls` feature \
             (`connections = {{ version = \"0.1\", features = [\"sql-tls\"] }}`); \
             no connection is made in plaintext instead",
            tls.mode
        ),
    ))
}

/// Nested tables (MySQL's `ssl = { ca = ... }`) as dotted names.
fn flatten(config: &Config, params: Vec<Param>) -> Result<Vec<Param>, Error> {
    let mut out = Vec::with_capacity(params.len());
    for param in params {
        match param.value {
            Toml::Table(table) => {
                for (key, value) in table {
                    if value.is_table() || value.is_array() {
                        return Err(config.invalid(
                            format!("{}.{key}", param.origin),
                            format!("found {}, expected a string, number or boolean", value.type_str()),
                        ));
                    }
                    out.push(Param {
                        origin: format!("{}.{key}", param.origin),
                        name: format!("{}.{key}", param.name),
                        value,
                    });
                }
            }
            Toml::Array(_) => {
                return Err(config.invalid(
                    param.origin,
                    "found array, expected a string, number, boolean or table".to_owned(),
                ));
            }
            value => out.push(Param { value, ..param }),
        }
    }
    Ok(out)
}

/// A scalar as the text a driver reads.
fn text(value: &Toml) -> String {
    match value {
        Toml::String(s) => s.clone(),
        Toml::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn truthy(value: &Toml) -> Option<bool> {
    match value {
        Toml::Boolean(b) => Some(*b),
        Toml::Integer(i) => Some(*i != 0),
        Toml::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn set(query: &mut Vec<(String, String)>, name: &str, value: &str) {
    query.retain(|(k, _)| k != name);
    query.push((name.to_owned(), value.to_owned()));
}

struct State<'a> {
    config: &'a Config,
    query: Vec<(String, String)>,
    connect_timeout: Option<ConnectTimeout>,
    /// The TLS mode written explicitly, and where.
    mode: Option<(&'static str, String)>,
    /// The TLS mode MySQL's `ssl` settings imply, and where.
    implied: Option<(&'static str, String)>,
    /// Where libpq's deprecated `requiressl = 1` was written (`sslmode` wins over it).
    requiressl: Option<String>,
    /// Each unmapped parameter as shown in a message, and its key.
    unknown: Vec<(String, String)>,
}

impl<'a> State<'a> {
    fn new(config: &'a Config) -> Self {
        State {
            config,
            query: Vec::new(),
            connect_timeout: None,
            mode: None,
            implied: None,
            requiressl: None,
            unknown: Vec::new(),
        }
    }

    fn note_unknown(&self, notes: &mut Vec<Diagnostic>) {
        if !self.unknown.is_empty() {
            let name = self.config.name();
            let shown: Vec<&str> = self.unknown.iter().map(|(shown, _)| shown.as_str()).collect();
            notes.push(
                Diagnostic::warning(
                    DiagnosticKind::IgnoredOption,
                    format!(
                        "[connections.{name}]: ignoring driver parameters sqlx has no counterpart for: {}",
                        shown.join(", ")
                    ),
                )
                .connection(name)
                .keys(self.unknown.iter().map(|(_, key)| key.clone()).collect()),
            );
        }
    }

    fn invalid(&self, param: &Param, problem: String) -> Error {
        let problem = if param.origin == "url" {
            format!("its parameter `{}` {problem}", param.name)
        } else {
            problem
        };
        self.config.invalid(param.origin.clone(), problem)
    }

    /// The parameter as shown in a message: its key, or for a URL's query, the parameter in the URL.
    fn shown(param: &Param) -> String {
        if param.origin == "url" {
            format!("`{}` (in `url`)", param.name)
        } else {
            format!("`{}`", param.origin)
        }
    }

    fn unhonoured(&self, param: &Param, what: &str) -> Error {
        self.invalid(
            param,
            format!(
                "is a {what} setting sqlx cannot honour, so the connection is refused rather than made without it; \
                 remove it if the connection may go without it (sqlx's TLS takes `sslmode`/`ssl_mode`, a CA, \
                 a client certificate and key)"
            ),
        )
    }

    fn connect_timeout(&mut self, param: &Param) -> Result<(), Error> {
        let secs = match &param.value {
            Toml::Integer(i) => Some(i.to_string()),
            Toml::Float(f) => Some(f.to_string()),
            Toml::String(s) => Some(s.trim().to_owned()),
            _ => None,
        };
        let secs = secs.and_then(|s| s.parse::<f64>().ok());
        let Some(secs) = secs else {
            return Err(self.invalid(
                param,
                "expected a number of seconds, such as `connect_timeout = 10`".to_owned(),
            ));
        };
        // libpq's rule: zero or less waits indefinitely.
        self.connect_timeout = Some(if secs <= 0.0 {
            ConnectTimeout::Unbounded
        } else {
            ConnectTimeout::Limit(connections_core::author::seconds_to_duration(secs).map_err(|problem| {
                self.invalid(param, format!("found a number that is {problem}, expected seconds"))
            })?)
        });
        Ok(())
    }

    fn mode(&mut self, param: &Param, modes: &[&'static str]) -> Result<(), Error> {
        let written = text(&param.value);
        let norm = |b: u8| if b == b'_' { b'-' } else { b.to_ascii_lowercase() };
        let same =
            |m: &str| m.len() == written.len() && m.bytes().zip(written.bytes()).all(|(a, b)| norm(a) == norm(b));
        let own = modes.iter().copied().find(|m| same(m));
        // MySQL also takes libpq's names, as people carry them over.
        let alias = || {
            (modes == MYSQL_MODES)
                .then(|| PG_TO_MYSQL.iter().find(|(pg, _)| same(pg)).map(|(_, mysql)| *mysql))
                .flatten()
        };
        let Some(mode) = own.or_else(alias) else {
            return Err(self.invalid(
                param,
                format!(
                    "is not a TLS mode; expected one of {}",
                    connections_core::author::list_or_none(modes)
                ),
            ));
        };
        self.mode = Some((mode, param.origin.clone()));
        Ok(())
    }

    fn postgres(&mut self, param: &Param) -> Result<(), Error> {
        let name = param.name.as_str();
        match name {
            "sslmode" | "ssl-mode" => self.mode(param, &PG_MODES)?,
            // Deprecated libpq spelling of `sslmode = "require"`; `sslmode` wins, as in libpq.
            "requiressl" => {
                if truthy(&param.value) == Some(true) {
                    self.requiressl = Some(param.origin.clone());
                }
            }
            // asyncpg's `ssl` (SQLAlchemy's `postgresql+asyncpg://...?ssl=require`).
            "ssl" => match text(&param.value).to_ascii_lowercase().as_str() {
                "true" | "1" | "require" | "required" => self.mode = Some(("require", param.origin.clone())),
                "false" | "0" | "disable" => self.mode = Some(("disable", param.origin.clone())),
                _ => self.mode(param, &PG_MODES)?,
            },
            // Refused only when they demand what sqlx cannot do; `disable` and
            // `prefer` ask for nothing more than sqlx gives.
            "gssencmode" | "channel_binding"
                if matches!(text(&param.value).as_str(), "disable" | "prefer" | "allow") => {}
            "sslnegotiation" if text(&param.value) == "postgres" => {}
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" if text(&param.value) == "system" => {
                // libpq 16: the system's roots, and `verify-full` unless said otherwise.
                // sqlx with `sql-tls` trusts the webpki roots when given no file.
                self.query.retain(|(k, _)| k != "sslrootcert");
                self.implied = Some(("verify-full", param.origin.clone()));
            }
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                set(&mut self.query, "sslrootcert", &text(&param.value));
                // libpq: with a root certificate, `require` verifies the chain as `verify-ca`.
                self.implied = Some(("verify-ca", param.origin.clone()));
            }
            "sslcert" | "ssl-cert" => set(&mut self.query, "sslcert", &text(&param.value)),
            "sslkey" | "ssl-key" => set(&mut self.query, "sslkey", &text(&param.value)),
            "connect_timeout" => self.connect_timeout(param)?,
            "application_name"
            | "options"
            | "host"
            | "hostaddr"
            | "port"
            | "dbname"
            | "user"
            | "password"
            | "statement-cache-capacity" => set(&mut self.query, name, &text(&param.value)),
            _ if PG_UNHONOURED.contains(&name) || name.starts_with("ssl") => {
                return Err(self.unhonoured(param, "TLS or authentication"));
            }
            _ => self.unknown(param),
        }
        Ok(())
    }

    fn mysql(&mut self, param: &Param, url: &mut Url) -> Result<(), Error> {
        let name = param.name.as_str();
        let value = text(&param.value);
        let url_part = |url: &mut Url| -> Result<(), ()> {
            match name {
                "user" | "username" => url.set_username(&value),
                "password" | "passwd" => url.set_password(Some(&value)),
                "host" => url.set_host(Some(&value)).map_err(drop),
                "port" => url.set_port(Some(value.parse().map_err(drop)?)),
                "database" | "db" => {
                    url.set_path(&format!("/{}", super::encode_component(&value)));
                    Ok(())
                }
                _ => Ok(()), // not a part of the URL: the caller passes only those
            }
        };
        match name {
            "ssl_mode" | "ssl-mode" | "sslmode" => self.mode(param, &MYSQL_MODES)?,
            "ssl_disabled" => {
                if truthy(&param.value) == Some(true) {
                    self.mode = Some(("DISABLED", param.origin.clone()));
                }
            }
            "ssl.ca" | "ssl_ca" | "ssl-ca" | "sslca" => set(&mut self.query, "ssl-ca", &value),
            "ssl.cert" | "ssl_cert" | "ssl-cert" | "sslcert" => set(&mut self.query, "ssl-cert", &value),
            "ssl.key" | "ssl_key" | "ssl-key" | "sslkey" => set(&mut self.query, "ssl-key", &value),
            // Read with the rest of the `ssl` settings in `mysql_implied`.
            "ssl.check_hostname" | "ssl_check_hostname" | "ssl_verify_cert" | "ssl_verify_identity" | "ssl" => {}
            "connect_timeout" => self.connect_timeout(param)?,
            // Not `timezone`: sqlx keeps the session in UTC only without it,
            // and `Value::TimestampTz` reads MySQL's TIMESTAMP as UTC.
            "charset" | "collation" | "statement-cache-capacity" => {
                set(&mut self.query, name, &value);
            }
            "unix_socket" | "socket" => set(&mut self.query, "socket", &value),
            "user" | "username" | "password" | "passwd" | "host" | "port" | "database" | "db" => {
                if url_part(url).is_err() {
                    return Err(self.invalid(param, "is not a valid value for this part of the URL".to_owned()));
                }
            }
            _ if MYSQL_UNHONOURED.contains(&name) => return Err(self.unhonoured(param, "TLS or authentication")),
            _ if name.starts_with("ssl") => return Err(self.unhonoured(param, "TLS")),
            _ => self.unknown(param),
        }
        Ok(())
    }

    /// The mode MySQL's `ssl` table (`PyMySQL`, `mysqlclient`) or `ssl_*` keys
    /// (`PyMySQL`, `mysql-connector`) imply, as those drivers read them: any of
    /// them turns TLS on; a CA verifies the chain; the `ssl` table also checks
    /// the host name unless `check_hostname = false`, the `ssl_*` keys only
    /// with `ssl_verify_identity = true`.
    fn mysql_implied(&mut self, params: &[Param]) -> Result<(), Error> {
        let find = |names: &[&str]| params.iter().rev().find(|p| names.contains(&p.name.as_str()));
        let flag = |names: &[&str]| -> Result<Option<bool>, Error> {
            find(names)
                .map(|p| truthy(&p.value).ok_or_else(|| self.invalid(p, "expected `true` or `false`".to_owned())))
                .transpose()
        };
        // `ssl = true` (a scalar) turns TLS on too; `ssl = false` asks for nothing.
        let scalar = params.iter().rev().find(|p| p.name == "ssl");
        if let Some(p) = scalar
            && truthy(&p.value).is_none()
        {
            return Err(self.invalid(
                p,
                "expected a table such as `ssl = { ca = \"ca.pem\" }`, or `true`".to_owned(),
            ));
        }
        let table = params
            .iter()
            .find(|p| p.name.starts_with("ssl.") || MYSQL_CA.contains(&p.name.as_str()))
            .or(scalar.filter(|p| truthy(&p.value) == Some(true)));
        let keys = params
            .iter()
            .find(|p| p.name.starts_with("ssl_") && !matches!(p.name.as_str(), "ssl_mode" | "ssl_disabled"));
        let Some(first) = table.or(keys) else {
            return Ok(());
        };
        let has_ca = find(&MYSQL_CA).is_some();
        let identity = if table.is_some_and(|p| p.name.starts_with("ssl.")) {
            flag(&["ssl.check_hostname", "ssl_check_hostname"])?.unwrap_or(has_ca)
        } else {
            flag(&["ssl_verify_identity", "ssl_check_hostname"])?.unwrap_or(false)
        };
        let verify = flag(&["ssl_verify_cert"])?.unwrap_or(has_ca) || identity;
        let mode = if identity {
            "VERIFY_IDENTITY"
        } else if verify {
            "VERIFY_CA"
        } else {
            "REQUIRED"
        };
        self.implied = Some((mode, first.origin.clone()));
        Ok(())
    }

    fn unknown(&mut self, param: &Param) {
        if !MEANINGLESS.contains(&param.name.as_str()) {
            self.unknown.push((Self::shown(param), param.origin.clone()));
        }
    }

    /// The TLS the settings come to: an explicit mode, or what the other TLS
    /// settings imply; an explicit mode weaker than they imply is an error.
    fn tls(&self, dialect: Dialect) -> Result<Tls, Error> {
        let modes: &[&str] = match dialect {
            Dialect::Postgres => &PG_MODES,
            Dialect::MySql => &MYSQL_MODES,
            Dialect::Sqlite => return Ok(Tls::default_for(dialect)),
        };
        let rank = |mode: &str| modes.iter().position(|m| *m == mode).unwrap_or(0);
        let required_from = rank(modes[if dialect == Dialect::Postgres { 3 } else { 2 }]);
        let requiressl = self.requiressl.as_ref().map(|origin| ("require", origin.clone()));
        let explicit = self.mode.clone().or(requiressl);
        let (mode, origin) = match (&explicit, &self.implied) {
            (Some((mode, origin)), Some((implied, implied_origin))) => {
                let pg_rootcert = dialect == Dialect::Postgres && *implied == "verify-ca";
                // A CA with MySQL's REQUIRED verifies the chain, as libpq's
                // `require` with a root certificate does: sqlx ignores a CA below VERIFY_CA.
                let mysql_ca = dialect == Dialect::MySql && *mode == "REQUIRED" && rank(implied) >= rank("VERIFY_CA");
                if mysql_ca {
                    ("VERIFY_CA", origin.clone())
                } else if pg_rootcert {
                    // libpq: a root certificate turns `require` into `verify-ca`, and weaker modes ignore it.
                    if *mode == "require" {
                        (*implied, origin.clone())
                    } else {
                        (*mode, origin.clone())
                    }
                } else if rank(mode) < rank(implied) && (dialect == Dialect::Postgres || rank(mode) < required_from) {
                    // libpq refuses a mode weaker than `sslrootcert = "system"`;
                    // on MySQL an explicit mode wins (mysqlclient's rule) as
                    // long as it still requires TLS: never a downgrade to plaintext.
                    return Err(self.config.invalid(
                        origin.clone(),
                        format!(
                            "asks for `{mode}`, weaker than the `{implied}` that `{implied_origin}` implies; \
                             remove one of them, or ask for `{implied}`"
                        ),
                    ));
                } else {
                    (*mode, origin.clone())
                }
            }
            (Some((mode, origin)), None) => (*mode, origin.clone()),
            // A PostgreSQL root certificate alone leaves `prefer`, as libpq does.
            (None, Some(("verify-ca", _))) if dialect == Dialect::Postgres => return Ok(Tls::default_for(dialect)),
            (None, Some((implied, origin))) => (*implied, origin.clone()),
            (None, None) => return Ok(Tls::default_for(dialect)),
        };
        Ok(Tls {
            mode,
            required: rank(mode) >= required_from,
            origin: Some(origin),
        })
    }
}
