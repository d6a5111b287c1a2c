//! The read cache of [`RedisConnection::cached`](crate::RedisConnection::cached):
//! values read with a `ttl`, by Redis key, dropped when a helper writes that
//! key, and expired soonest first.

use std::any::{Any, TypeId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

/// One cached read of a key: which command and field, the type it was read
/// as, until when, and the value (an `Option<T>` or a `HashMap<String, T>`).
struct Read {
    command: &'static str,
    field: Option<Box<str>>,
    type_id: TypeId,
    expires: Instant,
    value: Box<dyn Any + Send + Sync>,
}

/// The cached reads, by Redis key.
#[derive(Default)]
pub(crate) struct ReadCache {
    reads: HashMap<Box<str>, Vec<Read>>,
    /// One item per insert: when, and which key; an item whose read was
    /// dropped or replaced since is skipped when it comes up.
    expiry: BinaryHeap<Reverse<(Instant, Box<str>)>>,
    /// Bumped by every write through the connection's helpers: a read that
    /// started before a write stores nothing, since it may hold the old value.
    writes: u64,
}

impl ReadCache {
    /// The write count a read starts at; see [`insert`](ReadCache::insert).
    pub(crate) fn writes(&self) -> u64 {
        self.writes
    }

    /// The live value `command` read from `key` (and `field`) as `V`.
    pub(crate) fn get<V: Clone + 'static>(
        &self,
        command: &'static str,
        key: &str,
        field: Option<&str>,
        now: Instant,
    ) -> Option<V> {
        self.reads
            .get(key)?
            .iter()
            .find(|read| {
                read.command == command
                    && read.field.as_deref() == field
                    && read.type_id == TypeId::of::<V>()
                    && read.expires > now
            })
            .and_then(|read| read.value.downcast_ref::<V>())
            .cloned()
    }

    /// Keeps `value` until `expires`, unless a write came since the read
    /// began at `started` (its value may be the old one).
    pub(crate) fn insert<V: Send + Sync + 'static>(
        &mut self,
        started: u64,
        (command, key, field): (&'static str, &str, Option<&str>),
        expires: Instant,
        value: V,
    ) {
        if started != self.writes {
            return;
        }
        self.drop_expired(Instant::now());
        let reads = self.reads.entry(key.into()).or_default();
        reads.retain(|read| {
            !(read.command == command && read.field.as_deref() == field && read.type_id == TypeId::of::<V>())
        });
        reads.push(Read {
            command,
            field: field.map(Into::into),
            type_id: TypeId::of::<V>(),
            expires,
            value: Box::new(value),
        });
        self.expiry.push(Reverse((expires, key.into())));
    }

    /// Forgets every read of `key`: a helper wrote it.
    pub(crate) fn invalidate(&mut self, key: &str) {
        self.writes += 1;
        self.reads.remove(key);
    }

    /// Forgets every read: the connection is about to connect anew, perhaps
    /// to another server or database.
    pub(crate) fn forget_all(&mut self) {
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
