//! SQL values and query results: [`Value`] for parameters and cells, [`Table`] for results.

use std::fmt;
use std::hash::{Hash, Hasher};

use sqlx::any::{AnyArguments, AnyRow, AnyTypeInfoKind};
use sqlx::query::Query;
use sqlx::{Any, Column as _, Row as _, ValueRef as _};

/// One SQL value: a query parameter or a cell of a [`Table`].
///
/// The kinds are those every database of the `Any` driver shares. Most Rust
/// scalars convert with `.into()`, and `None` becomes [`Value::Null`].
///
/// `Value` is `Eq` and `Hash`, so parameters can key a cache: floats compare
/// by bit pattern, so `NaN` equals itself and `0.0` differs from `-0.0`.
///
/// # Examples
///
/// ```
/// use connections_core::sql::Value;
///
/// let params: Vec<Value> = vec![42.into(), "alice".into(), None::<i64>.into(), 1.5.into()];
/// assert_eq!(params[0], Value::Int(42));
/// assert_eq!(params[1], Value::Text("alice".to_owned()));
/// assert!(params[2].is_null());
/// assert_eq!(params[3].to_string(), "1.5");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`.
    ///
    /// As a parameter it is sent as the `Any` driver sends an untyped `NULL`:
    /// a null integer. PostgreSQL then wants a cast where the column is not
    /// numeric (`$1::text`).
    Null,
    /// A boolean (MySQL and SQLite store it as an integer and return it as [`Value::Int`]).
    Bool(bool),
    /// An integer of any width.
    Int(i64),
    /// A floating-point number; single-precision values are widened.
    Float(f64),
    /// Text.
    Text(String),
    /// Binary data (a `BLOB`, `bytea`...).
    Bytes(Vec<u8>),
}

impl Value {
    /// Whether this is [`Value::Null`].
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::sql::Value;
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
    /// use connections_core::sql::Value;
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
    /// use connections_core::sql::Value;
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
    /// use connections_core::sql::Value;
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
    /// use connections_core::sql::Value;
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
    /// use connections_core::sql::Value;
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
        }
    }
}

/// `NULL`, `true`, `42`, `1.5` (a float always shows a point or exponent), the
/// text as is, bytes as `x'0a1b'` (SQL's hex literal).
///
/// # Examples
///
/// ```
/// use connections_core::sql::Value;
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
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        #[doc = concat!("A [`Value::Int`].\n\n```\nuse connections_core::sql::Value;\n\nassert_eq!(Value::from(7_", stringify!($t), "), Value::Int(7));\n```")]
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
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
/// use connections_core::sql::Value;
///
/// assert_eq!(Value::from(&b"ab"[..]), Value::Bytes(b"ab".to_vec()));
/// ```
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

/// [`Value::Null`] for `None`, else the value's conversion.
///
/// ```
/// use connections_core::sql::Value;
///
/// assert_eq!(Value::from(None::<&str>), Value::Null);
/// assert_eq!(Value::from(Some(3)), Value::Int(3));
/// ```
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Binds `value` as the query's next parameter, by its kind.
pub(crate) fn bind<'q>(query: Query<'q, Any, AnyArguments>, value: &Value) -> Query<'q, Any, AnyArguments> {
    match value {
        // The `Any` driver's own untyped NULL is a null `INTEGER`.
        Value::Null => query.bind(None::<i32>),
        Value::Bool(b) => query.bind(*b),
        Value::Int(i) => query.bind(*i),
        Value::Float(f) => query.bind(*f),
        Value::Text(s) => query.bind(s.as_str()),
        Value::Bytes(b) => query.bind(b.as_slice()),
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
/// use connections_core::sql::{Table, Value};
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
    /// use connections_core::sql::Table;
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

    /// Decodes rows from the `Any` driver, each cell by its value's kind.
    ///
    /// With no rows there is nothing to read column names from, so the table
    /// has no columns either.
    pub(crate) fn from_rows(rows: &[AnyRow]) -> Result<Table, sqlx::Error> {
        let columns = rows
            .first()
            .map(|row| row.columns().iter().map(|c| c.name().to_owned()).collect())
            .unwrap_or_default();
        let rows = rows
            .iter()
            .map(|row| (0..row.columns().len()).map(|i| decode(row, i)).collect())
            .collect::<Result<_, _>>()?;
        Ok(Table { columns, rows })
    }

    /// The column names, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let table = connections_core::sql::Table::new(["id", "name"], Vec::new()).unwrap();
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
    /// use connections_core::sql::{Table, Value};
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
    /// let table = connections_core::sql::Table::new(["n"], vec![vec![1.into()]]).unwrap();
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
    /// assert!(connections_core::sql::Table::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The values of the first column named `name`, top to bottom; `None` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::sql::{Table, Value};
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

/// Decodes one cell by the kind of its value (not its column: SQLite's vary by row).
fn decode(row: &AnyRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        AnyTypeInfoKind::Null => Value::Null,
        AnyTypeInfoKind::Bool => Value::Bool(row.try_get(i)?),
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => Value::Int(row.try_get(i)?),
        AnyTypeInfoKind::Real => Value::Float(widen(row.try_get(i)?)),
        AnyTypeInfoKind::Double => Value::Float(row.try_get(i)?),
        AnyTypeInfoKind::Text => Value::Text(row.try_get(i)?),
        AnyTypeInfoKind::Blob => Value::Bytes(row.try_get(i)?),
    })
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
                    Value::Int(_) | Value::Float(_) => format!(" {text:>w$} "),
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
