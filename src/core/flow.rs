//! Where a message came from / goes to: the transport and both socket addresses.
use std::net::SocketAddr;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport { Udp, Tcp }
impl Transport {
    /// Reliable transports need no retransmissions (RFC 3261 §17.1.1.2, §17.1.2.2).
    pub fn is_reliable(self) -> bool { matches!(self, Transport::Tcp) }
    pub fn as_via(self) -> &'static str { match self { Transport::Udp => "UDP", Transport::Tcp => "TCP" } }
}
/// A flow (RFC 5626 term): for TCP it names one connection; for UDP the local socket and peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flow { pub transport: Transport, pub local: SocketAddr, pub remote: SocketAddr }
