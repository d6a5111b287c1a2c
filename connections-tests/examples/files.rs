//! The first-party files connection, `type = "files"`, configured by
//! `[connections.reports]` in a Streamlit-style `.streamlit/secrets.toml`.
//!
//! `cargo run -p connections-tests --example files` keeps its files in a
//! temporary folder on the local disk. With `CONNECTIONS_TEST_S3_URL` set
//! (`http://<key id>:<secret>@host:port/<bucket>`, as `.ci/run` sets it for
//! its S3-protocol server), the same steps run on that bucket instead.

use std::time::Duration;

use connections::files::FilesConnection;
use connections::prelude::*;
use futures_util::{StreamExt as _, TryStreamExt as _};

#[derive(serde::Deserialize, Debug)]
struct Sale {
    region: String,
    amount: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // Work in a fresh directory so `./.streamlit/secrets.toml` is ours.
    let dir = tempfile::tempdir()?;
    let section = match std::env::var("CONNECTIONS_TEST_S3_URL") {
        Ok(raw) => {
            let url = url::Url::parse(&raw)?;
            format!(
                "url = \"s3://{}/example-{}\"\nendpoint_url = \"http://{}:{}\"\nallow_http = true        # a test server on localhost\nkey = \"{}\"\nsecret = \"{}\"\nregion = \"us-east-1\"",
                url.path().trim_matches('/'),
                std::process::id(),
                url.host_str().unwrap_or_default(),
                url.port().unwrap_or(80),
                url.username(),
                url.password().unwrap_or_default(),
            )
        }
        Err(_) => format!("url = \"file://{}/data\"", dir.path().display()),
    };
    let secrets = format!(
        "# .streamlit/secrets.toml, as a Streamlit app has it
[connections.reports]
type = \"files\"
{section}
timeout = 10                # seconds a request may take
"
    );
    std::fs::create_dir_all(dir.path().join(".streamlit"))?;
    std::fs::create_dir_all(dir.path().join("data"))?;
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), &secrets)?;
    std::env::set_current_dir(dir.path())?;
    println!(
        "wrote .streamlit/secrets.toml in {}:\n{}",
        dir.path().display(),
        redact(&secrets)
    );

    let files = connections::connection::<FilesConnection>("reports")?;
    println!("1. describe, without connecting: {}", files.describe()?);

    files
        .write("sales/2026-12.csv", "region,amount\nnorth,120\nsouth,80\n")
        .await?;
    let hour = Duration::from_hours(1);
    let sales = files.read("sales/2026-12.csv").ttl(hour).records::<Sale>().await?;
    println!("2. records, their format from the extension, cached for an hour: {sales:?}");

    files
        .write("sales/2026-12.csv", "region,amount\nnorth,120\nsouth,80\neast,45\n")
        .await?;
    let sales = files.read("sales/2026-12.csv").ttl(hour).records::<Sale>().await?;
    println!(
        "3. after a write through the connection, the cached read sees it: {} in all, from {}",
        sales.iter().map(|sale| sale.amount).sum::<u32>(),
        sales
            .iter()
            .map(|sale| sale.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A large object, made and sent a part at a time, then read a chunk at a time.
    let parts = futures_util::stream::iter(0..24_u8).map(|n| Ok::<_, std::io::Error>(vec![n; 1 << 20]));
    let written = files.write_stream("archive/big.bin", parts).await?;
    let mut chunks = files.open("archive/big.bin").await?;
    let (mut read, mut count) = (0, 0);
    while let Some(chunk) = chunks.try_next().await? {
        read += chunk.len();
        count += 1;
    }
    println!("4. write_stream sent {written} bytes in parts; open read {read} back in {count} chunks");

    println!("5. list: {:?}", files.list("").await?);
    match files.read("../etc/passwd").bytes().await {
        Err(error) => println!("6. a path that leaves the root: {error}"),
        Ok(_) => return Err("a path outside the root was read".into()),
    }
    let checks = connections::Registry::global().check().await;
    println!(
        "7. the health check (a listing of the root): ok = {}",
        checks.iter().all(|c| c.ok)
    );
    for path in files.list("").await? {
        files.delete(&path).await?;
    }
    Ok(())
}

/// The secrets as printed: the secret key's value masked.
fn redact(secrets: &str) -> String {
    secrets
        .lines()
        .map(|line| {
            if line.starts_with("secret") {
                "secret = \"***\""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
