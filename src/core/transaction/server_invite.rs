//! The INVITE server transaction (RFC 3261 §17.2.1), with the Accepted state of RFC 6026 §7.1.
//!
//! ```text
//!   Proceeding --2xx--> Accepted --Timer L--> Terminated
//!       |
//!       +--300-699--> Completed --ACK--> Confirmed --Timer I--> Terminated
//!                         +--Timer H (no ACK)--> Terminated
//! ```
//!
//! Why Accepted rather than RFC 3261's "2xx terminates": the 2xx is retransmitted end to end by
//! the UAS, and a proxy must pass each copy through the same server transaction, while a
//! retransmitted INVITE arriving meanwhile must be absorbed rather than taken for a new request.

use super::error::TxError;
use super::timers::{Backoff, Fired, TimerConfig, earliest};
use crate::core::msg::Request;
use crate::core::time::Time;

/// Each state holds only what it needs: the request is kept (for the `100 Trying` and for the
/// TU to read back) until the final response; after it, Completed keeps the bytes Timer G
/// re-sends, and Confirmed and Accepted, which linger for Timers I and L, keep only a deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// The TU has not answered finally. `provisional` is the last 1xx sent, re-sent for each
    /// retransmitted INVITE.
    Proceeding {
        request: Box<Request>,
        provisional: Option<Box<[u8]>>,
    },
    /// A 300–699 was sent; `g` retransmits it (unreliable only, doubling up to T2) until an ACK
    /// comes or `h` gives up.
    Completed {
        response: Box<[u8]>,
        g: Option<Backoff>,
        h: Time,
    },
    /// The ACK came: absorb its retransmissions until `i`.
    Confirmed {
        i: Time,
    },
    /// A 2xx was sent: further 2xx from the TU pass through, ACKs go to the TU, retransmitted
    /// INVITEs are absorbed, until `l`.
    Accepted {
        l: Time,
    },
    Terminated,
}

/// What a matching ACK amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckStep {
    /// It acknowledges our non-2xx final response (or repeats such an ACK): nothing for the TU.
    Absorbed,
    /// An ACK for a 2xx: the TU routes it (RFC 6026 §7.1).
    ToTu,
}

/// One INVITE server transaction's state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerInvite {
    state: State,
    reliable: bool,
}

impl ServerInvite {
    /// Enters Proceeding with the INVITE (the caller takes care of `100 Trying`).
    pub(crate) fn new(request: Request, reliable: bool) -> ServerInvite {
        ServerInvite {
            state: State::Proceeding {
                request: Box::new(request),
                provisional: None,
            },
            reliable,
        }
    }

    /// The INVITE, until the final response is sent.
    pub(crate) fn request(&self) -> Option<&Request> {
        match &self.state {
            State::Proceeding { request, .. } => Some(request),
            _ => None,
        }
    }

    /// While nothing at all has been sent: the INVITE, to build the `100 Trying` from.
    pub(crate) fn nothing_sent(&self) -> Option<&Request> {
        match &self.state {
            State::Proceeding {
                request,
                provisional: None,
            } => Some(request),
            _ => None,
        }
    }

    /// The `100 Trying` built by the table went out: it is the provisional response to repeat.
    pub(crate) fn sent_trying(&mut self, bytes: &[u8]) {
        if let State::Proceeding {
            provisional: provisional @ None,
            ..
        } = &mut self.state
        {
            *provisional = Some(bytes.into());
        }
    }

    /// What the state retains, in serialised bytes (request included), to prove that
    /// completed transactions let go of what they no longer need.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        match &self.state {
            State::Proceeding {
                request,
                provisional,
            } => request.to_bytes().len() + provisional.as_ref().map_or(0, |p| p.len()),
            State::Completed { response, .. } => response.len(),
            State::Confirmed { .. } | State::Accepted { .. } | State::Terminated => 0,
        }
    }

    /// The INVITE was retransmitted: the response to re-send, if any.
    pub(crate) fn on_retransmission(&self) -> Option<&[u8]> {
        match &self.state {
            State::Proceeding { provisional, .. } => provisional.as_deref(),
            State::Completed { response, .. } => Some(response),
            State::Confirmed { .. } | State::Accepted { .. } | State::Terminated => None,
        }
    }

    /// An ACK matched the transaction.
    pub(crate) fn on_ack(&mut self, now: Time, cfg: &TimerConfig) -> AckStep {
        match self.state {
            State::Completed { .. } => {
                let i = cfg.t4_unless(self.reliable);
                self.state = if i.is_zero() {
                    State::Terminated
                } else {
                    State::Confirmed { i: now + i }
                };
                AckStep::Absorbed
            }
            State::Accepted { .. } => AckStep::ToTu,
            // Before any final response there is nothing to acknowledge; a stray ACK is dropped.
            State::Proceeding { .. } | State::Confirmed { .. } | State::Terminated => {
                AckStep::Absorbed
            }
        }
    }

    /// The TU sends a response (already serialised, `status` checked to be 100–699); on `Ok`
    /// the caller transmits `bytes`.
    pub(crate) fn respond(
        &mut self,
        status: u16,
        bytes: &[u8],
        now: Time,
        cfg: &TimerConfig,
    ) -> Result<(), TxError> {
        match (&mut self.state, status) {
            (State::Proceeding { provisional, .. }, 100..=199) => {
                *provisional = Some(bytes.into());
            }
            (State::Proceeding { .. }, 200..=299) => {
                self.state = State::Accepted {
                    l: now + cfg.t1x64(),
                };
            }
            (State::Proceeding { .. }, _) => {
                self.state = State::Completed {
                    response: bytes.into(),
                    g: Backoff::start(now, self.reliable, cfg),
                    h: now + cfg.t1x64(),
                };
            }
            // RFC 6026 §7.1: the TU's retransmissions of the 2xx (a proxy forwarding the UAS's
            // own retransmissions) go out through the Accepted transaction.
            (State::Accepted { .. }, 200..=299) => {}
            (State::Terminated, _) => return Err(TxError::Gone),
            _ => return Err(TxError::AlreadyCompleted),
        }
        Ok(())
    }

    /// The final response retransmitted by Timer G, if that is what `on_timeout` asked for.
    pub(crate) fn final_response(&self) -> Option<&[u8]> {
        match &self.state {
            State::Completed { response, .. } => Some(response),
            _ => None,
        }
    }

    /// Fires every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Time, cfg: &TimerConfig) -> Fired {
        match &mut self.state {
            State::Completed { h, .. } if *h <= now => {
                self.state = State::Terminated;
                Fired::TimedOut
            }
            State::Completed { g: Some(g), .. } if g.is_due(now) => {
                g.double(now, Some(cfg.t2));
                Fired::Retransmit
            }
            State::Confirmed { i: t } | State::Accepted { l: t } if *t <= now => {
                self.state = State::Terminated;
                Fired::Nothing
            }
            _ => Fired::Nothing,
        }
    }

    /// The next instant a timer fires.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match &self.state {
            State::Completed { g, h, .. } => earliest(g.map(|g| g.at), Some(*h)),
            State::Confirmed { i } => Some(*i),
            State::Accepted { l } => Some(*l),
            State::Proceeding { .. } | State::Terminated => None,
        }
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

    fn invite() -> Request {
        Request {
            method: crate::core::msg::Method::Invite,
            uri: crate::core::msg::Uri::parse("sip:bob@example.org").unwrap(),
            headers: crate::core::msg::Headers::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn completed_retransmits_until_h_then_times_out() {
        let cfg = TimerConfig::default();
        let mut m = ServerInvite::new(invite(), false);
        assert!(m.nothing_sent().is_some());
        m.respond(486, b"486", Time::ZERO, &cfg).unwrap();
        let mut fired = vec![];
        while let Some(at) = m.deadline() {
            fired.push((at, m.on_timeout(at, &cfg)));
        }
        assert_eq!(fired.first(), Some(&(ms(500), Fired::Retransmit)));
        assert_eq!(fired.last(), Some(&(ms(32_000), Fired::TimedOut)));
        assert!(m.is_terminated());
    }

    #[test]
    fn trying_is_remembered_for_retransmissions() {
        let mut m = ServerInvite::new(invite(), true);
        m.sent_trying(b"100");
        assert_eq!(m.on_retransmission(), Some(&b"100"[..]));
        assert!(m.nothing_sent().is_none());
    }
}
