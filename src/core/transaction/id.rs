//! Transaction handles the TU holds.

use std::fmt;

/// Names one client transaction. Ids are never reused within one [`super::Transactions`], so a
/// stale id is simply unknown, never someone else's transaction.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub(super) u64);

/// Names one server transaction; never reused, like [`ClientTxId`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub(super) u64);

/// `c42`, for logs.
impl fmt::Display for ClientTxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// `s42`, for logs.
impl fmt::Display for ServerTxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}
