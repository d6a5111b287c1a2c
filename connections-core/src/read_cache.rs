//! [`ReadCache`]: the read cache a connection type keeps beside its
//! client, for reads made with a `ttl`, dropped when the connection itself
//! writes what they read.

use std::any::{Any, TypeId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// One cached read of a key: which kind of read and field, the type it was
/// read as, until when, and the value.
struct Read {
    kind: &'static str,
    field: Option<Box<str>>,
    type_id: TypeId,
    expires: Instant,
    value: Box<dyn Any + Send + Sync>,
}

/// Reads kept for a `ttl`, by key (a Redis key, an object's path): each by
/// the kind of read (`"GET"`, `"csv"`), an optional field, and the type it
/// was read as; dropped when the connection writes the key, and expired
/// soonest first.
///
/// A read that began before a write of its key, or before the connection
/// connected anew, stores nothing: it may hold what was there before. Keep
/// it behind a `Mutex` held for a lookup or an insert, never across the
/// read itself, and store shared values (`Arc<[T]>`, `Bytes`) so that a hit
/// clones no row.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use connections_core::author::ReadCache;
///
/// let mut cache = ReadCache::default();
/// let started = cache.writes();
/// let rows: Arc<[u32]> = Arc::from(vec![1, 2, 3]);
/// let expires = ReadCache::expiry(Duration::from_secs(60));
/// cache.insert(started, ("csv", "sales.csv", None), expires, Arc::clone(&rows));
/// let hit = cache.get::<Arc<[u32]>>("csv", "sales.csv", None, Instant::now()).unwrap();
/// assert!(Arc::ptr_eq(&hit, &rows), "the same rows, not a copy");
///
/// cache.invalidate("sales.csv"); // the connection wrote the file
/// assert!(cache.get::<Arc<[u32]>>("csv", "sales.csv", None, Instant::now()).is_none());
/// // A read that began before that write keeps nothing.
/// cache.insert(started, ("csv", "sales.csv", None), expires, rows);
/// assert!(cache.get::<Arc<[u32]>>("csv", "sales.csv", None, Instant::now()).is_none());
/// ```
#[derive(Default)]
pub struct ReadCache {
    reads: HashMap<Box<str>, Vec<Read>>,
    /// One item per insert: when, and which key; an item whose read was
    /// dropped or replaced since is skipped when it comes up.
    expiry: BinaryHeap<Reverse<(Instant, Box<str>)>>,
    /// Bumped by every write through the connection: a read that started
    /// before a write stores nothing, since it may hold the old value.
    writes: u64,
}

impl ReadCache {
    /// When a read kept for `ttl` from now expires: a `ttl` past what an
    /// `Instant` holds is a century.
    ///
    /// # Examples
    ///
    /// See [`ReadCache`].
    pub fn expiry(ttl: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(ttl)
            .unwrap_or_else(|| now + Duration::from_hours(100 * 365 * 24))
    }

    /// The write count a read starts at; pass it to [`insert`](ReadCache::insert).
    ///
    /// # Examples
    ///
    /// See [`ReadCache`].
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The live value the read `kind` of `key` (and `field`) kept as `V`.
    ///
    /// # Examples
    ///
    /// See [`ReadCache`].
    pub fn get<V: Clone + 'static>(
        &self,
        kind: &'static str,
        key: &str,
        field: Option<&str>,
        now: Instant,
    ) -> Option<V> {
        self.reads
            .get(key)?
            .iter()
            .find(|read| {
                read.kind == kind
                    && read.field.as_deref() == field
                    && read.type_id == TypeId::of::<V>()
                    && read.expires > now
            })
            .and_then(|read| read.value.downcast_ref::<V>())
            .cloned()
    }

    /// Keeps `value` until `expires`, unless a write came since the read
    /// began at `started` (its value may be the old one).
    ///
    /// # Examples
    ///
    /// See [`ReadCache`].
    pub fn insert<V: Send + Sync + 'static>(
        &mut self,
        started: u64,
        (kind, key, field): (&'static str, &str, Option<&str>),
        expires: Instant,
        value: V,
    ) {
        if started != self.writes {
            return;
        }
        self.drop_expired(Instant::now());
        let reads = self.reads.entry(key.into()).or_default();
        reads
            .retain(|read| !(read.kind == kind && read.field.as_deref() == field && read.type_id == TypeId::of::<V>()));
        reads.push(Read {
            kind,
            field: field.map(Into::into),
            type_id: TypeId::of::<V>(),
            expires,
            value: Box::new(value),
        });
        self.expiry.push(Reverse((expires, key.into())));
    }

    /// Forgets every read of `key`: the connection wrote it.
    ///
    /// # Examples
    ///
    /// See [`ReadCache`].
    pub fn invalidate(&mut self, key: &str) {
        self.writes += 1;
        self.reads.remove(key);
    }

    /// Forgets every read: the connection is about to connect anew, perhaps
    /// to another server, database or bucket.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use connections_core::author::ReadCache;
    ///
    /// let mut cache = ReadCache::default();
    /// cache.insert(cache.writes(), ("GET", "k", None), ReadCache::expiry(Duration::from_secs(60)), 1_u8);
    /// cache.forget_all();
    /// assert_eq!(cache.get::<u8>("GET", "k", None, Instant::now()), None);
    /// ```
    pub fn forget_all(&mut self) {
        self.writes += 1;
        self.reads.clear();
        self.expiry.clear();
    }

    /// Removes the reads whose time has come, looking at no other.
    fn drop_expired(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.expiry.peek()
            && *at <= now
        {
            let Some(Reverse((_, key))) = self.expiry.pop() else {
                break;
            };
            if let Some(reads) = self.reads.get_mut(&key) {
                reads.retain(|read| read.expires > now);
                if reads.is_empty() {
                    self.reads.remove(&key);
                }
            }
        }
    }

    /// How many reads it holds, expired ones not yet dropped included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.reads.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_read_is_kept_per_command_field_and_type_until_it_expires_or_its_key_is_written() {
        let mut cache = ReadCache::default();
        let now = Instant::now();
        let later = now + Duration::from_mins(1);
        cache.insert(cache.writes(), ("GET", "k", None), later, Some("v".to_owned()));
        cache.insert(cache.writes(), ("HGET", "k", Some("f")), later, Some(7_i64));
        assert_eq!(
            cache.get::<Option<String>>("GET", "k", None, now),
            Some(Some("v".to_owned()))
        );
        assert_eq!(cache.get::<Option<i64>>("HGET", "k", Some("f"), now), Some(Some(7)));
        assert_eq!(
            cache.get::<Option<i64>>("HGET", "k", Some("g"), now),
            None,
            "another field"
        );
        assert_eq!(cache.get::<Option<i64>>("GET", "k", None, now), None, "another type");
        assert_eq!(cache.get::<Option<String>>("GET", "k", None, later), None, "expired");

        cache.invalidate("k");
        assert_eq!(cache.get::<Option<String>>("GET", "k", None, now), None, "written");
        assert_eq!(cache.len(), 0);

        let started = cache.writes();
        cache.insert(started, ("GET", "j", None), later, Some(1_i64));
        cache.forget_all();
        assert_eq!(cache.len(), 0, "a new connect forgets every read");
        cache.insert(started, ("GET", "j", None), later, Some(1_i64));
        assert_eq!(cache.len(), 0, "a read from before it stores nothing");
    }

    #[test]
    fn a_read_that_began_before_a_write_is_not_kept() {
        let mut cache = ReadCache::default();
        let started = cache.writes();
        cache.invalidate("k");
        cache.insert(
            started,
            ("GET", "k", None),
            Instant::now() + Duration::from_mins(1),
            Some(1_i64),
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn expired_reads_leave_on_the_next_insert() {
        let mut cache = ReadCache::default();
        let past = Instant::now();
        for i in 0..100 {
            cache.insert(cache.writes(), ("GET", &format!("k{i}"), None), past, Some(i));
        }
        cache.insert(
            cache.writes(),
            ("GET", "fresh", None),
            Instant::now() + Duration::from_mins(1),
            Some(1),
        );
        assert_eq!(cache.len(), 1, "only the fresh read is left");
    }
}
