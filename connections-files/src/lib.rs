//! Files and objects, on the `object_store` crate: Streamlit's
//! `FilesConnection` for Rust, on S3 (and S3-protocol servers), Google
//! Cloud Storage, Azure Blob Storage, local disks and memory.
//!
//! [`FilesConnection`] is `type = "files"`: a root (`url` or `root`), and
//! paths relative to it that cannot leave it. [`read`](FilesConnection::read)
//! gives bytes, text, JSON, JSON lines, CSV, or records in the format the
//! extension names, with an optional [`ttl`](Read::ttl) cache that the
//! connection's own [`write`](FilesConnection::write),
//! [`delete`](FilesConnection::delete) and [`copy`](FilesConnection::copy)
//! of a path invalidate at once; [`open`](FilesConnection::open) streams an
//! object larger than memory; [`head`](FilesConnection::head) and
//! [`list`](FilesConnection::list) describe what is there.
//!
//! # Sections
//!
//! ```toml
//! [connections.reports]
//! type = "files"
//! url = "s3://my-bucket/reports"        # gs://bucket, az://container, file:///dir, memory://
//! access_key_id = "AKIA..."             # or s3fs's `key`
//! secret_access_key = "..."             # or s3fs's `secret`
//! region = "eu-west-1"
//! # endpoint_url = "https://minio.internal:9000"   # an S3-protocol server
//! # timeout = 30, connect_timeout = 5, retries = 10, retry_timeout = 180
//! ```
//!
//! The provider's keys are the ones `object_store`'s builders read, under
//! any of their names (`aws_region` or `region`, `azure_storage_account_name`
//! or `account_name`, `google_service_account` or `service_account_path`...);
//! a key no builder reads is an error naming it. Credentials the section
//! does not hold are found as `object_store` finds them: the environment
//! (`AWS_ACCESS_KEY_ID`...), a profile, the instance's role.
//!
//! # A Streamlit section, unchanged
//!
//! Streamlit's `FilesConnection` passes a section's keys to fsspec (s3fs,
//! gcsfs, adlfs). The same section works here; each path then starts with
//! its bucket, as in Streamlit, and the protocol is the `protocol` key or
//! the connection's name:
//!
//! ```toml
//! [connections.s3]            # st.connection("s3", type=FilesConnection)
//! key = "AKIA..."
//! secret = "..."
//! client_kwargs = { region_name = "eu-west-1" }
//! ```
//!
//! | Streamlit (fsspec) | here | |
//! |---|---|---|
//! | `key`, `secret`, `token` | `access_key_id`, `secret_access_key`, `session_token` | either name |
//! | `endpoint_url`, `client_kwargs.endpoint_url` | `endpoint_url` | either place |
//! | `client_kwargs.region_name` | `region` | either place |
//! | `client_kwargs.verify = "/ca.pem"` | `ca_file` | either name |
//! | `client_kwargs.verify = false` | refused | certificates are always checked |
//! | `anon = true` | `skip_signature = true` | either name |
//! | GCS: the key file's fields in the section | `service_account_path`, or the same fields | either |
//! | GCS: `token = "/key.json"` | `service_account_path` | either name |
//! | Azure: `account_name`, `account_key`, `sas_token` | the same | |
//! | Azure: `connection_string` | refused | write `account_name` and `account_key` |
//! | `protocol = "s3"`, or the connection's name | `url = "s3://bucket/prefix"` | a `url` also fences paths below a prefix |
//! | an `http://` `endpoint_url` | needs `allow_http = true` | plain HTTP only when asked |
//! | no protocol: the working directory | `url = "file:///dir"` required | a local root is always named |
//!
//! # Differences from Streamlit, on purpose
//!
//! - Paths never leave the root: `..`, absolute paths and URLs, and encoded
//!   separators are refused before anything is sent.
//! - A cached read is dropped when the connection writes, deletes or copies
//!   onto its path; Streamlit's read cache keeps serving the old body.
//! - Certificates are always checked; plain HTTP needs `allow_http = true`.
//! - Errors name the path, the bucket and the access key id; never a secret.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use connections_core::author::{ReadCache, Redacted};
use connections_core::{BaseConnection, BoxError, Config, Connection, Diagnostic, Error};
use futures_util::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde::de::DeserializeOwned;

mod settings;
mod store;

use store::{Buckets, Kind, Layout};

/// How long [`Registry::check`](connections_core::Registry::check) waits for
/// a `FilesConnection`'s listing of its root.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Files under one root, per `[connections.<name>]` section; see the
/// [crate docs](crate) for the keys of each store.
///
/// ```toml
/// [connections.reports]
/// type = "files"
/// url = "file:///srv/reports"    # or root = ...; s3://bucket/prefix; memory://
/// ```
///
/// An object larger than memory is read through [`open`](Self::open), a
/// chunk at a time, and written through
/// [`write_stream`](Self::write_stream), a part at a time; `read` and
/// `write` hold the whole body.
///
/// Every path is relative to the root: `..`, `.`, a leading `/`, `\`, an
/// absolute URL and encoded separators (`%2F`, `%5C`) or dots (`%2E`) are
/// refused before anything is read or written.
///
/// # Examples
///
/// ```
/// use connections_core::Registry;
/// use connections_files::FilesConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = Registry::builder()
///     .secrets_toml("secrets.toml", "[connections.files]\ntype = 'files'\nurl = 'memory://'")
///     .build();
/// let files = registry.connection::<FilesConnection>("files")?;
/// files.write("greeting.txt", "hello").await?;
/// assert_eq!(files.read("greeting.txt").text().await?, "hello");
/// # Ok::<(), connections_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Connection)]
#[connection(
    type_name = "files",
    async,
    settings = settings::FilesSettings,
    diagnose = FilesConnection::diagnose,
    block_on = block_on
)]
pub struct FilesConnection {
    base: BaseConnection<Store>,
    /// Bodies and rows read with a `ttl`, by path. Held for a lookup or an insert,
    /// never across a read.
    reads: Mutex<ReadCache>,
}

/// Drives a future on a current-thread tokio runtime of its own: how the
/// doctor's `--connect` checks a `FilesConnection` where no runtime runs.
fn block_on(future: Pin<&mut dyn Future<Output = ()>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future);
    Ok(())
}

/// A [`FilesConnection`]'s instance: the store and the root within it.
///
/// # Examples
///
/// ```
/// use connections_core::{Config, Connection};
/// use connections_files::FilesConnection;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
/// let store = files.instance().await?;
/// assert!(store.url().starts_with("memory:"));
/// assert_eq!(store.root().as_ref(), "");
/// assert!(store.object_store().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Store {
    layout: Layout,
    root: Path,
    kind: Kind,
    url: String,
    /// Who the store is asked as (an access key id, an account), for errors.
    identity: Option<String>,
}

impl Store {
    /// The `object_store` the files live in, for what the connection's
    /// methods do not cover; paths in it start with [`root`](Store::root).
    /// `None` for a section in Streamlit's shape (no `url`), where each
    /// path's bucket is a store of its own.
    pub fn object_store(&self) -> Option<&Arc<dyn ObjectStore>> {
        match &self.layout {
            Layout::Rooted(objects) => Some(objects),
            Layout::Buckets(_) => None,
        }
    }

    /// The root within the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The section's root as a URL (`s3://` alone where paths carry their bucket).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Where a path lands: its store and its location in it.
struct Target {
    objects: Arc<dyn ObjectStore>,
    location: Path,
    /// The bucket or container, for errors.
    bucket: Option<String>,
}

impl FilesConnection {
    /// What can be told without opening the store: the root's and the
    /// provider keys' mistakes.
    fn diagnose(config: &Config) -> Vec<Diagnostic> {
        match store::root(config).and_then(|root| store::recipe(config, root.kind)) {
            Ok(_) => Vec::new(),
            Err(error) => vec![Diagnostic::from_error(&error)],
        }
    }

    #[expect(
        clippy::unused_async,
        reason = "an async type's connect is async; opening a store builds its client and sends nothing"
    )]
    async fn _connect(&self, config: &Config) -> Result<Store, Error> {
        let root = store::root(config)?;
        let recipe = store::recipe(config, root.kind)?;
        // The section may point elsewhere now: no read of before is served.
        self.reads().forget_all();
        tracing::debug!(root = %root, "opening the store");
        let identity = recipe.identity.clone();
        let (layout, prefix) = match &root.url {
            Some(url) => {
                let key = if config.contains("url") { "url" } else { "root" };
                let (objects, prefix) = recipe.open(url).map_err(|error| {
                    config.invalid(key, config.redact(&format!("could not be opened as a store ({error})")))
                })?;
                (Layout::Rooted(objects), prefix)
            }
            None => (
                Layout::Buckets(Box::new(Buckets {
                    recipe,
                    opened: Mutex::default(),
                })),
                Path::default(),
            ),
        };
        Ok(Store {
            layout,
            root: prefix,
            kind: root.kind,
            url: root.to_string(),
            identity,
        })
    }

    /// The health check [`Registry::check`](connections_core::Registry::check)
    /// runs: a listing of the root's first level, within [`CHECK_TIMEOUT`].
    /// A section in Streamlit's shape lists each bucket its paths have named.
    async fn _check(&self) -> Result<(), BoxError> {
        let store = self.instance().await?;
        let stores: Vec<(Option<String>, Arc<dyn ObjectStore>)> = match &store.layout {
            Layout::Rooted(objects) => vec![(None, Arc::clone(objects))],
            Layout::Buckets(buckets) => buckets
                .opened
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(bucket, objects)| (Some(bucket.clone()), Arc::clone(objects)))
                .collect(),
        };
        for (bucket, objects) in stores {
            let root = if bucket.is_some() { None } else { Some(&store.root) };
            let listing = objects.list_with_delimiter(root);
            match tokio::time::timeout(CHECK_TIMEOUT, listing).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    let path = bucket.clone().unwrap_or_default();
                    return Err(self.store_error("list", &path, &store, bucket, error).into());
                }
                Err(_) => {
                    return Err(format!(
                        "listing the root of connection `{}` did not answer within {} s",
                        self.name(),
                        CHECK_TIMEOUT.as_secs()
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, ReadCache> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The refusal of a call's `path`.
    fn refuse(&self, operation: &'static str, problem: String) -> Error {
        Error::InvalidCall {
            name: self.name().to_owned(),
            operation,
            problem,
        }
    }

    /// Checks that `path` is a path below the root, or says what to write.
    fn check_path(&self, operation: &'static str, path: &str) -> Result<(), Error> {
        if path.is_empty() {
            return Err(self.refuse(
                operation,
                "the path is empty; name a file below the root, e.g. `data/rows.csv`".to_owned(),
            ));
        }
        if path.contains("://") || path.starts_with('/') || path.contains('\\') {
            return Err(self.refuse(operation, format!(
                "`{path}` is not a path below the root; write one relative to it, with `/` between segments, e.g. `data/rows.csv`"
            )));
        }
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") {
            return Err(self.refuse(
                operation,
                format!("`{path}` holds an encoded separator or dot; write the path as it is, below the root"),
            ));
        }
        if path
            .split('/')
            .any(|segment| segment == ".." || segment == "." || segment.is_empty())
        {
            return Err(self.refuse(operation, format!(
                "`{path}` climbs with `..`, stays with `.` or has an empty segment, which could leave the root; write the path below it"
            )));
        }
        Ok(())
    }

    /// Where `path` lands: below the root, or, in Streamlit's shape, in the
    /// bucket its first segment names. `whole_bucket` lets the path be a
    /// bucket alone (a listing).
    fn locate(&self, operation: &'static str, store: &Store, path: &str, whole_bucket: bool) -> Result<Target, Error> {
        self.check_path(operation, path)?;
        let (objects, bucket, rest) = match &store.layout {
            Layout::Rooted(objects) => (Arc::clone(objects), None, path),
            Layout::Buckets(buckets) => {
                let (bucket, rest) = path.split_once('/').unwrap_or((path, ""));
                if rest.is_empty() && !whole_bucket {
                    return Err(self.refuse(operation, format!(
                        "`{path}` names a {word} alone; without a `url`, each path starts with its {word}: write `{path}/data/rows.csv`, or set `url = \"{}{path}\"` and write paths below it",
                        store.url,
                        word = store.kind.bucket_word(),
                    )));
                }
                let objects = buckets
                    .open(bucket)
                    .map_err(|error| self.store_error(operation, path, store, Some(bucket.to_owned()), error))?;
                (objects, Some(bucket.to_owned()), rest)
            }
        };
        let mut full: Vec<object_store::path::PathPart<'_>> = store.root.parts().collect();
        for segment in rest.split('/').filter(|segment| !segment.is_empty()) {
            full.push(object_store::path::PathPart::from(segment));
        }
        Ok(Target {
            objects,
            location: Path::from_iter(full),
            bucket,
        })
    }

    /// An [`Error::Operation`] for `error` on `path`: a missing object names
    /// the path and the root; refused credentials name the bucket and who
    /// asked (an access key id, never its secret).
    fn store_error(
        &self,
        operation: &'static str,
        path: &str,
        store: &Store,
        bucket: Option<String>,
        error: object_store::Error,
    ) -> Error {
        // The store's words redacted; the identity added after is an access
        // key id or an account, which names who asked and is no secret.
        let text = self.base().redactor().redact(&chain(&error));
        // A listing's refusal comes as a generic error around the answer's status.
        let refused = matches!(
            error,
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
        ) || text.contains(" 403 Forbidden")
            || text.contains(" 401 Unauthorized");
        let message = match &error {
            object_store::Error::NotFound { .. } => format!("`{path}` was not found under {}", store.url),
            _ if refused => {
                let bucket = bucket
                    .or_else(|| url::Url::parse(&store.url).ok()?.host_str().map(str::to_owned))
                    .unwrap_or_default();
                let who = match &store.identity {
                    Some(id) => store.kind.who(id),
                    None => "the credentials found outside the section (environment, profile, instance)".to_owned(),
                };
                format!(
                    "the {} store refused {who} for {} `{bucket}`: check the section's secret for that key ({text})",
                    store.kind.label(),
                    store.kind.bucket_word(),
                )
            }
            _ if path.is_empty() => format!("{text} (under {})", store.url),
            _ => format!("`{path}` under {}: {text}", store.url),
        };
        // No credentials in the section or the environment: the store asked
        // the machine's metadata service, which a laptop or CI runner lacks.
        let asked_metadata = ["169.254.169.254", "/latest/api/token", "/latest/meta-data/"]
            .iter()
            .any(|address| message.contains(address));
        let message = if store.identity.is_none() && asked_metadata {
            format!(
                "{message}; the section holds no credentials and the environment none, so the store asked the instance metadata service: set the section's keys (for S3 `key` and `secret`), the provider's variables (`AWS_ACCESS_KEY_ID`...), or `skip_signature = true` for a public bucket"
            )
        } else {
            message
        };
        operation_error(self.name(), operation, message, error)
    }

    /// An [`Error::Operation`] of this connection saying `message`, its
    /// secrets masked, with `source` behind it.
    fn failed(
        &self,
        operation: &'static str,
        message: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        operation_error(self.name(), operation, self.base().redactor().redact(message), source)
    }

    /// A read of `path`: [`bytes`](Read::bytes), [`text`](Read::text) or
    /// [`json`](Read::json), from the cache with [`ttl`](Read::ttl).
    ///
    /// # Examples
    ///
    /// See [`FilesConnection`].
    pub fn read<'c>(&'c self, path: &'c str) -> Read<'c> {
        Read {
            conn: self,
            path,
            ttl: None,
        }
    }

    /// Writes `body` to `path`, replacing what was there, and drops the
    /// cached reads of `path` at once. A body over [`MULTIPART_THRESHOLD`]
    /// goes up as a multipart upload of [`PART_SIZE`] parts (no copy of it
    /// is made); one that does not fit in memory goes through
    /// [`write_stream`](FilesConnection::write_stream).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCall`] for a path outside the root, else the store's
    /// error naming the path.
    ///
    /// # Examples
    ///
    /// See [`FilesConnection`].
    pub async fn write(&self, path: &str, body: impl Into<Bytes>) -> Result<(), Error> {
        let body = body.into();
        if body.len() > MULTIPART_THRESHOLD {
            let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
            return self.upload("write", path, chunks).await.map(drop);
        }
        let store = self.instance().await?;
        let target = self.locate("write", &store, path, false)?;
        self.forget(path);
        let outcome = target.objects.put(&target.location, body.into()).await;
        // A read that began while the write was on its way holds the old body.
        self.forget(path);
        outcome
            .map(drop)
            .map_err(|error| self.store_error("write", path, &store, target.bucket, error))
    }

    /// Writes the chunks of `body` to `path` as they come: a multipart
    /// upload of [`PART_SIZE`] parts, at most [`PARTS_IN_FLIGHT`] of them on
    /// their way at once, so memory stays near
    /// `PART_SIZE × (PARTS_IN_FLIGHT + 1)` whatever the object's size.
    /// Nothing is visible at `path` until the last part is in; a failed
    /// chunk or part aborts the upload. Drops the cached reads of `path`,
    /// and returns the bytes written.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write); an error of `body` itself is an
    /// error naming the path, after the upload is aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// use futures_util::StreamExt as _;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// // Ten chunks of 1 MiB, made as they are sent.
    /// let chunks = futures_util::stream::iter(0..10_u8)
    ///     .map(|n| Ok::<_, std::io::Error>(vec![n; 1 << 20]));
    /// assert_eq!(files.write_stream("big.bin", chunks).await?, 10 << 20);
    /// assert_eq!(files.head("big.bin").await?.size, 10 << 20);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn write_stream<S, B, E>(&self, path: &str, body: S) -> Result<u64, Error>
    where
        S: futures_util::Stream<Item = Result<B, E>> + Send,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        self.upload("write", path, body).await
    }

    /// A multipart upload of `body`'s chunks to `path`.
    async fn upload<S, B, E>(&self, operation: &'static str, path: &str, body: S) -> Result<u64, Error>
    where
        S: futures_util::Stream<Item = Result<B, E>> + Send,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        use futures_util::StreamExt as _;
        let store = self.instance().await?;
        let target = self.locate(operation, &store, path, false)?;
        self.forget(path);
        let failed = |error| self.store_error(operation, path, &store, target.bucket.clone(), error);
        let upload = target.objects.put_multipart(&target.location).await.map_err(failed)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut written = 0_u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk.into(),
                Err(error) => {
                    // The parts sent so far are dropped; nothing appears at `path`.
                    let _ = writer.abort().await;
                    let error: BoxError = error.into();
                    let message = format!(
                        "`{path}` under {}: its body failed after {written} bytes ({error})",
                        store.url
                    );
                    return Err(self.failed(operation, &message, BodyFailed(error.to_string())));
                }
            };
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(failed(error));
            }
            written += chunk.len() as u64;
            writer.put(chunk);
        }
        let outcome = writer.finish().await;
        self.forget(path);
        outcome.map(|_| written).map_err(failed)
    }

    /// Deletes `path`; deleting what is not there is not an error.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write).
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("a/1.txt", "one").await?;
    /// files.write("a/2.txt", "two").await?;
    /// assert_eq!(files.list("a").await?, ["a/1.txt", "a/2.txt"]);
    /// assert_eq!(files.head("a/2.txt").await?.size, 3);
    /// files.delete("a/1.txt").await?;
    /// assert_eq!(files.list("a").await?, ["a/2.txt"]);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn delete(&self, path: &str) -> Result<(), Error> {
        let store = self.instance().await?;
        let target = self.locate("delete", &store, path, false)?;
        self.forget(path);
        let outcome = match target.objects.delete(&target.location).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other,
        };
        self.forget(path);
        outcome.map_err(|error| self.store_error("delete", path, &store, target.bucket, error))
    }

    /// Copies `from` to `to` inside the store, replacing what `to` held,
    /// and drops the cached reads of `to` at once.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write); a missing `from` names it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("today.txt", "sunny").await?;
    /// files.copy("today.txt", "archive/2026-12-02.txt").await?;
    /// assert_eq!(files.read("archive/2026-12-02.txt").text().await?, "sunny");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), Error> {
        let store = self.instance().await?;
        let source = self.locate("copy", &store, from, false)?;
        let target = self.locate("copy", &store, to, false)?;
        if source.bucket != target.bucket {
            return Err(self.refuse(
                "copy",
                format!(
                    "`{from}` and `{to}` are in different buckets; a copy stays within one: read and write instead"
                ),
            ));
        }
        self.forget(to);
        let outcome = target.objects.copy(&source.location, &target.location).await;
        self.forget(to);
        outcome.map_err(|error| {
            let path = if matches!(error, object_store::Error::NotFound { .. }) {
                from
            } else {
                to
            };
            self.store_error("copy", path, &store, target.bucket, error)
        })
    }

    /// The body of `path` as a stream of chunks, read as they are consumed:
    /// how to read an object larger than memory. Never cached.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write) before the first chunk; a chunk
    /// that fails is an error naming the path.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// use futures_util::TryStreamExt as _;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("big.bin", vec![7_u8; 100_000]).await?;
    /// let mut total = 0;
    /// let mut chunks = files.open("big.bin").await?;
    /// while let Some(chunk) = chunks.try_next().await? {
    ///     total += chunk.len();
    /// }
    /// assert_eq!(total, 100_000);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(&self, path: &str) -> Result<Chunks, Error> {
        let store = self.instance().await?;
        let target = self.locate("open", &store, path, false)?;
        let objects = if store.kind == Kind::Local {
            // A local file is read a chunk per blocking task: object_store's 8 KiB
            // chunks cap `open` near 300 MiB/s, 256 KiB ones reach the disk's speed.
            Arc::new(object_store::chunked::ChunkedStore::new(target.objects, LOCAL_CHUNK))
        } else {
            target.objects
        };
        let got = objects
            .get(&target.location)
            .await
            .map_err(|error| self.store_error("open", path, &store, target.bucket, error))?;
        let (name, path, url) = (self.name().to_owned(), path.to_owned(), store.url.clone());
        let redactor = self.base().redactor();
        Ok(Box::pin(got.into_stream().map_err(move |error| {
            let message = format!("`{path}` under {url}: {}", chain(&error));
            operation_error(&name, "open", redactor.redact(&message), error)
        })))
    }

    /// The size and last change of `path`.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write); a missing object is an error naming the path.
    ///
    /// # Examples
    ///
    /// See [`delete`](FilesConnection::delete).
    pub async fn head(&self, path: &str) -> Result<Meta, Error> {
        let store = self.instance().await?;
        let target = self.locate("head", &store, path, false)?;
        let meta = target
            .objects
            .head(&target.location)
            .await
            .map_err(|error| self.store_error("head", path, &store, target.bucket, error))?;
        Ok(Meta {
            size: meta.size,
            last_modified: meta.last_modified.into(),
        })
    }

    /// The paths below `prefix` (every level), relative to the root, in order.
    ///
    /// # Errors
    ///
    /// As [`write`](FilesConnection::write).
    ///
    /// # Examples
    ///
    /// See [`delete`](FilesConnection::delete).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let store = self.instance().await?;
        let target = match (&store.layout, prefix.is_empty()) {
            (Layout::Rooted(objects), true) => Target {
                objects: Arc::clone(objects),
                location: store.root.clone(),
                bucket: None,
            },
            (Layout::Buckets(_), true) => {
                return Err(self.refuse(
                    "list",
                    format!(
                        "without a `url`, each path starts with its {}: list `<{0}>` or `<{0}>/<prefix>`",
                        store.kind.bucket_word()
                    ),
                ));
            }
            _ => self.locate("list", &store, prefix, true)?,
        };
        let objects: Vec<_> = target
            .objects
            .list(Some(&target.location))
            .try_collect()
            .await
            .map_err(|error| self.store_error("list", prefix, &store, target.bucket.clone(), error))?;
        let skip = store.root.parts().count();
        let mut paths: Vec<String> = objects
            .into_iter()
            .map(|object| {
                target
                    .bucket
                    .iter()
                    .cloned()
                    .chain(object.location.parts().skip(skip).map(|part| part.as_ref().to_owned()))
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// A body that is not the `format` a `type_name` reads.
    fn format_error(
        &self,
        path: &str,
        format: &str,
        type_name: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        let message = format!("`{path}` is not the {format} `{type_name}` reads ({error})");
        self.failed("read", &message, error)
    }

    /// The whole body of `path`, from the store.
    async fn fetch(&self, store: &Store, path: &str) -> Result<Bytes, Error> {
        let target = self.locate("read", store, path, false)?;
        async { target.objects.get(&target.location).await?.bytes().await }
            .await
            .map_err(|error| self.store_error("read", path, store, target.bucket, error))
    }

    /// Drops the cached reads of `path`.
    fn forget(&self, path: &str) {
        self.reads().invalidate(path);
    }

    /// What the section resolves to, without opening the store.
    ///
    /// # Errors
    ///
    /// The section's mistakes, as a connect would fail with them.
    ///
    /// # Examples
    ///
    /// ```
    /// use connections_core::{Config, Connection};
    /// use connections_files::FilesConnection;
    ///
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "root = 'file:///srv/reports'")?);
    /// assert_eq!(files.describe()?.to_string(), "files at file:///srv/reports (local disk)");
    /// # Ok::<(), connections_core::Error>(())
    /// ```
    pub fn describe(&self) -> Result<Description, Error> {
        let config = self.base().config();
        let root = store::root(&config)?;
        let recipe = store::recipe(&config, root.kind)?;
        Ok(Description {
            kind: root.kind.label(),
            url: root.to_string(),
            identity: recipe.identity.map(|id| root.kind.who(&id)),
            buckets_in_paths: root.url.is_none(),
        })
    }
}

/// An [`Error::Operation`] of connection `name` saying `message`, already
/// redacted, with `source` behind it.
fn operation_error(
    name: &str,
    operation: &'static str,
    message: String,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Operation {
        name: name.to_owned(),
        operation,
        attempts: 1,
        source: Arc::new(Redacted::new(message.clone(), source)),
        message,
    }
}

/// `error` and its causes, `: `-separated: a store's "error sending
/// request" says why (a certificate refused, a connection reset).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let more = next.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = next.source();
    }
    text
}

/// The size of each part of a multipart upload
/// ([`write_stream`](FilesConnection::write_stream), and a large
/// [`write`](FilesConnection::write)): S3's smallest is 5 MiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The chunks [`open`](FilesConnection::open) reads a local file in.
const LOCAL_CHUNK: usize = 256 * 1024;

/// The parts of one upload on their way at once.
pub const PARTS_IN_FLIGHT: usize = 2;

/// The body size above which [`write`](FilesConnection::write) uploads in
/// parts.
pub const MULTIPART_THRESHOLD: usize = 2 * PART_SIZE;

/// A body stream's own error, as text (its type is the caller's).
#[derive(Debug)]
struct BodyFailed(String);

impl fmt::Display for BodyFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyFailed {}

/// The chunks of an object's body; see [`FilesConnection::open`].
pub type Chunks = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Error>> + Send>>;

/// What a `files` section resolves to; see [`FilesConnection::describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    url: String,
    kind: &'static str,
    identity: Option<String>,
    buckets_in_paths: bool,
}

/// `files at URL (kind)`, with who asks (an access key id, an account) and
/// where paths carry their bucket.
impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "files at {} ({}", self.url, self.kind)?;
        if let Some(identity) = &self.identity {
            write!(f, ", as {identity}")?;
        }
        if self.buckets_in_paths {
            write!(f, ", each path starting with its bucket")?;
        }
        write!(f, ")")
    }
}

/// An object's size and last change; see [`FilesConnection::head`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// Bytes.
    pub size: u64,
    /// When it last changed.
    pub last_modified: std::time::SystemTime,
}

/// A read being built; see [`FilesConnection::read`].
#[must_use = "a read does nothing until its body is asked for"]
pub struct Read<'c> {
    conn: &'c FilesConnection,
    path: &'c str,
    ttl: Option<Duration>,
}

impl Read<'_> {
    /// Answers from the connection's cache while a read of the path lives
    /// there, and keeps this one for `ttl`: Streamlit's `ttl` on a read. A
    /// write or delete of the path through this connection drops it at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("n.json", "[1, 2]").await?;
    /// let minute = Duration::from_secs(60);
    /// assert_eq!(files.read("n.json").ttl(minute).json::<Vec<u8>>().await?, [1, 2]);
    /// files.write("n.json", "[3]").await?; // drops the cached read
    /// assert_eq!(files.read("n.json").ttl(minute).json::<Vec<u8>>().await?, [3]);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl).filter(|ttl| !ttl.is_zero());
        self
    }

    /// The whole body.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCall`] for a path outside the root, else the store's
    /// error naming the path (a missing object: "`path` was not found under ...").
    ///
    /// # Examples
    ///
    /// See [`FilesConnection`].
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.cached("body", |_, _, body| Ok(body)).await
    }

    /// The body made into a `V` by `make`; with a `ttl`, the `V` is kept
    /// under the read's `kind` (`"body"`, or a format of rows) and a hit
    /// hands out a clone of it: share it (`Bytes`, `Arc<[T]>`), and a hit
    /// parses and copies nothing.
    async fn cached<V, F>(self, kind: &'static str, make: F) -> Result<V, Error>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce(&FilesConnection, &str, Bytes) -> Result<V, Error>,
    {
        let conn = self.conn;
        let store = conn.instance().await?;
        let started = {
            // Only a path that was read is cached: a hit needs no check of it.
            let reads = conn.reads();
            if self.ttl.is_some()
                && let Some(value) = reads.get::<V>(kind, self.path, None, Instant::now())
            {
                return Ok(value);
            }
            reads.writes()
        };
        let value = make(conn, self.path, conn.fetch(&store, self.path).await?)?;
        if let Some(ttl) = self.ttl {
            let kept = (kind, self.path, None);
            conn.reads()
                .insert(started, kept, ReadCache::expiry(ttl), value.clone());
        }
        Ok(value)
    }

    /// The rows of the body in `format`, parsed by `parse`, shared: with a
    /// `ttl`, kept parsed, so a hit parses and clones no row.
    async fn rows<T, F>(self, format: &'static str, parse: F) -> Result<Arc<[T]>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&FilesConnection, &str, &[u8]) -> Result<Vec<T>, Error>,
    {
        self.cached(format, |conn, path, body| parse(conn, path, &body).map(Arc::from))
            .await
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// As [`bytes`](Read::bytes), and a body that is not UTF-8.
    ///
    /// # Examples
    ///
    /// See [`FilesConnection`].
    pub async fn text(self) -> Result<String, Error> {
        let (conn, path) = (self.conn, self.path);
        let body = self.bytes().await?;
        String::from_utf8(body.to_vec()).map_err(|error| {
            conn.failed(
                "read",
                &format!("`{path}` is not UTF-8 text ({error}); read it with `bytes()`"),
                error,
            )
        })
    }

    /// The body as JSON of type `T`.
    ///
    /// # Errors
    ///
    /// As [`bytes`](Read::bytes), and a body that is not the JSON `T` reads.
    ///
    /// # Examples
    ///
    /// See [`ttl`](Read::ttl).
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let (conn, path) = (self.conn, self.path);
        let body = self.bytes().await?;
        serde_json::from_slice(&body)
            .map_err(|error| conn.format_error(path, "JSON", std::any::type_name::<T>(), error))
    }

    /// The body as CSV, each row after the header line as a `T` (a struct
    /// whose fields are the columns, or a `HashMap<String, String>`).
    ///
    /// The rows are shared: with a [`ttl`](Read::ttl), the cache keeps them
    /// parsed, and a hit hands out the same `Arc<[T]>` without parsing or
    /// cloning a row (as SQL's `fetch_all` does).
    ///
    /// # Errors
    ///
    /// As [`bytes`](Read::bytes), and a row `T` cannot read, naming its line.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// #[derive(serde::Deserialize)]
    /// struct Pet { name: String, age: u32 }
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("pets.csv", "name,age\nRex,3\nTom,5\n").await?;
    /// let minute = std::time::Duration::from_secs(60);
    /// let pets = files.read("pets.csv").ttl(minute).csv::<Pet>().await?;
    /// assert_eq!((pets[1].name.as_str(), pets[1].age), ("Tom", 5));
    /// let again = files.read("pets.csv").ttl(minute).csv::<Pet>().await?;
    /// assert!(std::sync::Arc::ptr_eq(&pets, &again), "a hit shares the rows");
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn csv<T: DeserializeOwned + Send + Sync + 'static>(self) -> Result<Arc<[T]>, Error> {
        self.rows("csv", |conn, path, body| {
            csv::Reader::from_reader(body)
                .deserialize()
                .collect::<Result<Vec<T>, _>>()
                .map_err(|error| conn.format_error(path, "CSV", std::any::type_name::<T>(), error))
        })
        .await
    }

    /// The body as JSON lines (`.jsonl`, `.ndjson`): each non-blank line a
    /// `T`, shared as [`csv`](Read::csv)'s rows are.
    ///
    /// # Errors
    ///
    /// As [`bytes`](Read::bytes), and a line `T` cannot read, naming its number.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("events.jsonl", "{\"n\": 1}\n\n{\"n\": 2}\n").await?;
    /// let events = files.read("events.jsonl").json_lines::<serde_json::Value>().await?;
    /// assert_eq!(events.len(), 2);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn json_lines<T: DeserializeOwned + Send + Sync + 'static>(self) -> Result<Arc<[T]>, Error> {
        self.rows("jsonl", |conn, path, body| {
            body.split(|b| *b == b'\n')
                .enumerate()
                .filter(|(_, line)| !line.trim_ascii().is_empty())
                .map(|(n, line)| {
                    serde_json::from_slice(line).map_err(|error| {
                        conn.format_error(
                            path,
                            &format!("JSON on line {}", n + 1),
                            std::any::type_name::<T>(),
                            error,
                        )
                    })
                })
                .collect()
        })
        .await
    }

    /// The body's records as `T`, in the format its extension names, as
    /// Streamlit infers it: `.csv` ([`csv`](Read::csv)), `.json` (an array
    /// of `T`), `.jsonl` and `.ndjson` ([`json_lines`](Read::json_lines)).
    /// Shared as [`csv`](Read::csv)'s rows are.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCall`] for another extension, saying which reads to
    /// use; else as the format's own read.
    ///
    /// # Examples
    ///
    /// ```
    /// # use connections_core::{Config, Connection};
    /// # use connections_files::FilesConnection;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let files = FilesConnection::from_config("f", Config::from_toml("f", "url = 'memory://'")?);
    /// files.write("a.csv", "n\n1\n2\n").await?;
    /// files.write("b.json", "[{\"n\": 1}, {\"n\": 2}]").await?;
    /// let a = files.read("a.csv").records::<serde_json::Value>().await?;
    /// let b = files.read("b.json").records::<serde_json::Value>().await?;
    /// assert_eq!((a.len(), b.len()), (2, 2));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn records<T: DeserializeOwned + Send + Sync + 'static>(self) -> Result<Arc<[T]>, Error> {
        let extension = self
            .path
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "csv" => self.csv().await,
            "json" => {
                self.rows("json", |conn, path, body| {
                    serde_json::from_slice::<Vec<T>>(body)
                        .map_err(|error| conn.format_error(path, "JSON array", std::any::type_name::<Vec<T>>(), error))
                })
                .await
            }
            "jsonl" | "ndjson" => self.json_lines().await,
            _ => Err(Error::InvalidCall {
                name: self.conn.name().to_owned(),
                operation: "read",
                problem: format!(
                    "`{}` has no extension that names a format of records (`.csv`, `.json`, `.jsonl`, `.ndjson`); call `csv()`, `json()` or `json_lines()` for the format it holds, or `text()` or `bytes()`",
                    self.path
                ),
            }),
        }
    }
}
