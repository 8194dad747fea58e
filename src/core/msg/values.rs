use std::fmt;

use super::ParseError;
use super::method::Method;
use super::syntax::{
    find_unquoted, is_param_char, is_token, is_token_char, is_ws, parse_digits, parse_quoted, quote,
};
use super::uri::{Host, HostPort, Params, Uri};

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
        Via::parse_opt(s).ok_or_else(|| ParseError::bad("malformed Via"))
    }

    /// `SIP / 2.0 / UDP host : port ; params`, with `SWS` around `/`, `:`, `;` and `=`
    /// (RFC 3261 §25.1 `SLASH`, `COLON`, `SEMI`, `EQUAL`) and `LWS` before the sent-by.
    fn parse_opt(s: &str) -> Option<Via> {
        let (name, rest) = s.split_once('/')?;
        let (version, rest) = rest.split_once('/')?;
        if !name.trim_matches(is_ws).eq_ignore_ascii_case("SIP")
            || version.trim_matches(is_ws) != "2.0"
        {
            return None;
        }
        let rest = rest.trim_start_matches(is_ws);
        let end = rest
            .bytes()
            .position(|c| !is_token_char(c))
            .unwrap_or(rest.len());
        let (transport, rest) = rest.split_at(end);
        if transport.is_empty() || !rest.starts_with(is_ws) {
            return None;
        }
        let (sent_by, params) = match rest.find(';') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let via = Via {
            transport: transport.to_ascii_uppercase(),
            sent_by: parse_sent_by(sent_by.trim_matches(is_ws))?,
            params: Params::parse(params)?,
        };
        // The parameters a transport layer acts on must be usable.
        let p = &via.params;
        let numeric = |name: &str, max: u32| match p.get(name) {
            None => true,
            Some(v) => v.and_then(parse_digits::<u32>).is_some_and(|n| n <= max),
        };
        let ip_ok = |v: &str| Host::parse(v).is_some() || v.parse::<std::net::Ipv6Addr>().is_ok();
        let rport_ok = p
            .get("rport")
            .is_none_or(|v| v.is_none_or(|v| parse_digits::<u16>(v).is_some()));
        let ok = numeric("ttl", 255)
            && rport_ok
            && p.get("received").is_none_or(|v| v.is_some_and(ip_ok))
            && p.get("maddr")
                .is_none_or(|v| v.is_some_and(|v| Host::parse(v).is_some()))
            && p.get("branch").is_none_or(|v| v.is_some_and(is_token));
        ok.then_some(via)
    }
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }
    /// `Some(None)` for a bare `;rport`, `Some(Some(p))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(parse_digits))
    }
    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIP/2.0/{} {}{}",
            self.transport, self.sent_by, self.params
        )
    }
}

/// `host [COLON port]` where `COLON` may carry whitespace (`192.0.2.1 : 5060`).
fn parse_sent_by(s: &str) -> Option<HostPort> {
    let host_end = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        s.find(|c: char| c == ':' || is_ws(c)).unwrap_or(s.len())
    };
    let (host, rest) = s.split_at(host_end);
    let rest = rest.trim_start_matches(is_ws);
    if rest.is_empty() {
        return HostPort::parse(host);
    }
    let port = rest.strip_prefix(':')?.trim_start_matches(is_ws);
    HostPort::parse(&format!("{host}:{port}"))
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
        NameAddr::parse_opt(s.trim_matches(is_ws))
            .ok_or_else(|| ParseError::bad("malformed address"))
    }

    fn parse_opt(s: &str) -> Option<NameAddr> {
        let (display_name, uri, after) = if s.starts_with('"') {
            let (name, rest) = parse_quoted(s)?;
            let rest = rest.trim_start_matches(is_ws).strip_prefix('<')?;
            let (uri, after) = rest.split_once('>')?;
            (Some(name), uri, after)
        } else if let Some(lt) = find_unquoted(s, b'<').ok()? {
            let name = s[..lt].trim_matches(is_ws);
            // Unquoted display names are `*(token LWS)` (RFC 4475 §3.1.2.15 rejects `Bell, A`);
            // non-ASCII letters are let through since many UAs send UTF-8 names unquoted.
            let word_ok = |w: &str| w.bytes().all(|c| is_token_char(c) || c >= 0x80);
            if !name.split(is_ws).all(word_ok) {
                return None;
            }
            let (uri, after) = s[lt + 1..].split_once('>')?;
            ((!name.is_empty()).then(|| name.to_owned()), uri, after)
        } else {
            // addr-spec: parameters after the URI belong to the header, and a URI holding `?`
            // or `,` must be bracketed (RFC 3261 §20; RFC 4475 §3.1.2.13).
            let (uri, after) = match find_unquoted(s, b';').ok()? {
                Some(i) => s.split_at(i),
                None => (s, ""),
            };
            let uri = uri.trim_matches(is_ws);
            if uri.contains(['?', ',']) {
                return None;
            }
            (None, uri, after)
        };
        // No trimming inside `<…>`: `< sip:x >` is malformed (RFC 4475 §3.1.2.14).
        let uri = Uri::parse(uri)?;
        let after = after.trim_matches(is_ws);
        if !after.is_empty() && !after.starts_with(';') {
            return None;
        }
        Some(NameAddr {
            display_name,
            uri,
            params: Params::parse(after)?,
        })
    }
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

/// Always writes the `<uri>` form (quoting the display name when present).
impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "{} ", quote(name))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
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
        let bad = || ParseError::bad("malformed CSeq");
        let (seq, method) = s.trim_matches(is_ws).split_once(is_ws).ok_or_else(bad)?;
        Ok(CSeq {
            seq: parse_digits(seq).ok_or_else(bad)?,
            method: Method::parse(method.trim_start_matches(is_ws)).ok_or_else(bad)?,
        })
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
        AuthParams::parse_opt(s)
            .ok_or_else(|| ParseError::bad("malformed credentials or challenge"))
    }

    /// `scheme LWS name=value *(COMMA name=value)`; values are tokens or quoted strings.
    fn parse_opt(s: &str) -> Option<AuthParams> {
        let s = s.trim_matches(is_ws);
        let end = s.find(is_ws).unwrap_or(s.len());
        let (scheme, mut rest) = s.split_at(end);
        if !is_token(scheme) {
            return None;
        }
        let mut params = Vec::new();
        loop {
            // Empty list elements (`a=b,,c=d`) are tolerated, as RFC 3261 §7.3.1 allows.
            rest = rest.trim_start_matches(|c| is_ws(c) || c == ',');
            if rest.is_empty() {
                break;
            }
            let name_end = rest
                .bytes()
                .position(|c| !is_token_char(c))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(name_end);
            if name.is_empty() {
                return None;
            }
            let after = after.trim_start_matches(is_ws).strip_prefix('=')?;
            let after = after.trim_start_matches(is_ws);
            let (value, after) = if after.starts_with('"') {
                parse_quoted(after)?
            } else {
                let end = after
                    .bytes()
                    .position(|c| !is_param_char(c))
                    .unwrap_or(after.len());
                let (v, a) = after.split_at(end);
                if v.is_empty() {
                    return None;
                }
                (v.to_owned(), a)
            };
            let after = after.trim_start_matches(is_ws);
            if !after.is_empty() && !after.starts_with(',') {
                return None;
            }
            params.push((name.to_ascii_lowercase(), value));
            rest = after;
        }
        Some(AuthParams {
            scheme: scheme.to_owned(),
            params,
        })
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::{Host, SipUri};

    #[test]
    fn via_basic() {
        let v = Via::parse(
            "SIP/2.0/udp host.example.com:5060;branch=z9hG4bK776;rport;received=192.0.2.1",
        )
        .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.sent_by, HostPort::parse("host.example.com:5060").unwrap());
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("192.0.2.1"));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK776;rport;received=192.0.2.1"
        );
        let v = Via::parse("SIP/2.0/TCP a.org;rport=5070").unwrap();
        assert_eq!(v.rport(), Some(Some(5070)));
        assert_eq!(Via::parse("SIP/2.0/TCP a.org").unwrap().rport(), None);
    }

    #[test]
    fn via_whitespace_everywhere() {
        // RFC 4475 §3.1.1.1 after unfolding.
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.sent_by.host, Host::V4("192.0.2.2".parse().unwrap()));
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        let v = Via::parse("SIP / 2.0 / UDP  192.168.255.111   ; branch= z9hG4bK30239").unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK30239"));
        let v = Via::parse("SIP/2.0/UDP host : 5060 ;ttl=16;maddr=224.2.0.1").unwrap();
        assert_eq!(v.sent_by.port, Some(5060));
        assert_eq!(v.params.value("ttl"), Some("16"));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP host:5060;ttl=16;maddr=224.2.0.1"
        );
    }

    #[test]
    fn via_ipv6_and_transports() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5060;received=[2001:db8::9:255];branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.sent_by.to_string(), "[2001:db8::9:1]:5060");
        assert_eq!(v.received(), Some("[2001:db8::9:255]"));
        let v =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z").unwrap();
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        assert!(Via::parse("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z").is_ok());
        for t in ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP", "WS", "WSS"] {
            assert_eq!(
                Via::parse(&format!("SIP/2.0/{t} t1.example.com"))
                    .unwrap()
                    .transport,
                t
            );
        }
    }

    #[test]
    fn via_malformed() {
        for s in [
            "",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0/UDPhost",
            "SIP/3.0/UDP host",
            "HTTP/2.0/UDP host",
            "SIP/2.0 UDP host",
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP host;branch=",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP 2001:db8::1",
            "SIP/2.0/UDP [2001:db8::1",
            "SIP/2.0/UDP host extra",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;rport=70000",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;received=not_an@address",
            "SIP/2.0/UDP host;maddr",
            "SIP/2.0/UDP host;branch=\"x\"",
            "SIP/2.0/UDP host, SIP/2.0/UDP other",
        ] {
            assert!(Via::parse(s).is_err(), "{s:?}");
        }
    }

    fn na(s: &str) -> NameAddr {
        NameAddr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn name_addr_forms() {
        let a = na("Alice Smith <sip:a@b>;tag=x");
        assert_eq!(a.display_name.as_deref(), Some("Alice Smith"));
        assert_eq!(a.tag(), Some("x"));
        assert_eq!(a.to_string(), "\"Alice Smith\" <sip:a@b>;tag=x");
        let a = na(r#""Alice \"A\"" <sip:a@b>"#);
        assert_eq!(a.display_name.as_deref(), Some(r#"Alice "A""#));
        assert_eq!(a.to_string(), r#""Alice \"A\"" <sip:a@b>"#);
        let a = na("<sip:a@b>");
        assert_eq!(a.display_name, None);
        assert_eq!(a.to_string(), "<sip:a@b>");
        let a = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name.as_deref(), Some("caller"));
        assert_eq!(a.tag(), Some("323"));
        let a = na(r#""" <sip:a@b>"#);
        assert_eq!(a.display_name.as_deref(), Some(""));
    }

    #[test]
    fn name_addr_addr_spec_params_belong_to_header() {
        let a = na("sip:a@b;tag=x");
        assert_eq!(a.tag(), Some("x"));
        assert!(a.uri.as_sip().unwrap().params.0.is_empty());
        assert_eq!(a.to_string(), "<sip:a@b>;tag=x");
        let a = na("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(a.tag(), Some("1918181833n"));
        let a = na("sip:+19725552222@gw1.example.net;unknownparam");
        assert!(a.params.contains("unknownparam"));
        let a = na("<sip:+19725552222@gw1.example.net;unknownparam>");
        assert!(a.params.0.is_empty());
        assert!(a.uri.as_sip().unwrap().params.contains("unknownparam"));
        let a = na("isbn:2983792873");
        assert_eq!(
            a.uri,
            Uri::Other {
                scheme: "isbn".into(),
                rest: "2983792873".into()
            }
        );
        let a = na("<http://www.example.com>;tag=3234233");
        assert_eq!(a.tag(), Some("3234233"));
    }

    #[test]
    fn name_addr_tag_survives_whitespace() {
        // rsip lost this tag.
        let a = na("<sip:x@y>  ;  tag = abc");
        assert_eq!(a.tag(), Some("abc"));
        let a = na(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\n  ;\n  tag = 98asjd8"
                .replace('\n', "")
                .as_str(),
        );
        assert_eq!(a.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = na(
            "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33",
        );
        assert_eq!(a.display_name.as_deref(), Some("Quoted string \"\""));
        assert_eq!(a.params.value("newparam"), Some("newvalue"));
        assert_eq!(a.params.get("secondparam"), Some(None));
        assert_eq!(a.params.value("q"), Some("0.33"));
    }

    #[test]
    fn name_addr_rfc4475_valid_oddities() {
        let a = na(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
        );
        assert_eq!(
            a.display_name.as_deref(),
            Some("token1~` token2'+_ token3*%!.-")
        );
        assert_eq!(a.tag(), Some("_token~1'+`*%!-."));
        let a = na(
            "\"BEL:\\\u{7} NUL:\\\0 DEL:\\\u{7f}\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
        );
        assert_eq!(
            a.display_name.as_deref(),
            Some("BEL:\u{7} NUL:\0 DEL:\u{7f}")
        );
        assert_eq!(na(&a.to_string()), a);
        let a = na(r#""%Z%45" <sip:resource@example.com>"#);
        assert_eq!(a.display_name.as_deref(), Some("%Z%45"));
        let a = na("<sip:user@host129.example.com?Route=%3Csip:sip.example.com%3E>");
        let SipUri { headers, .. } = a.uri.as_sip().unwrap();
        assert_eq!(
            headers,
            &vec![("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())]
        );
        let a = na("\"Caller\" <sip:caller@[2001:db8::1]>");
        assert_eq!(
            a.uri.as_sip().unwrap().host,
            Host::V6("2001:db8::1".parse().unwrap())
        );
        let a = na("Jörg <sip:j@b>");
        assert_eq!(a.display_name.as_deref(), Some("Jörg"));
        assert_eq!(
            na("<sip:a@b>;+sip.instance=\"<urn:uuid:f81d>\";reg-id=1")
                .params
                .value("reg-id"),
            Some("1")
        );
    }

    #[test]
    fn name_addr_malformed() {
        for s in [
            "",
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "<sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "<sip:a@b> junk",
            "<sip:a@b>;;;;",
            "<sip:a@b>;tag=",
            "\"a\" sip:a@b",
            "sip:a@b c",
            "<>",
            "<sip:a@2001:db8::1>",
        ] {
            assert!(NameAddr::parse(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse("0009 INVITE"),
            Ok(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert_eq!(
            CSeq::parse(" 1 \t  REGISTER "),
            Ok(CSeq {
                seq: 1,
                method: Method::Register
            })
        );
        assert_eq!(CSeq::parse("4294967295 ACK").unwrap().seq, u32::MAX);
        assert_eq!(
            CSeq::parse("4711 INVITE").unwrap().to_string(),
            "4711 INVITE"
        );
        let m = "!interesting-Method0123456789_*+`.%indeed'~";
        assert_eq!(
            CSeq::parse(&format!("139122385 {m}")).unwrap().method,
            Method::Extension(m.into())
        );
        for s in [
            "",
            "1",
            "INVITE",
            "-1 INVITE",
            "4294967296 INVITE",
            "36893488147419103232 REGISTER",
            "1 INVITE x",
            "x INVITE",
            "1.0 INVITE",
            "+1 INVITE",
        ] {
            assert!(CSeq::parse(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn auth_params() {
        let a = AuthParams::parse(
            "Digest username=\"a\", realm=\"r\",nonce=\"n\" , uri=\"sip:x\", response=\"0123\",\n algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c\", opaque=\"\"".replace('\n', "").as_str(),
        )
        .unwrap();
        assert_eq!(a.scheme, "Digest");
        assert_eq!(a.get("username"), Some("a"));
        assert_eq!(a.get("REALM"), Some("r"));
        assert_eq!(a.get("uri"), Some("sip:x"));
        assert_eq!(a.get("algorithm"), Some("SHA-256"));
        assert_eq!(a.get("qop"), Some("auth"));
        assert_eq!(a.get("nc"), Some("00000001"));
        assert_eq!(a.get("opaque"), Some(""));
        assert_eq!(a.params.len(), 10);
        let a = AuthParams::parse("Digest REALM = \"a\\\"b, c\" ,QOP=\"auth,auth-int\"").unwrap();
        assert_eq!(
            a.params,
            vec![
                ("realm".into(), "a\"b, c".into()),
                ("qop".into(), "auth,auth-int".into())
            ]
        );
        let a = AuthParams::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme, "NoOneKnowsThisScheme");
        assert_eq!(a.get("opaque-data"), Some("here"));
        assert!(AuthParams::parse("Digest").unwrap().params.is_empty());
        for s in [
            "",
            "Digest realm",
            "Digest realm=",
            "Digest realm=\"open",
            "Digest a=b c=d",
            "Dig,est a=b",
            "Digest =b",
            "Digest a=b;c",
        ] {
            assert!(AuthParams::parse(s).is_err(), "{s:?}");
        }
    }
}
