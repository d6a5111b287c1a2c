//! Every common column type decodes into `Value` on the real servers, NULL of
//! each too; `AVG()` is exact; an unsupported type names the column, its type
//! and the cast to write; row types with database-specific fields read with
//! `fetch_all_on`.

use std::str::FromStr;

use connections::prelude::*;
use connections::sql::types::{BigDecimal, DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc, Uuid};
use connections::sql::{SqlConnection, Value};
use sqlx::AssertSqlSafe;

use crate::sql::{registry_with, runtime, server_url};

fn at() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .and_hms_micro_opt(13, 45, 30, 123_456)
        .unwrap()
}

fn price() -> BigDecimal {
    BigDecimal::from_str("12345678.9012").unwrap()
}

/// The row every database stores, as parameters.
fn params() -> Vec<(&'static str, Value)> {
    vec![
        ("id", 1.into()),
        ("at", at().into()),
        ("at_tz", DateTime::<Utc>::from_naive_utc_and_offset(at(), Utc).into()),
        ("day", at().date().into()),
        ("clock", NaiveTime::from_hms_opt(8, 30, 0).unwrap().into()),
        ("price", price().into()),
        ("tag", Uuid::from_u128(0x0123_4567_89ab_cdef).into()),
        ("doc", serde_json::json!({"tags": ["a", "b"], "n": 1}).into()),
        ("raw", vec![0_u8, 159, 255].into()),
        ("flag", true.into()),
    ]
}

/// Creates `table` from `ddl`, inserts the row and a row of NULLs, and reads both back.
async fn round_trip(db: &SqlConnection, table: &str, ddl: &str) -> connections::sql::Table {
    db.query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute()
        .await
        .unwrap();
    db.query(AssertSqlSafe(format!("CREATE TABLE {table} ({ddl})")))
        .execute()
        .await
        .unwrap();
    let names: Vec<&str> = params().iter().map(|(n, _)| *n).collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        names.iter().map(|n| format!(":{n}")).collect::<Vec<_>>().join(", ")
    );
    let mut query = db.query(AssertSqlSafe(insert));
    for (name, value) in params() {
        query = query.param(name, value);
    }
    query.execute().await.unwrap();
    db.query(AssertSqlSafe(format!("INSERT INTO {table} (id) VALUES (2)")))
        .execute()
        .await
        .unwrap();
    let table = db
        .query(AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY id")))
        .fetch_table()
        .await
        .unwrap();
    assert_eq!(table.columns(), names);
    assert!(
        table.rows()[1][1..].iter().all(Value::is_null),
        "NULL of each type: {:?}",
        table.rows()[1]
    );
    table
}

/// A row type with a field SQLite does not decode: read with `fetch_all_on`.
#[derive(sqlx::FromRow)]
struct Priced {
    price: BigDecimal,
    at: NaiveDateTime,
}

#[test]
fn postgres_decodes_every_common_type() {
    let Some(url) = server_url("CONNECTIONS_TEST_POSTGRES_URL") else {
        return;
    };
    let reg = registry_with("pg_types", &format!("url = '{url}'"));
    let db = reg.connection::<SqlConnection>("pg_types").unwrap();
    let table = format!("connections_it_types_{}", std::process::id());
    runtime().block_on(async {
        let read = round_trip(
            &db,
            &table,
            "id INT, at TIMESTAMP, at_tz TIMESTAMPTZ, day DATE, clock TIME, price NUMERIC(14, 4), \
             tag UUID, doc JSONB, raw BYTEA, flag BOOLEAN",
        )
        .await;
        let expected: Vec<Value> = params().into_iter().map(|(_, v)| v).collect();
        assert_eq!(read.rows()[0], expected);

        // character(n) is text too.
        let code = db
            .query("SELECT CAST('ab' AS CHAR(2)) AS code")
            .fetch_table()
            .await
            .unwrap();
        assert_eq!(code.rows()[0][0], Value::from("ab"));

        // AVG of integers is NUMERIC: exact, at its full scale.
        let mean = db
            .query("SELECT AVG(x) AS mean FROM (VALUES (1), (2), (2)) AS t (x)")
            .fetch_table()
            .await
            .unwrap();
        let Value::Decimal(mean) = &mean.rows()[0][0] else {
            panic!("{mean}")
        };
        assert!(mean.to_string().starts_with("1.6666666666666667"), "{mean}");

        let err = db
            .query("SELECT INTERVAL '1 day' AS span")
            .fetch_table()
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(r#"column "span" has PostgreSQL type INTERVAL"#) && text.contains("CAST(span AS TEXT)"),
            "{text}"
        );

        // A row type with a field only PostgreSQL decodes.
        let rows: Vec<Priced> = db
            .query(AssertSqlSafe(format!("SELECT price, at FROM {table} WHERE id = :id")))
            .param("id", 1)
            .fetch_all_on::<sqlx::Postgres, _>()
            .await
            .unwrap();
        assert_eq!((&rows[0].price, rows[0].at), (&price(), at()));
        let err = db
            .query("SELECT 1 AS n")
            .fetch_all_on::<sqlx::MySql, (i64,)>()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCall { .. }), "{err}");

        db.query(AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute()
            .await
            .unwrap();
    });
}

#[test]
fn mysql_decodes_every_common_type() {
    let Some(url) = server_url("CONNECTIONS_TEST_MYSQL_URL") else {
        return;
    };
    let reg = registry_with("my_types", &format!("url = '{url}'"));
    let db = reg.connection::<SqlConnection>("my_types").unwrap();
    let table = format!("connections_it_types_{}", std::process::id());
    runtime().block_on(async {
        let read = round_trip(
            &db,
            &table,
            "id INT, at DATETIME(6), at_tz TIMESTAMP(6) NULL, day DATE, clock TIME, price DECIMAL(14, 4), \
             tag CHAR(36), doc JSON, raw BLOB, flag BOOLEAN",
        )
        .await;
        let row = &read.rows()[0];
        let expected: Vec<Value> = params().into_iter().map(|(_, v)| v).collect();
        for (i, (got, want)) in row.iter().zip(&expected).enumerate() {
            match (read.columns()[i].as_str(), got) {
                // MySQL and MariaDB have no UUID column here: the text form.
                ("tag", Value::Text(text)) => assert_eq!(text, "00000000-0000-0000-0123-456789abcdef"),
                // MariaDB's JSON is LONGTEXT with a check: text that parses back.
                ("doc", Value::Text(text)) => {
                    assert_eq!(&Value::Json(serde_json::from_str(text).unwrap()), want);
                }
                _ => assert_eq!(got, want, "column {}", read.columns()[i]),
            }
        }

        let mean = db
            .query("SELECT AVG(x) AS mean FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 2) AS t")
            .fetch_table()
            .await
            .unwrap();
        assert_eq!(
            mean.rows()[0][0],
            Value::Decimal(BigDecimal::from_str("1.6667").unwrap())
        );

        // Binary data is bytes; text in a binary (`_bin`) collation is still text.
        let kinds = db
            .query(
                "SELECT CAST('ab' AS BINARY) AS b, CAST('ab' AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin AS t",
            )
            .fetch_table()
            .await
            .unwrap();
        assert_eq!(kinds.rows()[0], [Value::Bytes(b"ab".to_vec()), Value::from("ab")]);

        let err = db
            .query("SELECT ST_GeomFromText('POINT(1 1)') AS spot")
            .fetch_table()
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(r#"column "spot" has MySQL type GEOMETRY"#) && text.contains("CAST(spot AS TEXT)"),
            "{text}"
        );

        db.query(AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute()
            .await
            .unwrap();
    });
}

#[test]
fn sqlite_reads_what_it_stores() {
    let reg = registry_with("lite_types", "url = 'sqlite::memory:'");
    let db = reg.connection::<SqlConnection>("lite_types").unwrap();
    runtime().block_on(async {
        let read = round_trip(
            &db,
            "types",
            "id INTEGER, at DATETIME, at_tz TIMESTAMP, day DATE, clock TIME, price NUMERIC, tag TEXT, doc TEXT, raw BLOB, flag BOOLEAN",
        )
        .await;
        // SQLite stores dates, decimals and UUIDs as text, booleans as integers.
        let row = &read.rows()[0];
        assert_eq!(row[1], Value::from("2024-02-29 13:45:30.123456"));
        assert_eq!(row[3], Value::from("2024-02-29"));
        assert_eq!(row[8], Value::Bytes(vec![0, 159, 255]));
        assert_eq!(row[9], Value::Int(1));
    });
}
