//! The read cache of a `FilesConnection`: bodies, and rows parsed from
//! them, by path, each until its time. A write, delete or copy through the
//! connection drops everything of its path at once.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Everything cached of one path.
#[derive(Default)]
struct Entry {
    body: Option<(Instant, Bytes)>,
    /// Rows by their type and format: each read shares them, none is cloned.
    rows: Vec<Rows>,
}

/// Rows of one type, read in one format.
struct Rows {
    of: (TypeId, &'static str),
    expires: Instant,
    /// An `Arc<[T]>`.
    shared: Box<dyn Any + Send + Sync>,
}

/// The read cache.
#[derive(Default)]
pub(crate) struct Reads {
    entries: HashMap<String, Entry>,
    /// Bumped by every write, delete or copy: a read that started before
    /// one stores nothing.
    pub(crate) writes: u64,
    /// The size at which the next insert drops what has expired.
    sweep_at: usize,
}

/// `now + ttl`, or a century on.
fn until(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl)
        .unwrap_or_else(|| now + Duration::from_hours(100 * 365 * 24))
}

impl Reads {
    /// The body of `path`, while it lives.
    pub(crate) fn body(&self, path: &str) -> Option<Bytes> {
        let (expires, body) = self.entries.get(path)?.body.as_ref()?;
        (*expires > Instant::now()).then(|| body.clone())
    }

    /// The rows of `path` as `T` in `format`, while they live.
    pub(crate) fn rows<T: Send + Sync + 'static>(&self, path: &str, format: &'static str) -> Option<Arc<[T]>> {
        let of = (TypeId::of::<T>(), format);
        let rows = self.entries.get(path)?.rows.iter().find(|rows| rows.of == of)?;
        if rows.expires <= Instant::now() {
            return None;
        }
        rows.shared.downcast_ref::<Arc<[T]>>().cloned()
    }

    /// Keeps `body` for `ttl`.
    pub(crate) fn keep_body(&mut self, path: &str, ttl: Duration, body: Bytes) {
        self.sweep();
        self.entry(path).body = Some((until(ttl), body));
    }

    /// Keeps `rows` for `ttl`.
    pub(crate) fn keep_rows<T: Send + Sync + 'static>(
        &mut self,
        path: &str,
        format: &'static str,
        ttl: Duration,
        rows: Arc<[T]>,
    ) {
        self.sweep();
        let of = (TypeId::of::<T>(), format);
        let entry = self.entry(path);
        entry.rows.retain(|rows| rows.of != of);
        entry.rows.push(Rows {
            of,
            expires: until(ttl),
            shared: Box::new(rows),
        });
    }

    /// Drops everything of `path`, and what reads of it are on their way would keep.
    pub(crate) fn forget(&mut self, path: &str) {
        self.writes += 1;
        self.entries.remove(path);
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.writes += 1;
        self.entries.clear();
    }

    fn entry(&mut self, path: &str) -> &mut Entry {
        if !self.entries.contains_key(path) {
            self.entries.insert(path.to_owned(), Entry::default());
        }
        self.entries.get_mut(path).expect("inserted above")
    }

    /// Once the cache has doubled since the last sweep, drops what has
    /// expired: amortized O(1) per insert, and memory bounded by what lives.
    fn sweep(&mut self) {
        if self.entries.len() < self.sweep_at {
            return;
        }
        let now = Instant::now();
        self.entries.retain(|_, entry| {
            entry.body.take_if(|(expires, _)| *expires <= now);
            entry.rows.retain(|rows| rows.expires > now);
            entry.body.is_some() || !entry.rows.is_empty()
        });
        self.sweep_at = (self.entries.len() * 2).max(64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_shared_by_type_and_format_and_dropped_with_their_path() {
        let mut reads = Reads::default();
        let minute = Duration::from_mins(1);
        let rows: Arc<[u32]> = Arc::from(vec![1, 2, 3]);
        reads.keep_rows("a.csv", "csv", minute, Arc::clone(&rows));
        reads.keep_body("a.csv", minute, Bytes::from_static(b"n\n1\n2\n3\n"));
        let hit = reads.rows::<u32>("a.csv", "csv").unwrap();
        assert!(Arc::ptr_eq(&hit, &rows), "the same rows, not a copy");
        assert!(reads.rows::<u64>("a.csv", "csv").is_none(), "another type");
        assert!(reads.rows::<u32>("a.csv", "jsonl").is_none(), "another format");
        assert!(reads.body("a.csv").is_some());
        reads.forget("a.csv");
        assert!(reads.rows::<u32>("a.csv", "csv").is_none());
        assert!(reads.body("a.csv").is_none());
    }

    #[test]
    fn expired_entries_are_not_served_and_are_swept() {
        let mut reads = Reads::default();
        for n in 0..200 {
            reads.keep_body(&format!("{n}.txt"), Duration::from_nanos(1), Bytes::from_static(b"x"));
        }
        std::thread::sleep(Duration::from_millis(2));
        assert!(reads.body("0.txt").is_none());
        reads.keep_body("live.txt", Duration::from_mins(1), Bytes::from_static(b"y"));
        assert!(reads.entries.len() < 200, "swept: {}", reads.entries.len());
        assert_eq!(reads.body("live.txt").as_deref(), Some(&b"y"[..]));
    }
}
