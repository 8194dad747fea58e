use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: a domain name (stored lower-cased), an IPv4 address or an IPv6 reference
/// (RFC 5118: written with brackets, parsed with or without the `::` forms).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Parses `example.org`, `192.0.2.1` or `[2001:db8::1]` (brackets required for IPv6).
    pub fn parse(s: &str) -> Option<Host> {
        todo!("{s}")
    }
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
            Host::Name(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

/// Writes IPv6 addresses in brackets, as every SIP grammar position wants them.
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

/// `host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: Host,
    pub port: Option<u16>,
}

impl HostPort {
    pub fn parse(s: &str) -> Option<HostPort> {
        todo!("{s}")
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

/// An ordered list of `;name[=value]` parameters. Names compare case-insensitively; values are
/// kept as written (quoted values keep their quotes so that they serialise unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// Parses `;a=b;c` (the leading `;` optional, whitespace around `;` and `=` allowed).
    pub fn parse(s: &str) -> Option<Params> {
        todo!("{s}")
    }
    /// `Some(None)` for a parameter without value, `Some(Some(v))` with one, `None` if absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        todo!("{name}")
    }
    /// The value of a parameter that has one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    /// Replaces the first parameter of that name, or appends it.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        todo!("{name}{value:?}")
    }
    pub fn remove(&mut self, name: &str) {
        todo!("{name}")
    }
}

/// Writes each parameter as `;name` or `;name=value`.
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1). `user` and `password` are kept escaped as written
/// (comparison unescapes, RFC 3261 §19.1.4); `host` is normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// `?name=value&…` headers, kept as written.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// The user part with `%XX` escapes decoded (for lookups and comparison).
    pub fn user_unescaped(&self) -> Option<String> {
        todo!()
    }
    /// `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params.value("transport").map(str::to_ascii_lowercase)
    }
    /// URI equivalence of RFC 3261 §19.1.4.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        todo!("{other:?}")
    }
}

/// Any URI a message may carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Uri {
    Sip(SipUri),
    /// `tel:` (RFC 3966): the number and parameters as written after `tel:`.
    Tel(String),
    /// Any other absolute URI (`mailto:`, `http:`, `urn:`…): scheme lower-cased, rest verbatim.
    /// A request with such a Request-URI that we must route gets 416.
    Other { scheme: String, rest: String },
}

impl Uri {
    /// Parses an absolute URI. Fails on anything that is not `scheme:rest` with a valid scheme,
    /// or on a malformed `sip`/`sips` URI.
    pub fn parse(s: &str) -> Option<Uri> {
        todo!("{s}")
    }
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}
