//! `sipwitch dns publish` against a real primary: a private Knot DNS server on loopback that
//! accepts RFC 2136 updates signed with a TSIG key, checked with dig. Skipped (with a note)
//! when knotd or dig is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const SECRET: &str = "c2lwd2l0Y2gtdGVzdC1zZWNyZXQtMzItYnl0ZXMhIQ==";
const WRONG_SECRET: &str = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2FtZS1rZXkhIQ==";

fn have(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

/// A port free on 127.0.0.1 for both UDP and TCP (knotd listens on both).
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// knotd serving pub.test (SOA/NS only), updatable with the key `sipwitch-key.`; killed by pid
/// on drop.
struct Knot {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Knot {
    fn start() -> Knot {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["zones", "db", "run"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let port = free_port();
        std::fs::write(
            d.join("knot.conf"),
            format!(
                r#"server:
    rundir: "{run}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{db}"
log:
  - target: stderr
    any: info
key:
  - id: sipwitch-key.
    algorithm: hmac-sha256
    secret: {SECRET}
acl:
  - id: update
    key: sipwitch-key.
    action: update
template:
  - id: default
    storage: "{zones}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
  - domain: pub.test
    acl: update
"#,
                run = d.join("run").display(),
                db = d.join("db").display(),
                zones = d.join("zones").display(),
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("zones/pub.test.zone"),
            "$ORIGIN pub.test.\n$TTL 60\n\
             @   SOA ns1.pub.test. hostmaster.pub.test. 1 3600 600 86400 60\n\
             @   NS  ns1.pub.test.\n\
             ns1 A   127.0.0.1\n",
        )
        .unwrap();
        let log = std::fs::File::create(d.join("knotd.log")).unwrap();
        let child = Command::new("knotd")
            .arg("-c")
            .arg(d.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let knot = Knot {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !knot
            .dig(&["+noall", "+comments", "pub.test", "SOA"])
            .contains("NOERROR")
        {
            assert!(
                Instant::now() < deadline,
                "knotd did not serve pub.test: {}",
                std::fs::read_to_string(knot._dir.path().join("knotd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        knot
    }

    fn dig(&self, args: &[&str]) -> String {
        let out = Command::new("dig")
            .arg("@127.0.0.1")
            .args([
                "-p",
                &self.port.to_string(),
                "+time=2",
                "+tries=1",
                "+norecurse",
            ])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The +short answer lines, sorted.
    fn short(&self, name: &str, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .dig(&["+short", name, rtype])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private config/state tree with the file secret store and no session bus.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new(dns_port: u16) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let sb = Sandbox { dir };
        std::fs::create_dir_all(sb.path("config/sipwitch")).unwrap();
        std::fs::create_dir_all(sb.path("run")).unwrap();
        std::fs::write(
            sb.path("config/sipwitch/config.toml"),
            format!(
                "[server]\ndomains = [\"pub.test\"]\n\
                 listen = [\"udp:127.0.0.1:5062\", \"tcp:127.0.0.1:5064\"]\n\
                 [secrets]\nstore = \"file\"\n\
                 [dns.publish]\nserver = \"127.0.0.1:{dns_port}\"\nkey_name = \"sipwitch-key.\"\n"
            ),
        )
        .unwrap();
        sb
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sipwitch"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .env("USER", "tester")
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("SIPWITCH_STATE_DIR", self.path("state"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        // Bounded: every step of a publish has its own 5 s timeout.
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sipwitch {args:?} did not finish");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn publish_adds_then_replaces_and_a_wrong_key_is_refused() {
    if !have("knotd") || !have("dig") {
        eprintln!("skipped: knotd and dig are needed");
        return;
    }
    let knot = Knot::start();
    let sb = Sandbox::new(knot.port);

    // The secret goes through stdin into the 0600 file store, never argv.
    let out = sb.ok(&["dns", "key", "set"], &format!("{SECRET}\n"));
    assert!(out.contains("sipwitch-key."), "{out}");
    let stored = std::fs::read_to_string(sb.path("state/secrets.toml")).unwrap();
    assert!(stored.contains("tsig:sipwitch-key.") && stored.contains(SECRET));

    let out = sb.ok(&["dns", "publish", "--address", "192.0.2.10"], "");
    eprintln!("{out}");
    assert!(out.contains("sip.pub.test. 3600 IN A 192.0.2.10"), "{out}");
    assert!(
        out.contains("checked:") && out.contains("192.0.2.10:5062"),
        "{out}"
    );
    assert_eq!(
        knot.short("pub.test", "NAPTR"),
        [
            "10 50 \"s\" \"SIP+D2U\" \"\" _sip._udp.pub.test.",
            "20 50 \"s\" \"SIP+D2T\" \"\" _sip._tcp.pub.test."
        ]
    );
    assert_eq!(
        knot.short("_sip._udp.pub.test", "SRV"),
        ["10 10 5062 sip.pub.test."]
    );
    assert_eq!(
        knot.short("_sip._tcp.pub.test", "SRV"),
        ["10 10 5064 sip.pub.test."]
    );
    assert_eq!(knot.short("sip.pub.test", "A"), ["192.0.2.10"]);

    // A new address replaces the old one rather than joining it; the AAAA comes and goes.
    sb.ok(
        &[
            "dns",
            "publish",
            "--address",
            "192.0.2.20",
            "--address",
            "2001:db8::20",
        ],
        "",
    );
    assert_eq!(knot.short("sip.pub.test", "A"), ["192.0.2.20"]);
    assert_eq!(knot.short("sip.pub.test", "AAAA"), ["2001:db8::20"]);
    assert_eq!(knot.short("pub.test", "NAPTR").len(), 2, "not duplicated");
    sb.ok(&["dns", "publish", "--address", "192.0.2.30"], "");
    assert_eq!(knot.short("sip.pub.test", "A"), ["192.0.2.30"]);
    assert!(knot.short("sip.pub.test", "AAAA").is_empty());

    // The wrong secret for the right key name: refused, nothing changes.
    sb.ok(&["dns", "key", "set"], &format!("{WRONG_SECRET}\n"));
    let out = sb.run(&["dns", "publish", "--address", "192.0.2.40"], "");
    let err = text(&out.stderr);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused") && err.contains("BADSIG"), "{err}");
    assert_eq!(knot.short("sip.pub.test", "A"), ["192.0.2.30"]);

    // A key the server does not know.
    sb.ok(
        &["dns", "key", "set", "--name", "other-key"],
        &format!("{SECRET}\n"),
    );
    std::fs::write(
        sb.path("config/sipwitch/config.toml"),
        std::fs::read_to_string(sb.path("config/sipwitch/config.toml"))
            .unwrap()
            .replace("sipwitch-key.", "other-key."),
    )
    .unwrap();
    let out = sb.run(&["dns", "publish", "--address", "192.0.2.40"], "");
    let err = text(&out.stderr);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("BADKEY"), "{err}");
    assert_eq!(knot.short("sip.pub.test", "A"), ["192.0.2.30"]);
}

#[test]
fn bad_secrets_and_missing_setup_are_clear_errors() {
    let sb = Sandbox::new(9);
    let out = sb.run(&["dns", "key", "set"], "not base64!\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("base64"),
        "{}",
        text(&out.stderr)
    );
    let out = sb.run(&["dns", "publish", "--address", "192.0.2.1"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("dns key set"),
        "{}",
        text(&out.stderr)
    );
}
