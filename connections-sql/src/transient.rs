//! Which sqlx errors a reconnect may cure.
//!
//! Streamlit retries on any SQLAlchemy `DatabaseError`, syntax errors
//! included, which only delays the real error by two seconds; and its users'
//! stale connections after a database restart (4422) were not covered. Here a
//! retry follows only errors that say the connection, the session or the
//! server went away.

use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::sqlite::SqliteError;

/// Whether a reconnect may help after `error`.
///
/// Transient:
/// * [`Io`](sqlx::Error::Io): the socket failed (reset, refused, closed, timed out).
/// * [`Protocol`](sqlx::Error::Protocol): the stream is out of step; a fresh connection starts clean.
/// * [`PoolTimedOut`](sqlx::Error::PoolTimedOut): no connection could be had
///   in time, e.g. while the server restarts.
/// * [`PoolClosed`](sqlx::Error::PoolClosed): the pool was closed under the
///   caller (a `reset()`); the next attempt gets a new one.
/// * [`WorkerCrashed`](sqlx::Error::WorkerCrashed): SQLite's background thread died.
/// * A database error whose code says the session or server went away; see
///   [`sqlstate_is_transient`] and [`mysql_number_is_transient`].
///
/// Everything else is not: configuration and TLS errors (a bad certificate does
/// not fix itself), syntax, constraint, type, encode and decode errors,
/// `RowNotFound`, and all SQLite database errors (the database is a local file;
/// `SQLITE_BUSY` already waited out sqlx's 5 s busy timeout).
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => database_error_is_transient(db.as_ref()),
        _ => false,
    }
}

/// The MySQL/MariaDB error number, if `error` is a MySQL error.
pub(crate) fn mysql_number(error: &dyn DatabaseError) -> Option<u16> {
    error
        .try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number)
}

/// Each driver's own database error, told apart by downcasting.
fn database_error_is_transient(error: &dyn DatabaseError) -> bool {
    if let Some(number) = mysql_number(error) {
        return mysql_number_is_transient(number)
            || (error.code().is_some_and(|code| sqlstate_is_connection_class(&code))
                && !mysql_number_is_a_bad_request(number));
    }
    if error.try_downcast_ref::<SqliteError>().is_some() {
        // Its `code()` is SQLite's numeric result code, not a SQLSTATE.
        return false;
    }
    // PostgreSQL's (and any other driver's) `code()` is the SQLSTATE.
    error.code().is_some_and(|code| sqlstate_is_transient(&code))
}

/// SQLSTATE class `08` (connection exception: `08000`, `08003` connection does
/// not exist, `08006` connection failure, `08001`/`08004` could not connect or
/// rejected, MySQL's `08S01` communication link failure), except PostgreSQL's
/// `08P01` protocol violation.
///
/// A server sends `08P01` on a live session for a request it cannot read, such
/// as a `Bind` with fewer values than the statement has placeholders (one
/// `.bind()` for `$1` and `$2`): a programming error, which a reconnect and a
/// retry would only repeat, after dropping every healthy pooled session.
fn sqlstate_is_connection_class(code: &str) -> bool {
    code.starts_with("08") && code != "08P01"
}

/// MySQL errors of SQLSTATE `08S01` that answer a request the server will
/// never take, whatever the session: `1153` `ER_NET_PACKET_TOO_LARGE` (a
/// statement or value over `max_allowed_packet`).
fn mysql_number_is_a_bad_request(number: u16) -> bool {
    number == 1153
}

/// Class `08`, and PostgreSQL's codes for a session the server ended:
/// * `57P01` `admin_shutdown`: a server shutdown or `pg_terminate_backend()`;
/// * `57P02` `crash_shutdown`: another backend crashed and the server reset;
/// * `57P03` `cannot_connect_now`: the server is starting up or in recovery;
/// * `57P05` `idle_session_timeout` (PostgreSQL 14+): the session sat idle too long;
/// * `25P03` `idle_in_transaction_session_timeout`: likewise, inside a transaction.
///
/// Not `57014` `query_canceled` (the session lives on; someone chose to cancel),
/// nor `40001`/`40P01` serialization failure and deadlock: retrying those may
/// help, but on the same connection, with no reconnect.
fn sqlstate_is_transient(code: &str) -> bool {
    sqlstate_is_connection_class(code) || matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "25P03")
}

/// MySQL/MariaDB error numbers for a session or server that went away:
/// * `1053` `ER_SERVER_SHUTDOWN`: shutdown in progress, and MySQL's answer to
///   `KILL CONNECTION` of a session running a statement;
/// * `1927` `ER_CONNECTION_KILLED`: MariaDB's answer to `KILL` (SQLSTATE `70100`);
/// * `4031` `ER_CLIENT_INTERACTION_TIMEOUT` (MySQL 8.0.24+): disconnected after `wait_timeout`;
/// * `2006` `CR_SERVER_GONE_ERROR`, `2013` `CR_SERVER_LOST`: the client library's
///   codes, which sqlx reports as I/O errors but a proxy may relay.
///
/// Not `1317` `ER_QUERY_INTERRUPTED` (SQLSTATE `70100` too): `KILL QUERY` or a
/// statement timeout stopped the statement and left the session alive, so a
/// retry would run again what someone chose to stop. Nor `1205` lock wait
/// timeout or `1213` deadlock (no reconnect needed). (`1040` too many
/// connections counts through its SQLSTATE, `08004`.)
fn mysql_number_is_transient(number: u16) -> bool {
    matches!(number, 1053 | 1927 | 4031 | 2006 | 2013)
}

#[cfg(test)]
mod tests;
