//! Shared test harness: start the real `sipwitchd` binary on port 0 with a private config,
//! state and secret store, read its `listening on …` lines, and talk SIP to it over loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sipwitch::core::msg::{Message, Response, parse_message};

/// Generous bound for anything the daemon should do "at once" on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// A private directory removed on drop (kept when the test fails, for the logs).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("sipwitch-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("kept {} for inspection", self.0.display());
        }
    }
}

/// One phone line of the test config: (name, number, password).
pub type Phone<'a> = (&'a str, &'a str, &'a str);

pub struct Daemon {
    child: Option<Child>,
    pub dir: TempDir,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// Every `listening on` line, in order: (proto, addr).
    pub listeners: Vec<(String, SocketAddr)>,
    pub domain: String,
    /// A host name of its own (in a UTS namespace of its own, via `unshare -u`), for tests of
    /// several "machines" on one link.
    pub hostname: Option<String>,
}

pub fn bin(name: &str) -> PathBuf {
    match name {
        "sipwitchd" => PathBuf::from(env!("CARGO_BIN_EXE_sipwitchd")),
        "sipwitch" => PathBuf::from(env!("CARGO_BIN_EXE_sipwitch")),
        _ => panic!("unknown binary {name}"),
    }
}

impl Daemon {
    /// Starts a daemon for `domain` listening on UDP and TCP `ip:0` (and any `extra_listen`
    /// entries such as `"udp:[::1]:0"`), with the given phones and the file secret store.
    pub fn start(
        tag: &str,
        ip: &str,
        domain: &str,
        phones: &[Phone],
        extra_listen: &[&str],
    ) -> Daemon {
        Daemon::start_with(tag, ip, domain, phones, extra_listen, "")
    }

    /// [`Daemon::start`] with extra config text appended (whole TOML tables).
    pub fn start_with(
        tag: &str,
        ip: &str,
        domain: &str,
        phones: &[Phone],
        extra_listen: &[&str],
        extra_toml: &str,
    ) -> Daemon {
        let dir = TempDir::new(tag);
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_owned()
        };
        let mut listen = vec![format!("udp:{host}:0"), format!("tcp:{host}:0")];
        listen.extend(extra_listen.iter().map(|s| s.to_string()));
        let d = Daemon::configure(dir, domain, &listen, phones, extra_toml);
        d.spawn()
    }

    /// Writes config.toml and the secrets for `phones` into `dir`.
    pub fn configure(
        dir: TempDir,
        domain: &str,
        listen: &[String],
        phones: &[Phone],
        extra_toml: &str,
    ) -> Daemon {
        let listen_toml: Vec<String> = listen.iter().map(|l| format!("\"{l}\"")).collect();
        // Never the system resolver (it is not on loopback): a DNS server on a loopback port
        // where nothing listens, unless the test brings its own.
        let dns = if extra_toml.contains("[dns]") {
            ""
        } else {
            "[dns]\nserver = \"127.0.0.1:9\"\ntimeout_ms = 500\n"
        };
        // Never mDNS in the host namespace: it would join multicast groups on every interface
        // of the machine (tests/mdns.rs runs it in a private network namespace instead).
        let mdns = if extra_toml.contains("[mdns]") {
            ""
        } else {
            "[mdns]\nenabled = false\n"
        };
        let mut config = format!(
            "[server]\ndomains = [\"{domain}\"]\nlisten = [{}]\n\n[secrets]\nstore = \"file\"\n{dns}{mdns}{extra_toml}\n",
            listen_toml.join(", ")
        );
        for (name, number, _) in phones {
            config.push_str(&format!(
                "\n[[extension]]\nnumber = \"{number}\"\nname = \"{name}\"\n"
            ));
        }
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/config.toml"), config).unwrap();
        let d = Daemon {
            child: None,
            dir,
            udp: "0.0.0.0:0".parse().unwrap(),
            tcp: "0.0.0.0:0".parse().unwrap(),
            listeners: Vec::new(),
            domain: domain.to_owned(),
            hostname: None,
        };
        for (name, _, password) in phones {
            let out = d.cli(
                &["phone", "passwd", name, "--password-stdin"],
                Some(password),
            );
            assert!(
                out.status.success(),
                "phone passwd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        d
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("config/config.toml")
    }

    fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env("XDG_CONFIG_HOME", d.join("xdg-config"))
            .env("XDG_STATE_HOME", d.join("xdg-state"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .env("SIPWITCH_STATE_DIR", d.join("state"))
            .env("HOME", d)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
    }

    /// Runs the CLI against this daemon's config, feeding `stdin`.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut cmd = Command::new(bin("sipwitch"));
        cmd.arg("--config").arg(self.config_file()).args(args);
        self.env(&mut cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
                input.write_all(b"\n").unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    /// Starts (or restarts) the daemon process and waits for its listening lines.
    pub fn spawn(mut self) -> Daemon {
        let mut cmd = match &self.hostname {
            None => Command::new(bin("sipwitchd")),
            Some(name) => {
                let mut c = Command::new("unshare");
                c.args(["-u", "sh", "-c", "hostname \"$0\" && exec \"$@\"", name])
                    .arg(bin("sipwitchd"));
                c
            }
        };
        cmd.arg("--config").arg(self.config_file());
        self.env(&mut cmd);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("sipwitchd.log"))
            .unwrap();
        cmd.env("SIPWITCH_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let expected = std::fs::read_to_string(self.config_file())
            .unwrap()
            .lines()
            .find(|l| l.starts_with("listen"))
            .map(|l| l.matches("\"").count() / 2)
            .unwrap_or(2);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.listeners.clear();
        let deadline = Instant::now() + WAIT;
        while self.listeners.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "sipwitchd did not report its listeners; log:\n{}",
                    self.log()
                )
            });
            if let Some(rest) = line.strip_prefix("listening on ") {
                let (proto, addr) = rest.split_once(' ').unwrap();
                self.listeners
                    .push((proto.to_owned(), addr.parse().unwrap()));
            }
        }
        self.udp = self
            .listeners
            .iter()
            .find(|(p, _)| p == "udp")
            .map(|l| l.1)
            .unwrap_or(self.udp);
        self.tcp = self
            .listeners
            .iter()
            .find(|(p, _)| p == "tcp")
            .map(|l| l.1)
            .unwrap_or(self.tcp);
        self.child = Some(child);
        self
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sipwitchd.log")).unwrap_or_default()
    }

    /// Waits (bounded) until the daemon's log contains `needle`, i.e. until it did something.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the daemon never logged {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// `kill -9`: no chance to save anything on the way out.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Rewrites the config so that the next spawn binds the same ports as now.
    pub fn pin_ports(&self) {
        let text = std::fs::read_to_string(self.config_file()).unwrap();
        let listen: Vec<String> = self
            .listeners
            .iter()
            .map(|(p, a)| format!("\"{p}:{a}\""))
            .collect();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("listen") {
                out.push_str(&format!("listen = [{}]\n", listen.join(", ")));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        std::fs::write(self.config_file(), out).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- sipwitchd log ----\n{}", self.log());
        }
    }
}

/// A scripted SIP phone on a UDP socket.
pub struct SipClient {
    pub sock: UdpSocket,
    pub addr: SocketAddr,
}

impl SipClient {
    pub fn bind(ip: &str) -> SipClient {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        SipClient { sock, addr }
    }

    pub fn send(&self, to: SocketAddr, text: &str) {
        self.sock
            .send_to(text.replace('\n', "\r\n").as_bytes(), to)
            .unwrap();
    }

    pub fn send_raw(&self, to: SocketAddr, bytes: &[u8]) {
        self.sock.send_to(bytes, to).unwrap();
    }

    /// The next SIP message within `within`, or None.
    pub fn recv_within(&self, within: Duration) -> Option<(Message, SocketAddr)> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if let Ok(m) = parse_message(&buf[..n]) {
                        return Some((m, from));
                    }
                }
                Err(_) => continue,
            }
        }
        None
    }

    /// The status code of the next datagram that starts with a SIP status line, read from the
    /// raw bytes (an answer to a malformed request may copy malformed headers back).
    pub fn recv_status_within(&self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(rest) = text.strip_prefix("SIP/2.0 ") {
                    return rest.get(..3).and_then(|c| c.parse().ok());
                }
            }
        }
        None
    }

    pub fn recv(&self) -> (Message, SocketAddr) {
        self.recv_within(WAIT).expect("no SIP message arrived")
    }

    /// The next final (≥ 200) response, skipping provisional ones.
    pub fn final_response(&self) -> Response {
        loop {
            match self.recv().0 {
                Message::Response(r) if r.status >= 200 => return r,
                _ => continue,
            }
        }
    }
}

/// Reads everything a child wrote to a pipe (helper for scripts).
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// The harness scripts shipped in tests/harness.
pub fn harness(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/harness")
        .join(script)
}

/// Runs a harness script with env vars; returns (success, stdout+stderr).
pub fn run_script(script: &str, env: &[(&str, String)], work: &Path) -> (bool, String) {
    run_script_with(script, &[], env, work)
}

/// [`run_script`] with arguments for the script.
pub fn run_script_with(
    script: &str,
    args: &[String],
    env: &[(&str, String)],
    work: &Path,
) -> (bool, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(harness(script))
        .args(args)
        .env("HARNESS_TMP", work)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The `RESULT …` line of a harness run with the given prefix, as key=value pairs.
pub fn result_fields(output: &str, prefix: &str) -> Vec<(String, String)> {
    output
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// An Authorization value answering a `Digest … algorithm=SHA-256|MD5, qop="auth"` challenge,
/// computed independently of the daemon's code (RFC 7616 §3.4.1).
pub fn digest_answer(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    use md5::Md5;
    use sha2::{Digest, Sha256};
    let param = |name: &str| -> String {
        let i = challenge
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name} in {challenge}"));
        let rest = &challenge[i + name.len() + 1..];
        if let Some(q) = rest.strip_prefix('"') {
            q[..q.find('"').unwrap()].to_owned()
        } else {
            rest.split([',', ' ']).next().unwrap().to_owned()
        }
    };
    let realm = param("realm");
    let nonce = param("nonce");
    let algorithm = param("algorithm");
    let h = |s: String| -> String {
        if algorithm.eq_ignore_ascii_case("SHA-256") {
            Sha256::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        } else {
            Md5::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    };
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let ha1 = h(format!("{user}:{realm}:{password}"));
    let ha2 = h(format!("{method}:{uri}"));
    let response = h(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    )
}

/// A REGISTER for `user@domain` from `phone`, optionally with credentials.
pub fn register_text(
    phone: &SipClient,
    user: &str,
    domain: &str,
    call_id: &str,
    cseq: u32,
    expires: u32,
    auth: Option<&str>,
) -> String {
    let a = phone.addr;
    let auth = auth
        .map(|v| format!("Authorization: {v}\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{domain} SIP/2.0\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-{call_id}-{cseq};rport\nMax-Forwards: 70\nFrom: <sip:{user}@{domain}>;tag=f{cseq}\nTo: <sip:{user}@{domain}>\nCall-ID: {call_id}\nCSeq: {cseq} REGISTER\nContact: <sip:{user}@{a}>\nExpires: {expires}\n{auth}Content-Length: 0\n\n"
    )
}

/// Registers `user` from `phone` through the challenge; returns the 200 OK.
pub fn register(
    phone: &SipClient,
    daemon: &Daemon,
    user: &str,
    password: &str,
    expires: u32,
) -> Response {
    let call_id = format!("reg-{user}-{}", phone.addr.port());
    phone.send(
        daemon.udp,
        &register_text(phone, user, &daemon.domain, &call_id, 1, expires, None),
    );
    let challenge = phone.final_response();
    assert_eq!(
        challenge.status, 401,
        "REGISTER without credentials must be challenged"
    );
    let www = challenge
        .headers
        .get(&sipwitch::core::msg::HeaderName::WwwAuthenticate)
        .unwrap()
        .to_owned();
    let auth = digest_answer(
        &www,
        user,
        password,
        "REGISTER",
        &format!("sip:{}", daemon.domain),
        1,
    );
    phone.send(
        daemon.udp,
        &register_text(
            phone,
            user,
            &daemon.domain,
            &call_id,
            2,
            expires,
            Some(&auth),
        ),
    );
    phone.final_response()
}

/// The next request a scripted phone receives (responses are skipped).
pub fn next_request(phone: &SipClient) -> sipwitch::core::msg::Request {
    loop {
        if let (Message::Request(r), _) = phone.recv() {
            return r;
        }
    }
}

/// Answers `req` from a scripted phone: copies Via/From/To/Call-ID/CSeq and the Record-Route
/// set, adds a To tag (finals) and the phone's Contact.
pub fn answer(
    phone: &SipClient,
    to: SocketAddr,
    req: &sipwitch::core::msg::Request,
    status: u16,
    tag: &str,
) {
    use sipwitch::core::msg::HeaderName;
    let mut r = Response::to_request(req, status);
    if status > 100 {
        let mut t = r.headers.to().unwrap();
        t.params.set("tag", Some(tag));
        r.headers.set(HeaderName::To, t.to_string());
    }
    for rr in req.headers.get_all(&HeaderName::RecordRoute) {
        r.headers.push(HeaderName::RecordRoute, rr.to_owned());
    }
    r.headers
        .push(HeaderName::Contact, format!("<sip:{}>", phone.addr));
    phone.send_raw(to, &r.to_bytes());
}
