//! Unit tests of `sql::Value` decoding on each database, and of its conversions.

use std::collections::HashSet;

use sqlx::Connection as _;
use sqlx::SqliteConnection;

use super::*;

/// Runs `f` on a fresh in-memory SQLite database.
fn with_sqlite<T>(f: impl AsyncFnOnce(&mut SqliteConnection) -> T) -> T {
    sqlx::test_block_on(async {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let out = f(&mut conn).await;
        conn.close().await.unwrap();
        out
    })
}

#[test]
fn floats_compare_and_hash_by_bits() {
    assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
    assert_ne!(Value::Float(0.0), Value::Float(-0.0));
    assert_ne!(Value::Int(1), Value::Float(1.0));
    assert_ne!(Value::Text("1".into()), Value::Bytes(b"1".to_vec()));
    assert_ne!(Value::Null, Value::Int(0));
    let set: HashSet<Value> = [
        Value::Float(f64::NAN),
        Value::Float(f64::NAN),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Int(0),
        Value::Bool(false),
        Value::Null,
        Value::Null,
        Value::Text(String::new()),
        Value::Bytes(Vec::new()),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 8);
}

#[test]
fn conversions() {
    assert_eq!(Value::from(i8::MIN), Value::Int(-128));
    assert_eq!(Value::from(u32::MAX), Value::Int(4_294_967_295));
    assert_eq!(Value::from(i64::MIN), Value::Int(i64::MIN));
    assert_eq!(Value::from(1.5_f32), Value::Float(1.5));
    assert_eq!(Value::from(f32::NAN), Value::Float(f64::NAN));
    assert_eq!(Value::from(f32::INFINITY), Value::Float(f64::INFINITY));
    assert_eq!(Value::from(Some(Some("x"))), Value::Text("x".into()));
    assert_eq!(Value::from(None::<Vec<u8>>), Value::Null);
}

#[test]
fn display() {
    let shown: Vec<String> = [
        Value::Null,
        Value::Bool(false),
        Value::Int(-3),
        Value::Float(0.1),
        Value::Float(1e300),
        Value::Float(f64::NAN),
        Value::Text("a\nb".into()),
        Value::Bytes(vec![0, 255]),
        Value::Bytes(Vec::new()),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        shown,
        ["NULL", "false", "-3", "0.1", "1e300", "NaN", "a\nb", "x'00ff'", "x''"]
    );
}

#[test]
fn table_display_aligns_escapes_and_counts() {
    let table = Table::new(
        ["n", "naïve", "x"],
        vec![
            vec![Value::Int(-12), "é".into(), Value::Float(2.5)],
            vec![Value::Int(3), "two\nlines".into(), Value::Null],
        ],
    )
    .unwrap();
    assert_eq!(
        table.to_string(),
        " n   | naïve      | x\n-----+------------+------\n -12 | é          |  2.5\n   3 | two\\nlines | NULL\n(2 rows)\n"
    );
    let one = Table::new(["a"], vec![vec![Value::Bool(true)]]).unwrap();
    assert_eq!(one.to_string(), " a\n------\n true\n(1 row)\n");
    assert_eq!(Table::default().to_string(), "(0 rows)\n");
    assert_eq!(
        Table::new(["a"], Vec::new()).unwrap().to_string(),
        " a\n---\n(0 rows)\n"
    );
}

#[test]
fn table_accessors() {
    let table = Table::new(["a", "b", "a"], vec![vec![1.into(), 2.into(), 3.into()]]).unwrap();
    assert_eq!(table.columns(), ["a", "b", "a"]);
    // Duplicate names: the first column.
    assert_eq!(table.column("a").unwrap().collect::<Vec<_>>(), [&Value::Int(1)]);
    assert_eq!(table.column("b").unwrap().count(), 1);
    assert!(table.column("c").is_none());
    assert_eq!((table.len(), table.is_empty()), (1, false));
    assert!(Table::new(["a"], vec![vec![], vec![1.into()]]).is_none());
    assert!(Table::new(Vec::<String>::new(), vec![vec![1.into()]]).is_none());
}

#[test]
fn bound_values_come_back_through_sqlite() {
    let params = [
        Value::Null,
        Value::Bool(true),
        Value::Int(i64::MIN),
        Value::Float(-2.5),
        Value::Text("it's \u{1F600}".into()),
        Value::Bytes(vec![0, 1, 255]),
    ];
    let table = with_sqlite(async |conn| {
        let mut arguments = sqlx::sqlite::SqliteArguments::default();
        for p in &params {
            Sqlite::add(&mut arguments, p).unwrap();
        }
        let query = sqlx::query_with("SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f", arguments);
        Table::from_rows(&query.fetch_all(&mut *conn).await.unwrap()).unwrap()
    });
    assert_eq!(table.columns(), ["a", "b", "c", "d", "e", "f"]);
    // SQLite has no boolean: `true` is stored and read back as 1.
    let expected = [
        Value::Null,
        Value::Int(1),
        Value::Int(i64::MIN),
        Value::Float(-2.5),
        Value::Text("it's \u{1F600}".into()),
        Value::Bytes(vec![0, 1, 255]),
    ];
    assert_eq!(table.rows(), [expected.to_vec()]);
}

#[test]
fn rows_decode_by_each_value_kind_with_nulls() {
    let (table, empty) = with_sqlite(async |conn| {
        sqlx::raw_sql(
            "CREATE TABLE t (id INTEGER, name TEXT, score REAL, data BLOB);
             INSERT INTO t VALUES (1, 'alice', 1.25, x'01'), (2, NULL, NULL, NULL), (3, 'carol', 3, 'text in a blob column');",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let rows = sqlx::query("SELECT id, name, score, data FROM t ORDER BY id")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let none = sqlx::query("SELECT id FROM t WHERE id > 99")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        (Table::from_rows(&rows).unwrap(), Table::from_rows(&none).unwrap())
    });
    assert_eq!(table.columns(), ["id", "name", "score", "data"]);
    assert_eq!(
        table.rows(),
        [
            vec![Value::Int(1), "alice".into(), Value::Float(1.25), Value::Bytes(vec![1])],
            vec![Value::Int(2), Value::Null, Value::Null, Value::Null],
            // SQLite types values, not columns: REAL affinity made 3 a float, the blob column holds text.
            vec![
                Value::Int(3),
                "carol".into(),
                Value::Float(3.0),
                "text in a blob column".into()
            ],
        ]
    );
    assert!(empty.is_empty() && empty.columns().is_empty());
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
}

#[test]
fn the_richer_kinds_compare_hash_and_display() {
    let at = date().and_hms_micro_opt(13, 45, 0, 250).unwrap();
    let values = [
        Value::Decimal("12.50".parse().unwrap()),
        Value::Date(date()),
        Value::Time(NaiveTime::from_hms_opt(13, 45, 0).unwrap()),
        Value::Timestamp(at),
        Value::TimestampTz(at.and_utc()),
        Value::Uuid(Uuid::from_u128(0x1234)),
        Value::Json(serde_json::json!({"a": [1, null]})),
    ];
    let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "12.50",
            "2024-02-29",
            "13:45:00",
            "2024-02-29 13:45:00.000250",
            "2024-02-29 13:45:00.000250 UTC",
            "00000000-0000-0000-0000-000000001234",
            r#"{"a":[1,null]}"#,
        ]
    );
    let set: HashSet<Value> = values.iter().chain(values.iter()).cloned().collect();
    assert_eq!(set.len(), values.len(), "equal values hash alike");
    // Decimals compare by value, as the database does: 12.5 is 12.50.
    assert_eq!(Value::Decimal("12.5".parse().unwrap()), values[0]);
    // A timestamp with a zone differs from one without.
    assert_ne!(values[3], values[4]);
}

#[test]
fn the_richer_kinds_bind_on_sqlite_as_text_it_keeps() {
    let params = [
        Value::Decimal("123456789012345678901234567890.000000001".parse().unwrap()),
        Value::Date(date()),
        Value::Uuid(Uuid::nil()),
        Value::Json(serde_json::json!({"k": "v"})),
    ];
    let table = with_sqlite(async |conn| {
        let mut arguments = sqlx::sqlite::SqliteArguments::default();
        for p in &params {
            Sqlite::add(&mut arguments, p).unwrap();
        }
        let query = sqlx::query_with("SELECT ? AS d, ? AS day, ? AS id, ? AS doc", arguments);
        Table::from_rows(&query.fetch_all(&mut *conn).await.unwrap()).unwrap()
    });
    // SQLite has no such types: every digit and the text survive as text.
    assert_eq!(
        table.rows()[0],
        [
            Value::from("123456789012345678901234567890.000000001"),
            Value::from("2024-02-29"),
            Value::from("00000000-0000-0000-0000-000000000000"),
            Value::from(r#"{"k":"v"}"#),
        ]
    );
}
