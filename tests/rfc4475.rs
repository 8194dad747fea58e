//! The SIP torture tests of RFC 4475 (all 49 messages of §3) and the IPv6 torture tests of
//! RFC 5118 (the 12 messages of §4), fed to `parse_message` as UDP datagrams.
//!
//! One table row per fixture says what the RFC wants of a parser: accept it (and which values it
//! must read out of it), refuse it with a given status, accept it but leave the refusal to the
//! layer above (the status that layer must answer is recorded for the daemon tests), or either
//! refuse or accept liberally where the RFC allows both. The fixtures and the reasoning behind
//! every row are described in `tests/data/README.md`.
//!
//! Every fixture is evaluated and every failure is reported with its file name and the reason,
//! before the test fails; a fixture without a row, or a row without a fixture, fails too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use sipwitch::core::msg::{
    ContactList, HeaderName, Host, Message, Method, NameAddr, ParseError, Request, Response,
    SipUri, Uri, Via, parse_message, split_list,
};

type Outcome = Result<(), String>;
type Check = fn(&Message) -> Outcome;

/// What the element above the parser must do with a message the parser accepted.
#[derive(Clone, Copy, Debug)]
enum Core {
    /// Answer a request with this status.
    Answer(u16),
    /// Process it normally (the status is the final answer a registrar gives).
    Accept(u16),
    /// Drop a response instead of forwarding it.
    Discard,
}

impl Core {
    /// The final status the daemon sends, if it sends one.
    fn status(self) -> Option<u16> {
        match self {
            Core::Answer(s) | Core::Accept(s) => Some(s),
            Core::Discard => None,
        }
    }
}

/// What the RFC wants of the parser for one fixture.
enum Expect {
    /// Well-formed: `parse_message` must return `Ok` and the check must hold.
    Valid(Check),
    /// Well-formed syntax whose meaning the core must act on: parse `Ok`, the check must hold,
    /// and `core` records what the daemon must answer (see `CORE_NOTES` and the README).
    Semantic { core: Core, check: Check },
    /// Malformed: `parse_message` must return `Err` with one of these statuses (the first is the
    /// one the RFC prefers), and a request must keep its header lines so it can be answered.
    Invalid(&'static [u16]),
    /// The RFC lets an element refuse the message with `status` or accept it liberally; when it
    /// is accepted, the check (the liberal reading must be the sane one) must hold.
    Either { status: u16, check: Check },
    /// A malformed response: refused, and with nothing to answer (`headers` is `None`).
    DroppedResponse,
}

struct Case {
    /// Path under `tests/data/`.
    file: &'static str,
    /// Where the RFC defines the message.
    section: &'static str,
    expect: Expect,
    /// What the RFC says the element as a whole does, for the daemon-level tests.
    note: &'static str,
}

const fn case(
    file: &'static str,
    section: &'static str,
    expect: Expect,
    note: &'static str,
) -> Case {
    Case {
        file,
        section,
        expect,
        note,
    }
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- RFC 4475 §3.1.1: valid messages -------------------------------------------------
        case(
            "rfc4475/wsinv.sip",
            "RFC 4475 §3.1.1.1",
            Valid(wsinv),
            "accept",
        ),
        case(
            "rfc4475/intmeth.sip",
            "RFC 4475 §3.1.1.2",
            Valid(intmeth),
            "proxy: 404 unless the URI is known; UAS: 501 with Allow",
        ),
        case(
            "rfc4475/esc01.sip",
            "RFC 4475 §3.1.1.3",
            Valid(esc01),
            "accept; %HEX is equivalent to the octet",
        ),
        case(
            "rfc4475/escnull.sip",
            "RFC 4475 §3.1.1.4",
            Valid(escnull),
            "registrar: two distinct contacts, AOR not shortened at NUL",
        ),
        case(
            "rfc4475/esc02.sip",
            "RFC 4475 §3.1.1.5",
            Valid(esc02),
            "unknown method: UAS 501, proxy forwards",
        ),
        case(
            "rfc4475/lwsdisp.sip",
            "RFC 4475 §3.1.1.6",
            Valid(lwsdisp),
            "accept",
        ),
        case(
            "rfc4475/longreq.sip",
            "RFC 4475 §3.1.1.7",
            Valid(longreq),
            "accept",
        ),
        case(
            "rfc4475/dblreq.sip",
            "RFC 4475 §3.1.1.8",
            Valid(dblreq),
            "handle the REGISTER, ignore the INVITE-looking octets",
        ),
        case(
            "rfc4475/semiuri.sip",
            "RFC 4475 §3.1.1.9",
            Valid(semiuri),
            "accept",
        ),
        case(
            "rfc4475/transports.sip",
            "RFC 4475 §3.1.1.10",
            Valid(transports),
            "accept",
        ),
        case(
            "rfc4475/mpart01.sip",
            "RFC 4475 §3.1.1.11",
            Valid(mpart01),
            "accept; body framed by Content-Length",
        ),
        case(
            "rfc4475/unreason.sip",
            "RFC 4475 §3.1.1.12",
            Valid(unreason),
            "accept",
        ),
        case(
            "rfc4475/noreason.sip",
            "RFC 4475 §3.1.1.13",
            Valid(noreason),
            "accept",
        ),
        // ---- RFC 4475 §3.1.2: invalid messages -----------------------------------------------
        case(
            "rfc4475/badinv01.sip",
            "RFC 4475 §3.1.2.1",
            Invalid(&[400]),
            "400",
        ),
        case(
            "rfc4475/clerr.sip",
            "RFC 4475 §3.1.2.2",
            Invalid(&[400]),
            "UDP: 400; stream: wait, then close",
        ),
        case(
            "rfc4475/ncl.sip",
            "RFC 4475 §3.1.2.3",
            Invalid(&[400]),
            "error; stream: close the connection",
        ),
        case(
            "rfc4475/scalar02.sip",
            "RFC 4475 §3.1.2.4",
            Invalid(&[400]),
            "400 for the CSeq",
        ),
        case(
            "rfc4475/scalarlg.sip",
            "RFC 4475 §3.1.2.5",
            DroppedResponse,
            "discard the response",
        ),
        case(
            "rfc4475/quotbal.sip",
            "RFC 4475 §3.1.2.6",
            Either {
                status: 400,
                check: quotbal,
            },
            "400 (or infer the quote sanely)",
        ),
        case(
            "rfc4475/ltgtruri.sip",
            "RFC 4475 §3.1.2.7",
            Either {
                status: 400,
                check: ltgtruri,
            },
            "400 (or ignore the brackets; never forward them)",
        ),
        case(
            "rfc4475/lwsruri.sip",
            "RFC 4475 §3.1.2.8",
            Either {
                status: 400,
                check: lwsruri,
            },
            "400 (or ignore the LWS)",
        ),
        case(
            "rfc4475/lwsstart.sip",
            "RFC 4475 §3.1.2.9",
            Either {
                status: 400,
                check: lwsstart,
            },
            "400 (or ignore the extra SP; never forward them)",
        ),
        case(
            "rfc4475/trws.sip",
            "RFC 4475 §3.1.2.10",
            Either {
                status: 400,
                check: trws,
            },
            "400 (or ignore the trailing SP; never forward them)",
        ),
        case(
            "rfc4475/escruri.sip",
            "RFC 4475 §3.1.2.11",
            Either {
                status: 400,
                check: escruri,
            },
            "400 (or ignore the escaped headers; a proxy must strip them from the R-URI)",
        ),
        case(
            "rfc4475/baddate.sip",
            "RFC 4475 §3.1.2.12",
            Valid(baddate),
            "shouldn't reject unless Date matters (it doesn't to us)",
        ),
        case(
            "rfc4475/regbadct.sip",
            "RFC 4475 §3.1.2.13",
            Either {
                status: 400,
                check: regbadct,
            },
            "registrar: 400 (or infer the brackets)",
        ),
        case(
            "rfc4475/badaspec.sip",
            "RFC 4475 §3.1.2.14",
            Either {
                status: 400,
                check: badaspec,
            },
            "400 (or ignore the spaces)",
        ),
        case(
            "rfc4475/baddn.sip",
            "RFC 4475 §3.1.2.15",
            Either {
                status: 400,
                check: baddn,
            },
            "400 (or infer the quotes; never forward the error)",
        ),
        case(
            "rfc4475/badvers.sip",
            "RFC 4475 §3.1.2.16",
            Invalid(&[505]),
            "505",
        ),
        case(
            "rfc4475/mismatch01.sip",
            "RFC 4475 §3.1.2.17",
            Invalid(&[400]),
            "400",
        ),
        case(
            "rfc4475/mismatch02.sip",
            "RFC 4475 §3.1.2.18",
            Invalid(&[501, 400]),
            "501 preferred, 400 acceptable",
        ),
        case(
            "rfc4475/bigcode.sip",
            "RFC 4475 §3.1.2.19",
            DroppedResponse,
            "drop the response",
        ),
        // ---- RFC 4475 §3.2: transaction layer ------------------------------------------------
        case(
            "rfc4475/badbranch.sip",
            "RFC 4475 §3.2.1",
            Semantic {
                core: Core::Answer(400),
                check: badbranch,
            },
            "400 statelessly, or fall back to RFC 2543 transaction matching",
        ),
        // ---- RFC 4475 §3.3: application layer ------------------------------------------------
        case(
            "rfc4475/insuf.sip",
            "RFC 4475 §3.3.1",
            Invalid(&[400]),
            "400 (To, From, Call-ID, Max-Forwards missing)",
        ),
        case(
            "rfc4475/unkscm.sip",
            "RFC 4475 §3.3.2",
            Semantic {
                core: Core::Answer(416),
                check: unkscm,
            },
            "416; never route on the To header",
        ),
        case(
            "rfc4475/novelsc.sip",
            "RFC 4475 §3.3.3",
            Semantic {
                core: Core::Answer(416),
                check: novelsc,
            },
            "416 (404 if the scheme is sometimes meaningful)",
        ),
        case(
            "rfc4475/unksm2.sip",
            "RFC 4475 §3.3.4",
            Semantic {
                core: Core::Answer(400),
                check: unksm2,
            },
            "registrar: 400, To must be a SIP/SIPS AOR; proxy: treat as any request",
        ),
        case(
            "rfc4475/bext01.sip",
            "RFC 4475 §3.3.5",
            Semantic {
                core: Core::Answer(420),
                check: bext01,
            },
            "420 with Unsupported (Require tags as UAS, Proxy-Require tags as proxy)",
        ),
        case(
            "rfc4475/invut.sip",
            "RFC 4475 §3.3.6",
            Semantic {
                core: Core::Answer(415),
                check: invut,
            },
            "endpoint: 415; proxy: forward as any INVITE",
        ),
        case(
            "rfc4475/regaut01.sip",
            "RFC 4475 §3.3.7",
            Semantic {
                core: Core::Answer(401),
                check: regaut01,
            },
            "authenticating registrar: 401 with a scheme it knows; proxy forwards the header unmodified",
        ),
        case(
            "rfc4475/multi01.sip",
            "RFC 4475 §3.3.8",
            Invalid(&[400]),
            "400",
        ),
        case(
            "rfc4475/mcl01.sip",
            "RFC 4475 §3.3.9",
            Invalid(&[400]),
            "UDP: 400; stream: close the connection",
        ),
        case(
            "rfc4475/bcast.sip",
            "RFC 4475 §3.3.10",
            Semantic {
                core: Core::Discard,
                check: bcast,
            },
            "endpoint discards; proxy must not forward to a broadcast address",
        ),
        case(
            "rfc4475/zeromf.sip",
            "RFC 4475 §3.3.11",
            Semantic {
                core: Core::Answer(483),
                check: zeromf,
            },
            "proxy: 483; endpoint: process normally",
        ),
        case(
            "rfc4475/cparam01.sip",
            "RFC 4475 §3.3.12",
            Semantic {
                core: Core::Accept(200),
                check: cparam01,
            },
            "register; unknownparam is a contact-param, never a URI param of the binding",
        ),
        case(
            "rfc4475/cparam02.sip",
            "RFC 4475 §3.3.13",
            Semantic {
                core: Core::Accept(200),
                check: cparam02,
            },
            "register; unknownparam stays a URI param of the binding",
        ),
        case(
            "rfc4475/regescrt.sip",
            "RFC 4475 §3.3.14",
            Semantic {
                core: Core::Accept(200),
                check: regescrt,
            },
            "register; the binding keeps the escaped Route header",
        ),
        case(
            "rfc4475/sdp01.sip",
            "RFC 4475 §3.3.15",
            Semantic {
                core: Core::Answer(406),
                check: sdp01,
            },
            "endpoint: 406 (Accept excludes SDP); proxy forwards",
        ),
        // ---- RFC 4475 §3.4: backward compatibility -------------------------------------------
        case(
            "rfc4475/inv2543.sip",
            "RFC 4475 §3.4.1",
            Valid(inv2543),
            "accept (RFC 2543 style)",
        ),
        // ---- RFC 5118 §4 ---------------------------------------------------------------------
        case(
            "rfc5118/ipv6-good.sip",
            "RFC 5118 §4.1",
            Valid(ipv6_good),
            "accept",
        ),
        case(
            "rfc5118/ipv6-bad.sip",
            "RFC 5118 §4.2",
            Invalid(&[400]),
            "400",
        ),
        case(
            "rfc5118/port-ambiguous.sip",
            "RFC 5118 §4.3",
            Valid(port_ambiguous),
            "accept: host 2001:db8::10:5070, no port",
        ),
        case(
            "rfc5118/port-unambiguous.sip",
            "RFC 5118 §4.4",
            Valid(port_unambiguous),
            "accept",
        ),
        case(
            "rfc5118/via-received-param-with-delim.sip",
            "RFC 5118 §4.5",
            Valid(via_received_with_delim),
            "accept",
        ),
        case(
            "rfc5118/via-received-param-no-delim.sip",
            "RFC 5118 §4.5",
            Valid(via_received_no_delim),
            "accept",
        ),
        case(
            "rfc5118/ipv6-in-sdp.sip",
            "RFC 5118 §4.6",
            Valid(ipv6_in_sdp),
            "accept",
        ),
        case(
            "rfc5118/mult-ip-in-header.sip",
            "RFC 5118 §4.7",
            Valid(mult_ip_in_header),
            "accept",
        ),
        case(
            "rfc5118/mult-ip-in-sdp.sip",
            "RFC 5118 §4.8",
            Valid(mult_ip_in_sdp),
            "accept",
        ),
        case(
            "rfc5118/ipv4-mapped-ipv6.sip",
            "RFC 5118 §4.9",
            Valid(ipv4_mapped_ipv6),
            "accept",
        ),
        case(
            "rfc5118/ipv6-correct-abnf-2-colons.sip",
            "RFC 5118 §4.10",
            Valid(ipv6_abnf_2_colons),
            "accept",
        ),
        case(
            "rfc5118/ipv6-bug-abnf-3-colons.sip",
            "RFC 5118 §4.10",
            Valid(ipv6_abnf_3_colons),
            "tolerate: same address as the 2-colon form",
        ),
    ]
}

// ---- harness ---------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

fn read_fixture(file: &str) -> Vec<u8> {
    let path = data_dir().join(file);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        *s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "non-string panic"
    };
    // `todo!("{buf:?}")` and friends can print a whole datagram.
    text.chars().take(160).collect()
}

/// Runs `f`, turning a panic into an `Err` (a parser must never panic on input).
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(format!("{what} panicked: {}", panic_text(p.as_ref()))))
}

fn run_check(check: Check, msg: &Message) -> Outcome {
    guarded("the check", || check(msg))
}

fn describe_err(e: &ParseError) -> String {
    let salvaged = e.headers.as_ref().map(|h| h.0.len());
    format!(
        "Err({} {:?}, salvaged headers: {salvaged:?})",
        e.status, e.detail
    )
}

/// Checks that a refused request can still be answered.
fn answerable(bytes: &[u8], e: &ParseError) -> Outcome {
    if bytes.starts_with(b"SIP/") {
        return Ok(());
    }
    match &e.headers {
        Some(_) => Ok(()),
        None => Err(format!(
            "refused request has no salvaged headers to answer with: {}",
            describe_err(e)
        )),
    }
}

/// Evaluates one case; `Ok` carries a one-line account of what happened.
fn evaluate(c: &Case) -> Result<String, String> {
    let bytes = read_fixture(c.file);
    let parsed = guarded("parse_message", || Ok(parse_message(&bytes)))?;
    match (&c.expect, parsed) {
        (Expect::Valid(check), Ok(msg)) => run_check(*check, &msg).map(|()| "valid".to_owned()),
        (Expect::Valid(_), Err(e)) => Err(format!("valid message refused: {}", describe_err(&e))),
        (Expect::Semantic { core, check }, Ok(msg)) => {
            run_check(*check, &msg).map(|()| format!("parsed; core must {core:?}"))
        }
        (Expect::Semantic { .. }, Err(e)) => Err(format!(
            "syntactically valid message refused by the parser (its refusal belongs to the core): {}",
            describe_err(&e)
        )),
        (Expect::Invalid(statuses), Ok(_)) => Err(format!(
            "malformed message accepted (want Err with status {statuses:?})"
        )),
        (Expect::Invalid(statuses), Err(e)) => {
            if !statuses.contains(&e.status) {
                return Err(format!(
                    "want status {statuses:?}, got {}",
                    describe_err(&e)
                ));
            }
            answerable(&bytes, &e)?;
            Ok(format!("refused: {}", describe_err(&e)))
        }
        (Expect::Either { check, .. }, Ok(msg)) => {
            run_check(*check, &msg).map(|()| "accepted liberally (RFC allows it)".to_owned())
        }
        (Expect::Either { status, .. }, Err(e)) => {
            if e.status != *status {
                return Err(format!(
                    "want status {status} (or liberal acceptance), got {}",
                    describe_err(&e)
                ));
            }
            answerable(&bytes, &e)?;
            Ok(format!("refused (RFC allows it): {}", describe_err(&e)))
        }
        (Expect::DroppedResponse, Ok(_)) => {
            Err("malformed response accepted (want Err, dropped)".to_owned())
        }
        (Expect::DroppedResponse, Err(e)) => match e.headers {
            None => Ok(format!("dropped: {}", describe_err(&e))),
            Some(_) => Err(format!(
                "a refused response must not be answerable: {}",
                describe_err(&e)
            )),
        },
    }
}

fn fixture_files(sub: &str) -> BTreeSet<String> {
    let dir = data_dir().join(sub);
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sip"))
        .map(|name| format!("{sub}/{name}"))
        .collect()
}

#[test]
fn every_fixture_has_exactly_one_table_row() {
    let table: Vec<&str> = cases().iter().map(|c| c.file).collect();
    let listed: BTreeSet<String> = table.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(
        listed.len(),
        table.len(),
        "a fixture is listed twice in the table"
    );

    let mut on_disk = fixture_files("rfc4475");
    assert_eq!(
        on_disk.len(),
        49,
        "RFC 4475 §3 has 49 messages: {on_disk:?}"
    );
    let rfc5118 = fixture_files("rfc5118");
    assert_eq!(
        rfc5118.len(),
        12,
        "RFC 5118 §4 has 12 messages: {rfc5118:?}"
    );
    on_disk.extend(rfc5118);

    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        unlisted.is_empty(),
        "fixtures without a table row: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "table rows without a fixture: {missing:?}"
    );
}

/// Properties of the fixture bytes themselves that the torture depends on; a checkout or an
/// editor that rewrites line ends or re-encodes the files breaks these.
#[test]
fn fixtures_keep_their_torture_properties() {
    for c in cases() {
        let bytes = read_fixture(c.file);
        let head_end =
            find(&bytes, b"\r\n\r\n").unwrap_or_else(|| panic!("{}: no end of headers", c.file));
        let head = &bytes[..head_end];
        assert!(
            head.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r') && head.first() != Some(&b'\n'),
            "{}: a bare LF in the header section",
            c.file
        );
    }
    let body = |file: &str| {
        let bytes = read_fixture(file);
        let at = find(&bytes, b"\r\n\r\n").unwrap() + 4;
        bytes[at..].to_vec()
    };
    // Content-Length larger than the datagram's body, negative, or doubled.
    assert_eq!(body("rfc4475/clerr.sip").len(), 154);
    assert!(body("rfc4475/clerr.sip").len() < 9999);
    assert_eq!(body("rfc4475/ncl.sip").len(), 152);
    // Octets beyond Content-Length: 0 that look like a second request.
    assert!(body("rfc4475/dblreq.sip").starts_with(b"INVITE sip:joe@example.com SIP/2.0\r\n"));
    // The binary part of the multipart body: 553 octets in all, with NULs and a bare CR.
    let mpart = body("rfc4475/mpart01.sip");
    assert_eq!(mpart.len(), 553);
    assert_eq!(mpart.iter().filter(|&&b| b == 0).count(), 2);
    assert!(
        String::from_utf8(mpart).is_err(),
        "mpart01's second part is not UTF-8"
    );
    // Control octets inside a quoted string (quoted-pair), and UTF-8 outside ASCII.
    let intmeth = read_fixture("rfc4475/intmeth.sip");
    assert!(find(&intmeth, b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\"").is_some());
    assert!(
        String::from_utf8(read_fixture("rfc4475/unreason.sip"))
            .unwrap()
            .contains("девяносто")
    );
    // Significant trailing spaces.
    assert!(read_fixture("rfc4475/noreason.sip").starts_with(b"SIP/2.0 100 \r\n"));
    assert!(
        read_fixture("rfc4475/trws.sip")
            .starts_with(b"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n")
    );
}

#[test]
fn fixtures_behave_as_the_rfcs_say() {
    // A parser panic is caught and reported per fixture (the default hook also prints it).
    let results: Vec<(Case, Result<String, String>)> = cases()
        .into_iter()
        .map(|c| {
            let r = evaluate(&c);
            (c, r)
        })
        .collect();

    let mut failures = Vec::new();
    for (c, r) in &results {
        match r {
            Ok(what) => println!("ok    {:<45} {:<20} {what}", c.file, c.section),
            Err(why) => {
                println!("FAIL  {:<45} {:<20} {why}", c.file, c.section);
                failures.push(format!(
                    "{} ({}): {why}\n      RFC: {}",
                    c.file, c.section, c.note
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} torture fixtures failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// The statuses the daemon core must produce for messages the parser accepts, for the lead's
/// daemon-level torture run. Kept in step with the table by this test.
#[test]
fn core_expectations_are_recorded() {
    let mut semantic = 0;
    for c in cases() {
        if let Expect::Semantic { core, .. } = c.expect {
            semantic += 1;
            let class = match core {
                Core::Answer(_) => 400..=699,
                Core::Accept(_) => 200..=299,
                Core::Discard => 0..=0,
            };
            assert!(
                core.status().is_none_or(|s| class.contains(&s)),
                "{}: {core:?}",
                c.file
            );
            println!(
                "{:<30} {:<20} core: {core:?} — {}",
                c.file, c.section, c.note
            );
        }
    }
    assert_eq!(semantic, 13);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---- check helpers ---------------------------------------------------------------------------

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

macro_rules! ensure_eq {
    // A `match` keeps the temporaries of both operands alive, as `assert_eq!` does.
    ($got:expr, $want:expr, $what:expr) => {
        match (&$got, &$want) {
            (got, want) => {
                if *got != *want {
                    return Err(format!("{}: got {:?}, want {:?}", $what, got, want));
                }
            }
        }
    };
}

fn req(m: &Message) -> Result<&Request, String> {
    match m {
        Message::Request(r) => Ok(r),
        Message::Response(r) => Err(format!(
            "parsed as a response ({} {:?})",
            r.status, r.reason
        )),
    }
}

fn resp(m: &Message) -> Result<&Response, String> {
    match m {
        Message::Response(r) => Ok(r),
        Message::Request(r) => Err(format!("parsed as a request ({})", r.method.as_str())),
    }
}

fn sip<'a>(uri: &'a Uri, what: &str) -> Result<&'a SipUri, String> {
    uri.as_sip()
        .ok_or_else(|| format!("{what}: not a sip/sips URI: {uri:?}"))
}

fn pe(what: &'static str) -> impl Fn(ParseError) -> String {
    move |e| format!("{what}: {e} (status {})", e.status)
}

fn hn(name: &str) -> HeaderName {
    HeaderName::parse(name).unwrap_or_else(|| panic!("{name:?} is a token"))
}

fn name(host: &str) -> Host {
    Host::Name(host.to_owned())
}

fn v4(s: &str) -> Host {
    Host::V4(s.parse::<Ipv4Addr>().unwrap())
}

fn v6(s: &str) -> Host {
    Host::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn header<'a>(m: &'a Message, name: &HeaderName) -> Result<&'a str, String> {
    m.headers()
        .get(name)
        .ok_or_else(|| format!("no {name} header"))
}

fn contacts(m: &Message) -> Result<Vec<NameAddr>, String> {
    match m.headers().contacts().map_err(pe("Contact"))? {
        ContactList::Addrs(a) => Ok(a),
        ContactList::Star => Err("Contact: * where addresses were sent".to_owned()),
    }
}

fn vias(m: &Message) -> Result<Vec<Via>, String> {
    m.headers().vias().map_err(pe("Via"))
}

fn top_branch(m: &Message) -> Result<String, String> {
    let via = m.headers().top_via().map_err(pe("top Via"))?;
    via.branch()
        .map(str::to_owned)
        .ok_or_else(|| "top Via has no branch".to_owned())
}

/// A name-addr the RFC writes without a display name.
fn no_display(na: &NameAddr, what: &str) -> Outcome {
    match na.display_name.as_deref() {
        None | Some("") => Ok(()),
        Some(d) => Err(format!("{what}: unexpected display name {d:?}")),
    }
}

fn user_host(u: &SipUri, user: &str, host: &Host, what: &str) -> Outcome {
    ensure_eq!(u.user.as_deref(), Some(user), format!("{what} user"));
    ensure_eq!(&u.host, host, format!("{what} host"));
    Ok(())
}

fn cseq(m: &Message, seq: u32, method: Method) -> Outcome {
    let c = m.headers().cseq().map_err(pe("CSeq"))?;
    ensure_eq!(c.seq, seq, "CSeq number");
    ensure_eq!(c.method, method, "CSeq method");
    Ok(())
}

fn ext(s: &str) -> Method {
    Method::Extension(s.to_owned())
}

const SDP_150: &[u8] = b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.";

fn body_len(m: &Message, len: usize) -> Outcome {
    let body = match m {
        Message::Request(r) => &r.body,
        Message::Response(r) => &r.body,
    };
    ensure_eq!(body.len(), len, "body length");
    Ok(())
}

/// The same IP, allowing an IPv4-mapped IPv6 address to be held as the IPv4 address.
fn same_ip(got: &Host, want: Ipv6Addr) -> bool {
    match got {
        Host::V6(a) => *a == want,
        Host::V4(a) => want.to_ipv4_mapped() == Some(*a),
        Host::Name(_) => false,
    }
}

// ---- RFC 4475 §3.1.1 -------------------------------------------------------------------------

fn wsinv(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Invite, "method");
    let ruri = sip(&r.uri, "Request-URI")?;
    user_host(
        ruri,
        "vivekg",
        &name("chair-dnrc.example.com"),
        "Request-URI",
    )?;
    ensure_eq!(
        ruri.params.get("unknownparam"),
        Some(None),
        "R-URI unknownparam"
    );

    let to = m.headers().to().map_err(pe("To"))?;
    no_display(&to, "To")?;
    user_host(
        sip(&to.uri, "To")?,
        "vivekg",
        &name("chair-dnrc.example.com"),
        "To",
    )?;
    ensure_eq!(to.tag(), Some("1918181833n"), "To tag");

    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        from.display_name.as_deref(),
        Some(r#"J Rosenberg \""#),
        "From display name"
    );
    user_host(
        sip(&from.uri, "From")?,
        "jdrosen",
        &name("example.com"),
        "From",
    )?;
    ensure_eq!(from.tag(), Some("98asjd8"), "From tag");

    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        Some(68),
        "Max-Forwards"
    );
    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        "wsinv.ndaksdj@192.0.2.1",
        "Call-ID"
    );
    cseq(m, 9, Method::Invite)?;

    let v = vias(m)?;
    ensure_eq!(v.len(), 3, "Via count (one, then two comma-separated)");
    ensure_eq!(v[0].transport.as_str(), "UDP", "Via 1 transport");
    ensure_eq!(&v[0].sent_by.host, &v4("192.0.2.2"), "Via 1 host");
    ensure_eq!(v[0].branch(), Some("390skdjuw"), "Via 1 branch");
    ensure_eq!(v[1].transport.as_str(), "TCP", "Via 2 transport");
    ensure_eq!(
        &v[1].sent_by.host,
        &name("spindle.example.com"),
        "Via 2 host"
    );
    ensure_eq!(v[1].branch(), Some("z9hG4bK9ikj8"), "Via 2 branch");
    ensure_eq!(&v[2].sent_by.host, &v4("192.168.255.111"), "Via 3 host");
    ensure_eq!(v[2].branch(), Some("z9hG4bK30239"), "Via 3 branch");

    ensure_eq!(
        m.headers().get(&HeaderName::Subject),
        Some(""),
        "empty Subject (s)"
    );
    ensure_eq!(
        header(m, &hn("NewFangledHeader"))?,
        "newfangled value continued newfangled value",
        "unknown folded header"
    );
    ensure_eq!(
        header(m, &hn("UnknownHeaderWithUnusualValue"))?,
        ";;,,;;,;",
        "unusual unknown header"
    );
    ensure_eq!(
        header(m, &HeaderName::ContentType)?,
        "application/sdp",
        "Content-Type"
    );

    let routes = m
        .headers()
        .routes(&HeaderName::Route)
        .map_err(pe("Route"))?;
    ensure_eq!(routes.len(), 1, "Route count");
    let route = sip(&routes[0].uri, "Route")?;
    ensure_eq!(&route.host, &name("services.example.com"), "Route host");
    ensure_eq!(route.params.get("lr"), Some(None), "Route lr");
    ensure_eq!(
        route.params.value("unknownwith"),
        Some("value"),
        "Route unknownwith"
    );
    ensure_eq!(
        route.params.get("unknown-no-value"),
        Some(None),
        "Route unknown-no-value"
    );

    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count (m)");
    ensure_eq!(
        c[0].display_name.as_deref(),
        Some(r#"Quoted string """#),
        "Contact display name"
    );
    user_host(
        sip(&c[0].uri, "Contact")?,
        "jdrosen",
        &name("example.com"),
        "Contact",
    )?;
    ensure_eq!(
        c[0].params.value("newparam"),
        Some("newvalue"),
        "Contact newparam"
    );
    ensure_eq!(
        c[0].params.get("secondparam"),
        Some(None),
        "Contact secondparam"
    );
    ensure_eq!(c[0].params.value("q"), Some("0.33"), "Contact q");

    body_len(m, 150)?;
    ensure!(
        r.body.starts_with(SDP_150),
        "body is not the SDP: {:?}",
        String::from_utf8_lossy(&r.body)
    );
    Ok(())
}

const INTMETH: &str = "!interesting-Method0123456789_*+`.%indeed'~";
const INTMETH_USER: &str = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*";

fn intmeth(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &ext(INTMETH), "extension method");
    ensure_eq!(r.method.as_str(), INTMETH, "method text");
    cseq(m, 139_122_385, ext(INTMETH))?;
    let ruri = sip(&r.uri, "Request-URI")?;
    user_host(ruri, INTMETH_USER, &name("example.com"), "Request-URI")?;
    ensure_eq!(
        ruri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"),
        "R-URI password"
    );
    ensure_eq!(top_branch(m)?, "z9hG4bK-.!%66*_+`'~", "Via branch");

    let to = m.headers().to().map_err(pe("To"))?;
    ensure_eq!(
        to.display_name.as_deref(),
        Some("BEL:\u{7} NUL:\u{0} DEL:\u{7f}"),
        "To display name (quoted-pairs)"
    );
    user_host(
        sip(&to.uri, "To")?,
        INTMETH_USER,
        &name("example.com"),
        "To",
    )?;

    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        from.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-"),
        "From display name (tokens)"
    );
    user_host(
        sip(&from.uri, "From")?,
        "mundane",
        &name("example.com"),
        "From",
    )?;
    ensure_eq!(from.tag(), Some("_token~1'+`*%!-."), "From tag");
    ensure_eq!(
        from.params.value("fromParam''~+*_!.-%"),
        Some("\"работающий\""),
        "From UTF-8 parameter"
    );

    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        "Call-ID"
    );
    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        Some(255),
        "Max-Forwards"
    );
    ensure_eq!(
        header(m, &hn("extensionHeader-!.%*+_`'~"))?,
        "\u{feff}大停電",
        "extension header"
    );
    body_len(m, 0)
}

fn esc01(m: &Message) -> Outcome {
    let r = req(m)?;
    let ruri = sip(&r.uri, "Request-URI")?;
    user_host(
        ruri,
        "sips%3Auser%40example.com",
        &name("example.net"),
        "Request-URI",
    )?;
    ensure_eq!(
        ruri.user_unescaped().as_deref(),
        Some("sips:user@example.com"),
        "R-URI user unescaped"
    );

    let to = m.headers().to().map_err(pe("To"))?;
    let to_uri = sip(&to.uri, "To")?;
    ensure_eq!(
        to_uri.user_unescaped().as_deref(),
        Some("user"),
        "To user unescaped"
    );
    let plain = Uri::parse("sip:user@example.com").ok_or("sip:user@example.com does not parse")?;
    ensure!(
        to_uri.equivalent(sip(&plain, "plain")?),
        "sip:%75se%72@example.com must be equivalent to sip:user@example.com"
    );

    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        sip(&from.uri, "From")?.user_unescaped().as_deref(),
        Some("I have spaces"),
        "From user unescaped"
    );
    ensure_eq!(from.tag(), Some("938"), "From tag");
    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        "esc01.239409asdfakjkn23onasd0-3234",
        "Call-ID (i)"
    );
    ensure_eq!(
        header(m, &HeaderName::ContentType)?,
        "application/sdp",
        "Content-Type (c)"
    );

    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    let cu = sip(&c[0].uri, "Contact")?;
    ensure_eq!(
        cu.user_unescaped().as_deref(),
        Some("caller"),
        "Contact user unescaped"
    );
    ensure_eq!(&cu.host, &name("host5.example.net"), "Contact host");
    ensure_eq!(cu.params.0.len(), 2, "Contact URI parameter count");
    // Kept as written: "value%41" must never be unescaped a second time into "valueA".
    ensure_eq!(
        cu.params.value("n%61me"),
        Some("v%61lue%25%34%31"),
        "escaped URI parameter"
    );
    ensure!(
        c[0].params.0.is_empty(),
        "the escaped parameters belong to the URI, not the header: {:?}",
        c[0].params
    );
    body_len(m, 150)
}

fn escnull(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Register, "method");
    let to = m.headers().to().map_err(pe("To"))?;
    ensure_eq!(
        sip(&to.uri, "To")?.user_unescaped().as_deref(),
        Some("null-\0-null"),
        "To user (NUL kept, not shortened)"
    );
    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        sip(&from.uri, "From")?.user_unescaped().as_deref(),
        Some("null-\0-null"),
        "From user"
    );
    ensure_eq!(from.tag(), Some("839923423"), "From tag");
    let c = contacts(m)?;
    ensure_eq!(c.len(), 2, "two distinct contacts");
    let a = sip(&c[0].uri, "Contact 1")?;
    let b = sip(&c[1].uri, "Contact 2")?;
    ensure_eq!(a.user_unescaped().as_deref(), Some("\0"), "Contact 1 user");
    ensure_eq!(
        b.user_unescaped().as_deref(),
        Some("\0\0"),
        "Contact 2 user"
    );
    ensure!(
        !a.equivalent(b),
        "sip:%00@… and sip:%00%00@… must not be equivalent"
    );
    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        Some(70),
        "Max-Forwards"
    );
    body_len(m, 0)
}

fn esc02(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &ext("RE%47IST%45R"), "method (not REGISTER)");
    cseq(m, 29344, ext("RE%47IST%45R"))?;
    let to = m.headers().to().map_err(pe("To"))?;
    ensure_eq!(to.display_name.as_deref(), Some("%Z%45"), "To display name");
    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        from.display_name.as_deref(),
        Some("%Z%45"),
        "From display name"
    );
    ensure_eq!(from.tag(), Some("f232jadfj23"), "From tag");
    let c = contacts(m)?;
    ensure_eq!(c.len(), 2, "Contact count (C%6Fntact is another header)");
    ensure_eq!(
        sip(&c[0].uri, "Contact 1")?.user.as_deref(),
        Some("alias1"),
        "Contact 1"
    );
    ensure_eq!(
        sip(&c[1].uri, "Contact 2")?.user.as_deref(),
        Some("alias3"),
        "Contact 2"
    );
    let fake = hn("C%6Fntact");
    ensure!(fake != HeaderName::Contact, "C%6Fntact must not be Contact");
    ensure_eq!(
        header(m, &fake)?,
        "<sip:alias2@host2.example.com>",
        "C%6Fntact header"
    );
    ensure_eq!(top_branch(m)?, "z9hG4bK209%fzsnel234", "Via branch");
    body_len(m, 0)
}

fn lwsdisp(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Options, "method");
    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        from.display_name.as_deref(),
        Some("caller"),
        "From display name"
    );
    user_host(
        sip(&from.uri, "From")?,
        "caller",
        &name("example.com"),
        "From",
    )?;
    ensure_eq!(from.tag(), Some("323"), "From tag");
    cseq(m, 60, Method::Options)
}

fn longreq(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Invite, "method");
    let to = m.headers().to().map_err(pe("To"))?;
    let display = format!("I have a user name of {} proportion", "extreme".repeat(10));
    ensure_eq!(
        to.display_name.as_deref(),
        Some(display.as_str()),
        "To display name"
    );
    let tu = sip(&to.uri, "To")?;
    user_host(tu, "user", &name("example.com"), "To")?;
    ensure_eq!(tu.port, Some(6000), "To port");
    ensure_eq!(tu.params.0.len(), 3, "To URI parameter count");
    let v = format!("very{}value", "long".repeat(20));
    ensure_eq!(
        tu.params.value("unknownparam1"),
        Some(v.as_str()),
        "long URI parameter value"
    );
    let n = format!("longparam{}", "name".repeat(25));
    ensure_eq!(
        tu.params.value(&n),
        Some("shortvalue"),
        "long URI parameter name"
    );
    let nv = format!("very{}ParameterNameWithNoValue", "long".repeat(25));
    ensure_eq!(
        tu.params.get(&nv),
        Some(None),
        "long valueless URI parameter"
    );

    let from = m.headers().from().map_err(pe("From"))?;
    let caller = "amazinglylongcallername".repeat(5);
    user_host(
        sip(&from.uri, "From")?,
        &caller,
        &name("example.net"),
        "From",
    )?;
    let tag = format!("12{}424", "982".repeat(50));
    ensure_eq!(from.tag(), Some(tag.as_str()), "long From tag");
    let pn = format!("unknownheaderparam{}", "name".repeat(20));
    let pv = format!("unknowheaderparam{}", "value".repeat(15));
    ensure_eq!(
        from.params.value(&pn),
        Some(pv.as_str()),
        "long From parameter"
    );
    let vl = format!("unknownValueless{}", "paramname".repeat(10));
    ensure_eq!(
        from.params.get(&vl),
        Some(None),
        "long valueless From parameter"
    );

    let call_id = format!("longreq.one{}longcallid", "really".repeat(20));
    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        call_id.as_str(),
        "Call-ID"
    );
    cseq(m, 3_882_340, Method::Invite)?;
    let long = "long".repeat(20);
    let unknown = hn(&format!("Unknown-{}-Name", "Long".repeat(20)));
    let value = format!(
        "unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value"
    );
    ensure_eq!(header(m, &unknown)?, value.as_str(), "long unknown header");

    let v = vias(m)?;
    ensure_eq!(v.len(), 34, "Via count (all spellings of Via and v)");
    for (i, via) in v.iter().take(33).enumerate() {
        let host = format!("sip{}.example.com", 33 - i);
        ensure_eq!(&via.sent_by.host, &name(&host), format!("Via {}", i + 1));
    }
    ensure_eq!(
        &v[33].sent_by.host,
        &name("host.example.com"),
        "last Via host"
    );
    ensure_eq!(v[33].received(), Some("192.0.2.5"), "last Via received");
    let branch = format!("very{}branchvalue", "long".repeat(50));
    ensure_eq!(v[33].branch(), Some(branch.as_str()), "long branch");

    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        Some(70),
        "Max-Forwards"
    );
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    user_host(
        sip(&c[0].uri, "Contact")?,
        &caller,
        &name("host5.example.net"),
        "Contact",
    )?;
    body_len(m, 150)
}

fn dblreq(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Register, "method (the first request)");
    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412",
        "Call-ID (I)"
    );
    cseq(m, 8, Method::Register)?;
    ensure_eq!(vias(m)?.len(), 1, "Via count");
    ensure!(
        !m.headers().contains(&HeaderName::ContentType),
        "headers of the trailing INVITE leaked in"
    );
    ensure_eq!(m.headers().0.len(), 8, "header count of the REGISTER");
    body_len(m, 0)
}

fn semiuri(m: &Message) -> Outcome {
    let r = req(m)?;
    let ruri = sip(&r.uri, "Request-URI")?;
    user_host(
        ruri,
        "user;par=u%40example.net",
        &name("example.com"),
        "Request-URI",
    )?;
    ensure_eq!(
        ruri.user_unescaped().as_deref(),
        Some("user;par=u@example.net"),
        "R-URI user unescaped"
    );
    ensure!(
        ruri.params.0.is_empty(),
        "the ';par=' is in the user part, not a URI parameter: {:?}",
        ruri.params
    );
    let accept = split_list(header(m, &HeaderName::Accept)?)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    ensure_eq!(
        accept,
        vec![
            "application/sdp",
            "application/pkcs7-mime",
            "multipart/mixed",
            "multipart/signed",
            "message/sip",
            "message/sipfrag"
        ],
        "folded Accept list"
    );
    cseq(m, 8, Method::Options)
}

fn transports(m: &Message) -> Outcome {
    let v = vias(m)?;
    let got: Vec<&str> = v.iter().map(|v| v.transport.as_str()).collect();
    ensure_eq!(
        got,
        vec!["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"],
        "Via transports"
    );
    ensure_eq!(
        &v[3].sent_by.host,
        &name("t4.example.com"),
        "UNKNOWN transport's host"
    );
    ensure_eq!(
        v[3].branch(),
        Some("z9hG4bKasd0f3en"),
        "UNKNOWN transport's branch"
    );
    ensure_eq!(
        m.headers().call_id().map_err(pe("Call-ID"))?,
        "transports.kijh4akdnaqjkwendsasfdj",
        "Call-ID"
    );
    Ok(())
}

fn mpart01(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Message, "method");
    cseq(m, 1, Method::Message)?;
    let via = m.headers().top_via().map_err(pe("Via"))?;
    ensure_eq!(&via.sent_by.host, &v4("127.0.0.1"), "Via host");
    ensure_eq!(via.sent_by.port, Some(5070), "Via port");
    ensure_eq!(via.rport(), Some(None), "bare rport");
    ensure_eq!(
        via.branch(),
        Some("z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"),
        "branch"
    );
    let routes = m
        .headers()
        .routes(&HeaderName::Route)
        .map_err(pe("Route"))?;
    let route = sip(&routes.first().ok_or("no Route")?.uri, "Route")?;
    ensure_eq!(
        (&route.host, route.port),
        (&v4("127.0.0.1"), Some(5080)),
        "Route"
    );
    ensure!(
        header(m, &HeaderName::Identity)?.ends_with("MWYUA="),
        "Identity value cut"
    );
    ensure_eq!(
        header(m, &HeaderName::ContentType)?,
        "multipart/mixed;boundary=7a9cbec02ceef655",
        "Content-Type"
    );
    ensure_eq!(
        header(m, &HeaderName::Date)?,
        "Sat, 15 Oct 2005 04:44:56 GMT",
        "Date"
    );
    ensure_eq!(
        header(m, &HeaderName::UserAgent)?,
        "SIPimp.org/0.2.5 (curses)",
        "User-Agent"
    );
    body_len(m, 553)?;
    ensure!(
        r.body
            .starts_with(b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n"),
        "body start"
    );
    ensure!(
        r.body
            .ends_with(b"\x99\xd0\x05\r\n--7a9cbec02ceef655--\r\n"),
        "body end"
    );
    ensure!(
        find(&r.body, b"\r\n\r\n0\x82\x01\x52\x06\x09").is_some(),
        "binary part altered"
    );
    ensure_eq!(
        r.body.iter().filter(|&&b| b == 0).count(),
        2,
        "NUL octets in the body"
    );
    Ok(())
}

fn unreason(m: &Message) -> Outcome {
    let r = resp(m)?;
    ensure_eq!(r.status, 200, "status");
    ensure_eq!(
        r.reason.as_str(),
        "= 2**3 * 5**2 но сто девяносто девять - простое",
        "UTF-8 reason phrase"
    );
    cseq(m, 35, Method::Invite)?;
    ensure_eq!(
        m.headers().to().map_err(pe("To"))?.tag(),
        Some("2229"),
        "To tag"
    );
    body_len(m, 154)
}

fn noreason(m: &Message) -> Outcome {
    let r = resp(m)?;
    ensure_eq!(r.status, 100, "status");
    ensure_eq!(r.reason.as_str(), "", "empty reason phrase");
    ensure_eq!(
        m.headers().to().map_err(pe("To"))?.tag(),
        Some("902jndnke3"),
        "To tag"
    );
    body_len(m, 0)
}

// ---- RFC 4475 §3.1.2, the liberal readings and the one valid-to-us message -----------------

/// A liberal reading of a request aimed at `sip:user@example.com`.
fn ruri_is(m: &Message, method: Method, user: &str, host: &str) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &method, "method");
    user_host(
        sip(&r.uri, "Request-URI")?,
        user,
        &name(host),
        "Request-URI",
    )
}

fn quotbal(m: &Message) -> Outcome {
    match m.headers().to() {
        Err(_) => Ok(()), // the To is left for the core to refuse with 400
        Ok(to) => user_host(
            sip(&to.uri, "To")?,
            "j.user",
            &name("example.com"),
            "inferred To",
        ),
    }
}

fn ltgtruri(m: &Message) -> Outcome {
    ruri_is(m, Method::Invite, "user", "example.com")
}

fn lwsruri(m: &Message) -> Outcome {
    ruri_is(m, Method::Invite, "user", "example.com")?;
    ensure_eq!(
        sip(&req(m)?.uri, "R-URI")?.params.get("lr"),
        Some(None),
        "lr after the ignored LWS"
    );
    Ok(())
}

fn lwsstart(m: &Message) -> Outcome {
    ruri_is(m, Method::Invite, "user", "example.com")
}

fn trws(m: &Message) -> Outcome {
    ruri_is(m, Method::Options, "remote-target", "example.com")
}

fn escruri(m: &Message) -> Outcome {
    ruri_is(m, Method::Invite, "user", "example.com")
}

fn baddate(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Invite, "method");
    ensure_eq!(
        header(m, &HeaderName::Date)?,
        "Fri, 01 Jan 2010 16:00:00 EST",
        "Date kept as received"
    );
    body_len(m, 150)
}

fn regbadct(m: &Message) -> Outcome {
    match m.headers().contacts() {
        Err(_) => Ok(()), // the registrar answers 400
        Ok(ContactList::Star) => Err("Contact read as '*'".to_owned()),
        Ok(ContactList::Addrs(c)) => {
            ensure_eq!(c.len(), 1, "Contact count");
            let u = sip(&c[0].uri, "Contact")?;
            user_host(u, "user", &name("example.com"), "inferred Contact")?;
            ensure_eq!(
                u.headers.clone(),
                vec![("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())],
                "inferred Contact URI headers"
            );
            Ok(())
        }
    }
}

fn badaspec(m: &Message) -> Outcome {
    match m.headers().to() {
        Err(_) => Ok(()),
        Ok(to) => user_host(
            sip(&to.uri, "To")?,
            "t.watson",
            &name("example.org"),
            "To with the spaces ignored",
        ),
    }
}

fn baddn(m: &Message) -> Outcome {
    if let Ok(from) = m.headers().from() {
        user_host(
            sip(&from.uri, "From")?,
            "a.g.bell",
            &name("example.com"),
            "From with the quotes inferred",
        )?;
    }
    if let Ok(to) = m.headers().to() {
        user_host(
            sip(&to.uri, "To")?,
            "t.watson",
            &name("example.org"),
            "To with the quotes inferred",
        )?;
    }
    Ok(())
}

// ---- RFC 4475 §3.2 – §3.4 --------------------------------------------------------------------

fn badbranch(m: &Message) -> Outcome {
    ensure_eq!(top_branch(m)?, "z9hG4bK", "bare magic cookie branch");
    cseq(m, 8, Method::Options)
}

fn unkscm(m: &Message) -> Outcome {
    let r = req(m)?;
    match &r.uri {
        Uri::Other { scheme, rest } => {
            ensure_eq!(
                scheme.as_str(),
                "nobodyknowsthisscheme",
                "scheme (lower-cased)"
            );
            ensure_eq!(rest.as_str(), "totallyopaquecontent", "opaque part");
        }
        other => {
            return Err(format!(
                "Request-URI should be an unknown scheme, got {other:?}"
            ));
        }
    }
    // The To is a SIP URI; routing on it instead of the Request-URI is the error the RFC names.
    sip(&m.headers().to().map_err(pe("To"))?.uri, "To").map(|_| ())
}

fn novelsc(m: &Message) -> Outcome {
    match &req(m)?.uri {
        Uri::Other { scheme, rest } => {
            ensure_eq!(scheme.as_str(), "soap.beep", "scheme");
            ensure_eq!(rest.as_str(), "//192.0.2.103:3002", "rest");
            Ok(())
        }
        other => Err(format!(
            "Request-URI should be a soap.beep URI, got {other:?}"
        )),
    }
}

fn unksm2(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Register, "method");
    let to = m.headers().to().map_err(pe("To"))?;
    ensure_eq!(
        &to.uri,
        &Uri::Other {
            scheme: "isbn".into(),
            rest: "2983792873".into()
        },
        "To URI"
    );
    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(
        &from.uri,
        &Uri::Other {
            scheme: "http".into(),
            rest: "//www.example.com".into()
        },
        "From URI"
    );
    ensure_eq!(from.tag(), Some("3234233"), "From tag");
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    ensure_eq!(
        &c[0].uri,
        &Uri::Other {
            scheme: "name".into(),
            rest: "John_Smith".into()
        },
        "Contact URI"
    );
    Ok(())
}

fn bext01(m: &Message) -> Outcome {
    let require: Vec<&str> = split_list(header(m, &HeaderName::Require)?);
    ensure_eq!(
        require,
        vec!["nothingSupportsThis", "nothingSupportsThisEither"],
        "Require"
    );
    let proxy_require: Vec<&str> = split_list(header(m, &HeaderName::ProxyRequire)?);
    ensure_eq!(
        proxy_require,
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"],
        "Proxy-Require"
    );
    ensure_eq!(
        m.headers().top_via().map_err(pe("Via"))?.transport.as_str(),
        "TLS",
        "Via transport"
    );
    Ok(())
}

fn invut(m: &Message) -> Outcome {
    ensure_eq!(
        header(m, &HeaderName::ContentType)?,
        "application/unknownformat",
        "Content-Type"
    );
    body_len(m, 40)?;
    ensure!(req(m)?.body.starts_with(b"<audio>\r\n"), "body");
    Ok(())
}

fn regaut01(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Register, "method");
    ensure_eq!(
        header(m, &HeaderName::Authorization)?,
        "NoOneKnowsThisScheme opaque-data=here",
        "Authorization kept unmodified"
    );
    body_len(m, 0)
}

fn bcast(m: &Message) -> Outcome {
    ensure_eq!(resp(m)?.status, 200, "status");
    let v = vias(m)?;
    ensure_eq!(v.len(), 2, "Via count");
    ensure_eq!(
        &v[1].sent_by.host,
        &v4("255.255.255.255"),
        "second Via is the broadcast address"
    );
    body_len(m, 154)
}

fn zeromf(m: &Message) -> Outcome {
    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        Some(0),
        "Max-Forwards"
    );
    cseq(m, 39_234_321, Method::Options)
}

fn cparam01(m: &Message) -> Outcome {
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    let u = sip(&c[0].uri, "Contact")?;
    user_host(u, "+19725552222", &name("gw1.example.net"), "Contact")?;
    ensure!(
        c[0].params.contains("unknownparam"),
        "addr-spec form: unknownparam is a header parameter: {:?}",
        c[0].params
    );
    ensure!(
        !u.params.contains("unknownparam"),
        "addr-spec form: unknownparam must not be a URI parameter: {:?}",
        u.params
    );
    Ok(())
}

fn cparam02(m: &Message) -> Outcome {
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    let u = sip(&c[0].uri, "Contact")?;
    user_host(u, "+19725552222", &name("gw1.example.net"), "Contact")?;
    ensure!(
        u.params.contains("unknownparam"),
        "name-addr form: unknownparam is a URI parameter: {:?}",
        u.params
    );
    ensure!(
        !c[0].params.contains("unknownparam"),
        "name-addr form: not a header parameter: {:?}",
        c[0].params
    );
    Ok(())
}

fn regescrt(m: &Message) -> Outcome {
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count (M)");
    let u = sip(&c[0].uri, "Contact")?;
    user_host(u, "user", &name("example.com"), "Contact")?;
    ensure_eq!(
        u.headers.clone(),
        vec![("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())],
        "escaped URI header kept as written"
    );
    body_len(m, 0)
}

fn sdp01(m: &Message) -> Outcome {
    ensure_eq!(
        header(m, &HeaderName::Accept)?,
        "text/nobodyKnowsThis",
        "Accept"
    );
    ensure_eq!(
        header(m, &HeaderName::ContentType)?,
        "application/sdp",
        "Content-Type"
    );
    body_len(m, 150)
}

fn inv2543(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Invite, "method");
    ensure!(
        !m.headers().contains(&HeaderName::ContentLength),
        "no Content-Length was sent"
    );
    ensure_eq!(
        m.headers().max_forwards().map_err(pe("Max-Forwards"))?,
        None,
        "no Max-Forwards"
    );
    let via = m.headers().top_via().map_err(pe("Via"))?;
    ensure_eq!(via.branch(), None, "no branch");
    ensure_eq!(&via.sent_by.host, &name("iftgw.example.com"), "Via host");
    let from = m.headers().from().map_err(pe("From"))?;
    ensure_eq!(from.tag(), None, "no From tag");
    ensure_eq!(
        sip(&from.uri, "From")?.params.value("user"),
        Some("phone"),
        "From user=phone"
    );
    let to = m.headers().to().map_err(pe("To"))?;
    // addr-spec form: ";user=phone" after a bare URI is a header parameter (RFC 3261 §20.10).
    ensure_eq!(
        to.params.value("user"),
        Some("phone"),
        "To ;user=phone as a header parameter"
    );
    cseq(m, 56, Method::Invite)?;
    // Without Content-Length the body runs to the end of the datagram.
    body_len(m, 105)?;
    ensure!(
        r.body.starts_with(b"v=0\r\n") && r.body.ends_with(b"m=audio 49217 RTP/AVP 0\r\n"),
        "body"
    );
    Ok(())
}

// ---- RFC 5118 --------------------------------------------------------------------------------

fn ipv6_good(m: &Message) -> Outcome {
    let r = req(m)?;
    ensure_eq!(&r.method, &Method::Register, "method");
    let ruri = sip(&r.uri, "Request-URI")?;
    ensure_eq!(
        (&ruri.host, ruri.port, ruri.user.as_deref()),
        (&v6("2001:db8::10"), None, None),
        "Request-URI"
    );
    let via = m.headers().top_via().map_err(pe("Via"))?;
    ensure_eq!(
        (&via.sent_by.host, via.sent_by.port),
        (&v6("2001:db8::9:1"), None),
        "Via sent-by"
    );
    ensure_eq!(via.branch(), Some("z9hG4bKas3-111"), "branch");
    let c = contacts(m)?;
    ensure_eq!(c.len(), 1, "Contact count");
    ensure_eq!(
        c[0].display_name.as_deref(),
        Some("Caller"),
        "Contact display name"
    );
    user_host(
        sip(&c[0].uri, "Contact")?,
        "caller",
        &v6("2001:db8::1"),
        "Contact",
    )
}

fn port_ambiguous(m: &Message) -> Outcome {
    let ruri = sip(&req(m)?.uri, "Request-URI")?;
    ensure_eq!(
        &ruri.host,
        &v6("2001:db8::10:5070"),
        "host: the whole bracketed reference"
    );
    ensure_eq!(ruri.port, None, "no port: 5070 is inside the brackets");
    Ok(())
}

fn port_unambiguous(m: &Message) -> Outcome {
    let ruri = sip(&req(m)?.uri, "Request-URI")?;
    ensure_eq!(&ruri.host, &v6("2001:db8::10"), "host");
    ensure_eq!(ruri.port, Some(5070), "port after the brackets");
    Ok(())
}

fn received_ip(via: &Via) -> Result<IpAddr, String> {
    let raw = via.received().ok_or("no received parameter")?;
    let bare = raw
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(raw);
    bare.parse()
        .map_err(|_| format!("received={raw:?} is not an IP address"))
}

fn via_received_with_delim(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Bye, "method");
    let via = m.headers().top_via().map_err(pe("Via"))?;
    ensure_eq!(&via.sent_by.host, &v6("2001:db8::9:1"), "Via host");
    ensure_eq!(
        received_ip(&via)?,
        "2001:db8::9:255".parse::<IpAddr>().unwrap(),
        "received"
    );
    ensure_eq!(
        via.branch(),
        Some("z9hG4bKas3-111"),
        "branch after received"
    );
    Ok(())
}

fn via_received_no_delim(m: &Message) -> Outcome {
    let via = m.headers().top_via().map_err(pe("Via"))?;
    ensure_eq!(
        received_ip(&via)?,
        "2001:db8::9:255".parse::<IpAddr>().unwrap(),
        "received"
    );
    // The colons of the bare address must not end the parameter list.
    ensure_eq!(via.branch(), Some("z9hG4bKas3"), "branch after received");
    let c = contacts(m)?;
    user_host(
        sip(&c.first().ok_or("no Contact")?.uri, "Contact")?,
        "caller",
        &v6("2001:db8::9:1"),
        "Contact",
    )
}

fn ipv6_in_sdp(m: &Message) -> Outcome {
    let r = req(m)?;
    user_host(
        sip(&r.uri, "Request-URI")?,
        "user",
        &v6("2001:db8::10"),
        "Request-URI",
    )?;
    let to = m.headers().to().map_err(pe("To"))?;
    user_host(sip(&to.uri, "To")?, "user", &v6("2001:db8::10"), "To")?;
    ensure_eq!(
        &m.headers().top_via().map_err(pe("Via"))?.sent_by.host,
        &v6("2001:db8::20"),
        "Via host"
    );
    body_len(m, 251)?;
    ensure!(
        find(&r.body, b"c=IN IP6 2001:db8::20\r\n").is_some(),
        "SDP connection line"
    );
    Ok(())
}

fn mult_ip_in_header(m: &Message) -> Outcome {
    ensure_eq!(&req(m)?.method, &Method::Bye, "method");
    let v = vias(m)?;
    ensure_eq!(v.len(), 3, "Via count");
    ensure_eq!(
        (&v[0].sent_by.host, v[0].sent_by.port),
        (&v6("2001:db8::9:1"), Some(6050)),
        "Via 1"
    );
    ensure_eq!(
        (&v[1].sent_by.host, v[1].sent_by.port),
        (&v4("192.0.2.1"), None),
        "Via 2"
    );
    ensure_eq!(v[2].transport.as_str(), "TCP", "Via 3 transport");
    ensure_eq!(&v[2].sent_by.host, &v6("2001:db8::9:255"), "Via 3 host");
    ensure_eq!(v[2].received(), Some("192.0.2.200"), "Via 3 received");
    ensure_eq!(v[2].branch(), Some("z9hG4bK451jj"), "Via 3 branch");
    Ok(())
}

fn mult_ip_in_sdp(m: &Message) -> Outcome {
    let r = req(m)?;
    body_len(m, 189)?;
    ensure!(
        find(&r.body, b"c=IN IP4 192.0.2.1\r\n").is_some(),
        "IPv4 media line"
    );
    ensure!(
        r.body
            .ends_with(b"c=IN IP6 2001:db8::1\r\na=rtpmap:107 H263-1998/90000\r\n"),
        "IPv6 media line"
    );
    Ok(())
}

fn ipv4_mapped_ipv6(m: &Message) -> Outcome {
    let v = vias(m)?;
    ensure_eq!(v.len(), 2, "Via count");
    let first: Ipv6Addr = "::ffff:192.0.2.10".parse().unwrap();
    let mapped: Ipv6Addr = "::ffff:192.0.2.2".parse().unwrap();
    ensure!(
        same_ip(&v[0].sent_by.host, first),
        "Via 1 host: {:?}",
        v[0].sent_by.host
    );
    ensure_eq!(v[0].sent_by.port, Some(19823), "Via 1 port");
    ensure!(
        same_ip(&v[1].sent_by.host, mapped),
        "Via 2 host: {:?}",
        v[1].sent_by.host
    );
    let c = contacts(m)?;
    let cu = sip(&c.first().ok_or("no Contact")?.uri, "Contact")?;
    ensure!(same_ip(&cu.host, mapped), "Contact host: {:?}", cu.host);
    ensure_eq!(
        c[0].display_name.as_deref(),
        Some("T. desk phone"),
        "Contact display name"
    );
    body_len(m, 245)
}

fn abnf_address(m: &Message) -> Outcome {
    let want = v6("2001:db8::192.0.2.1");
    user_host(
        sip(&req(m)?.uri, "Request-URI")?,
        "user",
        &want,
        "Request-URI",
    )?;
    let to = m.headers().to().map_err(pe("To"))?;
    user_host(sip(&to.uri, "To")?, "user", &want, "To")?;
    cseq(m, 689, Method::Options)
}

fn ipv6_abnf_2_colons(m: &Message) -> Outcome {
    abnf_address(m)
}

fn ipv6_abnf_3_colons(m: &Message) -> Outcome {
    abnf_address(m)
}
