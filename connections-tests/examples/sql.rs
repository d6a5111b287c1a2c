//! The first-party SQL connection, `type = "sql"`, configured by
//! `[connections.sql]` in a Streamlit-style `.streamlit/secrets.toml`.
//!
//! Run it with `cargo run --example sql`. It needs no server: the secrets
//! point at a SQLite file in a fresh temporary directory. Point `url` at
//! PostgreSQL (`postgresql://user:pass@host/db`) or MySQL/MariaDB
//! (`mysql://user:pass@host/db`) and the same code runs there.

use std::time::Duration;

use connections::Error;
use connections::prelude::*;
use connections::sql::SqlConnection;

const SECRETS: &str = r#"# .streamlit/secrets.toml, as a Streamlit app has it
[connections.sql]
url = "sqlite:///pets.db"   # SQLAlchemy's form: relative to the working directory
pool_size = 4               # SQLAlchemy's name for max_connections
retry_wait = 0.2            # seconds between retries of transient errors
"#;

#[derive(sqlx::FromRow, Clone)]
struct Pet {
    name: String,
    owner: String,
    age: i64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // Work in a fresh directory so `./.streamlit/secrets.toml` is ours.
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".streamlit"))?;
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), SECRETS)?;
    std::env::set_current_dir(dir.path())?;
    println!("wrote .streamlit/secrets.toml in {}:\n{SECRETS}", dir.path().display());

    println!("1. `sql` is a first-party type: a connection named `sql` needs no `type` key");
    let db = connections::connection::<SqlConnection>("sql")?;
    println!("    {db}; connected: {}", db.is_connected());

    println!("2. writes with bound parameters (the first use connects)");
    db.query("CREATE TABLE pets (name TEXT NOT NULL, owner TEXT NOT NULL, age INTEGER NOT NULL)")
        .execute()
        .await?;
    for (name, owner, age) in [("Rex", "Ada", 3), ("Tom", "Alan", 7), ("Kit", "Ada", 11)] {
        db.query("INSERT INTO pets VALUES (?, ?, ?)")
            .bind(name)
            .bind(owner)
            .bind(age)
            .execute()
            .await?;
    }
    println!(
        "    3 rows inserted; dialect {:?}; pets.db exists: {}",
        db.dialect(),
        dir.path().join("pets.db").exists()
    );

    println!("3. rows as your own type");
    let adas: Vec<Pet> = db
        .query("SELECT name, owner, age FROM pets WHERE owner = :owner")
        .param("owner", "Ada")
        .fetch_all()
        .await?;
    for pet in &adas {
        println!("    {} ({}'s), {} years", pet.name, pet.owner, pet.age);
    }

    println!("4. rows as a table, for display");
    let table = db
        .query("SELECT owner, COUNT(*) AS pets, AVG(age) AS mean_age FROM pets GROUP BY owner")
        .fetch_table()
        .await?;
    for line in table.to_string().lines() {
        println!("    {line}");
    }

    println!("5. a ttl caches results per (sql, params, row type)");
    let ttl = Duration::from_mins(1);
    let first = db
        .query("SELECT COUNT(*) AS n FROM pets")
        .ttl(ttl)
        .fetch_table()
        .await?;
    db.query("INSERT INTO pets VALUES ('Bo', 'Alan', 1)").execute().await?;
    let cached = db
        .query("SELECT COUNT(*) AS n FROM pets")
        .ttl(ttl)
        .fetch_table()
        .await?;
    let fresh = db.query("SELECT COUNT(*) AS n FROM pets").fetch_table().await?;
    println!(
        "    cached n = {}, fresh n = {}",
        cached.rows()[0][0],
        fresh.rows()[0][0]
    );
    assert_eq!(first, cached);

    println!("6. a transaction, rolled back");
    let mut tx = db.begin().await?;
    tx.query("DELETE FROM pets").execute().await?;
    tx.rollback().await?;
    let left = db.query("SELECT COUNT(*) AS n FROM pets").fetch_table().await?;
    println!("    still {} pets", left.rows()[0][0]);

    println!("7. errors: a syntax error fails at once (no reset, no retry)");
    let err = db.query("SELEC name FROM pets").fetch_table().await.unwrap_err();
    println!("    {err}");
    if let Error::Operation { attempts, .. } = err {
        println!("    attempts: {attempts}; resets so far: {}", db.generation());
    }

    println!("8. errors: a connection with no configuration says what to write");
    let err = connections::connection::<SqlConnection>("warehouse")?
        .pool()
        .await
        .unwrap_err();
    println!("    {err}");

    println!("9. before exiting: shutdown clears the cache and closes the pool, waiting for it");
    // A clone of the pool inside (not a handle: it does not delay the close) to look at it after.
    let observer = (*db.pool().await?).clone();
    drop(db);
    connections::Registry::global().shutdown().await;
    println!("    pool closed: {}", observer.is_closed());
    assert!(observer.is_closed());

    // Leave the temporary directory before it is deleted.
    std::env::set_current_dir(std::env::temp_dir())?;
    Ok(())
}
