//! `FilesSettings`: the keys of a `type = "files"` section as typed
//! settings, so the generic checks and the secrets schema cover it.
//!
//! The provider's own keys are `object_store`'s (`aws_region`, `region`,
//! `azure_storage_account_name`...); the common ones are listed here for
//! editors and for what errors may show, and the rest are read as written
//! and checked when the store opens. A key not listed is masked in every
//! output, as any unknown key is.

use std::collections::BTreeMap;

use connections_core::Secret;
use schemars::JsonSchema;
use serde::Deserialize;

/// A number of seconds (`30`, `0.5`) or a duration as `object_store` reads it (`"30s"`).
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "read for its checks and schema")]
pub(crate) enum Seconds {
    Number(f64),
    Text(String),
}

/// s3fs's `client_kwargs`, as Streamlit's `FilesConnection` sections write them.
#[derive(Deserialize, JsonSchema)]
#[expect(dead_code, reason = "read for its checks and schema")]
pub(crate) struct ClientKwargs {
    /// The region (`region`).
    #[schemars(extend("x-harmless" = true))]
    region_name: Option<String>,
    /// The S3-protocol server's address (`endpoint_url`).
    #[schemars(extend("x-harmless" = true))]
    endpoint_url: Option<String>,
    /// botocore's `verify`: a CA bundle's path (`ca_file`). `false`, which
    /// checks no certificate, is refused.
    #[schemars(extend("x-harmless" = true))]
    verify: Option<Verify>,
}

/// botocore's `verify`: a path, or a boolean.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "read for its checks and schema")]
pub(crate) enum Verify {
    Path(String),
    Check(bool),
}

/// A `type = "files"` section: where the files are, and as whom.
#[derive(Deserialize, JsonSchema)]
#[expect(
    dead_code,
    reason = "read for its checks and schema; the connection reads the values itself"
)]
pub(crate) struct FilesSettings {
    /// The root every path is relative to: `s3://bucket/prefix`,
    /// `gs://bucket`, `az://container` (or `abfs://`), `file:///path/to/dir`
    /// or `memory://`.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["path"]))]
    url: Option<String>,
    /// The same as `url`, under Streamlit's `FilesConnection` name for a
    /// root folder.
    #[schemars(extend("x-harmless" = true))]
    root: Option<String>,
    /// Streamlit's way to name the store without a `url`: `s3`, `gcs`, `az`,
    /// `memory`. Each path then starts with its bucket. Without `url` or
    /// `protocol`, a connection named `s3`, `gcs` or `az` is one.
    #[schemars(extend("x-harmless" = true))]
    protocol: Option<String>,
    /// S3: the access key id (Streamlit's and s3fs's `key`).
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["aws_access_key_id"]))]
    access_key_id: Option<String>,
    /// S3: the access key id, under s3fs's name.
    #[schemars(extend("x-harmless" = true))]
    key: Option<String>,
    /// S3: the secret access key (s3fs's `secret`); never shown.
    #[schemars(extend("x-aliases" = ["aws_secret_access_key"]))]
    secret_access_key: Option<Secret<String>>,
    /// S3: the secret access key, under s3fs's name; never shown.
    secret: Option<Secret<String>>,
    /// S3: a session token (`session_token`); GCS: a key file's path,
    /// `anon` or `google_default`; Azure: a bearer token. Never shown.
    token: Option<Secret<String>>,
    /// S3: the region.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["aws_region", "region_name"]))]
    region: Option<String>,
    /// An S3-protocol server's address (`MinIO`, R2, a test server):
    /// `https://host:port`; `http://` only with `allow_http = true`.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["endpoint", "aws_endpoint", "aws_endpoint_url"]))]
    endpoint_url: Option<String>,
    /// S3: path-style requests (`false`, the default, for servers that are
    /// not AWS) or virtual-hosted ones (`true`).
    #[schemars(extend("x-harmless" = true))]
    virtual_hosted_style_request: Option<bool>,
    /// s3fs's table of botocore settings.
    client_kwargs: Option<ClientKwargs>,
    /// Anonymous access to a public bucket (s3fs's and adlfs's `anon`).
    #[schemars(extend("x-harmless" = true))]
    anon: Option<bool>,
    /// GCS: a service account key file's path.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["google_service_account"]))]
    service_account_path: Option<String>,
    /// GCS: the service account's email, in Streamlit's shape where the
    /// section holds the key file's fields (`private_key`, `client_email`...).
    #[schemars(extend("x-harmless" = true))]
    client_email: Option<String>,
    /// GCS: the service account key file's project.
    #[schemars(extend("x-harmless" = true))]
    project_id: Option<String>,
    /// GCS: the service account's private key, in Streamlit's shape; never shown.
    private_key: Option<Secret<String>>,
    /// Azure: the storage account.
    #[schemars(extend("x-harmless" = true, "x-aliases" = ["azure_storage_account_name"]))]
    account_name: Option<String>,
    /// Azure: the storage account's key; never shown.
    #[schemars(extend("x-aliases" = ["azure_storage_account_key"]))]
    account_key: Option<Secret<String>>,
    /// Azure: a shared access signature; never shown.
    sas_token: Option<Secret<String>>,
    /// Azure: the container, where `url` does not name it.
    #[schemars(extend("x-harmless" = true))]
    container_name: Option<String>,
    /// Plain HTTP to the store's `endpoint_url`. Off unless set: an
    /// `http://` address without it is refused.
    #[schemars(extend("x-harmless" = true))]
    allow_http: Option<bool>,
    /// A PEM file of the certificates to trust besides the machine's (a
    /// private CA in front of the store).
    #[schemars(extend("x-harmless" = true))]
    ca_file: Option<String>,
    /// How long a whole request may take, in seconds or as `"30s"`
    /// (default 30 s); a body streamed by `open` counts chunk by chunk.
    #[schemars(extend("x-harmless" = true))]
    timeout: Option<Seconds>,
    /// How long a connect may take (default 5 s).
    #[schemars(extend("x-harmless" = true))]
    connect_timeout: Option<Seconds>,
    /// Further attempts of a request after a connect error, a timeout or a
    /// 5xx (default 10; 0 never retries).
    #[schemars(extend("x-harmless" = true))]
    retries: Option<u32>,
    /// Seconds after which a request is no longer retried (default 180).
    #[schemars(extend("x-harmless" = true))]
    retry_timeout: Option<f64>,
    /// Any other key `object_store`'s builder for the store reads
    /// (`aws_session_token`, `azure_storage_sas_key`, `google_bucket`...),
    /// checked when the store opens. Masked in every output.
    #[serde(flatten)]
    provider: BTreeMap<String, serde_json::Value>,
}
