//! SQL values and query results: [`Value`] for parameters and cells, [`Table`]
//! for results, and how each native driver binds and decodes them.

use std::fmt;
use std::hash::{Hash, Hasher};

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::Arguments as _;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::postgres::{PgRow, PgTypeKind, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::types::Json;
use sqlx::{Column as _, Database, Decode, Row, TypeInfo as _, ValueRef as _};
use uuid::Uuid;

use super::pool::Pool;

/// One SQL value: a query parameter or a cell of a [`Table`].
///
/// Every common column type decodes: booleans, integers, floats, exact
/// decimals, text, bytes, dates, times, timestamps with and without a time
/// zone, UUIDs and JSON, and `NULL` of each. Rust values convert with
/// `.into()` (the `chrono`, `bigdecimal` and `uuid` types as
/// [`sql::types`](crate::types) re-exports them, and `serde_json::Value`),
/// and `None` becomes
/// [`Value::Null`].
///
/// `Value` is `Eq` and `Hash`, so parameters can key a cache: floats compare
/// by bit pattern, so `NaN` equals itself and `0.0` differs from `-0.0`.
///
/// # Examples
///
/// ```
/// use connections_sql::{Value, types::NaiveDate};
///
/// let params: Vec<Value> = vec![42.into(), "alice".into(), None::<i64>.into(), 1.5.into()];
/// assert_eq!(params[0], Value::Int(42));
/// assert_eq!(params[1], Value::Text("alice".to_owned()));
/// assert!(params[2].is_null());
/// assert_eq!(params[3].to_string(), "1.5");
/// let day = Value::from(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
/// assert_eq!(day.to_string(), "2024-02-29");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`.
    ///
    /// As a parameter it is sent as a null integer, as sqlx sends an untyped
    /// `NULL`; PostgreSQL then wants a cast where the column is not numeric
    /// (`$1::text`).
    Null,
    /// A boolean (MySQL's `BOOLEAN` is `TINYINT(1)`; SQLite stores it as an
    /// integer and returns it as [`Value::Int`]).
    Bool(bool),
    /// An integer of any width (a MySQL `BIGINT UNSIGNED` above `i64::MAX`
    /// comes back as a [`Value::Decimal`]).
    Int(i64),
    /// A floating-point number; single-precision values are widened.
    Float(f64),
    /// An exact decimal (`NUMERIC`, `DECIMAL`, `AVG()` of integers), at the
    /// database's full precision, never through `f64`.
    Decimal(BigDecimal),
    /// Text.
    Text(String),
    /// Binary data (a `BLOB`, `bytea`...).
    Bytes(Vec<u8>),
    /// A date (`DATE`).
    Date(NaiveDate),
    /// A time of day (`TIME`).
    Time(NaiveTime),
    /// A date and time with no time zone (PostgreSQL's `TIMESTAMP`, MySQL's `DATETIME`).
    Timestamp(NaiveDateTime),
    /// An instant, in UTC (PostgreSQL's `TIMESTAMPTZ`, MySQL's `TIMESTAMP`).
    TimestampTz(DateTime<Utc>),
    /// A UUID (PostgreSQL's `uuid`; MySQL and SQLite store them as text).
    Uuid(Uuid),
    /// A JSON document (PostgreSQL's `json`/`jsonb`, MySQL's `JSON`).
    Json(serde_json::Value),
}

impl Value {
    /// Whether this is [`Value::Null`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert!(Value::Null.is_null());
    /// assert!(!Value::from(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is a [`Value::Bool`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert_eq!(Value::from(true).as_bool(), Some(true));
    /// assert_eq!(Value::from(1).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert_eq!(Value::from(7_u8).as_i64(), Some(7));
    /// assert_eq!(Value::from("7").as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is a [`Value::Float`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert_eq!(Value::from(0.5).as_f64(), Some(0.5));
    /// assert_eq!(Value::from(1).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The text, if this is a [`Value::Text`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert_eq!(Value::from("hi").as_str(), Some("hi"));
    /// assert_eq!(Value::Null.as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Value;
    ///
    /// assert_eq!(Value::from(&b"\x01\x02"[..]).as_bytes(), Some(&[1_u8, 2][..]));
    /// assert_eq!(Value::from("\x01").as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Widens a database `REAL` (or a Rust `f32`) through its shortest decimal
/// form, so `0.1_f32` reads as `0.1`, not `0.10000000149011612`.
fn widen(f: f32) -> f64 {
    f.to_string().parse().unwrap_or(f64::from(f))
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            (Value::TimestampTz(a), Value::TimestampTz(b)) => a == b,
            (Value::Uuid(a), Value::Uuid(b)) => a == b,
            (Value::Json(a), Value::Json(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Text(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Decimal(d) => d.hash(state),
            Value::Date(d) => d.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Timestamp(t) => t.hash(state),
            Value::TimestampTz(t) => t.hash(state),
            Value::Uuid(u) => u.hash(state),
            // JSON holds no NaN, and equal documents print alike.
            Value::Json(j) => j.to_string().hash(state),
        }
    }
}

/// `NULL`, `true`, `42`, `1.5` (a float always shows a point or exponent),
/// decimals exactly, the text as is, bytes as `x'0a1b'` (SQL's hex literal),
/// `2024-02-29`, `13:45:00`, `2024-02-29 13:45:00`, `2024-02-29 13:45:00 UTC`,
/// UUIDs hyphenated and JSON compact.
///
/// # Examples
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::Null.to_string(), "NULL");
/// assert_eq!(Value::from(2.0).to_string(), "2.0");
/// assert_eq!(Value::from(vec![0x0a_u8, 0x1b]).to_string(), "x'0a1b'");
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            // `Debug` keeps the `.0` that tells a float from an integer.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(bytes) => {
                f.write_str("x'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("'")
            }
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::Timestamp(t) => write!(f, "{t}"),
            Value::TimestampTz(t) => write!(f, "{t}"),
            Value::Uuid(u) => write!(f, "{u}"),
            Value::Json(j) => write!(f, "{j}"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        #[doc = concat!("A [`Value::Int`].\n\n```\nuse connections_sql::Value;\n\nassert_eq!(Value::from(7_", stringify!($t), "), Value::Int(7));\n```")]
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

/// A [`Value::Bool`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(true), Value::Bool(true));
/// ```
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A [`Value::Float`], widened through its shortest decimal form.
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(0.1_f32), Value::Float(0.1));
/// ```
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(widen(v))
    }
}

/// A [`Value::Float`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(0.1), Value::Float(0.1));
/// ```
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

/// A [`Value::Text`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from("hi"), Value::Text("hi".to_owned()));
/// ```
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

/// A [`Value::Text`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(String::from("hi")), Value::Text("hi".to_owned()));
/// ```
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

/// A [`Value::Bytes`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(vec![1_u8, 2]), Value::Bytes(vec![1, 2]));
/// ```
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

/// A [`Value::Bytes`].
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(&b"ab"[..]), Value::Bytes(b"ab".to_vec()));
/// ```
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

macro_rules! from_type {
    ($($t:ty => $variant:ident, $example:expr, $shown:expr;)*) => {$(
        #[doc = concat!("A [`Value::", stringify!($variant), "`].\n\n```\nuse connections_sql::{Value, types::*};\n\nlet value = Value::from(", $example, ");\nassert_eq!(value.to_string(), \"", $shown, "\");\n```")]
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v)
            }
        }
    )*};
}
from_type! {
    BigDecimal => Decimal, "\"12.50\".parse::<BigDecimal>().unwrap()", "12.50";
    NaiveDate => Date, "NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()", "2024-02-29";
    NaiveTime => Time, "NaiveTime::from_hms_opt(13, 45, 0).unwrap()", "13:45:00";
    NaiveDateTime => Timestamp, "NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_opt(13, 45, 0).unwrap()", "2024-02-29 13:45:00";
    DateTime<Utc> => TimestampTz, "DateTime::from_timestamp(0, 0).unwrap()", "1970-01-01 00:00:00 UTC";
    Uuid => Uuid, "Uuid::nil()", "00000000-0000-0000-0000-000000000000";
    serde_json::Value => Json, "serde_json::json!({\"a\": [1, 2]})", "{\\\"a\\\":[1,2]}";
}

/// [`Value::Null`] for `None`, else the value's conversion.
///
/// ```
/// use connections_sql::Value;
///
/// assert_eq!(Value::from(None::<&str>), Value::Null);
/// assert_eq!(Value::from(Some(3)), Value::Int(3));
/// ```
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A query's result: column names and rows of [`Value`]s.
///
/// `Display` renders an aligned text table for a terminal, numbers
/// right-aligned, with a row count, as `psql` does.
///
/// # Examples
///
/// ```
/// use connections_sql::{Table, Value};
///
/// let table = Table::new(
///     ["id", "name"],
///     vec![vec![1.into(), "alice".into()], vec![2.into(), Value::Null]],
/// ).expect("every row has one value per column");
/// assert_eq!(table.len(), 2);
/// let printed = "
///  id | name
/// ----+-------
///   1 | alice
///   2 | NULL
/// (2 rows)
/// ";
/// assert_eq!(table.to_string(), printed.trim_start_matches('\n'));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    /// A table of `columns` and `rows`; `None` if a row's length is not the number of columns.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::Table;
    ///
    /// assert!(Table::new(["a", "b"], vec![vec![1.into(), 2.into()]]).is_some());
    /// assert!(Table::new(["a", "b"], vec![vec![1.into()]]).is_none());
    /// let empty = Table::new(["a"], Vec::new()).unwrap();
    /// assert!(empty.is_empty());
    /// ```
    pub fn new<C: Into<String>>(columns: impl IntoIterator<Item = C>, rows: Vec<Vec<Value>>) -> Option<Self> {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        rows.iter()
            .all(|r| r.len() == columns.len())
            .then_some(Self { columns, rows })
    }

    /// Decodes rows of a native driver, each cell by its column's type.
    ///
    /// With no rows there is nothing to read column names from, so the table
    /// has no columns either.
    pub(crate) fn from_rows<R: Row>(rows: &[R]) -> Result<Table, sqlx::Error>
    where
        R::Database: SqlDatabase<Row = R>,
    {
        let columns = rows
            .first()
            .map(|row| row.columns().iter().map(|c| c.name().to_owned()).collect())
            .unwrap_or_default();
        let rows = rows
            .iter()
            .map(|row| (0..row.columns().len()).map(|i| R::Database::decode(row, i)).collect())
            .collect::<Result<_, _>>()?;
        Ok(Table { columns, rows })
    }

    /// The column names, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let table = connections_sql::Table::new(["id", "name"], Vec::new()).unwrap();
    /// assert_eq!(table.columns(), ["id", "name"]);
    /// ```
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, each with one value per column.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::{Table, Value};
    ///
    /// let table = Table::new(["n"], vec![vec![1.into()], vec![2.into()]]).unwrap();
    /// let total: i64 = table.rows().iter().filter_map(|row| row[0].as_i64()).sum();
    /// assert_eq!(total, 3);
    /// ```
    pub fn rows(&self) -> &[Vec<Value>] {
        &self.rows
    }

    /// The number of rows.
    ///
    /// # Examples
    ///
    /// ```
    /// let table = connections_sql::Table::new(["n"], vec![vec![1.into()]]).unwrap();
    /// assert_eq!(table.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(connections_sql::Table::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The values of the first column named `name`, top to bottom; `None` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_sql::{Table, Value};
    ///
    /// let table = Table::new(["id", "name"], vec![
    ///     vec![1.into(), "alice".into()],
    ///     vec![2.into(), "bob".into()],
    /// ]).unwrap();
    /// let names: Vec<&str> = table.column("name").unwrap().filter_map(Value::as_str).collect();
    /// assert_eq!(names, ["alice", "bob"]);
    /// assert!(table.column("email").is_none());
    /// ```
    pub fn column(&self, name: &str) -> Option<impl Iterator<Item = &Value> + '_> {
        let index = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().filter_map(move |row| row.get(index)))
    }
}

/// The databases of [`SqlConnection`](super::SqlConnection)'s native
/// drivers: `sqlx::Postgres`, `sqlx::MySql` and `sqlx::Sqlite`, as
/// [`Query::fetch_all_on`](super::Query::fetch_all_on) names them. Sealed: its
/// items are how each driver binds a [`Value`] and decodes a cell.
///
/// # Examples
///
/// ```
/// use connections_sql::SqlDatabase;
///
/// fn a_database<DB: SqlDatabase>() {}
/// a_database::<sqlx::Postgres>();
/// a_database::<sqlx::MySql>();
/// a_database::<sqlx::Sqlite>();
/// ```
pub trait SqlDatabase: Database + sealed::Sealed {
    /// The dialect's name, as `SqlConnection::dialect` gives it.
    #[doc(hidden)]
    const DIALECT_NAME: &'static str;

    /// This database's pool, if `pool` is one.
    #[doc(hidden)]
    fn pool(pool: &Pool) -> Option<&sqlx::Pool<Self>>;

    /// Adds `value` to a statement's arguments.
    #[doc(hidden)]
    fn add(arguments: &mut <Self as Database>::Arguments, value: &Value) -> Result<(), sqlx::error::BoxDynError>;

    /// Decodes cell `i` of `row`; a type `Value` does not cover is an error
    /// naming the column, its type and the cast to write.
    #[doc(hidden)]
    fn decode(row: &Self::Row, i: usize) -> Result<Value, sqlx::Error>;
}

/// The error for a column whose type `Value` does not decode.
fn unsupported<R: Row>(row: &R, i: usize, database: &str, type_name: &str) -> sqlx::Error {
    let column = row.columns().get(i).map_or("?", |c| c.name());
    sqlx::Error::Decode(
        format!(
            "column \"{column}\" has {database} type {type_name}, which sql::Value does not decode; \
             cast it in the query, e.g. CAST({column} AS TEXT), or read the rows into your own type with fetch_all"
        )
        .into(),
    )
}

/// Decodes cell `i` as `T`, whose type check already passed by name.
fn get<'r, R: Row, T: Decode<'r, R::Database>>(row: &'r R, i: usize) -> Result<T, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get_unchecked(i)
}

fn int<'r, R: Row, T: Decode<'r, R::Database> + Into<i64>>(row: &'r R, i: usize) -> Result<Value, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
{
    get::<R, T>(row, i).map(|v| Value::Int(v.into()))
}

/// Adds `$value` to `$arguments`: the same for every driver but decimals and
/// UUIDs, which each says how to send.
macro_rules! add_value {
    ($arguments:ident, $value:ident, decimal: $d:ident => $decimal:expr, uuid: $u:ident => $uuid:expr) => {
        match $value {
            // sqlx's own untyped NULL is a null integer.
            Value::Null => $arguments.add(None::<i32>),
            Value::Bool(b) => $arguments.add(*b),
            Value::Int(i) => $arguments.add(*i),
            Value::Float(f) => $arguments.add(*f),
            Value::Decimal($d) => $decimal,
            Value::Text(s) => $arguments.add(s.as_str()),
            Value::Bytes(b) => $arguments.add(b.as_slice()),
            Value::Date(d) => $arguments.add(*d),
            Value::Time(t) => $arguments.add(*t),
            Value::Timestamp(t) => $arguments.add(*t),
            Value::TimestampTz(t) => $arguments.add(*t),
            Value::Uuid($u) => $uuid,
            Value::Json(j) => $arguments.add(Json(j)),
        }
    };
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Postgres {}
    impl Sealed for sqlx::MySql {}
    impl Sealed for sqlx::Sqlite {}
}

impl SqlDatabase for Postgres {
    const DIALECT_NAME: &'static str = "postgresql";

    fn pool(pool: &Pool) -> Option<&sqlx::Pool<Self>> {
        pool.as_postgres()
    }

    fn add(arguments: &mut <Self as Database>::Arguments, value: &Value) -> Result<(), sqlx::error::BoxDynError> {
        add_value!(arguments, value, decimal: d => arguments.add(d), uuid: u => arguments.add(*u))
    }

    fn decode(row: &PgRow, i: usize) -> Result<Value, sqlx::Error> {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        let info = raw.type_info().into_owned();
        if matches!(info.kind(), PgTypeKind::Enum(_)) {
            return get(row, i).map(Value::Text);
        }
        Ok(match info.name().to_ascii_uppercase().as_str() {
            "BOOL" => Value::Bool(get(row, i)?),
            "INT2" => int::<_, i16>(row, i)?,
            "INT4" => int::<_, i32>(row, i)?,
            "INT8" => Value::Int(get(row, i)?),
            "OID" => Value::Int(get::<_, sqlx::postgres::types::Oid>(row, i)?.0.into()),
            "FLOAT4" => Value::Float(widen(get(row, i)?)),
            "FLOAT8" => Value::Float(get(row, i)?),
            "NUMERIC" => Value::Decimal(row.try_get(i)?),
            "TEXT" | "VARCHAR" | "CHAR" | "BPCHAR" | "NAME" | "CITEXT" | "UNKNOWN" => Value::Text(get(row, i)?),
            "BYTEA" => Value::Bytes(get(row, i)?),
            "DATE" => Value::Date(get(row, i)?),
            "TIME" => Value::Time(get(row, i)?),
            "TIMESTAMP" => Value::Timestamp(get(row, i)?),
            "TIMESTAMPTZ" => Value::TimestampTz(get(row, i)?),
            "UUID" => Value::Uuid(get(row, i)?),
            "JSON" | "JSONB" => Value::Json(row.try_get::<Json<serde_json::Value>, _>(i)?.0),
            "VOID" => Value::Null,
            other => return Err(unsupported(row, i, "PostgreSQL", other)),
        })
    }
}

impl SqlDatabase for MySql {
    const DIALECT_NAME: &'static str = "mysql";

    fn pool(pool: &Pool) -> Option<&sqlx::Pool<Self>> {
        pool.as_mysql()
    }

    fn add(arguments: &mut <Self as Database>::Arguments, value: &Value) -> Result<(), sqlx::error::BoxDynError> {
        // UUIDs as text: what MariaDB's UUID type and CHAR(36) columns take.
        add_value!(arguments, value, decimal: d => arguments.add(d), uuid: u => arguments.add(u.hyphenated().to_string()))
    }

    fn decode(row: &MySqlRow, i: usize) -> Result<Value, sqlx::Error> {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        let info = raw.type_info().into_owned();
        Ok(match info.name() {
            "NULL" => Value::Null,
            "BOOLEAN" => Value::Bool(get(row, i)?),
            "TINYINT" => int::<_, i8>(row, i)?,
            "SMALLINT" => int::<_, i16>(row, i)?,
            "INT" | "MEDIUMINT" => int::<_, i32>(row, i)?,
            "BIGINT" => Value::Int(get(row, i)?),
            "TINYINT UNSIGNED" => int::<_, u8>(row, i)?,
            "SMALLINT UNSIGNED" | "YEAR" => int::<_, u16>(row, i)?,
            "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => int::<_, u32>(row, i)?,
            "BIGINT UNSIGNED" | "BIT" => {
                let n: u64 = get(row, i)?;
                i64::try_from(n).map_or_else(|_| Value::Decimal(BigDecimal::from(n)), Value::Int)
            }
            "FLOAT" => Value::Float(widen(get(row, i)?)),
            "DOUBLE" => Value::Float(get(row, i)?),
            "DECIMAL" => Value::Decimal(row.try_get(i)?),
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
                Value::Text(get(row, i)?)
            }
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" if !binary_collation(&info) => {
                Value::Text(get(row, i)?)
            }
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => Value::Bytes(get(row, i)?),
            "DATE" => Value::Date(get(row, i)?),
            // A TIME beyond a day or below zero (a duration) is an error: cast it.
            "TIME" => Value::Time(
                row.try_get(i)
                    .map_err(|_| unsupported(row, i, "MySQL", "TIME (outside 00:00:00..24:00:00)"))?,
            ),
            "DATETIME" => Value::Timestamp(get(row, i)?),
            "TIMESTAMP" => Value::TimestampTz(get(row, i)?),
            "JSON" => Value::Json(row.try_get::<Json<serde_json::Value>, _>(i)?.0),
            other => return Err(unsupported(row, i, "MySQL", other)),
        })
    }
}

/// Whether a MySQL column flagged binary holds bytes (the `binary`
/// collation, 63) rather than text in a `_bin` collation (`utf8mb4_bin`,
/// MariaDB's JSON), which the server flags binary too.
///
/// sqlx keeps the collation private; its `Debug` shows it. Without it, the
/// column counts as bytes: nothing is lost.
fn binary_collation(info: &sqlx::mysql::MySqlTypeInfo) -> bool {
    let debug = format!("{info:?}");
    !debug.contains("collation: Collation(") || debug.contains("collation: Collation(63)")
}

impl SqlDatabase for Sqlite {
    const DIALECT_NAME: &'static str = "sqlite";

    fn pool(pool: &Pool) -> Option<&sqlx::Pool<Self>> {
        pool.as_sqlite()
    }

    fn add(arguments: &mut <Self as Database>::Arguments, value: &Value) -> Result<(), sqlx::error::BoxDynError> {
        // SQLite has no exact decimal and no UUID: text keeps every digit.
        add_value!(arguments, value, decimal: d => arguments.add(d.to_string()), uuid: u => arguments.add(u.hyphenated().to_string()))
    }

    /// By the kind of the value, not of the column: SQLite's vary by row, and
    /// dates are text (or numbers) it stores as given.
    fn decode(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        let name = raw.type_info().name().to_owned();
        Ok(match name.as_str() {
            "NULL" => Value::Null,
            "INTEGER" | "BOOLEAN" => Value::Int(get(row, i)?),
            "REAL" => Value::Float(get(row, i)?),
            "BLOB" => Value::Bytes(get(row, i)?),
            "TEXT" | "DATE" | "TIME" | "DATETIME" | "NUMERIC" => Value::Text(get(row, i)?),
            other => return Err(unsupported(row, i, "SQLite", other)),
        })
    }
}

/// A cell as shown in a table: control characters escaped, so every row stays on one line.
fn cell(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        text
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<Vec<String>> = self.rows.iter().map(|row| row.iter().map(cell).collect()).collect();
        let header: Vec<String> = self.columns.iter().map(|c| cell(&Value::Text(c.clone()))).collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                cells
                    .iter()
                    .filter_map(|row| row.get(i))
                    .chain(std::iter::once(&header[i]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        if !header.is_empty() {
            let line: Vec<String> = header.iter().zip(&widths).map(|(h, w)| format!(" {h:<w$} ")).collect();
            writeln!(f, "{}", line.join("|").trim_end())?;
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            writeln!(f, "{}", rule.join("+"))?;
        }
        for (row, values) in cells.iter().zip(&self.rows) {
            let line: Vec<String> = row
                .iter()
                .zip(values)
                .zip(&widths)
                .map(|((text, value), w)| match value {
                    Value::Int(_) | Value::Float(_) | Value::Decimal(_) => format!(" {text:>w$} "),
                    _ => format!(" {text:<w$} "),
                })
                .collect();
            writeln!(f, "{}", line.join("|").trim_end())?;
        }
        let n = self.rows.len();
        writeln!(f, "({n} row{})", if n == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests;
