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
        /// Secrets files (`.toml`) or directories to read, in order, instead of
        /// the defaults (`CONNECTIONS_SECRETS_PATH`, else `~/.streamlit/secrets.toml`
        /// then `./.streamlit/secrets.toml`).
        paths: Vec<PathBuf>,
    },
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
            paths,
        } => {
            let registry = builder(paths).build();
            let color = match color {
                Color::Auto => None,
                Color::Always => Some(true),
                Color::Never => Some(false),
            };
            doctor::run_with(
                &registry,
                // Outside the application: its own types are not registered here.
                &doctor::Options::default()
                    .standalone(true)
                    .connect(connect)
                    .json(json)
                    .color(color),
            )
        }
        Command::Exec { secrets, command } => exec(&builder(secrets).build(), &command),
    }
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
