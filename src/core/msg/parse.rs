use thiserror::Error;

use super::header::{Header, HeaderName, Headers};
use super::message::{Message, Request, Response};
use super::method::Method;
use super::syntax::{is_ws, parse_digits};
use super::uri::Uri;

/// Largest message we accept, over any transport. Bigger ones get 513 (when we can answer).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Why a message could not be taken.
///
/// `status` is the answer RFC 3261/4475 wants (400 for malformed, 505 for a SIP version we do not
/// speak, 513 for too large, …). `headers` holds whatever header lines were split out of a
/// *request* before the error was found, so that the caller can copy Via/From/To/Call-ID/CSeq
/// into the answer; when it is `None` (a response, or a request too broken to answer) the message
/// is dropped and logged.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{status} {detail}")]
pub struct ParseError {
    pub status: u16,
    pub detail: String,
    pub headers: Option<Headers>,
}

impl ParseError {
    /// A 400 with no salvageable headers.
    pub fn bad(detail: impl Into<String>) -> ParseError {
        ParseError {
            status: 400,
            detail: detail.into(),
            headers: None,
        }
    }
}

/// Parses one complete message (a UDP datagram, or one message cut out by [`super::StreamFramer`]).
///
/// Datagram rules (RFC 3261 §18.3): bytes beyond Content-Length are discarded; a Content-Length
/// larger than the bytes present is an error (400); without Content-Length the body runs to the
/// end. The start line must be a request line or a status line with `SIP/2.0` (505 otherwise for
/// requests). Validates the mandatory headers of a request (Via, From, To, Call-ID, CSeq with a
/// method matching the request line, a numeric Max-Forwards when present), since a transaction
/// layer cannot work without them.
///
/// Leniencies and choices: leading CRLFs are skipped (RFC 3261 §7.5); lines may end in a bare
/// LF; the head must be valid UTF-8 and free of bare CRs and of NULs (except as a quoted-pair,
/// which RFC 4475 §3.1.1.2 uses in a display name), else 400. Responses get the same header
/// checks (Via, From, To, Call-ID, CSeq); requests also have their Contact checked.
pub fn parse_message(buf: &[u8]) -> Result<Message, ParseError> {
    let total_len = buf.len();
    let buf = skip_leading_newlines(buf);
    let body_start = head_end(buf, 0).unwrap_or(buf.len());
    let (head, rest) = buf.split_at(body_start);
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = match lines.next() {
        Some(l) if !l.is_empty() => l,
        _ => return Err(ParseError::bad("empty message")),
    };
    let is_request = !is_status_line(start_line);
    let (headers, line_error) = unfold(lines.take_while(|l| !l.is_empty()));
    let headers = Headers(headers);
    // Only a request gets an answer, so only a request keeps its headers for one.
    let fail = |status: u16, detail: &str| ParseError {
        status,
        detail: detail.to_owned(),
        headers: is_request.then(|| headers.clone()),
    };

    if total_len > MAX_MESSAGE_SIZE {
        return Err(fail(513, "message too large"));
    }
    if std::str::from_utf8(head).is_err() {
        return Err(fail(400, "header section is not valid UTF-8"));
    }
    if let Some(problem) = bad_octets(head) {
        return Err(fail(400, problem));
    }
    let start = parse_start_line(start_line).map_err(|(status, detail)| fail(status, detail))?;
    if let Some(problem) = line_error {
        return Err(fail(400, problem));
    }
    let method = match &start {
        Start::Request(m, _) => Some(m),
        Start::Response(..) => None,
    };
    let content_length = validate(&headers, method).map_err(|e| fail(400, &e))?;
    let body = match content_length {
        None => rest.to_vec(),
        Some(n) => match rest.get(..n) {
            Some(b) => b.to_vec(),
            None => return Err(fail(400, "Content-Length larger than the message")),
        },
    };
    Ok(match start {
        Start::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        Start::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

/// Skips the CRLFs (or bare LFs) that may precede a start line (RFC 3261 §7.5).
pub(crate) fn skip_leading_newlines(mut buf: &[u8]) -> &[u8] {
    loop {
        if let Some(r) = buf.strip_prefix(b"\r\n") {
            buf = r;
        } else if let Some(r) = buf.strip_prefix(b"\n") {
            buf = r;
        } else {
            return buf;
        }
    }
}

/// Offset of the body: just past the first empty line (CRLF CRLF, LF LF or a mix), looking at
/// line ends from `from` on. `None` when the head is not complete yet.
pub(crate) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .find_map(|(i, _)| {
            let after = tail.get(i + 1..)?;
            if after.starts_with(b"\n") {
                Some(from + i + 2)
            } else if after.starts_with(b"\r\n") {
                Some(from + i + 3)
            } else {
                None
            }
        })
}

fn is_status_line(line: &str) -> bool {
    line.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

/// NUL and bare CR have no place in a head. A NUL right after a backslash is a quoted-pair
/// (RFC 3261 `quoted-pair` allows %x00), which the valid RFC 4475 §3.1.1.2 message contains.
fn bad_octets(head: &[u8]) -> Option<&'static str> {
    let mut prev = 0u8;
    for (i, &c) in head.iter().enumerate() {
        if c == 0 && prev != b'\\' {
            return Some("NUL octet in header section");
        }
        if c == b'\r' && head.get(i + 1) != Some(&b'\n') {
            return Some("bare CR in header section");
        }
        prev = c;
    }
    None
}

enum Start {
    Request(Method, Uri),
    Response(u16, String),
}

fn parse_start_line(line: &str) -> Result<Start, (u16, &'static str)> {
    if is_status_line(line) {
        let (version, rest) = line.split_once(' ').unwrap_or((line, ""));
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err((505, "unsupported SIP version"));
        }
        // `SIP/2.0 100 ` with an empty reason is valid (RFC 4475 §3.1.1.13); the lone
        // `SIP/2.0 100` without the SP is tolerated.
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = match parse_digits::<u16>(code) {
            Some(s) if code.len() == 3 && (100..=699).contains(&s) => s,
            _ => return Err((400, "malformed status code")),
        };
        return Ok(Start::Response(status, reason.to_owned()));
    }
    // Exactly one SP between the three elements (RFC 4475 §3.1.2.8-10).
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err((400, "malformed request line"));
    };
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        let sip = version
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
        return Err(if sip {
            (505, "unsupported SIP version")
        } else {
            (400, "malformed request line")
        });
    }
    let method = Method::parse(method).ok_or((400, "malformed method"))?;
    let uri = Uri::parse(uri).ok_or((400, "malformed Request-URI"))?;
    // URI headers make no sense in a Request-URI (RFC 3261 §19.1.5, RFC 4475 §3.1.2.11).
    if uri.as_sip().is_some_and(|u| !u.headers.is_empty()) {
        return Err((400, "headers in Request-URI"));
    }
    Ok(Start::Request(method, uri))
}

/// Turns header lines into headers: splits at the first colon (whitespace allowed before it),
/// joins continuation lines with one SP. Keeps going after a bad line so that the caller can
/// still answer; the first problem is returned with the list.
pub(crate) fn unfold<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> (Vec<Header>, Option<&'static str>) {
    let mut headers: Vec<Header> = Vec::new();
    let mut problem = None;
    // Whether a continuation line extends a header we kept (not one we rejected).
    let mut continues = false;
    for line in lines {
        if line.starts_with(is_ws) {
            let more = line.trim_matches(is_ws);
            match headers.last_mut() {
                Some(h) if continues => {
                    if !h.value.is_empty() && !more.is_empty() {
                        h.value.push(' ');
                    }
                    h.value.push_str(more);
                }
                // After a rejected line the problem is already recorded.
                _ => problem = problem.or(Some("continuation line without a header")),
            }
            continue;
        }
        let parsed = line.split_once(':').and_then(|(name, value)| {
            let name = HeaderName::parse(name.trim_end_matches(is_ws))?;
            Some(Header {
                name,
                value: value.trim_matches(is_ws).to_owned(),
            })
        });
        continues = parsed.is_some();
        match parsed {
            Some(h) => headers.push(h),
            None => problem = problem.or(Some("malformed header line")),
        }
    }
    (headers, problem)
}

/// Checks what every layer above relies on; returns the Content-Length.
fn validate(headers: &Headers, method: Option<&Method>) -> Result<Option<usize>, String> {
    let mut content_length = None;
    for h in headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentLength)
    {
        let n = parse_digits::<usize>(&h.value).ok_or("malformed Content-Length")?;
        if content_length.is_some_and(|c| c != n) {
            return Err("conflicting Content-Length headers".into());
        }
        content_length = Some(n);
    }
    for name in [
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::From,
        HeaderName::To,
    ] {
        let mut values = headers.iter().filter(|h| h.name == name).map(|h| &h.value);
        if let Some(first) = values.next()
            && values.any(|v| v != first)
        {
            return Err(format!("conflicting {name} headers"));
        }
    }
    if headers.vias().map_err(|e| e.detail)?.is_empty() {
        return Err("missing Via".into());
    }
    headers.from().map_err(|e| format!("From: {}", e.detail))?;
    headers.to().map_err(|e| format!("To: {}", e.detail))?;
    headers.call_id().map_err(|e| e.detail)?;
    let cseq = headers.cseq().map_err(|e| e.detail)?;
    if let Some(method) = method {
        if &cseq.method != method {
            return Err("CSeq method does not match the request line".into());
        }
        headers.max_forwards().map_err(|e| e.detail)?;
        headers
            .contacts()
            .map_err(|e| format!("Contact: {}", e.detail))?;
    }
    Ok(content_length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::{ContactList, Host};

    /// Test messages are written with `\n`; the wire wants CRLF.
    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn with_body(head: &str, body: &[u8]) -> Vec<u8> {
        let mut m = crlf(head);
        m.extend_from_slice(body);
        m
    }

    fn request(bytes: &[u8]) -> Request {
        match parse_message(bytes) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn response(bytes: &[u8]) -> Response {
        match parse_message(bytes) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Asserts a request is refused with `status` and that its headers were salvaged.
    fn refused(bytes: &[u8], status: u16) -> Headers {
        let e = parse_message(bytes).unwrap_err();
        assert_eq!(e.status, status, "{e}");
        let detail = e.to_string();
        e.headers
            .unwrap_or_else(|| panic!("no headers salvaged: {detail}"))
    }

    fn dropped(bytes: &[u8]) {
        let e = parse_message(bytes).unwrap_err();
        assert_eq!(e.headers, None, "{e}");
    }

    const BASIC: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Type: application/sdp
Content-Length: 4

";

    #[test]
    fn basic_request() {
        let r = request(&with_body(BASIC, b"v=0\n"));
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri, Uri::parse("sip:bob@biloxi.example.com").unwrap());
        assert_eq!(r.headers.0.len(), 9);
        assert_eq!(r.headers.0[0].name, HeaderName::Via);
        assert_eq!(r.headers.0[8].value, "4");
        assert_eq!(r.body, b"v=0\n");
        assert_eq!(r.headers.cseq().unwrap().seq, 314159);
        assert_eq!(r.headers.from().unwrap().tag(), Some("1928301774"));
    }

    #[test]
    fn bare_lf_and_leading_crlf() {
        let mut m = b"\r\n\r\n\n".to_vec();
        m.extend_from_slice(BASIC.as_bytes());
        m.extend_from_slice(b"v=0\n");
        let r = request(&m);
        assert_eq!(r.body, b"v=0\n");
        assert_eq!(r.headers.0.len(), 9);
    }

    #[test]
    fn head_without_blank_line_or_body() {
        let m = BASIC.replace("Content-Length: 4\n\n", "Content-Length: 0");
        assert!(request(&crlf(&m)).body.is_empty());
        let m = BASIC.replace("Content-Length: 4\n\n", "Content-Length: 4");
        refused(&crlf(&m), 400);
    }

    #[test]
    fn binary_body_is_byte_exact() {
        let body: Vec<u8> = (0..=255u8).chain(*b"\r\n\r\n\0\xff").collect();
        let head = BASIC.replace(
            "Content-Length: 4",
            &format!("Content-Length: {}", body.len()),
        );
        let r = request(&with_body(&head, &body));
        assert_eq!(r.body, body);
    }

    #[test]
    fn wsinv_rfc4475_3_1_1_1() {
        let head = "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

";
        let body = [b'x'; 150];
        let r = request(&with_body(head, &body));
        let h = &r.headers;
        assert_eq!(
            r.uri.as_sip().unwrap().params.get("unknownparam"),
            Some(None)
        );
        assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
        let from = h.from().unwrap();
        assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(from.tag(), Some("98asjd8"));
        assert_eq!(h.max_forwards(), Ok(Some(68)));
        assert_eq!(
            h.cseq().unwrap(),
            crate::core::msg::CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(h.get(&HeaderName::Subject), Some(""));
        assert_eq!(
            h.get(&HeaderName::Other("newfangledheader".into())),
            Some("newfangled value continued newfangled value")
        );
        assert_eq!(
            h.get(&HeaderName::Other("UnknownHeaderWithUnusualValue".into())),
            Some(";;,,;;,;")
        );
        let vias = h.vias().unwrap();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].branch(), Some("390skdjuw"));
        assert_eq!(vias[1].transport, "TCP");
        assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
        let ContactList::Addrs(c) = h.contacts().unwrap() else {
            panic!()
        };
        assert_eq!(c[0].display_name.as_deref(), Some("Quoted string \"\""));
        assert_eq!(c[0].params.value("q"), Some("0.33"));
        assert_eq!(h.routes(&HeaderName::Route).unwrap().len(), 1);
        assert_eq!(r.body.len(), 150);
    }

    #[test]
    fn intmeth_rfc4475_3_1_1_2() {
        let m = "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~:\u{feff}\u{5927}\u{505c}\u{96fb}
Content-Length: 0

";
        let r = request(&crlf(m));
        assert_eq!(
            r.method,
            Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
        );
        assert_eq!(
            r.headers.to().unwrap().display_name.as_deref(),
            Some("BEL:\x07 NUL:\0 DEL:\x7f")
        );
        assert_eq!(r.headers.from().unwrap().tag(), Some("_token~1'+`*%!-."));
        assert_eq!(
            r.headers.call_id(),
            Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
        );
        assert_eq!(
            r.headers
                .get(&HeaderName::Other("extensionHeader-!.%*+_`'~".into())),
            Some("\u{feff}\u{5927}\u{505c}\u{96fb}")
        );
        assert_eq!(
            r.headers.top_via().unwrap().branch(),
            Some("z9hG4bK-.!%66*_+`'~")
        );
    }

    #[test]
    fn escapes_rfc4475_3_1_1_3_to_5() {
        let m = "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 0

";
        let r = request(&crlf(m));
        assert_eq!(
            r.uri.as_sip().unwrap().user_unescaped().as_deref(),
            Some("sips:user@example.com")
        );
        assert_eq!(
            r.headers.get(&HeaderName::ContentType),
            Some("application/sdp")
        );
        let m = "REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0

";
        let r = request(&crlf(m));
        assert_eq!(r.headers.get_all(&HeaderName::Contact).count(), 2);
        let m = "RE%47IST%45R sip:registrar.example.com SIP/2.0
To: \"%Z%45\" <sip:resource@example.com>
From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK209asdjf
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

";
        let r = request(&crlf(m));
        assert_eq!(r.method, Method::Extension("RE%47IST%45R".into()));
        assert_eq!(r.headers.get_all(&HeaderName::Contact).count(), 2);
    }

    #[test]
    fn misc_valid_rfc4475() {
        // lwsdisp, semiuri, transports.
        let m = "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0

";
        let r = request(&crlf(m));
        assert_eq!(
            r.uri.as_sip().unwrap().user.as_deref(),
            Some("user;par=u%40example.net")
        );
        assert_eq!(r.headers.get_all(&HeaderName::Accept).count(), 6);
        assert_eq!(r.headers.vias().unwrap()[3].transport, "UNKNOWN");
        assert_eq!(
            r.headers.from().unwrap().display_name.as_deref(),
            Some("caller")
        );
    }

    #[test]
    fn dblreq_trailing_octets_are_ignored() {
        let mut m = crlf(&BASIC.replace("Content-Length: 4", "Content-Length: 0"));
        m.extend_from_slice(&crlf(BASIC));
        let r = request(&m);
        assert!(r.body.is_empty());
    }

    #[test]
    fn responses() {
        let m = "SIP/2.0 200 = 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e}
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 0
Contact: <sip:user@host198.example.com>

";
        let r = response(&crlf(m));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.reason,
            "= 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e}"
        );
        let m = "SIP/2.0 100 \nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\nCall-ID: noreason.asndj203insdf99223ndf\nCSeq: 35 INVITE\nFrom: <sip:user@example.com>;tag=39ansfi3\nTo: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\n\n";
        let r = response(&crlf(m));
        assert_eq!((r.status, r.reason.as_str()), (100, ""));
        let r = response(&crlf(&m.replace("100 \n", "100\n")));
        assert_eq!(r.reason, "");
        assert_eq!(
            response(&crlf(&m.replace("SIP/2.0", "sip/2.0"))).status,
            100
        );
    }

    #[test]
    fn bad_responses_are_dropped() {
        let good = "SIP/2.0 503 Service Unavailable\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\nTo: <sip:user@example.com>\nFrom: <sip:other@example.net>;tag=2easdjfejw\nCSeq: 9292 OPTIONS\nCall-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\nRetry-After: 949302838503028349304023988\nWarning: 1812 overture \"In Progress\"\nContent-Length: 0\n\n";
        assert_eq!(response(&crlf(good)).status, 503);
        dropped(&crlf(
            &good.replace("9292 OPTIONS", "9292394834772304023312 OPTIONS"),
        ));
        dropped(&crlf(&good.replace("503 Service", "4294967301 Service")));
        dropped(&crlf(&good.replace("503 Service", "99 Service")));
        dropped(&crlf(&good.replace("503 Service", "700 Service")));
        dropped(&crlf(&good.replace("503 Service", "5033 Service")));
        dropped(&crlf(&good.replace("SIP/2.0 503", "SIP/7.0 503")));
        dropped(&crlf(&good.replace(
            "Via: SIP/2.0/TCP host129.example.com;",
            "Via: SIP/2.0/TCP ;",
        )));
        dropped(&crlf(&good.replace("Call-ID", "X-Call-ID")));
    }

    #[test]
    fn structural_errors_rfc4475() {
        // badinv01: empty parameters in Via and Contact.
        let h = refused(
            &crlf(&BASIC.replace(
                "pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
                "192.0.2.15;;,;,,",
            )),
            400,
        );
        assert!(h.contains(&HeaderName::CallId));
        refused(
            &crlf(&BASIC.replace(
                "<sip:alice@pc33.atlanta.example.com>",
                "\"Joe\" <sip:joe@example.org>;;;;",
            )),
            400,
        );
        // clerr, ncl, non-numeric, overflowing.
        refused(
            &crlf(&BASIC.replace("Content-Length: 4", "Content-Length: 9999")),
            400,
        );
        refused(
            &crlf(&BASIC.replace("Content-Length: 4", "Content-Length: -999")),
            400,
        );
        refused(
            &crlf(&BASIC.replace("Content-Length: 4", "Content-Length: four")),
            400,
        );
        refused(
            &crlf(&BASIC.replace(
                "Content-Length: 4",
                "Content-Length: 99999999999999999999999",
            )),
            400,
        );
        // scalar02: overlarge CSeq; Max-Forwards beyond 255 but within u32 is tolerated.
        refused(
            &with_body(
                &BASIC.replace("314159 INVITE", "36893488147419103232 INVITE"),
                b"v=0\n",
            ),
            400,
        );
        refused(
            &with_body(
                &BASIC.replace("314159 INVITE", "4294967296 INVITE"),
                b"v=0\n",
            ),
            400,
        );
        assert_eq!(
            request(&with_body(
                &BASIC.replace("Max-Forwards: 70", "Max-Forwards: 300"),
                b"v=0\n"
            ))
            .headers
            .max_forwards(),
            Ok(Some(300))
        );
        refused(
            &with_body(
                &BASIC.replace("Max-Forwards: 70", "Max-Forwards: 99999999999"),
                b"v=0\n",
            ),
            400,
        );
        refused(
            &with_body(
                &BASIC.replace("Max-Forwards: 70", "Max-Forwards: seventy"),
                b"v=0\n",
            ),
            400,
        );
        // quotbal.
        refused(
            &with_body(&BASIC.replace("To: Bob <", "To: \"Mr. J. User <"), b"v=0\n"),
            400,
        );
        // ltgtruri, lwsruri, lwsstart, trws, escruri.
        for line in [
            "INVITE <sip:bob@biloxi.example.com> SIP/2.0",
            "INVITE sip:bob@biloxi.example.com; lr SIP/2.0",
            "INVITE  sip:bob@biloxi.example.com  SIP/2.0",
            "INVITE sip:bob@biloxi.example.com SIP/2.0  ",
            "INVITE sip:bob@biloxi.example.com\tSIP/2.0",
            "INVITE sip:bob@biloxi.example.com?Route=%3Csip:example.com%3E SIP/2.0",
            "INVITE sip:bob@biloxi.example.com",
            "INVITE SIP/2.0",
            "INVITE sip:bob@biloxi.example.com HTTP/1.1",
            "INV ITE sip:bob@biloxi.example.com SIP/2.0",
            "INVITE sip:user@2001:db8::10 SIP/2.0",
            "INVITE sip:user@[2001:db8:::1] SIP/2.0",
            "INVITE sip:bob@biloxi.example.com:65536 SIP/2.0",
        ] {
            let m = BASIC.replace("INVITE sip:bob@biloxi.example.com SIP/2.0", line);
            let h = refused(&with_body(&m, b"v=0\n"), 400);
            assert!(h.contains(&HeaderName::Via), "{line}");
        }
        // regbadct: an addr-spec with URI headers must be bracketed.
        refused(
            &with_body(
                &BASIC.replace(
                    "Contact: <sip:alice@pc33.atlanta.example.com>",
                    "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                ),
                b"v=0\n",
            ),
            400,
        );
        // badaor: spaces inside <>.
        refused(
            &with_body(
                &BASIC.replace(
                    "To: Bob <sip:bob@biloxi.example.com>",
                    "To: \"Watson, Thomas\" < sip:t.watson@example.org >",
                ),
                b"v=0\n",
            ),
            400,
        );
        // baddn: unquoted display names with a comma.
        refused(
            &with_body(
                &BASIC.replace("From: Alice <", "From: Bell, Alexander <"),
                b"v=0\n",
            ),
            400,
        );
        // mismatch01/02.
        refused(
            &with_body(&BASIC.replace("314159 INVITE", "314159 OPTIONS"), b"v=0\n"),
            400,
        );
        refused(
            &with_body(
                &BASIC.replace("INVITE sip:bob", "NEWMETHOD sip:bob"),
                b"v=0\n",
            ),
            400,
        );
        // Contact: * with addresses.
        refused(
            &with_body(
                &BASIC.replace(
                    "Contact: <sip:alice@pc33.atlanta.example.com>",
                    "Contact: *, <sip:a@b>",
                ),
                b"v=0\n",
            ),
            400,
        );
    }

    #[test]
    fn version_505_keeps_headers() {
        let h = refused(
            &with_body(&BASIC.replace("SIP/2.0\nVia", "SIP/7.0\nVia"), b"v=0\n"),
            505,
        );
        assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
        let r = request(&with_body(
            &BASIC.replace("SIP/2.0\nVia", "sip/2.0\nVia"),
            b"v=0\n",
        ));
        assert_eq!(r.method, Method::Invite);
    }

    #[test]
    fn missing_mandatory_headers() {
        for name in ["Via:", "To:", "From:", "Call-ID:", "CSeq:"] {
            let m: String = BASIC
                .lines()
                .filter(|l| !l.starts_with(name))
                .map(|l| format!("{l}\n"))
                .collect();
            let h = refused(&with_body(&m, b"v=0\n"), 400);
            assert!(h.contains(&HeaderName::ContentType), "{name}");
        }
        let m = BASIC.replace(
            "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
            "Call-ID:",
        );
        refused(&with_body(&m, b"v=0\n"), 400);
    }

    #[test]
    fn duplicate_singletons() {
        // multi01, mcl01.
        let add = |extra: &str| {
            with_body(
                &BASIC.replace("Contact:", &format!("{extra}\nContact:")),
                b"v=0\n",
            )
        };
        refused(&add("CSeq: 59 INVITE"), 400);
        refused(&add("Call-ID: other@192.0.2.2"), 400);
        refused(&add("To: sip:other@example.net"), 400);
        refused(&add("From: sip:caller@example.net;tag=2923420123"), 400);
        refused(&add("l: 5"), 400);
        // The same value twice is harmless.
        request(&add("Content-Length: 4"));
        request(&add("CSeq: 314159 INVITE"));
    }

    #[test]
    fn header_line_syntax() {
        // HCOLON allows whitespace before the colon; a line without colon or with a bad name is 400.
        let r = request(&with_body(
            &BASIC.replace("Max-Forwards:", "Max-Forwards \t :"),
            b"v=0\n",
        ));
        assert_eq!(r.headers.max_forwards(), Ok(Some(70)));
        let h = refused(
            &with_body(
                &BASIC.replace("Max-Forwards: 70", "Max-Forwards 70"),
                b"v=0\n",
            ),
            400,
        );
        assert!(h.contains(&HeaderName::Via) && h.contains(&HeaderName::CSeq));
        refused(
            &with_body(&BASIC.replace("Max-Forwards:", "Max Forwards:"), b"v=0\n"),
            400,
        );
        refused(&with_body(&BASIC.replace("Via:", " Via:"), b"v=0\n"), 400);
        refused(
            &with_body(&BASIC.replace("Max-Forwards", ": Max-Forwards"), b"v=0\n"),
            400,
        );
    }

    #[test]
    fn octet_rules() {
        refused(
            &with_body(&BASIC.replace("Call-ID: a84b", "Call-ID: a\0b"), b"v=0\n"),
            400,
        );
        refused(
            &with_body(&BASIC.replace("Call-ID: a84b", "Call-ID: a\rb"), b"v=0\n"),
            400,
        );
        let mut m = crlf(&BASIC.replace("Call-ID: a84b", "Call-ID: a@@b"));
        let at = m.iter().position(|c| *c == b'@').unwrap();
        m[at] = 0xff;
        m.extend_from_slice(b"v=0\n");
        let h = refused(&m, 400);
        assert!(h.contains(&HeaderName::Via));
        // UTF-8 is fine in values, NUL and invalid UTF-8 in the body are fine.
        let r = request(&with_body(
            &BASIC.replace("Bob <", "Bob Ünïcødé <"),
            b"\0\xff\xfe\n",
        ));
        assert_eq!(r.body, b"\0\xff\xfe\n");
    }

    #[test]
    fn too_large_is_513() {
        let body = vec![b'a'; MAX_MESSAGE_SIZE];
        let head = BASIC.replace(
            "Content-Length: 4",
            &format!("Content-Length: {}", body.len()),
        );
        let h = refused(&with_body(&head, &body), 513);
        assert!(h.contains(&HeaderName::Via));
        let big = format!("X-Big: {}\n", "a".repeat(MAX_MESSAGE_SIZE));
        refused(
            &with_body(
                &BASIC.replace("Contact:", &format!("{big}Contact:")),
                b"v=0\n",
            ),
            513,
        );
    }

    #[test]
    fn application_level_oddities_parse() {
        // unkscm, novelsc: any scheme parses, the core answers 416.
        for uri in [
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "soap.beep://192.0.2.103:3002",
            "tel:+1-201-555-0123",
        ] {
            let m = BASIC.replace(
                "INVITE sip:bob@biloxi.example.com SIP/2.0",
                &format!("INVITE {uri} SIP/2.0"),
            );
            let r = request(&with_body(&m, b"v=0\n"));
            assert!(r.uri.as_sip().is_none(), "{uri}");
        }
        // unksm2, regaut01, zeromf, cparam01/02, regescrt.
        let m = "REGISTER sip:example.com SIP/2.0
To: isbn:2983792873
From: <http://www.example.com>;tag=3234233
Call-ID: unksm2.daksdj@hyphenated-host.example.com
CSeq: 234902 REGISTER
Max-Forwards: 0
Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw
Authorization: NoOneKnowsThisScheme opaque-data=here
Contact: <name:John_Smith>
Contact: sip:+19725552222@gw1.example.net;unknownparam
Contact: <sip:+19725552222@gw1.example.net;unknownparam>
Contact: <sip:user@host129.example.com?Route=%3Csip:sip.example.com%3E>
l: 0

";
        let r = request(&crlf(m));
        assert_eq!(r.headers.max_forwards(), Ok(Some(0)));
        let ContactList::Addrs(c) = r.headers.contacts().unwrap() else {
            panic!()
        };
        assert_eq!(c.len(), 4);
        assert!(c[1].params.contains("unknownparam"));
        // inv2543: no Content-Length, no Max-Forwards, no tag, branch-less Via: body to the end.
        let m = "INVITE sip:UserB@example.com SIP/2.0
Via: SIP/2.0/UDP iftgw.example.com
From: <sip:+13035551111@ift.client.example.net;user=phone>
Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>
To: sip:+16505552222@ss1.example.net;user=phone
Call-ID: inv2543.1717@ift.client.example.com
CSeq: 56 INVITE
Content-Type: application/sdp

v=0
";
        let r = request(&crlf(m));
        assert_eq!(r.body, b"v=0\r\n");
        assert_eq!(r.headers.top_via().unwrap().branch(), None);
        assert_eq!(r.headers.to().unwrap().params.value("user"), Some("phone"));
    }

    #[test]
    fn ipv6_rfc5118() {
        let m = "REGISTER sip:[2001:db8::10]:5070 SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=81x2
Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111
Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;received=2001:db8::9:255;branch=z9hG4bKbzx
Call-ID: SSG9559905523997077@hlau_4100
Max-Forwards: 70
Contact: \"Caller\" <sip:caller@[::ffff:192.0.2.10]>
CSeq: 98176 REGISTER
Content-Length: 0

";
        let r = request(&crlf(m));
        let u = r.uri.as_sip().unwrap();
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        let vias = r.headers.vias().unwrap();
        assert_eq!(vias[1].sent_by.port, Some(19823));
        let r = request(&crlf(
            &m.replace("[2001:db8::10]:5070", "[2001:db8::10:5070]"),
        ));
        assert_eq!(r.uri.as_sip().unwrap().port, None);
        refused(
            &crlf(&m.replace("sip:[2001:db8::10]:5070", "sip:2001:db8::10")),
            400,
        );
        refused(
            &crlf(&m.replace("caller@[::ffff:192.0.2.10]", "caller@[2001:db8:::1]")),
            400,
        );
        refused(&crlf(&m.replace("[2001:db8::9:1];", "2001:db8::9:1;")), 400);
    }

    #[test]
    fn empty_and_garbage_never_panic() {
        for input in [
            &b""[..],
            b"\r\n",
            b"\r\n\r\n",
            b"\n",
            b"x",
            b"SIP/2.0",
            b"SIP/",
            b"INVITE",
            b"\0",
            b"\xff\xfe",
            b"INVITE sip:a@b SIP/2.0\r\n",
            b"INVITE sip:a@b SIP/2.0\r\n\r\n",
            b"SIP/2.0 200 OK\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\n v: x\r\n\r\n",
            b"\xe2\x82\r\n\r\n",
            b"SIP/2.0 \xe2\x82\xac00 OK\r\n\r\n",
        ] {
            assert!(parse_message(input).is_err(), "{input:?}");
        }
    }
}
