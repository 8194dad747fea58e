use super::header::{HeaderName, Headers};
use super::method::Method;
use super::status::reason_phrase;
use super::uri::Uri;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    /// Byte-exact body (may be binary).
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    /// Serialises: start line, headers in order (long names), `Content-Length` set to the body's
    /// length (replacing any present), blank line, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        write_message(&start, &self.headers, &self.body)
    }
}

impl Response {
    /// A response to `req` (RFC 3261 §8.2.6): copies Via (all), From, To, Call-ID and CSeq, with
    /// the standard reason phrase. Adding a To tag is the caller's business.
    pub fn to_request(req: &Request, status: u16) -> Response {
        let mut headers = Headers::new();
        for h in req.headers.iter() {
            if h.name.is_copied_into_responses() {
                headers.0.push(h.clone());
            }
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers,
            body: Vec::new(),
        }
    }

    /// Same as [`Request::to_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("SIP/2.0 {:03} {}", self.status, self.reason);
        write_message(&start, &self.headers, &self.body)
    }
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// Start line, headers (Content-Length rewritten in place of the first one, or appended), blank
/// line, body. CR and LF inside a line become spaces: a value a program put in can never start
/// a header line of its own.
fn write_message(start: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let head_len: usize = headers
        .iter()
        .map(|h| h.name.as_str().len() + h.value.len() + 4)
        .sum();
    let mut out = Vec::with_capacity(start.len() + head_len + body.len() + 32);
    push_line(&mut out, start);
    let content_length = format!("{}: {}", HeaderName::ContentLength, body.len());
    let mut length_written = false;
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            if !length_written {
                push_line(&mut out, &content_length);
                length_written = true;
            }
            continue;
        }
        push_line(&mut out, &format!("{}: {}", h.name, h.value));
    }
    if !length_written {
        push_line(&mut out, &content_length);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend(
        line.bytes()
            .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::parse_message;

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
t: Bob <sip:bob@biloxi.example.com>\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
l: 0004\r\n\
m: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Custom: folded\r\n  value\r\n\
\r\n\
v=0\n";

    fn parse(bytes: &[u8]) -> Message {
        parse_message(bytes).unwrap()
    }

    #[test]
    fn request_to_bytes_uses_long_names_and_rewrites_content_length_in_place() {
        let Message::Request(r) = parse(INVITE.as_bytes()) else {
            panic!()
        };
        let out = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(
            out,
            "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 4\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Custom: folded value\r\n\
\r\n\
v=0\n"
        );
    }

    #[test]
    fn content_length_appended_and_duplicates_collapsed() {
        let mut headers = Headers::new();
        headers.push(HeaderName::CallId, "x");
        headers.push(HeaderName::ContentLength, "99");
        headers.push(HeaderName::To, "<sip:a@b>");
        headers.push(HeaderName::ContentLength, "98");
        let r = Response {
            status: 180,
            reason: "Ringing".into(),
            headers,
            body: b"abc".to_vec(),
        };
        assert_eq!(
            r.to_bytes(),
            b"SIP/2.0 180 Ringing\r\nCall-ID: x\r\nContent-Length: 3\r\nTo: <sip:a@b>\r\n\r\nabc"
        );
        let r = Response {
            status: 200,
            reason: String::new(),
            headers: Headers::new(),
            body: vec![],
        };
        assert_eq!(r.to_bytes(), b"SIP/2.0 200 \r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn values_cannot_inject_lines() {
        let mut headers = Headers::new();
        headers.push(HeaderName::Subject, "hi\r\nVia: SIP/2.0/UDP evil");
        let r = Response {
            status: 200,
            reason: "OK\r\nX: y".into(),
            headers,
            body: vec![],
        };
        let out = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(
            out,
            "SIP/2.0 200 OK  X: y\r\nSubject: hi  Via: SIP/2.0/UDP evil\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn response_to_request_copies_the_dialog_headers() {
        let Message::Request(r) = parse(INVITE.as_bytes()) else {
            panic!()
        };
        let resp = Response::to_request(&r, 486);
        assert_eq!(resp.reason, "Busy Here");
        let names: Vec<&str> = resp.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Via", "To", "From", "Call-ID", "CSeq"]);
        let Message::Response(back) = parse(&resp.to_bytes()) else {
            panic!()
        };
        assert_eq!(back.status, 486);
        assert_eq!(back.headers.cseq().unwrap().seq, 314159);
    }

    /// parse → to_bytes → parse gives the same message (Content-Length written canonically).
    #[test]
    fn round_trip() {
        let inputs: Vec<Vec<u8>> = vec![
            INVITE.replace("l: 0004", "l: 4").into_bytes(),
            b"SIP/2.0 100 \r\nVia: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;received=[2001:db8::2];rport=1\r\n\
From: \"A \\\"q\\\"\" <sips:a@[::1]>;tag=1\r\nTo: sip:b@b.org;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
Content-Length: 5\r\n\r\n\0\r\n\r\n"
                .to_vec(),
            b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nTo: <sip:u@example.com>\r\n\
From: <sip:u@example.com>;tag=x\r\nCall-ID: r1\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n\
Authorization: Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:example.com\", response=\"0\"\r\n\
Content-Length: 0\r\n\r\n"
                .to_vec(),
            b"OPTIONS tel:+1-555;phone-context=x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <tel:+1>\r\nFrom: <sip:a@b>;tag=1\r\n\
Call-ID: o\r\nCSeq: 3 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ];
        for input in inputs {
            let first = parse(&input);
            let bytes = first.to_bytes();
            let second = parse(&bytes);
            assert_eq!(first, second, "{}", String::from_utf8_lossy(&bytes));
            assert_eq!(second.to_bytes(), bytes);
        }
    }
}
