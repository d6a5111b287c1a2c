//! Reloading the secrets when their files change (the `watch` feature).
//!
//! One thread per watching registry. It owns the file-system watcher (or
//! polls, where events are unavailable), debounces what it hears, and runs
//! the registry's reload, which resets only the connections whose
//! configuration changed. It holds the registry's shared state weakly and
//! stops when the registry drops its [`Watcher`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::Error;
use crate::secrets::Source;

/// The poll interval when file-system events are unavailable.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// How a registry watches; set through `RegistryBuilder`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WatchSettings {
    /// Poll at this interval instead of listening for events.
    pub(crate) poll_interval: Option<Duration>,
    /// Quiet time after the last change before a reload.
    pub(crate) debounce: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            poll_interval: None,
            debounce: Duration::from_millis(150),
        }
    }
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// A running watch; dropping it stops the thread.
pub(crate) struct Watcher {
    stop: Sender<Msg>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The thread may be gone already (it stops when the registry is gone).
        let _ = self.stop.send(Msg::Stop);
    }
}

/// What the watch thread reloads when a secrets file changes: a registry's
/// shared state, which the thread holds weakly so it never keeps one alive.
pub(crate) trait Reload: Send + Sync {
    /// Reloads the secrets; an error keeps the last good ones.
    fn reload(&self) -> Result<(), Error>;
}

impl Watcher {
    /// Starts watching the paths among `sources`, reloading `target` on a
    /// change; `None` (and an error logged) if the thread cannot start, or if
    /// there is no path to watch.
    pub(crate) fn start(target: Weak<dyn Reload>, sources: &[Source], settings: WatchSettings) -> Option<Self> {
        let paths: Vec<PathBuf> = sources
            .iter()
            .filter_map(|source| match source {
                Source::Path(path) => Some(std::path::absolute(path).unwrap_or_else(|_| path.clone())),
                Source::Inline { .. } => None,
            })
            .collect();
        if paths.is_empty() {
            // Inline secrets never change.
            return None;
        }
        let (tx, rx) = mpsc::channel();
        // Set up here, before `build()` returns, so no change made after it is missed.
        let state = Loop::new(target, paths, settings, &tx);
        // The thread logs where the code that built the registry logs.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let spawned = thread::Builder::new()
            .name("connections-watch".into())
            .spawn(move || tracing::dispatcher::with_default(&dispatch, || state.run(&rx)));
        match spawned {
            Ok(_) => Some(Self { stop: tx }),
            Err(error) => {
                tracing::error!(%error, "cannot start the thread that watches the secrets files; they are not reloaded on change");
                None
            }
        }
    }
}

/// What the watch thread keeps.
struct Loop {
    target: Weak<dyn Reload>,
    /// The configured secrets paths, absolute.
    paths: Vec<PathBuf>,
    settings: WatchSettings,
    backend: Backend,
    /// The last reload error and watcher error logged, so a lasting problem
    /// is logged once, not once per event.
    last_reload_error: Option<String>,
    last_watch_error: Option<String>,
}

enum Backend {
    /// File-system events; what each watched directory is watched as.
    Events {
        watcher: RecommendedWatcher,
        watched: BTreeMap<PathBuf, RecursiveMode>,
    },
    /// Polling: the fingerprint of every secrets file seen last time.
    Poll { interval: Duration, seen: Fingerprint },
}

impl Loop {
    fn new(target: Weak<dyn Reload>, paths: Vec<PathBuf>, settings: WatchSettings, events: &Sender<Msg>) -> Self {
        let mut this = Self {
            target,
            paths,
            settings,
            backend: Backend::Poll {
                interval: FALLBACK_POLL,
                seen: Fingerprint::default(),
            },
            last_reload_error: None,
            last_watch_error: None,
        };
        if let Some(interval) = settings.poll_interval {
            this.poll(interval);
            return this;
        }
        let sender = events.clone();
        let handler = move |event| {
            // The thread is gone only once the registry is: nothing to tell.
            let _ = sender.send(Msg::Fs(event));
        };
        match RecommendedWatcher::new(handler, notify::Config::default()) {
            Ok(watcher) => {
                this.backend = Backend::Events {
                    watcher,
                    watched: BTreeMap::new(),
                };
                this.sync_watches();
            }
            Err(error) => this.fall_back(&error, None),
        }
        this
    }

    fn poll(&mut self, interval: Duration) {
        self.backend = Backend::Poll {
            interval,
            seen: Fingerprint::of(&self.paths),
        };
    }

    fn fall_back(&mut self, error: &notify::Error, path: Option<&Path>) {
        tracing::warn!(
            path = ?path,
            %error,
            "file-system events are unavailable for the secrets files ({error}); polling them every {FALLBACK_POLL:?} instead"
        );
        self.poll(FALLBACK_POLL);
    }

    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            let go_on = match &self.backend {
                Backend::Events { .. } => self.next_event_batch(rx),
                Backend::Poll { interval, .. } => {
                    let interval = *interval;
                    self.next_poll_change(rx, interval)
                }
            };
            if matches!(go_on, Step::Stop) {
                return;
            }
            // Watches first: a change made from here on is an event, and
            // one made before is read by the reload.
            self.sync_watches();
            if matches!(go_on, Step::Changed) {
                let Some(target) = self.target.upgrade() else {
                    return;
                };
                self.reload(&*target);
            }
        }
    }

    /// Waits for a relevant event, then for `debounce` of quiet.
    fn next_event_batch(&mut self, rx: &Receiver<Msg>) -> Step {
        let mut relevant = false;
        let mut deadline: Option<Instant> = None;
        loop {
            let msg = match deadline {
                None => match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => return Step::Stop,
                },
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return Step::Stop,
                },
            };
            match msg {
                Msg::Stop => return Step::Stop,
                Msg::Fs(Ok(event)) => {
                    if self.is_relevant(&event) {
                        relevant = true;
                        deadline = Some(Instant::now() + self.settings.debounce);
                    }
                }
                Msg::Fs(Err(error)) => {
                    self.log_watch_error(&error);
                    // A lost event (an overflowed queue) or a vanished
                    // directory: re-read, and re-point the watches.
                    relevant = true;
                    deadline.get_or_insert_with(|| Instant::now() + self.settings.debounce);
                }
            }
        }
        if relevant { Step::Changed } else { Step::Quiet }
    }

    /// Sleeps `interval` (or until stopped); a changed fingerprint is
    /// re-checked every `debounce` until it holds still.
    fn next_poll_change(&mut self, rx: &Receiver<Msg>, interval: Duration) -> Step {
        match rx.recv_timeout(interval) {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return Step::Stop,
            Ok(Msg::Fs(_)) | Err(RecvTimeoutError::Timeout) => {}
        }
        let Backend::Poll { seen, .. } = &self.backend else {
            return Step::Quiet;
        };
        let mut now = Fingerprint::of(&self.paths);
        if now == *seen {
            return Step::Quiet;
        }
        loop {
            match rx.recv_timeout(self.settings.debounce) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return Step::Stop,
                Ok(Msg::Fs(_)) | Err(RecvTimeoutError::Timeout) => {}
            }
            let settled = Fingerprint::of(&self.paths);
            if settled == now {
                break;
            }
            now = settled;
        }
        if let Backend::Poll { seen, .. } = &mut self.backend {
            *seen = now;
        }
        Step::Changed
    }

    /// Whether `event` may change the secrets: it touches a secrets file, a
    /// file under a secrets directory, or a directory on the way to one.
    fn is_relevant(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, EventKind::Access(_)) {
            // Opens and reads, our own included: reloading on them would loop.
            return false;
        }
        if event.paths.is_empty() || event.need_rescan() {
            return true;
        }
        event.paths.iter().any(|changed| {
            self.paths
                .iter()
                .any(|path| changed.starts_with(path) || path.starts_with(changed))
        })
    }

    fn reload(&mut self, target: &dyn Reload) {
        match target.reload() {
            Ok(()) => self.last_reload_error = None,
            Err(error) => {
                let message = error.to_string();
                if self.last_reload_error.as_deref() == Some(message.as_str()) {
                    tracing::debug!(%error, "secrets still not reloadable");
                    return;
                }
                if let Error::SecretsFileRemoved { path } = &error {
                    // Often an editor's save midway; the re-created file is picked up.
                    tracing::warn!(path = %path.display(), "{message}");
                } else {
                    tracing::error!(
                        path = ?error_path(&error),
                        "secrets not reloaded, the last good ones are kept: {message}"
                    );
                }
                self.last_reload_error = Some(message);
            }
        }
    }

    fn log_watch_error(&mut self, error: &notify::Error) {
        let message = error.to_string();
        if self.last_watch_error.as_deref() == Some(message.as_str()) {
            return;
        }
        tracing::error!(paths = ?error.paths, "watching the secrets files: {message}");
        self.last_watch_error = Some(message);
    }

    /// Points the watches at what exists now: each secrets directory
    /// (recursively), and the directory holding each secrets file, or the
    /// nearest existing ancestor of one that does not exist yet.
    fn sync_watches(&mut self) {
        let Backend::Events { watcher, watched } = &mut self.backend else {
            return;
        };
        let mut wanted: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
        for path in &self.paths {
            let (target, mode) = if path.is_dir() {
                (path.clone(), RecursiveMode::Recursive)
            } else {
                (nearest_existing_dir(path), RecursiveMode::NonRecursive)
            };
            // A directory wanted both ways is watched recursively.
            let entry = wanted.entry(target).or_insert(mode);
            if mode == RecursiveMode::Recursive {
                *entry = mode;
            }
        }
        let stale: BTreeSet<PathBuf> = watched
            .iter()
            .filter(|(path, mode)| wanted.get(*path) != Some(*mode))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            watched.remove(&path);
            // It may be gone with its directory, which ended the watch already.
            let _ = watcher.unwatch(&path);
        }
        let mut failed = None;
        for (path, mode) in wanted {
            if watched.contains_key(&path) {
                continue;
            }
            match watcher.watch(&path, mode) {
                Ok(()) => {
                    watched.insert(path, mode);
                }
                Err(error) => {
                    failed = Some((error, path));
                    break;
                }
            }
        }
        if let Some((error, path)) = failed {
            // Most often the system's limit on watches: poll instead, everything.
            self.fall_back(&error, Some(&path));
        }
    }
}

enum Step {
    Stop,
    Quiet,
    Changed,
}

/// The file an error is about, if it names one.
fn error_path(error: &Error) -> Option<&Path> {
    match error {
        Error::MalformedSecrets { path, .. }
        | Error::ReadSecrets { path, .. }
        | Error::InvalidSecretsPath { path, .. }
        | Error::SecretsFileRemoved { path } => Some(path),
        _ => None,
    }
}

/// The directory that holds `path`, or its nearest existing ancestor.
fn nearest_existing_dir(path: &Path) -> PathBuf {
    let mut dir = path.parent();
    while let Some(candidate) = dir {
        if candidate.is_dir() {
            return candidate.to_path_buf();
        }
        dir = candidate.parent();
    }
    PathBuf::from("/")
}

/// What polling compares: for each secrets path and each file under a
/// secrets directory, its size, modification time and a hash of its
/// contents. The hash catches two saves within one tick of the file
/// system's clock; the files are small.
#[derive(Default, PartialEq, Eq)]
struct Fingerprint(Vec<(PathBuf, Option<FileState>)>);

/// Size, modification time and content hash of one file.
type FileState = (u64, Option<SystemTime>, u64);

impl Fingerprint {
    fn of(paths: &[PathBuf]) -> Self {
        let mut entries = Vec::new();
        for path in paths {
            collect(path, &mut entries, 0);
        }
        Self(entries)
    }
}

/// Deep enough for any secrets directory; a symlink loop stops here.
const MAX_DEPTH: usize = 16;

fn collect(path: &Path, out: &mut Vec<(PathBuf, Option<FileState>)>, depth: usize) {
    if depth <= MAX_DEPTH && path.is_dir() {
        let mut children: Vec<PathBuf> = match fs::read_dir(path) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => Vec::new(),
        };
        children.sort();
        out.push((path.to_path_buf(), None));
        for child in children {
            collect(&child, out, depth + 1);
        }
        return;
    }
    let state = fs::metadata(path).ok().map(|meta| {
        let mut hasher = DefaultHasher::new();
        fs::read(path).ok().hash(&mut hasher);
        (meta.len(), meta.modified().ok(), hasher.finish())
    });
    out.push((path.to_path_buf(), state));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_watched_through_its_nearest_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/secrets.toml");
        assert_eq!(nearest_existing_dir(&deep), dir.path());
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        assert_eq!(nearest_existing_dir(&deep), dir.path().join("a/b"));
    }

    #[test]
    fn the_fingerprint_sees_a_same_size_rewrite_and_a_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.toml");
        fs::write(&file, "a = 1").unwrap();
        let paths = [file.clone(), dir.path().join("absent.toml")];
        let first = Fingerprint::of(&paths);
        assert!(first == Fingerprint::of(&paths));
        fs::write(&file, "a = 2").unwrap();
        let second = Fingerprint::of(&paths);
        assert!(first != second, "same size, maybe the same mtime: the hash tells");
        fs::remove_file(&file).unwrap();
        assert!(second != Fingerprint::of(&paths));
    }
}
