use super::header::HeaderName;
use super::parse::{MAX_MESSAGE_SIZE, ParseError, head_end, unfold};
use super::syntax::parse_digits;

/// What a stream transport yields.
#[derive(Debug)]
pub enum Framed {
    /// The exact bytes of one message (Content-Length framed), for [`parse_message`] —
    /// parsing is left to the caller so that a malformed message can still be answered (400)
    /// while the stream stays in sync.
    Message(Vec<u8>),
    /// A CRLFCRLF keep-alive "ping" (RFC 5626 §4.4.1): answer with a single CRLF "pong".
    Ping,
    /// A lone CRLF "pong" (or stray CRLF between messages): ignore.
    Pong,
}

/// Cuts a TCP byte stream into messages using Content-Length, which is mandatory on streams
/// (RFC 3261 §18.3). After an error the stream cannot be resynchronised: close the connection.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// How far the search for the end of the head has got, so that a head arriving in many
    /// small reads is not rescanned from the start each time.
    scanned: usize,
    /// Set after a framing error: the stream is unusable, everything after is dropped.
    broken: bool,
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        if !self.broken {
            self.buf.extend_from_slice(data);
        }
    }
    /// The next complete item, `None` if more bytes are needed. An `Err` is fatal for the stream
    /// (no Content-Length, a head or body over [`super::MAX_MESSAGE_SIZE`], garbage): the stream
    /// cannot be resynchronised, close it.
    pub fn next_item(&mut self) -> Option<Result<Framed, ParseError>> {
        if self.broken {
            return None;
        }
        // Keep-alives (RFC 5626 §4.4.1) and stray line ends between messages.
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Some(Ok(Framed::Ping));
            }
            if self.buf.as_slice() == b"\r\n" {
                self.consume(2);
                return Some(Ok(Framed::Pong));
            }
            if self.buf.as_slice() == b"\r" || self.buf.as_slice() == b"\r\n\r" {
                return None; // could still become a ping
            }
            if self.buf.starts_with(b"\r\n") {
                self.consume(2);
            } else if self.buf.starts_with(b"\n") {
                self.consume(1);
            } else {
                break;
            }
        }
        if self.buf.is_empty() {
            return None;
        }
        let Some(body_start) = head_end(&self.buf, self.scanned) else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Some(Err(self.fail(513, "message head too large")));
            }
            // The terminator may straddle reads: rescan its first two bytes next time.
            self.scanned = self.buf.len().saturating_sub(2);
            return None;
        };
        if body_start > MAX_MESSAGE_SIZE {
            return Some(Err(self.fail(513, "message head too large")));
        }
        let length = match content_length(self.buf.get(..body_start).unwrap_or_default()) {
            Ok(n) => n,
            Err(detail) => return Some(Err(self.fail(400, detail))),
        };
        let total = match body_start.checked_add(length) {
            Some(t) if t <= MAX_MESSAGE_SIZE => t,
            _ => return Some(Err(self.fail(513, "message too large"))),
        };
        if self.buf.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        Some(Ok(Framed::Message(message)))
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
        self.scanned = 0;
    }

    fn fail(&mut self, status: u16, detail: &str) -> ParseError {
        self.broken = true;
        self.buf = Vec::new();
        self.scanned = 0;
        ParseError {
            status,
            detail: detail.to_owned(),
            headers: None,
        }
    }
}

/// The Content-Length of a head, which a stream cannot do without (RFC 3261 §18.3).
fn content_length(head: &[u8]) -> Result<usize, &'static str> {
    let text = String::from_utf8_lossy(head);
    let lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (headers, _) = unfold(lines.skip(1).take_while(|l| !l.is_empty()));
    let mut found = None;
    for h in headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentLength)
    {
        let n = parse_digits::<usize>(&h.value).ok_or("malformed Content-Length")?;
        if found.is_some_and(|f| f != n) {
            return Err("conflicting Content-Length headers");
        }
        found = Some(n);
    }
    found.ok_or("no Content-Length on a stream transport")
}
