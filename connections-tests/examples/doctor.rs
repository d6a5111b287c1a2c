//! The doctor from an application's own binary, where its own connection
//! types are registered: `myapp doctor` checks the secrets the way `myapp`
//! reads them, its `kv` sections included, before deploy.
//!
//! Run it with `cargo run -p connections-tests --example doctor -- doctor`
//! (add `--connect` to connect each connection, its own types included, and
//! run their checks; `--json` for machines); `-- schema` prints the secrets
//! schema of its types, which `connections doctor --schema` reads. Without
//! `doctor` it
//! runs the "application". It writes its secrets to a temporary directory, so
//! it needs no setup.

use std::collections::HashMap;
use std::process::ExitCode;

use connections::prelude::*;
use connections::{Registry, doctor};

/// The settings of the application's `kv` sections: checked before a
/// connect, by `myapp doctor`, and (through `myapp schema`) by the
/// `connections` command and the editors.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvSettings {
    /// Entries the store starts with.
    #[serde(default)]
    seed: HashMap<String, String>,
    /// The most entries it keeps.
    #[schemars(range(min = 1, max = 1_000_000))]
    capacity: Option<u32>,
}

/// The application's own connection type: an in-memory key-value store,
/// seeded from its section's `seed` table.
#[derive(Connection)]
#[connection(type_name = "kv", settings = KvSettings)]
pub struct Kv {
    base: BaseConnection<HashMap<String, String>>,
}

impl Kv {
    // The signature the derive calls; this store needs nothing from `self` and cannot fail.
    #[expect(clippy::unused_self, clippy::unnecessary_wraps)]
    fn _connect(&self, settings: &KvSettings) -> Result<HashMap<String, String>, BoxError> {
        let mut store = settings.seed.clone();
        store.reserve(settings.capacity.map_or(0, |c| c as usize).min(1024));
        Ok(store)
    }
}

fn main() -> Result<ExitCode, BoxError> {
    let dir = tempfile::tempdir()?;
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(
        &secrets,
        r#"[connections.sessions]
type = "kv"
seed = { greeting = "hello" }

[connections.db]
type = "sql"
url = "sqlite::memory:"
"#,
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Secrets readable by others are a warning of the doctor's.
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600))?;
    }
    // The global registry, reading this file: the one the application and its doctor share.
    let registry = Registry::init_global(Registry::builder().secrets_paths([&secrets]))?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("schema") {
        // The secrets schema of this binary's types, for editors and for
        // `connections doctor --schema` in CI.
        println!("{}", serde_json::to_string_pretty(&registry.settings_schema())?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.first().map(String::as_str) == Some("doctor") {
        let options = doctor::Options::default()
            .connect(args.iter().any(|a| a == "--connect"))
            .json(args.iter().any(|a| a == "--json"));
        // The `kv` section's type resolves: `Kv` is registered in this binary.
        return Ok(doctor::run_with(registry, &options));
    }
    let sessions = connections::connection::<Kv>("sessions")?;
    println!("greeting = {}", sessions.instance()?["greeting"]);
    Ok(ExitCode::SUCCESS)
}
