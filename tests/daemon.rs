//! The real `sipwitchd` on port 0, driven by scripted SIP clients over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Daemon, SipClient, digest_answer, register, register_text};
use sipwitch::core::msg::{HeaderName, Message, Method, Response};

const ALICE: common::Phone = ("alice", "100", "alice-secret-1");
const BOB: common::Phone = ("bob", "101", "bob-secret-2");

#[test]
fn answers_options_for_itself() {
    let d = Daemon::start("options", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let c = SipClient::bind("127.0.0.1");
    c.send(
        d.udp,
        &format!(
            "OPTIONS sip:alice.test SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bKopt1\nMax-Forwards: 70\nFrom: <sip:probe@example.net>;tag=1\nTo: <sip:alice.test>\nCall-ID: opt1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
            c.addr
        ),
    );
    let r = c.final_response();
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .get(&HeaderName::Allow)
            .unwrap()
            .contains("INVITE")
    );
    assert!(
        r.headers.to().unwrap().tag().is_some(),
        "a final response needs a To tag"
    );
    // RFC 3581: received/rport filled in on the Via we get back
    let via = r.headers.top_via().unwrap();
    assert_eq!(
        via.received(),
        None,
        "sent-by matched the source, no received needed without rport"
    );
}

#[test]
fn register_is_challenged_sha256_first_then_accepted() {
    let d = Daemon::start("register", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let c = SipClient::bind("127.0.0.1");
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "r1", 1, 300, None),
    );
    let challenge = c.final_response();
    assert_eq!(challenge.status, 401);
    let www: Vec<&str> = challenge
        .headers
        .get_all(&HeaderName::WwwAuthenticate)
        .collect();
    assert_eq!(www.len(), 2, "one challenge per algorithm: {www:?}");
    assert!(www[0].contains("algorithm=SHA-256"), "{}", www[0]);
    assert!(www[1].contains("algorithm=MD5"), "{}", www[1]);
    assert!(www.iter().all(|w| w.contains("qop=\"auth\"")));

    // Answer the MD5 challenge this time: old phones must work too.
    let auth = digest_answer(www[1], "alice", ALICE.2, "REGISTER", "sip:alice.test", 1);
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "r1", 2, 300, Some(&auth)),
    );
    let ok = c.final_response();
    assert_eq!(ok.status, 200, "{ok:?}");
    let contacts: Vec<&str> = ok.headers.get_all(&HeaderName::Contact).collect();
    assert_eq!(contacts.len(), 1);
    assert!(contacts[0].contains(&c.addr.to_string()), "{contacts:?}");
    assert!(contacts[0].contains("expires="), "{contacts:?}");
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let d = Daemon::start("badauth", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let c = SipClient::bind("127.0.0.1");
    let mut answers = Vec::new();
    for (i, (user, pw)) in [("alice", "wrong"), ("mallory", "whatever")]
        .iter()
        .enumerate()
    {
        let call = format!("bad{i}");
        c.send(
            d.udp,
            &register_text(&c, user, "alice.test", &call, 1, 300, None),
        );
        let ch = c.final_response();
        assert_eq!(ch.status, 401, "{user} must get the same challenge");
        let www = ch
            .headers
            .get(&HeaderName::WwwAuthenticate)
            .unwrap()
            .to_owned();
        let shape: Vec<String> = www
            .split(',')
            .map(|p| p.split('=').next().unwrap().trim().to_owned())
            .collect();
        let auth = digest_answer(&www, user, pw, "REGISTER", "sip:alice.test", 1);
        c.send(
            d.udp,
            &register_text(&c, user, "alice.test", &call, 2, 300, Some(&auth)),
        );
        answers.push((shape, c.final_response().status));
    }
    assert_eq!(
        answers[0], answers[1],
        "known and unknown users must be indistinguishable"
    );
    assert_eq!(answers[0].1, 403);
}

#[test]
fn nonce_count_replay_is_rejected() {
    let d = Daemon::start("replay", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let c = SipClient::bind("127.0.0.1");
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "rp", 1, 300, None),
    );
    let ch = c.final_response();
    let www = ch
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let auth = digest_answer(&www, "alice", ALICE.2, "REGISTER", "sip:alice.test", 1);
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "rp", 2, 300, Some(&auth)),
    );
    assert_eq!(c.final_response().status, 200);
    // The very same credentials again (a captured request replayed with a new CSeq).
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "rp", 3, 300, Some(&auth)),
    );
    assert_ne!(
        c.final_response().status,
        200,
        "a replayed nonce count must not be accepted"
    );
    // The next nonce count works.
    let auth2 = digest_answer(&www, "alice", ALICE.2, "REGISTER", "sip:alice.test", 2);
    c.send(
        d.udp,
        &register_text(&c, "alice", "alice.test", "rp", 4, 300, Some(&auth2)),
    );
    assert_eq!(c.final_response().status, 200);
}

fn invite_text(
    from_client: &SipClient,
    from: &str,
    to_uri: &str,
    call_id: &str,
    extra: &str,
) -> String {
    let a = from_client.addr;
    let sdp =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\n";
    format!(
        "INVITE {to_uri} SIP/2.0\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-{call_id};rport\nMax-Forwards: 70\nFrom: <{from}>;tag=caller1\nTo: <{to_uri}>\nCall-ID: {call_id}\nCSeq: 1 INVITE\nContact: <sip:caller@{a}>\n{extra}Content-Type: application/sdp\nContent-Length: {}\n\n{sdp}",
        sdp.replace('\n', "\r\n").len()
    )
}

#[test]
fn two_phones_of_one_extension_ring_and_the_loser_is_cancelled() {
    let d = Daemon::start("fork", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let desk = SipClient::bind("127.0.0.1");
    let laptop = SipClient::bind("127.0.0.1");
    assert_eq!(register(&desk, &d, "alice", ALICE.2, 300).status, 200);
    assert_eq!(register(&laptop, &d, "alice", ALICE.2, 300).status, 200);

    // A caller from elsewhere: no credentials needed to reach a local extension.
    let caller = SipClient::bind("127.0.0.1");
    caller.send(
        d.udp,
        &invite_text(
            &caller,
            "sip:carol@example.net",
            "sip:alice@alice.test",
            "fork1",
            "",
        ),
    );
    let at_desk = common::next_request(&desk);
    let at_laptop = common::next_request(&laptop);
    assert_eq!(at_desk.method, Method::Invite);
    assert_eq!(at_laptop.method, Method::Invite);
    for inv in [&at_desk, &at_laptop] {
        assert_eq!(
            inv.headers.vias().unwrap().len(),
            2,
            "our Via on top of the caller's"
        );
        assert!(
            inv.headers
                .get(&HeaderName::RecordRoute)
                .unwrap()
                .contains(";lr")
        );
        assert_eq!(inv.headers.max_forwards().unwrap(), Some(69));
    }
    common::answer(&desk, d.udp, &at_desk, 180, "desk");
    common::answer(&laptop, d.udp, &at_laptop, 180, "laptop");
    common::answer(&laptop, d.udp, &at_laptop, 200, "laptop");

    // The caller gets the laptop's 200; the desk phone gets a CANCEL for its INVITE.
    let ok = loop {
        let r = caller.final_response();
        if r.headers.cseq().unwrap().method == Method::Invite {
            break r;
        }
    };
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to().unwrap().tag(), Some("laptop"));
    assert_eq!(
        ok.headers.vias().unwrap().len(),
        1,
        "our Via removed on the way back"
    );
    let cancel = common::next_request(&desk);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(
        cancel.headers.top_via().unwrap().branch(),
        at_desk.headers.top_via().unwrap().branch(),
        "CANCEL carries the INVITE's branch (RFC 3261 §9.1)"
    );
    common::answer(&desk, d.udp, &cancel, 200, "desk");
    common::answer(&desk, d.udp, &at_desk, 487, "desk");
    // the 487 is acknowledged hop by hop by the daemon
    let ack = common::next_request(&desk);
    assert_eq!(ack.method, Method::Ack);
}

#[test]
fn nobody_registered_gives_480_and_unknown_gives_404() {
    let d = Daemon::start("nobody", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let caller = SipClient::bind("127.0.0.1");
    caller.send(
        d.udp,
        &invite_text(
            &caller,
            "sip:carol@example.net",
            "sip:alice@alice.test",
            "n1",
            "",
        ),
    );
    assert_eq!(caller.final_response().status, 480);
    caller.send(
        d.udp,
        &invite_text(
            &caller,
            "sip:carol@example.net",
            "sip:nobody@alice.test",
            "n2",
            "",
        ),
    );
    assert_eq!(caller.final_response().status, 404);
}

#[test]
fn no_open_relay_for_strangers() {
    let d = Daemon::start("relay", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let stranger = SipClient::bind("127.0.0.1");
    let victim = SipClient::bind("127.0.0.1");
    let target = format!("sip:someone@{}", victim.addr);
    // direct, with a Route through us, and with our domain in To but a foreign Request-URI
    let attempts = [
        invite_text(&stranger, "sip:mallory@example.net", &target, "relay1", ""),
        invite_text(
            &stranger,
            "sip:mallory@example.net",
            &target,
            "relay2",
            &format!("Route: <sip:{};lr>\n", d.udp),
        ),
        invite_text(&stranger, "sip:mallory@example.net", &target, "relay3", "")
            .replace(&format!("To: <{target}>"), "To: <sip:alice@alice.test>"),
        // a local Request-URI with a pre-loaded Route to the third party
        invite_text(
            &stranger,
            "sip:mallory@example.net",
            "sip:alice@alice.test",
            "relay4",
            &format!("Route: <sip:{};lr>\n", victim.addr),
        ),
        // pretending to be inside a dialog (To tag) that never went through us
        invite_text(&stranger, "sip:mallory@example.net", &target, "relay5", "")
            .replace("INVITE sip:", "BYE sip:")
            .replace("CSeq: 1 INVITE", "CSeq: 2 BYE")
            .replace(
                &format!("To: <{target}>"),
                &format!("To: <{target}>;tag=abc"),
            ),
    ];
    for a in attempts {
        stranger.send(d.udp, &a);
        assert_eq!(stranger.final_response().status, 403);
    }
    assert!(
        victim.recv_within(Duration::from_millis(500)).is_none(),
        "nothing reached the third party"
    );
}

#[test]
fn local_caller_must_authenticate_with_407() {
    let d = Daemon::start("auth407", "127.0.0.1", "alice.test", &[ALICE, BOB], &[]);
    let bob = SipClient::bind("127.0.0.1");
    assert_eq!(register(&bob, &d, "bob", BOB.2, 300).status, 200);
    let alice = SipClient::bind("127.0.0.1");
    let inv = invite_text(
        &alice,
        "sip:alice@alice.test",
        "sip:101@alice.test",
        "c407",
        "",
    );
    alice.send(d.udp, &inv);
    let ch = alice.final_response();
    assert_eq!(ch.status, 407);
    alice.send_raw(d.udp, &ack_for(&inv, &ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_owned();
    let auth = digest_answer(&pa, "alice", ALICE.2, "INVITE", "sip:101@alice.test", 1);
    let inv2 = inv
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace("branch=z9hG4bK-c407", "branch=z9hG4bK-c407b")
        .replace(
            "Content-Type:",
            &format!("Proxy-Authorization: {auth}\nContent-Type:"),
        );
    alice.send(d.udp, &inv2);
    // dialled by number: bob's phone rings, and our credentials were not passed on
    let at_bob = common::next_request(&bob);
    assert_eq!(at_bob.method, Method::Invite);
    assert!(
        at_bob
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .is_none()
    );
}

fn ack_for(invite: &str, resp: &Response) -> Vec<u8> {
    let req = match sipwitch::core::msg::parse_message(invite.replace('\n', "\r\n").as_bytes())
        .unwrap()
    {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    };
    sipwitch::core::transaction::build_ack(&req, resp).to_bytes()
}

#[test]
fn registrations_survive_kill_9() {
    let d = Daemon::start("kill9", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let phone = SipClient::bind("127.0.0.1");
    assert_eq!(register(&phone, &d, "alice", ALICE.2, 600).status, 200);
    d.pin_ports();
    let mut d = d;
    d.kill9();
    let d = d.spawn();
    let caller = SipClient::bind("127.0.0.1");
    caller.send(
        d.udp,
        &invite_text(
            &caller,
            "sip:carol@example.net",
            "sip:alice@alice.test",
            "k9",
            "",
        ),
    );
    let inv = common::next_request(&phone);
    assert_eq!(
        inv.method,
        Method::Invite,
        "the binding came back after kill -9"
    );
}

#[test]
fn sighup_reload_adds_a_phone_without_losing_registrations() {
    let d = Daemon::start("reload", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let phone = SipClient::bind("127.0.0.1");
    assert_eq!(register(&phone, &d, "alice", ALICE.2, 600).status, 200);
    let out = d.cli(
        &[
            "phone",
            "add",
            "carol",
            "--number",
            "102",
            "--password-stdin",
        ],
        Some("carol-pw-3"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.signal("HUP");
    d.wait_for_log("configuration reloaded");
    let carol = SipClient::bind("127.0.0.1");
    assert_eq!(
        register(&carol, &d, "carol", "carol-pw-3", 600).status,
        200,
        "the new phone registers"
    );
    let caller = SipClient::bind("127.0.0.1");
    caller.send(
        d.udp,
        &invite_text(
            &caller,
            "sip:x@example.net",
            "sip:alice@alice.test",
            "hup",
            "",
        ),
    );
    assert_eq!(
        common::next_request(&phone).method,
        Method::Invite,
        "alice's binding survived the reload"
    );
}

#[test]
fn tcp_answers_on_the_same_connection_and_pongs_keepalives() {
    use std::io::{Read, Write};
    let d = Daemon::start("tcp", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let mut s = std::net::TcpStream::connect(d.tcp).unwrap();
    s.set_read_timeout(Some(common::WAIT)).unwrap();
    let local = s.local_addr().unwrap();
    // RFC 5626 §4.4.1: a CRLFCRLF ping gets a CRLF pong
    s.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    // a request split over two writes is framed by Content-Length and answered on this connection
    let req = format!(
        "OPTIONS sip:alice.test SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKtcp1\r\nMax-Forwards: 70\r\nFrom: <sip:x@example.net>;tag=1\r\nTo: <sip:alice.test>\r\nCall-ID: tcp1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let (a, b) = req.as_bytes().split_at(40);
    s.write_all(a).unwrap();
    s.flush().unwrap();
    s.write_all(b).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the answer");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    // a malformed but framed request gets its 400 and the stream stays usable
    let bad = req
        .replace("CSeq: 1 OPTIONS", "CSeq: 2 INVITE")
        .replace("tcp1", "tcp2");
    s.write_all(bad.as_bytes()).unwrap();
    let mut buf = Vec::new();
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed after a malformed message");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(
        String::from_utf8_lossy(&buf).starts_with("SIP/2.0 400"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
}

#[test]
fn a_taken_port_is_a_clear_error_naming_the_setting() {
    let first = Daemon::start("port1", "127.0.0.1", "alice.test", &[ALICE], &[]);
    let dir = common::TempDir::new("port2");
    let second = Daemon::configure(
        dir,
        "alice.test",
        &[format!("udp:{}", first.udp)],
        &[ALICE],
        "",
    );
    let out = std::process::Command::new(common::bin("sipwitchd"))
        .arg("--config")
        .arg(second.config_file())
        .env("SIPWITCH_STATE_DIR", second.dir.path().join("state"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.listen") && err.contains(&first.udp.to_string()),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "no listening line for a socket that was not bound"
    );
}

/// `sipwitchd` with no config file at all, in a network namespace of its own (so port 5060
/// is free and nothing leaves the machine): the embedded defaults make a working registrar for
/// `$USER` on UDP and TCP port 5060, IPv4 and IPv6.
#[test]
fn embedded_defaults_run_a_working_system() {
    let dir = common::TempDir::new("defaults");
    let script = format!(
        "ip link set lo up && exec {} ",
        common::bin("sipwitchd").display()
    );
    let mut child = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("SIPWITCH_STATE_DIR", dir.path().join("state"))
        .env("USER", "tester")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) is needed; run as root");
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take(4)
            .collect::<Vec<_>>()
    });
    let deadline = std::time::Instant::now() + common::WAIT;
    while !lines.is_finished() {
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let lines = lines.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "listening on udp 0.0.0.0:5060",
        "listening on tcp 0.0.0.0:5060",
        "listening on udp [::]:5060",
        "listening on tcp [::]:5060",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing {want:?} in {lines:?}\n{stderr}"
        );
    }
    assert!(
        stderr.contains("extensions=1"),
        "one extension for $USER: {stderr}"
    );
    assert!(
        stderr.contains("\"tester\"") || stderr.contains("tester"),
        "{stderr}"
    );
}
