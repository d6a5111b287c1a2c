//! The read cache of requests sent with [`ttl`](crate::Request::ttl):
//! responses by URL, then by what else makes a request another (method,
//! query, its own headers, whose credentials), dropped when a request
//! that changes state goes to that URL, and expired soonest first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::Response;

/// One cached response, and until when.
struct Read {
    variant: Box<str>,
    expires: Instant,
    response: Response,
}

/// The cached responses, by URL without its query.
#[derive(Default)]
pub(crate) struct ReadCache {
    reads: HashMap<Box<str>, Vec<Read>>,
    /// One item per insert: when, and which URL; an item whose read was
    /// dropped or replaced since is skipped when it comes up.
    expiry: BinaryHeap<Reverse<(Instant, Box<str>)>>,
    /// Bumped by every request that may change state: a read that started
    /// before one stores nothing, since it may hold the old state.
    writes: u64,
}

impl ReadCache {
    /// The write count a read starts at; see [`insert`](ReadCache::insert).
    pub(crate) fn writes(&self) -> u64 {
        self.writes
    }

    /// The live response of `variant` at `url`.
    pub(crate) fn get(&self, url: &str, variant: &str, now: Instant) -> Option<Response> {
        self.reads
            .get(url)?
            .iter()
            .find(|read| &*read.variant == variant && read.expires > now)
            .map(|read| read.response.clone())
    }

    /// Keeps `response` until `expires`, unless a write came since the
    /// read began at `started`.
    pub(crate) fn insert(&mut self, started: u64, url: &str, variant: &str, expires: Instant, response: Response) {
        if started != self.writes {
            return;
        }
        self.drop_expired(Instant::now());
        let reads = self.reads.entry(url.into()).or_default();
        reads.retain(|read| &*read.variant != variant);
        reads.push(Read {
            variant: variant.into(),
            expires,
            response,
        });
        self.expiry.push(Reverse((expires, url.into())));
    }

    /// Forgets every read of `url`: a request that may change it went there.
    pub(crate) fn invalidate(&mut self, url: &str) {
        self.writes += 1;
        self.reads.remove(url);
    }

    /// Forgets every read: the connection is about to be built anew,
    /// perhaps for another API or other credentials.
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
            let Some(Reverse((_, url))) = self.expiry.pop() else {
                break;
            };
            if let Some(reads) = self.reads.get_mut(&url) {
                reads.retain(|read| read.expires > now);
                if reads.is_empty() {
                    self.reads.remove(&url);
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

    fn response(body: &'static str) -> Response {
        Response::for_test(body)
    }

    #[test]
    fn a_read_is_kept_per_variant_until_it_expires_or_its_url_is_written() {
        let mut cache = ReadCache::default();
        let now = Instant::now();
        let later = now + Duration::from_mins(1);
        cache.insert(cache.writes(), "http://h/a", "GET ?x=1 s", later, response("one"));
        cache.insert(cache.writes(), "http://h/a", "GET ?x=2 s", later, response("two"));
        assert_eq!(
            cache.get("http://h/a", "GET ?x=1 s", now).unwrap().text_unchecked(),
            "one"
        );
        assert_eq!(
            cache.get("http://h/a", "GET ?x=2 s", now).unwrap().text_unchecked(),
            "two"
        );
        assert!(
            cache.get("http://h/a", "GET ?x=1 u:7", now).is_none(),
            "other credentials"
        );
        assert!(cache.get("http://h/b", "GET ?x=1 s", now).is_none(), "another URL");
        assert!(cache.get("http://h/a", "GET ?x=1 s", later).is_none(), "expired");

        cache.invalidate("http://h/a");
        assert!(cache.get("http://h/a", "GET ?x=1 s", now).is_none(), "written");
        assert_eq!(cache.len(), 0);

        let started = cache.writes();
        cache.insert(started, "http://h/c", "GET s", later, response("c"));
        cache.forget_all();
        assert_eq!(cache.len(), 0, "a new client forgets every read");
        cache.insert(started, "http://h/c", "GET s", later, response("c"));
        assert_eq!(cache.len(), 0, "a read from before it stores nothing");
    }

    #[test]
    fn expired_reads_leave_on_the_next_insert() {
        let mut cache = ReadCache::default();
        let past = Instant::now();
        for i in 0..100 {
            cache.insert(cache.writes(), &format!("http://h/{i}"), "GET s", past, response("old"));
        }
        cache.insert(
            cache.writes(),
            "http://h/fresh",
            "GET s",
            Instant::now() + Duration::from_mins(1),
            response("new"),
        );
        assert_eq!(cache.len(), 1, "only the fresh read is left");
    }
}
