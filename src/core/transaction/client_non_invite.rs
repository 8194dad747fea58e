//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//!     +---200-699-----------------^
//!   Trying/Proceeding --Timer F (408) / transport error (503)--> Terminated
//! ```

use super::timers::{Backoff, Fired, TimerConfig, earliest};
use crate::core::time::Time;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `e` retransmits (unreliable only; doubling, capped at T2), `f` gives up.
    Trying {
        e: Option<Backoff>,
        f: Time,
    },
    /// As Trying, but Timer E re-arms with T2 each time it fires.
    Proceeding {
        e: Option<Backoff>,
        f: Time,
    },
    /// Absorbing retransmitted final responses until `k`.
    Completed {
        k: Time,
    },
    Terminated,
}

/// One non-INVITE client transaction's state machine. The caller sends the request when
/// creating it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientNonInvite {
    state: State,
    reliable: bool,
}

impl ClientNonInvite {
    /// Enters Trying: Timer E (unreliable only) and Timer F.
    pub(crate) fn new(now: Time, reliable: bool, cfg: &TimerConfig) -> ClientNonInvite {
        let state = State::Trying {
            e: Backoff::start(now, reliable, cfg),
            f: now + cfg.t1x64(),
        };
        ClientNonInvite { state, reliable }
    }

    /// A response with this status matched the transaction; `true` if the TU gets it.
    pub(crate) fn on_response(&mut self, status: u16, now: Time, cfg: &TimerConfig) -> bool {
        match self.state {
            State::Trying { e, f } | State::Proceeding { e, f } => {
                if status < 200 {
                    self.state = State::Proceeding { e, f };
                } else {
                    let k = cfg.t4_unless(self.reliable);
                    self.state = if k.is_zero() {
                        State::Terminated
                    } else {
                        State::Completed { k: now + k }
                    };
                }
                true
            }
            State::Completed { .. } | State::Terminated => false,
        }
    }

    /// Fires every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Time, cfg: &TimerConfig) -> Fired {
        match &mut self.state {
            State::Trying { f, .. } | State::Proceeding { f, .. } if *f <= now => {
                self.state = State::Terminated;
                Fired::TimedOut
            }
            State::Trying { e: Some(e), .. } if e.is_due(now) => {
                e.double(now, Some(cfg.t2));
                Fired::Retransmit
            }
            State::Proceeding { e: Some(e), .. } if e.is_due(now) => {
                e.reset(now, cfg.t2);
                Fired::Retransmit
            }
            State::Completed { k } if *k <= now => {
                self.state = State::Terminated;
                Fired::Nothing
            }
            _ => Fired::Nothing,
        }
    }

    /// The next instant a timer fires.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match self.state {
            State::Trying { e, f } | State::Proceeding { e, f } => {
                earliest(e.map(|e| e.at), Some(f))
            }
            State::Completed { k } => Some(k),
            State::Terminated => None,
        }
    }

    /// No final response yet: a transport error must be reported to the TU as a 503.
    pub(crate) fn awaiting_final(&self) -> bool {
        matches!(self.state, State::Trying { .. } | State::Proceeding { .. })
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(crate) fn terminate(&mut self) {
        self.state = State::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Time {
        Time::ZERO + Duration::from_millis(n)
    }

    #[test]
    fn proceeding_resets_e_to_t2() {
        let cfg = TimerConfig::default();
        let mut m = ClientNonInvite::new(Time::ZERO, false, &cfg);
        assert_eq!(m.deadline(), Some(ms(500)));
        assert_eq!(m.on_timeout(ms(500), &cfg), Fired::Retransmit);
        assert!(m.on_response(180, ms(600), &cfg));
        assert_eq!(m.deadline(), Some(ms(1500)));
        assert_eq!(m.on_timeout(ms(1500), &cfg), Fired::Retransmit);
        assert_eq!(m.deadline(), Some(ms(5500)));
        assert!(m.on_response(200, ms(2000), &cfg));
        assert!(!m.on_response(200, ms(2100), &cfg));
        assert_eq!(m.deadline(), Some(ms(7000)));
        assert_eq!(m.on_timeout(ms(7000), &cfg), Fired::Nothing);
        assert!(m.is_terminated());
    }
}
