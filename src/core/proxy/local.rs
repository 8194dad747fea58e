//! The local dial plan: extensions by name or number, and what counts as "us".

use std::net::{IpAddr, SocketAddr};

pub use crate::core::config::InboundPolicy;
use crate::core::flow::Transport;
use crate::core::msg::{Host, SipUri};

/// One extension: a phone line with a number, a SIP user name and a display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub number: String,
    /// The SIP user name, the digest username and the address-of-record key.
    pub name: String,
    pub display_name: Option<String>,
    /// More user names that reach it (`alice.smith@example.org`).
    pub aliases: Vec<String>,
    /// Who may call it from outside.
    pub inbound: InboundPolicy,
}

/// A socket the daemon listens on, as the shell bound it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Who we are: domains, listeners and extensions.
#[derive(Clone, Debug, Default)]
pub struct Locality {
    pub domains: Vec<String>,
    pub listeners: Vec<Listener>,
    pub extensions: Vec<Extension>,
}

impl Locality {
    /// An extension by SIP user name or alias (case-insensitive) or by number.
    pub fn extension(&self, user: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| {
            e.name.eq_ignore_ascii_case(user)
                || e.number == user
                || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(user))
        })
    }

    pub fn is_local_domain(&self, host: &Host) -> bool {
        match host {
            Host::Name(n) => self.domains.iter().any(|d| d.eq_ignore_ascii_case(n)),
            _ => host.ip().is_some_and(|ip| self.is_our_ip(ip)),
        }
    }

    /// Whether a URI's host (and port) names this server: one of our domains, or one of our
    /// addresses with our port (or no port, as scanners write it). A phone on the same machine
    /// shares our IP but not our port, and must not be mistaken for us.
    pub fn is_local_uri(&self, uri: &SipUri) -> bool {
        match &uri.host {
            Host::Name(_) => self.is_local_domain(&uri.host),
            host => host.ip().is_some_and(|ip| {
                self.listeners
                    .iter()
                    .any(|l| l.addr.ip() == ip && uri.port.is_none_or(|p| p == l.addr.port()))
            }),
        }
    }

    fn is_our_ip(&self, ip: IpAddr) -> bool {
        self.listeners.iter().any(|l| l.addr.ip() == ip)
    }

    /// A URI that names this server itself (a Route or Record-Route we wrote, an outbound-proxy
    /// Route a phone pre-loaded, or a Request-URI for the server rather than a user).
    pub fn is_us(&self, uri: &SipUri) -> bool {
        if uri.user.is_some() {
            return false;
        }
        match &uri.host {
            Host::Name(_) => self.is_local_domain(&uri.host),
            host => {
                let port = uri.port.unwrap_or(if uri.secure { 5061 } else { 5060 });
                host.ip().is_some_and(|ip| {
                    self.listeners
                        .iter()
                        .any(|l| l.addr.ip() == ip && l.addr.port() == port)
                })
            }
        }
    }

    /// The listener to send from / name in Via and Record-Route for `transport` towards `remote`.
    pub fn listener_for(&self, transport: Transport, remote: IpAddr) -> Option<Listener> {
        let family = |l: &&Listener| l.addr.is_ipv4() == remote.is_ipv4();
        let candidates = || {
            self.listeners
                .iter()
                .filter(move |l| l.transport == transport)
                .filter(family)
        };
        // Prefer a socket bound to the same kind of address (loopback to loopback).
        candidates()
            .find(|l| l.addr.ip().is_loopback() == remote.is_loopback())
            .or_else(|| candidates().next())
            .copied()
    }
}

/// Writes `host:port` for a socket address the way SIP wants it (IPv6 in brackets).
pub fn sent_by(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
