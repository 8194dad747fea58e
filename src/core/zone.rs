//! The DNS records that make a domain reachable over SIP (RFC 3263): what a user adds to their
//! zone, or what an RFC 2136 update sends. Pure: the domain, ports and addresses come from the
//! configuration.

use std::fmt;
use std::net::IpAddr;

use crate::core::flow::Transport;

/// One resource record, written in zone-file syntax by `Display`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Naptr {
        owner: String,
        order: u16,
        preference: u16,
        service: &'static str,
        replacement: String,
    },
    Srv {
        owner: String,
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Address {
        owner: String,
        ip: IpAddr,
    },
}

/// TTL of the records we suggest: an hour, short enough for a home address that changes.
pub const TTL: u32 = 3600;

/// The records for `domain` served on `listeners` (transport, port) at `addresses`: one NAPTR
/// and SRV per transport (UDP first: what most phones use), and A/AAAA for `sip.<domain>`.
pub fn records(domain: &str, listeners: &[(Transport, u16)], addresses: &[IpAddr]) -> Vec<Record> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = format!("sip.{domain}.");
    let mut out = Vec::new();
    let mut transports: Vec<(Transport, u16)> = Vec::new();
    for t in [Transport::Udp, Transport::Tcp] {
        if let Some(&(_, port)) = listeners.iter().find(|(lt, _)| *lt == t) {
            transports.push((t, port));
        }
    }
    for (i, (t, _)) in transports.iter().enumerate() {
        let (service, label) = match t {
            Transport::Udp => ("SIP+D2U", "_sip._udp"),
            Transport::Tcp => ("SIP+D2T", "_sip._tcp"),
        };
        out.push(Record::Naptr {
            owner: format!("{domain}."),
            order: 10 * (i as u16 + 1),
            preference: 50,
            service,
            replacement: format!("{label}.{domain}."),
        });
    }
    for (t, port) in &transports {
        let label = match t {
            Transport::Udp => "_sip._udp",
            Transport::Tcp => "_sip._tcp",
        };
        out.push(Record::Srv {
            owner: format!("{label}.{domain}."),
            priority: 10,
            weight: 10,
            port: *port,
            target: host.clone(),
        });
    }
    let mut seen = Vec::new();
    for ip in addresses {
        if !seen.contains(ip) && !ip.is_unspecified() {
            seen.push(*ip);
            out.push(Record::Address {
                owner: host.clone(),
                ip: *ip,
            });
        }
    }
    out
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Naptr {
                owner,
                order,
                preference,
                service,
                replacement,
            } => {
                write!(
                    f,
                    "{owner} {TTL} IN NAPTR {order} {preference} \"s\" \"{service}\" \"\" {replacement}"
                )
            }
            Record::Srv {
                owner,
                priority,
                weight,
                port,
                target,
            } => {
                write!(
                    f,
                    "{owner} {TTL} IN SRV {priority} {weight} {port} {target}"
                )
            }
            Record::Address {
                owner,
                ip: IpAddr::V4(a),
            } => write!(f, "{owner} {TTL} IN A {a}"),
            Record::Address {
                owner,
                ip: IpAddr::V6(a),
            } => write!(f, "{owner} {TTL} IN AAAA {a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naptr_srv_and_addresses_for_each_transport() {
        let r = records(
            "Example.org.",
            &[
                (Transport::Tcp, 5060),
                (Transport::Udp, 5062),
                (Transport::Udp, 5999),
            ],
            &[
                "203.0.113.7".parse().unwrap(),
                "2001:db8::7".parse().unwrap(),
                "203.0.113.7".parse().unwrap(),
            ],
        );
        let text: Vec<String> = r.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "example.org. 3600 IN NAPTR 10 50 \"s\" \"SIP+D2U\" \"\" _sip._udp.example.org.",
                "example.org. 3600 IN NAPTR 20 50 \"s\" \"SIP+D2T\" \"\" _sip._tcp.example.org.",
                "_sip._udp.example.org. 3600 IN SRV 10 10 5062 sip.example.org.",
                "_sip._tcp.example.org. 3600 IN SRV 10 10 5060 sip.example.org.",
                "sip.example.org. 3600 IN A 203.0.113.7",
                "sip.example.org. 3600 IN AAAA 2001:db8::7",
            ]
        );
    }

    #[test]
    fn only_the_transports_we_listen_on_and_no_wildcard_address() {
        let r = records(
            "a.test",
            &[(Transport::Tcp, 5070)],
            &["0.0.0.0".parse().unwrap(), "192.0.2.1".parse().unwrap()],
        );
        assert_eq!(r.len(), 3);
        assert!(
            r.iter()
                .all(|x| !x.to_string().contains("udp") && !x.to_string().contains("0.0.0.0"))
        );
    }
}
