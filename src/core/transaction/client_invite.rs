//! The INVITE client transaction (RFC 3261 §17.1.1), with the Accepted state of RFC 6026 §7.2.
//!
//! ```text
//!   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
//!      |                 |
//!      +--300-699--------+--> Completed (ACK sent) --Timer D--> Terminated
//!      +--Timer B (408) / transport error (503)--> Terminated
//! ```
//!
//! Why Accepted: a proxy must forward every retransmitted 2xx upstream, because only the UAC's
//! ACK stops them. RFC 3261 destroys the transaction on the first 2xx and relies on stateless
//! forwarding of what follows; RFC 6026 keeps it alive for 64*T1 so that every 2xx copy still
//! matches it and goes to the TU, and so that anything else arriving then is absorbed.

use super::messages::build_ack;
use super::timers::{Backoff, Fired, TimerConfig, earliest};
use crate::core::msg::{Request, Response};
use crate::core::time::Time;

/// Each state holds only what it needs. Before a final response: the INVITE (its
/// retransmissions are serialised from it, a CANCEL and the ACK for a non-2xx are built from it).
/// After one, while the transaction lingers for Timers D and M: the ACK bytes to repeat, or
/// nothing but a deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for any response. `a` retransmits (unreliable only), `b` gives up.
    Calling {
        request: Box<Request>,
        a: Option<Backoff>,
        b: Time,
    },
    /// A provisional response came: no more retransmissions, and no timeout here (the proxy's
    /// Timer C, RFC 3261 §16.8, decides how long to wait).
    Proceeding {
        request: Box<Request>,
    },
    /// A 300–699 came and was ACKed; `ack` is re-sent for each retransmission of it until `d`.
    Completed {
        ack: Box<[u8]>,
        d: Time,
    },
    /// A 2xx came: every further 2xx goes to the TU until `m`.
    Accepted {
        m: Time,
    },
    Terminated,
}

/// What a response did to the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResponseStep {
    /// Hand the response to the TU.
    pub(crate) deliver: bool,
    /// Bytes to send on the transaction's flow (the ACK for a non-2xx final response).
    pub(crate) send: Option<Vec<u8>>,
}

impl ResponseStep {
    const DELIVER: ResponseStep = ResponseStep {
        deliver: true,
        send: None,
    };
    const ABSORB: ResponseStep = ResponseStep {
        deliver: false,
        send: None,
    };
}

/// One INVITE client transaction's state machine. The caller sends the INVITE when creating it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientInvite {
    state: State,
    reliable: bool,
}

impl ClientInvite {
    /// Enters Calling with the INVITE the caller sends: Timer A (unreliable only) and Timer B.
    pub(crate) fn new(
        request: Request,
        now: Time,
        reliable: bool,
        cfg: &TimerConfig,
    ) -> ClientInvite {
        let state = State::Calling {
            request: Box::new(request),
            a: Backoff::start(now, reliable, cfg),
            b: now + cfg.t1x64(),
        };
        ClientInvite { state, reliable }
    }

    /// The INVITE, until a final response comes.
    pub(crate) fn request(&self) -> Option<&Request> {
        match &self.state {
            State::Calling { request, .. } | State::Proceeding { request } => Some(request),
            State::Completed { .. } | State::Accepted { .. } | State::Terminated => None,
        }
    }

    /// What the state retains, in serialised bytes (request included), to prove that
    /// completed transactions let go of what they no longer need.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        match &self.state {
            State::Calling { request, .. } | State::Proceeding { request } => {
                request.to_bytes().len()
            }
            State::Completed { ack, .. } => ack.len(),
            State::Accepted { .. } | State::Terminated => 0,
        }
    }

    /// A response matching this transaction.
    pub(crate) fn on_response(
        &mut self,
        resp: &Response,
        now: Time,
        cfg: &TimerConfig,
    ) -> ResponseStep {
        let status = resp.status;
        // Taken by value so that the INVITE moves on, or is dropped, with the state.
        match std::mem::replace(&mut self.state, State::Terminated) {
            State::Calling { request, .. } | State::Proceeding { request } => match status {
                100..=199 => {
                    // RFC 3261 §17.1.1.2: every provisional goes up, retransmitted or not; the
                    // proxy needs each one to refresh Timer C.
                    self.state = State::Proceeding { request };
                    ResponseStep::DELIVER
                }
                200..=299 => {
                    self.state = State::Accepted {
                        m: now + cfg.t1x64(),
                    };
                    ResponseStep::DELIVER
                }
                _ => {
                    let ack = build_ack(&request, resp).to_bytes();
                    let d = cfg.timer_d(self.reliable);
                    if !d.is_zero() {
                        self.state = State::Completed {
                            ack: ack.as_slice().into(),
                            d: now + d,
                        };
                    }
                    ResponseStep {
                        deliver: true,
                        send: Some(ack),
                    }
                }
            },
            // The final response was retransmitted because our ACK was lost: ACK again.
            State::Completed { ack, d } if status >= 300 => {
                let send = Some(ack.to_vec());
                self.state = State::Completed { ack, d };
                ResponseStep {
                    deliver: false,
                    send,
                }
            }
            accepted @ State::Accepted { .. } if (200..=299).contains(&status) => {
                self.state = accepted;
                ResponseStep::DELIVER
            }
            other @ (State::Completed { .. } | State::Accepted { .. } | State::Terminated) => {
                self.state = other;
                ResponseStep::ABSORB
            }
        }
    }

    /// Fires every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Time) -> Fired {
        match &mut self.state {
            State::Calling { b, .. } if *b <= now => {
                self.state = State::Terminated;
                Fired::TimedOut
            }
            State::Calling { a: Some(a), .. } if a.is_due(now) => {
                // Timer A doubles without a cap (RFC 3261 §17.1.1.2); B ends it first.
                a.double(now, None);
                Fired::Retransmit
            }
            State::Completed { d: t, .. } | State::Accepted { m: t } if *t <= now => {
                self.state = State::Terminated;
                Fired::Nothing
            }
            _ => Fired::Nothing,
        }
    }

    /// The next instant a timer fires.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match &self.state {
            State::Calling { a, b, .. } => earliest(a.map(|a| a.at), Some(*b)),
            State::Completed { d, .. } => Some(*d),
            State::Accepted { m } => Some(*m),
            State::Proceeding { .. } | State::Terminated => None,
        }
    }

    /// No final response yet: a transport error must be reported to the TU as a 503.
    pub(crate) fn awaiting_final(&self) -> bool {
        matches!(self.state, State::Calling { .. } | State::Proceeding { .. })
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub(crate) fn terminate(&mut self) {
        self.state = State::Terminated;
    }
}
