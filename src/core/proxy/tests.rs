//! The whole proxy on a virtual clock with virtual phones: registration, forking, CANCEL,
//! Timer B/C, loops, Max-Forwards, binding expiry and nonce expiry, in microseconds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::*;
use crate::core::auth::NonceKey;
use crate::core::config::InboundPolicy;
use crate::core::locate::{LocateError, Target};
use crate::core::registrar::RegistrarPolicy;
use crate::core::transaction::TimerConfig;

const DOMAIN: &str = "alice.test";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn server() -> SocketAddr {
    addr("10.0.0.1:5060")
}

fn proxy() -> Proxy {
    let locality = Locality {
        domains: vec![DOMAIN.to_owned()],
        listeners: vec![Listener {
            transport: Transport::Udp,
            addr: server(),
        }],
        extensions: vec![
            Extension {
                number: "100".into(),
                name: "alice".into(),
                display_name: None,
                aliases: vec!["alice.smith".into()],
                inbound: InboundPolicy::default(),
            },
            Extension {
                number: "101".into(),
                name: "bob".into(),
                display_name: None,
                aliases: Vec::new(),
                // bob takes calls only from example.net, and never from carol@example.net
                inbound: InboundPolicy {
                    known_only: true,
                    allow: vec!["*.example.net".into()],
                    block: vec!["carol@example.net".into()],
                },
            },
        ],
    };
    let auth = Authenticator::new(
        DOMAIN.to_owned(),
        NonceKey::new([9; 32]),
        Duration::from_secs(300),
    );
    let registrar = Registrar::new(RegistrarPolicy {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 600,
    });
    let mut p = Proxy::new(
        locality,
        "sipwitch-test".into(),
        Transactions::new(TimerConfig::default()),
        registrar,
        auth,
        [5; 32],
    );
    p.set_secrets(HashMap::from([
        ("alice".to_owned(), "apw".to_owned()),
        ("bob".to_owned(), "bpw".to_owned()),
    ]));
    p
}

fn at(secs: f64) -> Time {
    Time::ZERO + Duration::from_secs_f64(secs)
}

fn deliver(p: &mut Proxy, from: SocketAddr, text: &str, now: Time) {
    let flow = Flow {
        transport: Transport::Udp,
        local: server(),
        remote: from,
    };
    p.handle_datagram(flow, text.replace('\n', "\r\n").as_bytes(), now);
}

fn deliver_msg(p: &mut Proxy, from: SocketAddr, bytes: &[u8], now: Time) {
    let flow = Flow {
        transport: Transport::Udp,
        local: server(),
        remote: from,
    };
    p.handle_datagram(flow, bytes, now);
}

/// Everything the proxy wants sent, parsed.
fn drain(p: &mut Proxy) -> Vec<(SocketAddr, Message)> {
    let mut out = Vec::new();
    while let Some(t) = p.poll_transmit() {
        out.push((t.flow.remote, parse_message(&t.bytes).unwrap()));
    }
    out
}

fn requests_to(out: &[(SocketAddr, Message)], to: SocketAddr) -> Vec<Request> {
    out.iter()
        .filter(|(a, _)| *a == to)
        .filter_map(|(_, m)| match m {
            Message::Request(r) => Some(r.clone()),
            Message::Response(_) => None,
        })
        .collect()
}

fn responses_to(out: &[(SocketAddr, Message)], to: SocketAddr) -> Vec<Response> {
    out.iter()
        .filter(|(a, _)| *a == to)
        .filter_map(|(_, m)| match m {
            Message::Response(r) => Some(r.clone()),
            Message::Request(_) => None,
        })
        .collect()
}

fn digest(challenge: &str, user: &str, pw: &str, method: &str, uri: &str) -> String {
    let get = |k: &str| {
        let i = challenge.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
        challenge[i..].split('"').next().unwrap().to_owned()
    };
    let (realm, nonce) = (get("realm"), get("nonce"));
    let sha = challenge.contains("SHA-256");
    let h = |s: String| -> String {
        if sha {
            Sha256::digest(s)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        } else {
            Md5::digest(s).iter().map(|b| format!("{b:02x}")).collect()
        }
    };
    let ha1 = h(format!("{user}:{realm}:{pw}"));
    let ha2 = h(format!("{method}:{uri}"));
    let resp = h(format!("{ha1}:{nonce}:00000001:cn:auth:{ha2}"));
    let alg = if sha { "SHA-256" } else { "MD5" };
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={alg}, qop=auth, nc=00000001, cnonce=\"cn\""
    )
}

fn register_text(
    phone: SocketAddr,
    user: &str,
    cseq: u32,
    expires: u32,
    auth: Option<&str>,
) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\nVia: SIP/2.0/UDP {phone};branch=z9hG4bKr{cseq}{};rport\nMax-Forwards: 70\nFrom: <sip:{user}@{DOMAIN}>;tag=r\nTo: <sip:{user}@{DOMAIN}>\nCall-ID: reg-{phone}\nCSeq: {cseq} REGISTER\nContact: <sip:{user}@{phone}>\nExpires: {expires}\n{auth}Content-Length: 0\n\n",
        phone.port()
    )
}

fn register(p: &mut Proxy, phone: SocketAddr, user: &str, pw: &str, expires: u32, now: Time) {
    deliver(p, phone, &register_text(phone, user, 1, expires, None), now);
    let out = drain(p);
    let ch = &responses_to(&out, phone)[0];
    assert_eq!(ch.status, 401);
    let www = ch
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let auth = digest(&www, user, pw, "REGISTER", &format!("sip:{DOMAIN}"));
    deliver(
        p,
        phone,
        &register_text(phone, user, 2, expires, Some(&auth)),
        now,
    );
    let out = drain(p);
    assert_eq!(responses_to(&out, phone)[0].status, 200);
    assert_eq!(p.poll_event(), Some(Event::BindingsChanged));
}

fn invite_text(caller: SocketAddr, ruri: &str, branch: &str, extra: &str) -> String {
    format!(
        "INVITE {ruri} SIP/2.0\nVia: SIP/2.0/UDP {caller};branch=z9hG4bK{branch}\nMax-Forwards: 70\nFrom: <sip:carol@example.net>;tag=c1\nTo: <{ruri}>\nCall-ID: call-{branch}\nCSeq: 1 INVITE\nContact: <sip:carol@{caller}>\n{extra}Content-Length: 0\n\n"
    )
}

fn answer(req: &Request, status: u16, tag: &str) -> Vec<u8> {
    let mut r = Response::to_request(req, status);
    if status > 100 {
        let mut to = r.headers.to().unwrap();
        to.params.set("tag", Some(tag));
        r.headers.set(HeaderName::To, to.to_string());
    }
    r.to_bytes()
}

const CALLER: &str = "192.0.2.50:5060";
const DESK: &str = "10.0.0.21:5060";
const LAPTOP: &str = "10.0.0.22:5062";

#[test]
fn forks_to_every_binding_and_the_first_2xx_cancels_the_other() {
    let mut p = proxy();
    let (caller, desk, laptop) = (addr(CALLER), addr(DESK), addr(LAPTOP));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    register(&mut p, laptop, "alice", "apw", 600, at(0.0));

    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "f1", ""),
        at(1.0),
    );
    let out = drain(&mut p);
    assert_eq!(
        responses_to(&out, caller)[0].status,
        100,
        "100 Trying at once"
    );
    let to_desk = requests_to(&out, desk).remove(0);
    let to_laptop = requests_to(&out, laptop).remove(0);
    assert_eq!(to_desk.uri.to_string(), format!("sip:alice@{DESK}"));
    assert_eq!(to_laptop.uri.to_string(), format!("sip:alice@{LAPTOP}"));

    deliver_msg(&mut p, desk, &answer(&to_desk, 180, "d"), at(1.1));
    deliver_msg(&mut p, laptop, &answer(&to_laptop, 180, "l"), at(1.1));
    deliver_msg(&mut p, laptop, &answer(&to_laptop, 200, "l"), at(2.0));
    let out = drain(&mut p);
    let finals: Vec<u16> = responses_to(&out, caller)
        .iter()
        .map(|r| r.status)
        .filter(|s| *s >= 200)
        .collect();
    assert_eq!(finals, vec![200]);
    let cancel = requests_to(&out, desk).remove(0);
    assert_eq!(cancel.method, Method::Cancel);
    assert!(
        requests_to(&out, laptop).is_empty(),
        "the winner is not cancelled"
    );
}

#[test]
fn a_phone_that_never_answers_gives_408_at_timer_b() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 3600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "t1", ""),
        at(0.0),
    );
    drain(&mut p);
    // Retransmissions to the silent phone (timer A), no final answer before 32 s.
    let mut now = 0.0;
    let mut retransmits = 0;
    while now < 31.9 {
        now += 0.1;
        if p.poll_timeout().is_some_and(|t| t <= at(now)) {
            p.handle_timeout(at(now));
        }
        let out = drain(&mut p);
        retransmits += requests_to(&out, desk).len();
        assert!(
            responses_to(&out, caller).iter().all(|r| r.status < 200),
            "no final before timer B"
        );
    }
    assert_eq!(
        retransmits, 6,
        "A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s"
    );
    p.handle_timeout(at(32.1));
    let out = drain(&mut p);
    assert_eq!(responses_to(&out, caller).last().unwrap().status, 408);
}

#[test]
fn caller_cancel_reaches_the_ringing_phone_and_487_goes_back() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    let invite = invite_text(caller, "sip:alice@alice.test", "c1", "");
    deliver(&mut p, caller, &invite, at(0.0));
    let to_desk = requests_to(&drain(&mut p), desk).remove(0);
    deliver_msg(&mut p, desk, &answer(&to_desk, 180, "d"), at(0.2));
    drain(&mut p);
    let cancel = invite
        .replace("INVITE sip:alice@alice.test", "CANCEL sip:alice@alice.test")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    deliver(&mut p, caller, &cancel, at(1.0));
    let out = drain(&mut p);
    assert_eq!(
        responses_to(&out, caller)[0].status,
        200,
        "the CANCEL itself is answered"
    );
    let c = requests_to(&out, desk).remove(0);
    assert_eq!(c.method, Method::Cancel);
    deliver_msg(&mut p, desk, &answer(&to_desk, 487, "d"), at(1.1));
    let out = drain(&mut p);
    assert_eq!(responses_to(&out, caller)[0].status, 487);
    assert_eq!(
        requests_to(&out, desk)[0].method,
        Method::Ack,
        "hop-by-hop ACK for the 487"
    );
}

#[test]
fn timer_c_cancels_a_branch_that_rings_forever() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 3600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "tc", ""),
        at(0.0),
    );
    let to_desk = requests_to(&drain(&mut p), desk).remove(0);
    deliver_msg(&mut p, desk, &answer(&to_desk, 180, "d"), at(0.1));
    drain(&mut p);
    p.handle_timeout(at(180.0));
    assert!(
        requests_to(&drain(&mut p), desk)
            .iter()
            .all(|r| r.method != Method::Cancel)
    );
    p.handle_timeout(at(181.2));
    let out = drain(&mut p);
    assert_eq!(
        requests_to(&out, desk)[0].method,
        Method::Cancel,
        "Timer C fired"
    );
    // the phone ignores even the CANCEL: after 64*T1 the caller hears 408
    p.handle_timeout(at(181.2 + 32.1));
    let out = drain(&mut p);
    assert_eq!(
        responses_to(&out, caller)
            .iter()
            .find(|r| r.status >= 200)
            .map(|r| r.status),
        Some(408)
    );
}

#[test]
fn expired_bindings_are_gone() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 60, at(0.0));
    assert_eq!(p.registrar().poll_timeout(), Some(at(60.0)));
    assert!(p.poll_timeout().is_some_and(|t| t <= at(60.0)));
    p.handle_timeout(at(60.0));
    assert_eq!(p.poll_event(), Some(Event::BindingsChanged));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "e1", ""),
        at(61.0),
    );
    let out = drain(&mut p);
    assert_eq!(responses_to(&out, caller).last().unwrap().status, 480);
}

#[test]
fn a_request_that_comes_back_unchanged_is_a_loop() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "l1", ""),
        at(0.0),
    );
    let mut looped = requests_to(&drain(&mut p), desk).remove(0);
    // the next hop sends it straight back to us, for the same target, with its own Via on top
    looped.uri = Uri::parse("sip:alice@alice.test").unwrap();
    looped.headers.push_front(
        HeaderName::Via,
        format!("SIP/2.0/UDP {DESK};branch=z9hG4bKnext"),
    );
    deliver_msg(&mut p, desk, &looped.to_bytes(), at(0.5));
    let out = drain(&mut p);
    assert_eq!(
        responses_to(&out, desk)
            .iter()
            .find(|r| r.status >= 200)
            .map(|r| r.status),
        Some(482)
    );
}

#[test]
fn max_forwards_is_enforced_and_decremented() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    let zero = invite_text(caller, "sip:alice@alice.test", "m0", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    deliver(&mut p, caller, &zero, at(0.0));
    assert_eq!(
        responses_to(&drain(&mut p), caller).last().unwrap().status,
        483
    );
    let one = invite_text(caller, "sip:alice@alice.test", "m1", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 1");
    deliver(&mut p, caller, &one, at(0.0));
    let fwd = requests_to(&drain(&mut p), desk).remove(0);
    assert_eq!(fwd.headers.max_forwards().unwrap(), Some(0));
}

#[test]
fn unknown_schemes_get_416_and_tel_numbers_reach_the_extension() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "mailto:bob@alice.test", "s1", ""),
        at(0.0),
    );
    assert_eq!(
        responses_to(&drain(&mut p), caller).last().unwrap().status,
        416
    );
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "tel:100", "s2", ""),
        at(0.0),
    );
    assert_eq!(
        requests_to(&drain(&mut p), desk).len(),
        1,
        "tel:100 is alice's number"
    );
}

#[test]
fn an_expired_nonce_is_stale_not_wrong() {
    let mut p = proxy();
    let phone = addr(DESK);
    deliver(
        &mut p,
        phone,
        &register_text(phone, "alice", 1, 600, None),
        at(0.0),
    );
    let ch = responses_to(&drain(&mut p), phone).remove(0);
    let www = ch
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let auth = digest(&www, "alice", "apw", "REGISTER", &format!("sip:{DOMAIN}"));
    deliver(
        &mut p,
        phone,
        &register_text(phone, "alice", 2, 600, Some(&auth)),
        at(301.0),
    );
    let r = responses_to(&drain(&mut p), phone).remove(0);
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .get(&HeaderName::WwwAuthenticate)
            .unwrap()
            .contains("stale=true")
    );
}

#[test]
fn received_and_rport_are_added_for_natted_phones() {
    let mut p = proxy();
    let behind_nat = addr("203.0.113.7:40123");
    // the phone thinks it is 192.168.1.5:5060 and asks for rport
    let text = register_text(behind_nat, "alice", 1, 600, None).replace(
        &format!("Via: SIP/2.0/UDP {behind_nat}"),
        "Via: SIP/2.0/UDP 192.168.1.5:5060",
    );
    deliver(&mut p, behind_nat, &text, at(0.0));
    let r = responses_to(&drain(&mut p), behind_nat).remove(0);
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.received(), Some("203.0.113.7"));
    assert_eq!(via.rport(), Some(Some(40123)));
}

#[test]
fn a_natted_phone_is_reached_through_its_flow_not_its_private_contact() {
    let mut p = proxy();
    let caller = addr(CALLER);
    let public = addr("203.0.113.7:40123");
    // registered from behind a NAT: Contact and Via name the private address
    let private = "192.168.1.5:5060";
    for (cseq, auth) in [(1, None), (2, Some(()))] {
        let mut text = register_text(public, "alice", cseq, 600, None)
            .replace(
                &format!("Via: SIP/2.0/UDP {public}"),
                &format!("Via: SIP/2.0/UDP {private}"),
            )
            .replace(
                &format!("Contact: <sip:alice@{public}>"),
                &format!("Contact: <sip:alice@{private}>"),
            );
        if auth.is_some() {
            let www = p.auth.challenge(at(0.0), false).remove(0);
            let cred = digest(&www, "alice", "apw", "REGISTER", &format!("sip:{DOMAIN}"));
            text = text.replace(
                "Content-Length: 0",
                &format!("Authorization: {cred}\nContent-Length: 0"),
            );
        }
        deliver(&mut p, public, &text, at(0.0));
    }
    let out = drain(&mut p);
    assert_eq!(responses_to(&out, public).last().unwrap().status, 200);
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "nat1", ""),
        at(1.0),
    );
    let out = drain(&mut p);
    let inv = requests_to(&out, public).remove(0);
    assert_eq!(
        inv.uri.to_string(),
        format!("sip:alice@{private}"),
        "the Request-URI is the phone's own contact"
    );
    assert!(
        out.iter().all(|(a, _)| a.to_string() != private),
        "nothing is sent to the private address"
    );
}

#[test]
fn a_finished_call_leaves_no_context_and_late_2xx_still_go_up() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice@alice.test", "late", ""),
        at(0.0),
    );
    let to_desk = requests_to(&drain(&mut p), desk).remove(0);
    let ok = answer(&to_desk, 200, "d");
    deliver_msg(&mut p, desk, &ok, at(0.5));
    assert_eq!(
        responses_to(&drain(&mut p), caller).last().unwrap().status,
        200
    );
    assert!(
        p.contexts.is_empty() && p.branch_owner.is_empty(),
        "nothing kept for a finished call"
    );
    // the phone did not get the ACK yet and retransmits its 200: it still reaches the caller
    deliver_msg(&mut p, desk, &ok, at(1.0));
    let out = drain(&mut p);
    let again = responses_to(&out, caller);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].status, 200);
    assert_eq!(
        again[0].headers.vias().unwrap().len(),
        1,
        "our Via is removed"
    );
}

#[test]
fn a_strict_routers_rewrite_is_undone() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    // A strict router put our Record-Route URI in the Request-URI and the real target last
    // in Route (§16.4): in-dialog, so no credentials are needed.
    let text = invite_text(
        caller,
        &format!("sip:{};lr", server()),
        "sr1",
        &format!("Route: <sip:alice@{DESK}>\n"),
    )
    .replace(
        &format!("To: <sip:{};lr>", server()),
        "To: <sip:alice@alice.test>;tag=t1",
    )
    .replace("INVITE sip:", "BYE sip:")
    .replace("CSeq: 1 INVITE", "CSeq: 2 BYE");
    deliver(&mut p, caller, &text, at(1.0));
    let out = drain(&mut p);
    let bye = requests_to(&out, desk).remove(0);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(
        bye.uri.to_string(),
        format!("sip:alice@{DESK}"),
        "the last Route became the Request-URI"
    );
    assert!(bye.headers.get(&HeaderName::Route).is_none());
}

#[test]
fn a_guessing_address_is_refused_even_with_the_right_password() {
    let mut p = proxy();
    let guesser = addr("198.51.100.9:5060");
    for cseq in 1..=guard::MAX_FAILURES {
        deliver(
            &mut p,
            guesser,
            &register_text(guesser, "alice", cseq * 2 - 1, 600, None),
            at(0.0),
        );
        let ch = responses_to(&drain(&mut p), guesser).remove(0);
        let www = ch
            .headers
            .get(&HeaderName::WwwAuthenticate)
            .unwrap()
            .to_owned();
        let wrong = digest(&www, "alice", "guess", "REGISTER", &format!("sip:{DOMAIN}"));
        deliver(
            &mut p,
            guesser,
            &register_text(guesser, "alice", cseq * 2, 600, Some(&wrong)),
            at(0.0),
        );
        assert_eq!(responses_to(&drain(&mut p), guesser).remove(0).status, 403);
    }
    // locked out: the right password is not even checked
    deliver(
        &mut p,
        guesser,
        &register_text(guesser, "alice", 100, 600, None),
        at(1.0),
    );
    let ch = responses_to(&drain(&mut p), guesser).remove(0);
    let www = ch
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let right = digest(&www, "alice", "apw", "REGISTER", &format!("sip:{DOMAIN}"));
    deliver(
        &mut p,
        guesser,
        &register_text(guesser, "alice", 101, 600, Some(&right)),
        at(1.0),
    );
    assert_eq!(responses_to(&drain(&mut p), guesser).remove(0).status, 403);
    // another address is not affected, and the lockout ends
    register(&mut p, addr(DESK), "alice", "apw", 600, at(1.0));
    deliver(
        &mut p,
        guesser,
        &register_text(guesser, "alice", 102, 600, None),
        at(200.0),
    );
    let ch = responses_to(&drain(&mut p), guesser).remove(0);
    let www = ch
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let right = digest(&www, "alice", "apw", "REGISTER", &format!("sip:{DOMAIN}"));
    deliver(
        &mut p,
        guesser,
        &register_text(guesser, "alice", 103, 600, Some(&right)),
        at(200.0),
    );
    assert_eq!(responses_to(&drain(&mut p), guesser).remove(0).status, 200);
}

/// alice (a local phone) calls `target` with credentials; returns the lookup the proxy asks for.
fn alice_calls(
    p: &mut Proxy,
    phone: SocketAddr,
    target: &str,
    branch: &str,
    now: Time,
) -> (LookupId, SipUri) {
    let text = invite_text(phone, target, branch, "").replace(
        "From: <sip:carol@example.net>",
        "From: <sip:alice@alice.test>",
    );
    deliver(p, phone, &text, now);
    let ch = responses_to(&drain(p), phone)
        .into_iter()
        .find(|r| r.status == 407)
        .expect("challenged");
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_owned();
    let cred = digest(&pa, "alice", "apw", "INVITE", target);
    let text = text
        .replace(
            &format!("branch=z9hG4bK{branch}"),
            &format!("branch=z9hG4bK{branch}2"),
        )
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace(
            "Content-Length: 0",
            &format!("Proxy-Authorization: {cred}\nContent-Length: 0"),
        );
    deliver(p, phone, &text, now);
    drain(p);
    loop {
        match p.poll_event() {
            Some(Event::Locate { id, uri }) => return (id, uri),
            Some(_) => continue,
            None => panic!("no lookup asked for"),
        }
    }
}

fn target(s: &str) -> Target {
    Target {
        transport: crate::core::locate::Transport::Udp,
        addr: addr(s),
    }
}

#[test]
fn a_foreign_domain_is_located_and_the_next_target_tried_on_timeout_and_503() {
    let mut p = proxy();
    let phone = addr(DESK);
    let (id, uri) = alice_calls(&mut p, phone, "sip:bob@bob.test", "loc1", at(0.0));
    assert_eq!(uri.to_string(), "sip:bob@bob.test");
    let (first, second, third) = (
        addr("192.0.2.1:5060"),
        addr("192.0.2.2:5070"),
        addr("192.0.2.3:5080"),
    );
    p.handle_located(
        id,
        Ok(vec![
            target("192.0.2.1:5060"),
            target("192.0.2.2:5070"),
            target("192.0.2.3:5080"),
        ]),
        at(0.1),
    );
    let out = drain(&mut p);
    let inv1 = requests_to(&out, first).remove(0);
    assert_eq!(
        inv1.uri.to_string(),
        "sip:bob@bob.test",
        "the Request-URI stays the dialled one"
    );
    // the first server never answers: after Timer B the second gets the INVITE, new branch
    p.handle_timeout(at(32.2));
    let out = drain(&mut p);
    let inv2 = requests_to(&out, second).remove(0);
    assert_ne!(
        inv2.headers.top_via().unwrap().branch(),
        inv1.headers.top_via().unwrap().branch()
    );
    assert!(
        responses_to(&out, phone).iter().all(|r| r.status < 200),
        "the caller sees no failure yet"
    );
    // the second is overloaded (503): the third gets it at once
    deliver_msg(&mut p, second, &answer(&inv2, 503, "s2"), at(33.0));
    let out = drain(&mut p);
    let inv3 = requests_to(&out, third)
        .into_iter()
        .find(|r| r.method == Method::Invite)
        .unwrap();
    deliver_msg(&mut p, third, &answer(&inv3, 200, "s3"), at(33.5));
    let out = drain(&mut p);
    assert_eq!(responses_to(&out, phone).last().unwrap().status, 200);
}

#[test]
fn an_unknown_domain_gets_404_and_strangers_get_no_lookup() {
    let mut p = proxy();
    let phone = addr(DESK);
    let (id, _) = alice_calls(&mut p, phone, "sip:bob@nowhere.test", "loc2", at(0.0));
    p.handle_located(
        id,
        Err(LocateError::NoSuchDomain {
            name: "nowhere.test".into(),
        }),
        at(0.1),
    );
    assert_eq!(
        responses_to(&drain(&mut p), phone).last().unwrap().status,
        404
    );
    let stranger = addr(CALLER);
    deliver(
        &mut p,
        stranger,
        &invite_text(stranger, "sip:bob@bob.test", "loc3", ""),
        at(1.0),
    );
    assert_eq!(
        responses_to(&drain(&mut p), stranger)
            .last()
            .unwrap()
            .status,
        403
    );
    assert_eq!(p.poll_event(), None, "no lookup on a stranger's behalf");
}

#[test]
fn a_cancel_while_locating_ends_the_call_and_the_late_answer_is_ignored() {
    let mut p = proxy();
    let phone = addr(DESK);
    let (id, _) = alice_calls(&mut p, phone, "sip:bob@bob.test", "loc4", at(0.0));
    let cancel = invite_text(phone, "sip:bob@bob.test", "loc42", "")
        .replace(
            "From: <sip:carol@example.net>",
            "From: <sip:alice@alice.test>",
        )
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 2 CANCEL");
    deliver(&mut p, phone, &cancel, at(0.5));
    let statuses: Vec<u16> = responses_to(&drain(&mut p), phone)
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&487),
        "{statuses:?}"
    );
    p.handle_located(id, Ok(vec![target("192.0.2.1:5060")]), at(1.0));
    assert!(
        requests_to(&drain(&mut p), addr("192.0.2.1:5060")).is_empty(),
        "nothing is sent after the CANCEL"
    );
}

#[test]
fn aliases_reach_the_extension_and_inbound_policies_are_applied() {
    let mut p = proxy();
    let (caller, desk) = (addr(CALLER), addr(DESK));
    register(&mut p, desk, "alice", "apw", 600, at(0.0));
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:alice.smith@alice.test", "al1", ""),
        at(0.0),
    );
    assert_eq!(
        requests_to(&drain(&mut p), desk).len(),
        1,
        "the alias rings alice"
    );

    let bob_phone = addr(LAPTOP);
    register(&mut p, bob_phone, "bob", "bpw", 600, at(0.0));
    // carol@example.net is blocked; dave@sub.example.net is known; eve@elsewhere.org is not
    deliver(
        &mut p,
        caller,
        &invite_text(caller, "sip:bob@alice.test", "pol1", ""),
        at(1.0),
    );
    assert_eq!(
        responses_to(&drain(&mut p), caller).last().unwrap().status,
        403
    );
    let dave = invite_text(caller, "sip:bob@alice.test", "pol2", "")
        .replace("carol@example.net", "dave@sub.example.net");
    deliver(&mut p, caller, &dave, at(1.0));
    assert_eq!(
        requests_to(&drain(&mut p), bob_phone).len(),
        1,
        "a known caller gets through"
    );
    let eve = invite_text(caller, "sip:bob@alice.test", "pol3", "")
        .replace("carol@example.net", "eve@elsewhere.org");
    deliver(&mut p, caller, &eve, at(1.0));
    assert_eq!(
        responses_to(&drain(&mut p), caller).last().unwrap().status,
        403
    );
}
