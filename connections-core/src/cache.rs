//! The factory cache: live connections keyed by (type, resolved name, kwargs).
//!
//! One cache per (`ttl`, `max_entries`) policy, as Streamlit keeps one per
//! pair, so one setting never evicts another's entries.
//!
//! * Reads are a `papaya` lookup by borrowed key parts under an epoch guard:
//!   no lock, no allocation, never blocked by a writer. What a hit needs
//!   lives in the map's entry itself (see [`Held`]): the type, a name of up
//!   to 24 bytes and the built connection, so the `Arc` path reads one entry
//!   and clones the connection (one atomic increment), and touches no other
//!   allocation of the cache. The borrowed path takes an `arc-swap` guard on
//!   the slot, which touches no shared counter.
//! * A removed entry lets go of its connection at once: the slot's cell is
//!   emptied, and the map's entry, the one other holder, is reclaimed as soon
//!   as no reader can still see it (a reclamation batch of one), so close
//!   hooks run as soon as no handle is left.
//! * Resizes finish inside the insert that starts them (papaya's blocking
//!   mode): once writes stop, a reader probes one table, never an old table
//!   and then the new one while a migration waits for writes to finish it.
//! * Inserts are O(1) amortized: writers take a mutex among themselves (the
//!   cold path), insert in place, and drop expired entries from the front of
//!   a queue kept in write order, so a cache of 100k names builds in
//!   milliseconds and no insert copies the map.
//! * Each key has its own single-flight slot, so concurrent first lookups of
//!   one key build once and a slow build of one key never blocks another.
//! * A scope's caches keep the same slots in a small copy-on-write map
//!   instead (see `Slots::Local`): a papaya map per scope would cost 16 KiB,
//!   and a row of a few entries is read in fewer cache lines than a hash map.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use compact_str::CompactString;
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

/// An owned cache key: the type, and the name with the kwargs after a NUL
/// (`name\0kwargs`; a name never holds one, control characters are refused
/// before anything is cached). Up to 24 bytes live inside the key, so the
/// compare of a hit reads no other allocation.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    type_id: TypeId,
    text: CompactString,
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
        self.as_ref().hash(state);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        if self.type_id != key.type_id {
            return false;
        }
        if self.kwargs.is_empty() {
            return same_str(self.name, &key.text);
        }
        let (name, kwargs) = key.parts();
        same_str(self.name, name) && same_str(self.kwargs, kwargs)
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
    /// The name and the kwargs (empty for none).
    fn parts(&self) -> (&str, &str) {
        self.text.split_once('\0').unwrap_or((&self.text, ""))
    }

    fn as_ref(&self) -> KeyRef<'_> {
        let (name, kwargs) = self.parts();
        KeyRef {
            type_id: self.type_id,
            name,
            kwargs,
        }
    }
}

impl KeyRef<'_> {
    fn to_owned_key(self) -> Key {
        let text = if self.kwargs.is_empty() {
            CompactString::from(self.name)
        } else {
            let mut text = CompactString::with_capacity(self.name.len() + 1 + self.kwargs.len());
            text.push_str(self.name);
            text.push('\0');
            text.push_str(self.kwargs);
            text
        };
        Key {
            type_id: self.type_id,
            text,
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
    /// the slot leaves the map, so the connection is let go of at once.
    cell: SingleFlight<Entry, Error>,
    /// When the entry was built, for the ttl check of the `Arc` path.
    written: OnceLock<Instant>,
    /// Read since the eviction clock last passed it (`max_entries` only):
    /// the clock gives it a second chance instead of evicting it.
    referenced: AtomicBool,
}

/// What the map holds for a key: its slot and, once built, the connection.
///
/// The connection sits in the map's entry beside the key so that a hit
/// reads that one entry (64 bytes with the key) and the connection, where
/// reading it through the slot took one more cache line a lookup: at 100k
/// names the lines a lookup touches, not its instructions, set its cost
/// (BENCHMARKS.md). Entries are immutable; a build's end replaces its
/// entry with one holding the connection, under the writers' mutex.
#[derive(Clone)]
struct Held {
    slot: Arc<Slot>,
    conn: Option<Arc<dyn DynConnection>>,
}

// The key and what it holds fill one 64-byte cache line between them.
const _: () = assert!(size_of::<Key>() + size_of::<Held>() <= 64);

impl Held {
    fn building(slot: Arc<Slot>) -> Self {
        Self { slot, conn: None }
    }
}

impl Slot {
    fn new() -> Self {
        Slot {
            cell: SingleFlight::new(),
            written: OnceLock::new(),
            referenced: AtomicBool::new(false),
        }
    }

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

/// A scope cache's map: a few entries in a row, searched in order, and a
/// hash map past [`LocalMap::FEW`]. A scope holds a connection or a few, and
/// a row of them is one allocation whose hit reads the row's header and the
/// entry, where a hash map's takes its header, its control bytes and the
/// bucket, a line more on each scoped lookup once scopes outgrow the
/// CPU's caches (BENCHMARKS.md, scopes at 100k).
#[derive(Clone)]
enum LocalMap {
    Few(Vec<(Key, Held)>),
    Many(hashbrown::HashMap<Key, Held, KeyHasher>),
}

impl Default for LocalMap {
    fn default() -> Self {
        LocalMap::Few(Vec::new())
    }
}

impl LocalMap {
    /// The most entries kept in a row; the next insert makes a hash map.
    const FEW: usize = 8;

    fn get(&self, key: &KeyRef<'_>) -> Option<&Held> {
        match self {
            LocalMap::Few(row) => row.iter().find(|(k, _)| key.equivalent(k)).map(|(_, held)| held),
            LocalMap::Many(map) => map.get(key),
        }
    }

    fn contains_key(&self, key: &KeyRef<'_>) -> bool {
        self.get(key).is_some()
    }

    fn insert(&mut self, key: Key, held: Held) -> Option<Held> {
        match self {
            LocalMap::Few(row) => {
                if let Some((_, current)) = row.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(current, held));
                }
                if row.len() < Self::FEW {
                    row.push((key, held));
                } else {
                    let mut map: hashbrown::HashMap<Key, Held, KeyHasher> = row.drain(..).collect();
                    map.insert(key, held);
                    *self = LocalMap::Many(map);
                }
                None
            }
            LocalMap::Many(map) => map.insert(key, held),
        }
    }

    fn remove(&mut self, key: &KeyRef<'_>) -> Option<Held> {
        match self {
            LocalMap::Few(row) => {
                let at = row.iter().position(|(k, _)| key.equivalent(k))?;
                Some(row.swap_remove(at).1)
            }
            LocalMap::Many(map) => map.remove(key),
        }
    }

    fn len(&self) -> usize {
        match self {
            LocalMap::Few(row) => row.len(),
            LocalMap::Many(map) => map.len(),
        }
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        match self {
            LocalMap::Few(row) => row.iter().map(|(_, held)| Arc::clone(&held.slot)).collect(),
            LocalMap::Many(map) => map.values().map(|held| Arc::clone(&held.slot)).collect(),
        }
    }
}

/// A registry cache's map.
type SharedMap = papaya::HashMap<Key, Held, KeyHasher>;

/// Where a cache keeps its slots. `repr(C)`: the tag, then either map at
/// the same offset, so a scope's map pointer sits right after its policy.
#[repr(C)]
enum Slots {
    /// A registry's caches: lock-free reads that no writer ever blocks.
    Shared(SharedMap),
    /// A scope's caches: a small map, copied on write. A papaya map brings
    /// its own epoch collector, 16 KiB before its first entry, where this
    /// takes a few hundred bytes; a scope holds a few connections, so a copy
    /// per insert is cheap, and reads stay one `arc-swap` load with no lock.
    /// Writers copy under the cache's writers' mutex, so none is lost.
    Local(ArcSwap<LocalMap>),
}

impl Slots {
    /// A registry cache's map: resizes finish in the insert that starts
    /// them, and a removed entry is reclaimed as soon as no reader can see
    /// it (a batch of one), so the connection it holds goes with it.
    fn shared() -> Self {
        Slots::Shared(
            papaya::HashMap::builder()
                .hasher(KeyHasher::default())
                .resize_mode(papaya::ResizeMode::Blocking)
                .collector(seize::Collector::new().batch_size(1))
                .build(),
        )
    }

    /// Calls `f` on what the map holds for `key`, if anything.
    #[inline]
    fn with<R>(&self, key: &KeyRef<'_>, f: impl FnOnce(&Held) -> Option<R>) -> Option<R> {
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
            Slots::Shared(map) => map.pin().remove(key).map(|held| Arc::clone(&held.slot)),
            Slots::Local(map) => map
                .load()
                .contains_key(key)
                .then(|| Self::update(map, |m| m.remove(key)))?
                .map(|held| held.slot),
        }
    }

    /// Removes the slot for `key` only if it is `slot`; whether it did.
    fn remove_if_same(&self, key: &KeyRef<'_>, slot: &Arc<Slot>) -> bool {
        match self {
            Slots::Shared(map) => matches!(
                map.pin().remove_if(key, |_, current| Arc::ptr_eq(&current.slot, slot)),
                Ok(Some(_))
            ),
            Slots::Local(map) => {
                map.load()
                    .get(key)
                    .is_some_and(|current| Arc::ptr_eq(&current.slot, slot))
                    && Self::update(map, |m| m.remove(key)).is_some()
            }
        }
    }

    /// Puts `held` under `key`, replacing what was there.
    fn insert(&self, key: Key, held: Held) {
        match self {
            Slots::Shared(map) => {
                map.pin().insert(key, held);
            }
            Slots::Local(map) => {
                Self::update(map, |m| m.insert(key, held));
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
        self.with(key, |current| Arc::ptr_eq(&current.slot, slot).then_some(()))
            .is_some()
    }

    fn values(&self) -> Vec<Arc<Slot>> {
        match self {
            Slots::Shared(map) => map.pin().values().map(|held| Arc::clone(&held.slot)).collect(),
            Slots::Local(map) => map.load().slots(),
        }
    }

    /// Removes every slot, returning them.
    fn take_all(&self) -> Vec<Arc<Slot>> {
        match self {
            Slots::Shared(map) => {
                let map = map.pin();
                let slots = map.values().map(|held| Arc::clone(&held.slot)).collect();
                map.clear();
                slots
            }
            Slots::Local(map) => map.swap(Arc::default()).slots(),
        }
    }
}

/// `repr(C)`: the policy and the map, which every hit reads, lead; the
/// writers' queues follow (a scope keeps its default cache last, so the
/// read part sits beside its other hot fields).
#[repr(C)]
pub(crate) struct Cache {
    policy: Policy,
    map: Slots,
    writes: Mutex<Writes>,
}

impl Cache {
    pub(crate) fn new(policy: Policy) -> Self {
        Self::with_slots(policy, Slots::shared())
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
        self.map.with(&key, |held| {
            let entry = held.slot.cell.peek();
            if entry.as_ref().is_none_or(|e| self.expired(e)) {
                return None;
            }
            self.touch(&held.slot);
            Some(entry)
        })
    }

    /// The cached connection for `key`, if built and not expired: read from
    /// the map's entry, so a cache without a ttl or `max_entries` touches
    /// nothing else of its own.
    #[inline]
    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<Arc<dyn DynConnection>> {
        self.map.with(&key, |held| {
            let conn = held.conn.as_ref()?;
            if self.policy.ttl.is_some() && held.slot.written.get().is_none_or(|w| self.expired_since(*w)) {
                return None;
            }
            self.touch(&held.slot);
            Some(Arc::clone(conn))
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
                if slot.written.set(entry.written).is_ok() {
                    self.publish(key, &slot, &entry.conn);
                }
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

    /// Puts the connection `slot` built into the map's entry for `key`, for
    /// the `Arc` path to read, unless the slot has left the map meanwhile
    /// (a reset, a ttl, an eviction): under the writers' mutex, as every
    /// change of the map is, so it never brings back a slot that left.
    fn publish(&self, key: KeyRef<'_>, slot: &Arc<Slot>, conn: &Arc<dyn DynConnection>) {
        let _writes = self.writes();
        if self.map.holds(&key, slot) && slot.cell.is_set() {
            self.map.insert(
                key.to_owned_key(),
                Held {
                    slot: Arc::clone(slot),
                    conn: Some(Arc::clone(conn)),
                },
            );
        }
    }

    /// The slot for `key`, inserting a fresh one if there is none or it expired.
    #[cold]
    fn slot_for(&self, key: KeyRef<'_>) -> Arc<Slot> {
        let mut writes = self.writes();
        if let Some(slot) = self
            .map
            .with(&key, |held| self.usable(&held.slot).then(|| Arc::clone(&held.slot)))
        {
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
        let slot = Arc::new(Slot::new());
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
        self.map.insert(owned, Held::building(Arc::clone(&slot)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Arc<Slot> {
        Arc::new(Slot::new())
    }

    fn key<'a>(type_id: TypeId, name: &'a str, kwargs: &'a str) -> KeyRef<'a> {
        KeyRef { type_id, name, kwargs }
    }

    #[test]
    fn a_local_map_finds_replaces_and_removes_past_its_row() {
        let names: Vec<String> = (0..20)
            .map(|i| format!("conn_with_a_name_longer_than_inline_{i}"))
            .collect();
        // Same names under another type and with kwargs: different keys.
        let types = [TypeId::of::<u8>(), TypeId::of::<u16>()];
        let mut map = LocalMap::default();
        let mut held = Vec::new();
        for name in &names {
            for type_id in types {
                for kwargs in ["", "a=1"] {
                    let s = slot();
                    assert!(
                        map.insert(
                            key(type_id, name, kwargs).to_owned_key(),
                            Held::building(Arc::clone(&s))
                        )
                        .is_none()
                    );
                    held.push((type_id, name.as_str(), kwargs, s));
                    assert_eq!(map.len(), held.len());
                }
            }
            if map.len() > LocalMap::FEW {
                assert!(
                    matches!(map, LocalMap::Many(_)),
                    "past {} entries, a hash map",
                    LocalMap::FEW
                );
            }
        }
        for (type_id, name, kwargs, s) in &held {
            let found = map.get(&key(*type_id, name, kwargs)).expect("every key is found");
            assert!(Arc::ptr_eq(&found.slot, s));
        }
        assert!(map.get(&key(types[0], "absent", "")).is_none());
        // Replacing returns what was there.
        let (type_id, name, kwargs, first) = &held[0];
        let newer = slot();
        let old = map.insert(
            key(*type_id, name, kwargs).to_owned_key(),
            Held::building(Arc::clone(&newer)),
        );
        assert!(Arc::ptr_eq(&old.unwrap().slot, first));
        assert_eq!(map.len(), held.len());
        for (type_id, name, kwargs, _) in &held {
            assert!(map.remove(&key(*type_id, name, kwargs)).is_some());
            assert!(!map.contains_key(&key(*type_id, name, kwargs)));
        }
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn a_short_row_replaces_in_place_and_removes_by_key() {
        let t = TypeId::of::<u8>();
        let mut map = LocalMap::default();
        let (a, b) = (slot(), slot());
        assert!(
            map.insert(key(t, "db", "").to_owned_key(), Held::building(Arc::clone(&a)))
                .is_none()
        );
        assert!(
            map.insert(key(t, "db", "x=1").to_owned_key(), Held::building(Arc::clone(&b)))
                .is_none()
        );
        assert!(matches!(map, LocalMap::Few(_)));
        assert!(Arc::ptr_eq(&map.get(&key(t, "db", "")).unwrap().slot, &a));
        assert!(Arc::ptr_eq(&map.get(&key(t, "db", "x=1")).unwrap().slot, &b));
        assert!(map.get(&key(t, "db", "x=2")).is_none());
        assert!(Arc::ptr_eq(&map.remove(&key(t, "db", "")).unwrap().slot, &a));
        assert_eq!(map.len(), 1);
        assert!(Arc::ptr_eq(&map.get(&key(t, "db", "x=1")).unwrap().slot, &b));
    }
}
