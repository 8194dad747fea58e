//! Registrar tests on the virtual clock.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::core::flow::Transport;
use crate::core::msg::{Message, parse_message};

const POLICY: RegistrarPolicy = RegistrarPolicy {
    min_expires: 60,
    max_expires: 3600,
    default_expires: 1800,
};

fn t(secs: u64) -> Time {
    Time::from_duration(Duration::from_secs(secs))
}

fn t_ms(ms: u64) -> Time {
    Time::from_duration(Duration::from_millis(ms))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn udp(port: u16) -> Flow {
    Flow {
        transport: Transport::Udp,
        local: addr("192.0.2.1:5060"),
        remote: SocketAddr::new(addr("192.0.2.10:1").ip(), port),
    }
}

fn tcp(port: u16) -> Flow {
    Flow {
        transport: Transport::Tcp,
        ..udp(port)
    }
}

/// A REGISTER for alice with one Contact header per entry of `contacts`, parsed by the real
/// parser so that the registrar sees exactly what the network would give it.
fn register_req(call_id: &str, cseq: u32, contacts: &[&str], expires: Option<&str>) -> Request {
    let mut s = format!(
        "REGISTER sip:example.org SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{call_id}-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.org>;tag=f1\r\n\
         To: <sip:alice@example.org>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         User-Agent: TestPhone/1.0\r\n"
    );
    for c in contacts {
        s.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(e) = expires {
        s.push_str(&format!("Expires: {e}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    match parse_message(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn ok(outcome: RegisterOutcome) -> (Vec<Binding>, bool) {
    match outcome {
        RegisterOutcome::Ok { bindings, changed } => (bindings, changed),
        other => panic!("expected 200, got {other:?}"),
    }
}

fn uri_of(b: &Binding) -> String {
    b.contact.uri.to_string()
}

fn uris(r: &Registrar, now: Time) -> Vec<String> {
    r.lookup("alice", now).into_iter().map(uri_of).collect()
}

const A: &str = "<sip:alice@192.0.2.10:5060>";
const B: &str = "<sip:alice@192.0.2.11:5060>";

#[test]
fn add_refresh_remove() {
    let mut r = Registrar::new(POLICY);
    let (b, changed) = ok(r.register("alice", &register_req("c1", 1, &[A], None), udp(5060), t(0)));
    assert!(changed);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].expires_at, t(1800), "default expiry");
    assert_eq!(b[0].flow, udp(5060));
    assert_eq!(b[0].call_id, "c1");
    assert_eq!(b[0].cseq, 1);
    assert_eq!(b[0].user_agent.as_deref(), Some("TestPhone/1.0"));
    assert_eq!(r.aors().collect::<Vec<_>>(), ["alice"]);

    // A refresh moves the expiry; nothing routing-visible changed, but the generation did.
    let g = r.generation();
    let (b, changed) = ok(r.register(
        "alice",
        &register_req("c1", 2, &[A], None),
        udp(5060),
        t(900),
    ));
    assert!(!changed);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].expires_at, t(2700));
    assert_eq!(b[0].registered_at, t(900));
    assert!(r.generation() != g);

    // Same contact from another source port (NAT rebinding): same binding, new flow.
    let (b, changed) = ok(r.register(
        "alice",
        &register_req("c1", 3, &[A], None),
        udp(40000),
        t(901),
    ));
    assert!(changed);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow, udp(40000));

    let rm = format!("{A};expires=0");
    let (b, changed) = ok(r.register(
        "alice",
        &register_req("c1", 4, &[&rm], None),
        udp(40000),
        t(902),
    ));
    assert!(changed);
    assert!(b.is_empty());
    assert!(r.lookup("alice", t(902)).is_empty());
    assert_eq!(r.aors().count(), 0);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn equivalent_uri_is_the_same_binding() {
    let mut r = Registrar::new(POLICY);
    ok(r.register(
        "alice",
        &register_req("c1", 1, &["<sip:alice@PC.Example.org>"], None),
        udp(1),
        t(0),
    ));
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c2", 1, &["\"Alice\" <sip:alice@pc.example.org>"], None),
        udp(1),
        t(1),
    ));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].call_id, "c2");
}

#[test]
fn expiry_and_poll_timeout() {
    let mut r = Registrar::new(POLICY);
    ok(r.register(
        "alice",
        &register_req("c1", 1, &[A], Some("120")),
        udp(5060),
        t(10),
    ));
    ok(r.register(
        "bob",
        &register_req("c2", 1, &[B], Some("300")),
        udp(5061),
        t(10),
    ));
    assert_eq!(r.poll_timeout(), Some(t(130)));
    assert!(r.expire(t_ms(129_999)).is_empty());
    assert_eq!(uris(&r, t_ms(129_999)).len(), 1);
    // Gone at its expiry instant, even before `expire` collects it.
    assert!(r.lookup("alice", t(130)).is_empty());
    assert_eq!(r.expire(t(130)), ["alice"]);
    assert_eq!(r.aors().collect::<Vec<_>>(), ["bob"]);
    assert_eq!(r.poll_timeout(), Some(t(310)));
    assert_eq!(r.expire(t(400)), ["bob"]);
    assert_eq!(r.poll_timeout(), None);
    assert!(r.expire(t(500)).is_empty());
}

#[test]
fn expires_header_vs_parameter_and_max_clamp() {
    let mut r = Registrar::new(POLICY);
    let b_param = format!("{B};expires=300");
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 1, &[A, &b_param], Some("600")),
        udp(1),
        t(0),
    ));
    let exp = |u: &str| b.iter().find(|x| uri_of(x).contains(u)).unwrap().expires_at;
    assert_eq!(exp("192.0.2.10"), t(600), "Expires header");
    assert_eq!(
        exp("192.0.2.11"),
        t(300),
        "the parameter overrides the header"
    );

    // Above the maximum: lowered to it, and the 200 says so.
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 2, &[A], Some("100000")),
        udp(1),
        t(0),
    ));
    let a = b.iter().find(|x| uri_of(x).contains("192.0.2.10")).unwrap();
    assert_eq!(a.expires_at, t(3600));
    assert_eq!(
        contact_for_response(a, t(0)),
        "<sip:alice@192.0.2.10:5060>;expires=3600"
    );
    // Overflowing values saturate rather than fail.
    let big = format!("{A};expires=99999999999999");
    let (b, _) = ok(r.register("alice", &register_req("c1", 3, &[&big], None), udp(1), t(0)));
    assert!(b.iter().any(|x| x.expires_at == t(3600)));
}

#[test]
fn interval_too_brief() {
    let mut r = Registrar::new(POLICY);
    assert_eq!(
        r.register(
            "alice",
            &register_req("c1", 1, &[A], Some("30")),
            udp(1),
            t(0)
        ),
        RegisterOutcome::IntervalTooBrief { min_expires: 60 }
    );
    // One short contact fails the whole request.
    let short = format!("{B};expires=59");
    assert_eq!(
        r.register(
            "alice",
            &register_req("c1", 2, &[A, &short], None),
            udp(1),
            t(0)
        ),
        RegisterOutcome::IntervalTooBrief { min_expires: 60 }
    );
    assert_eq!(r.aors().count(), 0);
    // Exactly the minimum is fine, and 0 is a removal, not "too brief".
    ok(r.register(
        "alice",
        &register_req("c1", 3, &[A], Some("60")),
        udp(1),
        t(0),
    ));
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 4, &[A], Some("0")),
        udp(1),
        t(0),
    ));
    assert!(b.is_empty());
}

#[test]
fn star_removes_all() {
    let mut r = Registrar::new(POLICY);
    ok(r.register("alice", &register_req("c1", 1, &[A], None), udp(1), t(0)));
    ok(r.register("alice", &register_req("c2", 7, &[B], None), udp(2), t(1)));
    assert_eq!(uris(&r, t(2)).len(), 2);
    let (b, changed) = ok(r.register(
        "alice",
        &register_req("c3", 1, &["*"], Some("0")),
        udp(3),
        t(2),
    ));
    assert!(changed);
    assert!(b.is_empty());
    assert_eq!(r.aors().count(), 0);
    // Nothing left: still a 200.
    let (_, changed) = ok(r.register(
        "alice",
        &register_req("c3", 2, &["*"], Some("0")),
        udp(3),
        t(3),
    ));
    assert!(!changed);
}

#[test]
fn star_misuse_is_400() {
    let mut r = Registrar::new(POLICY);
    ok(r.register("alice", &register_req("c1", 1, &[A], None), udp(1), t(0)));
    let mut requests = vec![
        register_req("c9", 1, &["*"], None),
        register_req("c9", 1, &["*"], Some("5")),
    ];
    // The parser already refuses `*` mixed with addresses; the registrar must not rely on it
    // (a request may be built in code), so append the extra Contact after parsing.
    let mut star_then_addr = register_req("c9", 1, &["*"], Some("0"));
    star_then_addr.headers.push(HeaderName::Contact, A);
    requests.push(star_then_addr);
    let mut addr_list_with_star = register_req("c9", 1, &[], Some("0"));
    addr_list_with_star
        .headers
        .push(HeaderName::Contact, format!("{A}, *"));
    requests.push(addr_list_with_star);
    for req in requests {
        let out = r.register("alice", &req, udp(1), t(1));
        assert!(
            matches!(out, RegisterOutcome::BadRequest(_)),
            "{req:?}: {out:?}"
        );
    }
    assert_eq!(uris(&r, t(1)).len(), 1, "nothing removed");
}

#[test]
fn star_respects_cseq_order() {
    let mut r = Registrar::new(POLICY);
    ok(r.register("alice", &register_req("c1", 5, &[A], None), udp(1), t(0)));
    assert_eq!(
        r.register(
            "alice",
            &register_req("c1", 5, &["*"], Some("0")),
            udp(1),
            t(1)
        ),
        RegisterOutcome::OutOfOrder
    );
    assert_eq!(uris(&r, t(1)).len(), 1);
    ok(r.register(
        "alice",
        &register_req("c1", 6, &["*"], Some("0")),
        udp(1),
        t(1),
    ));
    assert_eq!(r.aors().count(), 0);
}

#[test]
fn call_id_cseq_ordering() {
    let mut r = Registrar::new(POLICY);
    ok(r.register(
        "alice",
        &register_req("c1", 10, &[A], Some("600")),
        udp(1),
        t(0),
    ));
    for cseq in [9, 10] {
        assert_eq!(
            r.register(
                "alice",
                &register_req("c1", cseq, &[A], Some("900")),
                udp(1),
                t(1)
            ),
            RegisterOutcome::OutOfOrder
        );
    }
    assert_eq!(r.lookup("alice", t(1))[0].expires_at, t(600), "unchanged");
    // Another Call-ID (a rebooted phone) may use any CSeq.
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c2", 1, &[A], Some("900")),
        udp(1),
        t(1),
    ));
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].call_id.as_str(), b[0].cseq), ("c2", 1));
    assert_eq!(b[0].expires_at, t(901));

    // All or nothing: B is new, but A is out of order, so B is not added either.
    assert_eq!(
        r.register("alice", &register_req("c2", 1, &[B, A], None), udp(1), t(2)),
        RegisterOutcome::OutOfOrder
    );
    assert_eq!(uris(&r, t(2)).len(), 1);
}

#[test]
fn same_contact_twice_in_one_request() {
    let mut r = Registrar::new(POLICY);
    let a300 = format!("{A};expires=300");
    let a600 = format!("{A};expires=600");
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 1, &[&a300, &a600], None),
        udp(1),
        t(0),
    ));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].expires_at, t(600), "the later value wins");
}

#[test]
fn query_without_contact() {
    let mut r = Registrar::new(POLICY);
    let (b, changed) = ok(r.register("alice", &register_req("c1", 1, &[], None), udp(1), t(0)));
    assert!(b.is_empty() && !changed);
    ok(r.register(
        "alice",
        &register_req("c1", 2, &[A], Some("600")),
        udp(1),
        t(0),
    ));
    let (b, changed) = ok(r.register("alice", &register_req("c9", 1, &[], None), udp(7), t(10)));
    assert!(!changed);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow, udp(1), "a query does not move the binding");
    assert_eq!(
        contact_for_response(&b[0], t(10)),
        "<sip:alice@192.0.2.10:5060>;expires=590"
    );
}

#[test]
fn bad_contacts_are_400() {
    let mut r = Registrar::new(POLICY);
    for c in [
        "<tel:+15551234>",
        "<sip:alice@192.0.2.10>;q=2",
        "<sip:alice@192.0.2.10>;q=abc",
        "<sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:1>\";reg-id=0",
        "<sip:alice@192.0.2.10>;+sip.instance=\"\"",
    ] {
        let out = r.register("alice", &register_req("c1", 1, &[c], None), udp(1), t(0));
        assert!(
            matches!(out, RegisterOutcome::BadRequest(_)),
            "{c}: {out:?}"
        );
    }
    // RFC 5626 §6: at most one Contact with reg-id.
    let one = "<sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:1>\";reg-id=1";
    let two = "<sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:1>\";reg-id=2";
    let out = r.register(
        "alice",
        &register_req("c1", 1, &[one, two], None),
        udp(1),
        t(0),
    );
    assert!(matches!(out, RegisterOutcome::BadRequest(_)), "{out:?}");
    // Too many contacts in one request.
    let many: Vec<String> = (0..11)
        .map(|i| format!("<sip:alice@192.0.2.{i}>"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let out = r.register("alice", &register_req("c1", 1, &many, None), udp(1), t(0));
    assert!(matches!(out, RegisterOutcome::BadRequest(_)), "{out:?}");
    assert_eq!(r.aors().count(), 0);
}

#[test]
fn malformed_expires_counts_as_3600_then_clamped() {
    let mut r = Registrar::new(RegistrarPolicy {
        max_expires: 7200,
        ..POLICY
    });
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 1, &[A], Some("soon")),
        udp(1),
        t(0),
    ));
    assert_eq!(b[0].expires_at, t(3600));
}

#[test]
fn q_ordering_in_lookup() {
    let mut r = Registrar::new(POLICY);
    let low = "<sip:alice@192.0.2.21>;q=0.1";
    let high = "<sip:alice@192.0.2.22>;q=0.9";
    let unspecified = "<sip:alice@192.0.2.23>";
    let high_newer = "<sip:alice@192.0.2.24>;q=0.9";
    ok(r.register("alice", &register_req("c1", 1, &[low], None), udp(1), t(0)));
    ok(r.register("alice", &register_req("c2", 1, &[high], None), udp(2), t(1)));
    ok(r.register(
        "alice",
        &register_req("c3", 1, &[unspecified], None),
        udp(3),
        t(2),
    ));
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c4", 1, &[high_newer], None),
        udp(4),
        t(3),
    ));
    let want = [
        "sip:alice@192.0.2.23",
        "sip:alice@192.0.2.24",
        "sip:alice@192.0.2.22",
        "sip:alice@192.0.2.21",
    ];
    assert_eq!(uris(&r, t(4)), want);
    assert_eq!(
        b.iter().map(uri_of).collect::<Vec<_>>(),
        want,
        "the 200 lists them in that order"
    );
    assert_eq!(r.lookup("alice", t(4))[3].q, Some(100));
}

#[test]
fn instance_id_replaces_old_binding() {
    let mut r = Registrar::new(POLICY);
    let before = "<sip:alice@192.0.2.10:5060;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c1", 1, &[before], None),
        tcp(40001),
        t(0),
    ));
    assert_eq!(
        b[0].instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
    );
    assert_eq!(b[0].reg_id, Some(1));
    assert_eq!(
        contact_for_response(&b[0], t(0)),
        "<sip:alice@192.0.2.10:5060;transport=tcp>;expires=1800;\
         +sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1"
    );

    // Rebooted: new port, new Call-ID, instance URN in another case.
    let after = "<sip:alice@192.0.2.10:5072;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1";
    let (b, changed) = ok(r.register(
        "alice",
        &register_req("c2", 1, &[after], None),
        tcp(40002),
        t(5),
    ));
    assert!(changed);
    assert_eq!(b.len(), 1);
    assert_eq!(uri_of(&b[0]), "sip:alice@192.0.2.10:5072;transport=tcp");
    assert_eq!(b[0].flow, tcp(40002));

    // A second flow of the same instance (another reg-id) is a second binding.
    let second = "<sip:alice@192.0.2.10:5072;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=2";
    let (b, _) = ok(r.register(
        "alice",
        &register_req("c3", 1, &[second], None),
        tcp(40003),
        t(6),
    ));
    assert_eq!(b.len(), 2);

    // Without reg-id, the instance alone is the key (RFC 5627).
    let mut r = Registrar::new(POLICY);
    let p1 = "<sip:alice@192.0.2.10:5060>;+sip.instance=\"<urn:uuid:b>\"";
    let p2 = "<sip:alice@198.51.100.7:5060>;+sip.instance=\"<urn:uuid:b>\"";
    ok(r.register("alice", &register_req("c1", 1, &[p1], None), udp(1), t(0)));
    let (b, _) = ok(r.register("alice", &register_req("c2", 1, &[p2], None), udp(2), t(1)));
    assert_eq!(b.len(), 1);
    assert_eq!(uri_of(&b[0]), "sip:alice@198.51.100.7:5060");
}

#[test]
fn binding_limit_evicts_the_stalest() {
    let mut r = Registrar::new(POLICY);
    for i in 0..12u64 {
        let c = format!("<sip:alice@192.0.2.{}>", 100 + i);
        let (b, changed) = ok(r.register(
            "alice",
            &register_req(&format!("c{i}"), 1, &[&c], None),
            udp(1),
            t(i),
        ));
        assert!(changed);
        assert_eq!(b.len(), (i as usize + 1).min(MAX_BINDINGS_PER_AOR));
    }
    let live = uris(&r, t(12));
    assert_eq!(live.len(), MAX_BINDINGS_PER_AOR);
    assert!(!live.contains(&"sip:alice@192.0.2.100".to_owned()));
    assert!(!live.contains(&"sip:alice@192.0.2.101".to_owned()));
    assert!(live.contains(&"sip:alice@192.0.2.111".to_owned()));
}

#[test]
fn flow_closed_drops_tcp_bindings_only() {
    let mut r = Registrar::new(POLICY);
    ok(r.register(
        "alice",
        &register_req("c1", 1, &[A], None),
        tcp(40001),
        t(0),
    ));
    ok(r.register("alice", &register_req("c2", 1, &[B], None), udp(5060), t(0)));
    ok(r.register("bob", &register_req("c3", 1, &[A], None), tcp(40001), t(0)));
    assert!(
        r.flow_closed(udp(5060)).is_empty(),
        "UDP has no connection to close"
    );
    assert!(r.flow_closed(tcp(40999)).is_empty());
    assert_eq!(r.flow_closed(tcp(40001)), ["alice", "bob"]);
    assert_eq!(uris(&r, t(1)), ["sip:alice@192.0.2.11:5060"]);
    assert_eq!(r.aors().collect::<Vec<_>>(), ["alice"]);
}

#[test]
fn remove_aor_and_policy() {
    let mut r = Registrar::new(POLICY);
    ok(r.register("alice", &register_req("c1", 1, &[A], None), udp(1), t(0)));
    r.remove_aor("alice");
    assert_eq!(r.aors().count(), 0);
    r.set_policy(RegistrarPolicy {
        min_expires: 500,
        max_expires: 100,
        default_expires: 0,
    });
    assert_eq!(
        r.policy(),
        RegistrarPolicy {
            min_expires: 100,
            max_expires: 100,
            default_expires: 100
        }
    );
    let (b, _) = ok(r.register("alice", &register_req("c1", 2, &[A], None), udp(1), t(0)));
    assert_eq!(b[0].expires_at, t(100));
}

#[test]
fn snapshot_restore_round_trip() {
    let mut r = Registrar::new(POLICY);
    let inst =
        "<sip:alice@192.0.2.10:5060;transport=tcp>;+sip.instance=\"<urn:uuid:x>\";reg-id=1;q=0.7";
    ok(r.register(
        "alice",
        &register_req("c1", 42, &[inst], Some("600")),
        tcp(40001),
        t(0),
    ));
    ok(r.register(
        "alice",
        &register_req("c2", 1, &[B], Some("60")),
        udp(5060),
        t(0),
    ));
    ok(r.register(
        "bob",
        &register_req(
            "c3",
            1,
            &["\"Bob\" <sip:bob@[2001:db8::7]:5062>"],
            Some("3600"),
        ),
        udp(5062),
        t(5),
    ));

    let wall0 = 1_700_000_000_000u64;
    let json = serde_json::to_string(&r.snapshot(t(10), wall0)).unwrap();
    let snap: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(snap.version, SNAPSHOT_VERSION);
    assert_eq!(snap.bindings.len(), 3);

    // The daemon restarts 100 s later; its clock starts again near zero.
    let mut r2 = Registrar::new(POLICY);
    let now = t_ms(1_500);
    assert_eq!(
        r2.restore(snap, now, wall0 + 100_000),
        2,
        "the 60 s binding expired meanwhile"
    );

    let alice = r2.lookup("alice", now);
    assert_eq!(alice.len(), 1);
    let a = alice[0];
    // Registered at 0 for 600 s, snapshot at 10, restored 100 s later: 490 s left.
    let left = a.remaining(now).as_secs_f64();
    assert!((left - 490.0).abs() <= 1.0, "{left}");
    assert_eq!(a.flow, tcp(40001));
    assert_eq!((a.call_id.as_str(), a.cseq), ("c1", 42));
    assert_eq!(a.instance.as_deref(), Some("<urn:uuid:x>"));
    assert_eq!(a.reg_id, Some(1));
    assert_eq!(a.q, Some(700));
    assert_eq!(a.contact.params.value("reg-id"), Some("1"));
    assert_eq!(a.user_agent.as_deref(), Some("TestPhone/1.0"));

    let bob = r2.lookup("bob", now);
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].contact.display_name.as_deref(), Some("Bob"));
    let left = bob[0].remaining(now).as_secs_f64();
    assert!((left - 3495.0).abs() <= 1.0, "{left}");
    assert_eq!(r2.poll_timeout(), Some(a.expires_at));

    // Ordering survives: the same Call-ID with an old CSeq is still out of order.
    assert_eq!(
        r2.register(
            "alice",
            &register_req("c1", 42, &[inst], None),
            tcp(40001),
            now
        ),
        RegisterOutcome::OutOfOrder
    );
}

#[test]
fn restore_caps_remaining_time_and_keeps_newer_bindings() {
    let mut r = Registrar::new(POLICY);
    ok(r.register(
        "alice",
        &register_req("c1", 1, &[A], Some("3600")),
        udp(1),
        t(0),
    ));
    let wall = 10_000_000u64;
    let snap = r.snapshot(t(0), wall);

    // The wall clock went back an hour: remaining time would be 2 h, capped to max_expires.
    let mut r2 = Registrar::new(POLICY);
    assert_eq!(r2.restore(snap.clone(), t(0), wall - 3_600_000), 1);
    assert_eq!(r2.lookup("alice", t(0))[0].expires_at, t(3600));

    // A phone registered before restore ran wins over its restored binding.
    let mut r3 = Registrar::new(POLICY);
    ok(r3.register(
        "alice",
        &register_req("c9", 1, &[A], Some("120")),
        udp(9),
        t(0),
    ));
    assert_eq!(r3.restore(snap, t(0), wall), 0);
    assert_eq!(r3.lookup("alice", t(0))[0].flow, udp(9));
}

#[test]
fn corrupt_snapshot_entries_are_skipped() {
    let good = r#"{"aor":"alice","contact":"<sip:alice@192.0.2.10:5060>","expires_unix_ms":2000000,
        "registered_unix_ms":1000000,"call_id":"c1","cseq":3,"transport":"UDP",
        "local":"192.0.2.1:5060","remote":"192.0.2.10:5060"}"#;
    let json = format!(
        r#"{{"version":1,"bindings":[
            {good},
            {{"aor":"alice","contact":"<<not a uri","expires_unix_ms":2000000,"registered_unix_ms":0,
              "call_id":"c2","cseq":1,"transport":"UDP","local":"192.0.2.1:5060","remote":"192.0.2.11:5060"}},
            {{"aor":"alice","contact":"<sip:alice@192.0.2.12>","expires_unix_ms":2000000,"registered_unix_ms":0,
              "call_id":"c3","cseq":"three","transport":"UDP","local":"192.0.2.1:5060","remote":"192.0.2.12:5060"}},
            {{"aor":"alice","contact":"<sip:alice@192.0.2.13>","expires_unix_ms":2000000,"registered_unix_ms":0,
              "call_id":"c4","cseq":1,"transport":"SCTP","local":"192.0.2.1:5060","remote":"192.0.2.13:5060"}},
            {{"aor":"alice","contact":"<mailto:alice@example.org>","expires_unix_ms":2000000,"registered_unix_ms":0,
              "call_id":"c5","cseq":1,"transport":"UDP","local":"192.0.2.1:5060","remote":"192.0.2.14:5060"}},
            {{"aor":"alice","contact":"<sip:alice@192.0.2.15>","expires_unix_ms":2000000,"registered_unix_ms":0,
              "call_id":"c6","cseq":1,"q":5000,"transport":"UDP","local":"192.0.2.1:5060","remote":"192.0.2.15:5060"}},
            {{"aor":"alice","contact":"<sip:alice@192.0.2.16>"}},
            42,
            "garbage"
        ]}}"#
    );
    let snap: Snapshot = serde_json::from_str(&json).unwrap();
    let mut r = Registrar::new(POLICY);
    assert_eq!(r.restore(snap, t(0), 1_500_000), 1);
    let b = r.lookup("alice", t(0));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].cseq, 3);
    assert_eq!(b[0].remaining(t(0)), Duration::from_millis(500_000));

    // An unknown version is ignored as a whole.
    let other = json.replacen(r#""version":1"#, r#""version":99"#, 1);
    let snap: Snapshot = serde_json::from_str(&other).unwrap();
    assert_eq!(Registrar::new(POLICY).restore(snap, t(0), 1_500_000), 0);
    // No bindings at all is fine too.
    let snap: Snapshot = serde_json::from_str(r#"{"version":1}"#).unwrap();
    assert_eq!(Registrar::new(POLICY).restore(snap, t(0), 0), 0);
}
