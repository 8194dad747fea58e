//! Nonce-count replay protection (RFC 7616 §3.4.5 `nc`).
//!
//! Per nonce, the highest `nc` that authenticated a request; a request must bring a higher one.
//! Entries are only made for requests that passed the digest check, so a stranger cannot fill
//! the table or burn a user's counter. The table is bounded: entries leave when their nonce
//! expires, and when it is full the oldest nonce is evicted. Nonces at or before the newest
//! evicted issue time are then treated as forgotten (the caller answers `stale`, the client
//! takes a fresh nonce), so eviction never reopens a replay window.

use std::collections::{BTreeMap, BTreeSet};

use super::nonce::RawNonce;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NcOutcome {
    /// Higher than anything seen for this nonce; recorded.
    Fresh,
    /// Not above the highest seen: a replay (or a reordered retransmission).
    Replay,
    /// We may have seen this nonce and evicted it: ask for a new one.
    Forgotten,
}

#[derive(Debug)]
pub(crate) struct NcTable {
    cap: usize,
    /// nonce → (issued_ms, highest nc).
    highest: BTreeMap<RawNonce, (u64, u32)>,
    /// (issued_ms, nonce), oldest first: for expiry and eviction.
    by_age: BTreeSet<(u64, RawNonce)>,
    /// Issue time of the newest nonce evicted while still valid.
    forgotten_upto_ms: Option<u64>,
}

impl NcTable {
    pub(crate) fn new(cap: usize) -> NcTable {
        NcTable {
            cap: cap.max(1),
            highest: BTreeMap::new(),
            by_age: BTreeSet::new(),
            forgotten_upto_ms: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.highest.len()
    }

    /// Drops the entries of nonces issued before `oldest_valid_ms` (they are expired, and an
    /// expired nonce never authenticates again).
    pub(crate) fn expire(&mut self, oldest_valid_ms: u64) {
        while let Some(&(issued, nonce)) = self.by_age.first() {
            if issued >= oldest_valid_ms {
                break;
            }
            self.by_age.pop_first();
            self.highest.remove(&nonce);
        }
    }

    pub(crate) fn check_and_record(
        &mut self,
        nonce: &RawNonce,
        issued_ms: u64,
        nc: u32,
    ) -> NcOutcome {
        if let Some((_, seen)) = self.highest.get_mut(nonce) {
            if nc <= *seen {
                return NcOutcome::Replay;
            }
            *seen = nc;
            return NcOutcome::Fresh;
        }
        if self.forgotten_upto_ms.is_some_and(|upto| issued_ms <= upto) {
            return NcOutcome::Forgotten;
        }
        while self.highest.len() >= self.cap {
            let Some((old_issued, old_nonce)) = self.by_age.pop_first() else {
                break;
            };
            self.highest.remove(&old_nonce);
            self.forgotten_upto_ms = Some(
                self.forgotten_upto_ms
                    .map_or(old_issued, |u| u.max(old_issued)),
            );
        }
        // The new nonce may itself be older than what was just evicted.
        if self.forgotten_upto_ms.is_some_and(|upto| issued_ms <= upto) {
            return NcOutcome::Forgotten;
        }
        self.highest.insert(*nonce, (issued_ms, nc));
        self.by_age.insert((issued_ms, *nonce));
        NcOutcome::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u8) -> RawNonce {
        [i; 32]
    }

    #[test]
    fn counts_must_rise() {
        let mut t = NcTable::new(10);
        assert_eq!(t.check_and_record(&n(1), 5, 1), NcOutcome::Fresh);
        assert_eq!(t.check_and_record(&n(1), 5, 1), NcOutcome::Replay);
        assert_eq!(t.check_and_record(&n(1), 5, 3), NcOutcome::Fresh);
        assert_eq!(t.check_and_record(&n(1), 5, 2), NcOutcome::Replay);
        assert_eq!(
            t.check_and_record(&n(2), 5, 1),
            NcOutcome::Fresh,
            "per nonce"
        );
    }

    #[test]
    fn expiry_drops_old_entries() {
        let mut t = NcTable::new(10);
        t.check_and_record(&n(1), 5, 1);
        t.check_and_record(&n(2), 50, 1);
        t.expire(10);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn eviction_is_bounded_and_never_reopens_replays() {
        let mut t = NcTable::new(2);
        assert_eq!(t.check_and_record(&n(1), 1, 1), NcOutcome::Fresh);
        assert_eq!(t.check_and_record(&n(2), 2, 1), NcOutcome::Fresh);
        assert_eq!(t.check_and_record(&n(3), 3, 1), NcOutcome::Fresh);
        assert_eq!(t.len(), 2);
        // n(1) was evicted: replaying it must not be accepted as new.
        assert_eq!(t.check_and_record(&n(1), 1, 1), NcOutcome::Forgotten);
        assert_eq!(t.check_and_record(&n(3), 3, 2), NcOutcome::Fresh);
    }
}
