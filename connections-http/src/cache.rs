//! The read cache of requests sent with [`ttl`](crate::Request::ttl):
//! responses by the request as written (method, path, query, its own
//! headers, whose credentials), filed under the URL they resolved to
//! without its query, so that a request that may change that URL drops
//! them; expired soonest first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::Response;

/// One cached response, where it was filed, and until when.
struct Read {
    url: Box<str>,
    expires: Instant,
    response: Response,
}

/// The cached responses.
#[derive(Default)]
pub(crate) struct ReadCache {
    reads: HashMap<Box<str>, Read>,
    /// The requests cached per URL (without its query).
    urls: HashMap<Box<str>, Vec<Box<str>>>,
    /// One item per insert: when, and which request; an item whose read
    /// was dropped or replaced since is skipped when it comes up.
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

    /// The live response to `request`.
    pub(crate) fn get(&self, request: &str, now: Instant) -> Option<Response> {
        self.reads
            .get(request)
            .filter(|read| read.expires > now)
            .map(|read| read.response.clone())
    }

    /// Keeps `response` to `request`, filed under `url`, until `expires`,
    /// unless a write came since the read began at `started`.
    pub(crate) fn insert(&mut self, started: u64, url: &str, request: Box<str>, expires: Instant, response: Response) {
        if started != self.writes {
            return;
        }
        self.drop_expired(Instant::now());
        let read = Read {
            url: url.into(),
            expires,
            response,
        };
        if self.reads.insert(request.clone(), read).is_none() {
            self.urls.entry(url.into()).or_default().push(request.clone());
        }
        self.expiry.push(Reverse((expires, request)));
    }

    /// Forgets every read filed under `url`: a request that may change it went there.
    pub(crate) fn invalidate(&mut self, url: &str) {
        self.writes += 1;
        for request in self.urls.remove(url).unwrap_or_default() {
            self.reads.remove(&request);
        }
    }

    /// Forgets every read: the connection is about to be built anew,
    /// perhaps for another API or other credentials.
    pub(crate) fn forget_all(&mut self) {
        self.writes += 1;
        self.reads.clear();
        self.urls.clear();
        self.expiry.clear();
    }

    /// Removes the reads whose time has come, looking at no other.
    fn drop_expired(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.expiry.peek()
            && *at <= now
        {
            let Some(Reverse((at, request))) = self.expiry.pop() else {
                break;
            };
            // Only if this item is the read's current one: a replaced read lives on.
            if self.reads.get(&request).is_some_and(|read| read.expires == at)
                && let Some(read) = self.reads.remove(&request)
                && let Some(requests) = self.urls.get_mut(&read.url)
            {
                requests.retain(|r| *r != request);
                if requests.is_empty() {
                    self.urls.remove(&read.url);
                }
            }
        }
    }

    /// How many reads it holds, expired ones not yet dropped included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.reads.len()
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
    fn a_read_is_kept_per_request_until_it_expires_or_its_url_is_written() {
        let mut cache = ReadCache::default();
        let now = Instant::now();
        let later = now + Duration::from_mins(1);
        cache.insert(
            cache.writes(),
            "http://h/a",
            "GET a?x=1 s".into(),
            later,
            response("one"),
        );
        cache.insert(
            cache.writes(),
            "http://h/a",
            "GET a?x=2 s".into(),
            later,
            response("two"),
        );
        cache.insert(cache.writes(), "http://h/b", "GET b s".into(), later, response("b"));
        assert_eq!(cache.get("GET a?x=1 s", now).unwrap().text_unchecked(), "one");
        assert_eq!(cache.get("GET a?x=2 s", now).unwrap().text_unchecked(), "two");
        assert!(cache.get("GET a?x=1 u:7", now).is_none(), "other credentials");
        assert!(cache.get("GET a?x=1 s", later).is_none(), "expired");

        cache.invalidate("http://h/a");
        assert!(cache.get("GET a?x=1 s", now).is_none(), "written");
        assert!(cache.get("GET a?x=2 s", now).is_none(), "written");
        assert_eq!(
            cache.get("GET b s", now).unwrap().text_unchecked(),
            "b",
            "another URL stays"
        );
        assert_eq!(cache.len(), 1);

        let started = cache.writes();
        cache.insert(started, "http://h/c", "GET c s".into(), later, response("c"));
        cache.forget_all();
        assert_eq!(cache.len(), 0, "a new client forgets every read");
        cache.insert(started, "http://h/c", "GET c s".into(), later, response("c"));
        assert_eq!(cache.len(), 0, "a read from before it stores nothing");
    }

    #[test]
    fn a_replaced_read_outlives_the_expiry_of_the_one_it_replaced() {
        let mut cache = ReadCache::default();
        let now = Instant::now();
        cache.insert(cache.writes(), "http://h/a", "GET a s".into(), now, response("old"));
        let later = now + Duration::from_mins(1);
        cache.insert(cache.writes(), "http://h/a", "GET a s".into(), later, response("new"));
        // The next insert drops what expired: the old item, not the read that replaced it.
        cache.insert(cache.writes(), "http://h/b", "GET b s".into(), later, response("b"));
        assert_eq!(cache.get("GET a s", now).unwrap().text_unchecked(), "new");
        cache.invalidate("http://h/a");
        assert!(cache.get("GET a s", now).is_none(), "still filed under its URL");
    }

    #[test]
    fn expired_reads_leave_on_the_next_insert() {
        let mut cache = ReadCache::default();
        let past = Instant::now();
        for i in 0..100 {
            let url = format!("http://h/{i}");
            cache.insert(cache.writes(), &url, format!("GET {i} s").into(), past, response("old"));
        }
        cache.insert(
            cache.writes(),
            "http://h/fresh",
            "GET fresh s".into(),
            Instant::now() + Duration::from_mins(1),
            response("new"),
        );
        assert_eq!(cache.len(), 1, "only the fresh read is left");
        assert_eq!(cache.urls.len(), 1, "and its URL alone is filed");
    }
}
