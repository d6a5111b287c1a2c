//! Unit tests of which SQL errors count as transient (retried) and which do not.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::io;

use sqlx::error::ErrorKind;
use sqlx::{Connection as _, SqliteConnection};

use super::*;

/// A database error with a given SQLSTATE, as PostgreSQL's driver reports one.
#[derive(Debug)]
struct Coded(Option<&'static str>);

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error {:?}", self.0)
    }
}

impl StdError for Coded {}

impl DatabaseError for Coded {
    fn message(&self) -> &'static str {
        "test"
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        self.0.map(Cow::Borrowed)
    }
    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn db(code: &'static str) -> sqlx::Error {
    sqlx::Error::Database(Box::new(Coded(Some(code))))
}

#[test]
fn connection_level_errors_are_transient() {
    for kind in [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionRefused,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::UnexpectedEof,
        io::ErrorKind::TimedOut,
    ] {
        assert!(is_transient(&sqlx::Error::Io(io::Error::from(kind))), "{kind:?}");
    }
    for error in [
        sqlx::Error::Protocol("unexpected message".into()),
        sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed,
    ] {
        assert!(is_transient(&error), "{error:?}");
    }
}

#[test]
fn other_sqlx_errors_are_not() {
    for error in [
        sqlx::Error::Configuration("bad url".into()),
        sqlx::Error::Tls("certificate not trusted".into()),
        sqlx::Error::InvalidArgument("x".into()),
        sqlx::Error::RowNotFound,
        sqlx::Error::TypeNotFound { type_name: "t".into() },
        sqlx::Error::ColumnIndexOutOfBounds { index: 3, len: 1 },
        sqlx::Error::ColumnNotFound("c".into()),
        sqlx::Error::ColumnDecode {
            index: "0".into(),
            source: "bad".into(),
        },
        sqlx::Error::Encode("bad".into()),
        sqlx::Error::Decode("bad".into()),
        sqlx::Error::AnyDriverError("unsupported type".into()),
        sqlx::Error::BeginFailed,
        sqlx::Error::InvalidSavePointStatement,
        sqlx::Error::Database(Box::new(Coded(None))),
    ] {
        assert!(!is_transient(&error), "{error:?}");
    }
}

#[test]
fn sqlstates_of_a_lost_session_are_transient() {
    for code in [
        "08000", "08001", "08003", "08004", "08006", "08007", "08S01", "57P01", "57P02", "57P03", "57P05", "25P03",
    ] {
        assert!(is_transient(&db(code)), "{code}");
    }
    for code in [
        "08P01", // protocol_violation: the server read a malformed request on a live session
        "42601", // syntax_error
        "42P01", // undefined_table
        "23505", // unique_violation
        "23503", // foreign_key_violation
        "22P02", // invalid_text_representation
        "40001", // serialization_failure: retry on the same connection, no reconnect
        "40P01", // deadlock_detected
        "57014", // query_canceled
        "57P04", // database_dropped
        "53300", // too_many_connections
        "25P02", // in_failed_sql_transaction
        "HY000", // MySQL's generic SQLSTATE
        "70100", // MySQL's interrupted-query SQLSTATE: decided by the number
    ] {
        assert!(!is_transient(&db(code)), "{code}");
    }
}

#[test]
fn mysql_numbers() {
    for n in [1053, 1927, 4031, 2006, 2013] {
        assert!(mysql_number_is_transient(n), "{n}");
    }
    for n in [1317, 3024, 1064, 1062, 1146, 1205, 1213, 1045, 1040] {
        assert!(!mysql_number_is_transient(n), "{n}");
    }
    // The class-08 SQLSTATEs MySQL gives (08S01 for network errors, 08004 for 1040) count.
    assert!(sqlstate_is_connection_class("08S01") && sqlstate_is_connection_class("08004"));
    assert!(!sqlstate_is_connection_class("HY000") && !sqlstate_is_connection_class("70100"));
    // ...but not a statement over `max_allowed_packet`, which no reconnect makes smaller.
    assert!(mysql_number_is_a_bad_request(1153) && !mysql_number_is_a_bad_request(1158));
}

#[test]
fn real_sqlite_errors_are_not_transient() {
    let errors = sqlx::test_block_on(async {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'a')")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut errors = Vec::new();
        for sql in [
            "SELEC 1",                        // syntax
            "SELECT * FROM missing",          // no such table
            "INSERT INTO t VALUES (1, 'b')",  // unique
            "INSERT INTO t VALUES (2, NULL)", // not null
        ] {
            errors.push(sqlx::query(sql).execute(&mut conn).await.unwrap_err());
        }
        errors.push(sqlx::query("SELECT 1 WHERE 0").fetch_one(&mut conn).await.unwrap_err()); // RowNotFound
        conn.close().await.unwrap();
        errors
    });
    assert!(
        matches!(errors[2].as_database_error(), Some(e) if e.is_unique_violation()),
        "{:?}",
        errors[2]
    );
    for error in &errors {
        assert!(!is_transient(error), "{error:?}");
    }
}

/// A server URL from the environment, for the tests against live servers;
/// `None` (and a note that the test skipped) when it is unset. `.ci/run` sets
/// it, and a set URL whose server is down fails the test.
fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped: set {var} to run this test against a live server");
    }
    url
}

/// Runs `victim_sql` on a session that another session kills (`kill_sql`
/// with `{id}` for the victim's id) half a second in; returns the victim's error.
fn killed_while_running<DB>(
    url: &str,
    id_sql: &'static str,
    kill_sql: &'static str,
    victim_sql: &'static str,
) -> sqlx::Error
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    sqlx::test_block_on(async {
        let mut victim = DB::Connection::connect(url).await.unwrap();
        let id: i64 = sqlx::query_scalar(id_sql).fetch_one(&mut victim).await.unwrap();
        let url = url.to_owned();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            sqlx::test_block_on(async {
                let mut admin = DB::Connection::connect(&url).await.unwrap();
                let kill = kill_sql.replace("{id}", &id.to_string());
                sqlx::raw_sql(sqlx::AssertSqlSafe(kill))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            });
        });
        let Err(error) = sqlx::query(victim_sql).execute(&mut victim).await else {
            panic!("`{victim_sql}` outlived its session");
        };
        killer.join().unwrap();
        error
    })
}

/// `pg_terminate_backend()` of a running session gives it 57P01 `admin_shutdown`.
#[test]
fn terminated_postgres_session_is_transient() {
    let Some(url) = server_url("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    let error = killed_while_running::<sqlx::Postgres>(
        &url,
        "SELECT CAST(pg_backend_pid() AS BIGINT)",
        "SELECT pg_terminate_backend({id})",
        "SELECT pg_sleep(10)",
    );
    assert_eq!(
        error.as_database_error().and_then(DatabaseError::code).as_deref(),
        Some("57P01"),
        "{error:?}"
    );
    assert!(is_transient(&error), "{error:?}");
}

/// `KILL` of a running session: MariaDB 10.11 just closes the socket (an I/O
/// error); other versions send 1927 `ER_CONNECTION_KILLED` (MySQL: 1053) first.
#[test]
fn killed_mysql_session_is_transient() {
    let Some(url) = server_url("CONNECTIONS_TEST_MYSQL_URL") else {
        return;
    };
    let error = killed_while_running::<sqlx::MySql>(
        &url,
        "SELECT CAST(CONNECTION_ID() AS SIGNED)",
        "KILL {id}",
        "SELECT SLEEP(10)",
    );
    let number = mysql_number_of(&error);
    assert!(
        matches!(number, Some(1927 | 1053)) || matches!(error, sqlx::Error::Io(_)),
        "{error:?}"
    );
    assert!(is_transient(&error), "{error:?}");
}

/// `KILL QUERY` leaves the session alive: 1317, not transient.
#[test]
fn killed_mysql_query_is_not_transient() {
    let Some(url) = server_url("CONNECTIONS_TEST_MYSQL_URL") else {
        return;
    };
    let error = killed_while_running::<sqlx::MySql>(
        &url,
        "SELECT CAST(CONNECTION_ID() AS SIGNED)",
        "KILL QUERY {id}",
        // SLEEP() returns 1 when interrupted; a long query reports the interruption.
        "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c",
    );
    assert_eq!(mysql_number_of(&error), Some(1317), "{error:?}");
    assert!(!is_transient(&error), "{error:?}");
}

/// The MySQL error number of a database error, if it is one.
fn mysql_number_of(error: &sqlx::Error) -> Option<u16> {
    error.as_database_error().and_then(mysql_number)
}
