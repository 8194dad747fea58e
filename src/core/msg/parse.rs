use thiserror::Error;

use super::header::Headers;
use super::message::Message;

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
pub fn parse_message(buf: &[u8]) -> Result<Message, ParseError> {
    todo!("{buf:?}")
}
