//! The factory cache: live connections keyed by (type, resolved name, kwargs).
//!
//! One cache per (`ttl`, `max_entries`) policy, as Streamlit keeps one per
//! pair, so one setting never evicts another's entries. Reads are an
//! `arc-swap` snapshot load plus a hash lookup by borrowed key parts: no lock,
//! no allocation. Inserts copy the map under a mutex (the cold path). Each key
//! has its own single-flight slot, so concurrent first lookups of one key build
//! once and a slow build of one key never blocks another.

use std::any::{Any, TypeId};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use hashbrown::{Equivalent, HashMap};

use crate::cell::SingleFlight;
use crate::connection::{Connection, DynConnection};
use crate::error::{Error, Result};

/// A cache's eviction settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Policy {
    pub(crate) ttl: Option<Duration>,
    pub(crate) max_entries: Option<NonZeroUsize>,
}

/// An owned cache key.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    type_id: TypeId,
    name: Box<str>,
    kwargs: Box<str>,
}

/// A borrowed cache key; hashes exactly as the `Key` it equals.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef<'a> {
    pub(crate) type_id: TypeId,
    pub(crate) name: &'a str,
    /// The kwargs in canonical (sorted, serialised) form; empty for none.
    pub(crate) kwargs: &'a str,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        KeyRef {
            type_id: self.type_id,
            name: &self.name,
            kwargs: &self.kwargs,
        }
        .hash(state);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.type_id == key.type_id && self.name == &*key.name && self.kwargs == &*key.kwargs
    }
}

impl KeyRef<'_> {
    fn to_owned_key(self) -> Key {
        Key {
            type_id: self.type_id,
            name: self.name.into(),
            kwargs: self.kwargs.into(),
        }
    }
}

pub(crate) struct Entry {
    pub(crate) conn: Arc<dyn DynConnection>,
    /// When the entry was written: ttl counts from here, reads do not extend it.
    written: Instant,
}

struct Slot {
    cell: SingleFlight<Entry>,
    /// Tick of the last read, for least-recently-used eviction.
    last_used: AtomicU64,
}

pub(crate) struct Cache {
    policy: Policy,
    map: ArcSwap<HashMap<Key, Arc<Slot>>>,
    write: Mutex<()>,
    tick: AtomicU64,
}

impl Cache {
    pub(crate) fn new(policy: Policy) -> Self {
        Self {
            policy,
            map: ArcSwap::from_pointee(HashMap::new()),
            write: Mutex::new(()),
            tick: AtomicU64::new(0),
        }
    }

    fn expired(&self, entry: &Entry) -> bool {
        self.policy.ttl.is_some_and(|ttl| entry.written.elapsed() >= ttl)
    }

    /// Whether a slot may serve lookups: still building, or built and unexpired.
    fn usable(&self, slot: &Slot) -> bool {
        slot.cell.peek().as_ref().is_none_or(|e| !self.expired(e))
    }

    fn touch(&self, slot: &Slot) {
        if self.policy.max_entries.is_some() {
            slot.last_used
                .store(self.tick.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// The cached connection for `key`, if built and not expired.
    #[inline]
    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<Arc<dyn DynConnection>> {
        self.get_guard(key)
            .and_then(|entry| entry.as_ref().map(|e| Arc::clone(&e.conn)))
    }

    /// The cached connection for `key` as a `T`: the `Arc` hot path. One
    /// reference-count increment, where cloning and then downcasting the
    /// `Arc<dyn DynConnection>` would take a second increment and a decrement.
    #[inline]
    pub(crate) fn get_typed<T: Connection>(&self, key: KeyRef<'_>) -> Option<Arc<T>> {
        let entry = self.get_guard(key)?;
        let conn = Arc::clone(&entry.as_ref()?.conn);
        let conn: Arc<dyn Any + Send + Sync> = conn;
        conn.downcast::<T>().ok()
    }

    /// The cached entry for `key` as a guard, touching no shared reference count.
    #[inline]
    pub(crate) fn get_guard(&self, key: KeyRef<'_>) -> Option<Guard<Option<Arc<Entry>>>> {
        let map = self.map.load();
        let slot = map.get(&key)?;
        let entry = slot.cell.peek();
        if entry.as_ref().is_none_or(|e| self.expired(e)) {
            return None;
        }
        self.touch(slot);
        Some(entry)
    }

    /// The cached connection for `key`, building it with `build` if needed.
    ///
    /// Failures are never cached. `on_panic` turns a panic in `build` into an error.
    pub(crate) fn get_or_build(
        &self,
        key: KeyRef<'_>,
        build: impl FnOnce() -> Result<Arc<dyn DynConnection>>,
        on_panic: impl FnOnce(String) -> Error,
    ) -> Result<Arc<dyn DynConnection>> {
        if self.policy.ttl == Some(Duration::ZERO) {
            // Streamlit's ttl=0: nothing is cached, every call builds anew.
            return build();
        }
        if let Some(hit) = self.get(key) {
            return Ok(hit);
        }
        let slot = self.slot_for(key);
        let outcome = slot.cell.get_or_try_init(
            || {
                build().map(|conn| {
                    Arc::new(Entry {
                        conn,
                        written: Instant::now(),
                    })
                })
            },
            on_panic,
        );
        match outcome {
            Ok(entry) => {
                self.touch(&slot);
                Ok(Arc::clone(&entry.conn))
            }
            Err(e) => {
                self.remove_if_same(key, &slot);
                Err(e)
            }
        }
    }

    /// The slot for `key`, inserting a fresh one if there is none or it expired.
    #[cold]
    fn slot_for(&self, key: KeyRef<'_>) -> Arc<Slot> {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let map = self.map.load();
        if let Some(slot) = map.get(&key)
            && self.usable(slot)
        {
            return Arc::clone(slot);
        }
        let mut next: HashMap<Key, Arc<Slot>> = (**map).clone();
        next.retain(|_, slot| self.usable(slot));
        next.remove(&key);
        if let Some(max) = self.policy.max_entries {
            while next.len() >= max.get() {
                let lru = next
                    .iter()
                    .min_by_key(|(_, slot)| slot.last_used.load(Ordering::Relaxed))
                    .map(|(k, _)| k.clone());
                match lru {
                    Some(k) => next.remove(&k),
                    None => break,
                };
            }
        }
        let slot = Arc::new(Slot {
            cell: SingleFlight::new(),
            last_used: AtomicU64::new(self.tick.fetch_add(1, Ordering::Relaxed)),
        });
        next.insert(key.to_owned_key(), Arc::clone(&slot));
        self.map.store(Arc::new(next));
        slot
    }

    fn remove_if_same(&self, key: KeyRef<'_>, slot: &Arc<Slot>) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let map = self.map.load();
        if map.get(&key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            let mut next: HashMap<Key, Arc<Slot>> = (**map).clone();
            next.remove(&key);
            self.map.store(Arc::new(next));
        }
    }

    /// The eviction settings this cache was made with.
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// Every built, unexpired connection, for a secrets reload to reconfigure.
    pub(crate) fn live(&self) -> Vec<Arc<dyn DynConnection>> {
        self.map
            .load()
            .values()
            .filter_map(|slot| {
                let entry = slot.cell.peek();
                let entry = entry.as_ref().filter(|e| !self.expired(e))?;
                Some(Arc::clone(&entry.conn))
            })
            .collect()
    }

    /// Drops every entry (the connections live on in handles already handed out).
    pub(crate) fn clear(&self) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        self.map.store(Arc::new(HashMap::new()));
    }

    /// How many built, unexpired entries the cache holds.
    pub(crate) fn len(&self) -> usize {
        self.map
            .load()
            .values()
            .filter(|slot| slot.cell.peek().as_ref().is_some_and(|e| !self.expired(e)))
            .count()
    }
}
