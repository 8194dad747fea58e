//! Two daemons on one link find each other over mDNS and connect a call to `bob@<host>.local`.
//! Everything runs inside a network namespace this test creates (mDNS joins multicast groups on
//! every interface it sees, so it must never run in the host's namespace).
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, SipClient, digest_answer, register};
use sipwitch::core::msg::{HeaderName, Message, Method};

const ALICE: common::Phone = ("alice", "100", "alice-secret-1");
const BOB: common::Phone = ("bob", "101", "bob-secret-2");
const MDNS_ON: &str = "[mdns]\nenabled = true\n";

fn invite(from: &SipClient, target: &str, call: &str, cseq: u32, auth: Option<&str>) -> String {
    let a = from.addr;
    let auth = auth
        .map(|v| format!("Proxy-Authorization: {v}\n"))
        .unwrap_or_default();
    format!(
        "INVITE {target} SIP/2.0\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-{call}-{cseq};rport\nMax-Forwards: 70\nFrom: <sip:alice@alice.test>;tag=a1\nTo: <{target}>\nCall-ID: {call}\nCSeq: {cseq} INVITE\nContact: <sip:alice@{a}>\n{auth}Content-Length: 0\n\n"
    )
}

/// The final response to request `cseq` of `call` (earlier answers, such as a 407 this test
/// never ACKs and so sees retransmitted, are skipped).
fn final_for(phone: &SipClient, call: &str, cseq: u32) -> sipwitch::core::msg::Response {
    loop {
        let r = phone.final_response();
        if r.headers.call_id().unwrap() == call && r.headers.cseq().unwrap().seq == cseq {
            return r;
        }
    }
}

#[test]
fn a_call_to_user_at_host_local_is_routed_to_the_peer_found_over_mdns() {
    std::thread::spawn(|| {
        // SAFETY: plain libc calls; unshare changes only this thread's network namespace, which
        // the daemons and sockets created below inherit.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "this test needs root (CI runs as root)"
        );
        assert_eq!(
            unsafe { libc::unshare(libc::CLONE_NEWNET) },
            0,
            "unshare(CLONE_NEWNET) failed"
        );
        assert!(
            Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success()
        );

        // Two "machines": each daemon has a host name of its own (alicehost, bobhost) and is
        // responsible for `<host>.local`, as the embedded defaults make it.
        let machine = |tag: &str, host: &str, domain: &str, phone| {
            let listen = ["udp:127.0.0.1:0".to_owned(), "tcp:127.0.0.1:0".to_owned()];
            let mut d = Daemon::configure(
                common::TempDir::new(tag),
                domain,
                &listen,
                &[phone],
                MDNS_ON,
            );
            let cfg = std::fs::read_to_string(d.config_file()).unwrap();
            let cfg = cfg.replace(
                &format!("domains = [\"{domain}\"]"),
                &format!("domains = [\"{domain}\", \"{host}.local\"]"),
            );
            std::fs::write(d.config_file(), cfg).unwrap();
            d.hostname = Some(host.to_owned());
            d.spawn()
        };
        let a = machine("mdnscall-a", "alicehost", "alice.test", ALICE);
        let b = machine("mdnscall-b", "bobhost", "bob.test", BOB);
        let alice = SipClient::bind("127.0.0.1");
        let bob = SipClient::bind("127.0.0.1");
        assert_eq!(register(&alice, &a, "alice", ALICE.2, 600).status, 200);
        assert_eq!(register(&bob, &b, "bob", BOB.2, 600).status, 200);

        let target = "sip:bob@bobhost.local".to_owned();
        // The announcements take a moment to be seen: until then the call gets 404. Bounded.
        let deadline = Instant::now() + common::WAIT;
        for attempt in 0.. {
            assert!(
                Instant::now() < deadline,
                "bob was never found over mDNS:\n{}",
                a.log()
            );
            let call = format!("mdns{attempt}");
            alice.send(a.udp, &invite(&alice, &target, &call, 1, None));
            let ch = final_for(&alice, &call, 1);
            assert_eq!(ch.status, 407);
            let pa = ch
                .headers
                .get(&HeaderName::ProxyAuthenticate)
                .unwrap()
                .to_owned();
            let cred = digest_answer(&pa, "alice", ALICE.2, "INVITE", &target, 1);
            alice.send(a.udp, &invite(&alice, &target, &call, 2, Some(&cred)));
            match bob.recv_within(Duration::from_secs(1)) {
                Some((Message::Request(inv), _)) if inv.method == Method::Invite => {
                    common::answer(&bob, b.udp, &inv, 200, "b1");
                    let ok = final_for(&alice, &call, 2);
                    assert_eq!(ok.status, 200);
                    assert_eq!(ok.headers.to().unwrap().tag(), Some("b1"));
                    break;
                }
                _ => {
                    let r = final_for(&alice, &call, 2);
                    assert_eq!(r.status, 404, "not found yet, nothing else");
                }
            }
        }
        // `sipwitch peers` (run in this namespace too) lists both users with their identities.
        let out = a.cli(&["peers", "--json", "--wait", "2"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let instances: Vec<&str> = peers
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["instance"].as_str())
            .collect();
        assert!(
            instances.contains(&"alice@alicehost") && instances.contains(&"bob@bobhost"),
            "{peers}"
        );
        let bob_ids = peers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["instance"] == "bob@bobhost")
            .unwrap()["identities"]
            .clone();
        assert!(
            bob_ids
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i == "bob@bobhost.local"),
            "{bob_ids}"
        );
    })
    .join()
    .unwrap();
}
