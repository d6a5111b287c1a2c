//! Files and objects, on the `object_store` crate: Streamlit's
//! `FilesConnection` for Rust.
//!
//! [`FilesConnection`] is `type = "files"`: a root (`url` or `root`), and
//! paths relative to it that cannot leave it. [`read`](FilesConnection::read)
//! gives bytes, text or JSON, with an optional [`ttl`](Read::ttl) cache that
//! the connection's own [`write`](FilesConnection::write) and
//! [`delete`](FilesConnection::delete) of a path invalidate at once;
//! [`head`](FilesConnection::head) and [`list`](FilesConnection::list)
//! describe what is there.
//!
//! This version reaches local disks (`file:///path/to/dir`) and memory
//! (`memory://`); a cloud store's URL is refused with what to use instead.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use connections_core::author::Redacted;
use connections_core::{BaseConnection, BoxError, Config, Connection, Diagnostic, Error};
use futures_util::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde::de::DeserializeOwned;

mod settings;

/// How long [`Registry::check`](connections_core::Registry::check) waits for
/// a `FilesConnection`'s listing of its root.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Files under one root, per `[connections.<name>]` section.
///
/// ```toml
/// [connections.reports]
/// type = "files"
/// url = "file:///srv/reports"    # or root = ...; memory:// for a store in memory
/// ```
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
    /// Bodies read with a `ttl`, by path. Held for a lookup or an insert,
    /// never across a read.
    reads: Mutex<Reads>,
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Store {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
}

impl Store {
    /// The `object_store` the files live in, for what the connection's
    /// methods do not cover; paths in it start with [`root`](Store::root).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// The root within the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The section's root as a URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The read cache: bodies by path, each until its time.
#[derive(Default)]
struct Reads {
    bodies: HashMap<String, (Instant, Bytes)>,
    /// Bumped by every write or delete: a read that started before one stores nothing.
    writes: u64,
}

/// The root of `config`: its `url`, or `root`.
fn root_url(config: &Config) -> Result<url::Url, Error> {
    let (key, written) = match (config.get_opt::<String>("url")?, config.get_opt::<String>("root")?) {
        (Some(url), None) => ("url", url),
        (None, Some(root)) => ("root", root),
        (Some(_), Some(_)) => {
            return Err(config.invalid("root", "is set with `url`; they say the same thing: keep one"));
        }
        (None, None) => return Err(config.missing("url")),
    };
    let url = url::Url::parse(&written).map_err(|error| {
        config.invalid(
            key,
            format!("is not a URL ({error}); write `file:///path/to/dir` or `memory://`"),
        )
    })?;
    match url.scheme() {
        "file" | "memory" => Ok(url),
        "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure" | "adl" | "http" | "https" => Err(config.invalid(
            key,
            format!(
                "is a `{}://` store, which this version of connections-files cannot reach yet; it reaches `file://` and `memory://`",
                url.scheme()
            ),
        )),
        other => Err(config.invalid(
            key,
            format!("has the scheme `{other}`; write `file:///path/to/dir` or `memory://`"),
        )),
    }
}

impl FilesConnection {
    /// What can be told without opening the store: the root's mistakes.
    fn diagnose(config: &Config) -> Vec<Diagnostic> {
        match root_url(config) {
            Ok(_) => Vec::new(),
            Err(error) => vec![Diagnostic::from_error(&error)],
        }
    }

    #[expect(
        clippy::unused_async,
        reason = "an async type's connect is async; opening a local or memory store reads nothing"
    )]
    async fn _connect(&self, config: &Config) -> Result<Store, Error> {
        let url = root_url(config)?;
        // The section may point elsewhere now: no read of before is served.
        let mut reads = self.reads();
        reads.writes += 1;
        reads.bodies.clear();
        drop(reads);
        let key = if config.contains("url") { "url" } else { "root" };
        let (store, root) = object_store::parse_url(&url)
            .map_err(|error| config.invalid(key, format!("could not be opened as a store ({error})")))?;
        tracing::debug!(root = %url, "opening the store");
        Ok(Store {
            objects: Arc::from(store),
            root,
            url: url.to_string(),
        })
    }

    /// The health check [`Registry::check`](connections_core::Registry::check)
    /// runs: a listing of the root's first level, within [`CHECK_TIMEOUT`].
    async fn _check(&self) -> Result<(), BoxError> {
        let store = self.instance().await?;
        let listing = store.objects.list_with_delimiter(Some(&store.root));
        match tokio::time::timeout(CHECK_TIMEOUT, listing).await {
            Ok(outcome) => outcome
                .map(drop)
                .map_err(|error| self.store_error("list", "", &store, error).into()),
            Err(_) => Err(format!(
                "listing the root of connection `{}` did not answer within {} s",
                self.name(),
                CHECK_TIMEOUT.as_secs()
            )
            .into()),
        }
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `path` below the root, or the call refused with what to write.
    fn locate(&self, operation: &'static str, store: &Store, path: &str) -> Result<Path, Error> {
        let refuse = |problem: String| Error::InvalidCall {
            name: self.name().to_owned(),
            operation,
            problem,
        };
        if path.is_empty() {
            return Err(refuse(
                "the path is empty; name a file below the root, e.g. `data/rows.csv`".to_owned(),
            ));
        }
        if path.contains("://") || path.starts_with('/') || path.contains('\\') {
            return Err(refuse(format!(
                "`{path}` is not a path below the root; write one relative to it, with `/` between segments, e.g. `data/rows.csv`"
            )));
        }
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") {
            return Err(refuse(format!(
                "`{path}` holds an encoded separator or dot; write the path as it is, below the root"
            )));
        }
        if path
            .split('/')
            .any(|segment| segment == ".." || segment == "." || segment.is_empty())
        {
            return Err(refuse(format!(
                "`{path}` climbs with `..`, stays with `.` or has an empty segment, which could leave the root; write the path below it"
            )));
        }
        let mut full: Vec<object_store::path::PathPart<'_>> = store.root.parts().collect();
        for segment in path.split('/') {
            full.push(object_store::path::PathPart::from(segment));
        }
        Ok(Path::from_iter(full))
    }

    /// An [`Error::Operation`] for `error` on `path`: a missing object names
    /// the path and the root.
    fn store_error(&self, operation: &'static str, path: &str, store: &Store, error: object_store::Error) -> Error {
        let message = match &error {
            object_store::Error::NotFound { .. } => format!("`{path}` was not found under {}", store.url),
            other => {
                let text = self.base().redactor().redact(&other.to_string());
                if path.is_empty() {
                    format!("{text} (under {})", store.url)
                } else {
                    format!("`{path}` under {}: {text}", store.url)
                }
            }
        };
        Error::Operation {
            name: self.name().to_owned(),
            operation,
            attempts: 1,
            source: Arc::new(Redacted::new(message.clone(), error)),
            message,
        }
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
    /// cached reads of `path` at once.
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
        let store = self.instance().await?;
        let location = self.locate("write", &store, path)?;
        self.forget(path);
        let outcome = store.objects.put(&location, body.into().into()).await;
        // A read that began while the write was on its way holds the old body.
        self.forget(path);
        outcome
            .map(drop)
            .map_err(|error| self.store_error("write", path, &store, error))
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
        let location = self.locate("delete", &store, path)?;
        self.forget(path);
        let outcome = match store.objects.delete(&location).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other,
        };
        self.forget(path);
        outcome.map_err(|error| self.store_error("delete", path, &store, error))
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
        let source = self.locate("copy", &store, from)?;
        let target = self.locate("copy", &store, to)?;
        self.forget(to);
        let outcome = store.objects.copy(&source, &target).await;
        self.forget(to);
        outcome.map_err(|error| {
            let path = if matches!(error, object_store::Error::NotFound { .. }) {
                from
            } else {
                to
            };
            self.store_error("copy", path, &store, error)
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
        let location = self.locate("open", &store, path)?;
        let got = store
            .objects
            .get(&location)
            .await
            .map_err(|error| self.store_error("open", path, &store, error))?;
        let (name, path, url) = (self.name().to_owned(), path.to_owned(), store.url.clone());
        Ok(Box::pin(got.into_stream().map_err(move |error| {
            let message = format!("`{path}` under {url}: {error}");
            Error::Operation {
                name: name.clone(),
                operation: "open",
                attempts: 1,
                source: Arc::new(Redacted::new(message.clone(), error)),
                message,
            }
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
        let location = self.locate("head", &store, path)?;
        let meta = store
            .objects
            .head(&location)
            .await
            .map_err(|error| self.store_error("head", path, &store, error))?;
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
        let location = if prefix.is_empty() {
            store.root.clone()
        } else {
            self.locate("list", &store, prefix)?
        };
        let objects: Vec<_> = store
            .objects
            .list(Some(&location))
            .try_collect()
            .await
            .map_err(|error| self.store_error("list", prefix, &store, error))?;
        let skip = store.root.parts().count();
        let mut paths: Vec<String> = objects
            .into_iter()
            .map(|object| {
                object
                    .location
                    .parts()
                    .skip(skip)
                    .map(|part| part.as_ref().to_owned())
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
        Error::Operation {
            name: self.name().to_owned(),
            operation: "read",
            attempts: 1,
            source: Arc::new(Redacted::new(message.clone(), error)),
            message,
        }
    }

    /// Drops the cached reads of `path`.
    fn forget(&self, path: &str) {
        let mut reads = self.reads();
        reads.writes += 1;
        reads.bodies.remove(path);
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
        let url = root_url(&self.base().config())?;
        Ok(Description {
            kind: if url.scheme() == "memory" {
                "memory"
            } else {
                "local disk"
            },
            url: url.to_string(),
        })
    }
}

/// The chunks of an object's body; see [`FilesConnection::open`].
pub type Chunks = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Error>> + Send>>;

/// What a `files` section resolves to; see [`FilesConnection::describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    url: String,
    kind: &'static str,
}

/// `files at URL (kind)`.
impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "files at {} ({})", self.url, self.kind)
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
        let conn = self.conn;
        let store = conn.instance().await?;
        let location = conn.locate("read", &store, self.path)?;
        let started = {
            let reads = conn.reads();
            if self.ttl.is_some()
                && let Some((expires, body)) = reads.bodies.get(self.path)
                && *expires > Instant::now()
            {
                return Ok(body.clone());
            }
            reads.writes
        };
        let body = async { store.objects.get(&location).await?.bytes().await }
            .await
            .map_err(|error| conn.store_error("read", self.path, &store, error))?;
        if let Some(ttl) = self.ttl {
            let mut reads = conn.reads();
            if reads.writes == started {
                let now = Instant::now();
                let expires = now
                    .checked_add(ttl)
                    .unwrap_or_else(|| now + Duration::from_hours(100 * 365 * 24));
                reads.bodies.insert(self.path.to_owned(), (expires, body.clone()));
            }
        }
        Ok(body)
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
        String::from_utf8(body.to_vec()).map_err(|error| Error::Operation {
            name: conn.name().to_owned(),
            operation: "read",
            attempts: 1,
            message: format!("`{path}` is not UTF-8 text ({error}); read it with `bytes()`"),
            source: Arc::new(Redacted::new(format!("`{path}` is not UTF-8 text"), error)),
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
        serde_json::from_slice(&body).map_err(|error| {
            let message = format!(
                "`{path}` is not the JSON `{}` reads ({error})",
                std::any::type_name::<T>()
            );
            Error::Operation {
                name: conn.name().to_owned(),
                operation: "read",
                attempts: 1,
                source: Arc::new(Redacted::new(message.clone(), error)),
                message,
            }
        })
    }

    /// The body as CSV, each row after the header line as a `T` (a struct
    /// whose fields are the columns, or a `HashMap<String, String>`).
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
    /// let pets: Vec<Pet> = files.read("pets.csv").csv().await?;
    /// assert_eq!((pets[1].name.as_str(), pets[1].age), ("Tom", 5));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn csv<T: DeserializeOwned>(self) -> Result<Vec<T>, Error> {
        let (conn, path) = (self.conn, self.path);
        let body = self.bytes().await?;
        csv::Reader::from_reader(&body[..])
            .deserialize()
            .collect::<Result<Vec<T>, _>>()
            .map_err(|error| conn.format_error(path, "CSV", std::any::type_name::<T>(), error))
    }

    /// The body as JSON lines (`.jsonl`, `.ndjson`): each non-blank line a `T`.
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
    /// let events: Vec<serde_json::Value> = files.read("events.jsonl").json_lines().await?;
    /// assert_eq!(events.len(), 2);
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn json_lines<T: DeserializeOwned>(self) -> Result<Vec<T>, Error> {
        let (conn, path) = (self.conn, self.path);
        let body = self.bytes().await?;
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
    }

    /// The body's records as `T`, in the format its extension names, as
    /// Streamlit infers it: `.csv` ([`csv`](Read::csv)), `.json` (an array,
    /// [`json`](Read::json)), `.jsonl` and `.ndjson`
    /// ([`json_lines`](Read::json_lines)).
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
    /// let a: Vec<serde_json::Value> = files.read("a.csv").records().await?;
    /// let b: Vec<serde_json::Value> = files.read("b.json").records().await?;
    /// assert_eq!((a.len(), b.len()), (2, 2));
    /// # Ok::<(), connections_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn records<T: DeserializeOwned>(self) -> Result<Vec<T>, Error> {
        let extension = self
            .path
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "csv" => self.csv().await,
            "json" => self.json().await,
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
