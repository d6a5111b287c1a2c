//! `FilesSettings`: the keys of a `type = "files"` section as typed
//! settings, so the generic checks and the secrets schema cover it.

use schemars::JsonSchema;
use serde::Deserialize;

/// A `type = "files"` section: where the files are.
#[derive(Deserialize, JsonSchema)]
#[expect(
    dead_code,
    reason = "read for its checks and schema; the connection reads the values itself"
)]
pub(crate) struct FilesSettings {
    /// The root every path is relative to: `file:///path/to/dir` or
    /// `memory://`.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["path", "protocol"]))]
    url: Option<String>,
    /// The same as `url`, under Streamlit's `FilesConnection` name for a
    /// root folder.
    #[schemars(extend("x-harmless" = true))]
    root: Option<String>,
}
