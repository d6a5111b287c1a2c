//! Opening a section's store: the root, the provider's keys as
//! `object_store` reads them (with the names Streamlit's `FilesConnection`
//! passes to fsspec mapped onto them), and the client's timeouts, retries
//! and TLS.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use connections_core::{Config, Error};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::{Certificate, ClientConfigKey, ClientOptions, ObjectStore, RetryConfig};
use serde_json::Value;

/// The kinds of store a section can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Local,
    Memory,
    S3,
    Gcs,
    Azure,
}

impl Kind {
    /// The kind a URL scheme or a Streamlit `protocol` names.
    fn from_scheme(scheme: &str) -> Option<Self> {
        Some(match scheme {
            "file" | "local" => Self::Local,
            "memory" => Self::Memory,
            "s3" | "s3a" => Self::S3,
            "gs" | "gcs" => Self::Gcs,
            "az" | "abfs" | "abfss" | "azure" | "adl" => Self::Azure,
            _ => return None,
        })
    }

    /// Whether the store is reached over the network.
    pub(crate) fn is_cloud(self) -> bool {
        matches!(self, Self::S3 | Self::Gcs | Self::Azure)
    }

    /// The URL scheme a root of this kind is written with.
    fn scheme(self) -> &'static str {
        match self {
            Self::Local => "file",
            Self::Memory => "memory",
            Self::S3 => "s3",
            Self::Gcs => "gs",
            Self::Azure => "az",
        }
    }

    /// What `describe()` calls it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Local => "local disk",
            Self::Memory => "memory",
            Self::S3 => "S3",
            Self::Gcs => "Google Cloud Storage",
            Self::Azure => "Azure Blob Storage",
        }
    }

    /// Who `id` is to the store: an access key id, an account, a service account.
    pub(crate) fn who(self, id: &str) -> String {
        match self {
            Self::S3 => format!("access key id `{id}`"),
            Self::Azure => format!("account `{id}`"),
            _ => format!("service account `{id}`"),
        }
    }

    /// What the store calls the top level of its names.
    pub(crate) fn bucket_word(self) -> &'static str {
        if self == Self::Azure { "container" } else { "bucket" }
    }
}

/// The keys of a section that are this crate's, never a provider's.
const OWN_KEYS: &[&str] = &[
    "type",
    "url",
    "root",
    "protocol",
    "timeout",
    "connect_timeout",
    "retries",
    "retry_timeout",
    "ca_file",
    "allow_http",
    "client_kwargs",
    "anon",
];

/// Where a section's files are.
#[derive(Clone, Debug)]
pub(crate) struct Root {
    pub(crate) kind: Kind,
    /// The root as a URL; `None` where each path starts with its bucket, as
    /// Streamlit's `FilesConnection` writes them (`my-bucket/data/rows.csv`).
    pub(crate) url: Option<url::Url>,
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.url {
            Some(url) => write!(f, "{url}"),
            None => write!(f, "{}://", self.kind.scheme()),
        }
    }
}

/// The root of `config`: its `url` or `root`; or, as Streamlit's
/// `FilesConnection` reads a section, its `protocol` or the connection's
/// name (`s3`, `gcs`, `az`...) with each path starting with its bucket.
pub(crate) fn root(config: &Config) -> Result<Root, Error> {
    let protocol = config.get_opt::<String>("protocol")?;
    let (key, written) = match (config.get_opt::<String>("url")?, config.get_opt::<String>("root")?) {
        (Some(url), None) => ("url", url),
        (None, Some(root)) => ("root", root),
        (Some(_), Some(_)) => {
            return Err(config.invalid("root", "is set with `url`; they say the same thing: keep one"));
        }
        (None, None) => return bucket_in_path(config, protocol.as_deref()),
    };
    let url = url::Url::parse(&written).map_err(|error| {
        config.invalid(
            key,
            format!("is not a URL ({error}); write `s3://bucket/prefix`, `gs://bucket`, `az://container`, `file:///path/to/dir` or `memory://`"),
        )
    })?;
    let Some(kind) = Kind::from_scheme(url.scheme()) else {
        let hint = if matches!(url.scheme(), "http" | "https") {
            " (an S3-protocol server's address goes in `endpoint_url`, with `url = \"s3://bucket\"`)"
        } else {
            ""
        };
        return Err(config.invalid(
            key,
            format!(
                "has the scheme `{}`, which names no store; write `s3://bucket/prefix`, `gs://bucket`, `az://container`, `file:///path/to/dir` or `memory://`{hint}",
                url.scheme()
            ),
        ));
    };
    if let Some(protocol) = protocol
        && Kind::from_scheme(&protocol) != Some(kind)
    {
        return Err(config.invalid(
            "protocol",
            format!(
                "is `{protocol}` while `{key}` is a `{}://` URL; keep one of them",
                url.scheme()
            ),
        ));
    }
    if kind.is_cloud() && url.host_str().is_none_or(str::is_empty) {
        return Err(config.invalid(
            key,
            format!(
                "names no {word}; write `{}://<{word}>/<prefix>`",
                url.scheme(),
                word = kind.bucket_word()
            ),
        ));
    }
    Ok(Root { kind, url: Some(url) })
}

/// A section without `url` or `root`: Streamlit's shape, where the protocol
/// is the `protocol` key or the connection's name and paths carry the bucket.
fn bucket_in_path(config: &Config, protocol: Option<&str>) -> Result<Root, Error> {
    let (named, from_key) = match protocol {
        Some(protocol) => (protocol, true),
        None => (config.name(), false),
    };
    match Kind::from_scheme(named) {
        Some(Kind::Memory) => Ok(Root {
            kind: Kind::Memory,
            url: Some(url::Url::parse("memory:///").map_err(|error| config.invalid("protocol", error.to_string()))?),
        }),
        Some(kind) if kind.is_cloud() => Ok(Root { kind, url: None }),
        _ if !from_key => Err(config.missing("url")),
        Some(_) => Err(config.invalid(
            "protocol",
            "names the local disk without a folder; write `url = \"file:///path/to/dir\"`: every path stays below it (Streamlit's FilesConnection reads from the working directory, and anywhere else)",
        )),
        None => Err(config.invalid(
            "protocol",
            format!("is `{named}`, which names no store; write `s3`, `gcs`, `az`, `file` or `memory`, or a `url`"),
        )),
    }
}

/// A setting's value, as the provider's builder reads it.
fn text_of(config: &Config, key: &str, value: &Value) -> Result<String, Error> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(config.invalid(
            key,
            "is a table or an array; the store reads a string, number or boolean here",
        )),
    }
}

/// A number of seconds, or a duration `object_store` reads (`"30s"`, `"2m"`).
fn duration_text(config: &Config, key: &str) -> Result<Option<String>, Error> {
    match config.get_opt::<Value>(key)? {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs.is_finite() && secs > 0.0 => Ok(Some(format!("{}ms", (secs * 1000.0).round()))),
            _ => Err(config.invalid(key, "must be a positive number of seconds, e.g. `30`")),
        },
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(config.invalid(
            key,
            "must be a number of seconds, e.g. `30`, or a duration such as `\"30s\"`",
        )),
    }
}

fn seconds(config: &Config, key: &str) -> Result<Option<Duration>, Error> {
    match config.get_opt::<f64>(key)? {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| config.invalid(key, "must be a positive number of seconds, e.g. `30`")),
    }
}

/// How to open a section's store: the same for its root's bucket or, in
/// Streamlit's shape, for each bucket a path names.
#[derive(Clone)]
pub(crate) struct Recipe {
    kind: Kind,
    /// The provider's keys, under the names `object_store` reads.
    options: Vec<(String, String)>,
    client: ClientOptions,
    retry: RetryConfig,
    /// Who the store is asked as, for errors: an access key id, an account, a client email.
    pub(crate) identity: Option<String>,
}

impl fmt::Debug for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipe")
            .field("kind", &self.kind)
            .field("keys", &self.options.iter().map(|(key, _)| key).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Streamlit's (fsspec's) names for S3 settings, and the names `object_store` reads.
const S3FS_NAMES: &[(&str, &str)] = &[
    ("key", "access_key_id"),
    ("secret", "secret_access_key"),
    ("region_name", "region"),
    ("endpoint_url", "endpoint"),
];

/// The provider's keys of `config` under `object_store`'s names, where
/// each was written, and a CA file named by `ca_file` or botocore's `verify`.
type ProviderKeys = (Vec<(String, String)>, HashMap<String, String>, Option<(String, String)>);

/// The provider's keys of `config`, for a store of `kind`.
fn provider_keys(config: &Config, kind: Kind) -> Result<ProviderKeys, Error> {
    let mut options: Vec<(String, String)> = Vec::new();
    let mut origin_of: HashMap<String, String> = HashMap::new();
    let mut push = |options: &mut Vec<(String, String)>, written: &str, key: &str, value: String| {
        origin_of.insert(key.to_owned(), written.to_owned());
        options.push((key.to_owned(), value));
    };
    let rename = |key: &str| -> String {
        if kind == Kind::S3 {
            for (streamlit, ours) in S3FS_NAMES {
                if key == *streamlit {
                    return (*ours).to_owned();
                }
            }
        }
        key.to_owned()
    };
    let gcs_key_file = kind == Kind::Gcs && config.contains("private_key");
    let mut ca_file = config
        .get_opt::<String>("ca_file")?
        .map(|path| ("ca_file".to_owned(), path));
    for key in config.keys().filter(|key| !OWN_KEYS.contains(key)) {
        let Some(value) = config.get_opt::<Value>(key)? else {
            continue;
        };
        if gcs_key_file {
            // Streamlit's shape for GCS: the section is the service account's key file.
            continue;
        }
        if kind == Kind::Gcs && key == "token" {
            // gcsfs's `token`: a key file's path, or how to find credentials.
            match text_of(config, key, &value)?.as_str() {
                "anon" => push(&mut options, key, "skip_signature", "true".to_owned()),
                "google_default" | "cloud" => {}
                path => push(&mut options, key, "service_account_path", path.to_owned()),
            }
            continue;
        }
        let text = text_of(config, key, &value)?;
        push(&mut options, key, &rename(key), text);
    }
    if gcs_key_file {
        let mut file = serde_json::Map::new();
        for key in config.keys().filter(|key| !OWN_KEYS.contains(key) || *key == "type") {
            if let Some(value) = config.get_opt::<Value>(key)? {
                file.insert(key.to_owned(), value);
            }
        }
        file.entry("type").or_insert_with(|| Value::from("service_account"));
        push(
            &mut options,
            "private_key",
            "service_account_key",
            Value::Object(file).to_string(),
        );
    }
    if let Some(kwargs) = config.get_opt::<HashMap<String, Value>>("client_kwargs")? {
        if kind != Kind::S3 {
            return Err(config.invalid(
                "client_kwargs",
                "is s3fs's table of botocore settings; a non-S3 store takes its keys at the top of the section",
            ));
        }
        for (key, value) in kwargs {
            let written = format!("client_kwargs.{key}");
            if key == "verify" {
                // botocore's `verify`: a CA bundle's path, or `false` to check no certificate.
                match value {
                    Value::String(path) => ca_file = Some((written, path)),
                    Value::Bool(true) => {}
                    _ => {
                        return Err(config.invalid(
                            written,
                            "turns certificate checks off, which this crate never does; name the CA that signed the server's certificate instead (`verify = \"/path/to/ca.pem\"` or `ca_file`)",
                        ));
                    }
                }
                continue;
            }
            let text = text_of(config, &written, &value)?;
            push(&mut options, &written, &rename(&key), text);
        }
    }
    if config.get_opt::<bool>("anon")? == Some(true) {
        push(&mut options, "anon", "skip_signature", "true".to_owned());
    }
    Ok((options, origin_of, ca_file))
}

/// The recipe of `config` for a store of `kind`.
pub(crate) fn recipe(config: &Config, kind: Kind) -> Result<Recipe, Error> {
    let (options, origin_of, ca_file) = provider_keys(config, kind)?;
    for (key, _) in &options {
        let known = match kind {
            Kind::S3 => key.parse::<AmazonS3ConfigKey>().is_ok(),
            Kind::Gcs => key.parse::<GoogleConfigKey>().is_ok(),
            Kind::Azure => key.parse::<AzureConfigKey>().is_ok(),
            Kind::Local | Kind::Memory => false,
        };
        let written = origin_of.get(key).map_or(key.as_str(), String::as_str);
        if !kind.is_cloud() {
            return Err(config.invalid(
                written,
                format!("is a cloud store's setting; the {} store reads none", kind.label()),
            ));
        }
        if kind == Kind::Azure && key == "connection_string" {
            return Err(config.invalid(
                written,
                "is adlfs's connection string, which object_store does not read; write its `AccountName` as `account_name` and its `AccountKey` as `account_key` (or its `SharedAccessSignature` as `sas_token`)",
            ));
        }
        if !known {
            return Err(config.invalid(
                written,
                format!(
                    "is not a setting of the {} store; the keys are object_store's (for S3: `access_key_id` or `key`, `secret_access_key` or `secret`, `region`, `endpoint_url`...), each listed in the connections-files docs",
                    kind.label()
                ),
            ));
        }
    }
    let client = client_options(config, kind, &options, &origin_of, ca_file)?;
    let mut retry = RetryConfig::default();
    if let Some(retries) = config.get_opt::<usize>("retries")? {
        retry.max_retries = retries;
    }
    if let Some(limit) = seconds(config, "retry_timeout")? {
        retry.retry_timeout = limit;
    }
    // Who asks: an access key id, a storage account, a service account's email.
    let option = |names: &[&str]| {
        options
            .iter()
            .find(|(key, _)| names.contains(&key.as_str()))
            .map(|(_, value)| value.clone())
    };
    let identity = match kind {
        Kind::S3 => option(&["access_key_id", "aws_access_key_id"]),
        Kind::Azure => option(&["account_name", "azure_storage_account_name"]),
        Kind::Gcs => config.get_opt::<String>("client_email")?,
        Kind::Local | Kind::Memory => None,
    };
    Ok(Recipe {
        kind,
        options,
        client,
        retry,
        identity,
    })
}

/// The HTTP client's options of `config`: the CA to trust, plain HTTP only
/// when asked, the timeouts.
fn client_options(
    config: &Config,
    kind: Kind,
    options: &[(String, String)],
    origin_of: &HashMap<String, String>,
    ca_file: Option<(String, String)>,
) -> Result<ClientOptions, Error> {
    let mut client = ClientOptions::new();
    if let Some((key, path)) = ca_file {
        let pem = std::fs::read(&path)
            .map_err(|error| config.invalid(&key, format!("could not be read from `{path}` ({error})")))?;
        let certificates = Certificate::from_pem_bundle(&pem)
            .map_err(|error| config.invalid(&key, format!("`{path}` is not a PEM file of certificates ({error})")))?;
        if certificates.is_empty() {
            return Err(config.invalid(key, format!("`{path}` holds no PEM certificate")));
        }
        for certificate in certificates {
            client = client.with_root_certificate(certificate);
        }
    }
    // The same settings under a provider's prefix (`aws_allow_http`...) are the same decision.
    let unprefixed = |key: &str| {
        ["aws_", "google_", "azure_"]
            .iter()
            .find_map(|prefix| key.strip_prefix(prefix))
            .unwrap_or(key)
            .to_owned()
    };
    let mut allow_http = config.get_opt::<bool>("allow_http")?.unwrap_or(false);
    for (key, value) in options {
        let written = origin_of.get(key).map_or(key.as_str(), String::as_str);
        match unprefixed(key).as_str() {
            "allow_http" => allow_http |= value.eq_ignore_ascii_case("true"),
            "allow_invalid_certificates" if !value.eq_ignore_ascii_case("false") => {
                return Err(config.invalid(
                    written,
                    "turns certificate checks off, which this crate never does; name the CA that signed the server's certificate with `ca_file` instead",
                ));
            }
            _ => {}
        }
    }
    client = client.with_allow_http(allow_http);
    for key in ["timeout", "connect_timeout"] {
        if let Some(text) = duration_text(config, key)? {
            let parsed: ClientConfigKey = key
                .parse()
                .map_err(|error: object_store::Error| config.invalid(key, error.to_string()))?;
            client = client.with_config(parsed, text);
        }
    }
    if !allow_http
        && let Some((key, endpoint)) = options
            .iter()
            .find(|(key, value)| is_endpoint(kind, key) && value.to_ascii_lowercase().starts_with("http://"))
    {
        let written = origin_of.get(key).map_or(key.as_str(), String::as_str);
        return Err(config.invalid(
            written,
            format!(
                "is a plain `http://` address ({endpoint}), which sends every object unencrypted; use `https://`, or set `allow_http = true` to allow it (a test server on localhost, say)"
            ),
        ));
    }
    Ok(client)
}

/// Whether `key` names the store's address.
fn is_endpoint(kind: Kind, key: &str) -> bool {
    match kind {
        Kind::S3 => matches!(
            key.parse::<AmazonS3ConfigKey>(),
            Ok(AmazonS3ConfigKey::Endpoint | AmazonS3ConfigKey::S3Endpoint)
        ),
        Kind::Azure => matches!(key.parse::<AzureConfigKey>(), Ok(AzureConfigKey::Endpoint)),
        Kind::Gcs => matches!(key.parse::<GoogleConfigKey>(), Ok(GoogleConfigKey::BaseUrl)),
        Kind::Local | Kind::Memory => false,
    }
}

impl Recipe {
    /// The store at `url` (a cloud store's bucket and prefix are in it).
    /// The store at `url`, and the prefix of `url`'s path within it.
    pub(crate) fn open(&self, url: &url::Url) -> Result<(Arc<dyn ObjectStore>, Path), object_store::Error> {
        if self.kind.is_cloud() {
            // reqwest's rustls needs a process-wide provider: ring, unless the application chose one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // Each cloud builder reads the same things the same way.
        macro_rules! build {
            ($builder:ty) => {{
                let mut builder = <$builder>::from_env()
                    .with_url(url.as_str())
                    .with_client_options(self.client.clone())
                    .with_retry(self.retry.clone());
                for (key, value) in &self.options {
                    builder = builder.with_config(key.parse()?, value);
                }
                let objects: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
                (objects, Path::from_url_path(url.path())?)
            }};
        }
        Ok(match self.kind {
            Kind::Local | Kind::Memory => {
                let (objects, prefix) = object_store::parse_url(url)?;
                (Arc::from(objects), prefix)
            }
            Kind::S3 => build!(AmazonS3Builder),
            Kind::Gcs => build!(GoogleCloudStorageBuilder),
            Kind::Azure => build!(MicrosoftAzureBuilder),
        })
    }
}

/// Where each path of a connection lands.
pub(crate) enum Layout {
    /// One store, every path below its root.
    Rooted(Arc<dyn ObjectStore>),
    /// Streamlit's shape: each path's first segment is its bucket.
    Buckets(Box<Buckets>),
}

/// The stores of a section in Streamlit's shape, one per bucket, each
/// opened on first use and kept.
pub(crate) struct Buckets {
    pub(crate) recipe: Recipe,
    pub(crate) opened: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Buckets {
    /// The store of `bucket`.
    pub(crate) fn open(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(objects) = opened.get(bucket) {
            return Ok(Arc::clone(objects));
        }
        let url = url::Url::parse(&format!("{}://{bucket}", self.recipe.kind.scheme())).map_err(|error| {
            object_store::Error::Generic {
                store: "files",
                source: Box::new(error),
            }
        })?;
        let (objects, _) = self.recipe.open(&url)?;
        opened.insert(bucket.to_owned(), Arc::clone(&objects));
        Ok(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, toml: &str) -> Config {
        Config::from_toml(name, toml).unwrap()
    }

    fn option<'r>(recipe: &'r Recipe, key: &str) -> Option<&'r str> {
        recipe.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn s3fs_names_map_onto_object_stores() {
        let config = config(
            "s3",
            "key = 'AKID'\nsecret = 's'\ntoken = 't'\nendpoint_url = 'https://minio:9000'\nclient_kwargs = { region_name = 'eu-west-1' }\nanon = false",
        );
        let root = root(&config).unwrap();
        assert_eq!(
            (root.kind, root.url.is_none()),
            (Kind::S3, true),
            "the protocol from the name"
        );
        let recipe = recipe(&config, root.kind).unwrap();
        assert_eq!(option(&recipe, "access_key_id"), Some("AKID"));
        assert_eq!(option(&recipe, "secret_access_key"), Some("s"));
        assert_eq!(option(&recipe, "token"), Some("t"));
        assert_eq!(option(&recipe, "endpoint"), Some("https://minio:9000"));
        assert_eq!(option(&recipe, "region"), Some("eu-west-1"));
        assert_eq!(option(&recipe, "skip_signature"), None);
        assert_eq!(recipe.identity.as_deref(), Some("AKID"));
        let store = recipe.open(&url::Url::parse("s3://bucket").unwrap());
        assert!(store.is_ok(), "{store:?}");
    }

    #[test]
    fn a_gcs_section_holding_the_key_files_fields_is_that_key_file() {
        // Streamlit's shape for GCS: the service account's JSON key file, field by field.
        let config = config(
            "gcs",
            "type = 'service_account'\nproject_id = 'p'\nprivate_key_id = 'k1'\nprivate_key = '-----BEGIN PRIVATE KEY-----\\n-----END PRIVATE KEY-----\\n'\nclient_email = 'app@p.iam.gserviceaccount.com'\ntoken_uri = 'https://oauth2.googleapis.com/token'",
        );
        let root = root(&config).unwrap();
        assert_eq!(root.kind, Kind::Gcs);
        let gcs = recipe(&config, root.kind).unwrap();
        let key: Value = serde_json::from_str(option(&gcs, "service_account_key").unwrap()).unwrap();
        assert_eq!(key["type"], "service_account");
        assert_eq!(key["client_email"], "app@p.iam.gserviceaccount.com");
        assert_eq!(key["private_key_id"], "k1");
        assert_eq!(gcs.options.len(), 1, "{gcs:?}");
        assert_eq!(gcs.identity.as_deref(), Some("app@p.iam.gserviceaccount.com"));
        // gcsfs's `token` as a key file's path.
        let config = Config::from_toml("g", "url = 'gs://b'\ntoken = '/etc/gcs.json'").unwrap();
        let by_path = recipe(&config, Kind::Gcs).unwrap();
        assert_eq!(option(&by_path, "service_account_path"), Some("/etc/gcs.json"));
    }

    #[test]
    fn an_azure_section_opens_a_container() {
        let config = config(
            "az",
            "url = 'az://reports'\naccount_name = 'acct'\naccount_key = 'a2V5'",
        );
        let root = root(&config).unwrap();
        assert_eq!(root.kind, Kind::Azure);
        let recipe = recipe(&config, root.kind).unwrap();
        assert_eq!(recipe.identity.as_deref(), Some("acct"));
        let store = recipe.open(root.url.as_ref().unwrap());
        assert!(store.is_ok(), "{store:?}");
    }

    #[test]
    fn adlfs_connection_string_is_refused_with_what_to_write_never_shown() {
        let refused = Config::from_toml(
            "az",
            "url = 'az://reports'\nconnection_string = 'AccountName=acct;AccountKey=c2VjcmV0'",
        )
        .unwrap();
        let err = recipe(&refused, Kind::Azure).unwrap_err().to_string();
        assert!(err.contains("`account_name`"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}
