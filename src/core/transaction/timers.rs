//! The timer values of RFC 3261 §17 (Table 4) and the retransmission back-off they drive.

use std::time::Duration;

use crate::core::time::Time;

/// The three base values every transaction timer derives from (RFC 3261 §17.1.1.1, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip time estimate: the first retransmission interval (default 500 ms).
    pub t1: Duration,
    /// Cap on retransmission intervals of non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// How long a message may linger in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// RFC 3261 §17.1.1.2: Timer D is "at least 32 seconds" over unreliable transports.
const TIMER_D_MIN: Duration = Duration::from_secs(32);

/// Smallest T1 we run with: a zero T1 would make the retransmission timers fire forever.
const MIN_T1: Duration = Duration::from_millis(1);

impl TimerConfig {
    /// The configuration the state machines actually use: T1 at least 1 ms, T2 at least T1,
    /// so that every retransmission timer moves forward in time.
    pub(crate) fn sanitized(self) -> TimerConfig {
        let t1 = self.t1.max(MIN_T1);
        TimerConfig {
            t1,
            t2: self.t2.max(t1),
            t4: self.t4,
        }
    }

    /// 64*T1: timers B, F, H, J (unreliable), and RFC 6026's L and M.
    pub(crate) fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: wait for retransmitted final responses to an INVITE (max(32 s, 64*T1) / 0).
    pub(crate) fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            TIMER_D_MIN.max(self.t1x64())
        }
    }

    /// Timers I and K: let the network drain stragglers (T4 / 0).
    pub(crate) fn t4_unless(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: absorb request retransmissions after a non-INVITE final response (64*T1 / 0).
    pub(crate) fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1x64()
        }
    }
}

/// A retransmission timer (A, E or G): when it fires next and the interval it last waited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) at: Time,
    interval: Duration,
}

impl Backoff {
    /// Armed with T1 over unreliable transports; `None` (never fires) over reliable ones.
    pub(crate) fn start(now: Time, reliable: bool, cfg: &TimerConfig) -> Option<Backoff> {
        (!reliable).then_some(Backoff {
            at: now + cfg.t1,
            interval: cfg.t1,
        })
    }

    pub(crate) fn is_due(&self, now: Time) -> bool {
        self.at <= now
    }

    /// Fired: re-arm with twice the interval, capped at `cap` when given. Re-armed from `now`,
    /// not from the old deadline, so that a late wake-up never produces a burst of catch-up
    /// retransmissions.
    pub(crate) fn double(&mut self, now: Time, cap: Option<Duration>) {
        let doubled = self.interval.saturating_mul(2);
        self.interval = cap.map_or(doubled, |c| doubled.min(c));
        self.at = now + self.interval;
    }

    /// Fired: re-arm with a fixed interval (Timer E in Proceeding: T2).
    pub(crate) fn reset(&mut self, now: Time, interval: Duration) {
        self.interval = interval;
        self.at = now + interval;
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Time>, b: Option<Time>) -> Option<Time> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What firing a transaction's due timers amounted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Nothing visible (or only a state change, such as termination by D, I, J, K, L, M).
    Nothing,
    /// A retransmission timer (A, E, G) fired: re-send the request, or the last response.
    Retransmit,
    /// The transaction timed out: B/F (client: act as on 408) or H (server: no ACK came).
    TimedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Time {
        Time::ZERO + Duration::from_millis(n)
    }

    #[test]
    fn backoff_doubles_with_and_without_cap() {
        let cfg = TimerConfig::default();
        let mut a = Backoff::start(Time::ZERO, false, &cfg).unwrap();
        let mut fired = vec![];
        for _ in 0..5 {
            fired.push(a.at);
            a.double(a.at, None);
        }
        assert_eq!(
            fired,
            vec![ms(500), ms(1500), ms(3500), ms(7500), ms(15_500)]
        );

        let mut e = Backoff::start(Time::ZERO, false, &cfg).unwrap();
        let mut fired = vec![];
        for _ in 0..6 {
            fired.push(e.at);
            e.double(e.at, Some(cfg.t2));
        }
        assert_eq!(
            fired,
            vec![
                ms(500),
                ms(1500),
                ms(3500),
                ms(7500),
                ms(11_500),
                ms(15_500)
            ]
        );
    }

    #[test]
    fn no_retransmission_timer_over_reliable_transports() {
        assert_eq!(
            Backoff::start(Time::ZERO, true, &TimerConfig::default()),
            None
        );
    }

    #[test]
    fn derived_timer_values() {
        let cfg = TimerConfig::default();
        assert_eq!(cfg.t1x64(), Duration::from_secs(32));
        assert_eq!(cfg.timer_d(false), Duration::from_secs(32));
        assert_eq!(cfg.timer_d(true), Duration::ZERO);
        assert_eq!(cfg.t4_unless(false), Duration::from_secs(5));
        assert_eq!(cfg.t4_unless(true), Duration::ZERO);
        assert_eq!(cfg.timer_j(false), Duration::from_secs(32));
        assert_eq!(cfg.timer_j(true), Duration::ZERO);
        let slow = TimerConfig {
            t1: Duration::from_secs(2),
            ..cfg
        };
        assert_eq!(slow.timer_d(false), Duration::from_secs(128));
    }

    #[test]
    fn earliest_of_optional_deadlines() {
        assert_eq!(earliest(None, None), None);
        assert_eq!(earliest(Some(ms(1)), None), Some(ms(1)));
        assert_eq!(earliest(None, Some(ms(2))), Some(ms(2)));
        assert_eq!(earliest(Some(ms(3)), Some(ms(2))), Some(ms(2)));
    }
}
