//! A brake on password guessing: a source address that keeps failing digest authentication is
//! refused for a while without its guesses being checked. Without it, svcrack finds a 4-digit
//! password in under a second.
//!
//! Keyed by source IP, not by user: locking users out would hand any stranger a way to stop
//! our phones from registering. The cost is that a guesser behind the same NAT as a phone can
//! delay that phone's registration by one lockout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::core::time::Time;

/// Failures allowed within [`WINDOW`] before the address is locked out.
pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
pub const LOCKOUT: Duration = Duration::from_secs(120);
/// Addresses tracked at most (a flood of spoofed sources must not grow memory).
const CAPACITY: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    since: Time,
    locked_until: Option<Time>,
}

#[derive(Debug, Default)]
pub struct AuthGuard {
    records: HashMap<IpAddr, Record>,
}

impl AuthGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `ip` is locked out now.
    pub fn is_locked(&self, ip: IpAddr, now: Time) -> bool {
        self.records
            .get(&ip)
            .and_then(|r| r.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Records a failed attempt; returns true when this failure locks the address out.
    pub fn failed(&mut self, ip: IpAddr, now: Time) -> bool {
        if !self.records.contains_key(&ip) && self.records.len() >= CAPACITY {
            self.make_room(now);
        }
        let r = self.records.entry(ip).or_insert(Record {
            failures: 0,
            since: now,
            locked_until: None,
        });
        if now.saturating_since(r.since) > WINDOW || r.locked_until.is_some_and(|u| now >= u) {
            *r = Record {
                failures: 0,
                since: now,
                locked_until: None,
            };
        }
        r.failures = r.failures.saturating_add(1);
        if r.failures >= MAX_FAILURES && r.locked_until.is_none() {
            r.locked_until = Some(now + LOCKOUT);
            return true;
        }
        false
    }

    /// A successful authentication clears the address's record.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.records.remove(&ip);
    }

    fn make_room(&mut self, now: Time) {
        self.records.retain(|_, r| match r.locked_until {
            Some(until) => now < until,
            None => now.saturating_since(r.since) <= WINDOW,
        });
        if self.records.len() >= CAPACITY {
            // Still full of live records: forget the oldest unlocked one first.
            let victim = self
                .records
                .iter()
                .min_by_key(|(_, r)| (r.locked_until.is_some(), r.since))
                .map(|(ip, _)| *ip);
            if let Some(ip) = victim {
                self.records.remove(&ip);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Time {
        Time::ZERO + Duration::from_secs(s)
    }

    #[test]
    fn five_failures_in_a_minute_lock_the_address_for_two_minutes() {
        let mut g = AuthGuard::new();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..4 {
            assert!(!g.failed(ip, at(i)));
            assert!(!g.is_locked(ip, at(i)));
        }
        assert!(g.failed(ip, at(10)), "the fifth failure locks");
        assert!(g.is_locked(ip, at(10)));
        assert!(g.is_locked(ip, at(129)));
        assert!(!g.is_locked(ip, at(130)), "the lockout ends");
        assert!(
            !g.is_locked("192.0.2.10".parse().unwrap(), at(10)),
            "others are not affected"
        );
    }

    #[test]
    fn slow_failures_and_successes_do_not_lock() {
        let mut g = AuthGuard::new();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..10 {
            assert!(
                !g.failed(ip, at(i * 61)),
                "one failure per window never locks"
            );
        }
        for i in 0..4 {
            g.failed(ip, at(1000 + i));
        }
        g.succeeded(ip);
        assert!(!g.failed(ip, at(1005)));
    }

    #[test]
    fn memory_is_bounded() {
        let mut g = AuthGuard::new();
        for i in 0..(CAPACITY as u32 + 100) {
            g.failed(IpAddr::from(i.to_be_bytes()), at(1));
        }
        assert!(g.len() <= CAPACITY);
    }
}
