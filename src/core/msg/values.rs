use std::fmt;

use super::method::Method;
use super::uri::{HostPort, Params, Uri};
use super::ParseError;

/// One Via value: `SIP/2.0/UDP host:port;branch=…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Upper-cased transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or an extension token).
    pub transport: String,
    pub sent_by: HostPort,
    pub params: Params,
}

impl Via {
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        todo!("{s}")
    }
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }
    /// `Some(None)` for a bare `;rport`, `Some(Some(p))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        todo!()
    }
    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

/// `name-addr` or `addr-spec` with header parameters (From, To, Contact, Route, …).
/// In the `addr-spec` form parameters after the URI belong to the header, not the URI
/// (RFC 3261 §20.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name as written (quotes removed, escapes decoded).
    pub display_name: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        todo!("{s}")
    }
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

/// Always writes the `<uri>` form (quoting the display name when present).
impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        { let _ = f; todo!() }
    }
}

/// The Contact header of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactList {
    /// `Contact: *` (only valid in REGISTER with `Expires: 0`).
    Star,
    Addrs(Vec<NameAddr>),
}

/// `CSeq: 4711 INVITE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        todo!("{s}")
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// The value of WWW-Authenticate/Authorization and their Proxy- forms:
/// `Digest realm="x", nonce="y", algorithm=SHA-256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthParams {
    pub scheme: String,
    /// Parameters in order, names lower-cased, values unquoted (escapes decoded).
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    pub fn parse(s: &str) -> Result<AuthParams, ParseError> {
        todo!("{s}")
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
