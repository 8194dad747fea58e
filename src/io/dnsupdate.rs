//! Sends a `core::dnsupdate` message to the zone's primary: one exchange over TCP (RFC 1035
//! §4.2.2 framing), BLOCKING and bounded, for the CLI (which has no runtime).
//!
//! TCP rather than UDP: an update with its deletes, adds and TSIG can pass 512 bytes, and a
//! stream needs no retransmission logic of ours.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest answer accepted (a DNS message cannot be larger).
const MAX_MESSAGE: usize = 65_535;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("cannot reach the DNS server {server} over TCP: {source}")]
    Connect {
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("DNS server {server}: {source}")]
    Io {
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("the update is too large for one DNS message")]
    TooLarge,
}

/// Sends `wire` to `server` and returns the answer. Each of connect, write and read is bounded
/// by `timeout`.
pub fn exchange_tcp(
    server: SocketAddr,
    wire: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let io = |source| ExchangeError::Io { server, source };
    let len = u16::try_from(wire.len()).map_err(|_| ExchangeError::TooLarge)?;
    let mut s = TcpStream::connect_timeout(&server, timeout)
        .map_err(|source| ExchangeError::Connect { server, source })?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend(len.to_be_bytes());
    framed.extend(wire);
    s.write_all(&framed).map_err(io)?;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).map_err(io)?;
    let n = usize::from(u16::from_be_bytes(head)).min(MAX_MESSAGE);
    let mut answer = vec![0u8; n];
    s.read_exact(&mut answer).map_err(io)?;
    Ok(answer)
}

/// A message id from the system's random source (RFC 5452: ids must not be guessable).
pub fn random_id() -> Result<u16, getrandom::Error> {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b)?;
    Ok(u16::from_be_bytes(b))
}
