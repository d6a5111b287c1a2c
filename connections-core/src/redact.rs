//! Redaction rules: which keys hold secrets (their names, near misses of
//! their names included), which keys are harmless to show, and the masking
//! of secret values quoted in a text.
//!
//! Two questions are asked of a configuration's keys:
//!
//! * Is the key secret? Its name contains a secret word (`password`, `pwd`,
//!   `secret`, `token`, `key`, `credential`, `auth`, `pass`), or comes within
//!   a typo or three of one (`pasword`, `secert`, `tokn`, `api_ky`): a
//!   misspelt password is still a password.
//! * Is it known? A key the connection type reads (or declares), or one of a
//!   few names that say what a connection is about and never hold a secret
//!   (`host`, `port`, `database`, `username`...). A key that is neither (a
//!   typo, another type's key) may hold anything, so its value is masked too.

use toml::{Table, Value};

/// Secret words: a key whose name contains one, in any case, holds a secret.
const SECRET_WORDS: [&str; 9] = [
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
];

/// Secret words long enough to be told apart with typos, and how many
/// typos (edits: a letter dropped, added, changed, or two swapped) each may
/// carry and still count: one for up to seven letters (`secert`, `tokn`),
/// two for `password` (`paswrd`), three for ten letters.
const NEAR_WORDS: [&str; 7] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
];

/// Names that say what a connection is about and never hold a secret: a
/// value under one of them is shown (a URL with its password masked), so an
/// error still says which host, database or user it is about.
const HARMLESS: [&str; 27] = [
    "type",
    "url",
    "host",
    "hostname",
    "hosts",
    "server",
    "port",
    "database",
    "db",
    "dbname",
    "database_name",
    "schema",
    "username",
    "user",
    "dialect",
    "driver",
    "drivername",
    "sslmode",
    "ssl_mode",
    "region",
    "endpoint",
    "endpoint_url",
    "bucket",
    "namespace",
    "timeout",
    "connect_timeout",
    "read_timeout",
];

/// Whether a key's name marks its value as secret: it contains a secret word
/// ([`SECRET_WORDS`]), or something within a few typos of a longer one
/// ([`NEAR_WORDS`]: `pasword`, `passwrd`, `secert`, `tokn`, `api_ky`), in any
/// case, separators (`_`, `-`, `.`) ignored.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if SECRET_WORDS.iter().any(|word| lower.contains(word)) {
        return true;
    }
    let letters: Vec<char> = lower.chars().filter(char::is_ascii_alphanumeric).collect();
    NEAR_WORDS.iter().any(|word| {
        let word: Vec<char> = word.chars().collect();
        fuzzy_contains(&letters, &word) <= (word.len() - 1) / 3
    })
}

/// Whether a key's name is one that never holds a secret ([`HARMLESS`]).
pub(crate) fn is_harmless_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    HARMLESS.contains(&lower.as_str())
}

/// The fewest edits (a character dropped, added or changed, or two adjacent
/// ones swapped) that turn some stretch of `text` into `word`.
fn fuzzy_contains(text: &[char], word: &[char]) -> usize {
    // Rows over `word`, columns over `text`; a match may start anywhere in
    // `text` (row 0 is all zeros) and end anywhere (the minimum of the last row).
    let width = text.len() + 1;
    let mut rows: Vec<Vec<usize>> = vec![vec![0; width]];
    for (i, &w) in word.iter().enumerate() {
        let mut row = vec![i + 1; width];
        for (j, &t) in text.iter().enumerate() {
            let above = &rows[i];
            let cost = usize::from(w != t);
            let mut best = (above[j] + cost).min(above[j + 1] + 1).min(row[j] + 1);
            if i > 0 && j > 0 && w == text[j - 1] && word[i - 1] == t {
                best = best.min(rows[i - 1][j - 1] + 1);
            }
            row[j + 1] = best;
        }
        rows.push(row);
    }
    rows.last().and_then(|last| last.iter().min().copied()).unwrap_or(0)
}

/// Whether a connection knows a top-level key: it reads it, or declares it.
pub(crate) type Known<'a> = &'a dyn Fn(&str) -> bool;

/// Knows every key: only secret-named values and URL passwords are masked.
#[cfg_attr(
    not(feature = "doctor"),
    expect(dead_code, reason = "only the doctor masks this way")
)]
pub(crate) const EVERY_KEY: fn(&str) -> bool = |_| true;

/// Knows no key but the harmless names: before a connection has read anything.
pub(crate) const NO_KEY: fn(&str) -> bool = |_| false;

/// The values to mask in `table`: every value under a secret-named key (at
/// any depth), every value under a top-level key that is neither `known` nor
/// harmless, and the password of any URL (and its secret-named query
/// parameters) and of any `password=...` pair in a connection string.
pub(crate) fn collect_secrets(table: &Table, known: Known<'_>, out: &mut Vec<String>) {
    for (k, v) in table {
        if is_secret_key(k) || !(known(k) || is_harmless_key(k)) {
            all_scalars(v, out);
        } else {
            walk(v, out);
        }
    }
}

/// Below a known key: secret-named keys and embedded passwords only.
fn walk(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => embedded_secrets(s, out),
        Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        Value::Table(t) => {
            for (k, v) in t {
                if is_secret_key(k) {
                    all_scalars(v, out);
                } else {
                    walk(v, out);
                }
            }
        }
        _ => {}
    }
}

/// `text` with the values [`collect_secrets`] finds in `table` replaced by `***`.
pub(crate) fn redact(text: &str, table: &Table, known: Known<'_>) -> String {
    let mut secrets = Vec::new();
    collect_secrets(table, known, &mut secrets);
    mask(text, secrets)
}

/// Every string and number inside `v`, as text, and the secrets embedded
/// in its strings (a text may quote only the password of a masked URL).
pub(crate) fn all_scalars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            out.push(s.clone());
            embedded_secrets(s, out);
        }
        Value::Integer(i) => out.push(i.to_string()),
        Value::Float(f) => out.push(f.to_string()),
        Value::Array(a) => a.iter().for_each(|v| all_scalars(v, out)),
        Value::Table(t) => t.values().for_each(|v| all_scalars(v, out)),
        Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

/// The secrets inside a string value: the password of a URL-like string
/// (`scheme://user:password@host`), as written and percent-decoded, its
/// secret-named query parameters, and the values of secret-named
/// `name=value` pairs of a connection string (`host=db password=x`,
/// `Server=db;Password=x`).
fn embedded_secrets(s: &str, out: &mut Vec<String>) {
    if let Some((_, rest)) = s.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            out.push(password.to_owned());
            out.extend(percent_decode(password));
        }
    }
    for pair in s.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '?')) {
        if let Some((k, v)) = pair.split_once('=')
            && is_secret_key(k)
        {
            let v = v.trim_matches(['\'', '"']);
            if !v.is_empty() {
                out.push(v.to_owned());
                out.extend(percent_decode(v));
            }
        }
    }
}

/// Decodes `%XX` escapes (a stray `%` stays as it is); `None` if the result
/// is not UTF-8: a user or password read out of a URL. See [`author`](crate::author).
///
/// # Examples
///
/// ```
/// use connections_core::author::percent_decode;
///
/// assert_eq!(percent_decode("p%40ss%zz").as_deref(), Some("p@ss%zz"));
/// assert_eq!(percent_decode("%FF"), None);
/// ```
pub fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Replaces each of `secrets` (and its escaped form) found as a whole word in `text` with `***`.
pub(crate) fn mask(text: &str, mut secrets: Vec<String>) -> String {
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut out = text.to_owned();
    for s in secrets {
        if s.chars().count() < 3 {
            continue; // too short to be a secret, and replacing it would mangle the text
        }
        let escaped = format!("{s:?}");
        let escaped = &escaped[1..escaped.len() - 1];
        out = replace_words(&out, &s);
        if escaped != s {
            out = replace_words(&out, escaped);
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with each occurrence of `needle` that is not part of a longer word replaced by `***`.
fn replace_words(text: &str, needle: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let starts_word = needle.chars().next().is_some_and(is_word);
    let ends_word = needle.chars().next_back().is_some_and(is_word);
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(needle) {
        let prev = rest[..at].chars().next_back().or(before);
        let next = rest[at + needle.len()..].chars().next();
        let inside_a_word = (starts_word && prev.is_some_and(is_word)) || (ends_word && next.is_some_and(is_word));
        let head = &rest[..at];
        out.push_str(head);
        if inside_a_word {
            // Keep the first character and search on after it.
            let first = needle.chars().next().map_or(0, char::len_utf8);
            out.push_str(&needle[..first]);
            before = needle[..first].chars().next_back();
            rest = &rest[at + first..];
        } else {
            out.push_str("***");
            before = needle.chars().next_back();
            rest = &rest[at + needle.len()..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_their_near_misses_are_secret() {
        for key in [
            "password",
            "PASSWORD",
            "db_password",
            "passwd",
            "pass",
            "pwd",
            "secret",
            "client_secret",
            "token",
            "accessToken",
            "api_key",
            "private_key",
            "credentials",
            "auth",
            // One typo.
            "pasword",
            "passwrd",
            "passowrd",
            "secert",
            "scret",
            "tokn",
            "toekn",
            "api_ky",
            "apikye",
            "credentail",
            // Two and three typos of the longer words.
            "paswrd",
            "pasword_",
            "credntal",
            "db_pasword",
            "clientsecert",
        ] {
            assert!(is_secret_key(key), "{key} should be secret");
        }
    }

    #[test]
    fn names_that_say_what_a_connection_is_about_are_not_secret() {
        for key in HARMLESS.iter().chain(&[
            "sslrootcert",
            "application_name",
            "pool_size",
            "max_connections",
            "idle_timeout",
            "session_timeout",
            "seconds",
            "sector",
            "select",
            "protocol",
            "tokio_threads",
            "replica",
            "tenant",
            "table",
            "tls",
            "ca_file",
            "cluster",
        ]) {
            assert!(!is_secret_key(key), "{key} should not be secret");
        }
    }

    #[test]
    fn unknown_keys_are_masked_known_ones_only_for_their_secrets() {
        let t: Table = r#"
            host = "db.example.com"
            usrname = "typo-user"
            database = "shop"
            dsn = "host=db.example.com password=dsn-pass port=5432"
            tenant = "acme"
            url = "redis://:url-pass@cache:6379/0"
        "#
        .parse()
        .unwrap();
        let text = "db.example.com typo-user shop dsn-pass acme url-pass";
        assert_eq!(
            redact(text, &t, &EVERY_KEY),
            "db.example.com typo-user shop *** acme ***"
        );
        assert_eq!(redact(text, &t, &NO_KEY), "db.example.com *** shop *** *** ***");
        assert_eq!(
            redact(text, &t, &|k: &str| k == "tenant"),
            "db.example.com *** shop *** acme ***"
        );
    }

    #[test]
    fn fuzzy_contains_counts_edits_to_the_nearest_stretch() {
        let d = |text: &str, word: &str| {
            fuzzy_contains(&text.chars().collect::<Vec<_>>(), &word.chars().collect::<Vec<_>>())
        };
        assert_eq!(d("xxpasswordyy", "password"), 0);
        assert_eq!(d("pasword", "password"), 1);
        assert_eq!(d("passowrd", "password"), 1, "a swap is one edit");
        assert_eq!(d("pswrd", "password"), 3);
        assert_eq!(d("host", "password"), 7);
    }

    /// Masks what is secret whatever the connection read: secret-named
    /// values and embedded passwords only.
    fn secrets_only(text: &str, table: &Table) -> String {
        redact(text, table, &EVERY_KEY)
    }

    #[test]
    fn secrets_are_masked_and_everything_else_stays_readable() {
        let t: Table = r#"
            type = "sql"
            dialect = "postgresql"
            host = "db.example.com"
            database = "shop"
            username = "app"
            password = "Hunter2pw"
            api_TOKEN = "tok-123"
            url = "postgresql://app:S3cr%40t@db.example.com:5432/shop?sslpassword=pem-pass&sslmode=require"
            [create_engine_kwargs.connect_args]
            sslkey = "/run/keys/client.key"
            private_key = { pem = "-----BEGIN KEY-----" }
            pin = 0
            [credentials]
            pin = 123456
        "#
        .parse()
        .unwrap();
        let text = "database \"shop\" does not exist for app at db.example.com:5432 (sql, sqlx_s_1); \
                    Hunter2pw tok-123 S3cr%40t S3cr@t pem-pass /run/keys/client.key -----BEGIN KEY----- 123456";
        assert_eq!(
            secrets_only(text, &t),
            "database \"shop\" does not exist for app at db.example.com:5432 (sql, sqlx_s_1); \
             *** *** *** *** *** *** *** ***"
        );
        assert_eq!(
            secrets_only("bad password Hunter2pw given", &t),
            "bad password *** given"
        );
    }

    #[test]
    fn secrets_are_never_masked_inside_a_word() {
        let t: Table = "password = 'rejected'\ntoken = 'abc'".parse().unwrap();
        assert_eq!(
            secrets_only("TLS upgrade rejected; unrejected abcd xabc abc.", &t),
            "TLS upgrade ***; unrejected abcd xabc ***."
        );
        // A secret with non-word edges is found wherever it sits.
        let t: Table = "password = '-p@ss-'".parse().unwrap();
        assert_eq!(secrets_only("x-p@ss-y", &t), "x***y");
    }
}
