//! mDNS/DNS-SD between two `Mdns` instances, only ever inside a private network namespace:
//! `ServiceDaemon::new()` joins the mDNS groups on every interface it sees, so in the host
//! namespace it would talk to the real LAN. Needs root (CI runs the suite as root); without it
//! the test fails rather than skips, so a lost privilege cannot hide a broken feature.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Only for unshare(2)/geteuid(2) below.
#![allow(unsafe_code)]

use std::process::Command;
use std::time::Duration;

use sipwitch::core::locate::{Target, Transport};
use sipwitch::io::mdns::{Mdns, Peer};

const WAIT: Duration = Duration::from_secs(10);

/// Moves the calling thread (and what it spawns from now on) into a new, empty network
/// namespace with only `lo` up.
fn private_netns() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "tests/mdns.rs must run as root (for unshare)");
    // SAFETY: unshare(CLONE_NEWNET) only changes this thread's network namespace; it touches
    // no memory of ours. Threads spawned later (mdns-sd's, `ip`) inherit it.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip (iproute2) is needed");
    assert!(up.success(), "ip link set lo up: {up}");
}

fn alice(peers: &[Peer]) -> Vec<&Peer> {
    peers.iter().filter(|p| p.user == "alice").collect()
}

#[test]
fn publish_browse_withdraw_in_a_private_netns() {
    std::thread::spawn(|| {
        private_netns();
        let mut a = Mdns::new().unwrap();
        let b = Mdns::new().unwrap();
        b.browse().unwrap();
        a.publish(
            &[(
                "alice".to_owned(),
                vec!["alice@alice.test".to_owned(), "al@alice.test".to_owned()],
            )],
            Some(5070),
            Some(5071),
            "alicebox.example.org",
        )
        .unwrap();

        assert!(
            b.wait_peers(WAIT, |p| alice(p).len() == 2),
            "alice not found on both transports: {:?}",
            b.peers()
        );
        let peers = b.peers();
        let found = alice(&peers);
        for (p, (transport, port)) in found
            .iter()
            .zip([(Transport::Udp, 5070), (Transport::Tcp, 5071)])
        {
            assert_eq!(p.instance, "alice@alicebox");
            assert_eq!(p.identities, ["alice@alice.test", "al@alice.test"]);
            assert_eq!(p.host, "alicebox.local.");
            assert_eq!((p.transport, p.port), (transport, port));
            assert!(!p.addrs.is_empty(), "{p:?}");
        }
        // Only `lo` is up in the namespace, so the addresses are loopback ones.
        let targets = b.resolve_local("alicebox.local").unwrap();
        assert_eq!(targets.first().map(|t| t.transport), Some(Transport::Udp));
        assert!(targets.contains(&Target {
            transport: Transport::Tcp,
            addr: "127.0.0.1:5071".parse().unwrap(),
        }));
        assert_eq!(b.resolve_local("alice@alicebox"), Some(targets));
        assert_eq!(b.resolve_local("bobbox.local"), None);

        a.withdraw();
        assert!(
            b.wait_peers(WAIT, |p| alice(p).is_empty()),
            "alice still there after withdraw: {:?}",
            b.peers()
        );
        assert_eq!(b.resolve_local("alicebox.local"), None);
    })
    .join()
    .unwrap();
}
