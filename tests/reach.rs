//! Two daemons, `alice.test` and `bob.test`, find each other through a real DNS server (an
//! in-process hickory-server on loopback; RFC 3263 NAPTR -> SRV -> A): alice's phone dials
//! `bob@bob.test`, the call goes daemon to daemon, and the BYE comes back along the route set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/dns.rs"]
mod test_dns;

use std::net::SocketAddr;

use common::{Daemon, SipClient, digest_answer, register};
use sipwitch::core::msg::HeaderName;
use test_dns::TestDns;

const ALICE: common::Phone = ("alice", "100", "alice-secret-1");
const BOB: common::Phone = ("bob", "101", "bob-secret-2");

fn zone(domain: &str, naptr_srv: &str) -> String {
    format!(
        "$ORIGIN {domain}.\n$TTL 60\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n{naptr_srv}"
    )
}

/// NAPTR + SRV + A for a daemon listening on UDP `addr`.
fn sip_records(addr: SocketAddr) -> String {
    format!(
        "@ IN NAPTR 20 50 \"s\" \"SIP+D2U\" \"\" _sip._udp\n_sip._udp IN SRV 10 10 {} sip\nsip IN A {}\n",
        addr.port(),
        addr.ip()
    )
}

/// Starts a daemon for `domain` on `ip`, then restarts it on the same ports with `dns` as its
/// resolver (the zone needs the ports, the daemon needs the zone's server).
fn daemon(tag: &str, ip: &str, domain: &str, phone: common::Phone) -> Daemon {
    let d = Daemon::start(tag, ip, domain, &[phone], &[]);
    d.pin_ports();
    d
}

fn with_dns(mut d: Daemon, dns: SocketAddr) -> Daemon {
    d.kill9();
    let cfg = std::fs::read_to_string(d.config_file()).unwrap();
    let cfg = cfg.replace("server = \"127.0.0.1:9\"", &format!("server = \"{dns}\""));
    std::fs::write(d.config_file(), cfg).unwrap();
    d.spawn()
}

fn invite(from: &SipClient, target: &str, call: &str, cseq: u32, auth: Option<&str>) -> String {
    let a = from.addr;
    let auth = auth
        .map(|v| format!("Proxy-Authorization: {v}\n"))
        .unwrap_or_default();
    format!(
        "INVITE {target} SIP/2.0\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-{call}-{cseq};rport\nMax-Forwards: 70\nFrom: <sip:alice@alice.test>;tag=a1\nTo: <{target}>\nCall-ID: {call}\nCSeq: {cseq} INVITE\nContact: <sip:alice@{a}>\n{auth}Content-Length: 0\n\n"
    )
}

/// alice's INVITE through her daemon, answering the 407; the answer is left to the caller.
fn dial(alice: &SipClient, d: &Daemon, target: &str, call: &str) {
    alice.send(d.udp, &invite(alice, target, call, 1, None));
    let ch = alice.final_response();
    assert_eq!(ch.status, 407);
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_owned();
    let cred = digest_answer(&pa, "alice", ALICE.2, "INVITE", target, 1);
    alice.send(d.udp, &invite(alice, target, call, 2, Some(&cred)));
}

#[test]
fn alice_dials_bob_at_bob_test_through_dns_and_bye_comes_back() {
    let a = daemon("reach-a", "127.0.0.41", "alice.test", ALICE);
    let b = daemon("reach-b", "127.0.0.42", "bob.test", BOB);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dns = rt.block_on(TestDns::start(&[
        ("alice.test.", &zone("alice.test", &sip_records(a.udp))),
        ("bob.test.", &zone("bob.test", &sip_records(b.udp))),
    ]));
    let (a, b) = (with_dns(a, dns.addr), with_dns(b, dns.addr));

    let alice = SipClient::bind("127.0.0.41");
    let bob = SipClient::bind("127.0.0.42");
    assert_eq!(register(&alice, &a, "alice", ALICE.2, 600).status, 200);
    assert_eq!(register(&bob, &b, "bob", BOB.2, 600).status, 200);

    // alice dials bob@bob.test: alice.test's daemon finds bob.test's through DNS
    dial(&alice, &a, "sip:bob@bob.test", "reach1");
    let inv = common::next_request(&bob);
    assert_eq!(
        inv.headers.vias().unwrap().len(),
        3,
        "alice, alice.test, bob.test"
    );
    let rr: Vec<&str> = inv.headers.get_all(&HeaderName::RecordRoute).collect();
    assert_eq!(rr.len(), 2, "both daemons stay in the dialog: {rr:?}");
    assert!(
        dns.queries() >= 2,
        "the daemon asked the DNS server (NAPTR, SRV, A)"
    );
    common::answer(&bob, b.udp, &inv, 200, "b1");
    let ok = alice.final_response();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to().unwrap().tag(), Some("b1"));

    // bob hangs up: the BYE follows the route set, bob.test then alice.test, to alice's phone
    let routes: Vec<String> = rr.iter().map(|s| s.to_string()).collect();
    let bye = format!(
        "BYE sip:alice@{} SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bK-bye1;rport\nMax-Forwards: 70\nRoute: {}\nFrom: <sip:bob@bob.test>;tag=b1\nTo: <sip:alice@alice.test>;tag=a1\nCall-ID: reach1\nCSeq: 1 BYE\nContent-Length: 0\n\n",
        alice.addr,
        bob.addr,
        routes.join(", ")
    );
    bob.send(b.udp, &bye);
    let got = common::next_request(&alice);
    assert_eq!(got.method, sipwitch::core::msg::Method::Bye);
    assert!(
        got.headers.get(&HeaderName::Route).is_none(),
        "each daemon removed its own Route"
    );

    // a name that does not exist (NXDOMAIN from the zone that would hold it): 404
    dial(&alice, &a, "sip:carol@nowhere.bob.test", "reach2");
    assert_eq!(alice.final_response().status, 404);
    rt.block_on(dns.stop());
}

#[test]
fn a_dead_first_target_fails_over_to_the_next() {
    let b = daemon("reach-fo-b", "127.0.0.44", "bob.test", BOB);
    let a = daemon("reach-fo-a", "127.0.0.43", "alice.test", ALICE);
    // NAPTR order 10: TCP to a port where nothing listens (refused at once: 503);
    // order 20: UDP to bob.test's daemon.
    let dead = std::net::TcpListener::bind("127.0.0.44:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let records = format!(
        "@ IN NAPTR 10 50 \"s\" \"SIP+D2T\" \"\" _sip._tcp\n@ IN NAPTR 20 50 \"s\" \"SIP+D2U\" \"\" _sip._udp\n_sip._tcp IN SRV 10 10 {} sip\n_sip._udp IN SRV 10 10 {} sip\nsip IN A 127.0.0.44\n",
        dead.port(),
        b.udp.port()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dns = rt.block_on(TestDns::start(&[(
        "bob.test.",
        &zone("bob.test", &records),
    )]));
    let (a, b) = (with_dns(a, dns.addr), with_dns(b, dns.addr));
    let alice = SipClient::bind("127.0.0.43");
    let bob = SipClient::bind("127.0.0.44");
    assert_eq!(register(&alice, &a, "alice", ALICE.2, 600).status, 200);
    assert_eq!(register(&bob, &b, "bob", BOB.2, 600).status, 200);
    dial(&alice, &a, "sip:bob@bob.test", "fo1");
    let inv = common::next_request(&bob);
    common::answer(&bob, b.udp, &inv, 200, "b2");
    assert_eq!(alice.final_response().status, 200);
    assert!(
        a.log().contains("failing over to the next target"),
        "{}",
        a.log()
    );
    rt.block_on(dns.stop());
}
