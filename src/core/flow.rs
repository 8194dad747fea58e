//! Where a message came from / goes to: the transport and both socket addresses.
use std::net::SocketAddr;

/// The transport protocols the daemon speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// Unreliable: the transaction layer retransmits (timers A, E, G).
    Udp,
    /// Reliable: no retransmissions, and the "absorb stragglers" timers (D, I, J, K) are zero.
    Tcp,
}

impl Transport {
    /// Reliable transports need no retransmissions (RFC 3261 §17.1.1.2, §17.1.2.2).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
    /// The transport token of a Via header (`SIP/2.0/UDP`).
    pub fn as_via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A flow (RFC 5626 term): for TCP it names one connection; for UDP the local socket and peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flow {
    /// How the bytes travel.
    pub transport: Transport,
    /// Our socket's address.
    pub local: SocketAddr,
    /// The peer's address (for TCP, the far end of the connection).
    pub remote: SocketAddr,
}

impl Flow {
    /// Shorthand for `self.transport.is_reliable()`.
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}
