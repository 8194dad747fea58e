//! Interop with real third-party SIP software (SIPp, baresip) through the real daemon.
//! The harness scripts live in tests/harness; each test uses its own loopback address so that
//! tests can run side by side. Nothing leaves 127.0.0.0/8 or ::1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Daemon, Phone, TempDir, field, result_fields, run_script, run_script_with};

/// SIPp 3.6 answers only the first challenge and knows only MD5 ("authentication must use MD5"),
/// and baresip 1.0's libre gives up on a 401 that offers any algorithm it does not know
/// ("Register: Function not implemented"), so the daemon under test offers MD5 alone, as users of
/// such phones configure it. The default (SHA-256 first, then MD5) is tested in tests/daemon.rs.
const LEGACY_PHONES: &str = "[auth]\nalgorithms = [\"MD5\"]\n";

fn start(tag: &str, ip: &str, phones: &[Phone], extra_listen: &[&str]) -> Daemon {
    Daemon::start_with(tag, ip, "alice.test", phones, extra_listen, LEGACY_PHONES)
}

fn hostport(addr: std::net::SocketAddr) -> String {
    addr.to_string()
}

#[test]
fn sipp_register_with_digest_right_and_wrong_passwords() {
    let phones = [
        ("alice", "100", "alicepw-Long1"),
        ("bob", "101", "bobpw-Long2"),
        ("carol", "1001", "pw1001-Long3"),
    ];
    let d = start("i-register", "127.0.0.21", &phones, &[]);
    let work = TempDir::new("i-register-work");
    let users: Vec<String> = phones.iter().map(|(n, _, p)| format!("{n}:{p}")).collect();
    let (ok, out) = run_script(
        "sipp-register.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("REGISTRAR", hostport(d.udp)),
            ("DOMAIN", "alice.test".into()),
            ("USERS", users.join(" ")),
            ("UAC_ADDR", "127.0.0.21:5062".into()),
        ],
        work.path(),
    );
    assert!(ok, "sipp-register failed:\n{out}\n{}", d.log());
    let good = result_fields(&out, "RESULT sipp-register good-credentials");
    assert_eq!(field(&good, "successful"), "6", "{out}");
    assert_eq!(field(&good, "challenges"), "6", "{out}");
    assert_eq!(field(&good, "bindings_echoed"), "6", "{out}");
    let bad = result_fields(&out, "RESULT sipp-register wrong-password");
    assert_eq!(field(&bad, "accepted"), "0", "{out}");
    assert_eq!(field(&bad, "responses"), "403x6", "{out}");
}

/// Registers `phone` (a SIPp UAS address, before that UAS starts) as extension bob, from the
/// phone's own address, so that calls for bob reach it.
fn register_bob_at(d: &Daemon, work: &TempDir, phone: &str) {
    let (ok, out) = run_script(
        "sipp-register.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("REGISTRAR", hostport(d.udp)),
            ("DOMAIN", "alice.test".into()),
            ("USERS", "bob:bobpw-Long2".into()),
            ("ROUNDS", "1".into()),
            ("EXPIRES", "600".into()),
            ("BAD_PASSWORD_TEST", "0".into()),
            ("UAC_ADDR", phone.to_owned()),
        ],
        work.path(),
    );
    assert!(ok, "registering {phone} failed:\n{out}\n{}", d.log());
}

/// Registers a SIPp UAS address as extension `bob`, then runs SIPp calls UAC -> daemon -> UAS.
fn sipp_calls(tag: &str, ip: &str, uac_args: &str, extra_listen: &[&str]) {
    let bracket = |ip: &str| {
        if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_owned()
        }
    };
    let d = start(tag, ip, &[("bob", "101", "bobpw-Long2")], extra_listen);
    let work = TempDir::new(&format!("{tag}-work"));
    let uas = format!("{}:5070", bracket(ip));
    register_bob_at(&d, &work, &uas);
    let proxy = if uac_args.contains("t1") {
        d.tcp
    } else {
        d.udp
    };
    let (ok, out) = run_script(
        "sipp-call.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("PROXY", hostport(proxy)),
            ("UAS_ADDR", uas),
            ("UAC_ADDR", format!("{}:5061", bracket(ip))),
            ("RURI", "sip:bob@alice.test".into()),
            // callers from elsewhere: a From at our own domain or address must authenticate
            ("FROM_DOMAIN", "example.net".into()),
            ("CALLS", "10".into()),
            ("RATE", "5".into()),
            ("UAC_SIPP_ARGS", uac_args.into()),
        ],
        work.path(),
    );
    assert!(ok, "sipp calls failed:\n{out}\n{}", d.log());
    let r = result_fields(&out, "RESULT sipp-call");
    assert_eq!(field(&r, "successful"), "10", "{out}");
    assert_eq!(field(&r, "failed"), "0", "{out}");
    assert_eq!(field(&r, "record_route_seen"), "yes", "{out}");
}

#[test]
fn sipp_calls_over_udp() {
    sipp_calls("i-udp", "127.0.0.22", "", &[]);
}

#[test]
fn sipp_calls_from_tcp_to_udp() {
    sipp_calls("i-tcp", "127.0.0.23", "-t t1", &[]);
}

#[test]
fn sipp_calls_over_ipv6() {
    sipp_calls("i-ipv6", "::1", "", &[]);
}

#[test]
fn baresip_phones_register_and_call_with_audio_both_ways() {
    let phones = [
        ("alice", "100", "alicepw-Long1"),
        ("bob", "101", "bobpw-Long2"),
    ];
    let d = start("i-baresip", "127.0.0.25", &phones, &[]);
    let work = TempDir::new("i-baresip-work");
    let (ok, out) = run_script(
        "baresip-call.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("REGISTRAR", hostport(d.udp)),
            ("DOMAIN", "alice.test".into()),
            ("ALICE_USER", "alice".into()),
            ("ALICE_PASS", "alicepw-Long1".into()),
            ("BOB_USER", "bob".into()),
            ("BOB_PASS", "bobpw-Long2".into()),
            ("ALICE_SIP", "127.0.0.25:5080".into()),
            ("BOB_SIP", "127.0.0.25:5082".into()),
            ("ALICE_CTRL", "127.0.0.25:4444".into()),
            ("BOB_CTRL", "127.0.0.25:4445".into()),
            ("ALICE_RTP", "21000-21019".into()),
            ("BOB_RTP", "21100-21119".into()),
        ],
        work.path(),
    );
    assert!(ok, "baresip call failed:\n{out}\n{}", d.log());
    let r = result_fields(&out, "RESULT baresip-call");
    assert_eq!(field(&r, "registered"), "True", "{out}");
    assert_eq!(field(&r, "established"), "True/True", "{out}");
    assert_eq!(field(&r, "failed_checks"), "0", "{out}");
}

/// One extension, two SIPp phones: both ring, the one that answers wins, and the one that
/// keeps ringing is CANCELled by the daemon (its scenario passes only if the CANCEL and the
/// ACK for its 487 arrive).
#[test]
fn sipp_two_phones_ring_the_first_answer_wins_the_other_is_cancelled() {
    let ip = "127.0.0.24";
    let d = start("i-fork", ip, &[("bob", "101", "bobpw-Long2")], &[]);
    let work = TempDir::new("i-fork-work");
    let (answering, ringing) = (format!("{ip}:5070"), format!("{ip}:5072"));
    for phone in [&answering, &ringing] {
        register_bob_at(&d, &work, phone);
    }
    // the phone that only rings
    let ring_dir = work.path().join("ringing");
    std::fs::create_dir_all(&ring_dir).unwrap();
    let ringer = std::process::Command::new("sipp")
        .current_dir(&ring_dir)
        .args(["-sf"])
        .arg(common::harness("sipp/uas-ring.xml"))
        .args([
            "-i", ip, "-p", "5072", "-mp", "16300", "-m", "1", "-nostdin", "-timeout", "60",
        ])
        .args(["-trace_msg", "-trace_err"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ringer = KillOnDrop(ringer);
    // wait until it listens, then call bob once; the other phone (sipp-call.sh's UAS) answers
    let deadline = std::time::Instant::now() + common::WAIT;
    while std::net::UdpSocket::bind(&ringing).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ringing phone never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (ok, out) = run_script(
        "sipp-call.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("PROXY", hostport(d.udp)),
            ("UAS_ADDR", answering),
            ("UAC_ADDR", format!("{ip}:5061")),
            ("RURI", "sip:bob@alice.test".into()),
            // callers from elsewhere: a From at our own domain or address must authenticate
            ("FROM_DOMAIN", "example.net".into()),
            ("CALLS", "1".into()),
            ("RATE", "1".into()),
        ],
        work.path(),
    );
    assert!(ok, "the call failed:\n{out}\n{}", d.log());
    assert_eq!(
        field(&result_fields(&out, "RESULT sipp-call"), "successful"),
        "1",
        "{out}"
    );
    let status = ringer.wait_within(common::WAIT);
    assert_eq!(
        status,
        Some(0),
        "the ringing phone was not CANCELled (and ACKed) as it should be:\n{}",
        d.log()
    );
}

/// Kills a child process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl KillOnDrop {
    /// The exit code if the process ends within `limit`.
    fn wait_within(mut self, limit: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIPVicious against the daemon: svwar (REGISTER, OPTIONS, INVITE; with the domain and with
/// the bare IP) must not learn which extensions exist, and svcrack must not find even a
/// 4-digit password (the brute-force brake refuses a guessing address before the right guess).
#[test]
fn sipvicious_finds_no_extension_and_cracks_no_password() {
    let ip = "127.0.0.26";
    let phones = [
        ("alice", "100", "alicepw-Long1"),
        ("bob", "101", "bobpw-Long2"),
        ("carol", "1001", "1234"),
    ];
    let d = start("i-sipvicious", ip, &phones, &[]);
    let work = TempDir::new("i-sipvicious-work");
    let users: Vec<String> = phones.iter().map(|(n, _, p)| format!("{n}:{p}")).collect();
    let (ok, out) = run_script(
        "sipvicious-scan.sh",
        &[
            ("START_KAMAILIO", "0".into()),
            ("REGISTRAR", hostport(d.udp)),
            ("DOMAIN", "alice.test".into()),
            ("USERS", users.join(" ")),
            ("CRACK_USER", "carol".into()),
            ("STRICT", "1".into()),
        ],
        work.path(),
    );
    assert!(ok, "sipvicious found something:\n{out}\n{}", d.log());
    let svwar: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("RESULT svwar"))
        .collect();
    assert_eq!(svwar.len(), 6, "every svwar run reported: {out}");
    assert!(
        svwar.iter().all(|l| l.contains("real_users_leaked=[]")),
        "{out}"
    );
    let crack = result_fields(&out, "RESULT svcrack");
    assert_eq!(field(&crack, "cracked"), "no", "{out}");
    assert!(
        d.log().contains("too many failed authentications"),
        "the brake engaged"
    );
}

/// Starts a daemon for `domain` on `ip`:5060 (the port the zone's SRV records name), resolving
/// through the Knot server of `dns-zone.sh` on 127.0.0.1:`dns_port`.
fn domain_daemon(tag: &str, ip: &str, domain: &str, phone: Phone, dns_port: u16) -> Daemon {
    let extra =
        format!("{LEGACY_PHONES}[dns]\nserver = \"127.0.0.1:{dns_port}\"\ntimeout_ms = 2000\n");
    Daemon::configure(
        TempDir::new(tag),
        domain,
        &[format!("udp:{ip}:5060"), format!("tcp:{ip}:5060")],
        &[phone],
        &extra,
    )
    .spawn()
}

/// baresip on each side, each registered to its own daemon (alice.test on 127.0.0.2, bob.test on
/// 127.0.0.3), a real authoritative DNS server (Knot, NAPTR/SRV/A for both zones): alice dials
/// bob@bob.test and they hear each other; then bob dials alice@alice.test.
#[test]
fn baresip_calls_across_domains_found_through_knot_dns() {
    let dns_port = 5354;
    let alice = ("alice", "100", "alicepw-Long1");
    let bob = ("bob", "100", "bobpw-Long2");
    let a = domain_daemon("i-knot-a", "127.0.0.2", "alice.test", alice, dns_port);
    let b = domain_daemon("i-knot-b", "127.0.0.3", "bob.test", bob, dns_port);
    let work = TempDir::new("i-knot-work");
    let call = |caller: (Phone, &Daemon, &str, &str),
                callee: (Phone, &Daemon, &str, &str),
                target: &str| {
        let ((cu, _, cp), cd, cdom, cip) = caller;
        let ((bu, _, bp), bd, bdom, bip) = callee;
        run_script_with(
            "dns-zone.sh",
            &[
                "run".to_owned(),
                "bash".to_owned(),
                common::harness("baresip-call.sh").display().to_string(),
            ],
            &[
                ("DNS_PORT", dns_port.to_string()),
                ("ZONES", "alice.test=127.0.0.2 bob.test=127.0.0.3".into()),
                ("START_KAMAILIO", "0".into()),
                ("REGISTRAR", hostport(cd.udp)),
                ("DOMAIN", cdom.into()),
                ("ALICE_USER", cu.into()),
                ("ALICE_PASS", cp.into()),
                ("BOB_USER", bu.into()),
                ("BOB_PASS", bp.into()),
                ("BOB_DOMAIN", bdom.into()),
                ("BOB_REGISTRAR", hostport(bd.udp)),
                ("TARGET", target.into()),
                ("DNS_SERVER", format!("127.0.0.1:{dns_port}")),
                ("ALICE_SIP", format!("{cip}:5080")),
                ("BOB_SIP", format!("{bip}:5082")),
                ("ALICE_CTRL", format!("{cip}:4444")),
                ("BOB_CTRL", format!("{bip}:4445")),
                ("ALICE_RTP", "22000-22019".into()),
                ("BOB_RTP", "22100-22119".into()),
            ],
            work.path(),
        )
    };
    for (caller, callee, target) in [
        (
            (alice, &a, "alice.test", "127.0.0.2"),
            (bob, &b, "bob.test", "127.0.0.3"),
            "sip:bob@bob.test",
        ),
        (
            (bob, &b, "bob.test", "127.0.0.3"),
            (alice, &a, "alice.test", "127.0.0.2"),
            "sip:alice@alice.test",
        ),
    ] {
        let (ok, out) = call(caller, callee, target);
        assert!(
            ok,
            "call to {target} failed:\n{out}\n--- A ---\n{}\n--- B ---\n{}",
            a.log(),
            b.log()
        );
        let r = result_fields(&out, "RESULT baresip-call");
        assert_eq!(field(&r, "established"), "True/True", "{out}");
        assert_eq!(field(&r, "failed_checks"), "0", "{out}");
        assert!(
            out.contains("RESULT dns-zone"),
            "the zone was served and checked: {out}"
        );
    }
    assert!(
        a.log().contains("locating") && b.log().contains("locating"),
        "both daemons looked the other up"
    );
}
