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
    /// Length of the message at the front of `buf` once its head has been read, so that a body
    /// arriving in many small reads does not get its head re-parsed each time.
    frame_len: Option<usize>,
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
        if let Some(total) = self.frame_len {
            return self.take(total);
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
        self.frame_len = Some(total);
        self.take(total)
    }

    /// The message of `total` bytes at the front of the buffer, once it is all there.
    fn take(&mut self, total: usize) -> Option<Result<Framed, ParseError>> {
        if self.buf.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        self.frame_len = None;
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
        self.frame_len = None;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::{Message, Method, parse_message};

    fn message(body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "MESSAGE sip:b@b.org SIP/2.0\r\nVia: SIP/2.0/TCP a.org;branch=z9hG4bK1\r\nTo: <sip:b@b.org>\r\n\
From: <sip:a@a.org>;tag=1\r\nCall-ID: m1\r\nCSeq: 1 MESSAGE\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        m
    }

    fn next_message(f: &mut StreamFramer) -> Message {
        match f.next_item() {
            Some(Ok(Framed::Message(bytes))) => parse_message(&bytes).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn body(m: &Message) -> &[u8] {
        match m {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut f = StreamFramer::new();
        let data = message(b"hello\r\n\r\nworld");
        for (i, b) in data.iter().enumerate() {
            f.push(&[*b]);
            if i + 1 < data.len() {
                assert!(f.next_item().is_none(), "early at {i}");
            }
        }
        let m = next_message(&mut f);
        assert_eq!(body(&m), b"hello\r\n\r\nworld");
        assert!(f.next_item().is_none());
    }

    #[test]
    fn several_messages_and_keepalives_in_one_read() {
        let mut f = StreamFramer::new();
        let mut data = b"\r\n\r\n".to_vec();
        data.extend(message(b"one"));
        data.extend(b"\r\n");
        data.extend(message(b""));
        data.extend(b"\r\n\r\n");
        data.extend(message(b"\0\xff"));
        f.push(&data);
        assert!(matches!(f.next_item(), Some(Ok(Framed::Ping))));
        assert_eq!(body(&next_message(&mut f)), b"one");
        // A CRLF followed by a message is just skipped.
        assert_eq!(body(&next_message(&mut f)), b"");
        assert!(matches!(f.next_item(), Some(Ok(Framed::Ping))));
        let m = next_message(&mut f);
        assert_eq!(body(&m), b"\0\xff");
        let Message::Request(r) = m else { panic!() };
        assert_eq!(r.method, Method::Message);
        assert!(f.next_item().is_none());
    }

    #[test]
    fn pong_and_partial_ping() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n");
        assert!(matches!(f.next_item(), Some(Ok(Framed::Pong))));
        assert!(f.next_item().is_none());
        f.push(b"\r\n\r");
        assert!(f.next_item().is_none());
        f.push(b"\n");
        assert!(matches!(f.next_item(), Some(Ok(Framed::Ping))));
        assert!(f.next_item().is_none());
    }

    #[test]
    fn lf_only_heads_and_compact_length() {
        let mut f = StreamFramer::new();
        let m = "OPTIONS sip:b@b.org SIP/2.0\nVia: SIP/2.0/TCP a.org\nTo: <sip:b@b.org>\nFrom: <sip:a@a.org>;tag=1\n\
Call-ID: o\nCSeq: 1 OPTIONS\nl : \n 2\n\nokrest";
        f.push(m.as_bytes());
        assert_eq!(body(&next_message(&mut f)), b"ok");
        assert!(f.next_item().is_none());
        assert_eq!(f.buf, b"rest");
    }

    #[test]
    fn missing_content_length_is_fatal() {
        let mut f = StreamFramer::new();
        let m = String::from_utf8(message(b""))
            .unwrap()
            .replace("Content-Length: 0\r\n", "");
        f.push(m.as_bytes());
        let e = f.next_item().unwrap().unwrap_err();
        assert_eq!(e.status, 400);
        f.push(&message(b""));
        assert!(
            f.next_item().is_none(),
            "a broken stream yields nothing more"
        );
    }

    #[test]
    fn bad_content_length_is_fatal() {
        for cl in ["-1", "x", "99999999999999999999999"] {
            let mut f = StreamFramer::new();
            let m = String::from_utf8(message(b""))
                .unwrap()
                .replace("Length: 0", &format!("Length: {cl}"));
            f.push(m.as_bytes());
            assert_eq!(f.next_item().unwrap().unwrap_err().status, 400, "{cl}");
        }
        let mut f = StreamFramer::new();
        let m = String::from_utf8(message(b"ab"))
            .unwrap()
            .replace("\r\n\r\n", "\r\nl: 3\r\n\r\n");
        f.push(m.as_bytes());
        assert_eq!(f.next_item().unwrap().unwrap_err().status, 400);
    }

    #[test]
    fn size_limits_are_fatal_513() {
        let mut f = StreamFramer::new();
        let m = String::from_utf8(message(b""))
            .unwrap()
            .replace("Length: 0", &format!("Length: {}", MAX_MESSAGE_SIZE));
        f.push(m.as_bytes());
        assert_eq!(f.next_item().unwrap().unwrap_err().status, 513);

        let mut f = StreamFramer::new();
        f.push(b"INVITE sip:a@b SIP/2.0\r\nX: ");
        let chunk = vec![b'a'; 4096];
        let mut result = None;
        for _ in 0..20 {
            f.push(&chunk);
            if let Some(r) = f.next_item() {
                result = Some(r);
                break;
            }
        }
        assert_eq!(result.unwrap().unwrap_err().status, 513);
        assert!(f.buf.is_empty());
        f.push(&chunk);
        assert!(f.buf.is_empty(), "a broken stream buffers nothing");
    }

    #[test]
    fn unparsable_but_framed_message_does_not_break_the_stream() {
        let mut f = StreamFramer::new();
        let bad = String::from_utf8(message(b""))
            .unwrap()
            .replace("CSeq: 1 MESSAGE", "CSeq: 1 INVITE");
        f.push(bad.as_bytes());
        f.push(&message(b"ok"));
        // Framed whole; the parse error (a 400 the caller sends) is the caller's business.
        let Some(Ok(Framed::Message(bytes))) = f.next_item() else {
            panic!("not framed")
        };
        let e = parse_message(&bytes).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.headers.is_some());
        assert_eq!(body(&next_message(&mut f)), b"ok");
    }

    #[test]
    fn scanning_is_incremental() {
        // A head trickling in must not be rescanned from the start on every read.
        let mut f = StreamFramer::new();
        f.push(b"INVITE sip:a@b SIP/2.0\r\n");
        assert!(f.next_item().is_none());
        assert_eq!(f.scanned, f.buf.len() - 2);
        f.push(b"\r");
        assert!(f.next_item().is_none());
        f.push(b"\n");
        // Complete head without Content-Length: fatal on a stream.
        assert_eq!(f.next_item().unwrap().unwrap_err().status, 400);

        // Once the head is read, only the body length is awaited.
        let mut f = StreamFramer::new();
        let m = message(b"0123456789");
        f.push(&m[..m.len() - 10]);
        assert!(f.next_item().is_none());
        assert_eq!(f.frame_len, Some(m.len()));
        for b in &m[m.len() - 10..m.len() - 1] {
            f.push(&[*b]);
            assert!(f.next_item().is_none());
        }
        f.push(&m[m.len() - 1..]);
        assert_eq!(body(&next_message(&mut f)), b"0123456789");
        assert_eq!(f.frame_len, None);
    }
}
