//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!   Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
//!     +----200-699-----------------^
//! ```

use super::error::TxError;
use super::timers::{Fired, TimerConfig};
use crate::core::msg::Request;
use crate::core::time::Time;

/// Each state holds only what it needs: the request is kept (for the TU to read back) until the
/// final response, after which a transaction that lingers 64*T1 for Timer J keeps nothing but
/// the bytes it re-sends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Nothing sent yet: retransmitted requests are absorbed silently.
    Trying {
        request: Box<Request>,
    },
    /// `provisional` (the last 1xx) is re-sent for each retransmitted request.
    Proceeding {
        request: Box<Request>,
        provisional: Box<[u8]>,
    },
    /// `response` is re-sent for each retransmitted request until `j`.
    Completed {
        response: Box<[u8]>,
        j: Time,
    },
    Terminated,
}

/// One non-INVITE server transaction's state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerNonInvite {
    state: State,
    reliable: bool,
}

impl ServerNonInvite {
    /// Enters Trying with the request that created the transaction.
    pub(crate) fn new(request: Request, reliable: bool) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying {
                request: Box::new(request),
            },
            reliable,
        }
    }

    /// The request, until the final response is sent.
    pub(crate) fn request(&self) -> Option<&Request> {
        match &self.state {
            State::Trying { request } | State::Proceeding { request, .. } => Some(request),
            State::Completed { .. } | State::Terminated => None,
        }
    }

    /// What the state retains, in serialised bytes (request included), to prove that
    /// completed transactions let go of what they no longer need.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        match &self.state {
            State::Trying { request } => request.to_bytes().len(),
            State::Proceeding {
                request,
                provisional,
            } => request.to_bytes().len() + provisional.len(),
            State::Completed { response, .. } => response.len(),
            State::Terminated => 0,
        }
    }

    /// The request was retransmitted: the response to re-send, if any.
    pub(crate) fn on_retransmission(&self) -> Option<&[u8]> {
        match &self.state {
            State::Proceeding { provisional: r, .. } | State::Completed { response: r, .. } => {
                Some(r)
            }
            State::Trying { .. } | State::Terminated => None,
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
        let state = std::mem::replace(&mut self.state, State::Terminated);
        match state {
            State::Trying { request } | State::Proceeding { request, .. } => {
                self.state = if status < 200 {
                    State::Proceeding {
                        request,
                        provisional: bytes.into(),
                    }
                } else {
                    let j = cfg.timer_j(self.reliable);
                    if j.is_zero() {
                        State::Terminated
                    } else {
                        State::Completed {
                            response: bytes.into(),
                            j: now + j,
                        }
                    }
                };
                Ok(())
            }
            completed @ State::Completed { .. } => {
                self.state = completed;
                Err(TxError::AlreadyCompleted)
            }
            State::Terminated => Err(TxError::Gone),
        }
    }

    /// Fires every timer due at `now` (only J exists).
    pub(crate) fn on_timeout(&mut self, now: Time) -> Fired {
        if let State::Completed { j, .. } = self.state
            && j <= now
        {
            self.state = State::Terminated;
        }
        Fired::Nothing
    }

    /// The next instant a timer fires.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match self.state {
            State::Completed { j, .. } => Some(j),
            State::Trying { .. } | State::Proceeding { .. } | State::Terminated => None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub(crate) fn terminate(&mut self) {
        self.state = State::Terminated;
    }
}
