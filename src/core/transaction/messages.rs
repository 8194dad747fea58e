//! Requests the transaction layer derives from an INVITE it sent: CANCEL (RFC 3261 §9.1) and
//! the ACK for a non-2xx final response (§17.1.1.3), plus the `100 Trying` of §8.2.6.1.

use crate::core::msg::{HeaderName, Headers, Method, Request, Response};

/// Max-Forwards of the requests we originate (RFC 3261 §8.1.1.6).
const MAX_FORWARDS: &str = "70";

/// RFC 3261 §9.1: a CANCEL for a client INVITE: same Request-URI, Call-ID, To, From, CSeq number
/// (method CANCEL), the single top Via of the INVITE, and its Route headers; Max-Forwards 70.
/// It must be sent to where the INVITE went (same flow), as a new client transaction.
pub fn build_cancel(invite: &Request) -> Request {
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        headers: derived_headers(invite, Method::Cancel, None),
        body: Vec::new(),
    }
}

/// RFC 3261 §17.1.1.3: the ACK for a non-2xx final response `resp` to `invite`: Request-URI,
/// Call-ID, From, the single top Via and the Route headers of the INVITE, the To of the response
/// (with its tag), CSeq number of the INVITE with method ACK; Max-Forwards 70, no body.
pub fn build_ack(invite: &Request, resp: &Response) -> Request {
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers: derived_headers(invite, Method::Ack, resp.headers.get(&HeaderName::To)),
        body: Vec::new(),
    }
}

/// The headers CANCEL and ACK share; `to` overrides the INVITE's To (the ACK takes the
/// response's, which carries the tag).
fn derived_headers(invite: &Request, method: Method, to: Option<&str>) -> Headers {
    let mut h = Headers::new();
    if let Some(via) = invite.headers.get_all(&HeaderName::Via).next() {
        h.push(HeaderName::Via, via);
    }
    for route in invite
        .headers
        .iter()
        .filter(|r| r.name == HeaderName::Route)
    {
        h.push(HeaderName::Route, route.value.clone());
    }
    h.push(HeaderName::MaxForwards, MAX_FORWARDS);
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        let value = match (&name, to) {
            (HeaderName::To, Some(to)) => Some(to),
            _ => invite.headers.get(&name),
        };
        if let Some(value) = value {
            h.push(name, value);
        }
    }
    // The INVITE is ours, so its CSeq parses; should it not, keep its number token as written
    // rather than invent one.
    let seq = match invite.headers.cseq() {
        Ok(cseq) => cseq.seq.to_string(),
        Err(_) => invite
            .headers
            .get(&HeaderName::CSeq)
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or("0")
            .to_owned(),
    };
    h.push(HeaderName::CSeq, format!("{seq} {method}"));
    h
}

/// The `100 Trying` an INVITE server transaction sends on its own (RFC 3261 §17.2.1), copying
/// the Timestamp header as §8.2.6.1 asks.
pub(crate) fn trying(invite: &Request) -> Response {
    let mut resp = Response::to_request(invite, 100);
    if let Some(ts) = invite.headers.get(&HeaderName::Timestamp) {
        resp.headers.push(HeaderName::Timestamp, ts);
    }
    resp
}
