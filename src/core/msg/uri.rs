use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::syntax::{
    is_escaped_text, is_param_char, is_quoted_string, is_ws, parse_digits, split_unquoted, unescape,
};

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
        if let Some(inner) = s.strip_prefix('[') {
            return parse_ipv6(inner.strip_suffix(']')?).map(Host::V6);
        }
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            return Some(Host::V4(a));
        }
        is_hostname(s).then(|| Host::Name(s.to_ascii_lowercase()))
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
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
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
        // An IPv6 reference holds colons of its own: the port colon is the one after `]`.
        let split = match s.strip_prefix('[') {
            Some(inner) => inner.find(']').map(|i| i + 2),
            None => s.find(':'),
        };
        let (host, port) = match split {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        let port = match port {
            "" => None,
            p => Some(parse_digits::<u16>(p.strip_prefix(':')?)?),
        };
        Some(HostPort {
            host: Host::parse(host)?,
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// An ordered list of `;name[=value]` parameters. Names compare case-insensitively; values are
/// kept as written (quoted values keep their quotes so that they serialise unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// Parses `;a=b;c` (the leading `;` optional, whitespace around `;` and `=` allowed).
    pub fn parse(s: &str) -> Option<Params> {
        let s = s.trim_matches(is_ws);
        let mut params = Params::default();
        if s.is_empty() {
            return Some(params);
        }
        // After a `;` a parameter must follow: `sip:a@b;` and `;;` are malformed (RFC 4475 §3.1.2.1).
        let s = s.strip_prefix(';').unwrap_or(s);
        for part in split_unquoted(s, b';')? {
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim_matches(is_ws), Some(v.trim_matches(is_ws))),
                None => (part.trim_matches(is_ws), None),
            };
            if name.is_empty() || !name.bytes().all(is_param_char) {
                return None;
            }
            if let Some(v) = value {
                let ok = if v.starts_with('"') {
                    is_quoted_string(v)
                } else {
                    // `=` inside a value is outside the grammar, but base64 push tokens
                    // (`pn-prid=…==`) carry it unescaped; the name ended at the first `=`.
                    !v.is_empty() && v.bytes().all(|c| is_param_char(c) || c == b'=')
                };
                if !ok {
                    return None;
                }
            }
            params.0.push((name.to_owned(), value.map(str::to_owned)));
        }
        Some(params)
    }
    /// `Some(None)` for a parameter without value, `Some(Some(v))` with one, `None` if absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
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
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }
    /// Removes every parameter of that name.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// Writes each parameter as `;name` or `;name=value`.
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            match value {
                Some(v) => write!(f, ";{name}={v}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
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
        self.user.as_deref().map(unescape)
    }
    /// `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params.value("transport").map(str::to_ascii_lowercase)
    }
    /// URI equivalence of RFC 3261 §19.1.4.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        let unesc = |s: &Option<String>| s.as_deref().map(unescape);
        if self.secure != other.secure
            || unesc(&self.user) != unesc(&other.user)
            || unesc(&self.password) != unesc(&other.password)
            || self.host != other.host
            || self.port != other.port
        {
            return false;
        }
        let value = |p: &Params, name: &str| p.get(name).map(|v| v.map(unescape));
        let same = |a: &Option<Option<String>>, b: &Option<Option<String>>| match (a, b) {
            (Some(Some(x)), Some(Some(y))) => x.eq_ignore_ascii_case(y),
            (a, b) => a == b,
        };
        // Parameters present in both must match; a few must also be present in both.
        for (name, _) in self.params.0.iter().chain(other.params.0.iter()) {
            let (a, b) = (value(&self.params, name), value(&other.params, name));
            // RFC 3261 §19.1.4 names user, ttl, method and maddr; its examples add transport.
            let must_be_in_both = ["user", "ttl", "method", "maddr", "transport"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(name));
            if ((a.is_some() && b.is_some()) || must_be_in_both) && !same(&a, &b) {
                return false;
            }
        }
        // Headers are never ignored: the same set on both sides.
        let header_in = |(n, v): &(String, String), list: &[(String, String)]| {
            list.iter()
                .any(|(m, w)| n.eq_ignore_ascii_case(m) && unescape(v) == unescape(w))
        };
        self.headers.len() == other.headers.len()
            && self.headers.iter().all(|h| header_in(h, &other.headers))
            && other.headers.iter().all(|h| header_in(h, &self.headers))
    }

    fn parse(secure: bool, s: &str) -> Option<SipUri> {
        // Whitespace, quotes and angle brackets never belong in a URI; catching them here keeps
        // `< sip:x >` and `INVITE sip:a b SIP/2.0` out however the rest would split.
        if s.bytes()
            .any(|c| c <= b' ' || c >= 0x7f || b"<>\"\\".contains(&c))
        {
            return None;
        }
        // No `@` may appear unescaped after the userinfo (params and headers use escapes), so
        // the first one ends it; the user part itself may hold `;` and `?` (RFC 4475 §3.1.1.9).
        let (userinfo, rest) = match s.split_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pw) = match u.split_once(':') {
                    Some((user, pw)) => (user, Some(pw)),
                    None => (u, None),
                };
                if user.is_empty() || !is_escaped_text(user, b"&=+$,;?/") {
                    return None;
                }
                if pw.is_some_and(|p| !is_escaped_text(p, b"&=+$,")) {
                    return None;
                }
                (Some(user.to_owned()), pw.map(str::to_owned))
            }
        };
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(h)),
            None => (rest, None),
        };
        let (hostport, params) = match rest.find(';') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let HostPort { host, port } = HostPort::parse(hostport)?;
        let params = Params::parse(params)?;
        let mut hs = Vec::new();
        if let Some(h) = headers {
            for pair in h.split('&') {
                let (name, value) = pair.split_once('=')?;
                let hnv = b"[]/?:+$";
                if name.is_empty() || !is_escaped_text(name, hnv) || !is_escaped_text(value, hnv) {
                    return None;
                }
                hs.push((name.to_owned(), value.to_owned()));
            }
        }
        Some(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers: hs,
        })
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
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    /// Parses an absolute URI. Fails on anything that is not `scheme:rest` with a valid scheme,
    /// or on a malformed `sip`/`sips` URI.
    pub fn parse(s: &str) -> Option<Uri> {
        let (scheme, rest) = s.split_once(':')?;
        let b = scheme.as_bytes();
        let scheme_ok = b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c));
        if !scheme_ok || rest.is_empty() {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "sip" => SipUri::parse(false, rest).map(Uri::Sip),
            "sips" => SipUri::parse(true, rest).map(Uri::Sip),
            _ => {
                // Opaque, but still one URI: no whitespace, controls, quotes or brackets that
                // would let it swallow its neighbours in a header or a request line.
                if rest
                    .bytes()
                    .any(|c| c <= b' ' || c >= 0x7f || b"<>\"".contains(&c))
                {
                    return None;
                }
                Some(if scheme == "tel" {
                    Uri::Tel(rest.to_owned())
                } else {
                    Uri::Other {
                        scheme,
                        rest: rest.to_owned(),
                    }
                })
            }
        }
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
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(pw) = &self.password {
                write!(f, ":{pw}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => write!(f, "{u}"),
            Uri::Tel(rest) => write!(f, "tel:{rest}"),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// An IPv6 address, also in the `2001:db8:::192.0.2.1` form that the RFC 3261 ABNF bug allowed
/// (`hexpart ":" IPv4address` with `hexpart` ending in `::`): RFC 5118 §4.10 asks parsers to
/// tolerate it as the same address as the two-colon form. No other triple colon is accepted.
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if let Ok(a) = s.parse() {
        return Some(a);
    }
    let (head, v4) = s.split_once(":::")?;
    if v4.contains(':') || v4.parse::<Ipv4Addr>().is_err() {
        return None;
    }
    format!("{head}::{v4}").parse().ok()
}

/// `hostname` of RFC 3261 §25.1, plus `_` inside labels (seen in the wild, harmless). The top
/// label must start with a letter, which is what tells `10.0.0.256` or `2001` from a name.
fn is_hostname(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    let mut last = "";
    for label in name.split('.') {
        let b = label.as_bytes();
        let inner_ok = b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
        let ends_ok = b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric);
        if !inner_ok || !ends_ok {
            return false;
        }
        last = label;
    }
    last.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s) {
            Some(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse("Example.ORG"),
            Some(Host::Name("example.org".into()))
        );
        assert_eq!(
            Host::parse("example.org."),
            Some(Host::Name("example.org.".into()))
        );
        assert_eq!(
            Host::parse("192.0.2.1"),
            Some(Host::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(
            Host::parse("[2001:db8::1]"),
            Some(Host::V6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            Host::parse("[::ffff:192.0.2.1]"),
            Some(Host::V6("::ffff:192.0.2.1".parse().unwrap()))
        );
        assert_eq!(Host::parse("2001:db8::1"), None, "IPv6 needs brackets");
        // RFC 5118 §4.10: the three-colon form of the RFC 3261 ABNF bug is tolerated.
        assert_eq!(
            Host::parse("[2001:db8:::192.0.2.1]"),
            Host::parse("[2001:db8::192.0.2.1]")
        );
        assert_eq!(Host::parse("[:::192.0.2.1]"), Host::parse("[::192.0.2.1]"));
        assert!(Host::parse("[:::192.0.2.1]").is_some());
        assert_eq!(Host::parse("[2001:db8:::1]"), None);
        assert_eq!(Host::parse("[2001:db8:::192.0.2.1:1]"), None);
        assert_eq!(Host::parse("[2001::db8:::192.0.2.1]"), None);
        assert_eq!(Host::parse("[2001:db8::1"), None);
        assert_eq!(Host::parse("192.0.2.256"), None);
        assert_eq!(Host::parse("2001"), None);
        assert_eq!(Host::parse(""), None);
        assert_eq!(Host::parse("-a.org"), None);
        assert_eq!(Host::parse("a..org"), None);
        assert_eq!(Host::parse("a b"), None);
        assert_eq!(Host::parse("hôte.org"), None);
    }

    #[test]
    fn host_display_brackets_ipv6() {
        assert_eq!(
            Host::V6("2001:db8::10".parse().unwrap()).to_string(),
            "[2001:db8::10]"
        );
        assert_eq!(Host::V4(Ipv4Addr::LOCALHOST).to_string(), "127.0.0.1");
        assert_eq!(
            Host::from(IpAddr::V6(Ipv6Addr::LOCALHOST)).to_string(),
            "[::1]"
        );
    }

    #[test]
    fn hostports() {
        let hp = HostPort::parse("[2001:db8::10]:5070").unwrap();
        assert_eq!(hp.port, Some(5070));
        assert_eq!(hp.to_string(), "[2001:db8::10]:5070");
        // RFC 5118 §4.3: the last group is part of the address, not a port.
        let hp = HostPort::parse("[2001:db8::10:5070]").unwrap();
        assert_eq!(hp.port, None);
        assert_eq!(
            HostPort::parse("a.org:5060").unwrap().to_string(),
            "a.org:5060"
        );
        assert_eq!(HostPort::parse("a.org").unwrap().port, None);
        assert_eq!(HostPort::parse("a.org:65535").unwrap().port, Some(65535));
        assert_eq!(HostPort::parse("a.org:65536"), None);
        assert_eq!(HostPort::parse("a.org:"), None);
        assert_eq!(HostPort::parse("a.org:+1"), None);
        assert_eq!(HostPort::parse("a.org:1:2"), None);
        assert_eq!(HostPort::parse("[::1]5060"), None);
        assert_eq!(HostPort::parse("2001:db8::10"), None);
    }

    #[test]
    fn params_parse_and_edit() {
        let mut p = Params::parse(" ; transport=TCP ; lr ;  maddr = 192.0.2.1").unwrap();
        assert_eq!(p.value("Transport"), Some("TCP"));
        assert_eq!(p.get("lr"), Some(None));
        assert!(p.contains("LR"));
        assert_eq!(p.get("ttl"), None);
        assert_eq!(p.value("maddr"), Some("192.0.2.1"));
        assert_eq!(p.to_string(), ";transport=TCP;lr;maddr=192.0.2.1");
        p.set("LR", Some("on"));
        p.set("ttl", Some("1"));
        assert_eq!(p.to_string(), ";transport=TCP;lr=on;maddr=192.0.2.1;ttl=1");
        p.remove("MADDR");
        p.set("x", None);
        assert_eq!(p.to_string(), ";transport=TCP;lr=on;ttl=1;x");
        assert_eq!(Params::parse(""), Some(Params::default()));
        assert_eq!(Params::parse("a").unwrap().to_string(), ";a");
    }

    #[test]
    fn params_quoted_values_kept_verbatim() {
        let p = Params::parse(r#";+sip.instance="<urn:uuid:1;2>";reg-id=1;q=0.5"#).unwrap();
        assert_eq!(p.value("+sip.instance"), Some(r#""<urn:uuid:1;2>""#));
        assert_eq!(p.value("reg-id"), Some("1"));
        assert_eq!(
            p.to_string(),
            r#";+sip.instance="<urn:uuid:1;2>";reg-id=1;q=0.5"#
        );
        let p = Params::parse(r#"fromParam''~+*_!.-%="работающий";tag=_token~1'+`*%!-."#).unwrap();
        assert_eq!(p.value("tag"), Some("_token~1'+`*%!-."));
        let p = Params::parse(";received=[2001:db8::9:255];branch=z9hG4bK").unwrap();
        assert_eq!(p.value("received"), Some("[2001:db8::9:255]"));
    }

    #[test]
    fn params_malformed() {
        assert_eq!(Params::parse(";"), None);
        assert_eq!(Params::parse(";;;;"), None);
        assert_eq!(Params::parse(";a;;b"), None);
        assert_eq!(Params::parse(";a="), None);
        assert_eq!(Params::parse(";=b"), None);
        assert_eq!(Params::parse(r#";a="open"#), None);
        assert_eq!(Params::parse(r#";a="x"y"#), None);
        assert_eq!(Params::parse(";a=b c"), None);
        assert_eq!(Params::parse(";a=b,c"), None);
        assert_eq!(Params::parse(";a=b=").unwrap().value("a"), Some("b="));
    }

    #[test]
    fn sip_uri_full() {
        let u =
            sip("SIPS:Alice:secret@Atlanta.COM:5061;transport=tcp;lr?Subject=hi&Priority=urgent");
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("Alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Name("atlanta.com".into()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.params.contains("lr"));
        assert_eq!(
            u.headers,
            vec![
                ("Subject".into(), "hi".into()),
                ("Priority".into(), "urgent".into())
            ]
        );
        assert_eq!(
            u.to_string(),
            "sips:Alice:secret@atlanta.com:5061;transport=tcp;lr?Subject=hi&Priority=urgent"
        );
    }

    #[test]
    fn sip_uri_user_part_grammar() {
        // RFC 4475 §3.1.1.9: `;` in the user part.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(
            u.user_unescaped().as_deref(),
            Some("user;par=u@example.net")
        );
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert!(u.params.0.is_empty());
        // RFC 4475 §3.1.1.2.
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = sip(s);
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.to_string(), s);
        // RFC 4475 §3.1.1.3/4.
        assert_eq!(
            sip("sip:%75se%72@example.com").user_unescaped().as_deref(),
            Some("user")
        );
        assert_eq!(
            sip("sip:null-%00-null@example.com")
                .user_unescaped()
                .as_deref(),
            Some("null-\0-null")
        );
        assert_eq!(
            sip("sip:+1-555@gw.example.net;user=phone")
                .params
                .value("user"),
            Some("phone")
        );
        assert_eq!(sip("sip:example.com").user, None);
    }

    #[test]
    fn sip_uri_malformed() {
        for s in [
            "sip:",
            "sip:@example.com",
            "sip:user@",
            "sip:user@example.com:99999",
            "sip:user@2001:db8::10",
            "sip:2001:db8::10",
            "sip:user@[2001:db8:::1]",
            "sip:us er@example.com",
            "sip:user@example.com;",
            "sip:user@example.com;;lr",
            "sip:user@example.com?x",
            "sip:<user@example.com>",
            "sip:user@exa\"mple.com",
            "sip:us%zzer@example.com",
            "sip:usér@example.com",
            "sip:a@b@c.com",
            "sip:user@example.com;a=b c",
        ] {
            assert_eq!(Uri::parse(s), None, "{s}");
        }
    }

    #[test]
    fn ipv6_uris() {
        let u = sip("sip:[2001:db8::10]");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(sip("sip:[2001:db8::10]:5070").port, Some(5070));
        assert_eq!(sip("sip:[2001:db8::10:5070]").port, None);
        let u = sip("sip:caller@[::ffff:192.0.2.10];maddr=[::1]");
        assert_eq!(u.host, Host::V6("::ffff:192.0.2.10".parse().unwrap()));
        assert_eq!(u.to_string(), "sip:caller@[::ffff:192.0.2.10];maddr=[::1]");
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            Uri::parse("tel:+1-201-555-0123;phone-context=x"),
            Some(Uri::Tel("+1-201-555-0123;phone-context=x".into()))
        );
        assert_eq!(Uri::parse("TEL:+1").unwrap().to_string(), "tel:+1");
        assert_eq!(
            Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent"),
            Some(Uri::Other {
                scheme: "nobodyknowsthisscheme".into(),
                rest: "totallyopaquecontent".into()
            })
        );
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.to_string(), "soap.beep://192.0.2.103:3002");
        assert!(u.as_sip().is_none());
        assert_eq!(
            Uri::parse("isbn:2983792873").unwrap().to_string(),
            "isbn:2983792873"
        );
        for s in [
            "",
            ":x",
            "1sip:x",
            "tel:",
            "no-colon",
            "http://a b",
            "urn:<x>",
            "x y:z",
        ] {
            assert_eq!(Uri::parse(s), None, "{s}");
        }
    }

    #[test]
    fn equivalence_rfc3261_examples() {
        let eq = |a: &str, b: &str| sip(a).equivalent(&sip(b)) && sip(b).equivalent(&sip(a));
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        assert!(eq("sip:[2001:db8:0:0:0:0:0:28]", "sip:[2001:db8::28]"));
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq("sip:bob@biloxi.com", "sips:bob@biloxi.com"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;maddr=192.0.2.1"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;user=phone"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:a:x@b.com", "sip:a:y@b.com"));
    }
}
