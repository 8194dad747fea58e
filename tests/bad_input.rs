//! Malformed and hostile input against the real daemon: every message gets the right error or
//! is dropped (and logged), the daemon stays up, and a registered phone is not disturbed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Daemon, SipClient, register};
use sipwitch::core::msg::{Message, Method};

const ALICE: common::Phone = ("alice", "100", "alice-secret-1");

fn head(via: &str, extra: &str) -> String {
    format!(
        "OPTIONS sip:alice@alice.test SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bKbad\r\nMax-Forwards: 70\r\nFrom: <sip:x@example.net>;tag=1\r\nTo: <sip:alice@alice.test>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\n{extra}"
    )
}

/// (name, bytes, expected status or None for "dropped")
fn corpus(via: &str) -> Vec<(&'static str, Vec<u8>, Option<u16>)> {
    let mut v: Vec<(&'static str, Vec<u8>, Option<u16>)> = vec![
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage".to_vec(), None),
        ("empty-ish", b"\r\n\r\n".to_vec(), None),
        ("only start line", b"INVITE sip:alice@alice.test SIP/2.0\r\n\r\n".to_vec(), None),
        ("content-length beyond body", format!("{}Content-Length: 500\r\n\r\nshort", head(via, "")).into_bytes(), Some(400)),
        ("negative content-length", format!("{}Content-Length: -5\r\n\r\n", head(via, "")).into_bytes(), Some(400)),
        (
            "conflicting content-length",
            format!("{}Content-Length: 0\r\nContent-Length: 4\r\n\r\nabcd", head(via, "")).into_bytes(),
            Some(400),
        ),
        ("content-length overflow", format!("{}Content-Length: 99999999999999999999\r\n\r\n", head(via, "")).into_bytes(), Some(400)),
        ("NUL in a header", format!("{}Subject: a\0b\r\nContent-Length: 0\r\n\r\n", head(via, "")).into_bytes(), Some(400)),
        ("CSeq method mismatch", head(via, "Content-Length: 0\r\n\r\n").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE").into_bytes(), Some(400)),
        ("missing Call-ID", head(via, "Content-Length: 0\r\n\r\n").replace("Call-ID: bad1\r\n", "").into_bytes(), Some(400)),
        // without a CSeq no answer could be matched by the sender: dropped and logged
        ("missing CSeq", head(via, "Content-Length: 0\r\n\r\n").replace("CSeq: 1 OPTIONS\r\n", "").into_bytes(), None),
        ("bad Max-Forwards", head(via, "Content-Length: 0\r\n\r\n").replace("Max-Forwards: 70", "Max-Forwards: -1").into_bytes(), Some(400)),
        ("unsupported version", head(via, "Content-Length: 0\r\n\r\n").replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia").into_bytes(), Some(505)),
        ("unterminated quote", head(via, "Content-Length: 0\r\n\r\n").replace("From: <sip:x@example.net>", "From: \"Mallory <sip:x@example.net>").into_bytes(), Some(400)),
        (
            "truncated mid-header",
            head(via, "Content-Length: 0\r\n\r\n").as_bytes()[..20].to_vec(),
            None,
        ),
        (
            "a response for nothing",
            format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bKnothing\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").into_bytes(),
            None,
        ),
        ("invalid UTF-8 in a header", [head(via, "Subject: ").as_bytes(), b"\xff\xfe\r\nContent-Length: 0\r\n\r\n"].concat(), Some(400)),
    ];
    // A request with many Vias and a long header is still fine (not a crash, not a 400).
    let many_vias: String = (0..200)
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bK{i}\r\n",
                i % 250
            )
        })
        .collect();
    v.push((
        "200 Vias",
        head(via, &format!("{many_vias}Content-Length: 0\r\n\r\n"))
            .replace("OPTIONS sip:alice@alice.test", "OPTIONS sip:alice.test")
            .into_bytes(),
        Some(200),
    ));
    v
}

#[test]
fn malformed_messages_get_the_right_answer_and_nothing_breaks() {
    let d = Daemon::start("badinput", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let phone = SipClient::bind("127.0.0.1");
    assert_eq!(register(&phone, &d, "alice", ALICE.2, 600).status, 200);

    let attacker = SipClient::bind("127.0.0.1");
    let via = attacker.addr.to_string();
    for (name, bytes, expected) in corpus(&via) {
        attacker.send_raw(d.udp, &bytes);
        let got = attacker.recv_status_within(match expected {
            Some(_) => common::WAIT,
            None => Duration::from_millis(300),
        });
        assert_eq!(got, expected, "{name}");
    }

    // Over TCP: a message bigger than any we accept closes the connection, nothing else.
    let mut tcp = TcpStream::connect(d.tcp).unwrap();
    tcp.set_read_timeout(Some(common::WAIT)).unwrap();
    let huge = format!(
        "{}X-Pad: {}\r\nContent-Length: 0\r\n\r\n",
        head(&via, ""),
        "a".repeat(100_000)
    );
    let _ = tcp.write_all(huge.as_bytes());
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        n == 0 || answer.starts_with("SIP/2.0 513"),
        "oversized stream message: {answer}"
    );

    // The daemon is alive and the registered phone still gets its calls.
    let caller = SipClient::bind("127.0.0.1");
    caller.send(
        d.udp,
        &format!(
            "INVITE sip:alice@alice.test SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bKafter\nMax-Forwards: 70\nFrom: <sip:c@example.net>;tag=9\nTo: <sip:alice@alice.test>\nCall-ID: after\nCSeq: 1 INVITE\nContact: <sip:c@{}>\nContent-Length: 0\n\n",
            caller.addr, caller.addr
        ),
    );
    let got = loop {
        if let (Message::Request(r), _) = phone.recv() {
            break r;
        }
    };
    assert_eq!(got.method, Method::Invite);
    let log = d.log();
    assert!(
        log.contains("dropped unparsable message"),
        "drops are logged"
    );
    assert!(
        log.contains("rejected malformed request"),
        "rejections are logged"
    );
}
