//! Every RFC 4475 and RFC 5118 torture message sent to the real daemon, which is made
//! responsible for the fixtures' domains. `tests/rfc4475.rs` checks what the parser makes of each
//! message; this checks what the daemon *answers*: malformed requests get 400 (or the status the
//! RFC names), well-formed ones are never refused as malformed, responses addressed to nobody
//! are dropped, and the daemon is alive and serving at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Daemon, SipClient, TempDir};

/// What the daemon must do with a fixture.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A final response with one of these statuses.
    Status(&'static [u16]),
    /// Any answer except "malformed" (400) or a server error: the daemon understood it.
    Understood,
    /// No answer at all (a response that matches nothing).
    Silence,
}

fn want(file: &str) -> Want {
    use Want::*;
    match file {
        // Malformed (RFC 4475 §3.1.2): the daemon answers 400 or the specific status.
        "badinv01.sip" | "clerr.sip" | "ncl.sip" | "scalar02.sip" | "mismatch01.sip"
        | "insuf.sip" | "multi01.sip" | "mcl01.sip" | "ipv6-bad.sip" => Status(&[400]),
        "badvers.sip" => Status(&[505]),
        "mismatch02.sip" => Status(&[400, 501]),
        // Unknown Request-URI schemes (§3.3.1, §3.3.3): 416.
        "unkscm.sip" | "novelsc.sip" => Status(&[416]),
        // Max-Forwards: 0 for a user behind us (§3.3.15): 483.
        "zeromf.sip" => Status(&[483]),
        // REGISTERs with credentials for a realm we never challenged: challenged (401).
        "regaut01.sip" => Status(&[401]),
        // An unknown method (escaped letters are not decoded in a method, §3.1.1.8) for the
        // server itself: 501 Not Implemented.
        "esc02.sip" => Status(&[501]),
        // Responses that match no transaction: dropped.
        "bcast.sip" | "scalarlg.sip" | "bigcode.sip" | "unreason.sip" | "noreason.sip" => Silence,
        // The RFC lets an element refuse these (400) or read them liberally.
        "quotbal.sip" | "ltgtruri.sip" | "lwsruri.sip" | "lwsstart.sip" | "trws.sip"
        | "escruri.sip" | "regbadct.sip" | "badaspec.sip" | "baddn.sip" => {
            Status(&[400, 401, 403, 404, 416, 480, 483])
        }
        _ => Understood,
    }
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len() + 64);
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn the_daemon_answers_every_torture_message_as_the_rfcs_say() {
    let domains = [
        "example.com",
        "example.org",
        "company.com",
        "chair-dnrc.example.com",
        "registrar.example.com",
        "example.net",
    ];
    let dir = TempDir::new("torture");
    let domains_toml: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    let d = Daemon::configure(
        dir,
        "example.com",
        &["udp:127.0.0.1:0".to_owned(), "tcp:127.0.0.1:0".to_owned()],
        &[
            ("user", "100", "user-pw-1"),
            ("t.watson", "101", "tw-pw-2"),
            ("vivekg", "102", "vg-pw-3"),
        ],
        "",
    );
    // make the daemon responsible for every domain the fixtures use
    let cfg = std::fs::read_to_string(d.config_file()).unwrap().replace(
        "domains = [\"example.com\"]",
        &format!("domains = [{}]", domains_toml.join(", ")),
    );
    std::fs::write(d.config_file(), cfg).unwrap();
    let d = d.spawn();

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut failures = Vec::new();
    let mut count = 0;
    for sub in ["rfc4475", "rfc5118"] {
        let mut files: Vec<_> = std::fs::read_dir(data.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        {
            count += 1;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // Several fixtures share a Via branch and sent-by: to the daemon they would be one
            // transaction and its retransmissions (absorbed, answered to the first sender), so
            // give each message a branch of its own. Nothing else changes, lengths included.
            let bytes = replace_all(
                &std::fs::read(&path).unwrap(),
                b"branch=z9hG4bK",
                format!("branch=z9hG4bK{count:02}").as_bytes(),
            );
            // a fresh socket per message, so a late answer cannot be mistaken for the next one's
            let c = SipClient::bind("127.0.0.1");
            c.send_raw(d.udp, &bytes);
            let w = want(&name);
            let wait = if matches!(w, Want::Silence) {
                Duration::from_millis(300)
            } else {
                common::WAIT
            };
            // the first final answer (100 Trying is skipped), read from the status line: an
            // answer to a malformed request copies its malformed headers back
            let got = loop {
                match c.recv_status_within(wait) {
                    Some(s) if s < 200 => continue,
                    other => break other,
                }
            };
            let ok = match (w, got) {
                (Want::Status(set), Some(s)) => set.contains(&s),
                (Want::Understood, Some(s)) => s != 400 && s < 500,
                (Want::Silence, None) => true,
                _ => false,
            };
            if !ok {
                failures.push(format!("{sub}/{name}: wanted {w:?}, got {got:?}"));
            }
        }
    }
    assert!(
        count >= 60,
        "expected the whole corpus, found {count} fixtures"
    );
    assert!(
        failures.is_empty(),
        "{} fixtures answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // still alive and serving
    let c = SipClient::bind("127.0.0.1");
    c.send(
        d.udp,
        &format!(
            "OPTIONS sip:example.com SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bKalive\nMax-Forwards: 70\nFrom: <sip:a@example.net>;tag=1\nTo: <sip:example.com>\nCall-ID: alive\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
            c.addr
        ),
    );
    assert_eq!(c.final_response().status, 200);
}
