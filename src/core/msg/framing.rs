use super::message::Message;
use super::parse::ParseError;

/// What a stream transport yields.
#[derive(Debug)]
pub enum Framed {
    Message(Message),
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
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
    /// The next complete item, `None` if more bytes are needed. An `Err` is fatal for the stream
    /// (no Content-Length, a head or body over [`super::MAX_MESSAGE_SIZE`], garbage).
    pub fn next_item(&mut self) -> Option<Result<Framed, ParseError>> {
        todo!()
    }
}
