//! Property tests of the message layer: whatever we build serialises to bytes that parse back
//! to the same message, and no input (random or a mangled valid message) makes the parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sipwitch::core::msg::{
    CSeq, HeaderName, Headers, Host, Message, Method, NameAddr, Params, Request, Response, SipUri,
    Uri, Via, parse_message,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,4}[a-z0-9])?){0,3}"
            .prop_map(Host::Name),
        any::<[u8; 4]>().prop_map(|o| Host::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| Host::V6(Ipv6Addr::from(s))),
    ]
}

/// URI parameters: names and values from `paramchar` (escapes included).
fn uri_params() -> impl Strategy<Value = Params> {
    let pchar = "([A-Za-z0-9\\-_.!~*'()\\[\\]/:&+$]|%[0-9A-F]{2}){1,8}";
    prop::collection::vec((pchar, prop::option::of(pchar)), 0..4).prop_map(Params)
}

/// Header parameters: token names; token or quoted values (quotes kept, as Params stores them).
fn header_params() -> impl Strategy<Value = Params> {
    let value = prop_oneof![
        token(),
        "[^\"\\\\\\x00-\\x1f\\x7f]{0,10}".prop_map(|s| format!("\"{s}\"")),
    ];
    prop::collection::vec((token(), prop::option::of(value)), 0..4).prop_map(Params)
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    let user = "([A-Za-z0-9\\-_.!~*'()&=+$,;?/]|%[0-9A-F]{2}){1,10}";
    let password = "([A-Za-z0-9\\-_.!~*'()&=+$,]|%[0-9A-F]{2}){0,6}";
    let hname = "([A-Za-z0-9\\-_.!~*'()\\[\\]/?:+$]|%[0-9A-F]{2}){1,6}";
    let hvalue = "([A-Za-z0-9\\-_.!~*'()\\[\\]/?:+$]|%[0-9A-F]{2}){0,6}";
    (
        any::<bool>(),
        prop::option::of((user, prop::option::of(password))),
        host(),
        prop::option::of(any::<u16>()),
        uri_params(),
        prop::collection::vec((hname, hvalue), 0..3),
    )
        .prop_map(|(secure, userinfo, host, port, params, headers)| {
            let (user, password) = match userinfo {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            SipUri {
                secure,
                user,
                password,
                host,
                port,
                params,
                headers,
            }
        })
}

fn uri() -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => sip_uri().prop_map(Uri::Sip),
        1 => "\\+[0-9-]{1,12}(;[a-z-]{1,8}=[a-z0-9.]{1,8})?".prop_map(Uri::Tel),
        1 => ("[a-z][a-z0-9+.-]{0,6}", "[A-Za-z0-9/:.@?=&;%-]{1,16}")
            .prop_filter("not sip/sips/tel", |(s, _)| !["sip", "sips", "tel"].contains(&s.as_str()))
            .prop_map(|(scheme, rest)| Uri::Other { scheme, rest }),
    ]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    // Any display name but CR/LF, which no quoted string can carry.
    let display = prop::option::of("[^\r\n]{0,12}");
    (display, uri(), header_params()).prop_map(|(display_name, uri, params)| NameAddr {
        display_name,
        uri,
        params,
    })
}

fn via() -> impl Strategy<Value = Via> {
    let transport = prop_oneof![Just("UDP".to_owned()), Just("TCP".to_owned()), "[A-Z]{1,6}"];
    let branch = "z9hG4bK[A-Za-z0-9.!%*_+`'~-]{1,12}";
    (
        transport,
        host(),
        prop::option::of(any::<u16>()),
        branch,
        prop::option::of(prop::option::of(any::<u16>())),
    )
        .prop_map(|(transport, host, port, branch, rport)| {
            let mut params = Params::default();
            params.set("branch", Some(&branch));
            if let Some(r) = rport {
                params.set("rport", r.map(|p| p.to_string()).as_deref());
            }
            Via {
                transport,
                sent_by: sipwitch::core::msg::HostPort { host, port },
                params,
            }
        })
}

fn method() -> impl Strategy<Value = Method> {
    token().prop_map(|t| Method::parse(&t).unwrap())
}

/// Extension headers with values that are already in the form the parser stores them:
/// trimmed, no control characters.
fn extension_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let value = "[^\\x00-\\x1f\\x7f]{0,20}".prop_map(|s| s.trim_matches([' ', '\t']).to_owned());
    prop::collection::vec(("X-[A-Za-z0-9-]{1,10}", value), 0..4)
}

#[derive(Debug, Clone)]
struct Parts {
    vias: Vec<Via>,
    from: NameAddr,
    to: NameAddr,
    call_id: String,
    seq: u32,
    extra: Vec<(String, String)>,
    length_at: Option<usize>,
    body: Vec<u8>,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,16}(@[a-z0-9.]{1,10})?",
        any::<u32>(),
        extension_headers(),
        prop::option::of(0usize..12),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(vias, from, to, call_id, seq, extra, length_at, body)| Parts {
                vias,
                from,
                to,
                call_id,
                seq,
                extra,
                length_at,
                body,
            },
        )
}

/// A header list the way the parser would hand it back for this serialisation.
fn headers(p: &Parts, method: &Method) -> Headers {
    let mut h = Headers::new();
    for v in &p.vias {
        h.push(HeaderName::Via, v.to_string());
    }
    h.push(HeaderName::From, p.from.to_string());
    h.push(HeaderName::To, p.to.to_string());
    h.push(HeaderName::CallId, p.call_id.clone());
    h.push(
        HeaderName::CSeq,
        CSeq {
            seq: p.seq,
            method: method.clone(),
        }
        .to_string(),
    );
    h.push(HeaderName::MaxForwards, "70");
    for (n, v) in &p.extra {
        h.push(HeaderName::parse(n).unwrap(), v.clone());
    }
    if let Some(at) = p.length_at {
        let at = at.min(h.0.len());
        h.0.insert(
            at,
            sipwitch::core::msg::Header {
                name: HeaderName::ContentLength,
                value: p.body.len().to_string(),
            },
        );
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn uris_round_trip(u in uri()) {
        let text = u.to_string();
        prop_assert_eq!(Uri::parse(&text), Some(u), "{}", text);
    }

    #[test]
    fn name_addrs_round_trip(a in name_addr()) {
        let text = a.to_string();
        prop_assert_eq!(NameAddr::parse(&text).unwrap(), a, "{}", text);
    }

    #[test]
    fn vias_round_trip(v in via()) {
        let text = v.to_string();
        prop_assert_eq!(Via::parse(&text).unwrap(), v, "{}", text);
    }

    #[test]
    fn requests_round_trip(m in method(), u in sip_uri(), p in parts()) {
        let mut u = u;
        u.headers.clear(); // a Request-URI carries no headers
        let headers = headers(&p, &m);
        let req = Request { method: m, uri: Uri::Sip(u), headers, body: p.body.clone() };
        let bytes = req.to_bytes();
        let mut expected = req.clone();
        if p.length_at.is_none() {
            expected.headers.push(HeaderName::ContentLength, p.body.len().to_string());
        }
        let parsed = parse_message(&bytes);
        prop_assert_eq!(parsed, Ok(Message::Request(expected.clone())), "{}", String::from_utf8_lossy(&bytes));
        prop_assert_eq!(expected.headers.from().unwrap(), p.from);
        prop_assert_eq!(expected.headers.vias().unwrap(), p.vias);
    }

    #[test]
    fn responses_round_trip(
        status in 100u16..=699,
        reason in "[^\\x00-\\x1f\\x7f]{0,20}",
        m in method(),
        p in parts(),
    ) {
        let headers = headers(&p, &m);
        let resp = Response { status, reason, headers, body: p.body.clone() };
        let bytes = resp.to_bytes();
        let mut expected = resp.clone();
        if p.length_at.is_none() {
            expected.headers.push(HeaderName::ContentLength, p.body.len().to_string());
        }
        prop_assert_eq!(parse_message(&bytes), Ok(Message::Response(expected)));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_reparse(&bytes)?;
    }

    /// Mangling a valid message reaches much deeper into the parser than random bytes.
    #[test]
    fn mangled_messages_never_panic(
        m in method(),
        p in parts(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let headers = headers(&p, &m);
        let req = Request {
            method: m,
            uri: Uri::parse("sip:a@example.com").unwrap(),
            headers,
            body: p.body.clone(),
        };
        let mut bytes = req.to_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
        }
        check_reparse(&bytes)?;
    }
}

/// Parsing never panics; whatever parses serialises to something that parses to the same
/// message (Content-Length aside, which serialisation rewrites).
fn check_reparse(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(first) = parse_message(bytes) {
        let out = first.to_bytes();
        let second = parse_message(&out);
        prop_assert!(
            second.is_ok(),
            "{:?} from {}",
            second,
            String::from_utf8_lossy(&out)
        );
        let strip = |m: Message| match m {
            Message::Request(mut r) => {
                r.headers.remove_all(&HeaderName::ContentLength);
                Message::Request(r)
            }
            Message::Response(mut r) => {
                r.headers.remove_all(&HeaderName::ContentLength);
                Message::Response(r)
            }
        };
        prop_assert_eq!(strip(first), strip(second.unwrap()));
    }
    Ok(())
}
