//! The RFC 3261 §17 transaction layer, sans-IO.
//!
//! [`Transactions`] holds every client and server transaction of the element: it matches
//! incoming messages to them, runs the four state machines (INVITE/non-INVITE × client/server)
//! with all their timers (A–K of RFC 3261, L and M of RFC 6026) on the caller's clock, and
//! queues the bytes to send ([`Transmit`]) and the events for the TU ([`TxEvent`]).
//! Retransmissions happen only over unreliable transports; over reliable ones the timers that
//! absorb stragglers (D, I, J, K) are zero.

mod client_invite;
mod client_non_invite;
mod error;
mod id;
mod key;
mod messages;
mod server_invite;
mod server_non_invite;
mod table;
mod timers;

#[cfg(test)]
mod tests;

pub use error::TxError;
pub use id::{ClientTxId, ServerTxId};
pub use key::MAGIC_COOKIE;
pub use messages::{build_ack, build_cancel};
pub use table::{Incoming, Transactions, Transmit, TxEvent};
pub use timers::TimerConfig;
