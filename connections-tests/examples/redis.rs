//! The first-party Redis connection, `type = "redis"`, configured by
//! `[connections.cache]` in a Streamlit-style `.streamlit/secrets.toml`.
//!
//! Run it with `CONNECTIONS_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo run
//! -p connections-tests --example redis` against a Redis server; without
//! the variable it says so and stops (`.ci/run` sets it).

use std::time::Duration;

use connections::prelude::*;
use connections::redis::RedisConnection;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let Ok(url) = std::env::var("CONNECTIONS_TEST_REDIS_URL") else {
        println!("skipped: set CONNECTIONS_TEST_REDIS_URL to a Redis server, e.g. redis://127.0.0.1:6379");
        return Ok(());
    };
    let secrets = format!(
        "# .streamlit/secrets.toml, as a Streamlit app has it
[connections.cache]
type = \"redis\"
url = \"{url}\"
response_timeout = 2        # seconds a command may wait (default 5)
"
    );
    // Work in a fresh directory so `./.streamlit/secrets.toml` is ours.
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join(".streamlit"))?;
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), &secrets)?;
    std::env::set_current_dir(dir.path())?;
    println!("wrote .streamlit/secrets.toml in {}:\n{secrets}", dir.path().display());

    let cache = connections::connection::<RedisConnection>("cache")?;
    println!("1. describe, without connecting: {}", cache.describe()?);

    let key = format!("connections_example:{}", std::process::id());
    cache.set(&key, "hello", Some(Duration::from_mins(1))).await?;
    println!(
        "2. SET {key} hello PX 60000, then GET: {:?}",
        cache.get::<String>(&key).await?
    );

    let minute = cache.cached(Duration::from_mins(1));
    println!("3. a cached read: {:?}", minute.get::<String>(&key).await?);
    cache.set(&key, "changed", None).await?;
    println!(
        "4. after a write through the connection, the cached read sees it: {:?}",
        minute.get::<String>(&key).await?
    );

    let visits = format!("{key}:visits");
    cache.incr(&visits, 1).await?;
    println!("5. INCRBY: {}", cache.incr(&visits, 2).await?);

    let checks = connections::Registry::global().check().await;
    println!("6. the health check (PING): ok = {}", checks.iter().all(|c| c.ok));
    cache.del(&key).await?;
    cache.del(&visits).await?;
    Ok(())
}
