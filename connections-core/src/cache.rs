//! The factory cache: live connections keyed by (type, resolved name, kwargs).
//!
//! One cache per (`ttl`, `max_entries`) policy, as Streamlit keeps one per
//! pair, so one setting never evicts another's entries.
//!
//! * Reads are a `papaya` lookup by borrowed key parts under an epoch guard:
//!   no lock, no allocation, never blocked by a writer. The `Arc` path then
//!   upgrades a weak reference (one atomic operation); the borrowed path
//!   takes an `arc-swap` guard on the slot, which touches no shared counter.
//! * A removed entry lets go of its connection at once (the slot's cell is
//!   emptied), so close hooks run as soon as no handle is left, not when the
//!   map's epoch reclamation gets to the slot.
//! * Inserts are O(1) amortized: writers take a mutex among themselves (the
//!   cold path), insert in place, and drop expired entries from the front of
//!   a queue kept in write order, so a cache of 100k names builds in
//!   milliseconds and no insert copies the map.
//! * Each key has its own single-flight slot, so concurrent first lookups of
//!   one key build once and a slow build of one key never blocks another.
//! * A scope's caches keep the same slots in a small copy-on-write map
//!   instead (see `Slots::Local`): a papaya map per scope would cost 16 KiB.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use papaya::Equivalent;

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
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyRef<'a> {
    pub(crate) type_id: TypeId,
    pub(crate) name: &'a str,
    /// The kwargs in canonical (sorted, serialised) form; empty for none.
    pub(crate) kwargs: &'a str,
}

/// Hashes the type and the name only: the kwargs variants of one name are
/// few, so they share a bucket chain, and the hot path (no kwargs) hashes two
/// words fewer. With one variable-length part, the name needs no terminator.
impl Hash for KeyRef<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.type_id.hash(state);
        state.write(self.name.as_bytes());
    }
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
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        self.type_id == key.type_id && same_str(self.name, &key.name) && same_str(self.kwargs, &key.kwargs)
    }
}

/// `a == b`, without calling `memcmp` when both are empty.
///
/// An empty `Box<str>` points at a dangling, unmapped address. Some of glibc's
/// `memcmp` variants (the AVX-512 `__memcmp_evex_movbe`) make a masked load
/// there even for length 0, and the masked-off page fault costs about 120 ns
/// on CPUs that take it: more than the rest of a lookup. Every lookup without
/// kwargs compares two empty kwargs, so the check comes first.
#[inline]
fn same_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a.as_bytes() == b.as_bytes())
}

impl Key {
    fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            type_id: self.type_id,
            name: &self.name,
            kwargs: &self.kwargs,
        }
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
    /// Builds the entry once, however many lookups race for it. Emptied when
    /// the slot leaves the map, so the connection is let go of at once: the
    /// map frees the slot itself only once no reader can still see it.
    cell: SingleFlight<Entry, Error>,
    /// The built connection again, for the `Arc` path, which upgrades it
    /// with one atomic operation where an `arc-swap` load of the cell takes
    /// two. The cell holds the only strong reference the cache has, so
    /// emptying the cell lets go of the connection at once; this weak one
    /// only keeps the allocation until the map frees the slot, and upgrading
    /// it fails once every strong reference is gone.
    ready: OnceLock<Ready>,
    /// Read since the eviction clock last passed it (`max_entries` only):
    /// the clock gives it a second chance instead of evicting it.
    referenced: AtomicBool,
}

struct Ready {
    conn: Weak<dyn DynConnection>,
    written: Instant,
}

impl Slot {
    /// Lets go of the entry of a slot just removed from the map. Borrowed
    /// handles keep it alive until they are dropped, and a build still
    /// running hands its result to its callers but stores it nowhere.
    fn retire(&self) {
        self.cell.reset();
    }
}

/// The maps' hasher: `foldhash`, made for short keys such as connection
/// names and scope keys, and seeded at random per map.
pub(crate) type KeyHasher = foldhash::fast::RandomState;

/// What writers share under the cache's mutex.
#[derive(Default)]
struct Writes {
    /// Built entries of a cache with a ttl, in write order, so the expired
    /// ones are at the front.
    expiry: VecDeque<(Instant, Key, Weak<Slot>)>,
    /// The eviction clock of a cache with `max_entries`: its slots in
    /// insertion order, the hand at the front. Slots that left the map by
    /// another way (a ttl, a reset) are skipped when the hand reaches them.
    clock: VecDeque<(Key, Weak<Slot>)>,
}

/// A scope cache's map.
type LocalMap = hashbrown::HashMap<Key, Arc<Slot>, KeyHasher>;

/// Where a cache keeps its slots.
enum Slots {
    /// A registry's caches: lock-free reads that no writer ever blocks.
    Shared(papaya::HashMap<Key, Arc<Slot>, KeyHasher>),
    /// A scope's caches: a small map, copied on write. A papaya map brings
    /// its own epoch collector, 16 KiB before its first entry, where this
    /// takes a few hundred bytes; a scope holds a few connections, so a copy
    /// per insert is cheap, and reads stay one `arc-swap` load with no lock.
    /// Writers copy under the cache's writers' mutex, so none is lost.
    Local(ArcSwap<LocalMap>),
}

impl Slots {
    /// Calls `f` on the slot for `key`, if there is one.
    #[inline]
    fn with<R>(&self, key: &KeyRef<'_>, f: impl FnOnce(&Arc<Slot>) -> Option<R>) -> Option<R> {
        match self {
            Slots::Shared(map) => f(map.pin().get(key)?),
            Slots::Local(map) => f(map.load().get(key)?),
        }
    }

    /// Changes a local map: a copy, changed, then stored. Called only under
    /// the cache's writers' mutex.
    fn update<R>(map: &ArcSwap<LocalMap>, change: impl FnOnce(&mut LocalMap) -> R) -> R {
        let mut next = LocalMap::clone(&map.load());
        let changed = change(&mut next);
        map.store(Arc::new(next));
        changed
    }

    fn remove(&self, key: &KeyRef<'_>) -> Option<Arc<Slot>> {
        match self {
            Slots::Shared(map) => map.pin().remove(key).cloned(),
            Slots::Local(map) => map
                .load()
                .contains_key(key)
                .then(|| Self::update(map, |m| m.remove(key)))?,
        }
    }

    /// Removes the slot for `key` only if it is `slot`; whether it did.
    fn remove_if_same(&self, key: &KeyRef<'_>, slot: &Arc<Slot>) -> bool {
        match self {
            Slots::Shared(map) => matches!(
                map.pin().remove_if(key, |_, current| Arc::ptr_eq(current, slot)),
                Ok(Some(_))
            ),
            Slots::Local(map) => {
                map.load().get(key).is_some_and(|current| Arc::ptr_eq(current, slot))
                    && Self::update(map, |m| m.remove(key)).is_some()
            }
        }
    }

    fn insert(&self, key: Key, slot: Arc<Slot>) {
        match self {
            Slots::Shared(map) => {
                map.pin().insert(key, slot);
            }
            Slots::Local(map) => {
                Self::update(map, |m| m.insert(key, slot));
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Slots::Shared(map) => map.len(),
            Slots::Local(map) => map.load().len(),
        }
    }

    /// Whether `key` holds `slot` itself (not a newer slot for the key).
    fn holds(&self, key: &KeyRef<'_>, slot: &Arc<Slot>) -> bool {
        self.with(key, |current| Arc::ptr_eq(current, slot).then_some(()))
            .is_some()
    }

    fn values(&self) -> Vec<Arc<Slot>> {
        match self {
            Slots::Shared(map) => map.pin().values().cloned().collect(),
            Slots::Local(map) => map.load().values().cloned().collect(),
        }
    }

    /// Removes every slot, returning them.
    fn take_all(&self) -> Vec<Arc<Slot>> {
        match self {
            Slots::Shared(map) => {
                let map = map.pin();
                let slots = map.values().cloned().collect();
                map.clear();
                slots
            }
            Slots::Local(map) => map.swap(Arc::default()).values().cloned().collect(),
        }
    }
}

pub(crate) struct Cache {
    policy: Policy,
    map: Slots,
    writes: Mutex<Writes>,
}

impl Cache {
    pub(crate) fn new(policy: Policy) -> Self {
        Self::with_slots(
            policy,
            Slots::Shared(papaya::HashMap::builder().hasher(KeyHasher::default()).build()),
        )
    }

    /// A cache for a scope: small, copied on write (see [`Slots::Local`]).
    pub(crate) fn local(policy: Policy) -> Self {
        Self::with_slots(policy, Slots::Local(ArcSwap::default()))
    }

    fn with_slots(policy: Policy, map: Slots) -> Self {
        Self {
            policy,
            map,
            writes: Mutex::new(Writes::default()),
        }
    }

    fn writes(&self) -> MutexGuard<'_, Writes> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    fn expired(&self, entry: &Entry) -> bool {
        self.expired_since(entry.written)
    }

    /// Whether an entry written at `written` is past the ttl.
    #[inline]
    fn expired_since(&self, written: Instant) -> bool {
        self.policy.ttl.is_some_and(|ttl| written.elapsed() >= ttl)
    }

    /// Whether a slot may serve lookups: still building, or built and unexpired.
    fn usable(&self, slot: &Slot) -> bool {
        slot.cell.peek().as_ref().is_none_or(|e| !self.expired(e))
    }

    /// Marks a slot read for the eviction clock: a load, and a store only
    /// the first time after the hand passed (no shared counter to contend on).
    #[inline]
    fn touch(&self, slot: &Slot) {
        if self.policy.max_entries.is_some() && !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// The cached, unexpired entry for `key` as a guard, marked read for the eviction clock.
    #[inline]
    fn hit(&self, key: KeyRef<'_>) -> Option<Guard<Option<Arc<Entry>>>> {
        self.map.with(&key, |slot| {
            let entry = slot.cell.peek();
            if entry.as_ref().is_none_or(|e| self.expired(e)) {
                return None;
            }
            self.touch(slot);
            Some(entry)
        })
    }

    /// The cached connection for `key`, if built and not expired.
    #[inline]
    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<Arc<dyn DynConnection>> {
        self.map.with(&key, |slot| {
            let ready = slot.ready.get()?;
            if self.expired_since(ready.written) {
                return None;
            }
            let conn = ready.conn.upgrade()?;
            self.touch(slot);
            Some(conn)
        })
    }

    /// The cached connection for `key` as a `T`: the `Arc` hot path. One
    /// reference-count increment, where cloning and then downcasting the
    /// `Arc<dyn DynConnection>` would take a second increment and a decrement.
    #[inline]
    pub(crate) fn get_typed<T: Connection>(&self, key: KeyRef<'_>) -> Option<Arc<T>> {
        let conn: Arc<dyn Any + Send + Sync> = self.get(key)?;
        conn.downcast::<T>().ok()
    }

    /// The cached entry for `key` as a guard, touching no shared reference count.
    #[inline]
    pub(crate) fn get_guard(&self, key: KeyRef<'_>) -> Option<Guard<Option<Arc<Entry>>>> {
        self.hit(key)
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
                let conn = build()?;
                let written = if self.policy.ttl.is_some() {
                    // Stamped under the writers' lock, so the queue stays in order.
                    let mut writes = self.writes();
                    let written = Instant::now();
                    writes
                        .expiry
                        .push_back((written, key.to_owned_key(), Arc::downgrade(&slot)));
                    written
                } else {
                    Instant::now()
                };
                Ok(Arc::new(Entry { conn, written }))
            },
            on_panic,
        );
        match outcome {
            Ok(entry) => {
                // Every waiter may try; the first sets it, and all hold the same entry.
                let _ = slot.ready.set(Ready {
                    conn: Arc::downgrade(&entry.conn),
                    written: entry.written,
                });
                // Not marked read: the clock's second chance is for reuse, and a new
                // slot already stands behind every older one.
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
        let mut writes = self.writes();
        if let Some(slot) = self.map.with(&key, |slot| self.usable(slot).then(|| Arc::clone(slot))) {
            return slot;
        }
        self.drop_expired(&mut writes);
        if let Some(expired) = self.map.remove(&key) {
            expired.retire();
        }
        if let Some(max) = self.policy.max_entries {
            while self.map.len() >= max.get() {
                if !self.evict_one(&mut writes) {
                    break;
                }
            }
        }
        let slot = Arc::new(Slot {
            cell: SingleFlight::new(),
            ready: OnceLock::new(),
            referenced: AtomicBool::new(false),
        });
        let owned = key.to_owned_key();
        if self.policy.max_entries.is_some() {
            writes.clock.push_back((owned.clone(), Arc::downgrade(&slot)));
            // Slots that left by another way are dropped as the hand meets
            // them; past twice the live ones, all at once (O(1) amortized).
            if writes.clock.len() > 2 * self.map.len() + 16 {
                writes
                    .clock
                    .retain(|(k, s)| s.upgrade().is_some_and(|s| self.map.holds(&k.as_ref(), &s)));
            }
        }
        self.map.insert(owned, Arc::clone(&slot));
        slot
    }

    /// Evicts one slot by the clock (second chance): the hand skips slots
    /// that already left the map, gives a slot read since it last passed a
    /// second chance (clears its mark, moves it behind), and evicts the first
    /// one not read. Each mark cleared was set by a read, so the work is
    /// O(1) amortized per insert and read. Whether it evicted one.
    fn evict_one(&self, writes: &mut Writes) -> bool {
        while let Some((key, slot)) = writes.clock.pop_front() {
            let Some(slot) = slot.upgrade().filter(|slot| self.map.holds(&key.as_ref(), slot)) else {
                continue;
            };
            if slot.referenced.swap(false, Ordering::Relaxed) {
                writes.clock.push_back((key, Arc::downgrade(&slot)));
                continue;
            }
            if self.map.remove_if_same(&key.as_ref(), &slot) {
                slot.retire();
                return true;
            }
        }
        false
    }

    /// Removes the expired entries at the front of the write-order queue:
    /// each queued entry is looked at once, so the cost is O(1) amortized.
    fn drop_expired(&self, writes: &mut Writes) {
        if self.policy.ttl.is_none() {
            return;
        }
        while let Some(&(written, _, _)) = writes.expiry.front()
            && self.expired_since(written)
        {
            let Some((_, key, slot)) = writes.expiry.pop_front() else {
                break;
            };
            // Only if the map still holds that very slot (not a newer one for the key).
            if let Some(slot) = slot.upgrade()
                && self.map.remove_if_same(&key.as_ref(), &slot)
            {
                slot.retire();
            }
        }
    }

    fn remove_if_same(&self, key: KeyRef<'_>, slot: &Arc<Slot>) {
        let _writes = self.writes();
        // A failed build left the cell empty: nothing to let go of.
        self.map.remove_if_same(&key, slot);
    }

    /// The eviction settings this cache was made with.
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// Every built, unexpired connection, for a secrets reload to reconfigure.
    pub(crate) fn live(&self) -> Vec<Arc<dyn DynConnection>> {
        self.map
            .values()
            .iter()
            .filter_map(|slot| {
                let entry = slot.cell.peek();
                let entry = entry.as_ref().filter(|e| !self.expired(e))?;
                Some(Arc::clone(&entry.conn))
            })
            .collect()
    }

    /// Drops every entry (the connections live on in handles already handed out).
    pub(crate) fn clear(&self) {
        let mut writes = self.writes();
        writes.expiry.clear();
        writes.clock.clear();
        for slot in self.map.take_all() {
            slot.retire();
        }
    }

    /// How many built, unexpired entries the cache holds.
    pub(crate) fn len(&self) -> usize {
        self.map
            .values()
            .iter()
            .filter(|slot| slot.cell.peek().as_ref().is_some_and(|e| !self.expired(e)))
            .count()
    }
}
