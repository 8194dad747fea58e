//! `io::dns` against a real DNS server: an in-process hickory-server on 127.0.0.1 serving zone
//! text. Loopback only; the system resolver is never asked (every `Dns` here names its server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sipwitch::core::locate::{DEFAULT_SUPPORTED, LocateError, Target, Targets, Transport};
use sipwitch::core::msg::{SipUri, Uri};
use sipwitch::io::dns::{Dns, DnsServer};

/// The per-attempt timeout the resolvers here use: short, since every server is local.
const TIMEOUT: Duration = Duration::from_millis(300);
/// Whatever happens, a test's locate returns within this.
const OUTER: Duration = Duration::from_secs(30);

#[path = "common/dns.rs"]
mod test_dns;
use test_dns::TestDns;

fn resolver(server: &TestDns) -> Dns {
    Dns::new(DnsServer::At(server.addr), TIMEOUT).unwrap()
}

const SOA: &str = "$TTL 60
@          IN SOA  ns hostmaster 1 3600 600 86400 60
@          IN NS   ns
ns         IN A    127.0.0.1
";

fn zone(records: &str) -> String {
    format!("{SOA}{records}")
}

fn uri(s: &str) -> SipUri {
    Uri::parse(s).unwrap().as_sip().unwrap().clone()
}

fn t(transport: Transport, addr: &str) -> Target {
    Target {
        transport,
        addr: addr.parse().unwrap(),
    }
}

async fn locate(dns: &Dns, u: &str) -> Result<Targets, LocateError> {
    tokio::time::timeout(OUTER, dns.locate(&uri(u), DEFAULT_SUPPORTED, 7))
        .await
        .expect("locate must return in bounded time")
}

/// NAPTR for TLS (unsupported, skipped), UDP and TCP; SRV per transport; host with A + AAAA.
fn alice() -> String {
    zone(
        r#"
@          IN NAPTR 10 50 "s" "SIPS+D2T" "" _sips._tcp.alice.test.
@          IN NAPTR 20 50 "s" "SIP+D2U"  "" _sip._udp.alice.test.
@          IN NAPTR 30 50 "s" "SIP+D2T"  "" _sip._tcp.alice.test.
@          IN A     127.0.0.2
_sip._udp  IN SRV   0 0 5062 host.alice.test.
_sip._tcp  IN SRV   0 0 5064 host.alice.test.
_sips._tcp IN SRV   0 0 5063 host.alice.test.
host       IN A     127.0.0.1
host       IN AAAA  ::1
"#,
    )
}

#[tokio::test]
async fn naptr_srv_address_chain_gives_ordered_targets() {
    let server = TestDns::start(&[("alice.test.", &alice())]).await;
    let targets = locate(&resolver(&server), "sip:bob@alice.test")
        .await
        .unwrap();
    assert_eq!(
        targets.all(),
        [
            t(Transport::Udp, "127.0.0.1:5062"),
            t(Transport::Udp, "[::1]:5062"),
            t(Transport::Tcp, "127.0.0.1:5064"),
            t(Transport::Tcp, "[::1]:5064"),
        ]
    );
    assert_eq!(targets.ttl(), Some(60));
    server.stop().await;
}

#[tokio::test]
async fn naptr_out_of_order_is_sorted_by_order_then_preference() {
    let text = zone(
        r#"
@          IN NAPTR 20 10 "s" "SIP+D2U"  "" _sip._udp.bob.test.
@          IN NAPTR 10 90 "s" "SIP+D2U"  "" _late._udp.bob.test.
@          IN NAPTR 10 10 "s" "SIP+D2T"  "" _sip._tcp.bob.test.
_sip._udp  IN SRV   0 0 5001 h.bob.test.
_late._udp IN SRV   0 0 5002 h.bob.test.
_sip._tcp  IN SRV   0 0 5003 h.bob.test.
h          IN A     127.0.0.1
"#,
    );
    let server = TestDns::start(&[("bob.test.", &text)]).await;
    let targets = locate(&resolver(&server), "sip:bob.test").await.unwrap();
    assert_eq!(
        targets.all(),
        [
            t(Transport::Tcp, "127.0.0.1:5003"),
            t(Transport::Udp, "127.0.0.1:5002"),
            t(Transport::Udp, "127.0.0.1:5001"),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn srv_priorities_give_the_failover_order() {
    // No NAPTR: the locator asks _sip._udp and _sip._tcp itself.
    let text = zone(
        r#"
_sip._udp  IN SRV   20 0 5080 b1.carol.test.
_sip._udp  IN SRV   10 5 5070 a1.carol.test.
_sip._udp  IN SRV   20 0 5081 b2.carol.test.
_sip._udp  IN SRV   10 5 5071 a2.carol.test.
a1         IN A     127.0.0.11
a2         IN A     127.0.0.12
b1         IN A     127.0.0.21
b2         IN A     127.0.0.22
"#,
    );
    let server = TestDns::start(&[("carol.test.", &text)]).await;
    let dns = resolver(&server);
    for seed in 0..4 {
        let targets = tokio::time::timeout(
            OUTER,
            dns.locate(&uri("sip:carol.test"), DEFAULT_SUPPORTED, seed),
        )
        .await
        .unwrap()
        .unwrap();
        let mut all = targets.all().to_vec();
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all.iter().all(|t| t.transport == Transport::Udp));
        // Within a priority the weighted choice may go either way; across them it may not.
        let mut second = all.split_off(2);
        all.sort_by_key(|t| t.addr);
        second.sort_by_key(|t| t.addr);
        assert_eq!(
            all,
            [
                t(Transport::Udp, "127.0.0.11:5070"),
                t(Transport::Udp, "127.0.0.12:5071")
            ]
        );
        assert_eq!(
            second,
            [
                t(Transport::Udp, "127.0.0.21:5080"),
                t(Transport::Udp, "127.0.0.22:5081")
            ]
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let server = TestDns::start(&[("alice.test.", &alice())]).await;
    let dns = resolver(&server);
    let targets = locate(&dns, "sip:bob@alice.test:5099").await.unwrap();
    assert_eq!(targets.all(), [t(Transport::Udp, "127.0.0.2:5099")]);
    // One question: A/AAAA of the name (hickory sends A and AAAA as two DNS queries).
    assert_eq!(server.queries(), 2);
    let targets = locate(&dns, "sip:bob@alice.test:5099;transport=tcp")
        .await
        .unwrap();
    assert_eq!(targets.all(), [t(Transport::Tcp, "127.0.0.2:5099")]);
    server.stop().await;
}

#[tokio::test]
async fn cname_intermediates_are_followed_and_filtered() {
    let text = zone(
        r#"
_sip._udp  IN SRV   0 0 5090 alias.dave.test.
alias      IN CNAME host.dave.test.
host       IN A     127.0.0.1
"#,
    );
    let server = TestDns::start(&[("dave.test.", &text)]).await;
    let targets = locate(&resolver(&server), "sip:dave.test;transport=udp")
        .await
        .unwrap();
    assert_eq!(targets.all(), [t(Transport::Udp, "127.0.0.1:5090")]);
    server.stop().await;
}

#[tokio::test]
async fn nxdomain_is_no_such_domain_404() {
    let server = TestDns::start(&[("alice.test.", &alice())]).await;
    let e = locate(&resolver(&server), "sip:bob@nowhere.alice.test")
        .await
        .unwrap_err();
    assert!(matches!(e, LocateError::NoSuchDomain { .. }), "{e:?}");
    assert_eq!(e.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn silent_server_is_timeout_503() {
    // Bound, never read: every query goes unanswered (and TCP to it is refused).
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = Dns::new(DnsServer::At(silent.local_addr().unwrap()), TIMEOUT).unwrap();
    let e = locate(&dns, "sip:bob@alice.test").await.unwrap_err();
    assert!(matches!(e, LocateError::Timeout { .. }), "{e:?}");
    assert_eq!(e.status(), 503);
    drop(silent);
}

#[tokio::test]
async fn cache_answers_the_second_locate_without_queries() {
    let server = TestDns::start(&[("alice.test.", &alice())]).await;
    let dns = resolver(&server);
    let first = locate(&dns, "sip:bob@alice.test").await.unwrap();
    let asked = server.queries();
    assert!(asked > 0);
    // A clone shares the cache.
    let second = locate(&dns.clone(), "sip:carol@alice.test").await.unwrap();
    assert_eq!(server.queries(), asked);
    assert_eq!(second.all(), first.all());
    // Negative answers are cached too.
    let _ = locate(&dns, "sip:nowhere.alice.test").await.unwrap_err();
    let asked = server.queries();
    let e = locate(&dns, "sip:nowhere.alice.test").await.unwrap_err();
    assert!(matches!(e, LocateError::NoSuchDomain { .. }));
    assert_eq!(server.queries(), asked);
    // With the server gone, the cached answers still locate.
    server.stop().await;
    let third = locate(&dns, "sip:alice.test").await.unwrap();
    assert_eq!(third.all(), first.all());
}

/// `sipwitch dns records` prints records that work: loaded into a real DNS server, they lead
/// RFC 3263 to the daemon's configured address, port and transports.
#[tokio::test]
async fn printed_records_locate_the_daemon() {
    let dir = std::env::temp_dir().join(format!("sipwitch-dnsrecords-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        "[server]\ndomains = [\"erin.test\"]\nlisten = [\"udp:127.0.0.45:5070\", \"tcp:127.0.0.45:5071\"]\n[secrets]\nstore = \"file\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipwitch"))
        .arg("--config")
        .arg(&cfg)
        .args(["dns", "records"])
        .env("SIPWITCH_STATE_DIR", dir.join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let zone = format!("$ORIGIN erin.test.\n{SOA}{printed}");
    let server = TestDns::start(&[("erin.test.", &zone)]).await;
    let targets = locate(&resolver(&server), "sip:erin@erin.test")
        .await
        .unwrap();
    assert_eq!(
        targets.all().to_vec(),
        vec![
            Target {
                transport: Transport::Udp,
                addr: "127.0.0.45:5070".parse().unwrap()
            },
            Target {
                transport: Transport::Tcp,
                addr: "127.0.0.45:5071".parse().unwrap()
            },
        ]
    );
    server.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
