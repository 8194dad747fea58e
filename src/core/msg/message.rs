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
        todo!()
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
        todo!()
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
