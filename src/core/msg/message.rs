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
            if matches!(
                h.name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
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
