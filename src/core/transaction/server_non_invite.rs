//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!   Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
//!     +----200-699-----------------^
//! ```

use super::error::TxError;
use super::timers::{Fired, TimerConfig};
use crate::core::time::Time;

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Nothing sent yet: retransmitted requests are absorbed silently.
    Trying,
    /// `provisional` (the last 1xx) is re-sent for each retransmitted request.
    Proceeding {
        provisional: Vec<u8>,
    },
    /// `response` is re-sent for each retransmitted request until `j`.
    Completed {
        response: Vec<u8>,
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
    /// Enters Trying.
    pub(crate) fn new(reliable: bool) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            reliable,
        }
    }

    /// The request was retransmitted: the response to re-send, if any.
    pub(crate) fn on_retransmission(&self) -> Option<&[u8]> {
        match &self.state {
            State::Proceeding { provisional: r } | State::Completed { response: r, .. } => Some(r),
            State::Trying | State::Terminated => None,
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
        match self.state {
            State::Trying | State::Proceeding { .. } => {
                self.state = if status < 200 {
                    State::Proceeding {
                        provisional: bytes.to_vec(),
                    }
                } else {
                    let j = cfg.timer_j(self.reliable);
                    if j.is_zero() {
                        State::Terminated
                    } else {
                        State::Completed {
                            response: bytes.to_vec(),
                            j: now + j,
                        }
                    }
                };
                Ok(())
            }
            State::Completed { .. } => Err(TxError::AlreadyCompleted),
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
            State::Trying | State::Proceeding { .. } | State::Terminated => None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(crate) fn terminate(&mut self) {
        self.state = State::Terminated;
    }
}
