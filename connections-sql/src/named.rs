//! Named parameters (`WHERE owner = :owner`, SQLAlchemy's `text()` style),
//! rewritten to each driver's placeholders: `$1` on PostgreSQL, `?` on MySQL
//! and SQLite.
//!
//! A name is `:` and a word (`[A-Za-z_][A-Za-z0-9_]*`), as SQLAlchemy reads
//! it: not after a word character, a `:` or a `\` (so `a:b` and `x::text`
//! casts stay as they are), and not before a single `:`. `\:` writes a plain
//! colon. Unlike SQLAlchemy, `:age::int` is the name `age` and a cast. Names
//! inside string literals, quoted identifiers, dollar-quoted strings and
//! comments are left alone.

use std::fmt::Write as _;

use super::Value;
use super::options::Dialect;

/// A statement with its named parameters replaced by positional ones.
#[derive(Debug, PartialEq)]
pub(crate) struct Rewritten {
    pub sql: String,
    /// The values in placeholder order (on MySQL and SQLite, once per use).
    pub values: Vec<Value>,
}

/// Rewrites `sql`'s `:name`s for `dialect`, binding `given`.
///
/// # Errors
///
/// What is wrong, in words for the user: a name used but not given, or given
/// but not used (each listed), or one given twice.
pub(crate) fn rewrite(sql: &str, dialect: Dialect, given: &[(String, Value)]) -> Result<Rewritten, String> {
    for (i, (name, _)) in given.iter().enumerate() {
        if given[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(format!("`{name}` is given twice; give each name once"));
        }
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut values = Vec::new();
    // Names in order of first use.
    let mut used: Vec<&str> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = skip_quoted(bytes, i, b'\'', backslash_escapes(dialect, bytes, i)),
            b'"' => i = skip_quoted(bytes, i, b'"', dialect == Dialect::MySql),
            b'`' if dialect != Dialect::Postgres => i = skip_quoted(bytes, i, b'`', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_line(bytes, i),
            b'#' if dialect == Dialect::MySql => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i, dialect == Dialect::Postgres),
            b'$' if dialect == Dialect::Postgres => i = skip_dollar_quoted(sql, i),
            b'\\' if bytes.get(i + 1) == Some(&b':') => {
                // `\:` is a plain colon: drop the backslash.
                out.push_str(&sql[copied..i]);
                copied = i + 1;
                i += 2;
            }
            b':' => {
                let after_word = i > 0 && (is_word(bytes[i - 1]) || matches!(bytes[i - 1], b':' | b'\\'));
                let end = word_end(bytes, i + 1);
                // Unlike SQLAlchemy, `:age::int` is a name followed by a cast.
                let before_colon = bytes.get(end) == Some(&b':') && bytes.get(end + 1) != Some(&b':');
                let is_name = !after_word && end > i + 1 && !bytes[i + 1].is_ascii_digit() && !before_colon;
                if !is_name {
                    // `::` casts, `:=`, `a:b`: skip the whole run of colons.
                    i += 1;
                    while bytes.get(i) == Some(&b':') {
                        i += 1;
                    }
                    continue;
                }
                let name = &sql[i + 1..end];
                out.push_str(&sql[copied..i]);
                match given.iter().find(|(n, _)| n == name) {
                    Some((_, value)) => {
                        // PostgreSQL numbers names by first use, and reuses the number.
                        let at = used.iter().position(|u| *u == name);
                        if at.is_none() {
                            used.push(name);
                        }
                        if dialect == Dialect::Postgres {
                            if at.is_none() {
                                values.push(value.clone());
                            }
                            let _ = write!(out, "${}", at.unwrap_or(used.len() - 1) + 1);
                        } else {
                            out.push('?');
                            values.push(value.clone());
                        }
                    }
                    None => {
                        if !missing.contains(&name) {
                            missing.push(name);
                        }
                    }
                }
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    let unused: Vec<&str> = given
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !used.contains(n))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|n| format!("`:{n}`")).collect();
        let add: Vec<String> = missing.iter().map(|n| format!(".param(\"{n}\", ...)")).collect();
        problems.push(format!(
            "{} used in the statement but not given; add {}",
            list.join(", "),
            add.join("")
        ));
    }
    if !unused.is_empty() {
        let list: Vec<String> = unused.iter().map(|n| format!("`{n}`")).collect();
        problems.push(format!(
            "{} given but not used in the statement (write `:name` where each goes, outside quotes and comments)",
            list.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(Rewritten { sql: out, values })
    } else {
        Err(problems.join("; "))
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_word(bytes[i]) {
        i += 1;
    }
    i
}

/// Whether a `'` string at `at` reads `\` as an escape: always on MySQL, and
/// on PostgreSQL in an `E'...'` string.
fn backslash_escapes(dialect: Dialect, bytes: &[u8], at: usize) -> bool {
    match dialect {
        Dialect::MySql => true,
        Dialect::Postgres => at > 0 && matches!(bytes[at - 1], b'E' | b'e') && (at < 2 || !is_word(bytes[at - 2])),
        Dialect::Sqlite => false,
    }
}

/// The index after the quoted run that opens at `start`; a doubled quote stays inside.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |at| start + at + 1)
}

/// The index after the `/* ... */` comment at `start`; PostgreSQL's nest.
fn skip_block_comment(bytes: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 || !nested {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The index after a `$tag$ ... $tag$` string at `start`, or after the `$` if none opens there.
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let bytes = sql.as_bytes();
    let tag_end = word_end(bytes, start + 1);
    let opens = bytes.get(tag_end) == Some(&b'$')
        && !bytes.get(start + 1).is_some_and(u8::is_ascii_digit)
        && (start == 0 || !is_word(bytes[start - 1]));
    if !opens {
        return start + 1;
    }
    let tag = &sql[start..=tag_end];
    sql[tag_end + 1..]
        .find(tag)
        .map_or(bytes.len(), |at| tag_end + 1 + at + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
    }

    #[test]
    fn names_become_each_drivers_placeholders() {
        let sql = "SELECT name FROM pets WHERE owner = :owner AND age > :age OR co_owner = :owner";
        let params = given(&[("owner", "Ada".into()), ("age", 3.into())]);
        let pg = rewrite(sql, Dialect::Postgres, &params).unwrap();
        assert_eq!(
            pg.sql,
            "SELECT name FROM pets WHERE owner = $1 AND age > $2 OR co_owner = $1"
        );
        assert_eq!(pg.values, [Value::from("Ada"), Value::Int(3)]);
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            let q = rewrite(sql, dialect, &params).unwrap();
            assert_eq!(
                q.sql,
                "SELECT name FROM pets WHERE owner = ? AND age > ? OR co_owner = ?"
            );
            assert_eq!(q.values, [Value::from("Ada"), Value::Int(3), Value::from("Ada")]);
        }
    }

    #[test]
    fn quotes_comments_casts_and_escapes_are_left_alone() {
        let params = given(&[("id", 1.into())]);
        let sql = "SELECT ':no', \":no\", CAST(x AS text)::text, a:b, '' || ':no''s', arr[1:2] -- :no\n\
                   /* :no /* nested :no */ :no */ FROM t WHERE id = :id AND s = E'\\':no' AND d = $q$ :no $q$ AND t = '10\\:30' AND u = 10\\:30";
        let pg = rewrite(sql, Dialect::Postgres, &params).unwrap();
        assert!(pg.sql.contains("WHERE id = $1 AND"), "{}", pg.sql);
        assert!(pg.sql.contains("u = 10:30"), "`\\:` is a colon: {}", pg.sql);
        let pg = rewrite("SELECT :id::text, :id:x", Dialect::Postgres, &params).unwrap();
        assert_eq!(
            pg.sql, "SELECT $1::text, :id:x",
            "a name before a cast; not before one colon"
        );
        assert_eq!(pg.values.len(), 1);
        // MySQL: backslash escapes in strings, `#` comments, backticks, `:=`.
        let sql = "SELECT 'it\\'s :no', `:no`, @x := 1 # :no\nFROM t WHERE id = :id";
        let my = rewrite(sql, Dialect::MySql, &params).unwrap();
        assert!(my.sql.ends_with("WHERE id = ?"), "{}", my.sql);
        assert!(my.sql.contains("@x := 1"), "{}", my.sql);
        // A standard PostgreSQL string ends at its quote, backslash or not.
        let pg = rewrite(r"SELECT 'C:\' AS path WHERE id = :id", Dialect::Postgres, &params).unwrap();
        assert_eq!(pg.sql, r"SELECT 'C:\' AS path WHERE id = $1");
    }

    #[test]
    fn missing_unused_and_repeated_names_are_errors() {
        let e = rewrite("SELECT :a, :b, :a", Dialect::Postgres, &given(&[("c", 1.into())])).unwrap_err();
        assert_eq!(
            e,
            "`:a`, `:b` used in the statement but not given; add .param(\"a\", ...).param(\"b\", ...); \
             `c` given but not used in the statement (write `:name` where each goes, outside quotes and comments)"
        );
        let e = rewrite("SELECT ':a'", Dialect::Sqlite, &given(&[("a", 1.into())])).unwrap_err();
        assert!(e.starts_with("`a` given but not used"), "{e}");
        let e = rewrite(
            "SELECT :a",
            Dialect::Sqlite,
            &given(&[("a", 1.into()), ("a", 2.into())]),
        )
        .unwrap_err();
        assert_eq!(e, "`a` is given twice; give each name once");
    }
}
