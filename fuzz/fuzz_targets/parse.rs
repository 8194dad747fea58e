//! `cargo +nightly fuzz run parse`: parse_message on arbitrary bytes must never panic, and
//! whatever it accepts must serialise to bytes that parse back to the same message (Content-Length
//! aside, which serialisation rewrites to the body's length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwitch::core::msg::{HeaderName, Message, StreamFramer, parse_message};

fn without_length(m: Message) -> Message {
    match m {
        Message::Request(mut r) => {
            r.headers.remove_all(&HeaderName::ContentLength);
            Message::Request(r)
        }
        Message::Response(mut r) => {
            r.headers.remove_all(&HeaderName::ContentLength);
            Message::Response(r)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(first) = parse_message(data) {
        let bytes = first.to_bytes();
        let second = match parse_message(&bytes) {
            Ok(m) => m,
            Err(e) => panic!("reparse failed: {e}\n{}", String::from_utf8_lossy(&bytes)),
        };
        assert_eq!(without_length(first), without_length(second));
    }
    // The stream framer on the same bytes, cut in two reads, must not panic or loop either.
    let mut framer = StreamFramer::new();
    let (a, b) = data.split_at(data.len() / 2);
    framer.push(a);
    for _ in 0..data.len() + 2 {
        match framer.next_item() {
            None => break,
            Some(Err(_)) => {}
            Some(Ok(_)) => {}
        }
    }
    framer.push(b);
    for _ in 0..data.len() + 2 {
        if framer.next_item().is_none() {
            break;
        }
    }
});
