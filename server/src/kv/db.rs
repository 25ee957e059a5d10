//! The data: keys in byte order with their values and deadlines, how a command sees a key
//! that has expired, and the sweep that reclaims expired keys nobody reads again.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::time::Instant;

/// How many keys each write inspects for expiry: keys that nobody touches again are still
/// reclaimed, at a bounded cost per write.
const SWEEP_STEP: usize = 8;

/// The time of one command, read from the clock only if the command needs it (a key with an
/// expiry, a SET with EX/PX): most commands never read it.
#[derive(Default)]
pub(super) struct Now(std::cell::Cell<Option<Instant>>);

impl Now {
    pub(super) fn get(&self) -> Instant {
        match self.0.get() {
            Some(now) => now,
            None => {
                let now = Instant::now();
                self.0.set(Some(now));
                now
            }
        }
    }
}

/// The data: keys in byte order, so every scan is deterministic.
#[derive(Debug, Default)]
pub(super) struct Db {
    pub(super) entries: BTreeMap<Bytes, Entry>,
    /// Where the next sweep starts (exclusive); `None` starts from the first key.
    sweep_after: Option<Bytes>,
    /// Some key was given an expiry since the store was last empty: only then do writes
    /// sweep (a store without expiries pays nothing for them).
    expiring: bool,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) value: Bytes,
    pub(super) expires_at: Option<Instant>,
}

impl Entry {
    pub(super) fn new(value: &[u8], expires_at: Option<Instant>) -> Self {
        Entry {
            value: owned(value),
            expires_at,
        }
    }

    /// Redis keeps a key through its deadline and drops it just after.
    pub(super) fn is_expired(&self, now: &Now) -> bool {
        self.expires_at.is_some_and(|at| now.get() > at)
    }
}

impl Db {
    pub(super) fn get(&self, key: &[u8], now: &Now) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !e.is_expired(now))
    }

    pub(super) fn get_mut(&mut self, key: &[u8], now: &Now) -> Option<&mut Entry> {
        self.entries.get_mut(key).filter(|e| !e.is_expired(now))
    }

    pub(super) fn insert(&mut self, key: &[u8], entry: Entry) {
        self.expiring |= entry.expires_at.is_some();
        self.entries.insert(owned(key), entry);
    }

    pub(super) fn purge_expired(&mut self, now: &Now) {
        self.entries.retain(|_, e| !e.is_expired(now));
    }

    /// Drops the expired keys among the next [`SWEEP_STEP`], wrapping around at the end.
    pub(super) fn sweep(&mut self, now: &Now) {
        if !self.expiring {
            return;
        }
        let start = match &self.sweep_after {
            Some(key) => Bound::Excluded(&key[..]),
            None => Bound::Unbounded,
        };
        let mut seen = 0;
        let mut last = None;
        let mut expired = Vec::new();
        for (key, entry) in self
            .entries
            .range::<[u8], _>((start, Bound::Unbounded))
            .take(SWEEP_STEP)
        {
            if entry.is_expired(now) {
                expired.push(key.clone());
            }
            seen += 1;
            last = Some(key.clone());
        }
        for key in &expired {
            self.entries.remove(key);
        }
        self.sweep_after = if seen == SWEEP_STEP { last } else { None };
    }
}

/// The store's data, locked for one command.
pub(super) fn lock(store: &Mutex<Db>) -> MutexGuard<'_, Db> {
    // A panic while holding the lock cannot leave the map half-updated (every update is a
    // single map operation), so a poisoned lock is still safe to use.
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A private copy: request bytes may be a slice of a connection's read buffer, and storing
/// the slice would keep that whole buffer alive for as long as the key lives.
fn owned(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::{lock, SWEEP_STEP};
    use crate::kv::testing::{array, bulk, int, run};
    use crate::{Kv, Reply};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn ex_expires_after_its_deadline() {
        let kv = Kv::new();
        assert_eq!(run(&kv, &["SET", "k", "v", "EX", "1"]), Reply::ok());
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_eq!(
            run(&kv, &["GET", "k"]),
            bulk("v"),
            "alive through its deadline"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(run(&kv, &["GET", "k"]), Reply::Null);
        assert_eq!(run(&kv, &["EXISTS", "k"]), int(0));
        assert_eq!(run(&kv, &["MGET", "k"]), array(&[Reply::Null]));
        assert_eq!(run(&kv, &["DEL", "k"]), int(0));
        assert_eq!(run(&kv, &["DBSIZE"]), int(0));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_key_is_absent_to_writes() {
        let kv = Kv::new();
        run(&kv, &["SET", "k", "5", "PX", "10"]);
        tokio::time::advance(Duration::from_millis(11)).await;
        assert_eq!(run(&kv, &["SET", "k", "v", "XX"]), Reply::Null);
        assert_eq!(run(&kv, &["SET", "k", "v", "NX", "GET"]), Reply::Null);
        run(&kv, &["SET", "n", "5", "PX", "10"]);
        tokio::time::advance(Duration::from_millis(11)).await;
        assert_eq!(run(&kv, &["INCR", "n"]), int(1));
    }

    #[tokio::test(start_paused = true)]
    async fn writes_sweep_expired_keys_nobody_reads() {
        let kv = Kv::new();
        for i in 0..20 {
            run(&kv, &["SET", &format!("old{i:02}"), "v", "PX", "1"]);
        }
        tokio::time::advance(Duration::from_millis(2)).await;
        run(&kv, &["SET", "new", "v"]);
        let left = lock(&kv.db).entries.len();
        assert!(
            left >= 21 - SWEEP_STEP,
            "one write sweeps a bounded step: {left} left"
        );
        for _ in 0..10 {
            run(&kv, &["SET", "new", "v"]);
        }
        let keys: Vec<_> = lock(&kv.db).entries.keys().map(|k| k.to_vec()).collect();
        assert_eq!(keys, vec![b"new".to_vec()]);
    }
}
