//! `connections`: checks a Streamlit-style secrets setup before deploy
//! (`doctor`), and runs a command with the top-level secrets in its
//! environment (`exec`), reading the secrets exactly as `connections-core` does.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command as Child, ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use connections::{Registry, RegistryBuilder, doctor};

/// Named, configured connections from Streamlit-style secrets files.
#[derive(Parser)]
#[command(name = "connections", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the secrets as the library reads them: each `[connections.<name>]`
    /// section, where each key came from, its type, and every problem.
    /// Exits with 1 when anything is an error.
    Doctor {
        /// Also connect each connection whose type this command knows (`type = "sql"`)
        /// and report how it went; the others are listed as skipped, with the reason.
        /// Your application's own types are connected by its own doctor
        /// (`connections::doctor::run`).
        #[arg(long)]
        connect: bool,
        /// Print JSON for machines instead of the table.
        #[arg(long)]
        json: bool,
        /// Colour the table: on a terminal unless `NO_COLOR` is set (auto), always, or never.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// A secrets schema your application exported (`Registry::settings_schema()`):
        /// sections of its own types are checked against their settings too,
        /// without building the application.
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// Secrets files (`.toml`) or directories to read, in order, instead of
        /// the defaults (`CONNECTIONS_SECRETS_PATH`, else `~/.streamlit/secrets.toml`
        /// then `./.streamlit/secrets.toml`).
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of a secrets file for the types this command
    /// knows (`type = "sql"`): name it on a `#:schema ./secrets.schema.json`
    /// line at the top of the secrets file, and editors that read JSON
    /// Schemas (Taplo and others) complete and check it. Your application's own types are in
    /// the schema it writes with `Registry::settings_schema()`.
    Schema,
    /// Run a command with the top-level string and number secrets in its
    /// environment, as Streamlit exports them (`AWS_ACCESS_KEY_ID = "..."`).
    Exec {
        /// A secrets file or directory to read instead of the defaults; repeat it for several.
        #[arg(long = "secrets", value_name = "PATH")]
        secrets: Vec<PathBuf>,
        /// The command and its arguments, after `--`: `connections exec -- python app.py`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Doctor {
            connect,
            json,
            color,
            schema,
            paths,
        } => {
            let exported = match schema.map(|path| read_schema(&path)).transpose() {
                Ok(exported) => exported,
                Err(message) => {
                    let _ = writeln!(std::io::stderr(), "connections doctor: {message}");
                    return ExitCode::from(2);
                }
            };
            let registry = builder(paths).build();
            let color = match color {
                Color::Auto => None,
                Color::Always => Some(true),
                Color::Never => Some(false),
            };
            // Outside the application: its own types are not registered here.
            let mut options = doctor::Options::default()
                .standalone(true)
                .connect(connect)
                .json(json)
                .color(color);
            if let Some(exported) = exported {
                options = options.schema(exported);
            }
            doctor::run_with(&registry, &options)
        }
        Command::Schema => {
            let schema = Registry::builder().build().settings_schema();
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            // A closed pipe (`| head`) is no reason to panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Command::Exec { secrets, command } => exec(&builder(secrets).build(), &command),
    }
}

/// A secrets schema from `path`, or what is wrong with it.
fn read_schema(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the schema {}: {e}", path.display()))?;
    let schema: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the schema {} is not JSON: {e}", path.display()))?;
    if schema.get("definitions").is_none_or(|d| !d.is_object()) {
        return Err(format!(
            "the schema {} has no `definitions`; write it with your application's `Registry::settings_schema()`",
            path.display()
        ));
    }
    Ok(schema)
}

/// The library's defaults, or exactly `paths` when any is given.
fn builder(paths: Vec<PathBuf>) -> RegistryBuilder {
    let builder = Registry::builder();
    if paths.is_empty() {
        builder
    } else {
        builder.secrets_paths(paths)
    }
}

/// Runs `command` with the secrets' top-level strings and numbers in its
/// environment; returns only if it could not be started (or, off Unix, when it ends).
fn exec(registry: &Registry, command: &[OsString]) -> ExitCode {
    let fail = |message: String, code: u8| {
        let _ = writeln!(std::io::stderr(), "connections exec: {message}");
        ExitCode::from(code)
    };
    let secrets = match registry.secrets() {
        Ok(secrets) => secrets,
        Err(error) => return fail(error.to_string(), 2),
    };
    let Some((program, args)) = command.split_first() else {
        return fail(
            "no command given; write `connections exec -- COMMAND ARGS...`".to_owned(),
            2,
        );
    };
    let mut child = Child::new(program);
    child.args(args).envs(secrets.env_vars());
    let shown = program.to_string_lossy();
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // Replaces this process: signals and the exit code are the command's own.
        let error = child.exec();
        fail(format!("cannot run `{shown}`: {error}"), 127)
    }
    #[cfg(not(unix))]
    match child.status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(error) => fail(format!("cannot run `{shown}`: {error}"), 127),
    }
}
