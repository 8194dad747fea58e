//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//!     +---200-699-----------------^
//!   Trying/Proceeding --Timer F (408) / transport error (503)--> Terminated
//! ```

use super::timers::{Backoff, Fired, TimerConfig, earliest};
use crate::core::msg::Request;
use crate::core::time::Time;

/// Each state holds only what it needs: the request (retransmissions are serialised from it)
/// until a final response, then, while Timer K runs, nothing but the deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// `e` retransmits (unreliable only; doubling, capped at T2), `f` gives up.
    Trying {
        request: Box<Request>,
        e: Option<Backoff>,
        f: Time,
    },
    /// As Trying, but Timer E re-arms with T2 each time it fires.
    Proceeding {
        request: Box<Request>,
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
    /// Enters Trying with the request the caller sends: Timer E (unreliable only) and Timer F.
    pub(crate) fn new(
        request: Request,
        now: Time,
        reliable: bool,
        cfg: &TimerConfig,
    ) -> ClientNonInvite {
        let state = State::Trying {
            request: Box::new(request),
            e: Backoff::start(now, reliable, cfg),
            f: now + cfg.t1x64(),
        };
        ClientNonInvite { state, reliable }
    }

    /// The request, until a final response comes.
    pub(crate) fn request(&self) -> Option<&Request> {
        match &self.state {
            State::Trying { request, .. } | State::Proceeding { request, .. } => Some(request),
            State::Completed { .. } | State::Terminated => None,
        }
    }

    /// What the state retains, in serialised bytes (request included), to prove that
    /// completed transactions let go of what they no longer need.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.request().map_or(0, |r| r.to_bytes().len())
    }

    /// A response with this status matched the transaction; `true` if the TU gets it.
    pub(crate) fn on_response(&mut self, status: u16, now: Time, cfg: &TimerConfig) -> bool {
        // Taken by value so that the request moves on, or is dropped, with the state.
        match std::mem::replace(&mut self.state, State::Terminated) {
            State::Trying { request, e, f } | State::Proceeding { request, e, f } => {
                if status < 200 {
                    self.state = State::Proceeding { request, e, f };
                } else {
                    let k = cfg.t4_unless(self.reliable);
                    if !k.is_zero() {
                        self.state = State::Completed { k: now + k };
                    }
                }
                true
            }
            other @ (State::Completed { .. } | State::Terminated) => {
                self.state = other;
                false
            }
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
        match &self.state {
            State::Trying { e, f, .. } | State::Proceeding { e, f, .. } => {
                earliest(e.map(|e| e.at), Some(*f))
            }
            State::Completed { k } => Some(*k),
            State::Terminated => None,
        }
    }

    /// No final response yet: a transport error must be reported to the TU as a 503.
    pub(crate) fn awaiting_final(&self) -> bool {
        matches!(self.state, State::Trying { .. } | State::Proceeding { .. })
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
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
        let bye = Request {
            method: crate::core::msg::Method::Bye,
            uri: crate::core::msg::Uri::parse("sip:bob@example.org").unwrap(),
            headers: crate::core::msg::Headers::new(),
            body: Vec::new(),
        };
        let mut m = ClientNonInvite::new(bye, Time::ZERO, false, &cfg);
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
