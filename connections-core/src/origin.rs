//! Where configuration comes from: the files and variables a section was
//! read from, and the environment variables that set connection keys.

use std::path::{Path, PathBuf};

/// Where a configuration came from, for "where to add it" messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SourceInfo {
    /// The file holding the `[connections.<name>]` section (the last one that wrote to it).
    pub(crate) section_file: Option<PathBuf>,
    /// Every file that was found and read.
    pub(crate) files: Vec<PathBuf>,
    /// Every path that was searched.
    pub(crate) searched: Vec<PathBuf>,
    /// When there is no section: a likely mistake behind that (a singular
    /// `[connection.<name>]` table, a near-miss section name).
    pub(crate) hint: Option<String>,
}

/// The prefix of environment variables that set connection keys:
/// `CONNECTIONS__<NAME>__<KEY>=value` sets `<key>` in `[connections.<name>]`.
///
/// Deeper keys nest with more `__` (`CONNECTIONS__DB__QUERY__SSLMODE`). A name
/// or key matches an existing section or key whatever its case, and is
/// lowercased otherwise. Values stay text; typed reads turn `5432` or `true`
/// into a number or a boolean when asked for one, so `12345` can still be a
/// password. The environment overrides every file; call-site kwargs override
/// the environment.
///
/// # Examples
///
/// ```
/// assert_eq!(connections_core::ENV_PREFIX, "CONNECTIONS__");
/// ```
pub const ENV_PREFIX: &str = "CONNECTIONS__";

/// How a key set by an environment variable names its origin: "environment
/// variable `CONNECTIONS__DB__PORT`".
pub(crate) const ENV_ORIGIN: &str = "environment variable ";

/// The variable that sets `key` of `[connections.<name>]`, if `origin` (the
/// section's) is an environment variable: a section defined there gets its
/// missing keys there too, not "under [connections.<name>] in" a variable.
pub(crate) fn env_var_for(origin: &Path, name: &str, key: &str) -> Option<String> {
    origin.to_str()?.strip_prefix(ENV_ORIGIN)?;
    Some(format!(
        "{ENV_PREFIX}{}__{}",
        name.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    ))
}
