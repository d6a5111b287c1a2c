//! Quickstart: a derived connection to an embedded SQLite database, configured
//! by a Streamlit-style `.streamlit/secrets.toml`.
//!
//! Run it with `cargo run --example quickstart`. It needs no server: it works
//! in a fresh temporary directory, writes the secrets file there, and uses the
//! global registry exactly as an application would.

use std::error::Error as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use connections::prelude::*;

/// A SQLite connection: the raw instance is a `rusqlite::Connection` behind a
/// `Mutex` (it is `Send` but not `Sync`).
#[derive(Connection)]
#[connection(type_name = "sqlite")]
pub struct Sqlite {
    base: BaseConnection<Mutex<rusqlite::Connection>>,
    /// Other fields take their `Default`; this one counts connects.
    connects: AtomicUsize,
}

impl Sqlite {
    /// The one function you write: open the raw connection from the config.
    fn _connect(&self, config: &Config) -> Result<Mutex<rusqlite::Connection>, BoxError> {
        let path: String = config.get("database")?;
        let timeout_ms = config.get_opt::<u64>("busy_timeout_ms")?.unwrap_or(1_000);
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_millis(timeout_ms))?;
        let n = self.connects.fetch_add(1, Ordering::SeqCst) + 1;
        println!("    _connect #{n}: opened {path}");
        Ok(Mutex::new(conn))
    }

    /// A context-specific method, as Streamlit's SQL connection has `query()`.
    pub fn query_scalar(&self, sql: &str, params: impl rusqlite::Params) -> Result<i64, BoxError> {
        let conn = self.instance()?;
        let conn = conn.lock().map_err(|_| "connection lock poisoned")?;
        Ok(conn.query_row(sql, params, |row| row.get(0))?)
    }

    /// Runs a statement with bound parameters; returns the rows changed.
    pub fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, BoxError> {
        let conn = self.instance()?;
        let conn = conn.lock().map_err(|_| "connection lock poisoned")?;
        Ok(conn.execute(sql, params)?)
    }
}

const SECRETS: &str = r#"# .streamlit/secrets.toml, as a Streamlit app has it
[connections.local_db]
type = "sqlite"
database = "quickstart.db"
busy_timeout_ms = 2000
"#;

fn main() -> Result<(), BoxError> {
    // Work in a fresh directory so `./.streamlit/secrets.toml` is ours.
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".streamlit"))?;
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), SECRETS)?;
    std::env::set_current_dir(dir.path())?;
    println!("wrote .streamlit/secrets.toml in {}:\n{SECRETS}", dir.path().display());

    println!("1. look the connection up by name (typed); nothing connects yet");
    let db = connections::connection::<Sqlite>("local_db")?;
    println!("    {}", db.base());
    println!("    connected: {}", db.is_connected());

    println!("2. first use connects, once");
    db.execute("CREATE TABLE visits (page TEXT NOT NULL, n INTEGER NOT NULL)", [])?;
    db.execute("INSERT INTO visits VALUES (?1, ?2), (?3, ?4)", ("home", 3, "about", 1))?;
    let total = db.query_scalar("SELECT SUM(n) FROM visits", [])?;
    println!("    SUM(n) = {total}; connected: {}", db.is_connected());

    println!("3. the same name gives the same cached connection");
    let again = connections::connection::<Sqlite>("local_db")?;
    println!("    same object: {}", std::sync::Arc::ptr_eq(&db, &again));

    println!("4. reset() forgets the raw connection; the next use reconnects");
    db.reset();
    println!("    connected after reset: {}", db.is_connected());
    let pages = db.query_scalar("SELECT COUNT(*) FROM visits WHERE n > ?1", [0])?;
    println!("    {pages} pages with visits, read through the new connection");

    println!("5. many threads that saw the same broken handle reconnect once");
    let broken = db.instance()?;
    let resets: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| usize::from(db.reset_if(&broken)))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    db.instance()?;
    println!(
        "    resets: {resets}; connects so far: {}",
        db.connects.load(Ordering::SeqCst)
    );

    println!("6. look it up by name alone: the type comes from `type = \"sqlite\"`");
    let any = connections::connection_dyn("local_db")?;
    println!("    {any} (type name `{}`)", any.type_name());
    let typed = any.downcast::<Sqlite>().map_err(|_| "not a Sqlite")?;
    println!("    downcast back to Sqlite: {}", std::sync::Arc::ptr_eq(&typed, &db));

    println!("7. mistakes are errors that say what to write");
    std::fs::write(
        ".streamlit/secrets.toml",
        format!("{SECRETS}\n[connections.analytics]\ndatabase = \"a.db\"\n"),
    )?;
    let fresh = connections::Registry::builder().build(); // re-reads the file
    match fresh.connection_dyn("analytics") {
        Ok(_) => return Err("expected a missing `type` error".into()),
        Err(e) => println!("    {e}"),
    }
    match fresh.connection_dyn("analytcs") {
        Ok(_) => return Err("expected a missing section error".into()),
        Err(e) => println!("    {e}"),
    }
    let unopenable = fresh
        .lookup("local_db")
        .kwarg("database", "/nonexistent/dir/x.db")
        .get::<Sqlite>()?;
    if let Err(e) = unopenable.instance() {
        let cause = e.source().map(ToString::to_string).unwrap_or_default();
        println!("    {e}\n      caused by: {cause}");
    }

    println!("done: {} connects in all", db.connects.load(Ordering::SeqCst));
    Ok(())
}
