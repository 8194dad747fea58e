//! Why the TU's command to a transaction was refused.

use thiserror::Error;

/// A refused [`super::Transactions::respond`].
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum TxError {
    /// No such server transaction: it terminated (its timers ran out, its flow failed) or never
    /// existed. Responding late is harmless; the response is simply not sent.
    #[error("the server transaction is gone")]
    Gone,
    /// A final response was already sent, and this one may not follow it (only further 2xx to an
    /// INVITE may, RFC 6026 Accepted state).
    #[error("the server transaction already sent a final response")]
    AlreadyCompleted,
    /// The status code is outside 100–699 (RFC 3261 §7.2).
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
}
