//! Authenticator tests on the virtual clock. Expected responses are computed here with the
//! hash crates directly (not through `digest::response`), so the two implementations check
//! each other.

use std::cell::Cell;
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::*;

const REALM: &str = "alice.test";
const LIFETIME: Duration = Duration::from_secs(300);

fn at(secs: u64) -> Time {
    Time::from_duration(Duration::from_secs(secs))
}

fn auth() -> Authenticator {
    Authenticator::new(REALM.to_string(), NonceKey::new([42; 32]), LIFETIME)
}

fn h(alg: Algorithm, s: &str) -> String {
    let bytes: Vec<u8> = match alg {
        Algorithm::Md5 => Md5::digest(s.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(s.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn nonce_of(challenge: &str) -> String {
    let start = challenge.find("nonce=\"").unwrap() + 7;
    let end = start + challenge[start..].find('"').unwrap();
    challenge[start..end].to_string()
}

/// What a phone would send. `qop = None` is the RFC 2069 form.
struct Client<'a> {
    alg: Option<Algorithm>,
    user: &'a str,
    password: &'a str,
    nonce: String,
    qop: Option<(u32, &'a str)>,
}

impl Client<'_> {
    fn header(&self, method: &str, uri: &str) -> String {
        let alg = self.alg.unwrap_or(Algorithm::Md5);
        let ha1 = h(alg, &format!("{}:{REALM}:{}", self.user, self.password));
        let ha2 = h(alg, &format!("{method}:{uri}"));
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{}\", uri=\"{uri}\"",
            self.user, self.nonce
        );
        let response = match self.qop {
            Some((nc, cnonce)) => {
                v += &format!(", qop=auth, nc={nc:08x}, cnonce=\"{cnonce}\"");
                h(
                    alg,
                    &format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", self.nonce),
                )
            }
            None => h(alg, &format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        v += &format!(", response=\"{response}\"");
        if let Some(a) = self.alg {
            v += &format!(", algorithm={a}");
        }
        v
    }
}

fn secrets(user: &str) -> Option<String> {
    (user == "alice").then(|| "correct horse".to_string())
}

fn alice(nonce: String, nc: u32) -> Client<'static> {
    Client {
        alg: Some(Algorithm::Sha256),
        user: "alice",
        password: "correct horse",
        nonce,
        qop: Some((nc, "0a4f113b")),
    }
}

fn ok(user: &str) -> Verdict {
    Verdict::Ok {
        user: user.to_string(),
    }
}

#[test]
fn challenge_offers_sha256_then_md5_in_the_documented_format() {
    let a = auth();
    let c = a.challenge(at(1), false);
    assert_eq!(c.len(), 2);
    let nonce = nonce_of(&c[0]);
    assert_eq!(nonce.len(), 43);
    assert_eq!(
        c[0],
        format!("Digest realm=\"alice.test\", nonce=\"{nonce}\", algorithm=SHA-256, qop=\"auth\"")
    );
    assert_eq!(
        c[1],
        format!("Digest realm=\"alice.test\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"")
    );
    let stale = a.challenge(at(1), true);
    assert!(
        stale[0].ends_with("algorithm=SHA-256, qop=\"auth\", stale=true"),
        "{}",
        stale[0]
    );
    assert!(
        stale[1].ends_with("algorithm=MD5, qop=\"auth\", stale=true"),
        "{}",
        stale[1]
    );
    assert_ne!(
        nonce_of(&stale[0]),
        nonce,
        "same millisecond, distinct nonces"
    );
}

#[test]
fn realm_is_quoted_safely() {
    let a = Authenticator::new("a\"b".into(), NonceKey::new([1; 32]), LIFETIME);
    assert!(a.challenge(at(0), false)[0].starts_with("Digest realm=\"a\\\"b\", "));
}

#[test]
fn right_password_ok_with_sha256_and_md5() {
    let mut a = auth();
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let nonce = nonce_of(&a.challenge(at(10), false)[0]);
        let c = Client {
            alg: Some(alg),
            ..alice(nonce, 1)
        };
        let v = a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:alice.test"),
            at(11),
            secrets,
        );
        assert_eq!(v, ok("alice"), "{alg}");
    }
}

#[test]
fn algorithm_absent_means_md5() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[1]);
    let c = Client {
        alg: None,
        ..alice(nonce, 1)
    };
    assert_eq!(
        a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:alice.test"),
            at(11),
            secrets
        ),
        ok("alice")
    );
}

#[test]
fn response_hex_case_does_not_matter() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let header = alice(nonce, 1).header("INVITE", "sip:100@alice.test");
    let start = header.find("response=\"").unwrap() + 10;
    let upper = format!(
        "{}{}",
        &header[..start],
        header[start..].to_ascii_uppercase()
    );
    assert_eq!(
        a.verify(&Method::Invite, &upper, at(11), secrets),
        ok("alice")
    );
}

#[test]
fn wrong_password_rejected() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let c = Client {
        password: "battery staple",
        ..alice(nonce, 1)
    };
    assert_eq!(
        a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:alice.test"),
            at(11),
            secrets
        ),
        Verdict::Rejected(Reject::WrongPassword("alice".into()))
    );
}

#[test]
fn unknown_user_rejected_like_a_wrong_password() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let asked = Cell::new(0);
    let lookup = |u: &str| {
        asked.set(asked.get() + 1);
        secrets(u)
    };
    let c = Client {
        user: "mallory",
        ..alice(nonce.clone(), 1)
    };
    let unknown = a.verify(
        &Method::Register,
        &c.header("REGISTER", "sip:alice.test"),
        at(11),
        lookup,
    );
    let c = Client {
        password: "guess",
        ..alice(nonce, 1)
    };
    let wrong = a.verify(
        &Method::Register,
        &c.header("REGISTER", "sip:alice.test"),
        at(11),
        lookup,
    );
    // Same answer on the wire (both Rejected → plain re-challenge); only the log reason differs.
    assert!(matches!(unknown, Verdict::Rejected(Reject::UnknownUser(ref u)) if u == "mallory"));
    assert!(matches!(wrong, Verdict::Rejected(Reject::WrongPassword(_))));
    assert_eq!(
        asked.get(),
        2,
        "the secret is looked up (and a digest computed) in both cases"
    );
    // Even a client that guessed the dummy secret gets nowhere.
    let c = Client {
        user: "mallory",
        password: DUMMY_SECRET,
        ..alice(nonce_of(&a.challenge(at(12), false)[0]), 1)
    };
    assert!(matches!(
        a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:alice.test"),
            at(12),
            secrets
        ),
        Verdict::Rejected(_)
    ));
}

#[test]
fn tampered_nonce_rejected() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    // An attacker edits the issue time to make an old nonce look fresh; without the password
    // the response can only be replayed, not recomputed for the new nonce text.
    let honest = alice(nonce.clone(), 1).header("REGISTER", "sip:alice.test");
    let mut chars: Vec<char> = nonce.chars().collect();
    chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let tampered = honest.replace(&nonce, &forged);
    assert!(matches!(
        a.verify(&Method::Register, &tampered, at(11), secrets),
        Verdict::Rejected(_)
    ));
    // Garbage nonce, likewise.
    let c = Client {
        password: "guess",
        ..alice("not-a-nonce!".into(), 1)
    };
    assert!(matches!(
        a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:x"),
            at(11),
            secrets
        ),
        Verdict::Rejected(_)
    ));
}

#[test]
fn nonce_from_a_previous_run_with_right_password_is_stale() {
    // After a restart the key is new: the phone's cached nonce is not ours, but its user knows
    // the password, so it should just retry (RFC 2617 §3.2.1 stale semantics).
    let old = Authenticator::new(REALM.into(), NonceKey::new([1; 32]), LIFETIME);
    let nonce = nonce_of(&old.challenge(at(10), false)[0]);
    let mut a = auth();
    let c = alice(nonce, 1);
    assert_eq!(
        a.verify(
            &Method::Register,
            &c.header("REGISTER", "sip:alice.test"),
            at(11),
            secrets
        ),
        Verdict::Stale
    );
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(100), false)[0]);
    let header = alice(nonce.clone(), 1).header("REGISTER", "sip:alice.test");
    assert_eq!(
        a.verify(&Method::Register, &header, at(100) + LIFETIME, secrets),
        ok("alice"),
        "age == lifetime is still valid"
    );
    let header = alice(nonce.clone(), 2).header("REGISTER", "sip:alice.test");
    let late = at(100) + LIFETIME + Duration::from_millis(1);
    assert_eq!(
        a.verify(&Method::Register, &header, late, secrets),
        Verdict::Stale
    );
    let wrong = Client {
        password: "guess",
        ..alice(nonce, 3)
    }
    .header("REGISTER", "sip:alice.test");
    assert!(matches!(
        a.verify(&Method::Register, &wrong, late, secrets),
        Verdict::Rejected(_)
    ));
}

#[test]
fn nonce_from_the_future_is_not_trusted() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(500), false)[0]);
    let header = alice(nonce, 1).header("REGISTER", "sip:alice.test");
    assert_eq!(
        a.verify(&Method::Register, &header, at(10), secrets),
        Verdict::Stale
    );
}

#[test]
fn nonce_count_replay_rejected_and_increase_accepted() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let first = alice(nonce.clone(), 1).header("REGISTER", "sip:alice.test");
    assert_eq!(
        a.verify(&Method::Register, &first, at(11), secrets),
        ok("alice")
    );
    assert_eq!(
        a.verify(&Method::Register, &first, at(12), secrets),
        Verdict::Rejected(Reject::Replay {
            user: "alice".into(),
            nc: 1
        })
    );
    let third = alice(nonce.clone(), 3).header("INVITE", "sip:100@alice.test");
    assert_eq!(
        a.verify(&Method::Invite, &third, at(13), secrets),
        ok("alice")
    );
    let second = alice(nonce, 2).header("INVITE", "sip:100@alice.test");
    assert!(matches!(
        a.verify(&Method::Invite, &second, at(14), secrets),
        Verdict::Rejected(Reject::Replay { .. })
    ));
}

#[test]
fn failed_attempts_do_not_burn_the_nonce_count() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let bogus = Client {
        password: "guess",
        ..alice(nonce.clone(), 0xffff_ffff)
    }
    .header("REGISTER", "sip:alice.test");
    assert!(matches!(
        a.verify(&Method::Register, &bogus, at(11), secrets),
        Verdict::Rejected(_)
    ));
    let honest = alice(nonce, 1).header("REGISTER", "sip:alice.test");
    assert_eq!(
        a.verify(&Method::Register, &honest, at(11), secrets),
        ok("alice")
    );
}

#[test]
fn rfc2069_credentials_without_qop_accepted() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[1]);
    let c = Client {
        alg: None,
        qop: None,
        ..alice(nonce, 0)
    };
    let header = c.header("REGISTER", "sip:alice.test");
    assert!(!header.contains("qop") && !header.contains("nc="));
    assert_eq!(
        a.verify(&Method::Register, &header, at(11), secrets),
        ok("alice")
    );
}

#[test]
fn method_is_part_of_the_digest() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let header = alice(nonce, 1).header("REGISTER", "sip:alice.test");
    assert!(matches!(
        a.verify(&Method::Invite, &header, at(11), secrets),
        Verdict::Rejected(Reject::WrongPassword(_))
    ));
}

#[test]
fn malformed_or_unsupported_credentials_rejected() {
    let mut a = auth();
    let nonce = nonce_of(&a.challenge(at(10), false)[0]);
    let good = alice(nonce.clone(), 1).header("REGISTER", "sip:alice.test");
    let cases: Vec<(String, Reject)> = vec![
        ("Basic YWxpY2U6cHc=".into(), Reject::Malformed),
        (
            "Basic realm=\"alice.test\"".into(),
            Reject::NotDigest("Basic".into()),
        ),
        (
            "Digest username=\"alice\"".into(),
            Reject::MissingParam("realm"),
        ),
        (
            good.replace(", uri=\"sip:alice.test\"", ""),
            Reject::MissingParam("uri"),
        ),
        (
            good.replace("realm=\"alice.test\"", "realm=\"bob.test\""),
            Reject::WrongRealm("bob.test".into()),
        ),
        (
            good.replace("algorithm=SHA-256", "algorithm=SHA-256-sess"),
            Reject::UnsupportedAlgorithm("SHA-256-sess".into()),
        ),
        (
            good.replace("algorithm=SHA-256", "algorithm=MD5-sess"),
            Reject::UnsupportedAlgorithm("MD5-sess".into()),
        ),
        (
            good.replace("qop=auth", "qop=auth-int"),
            Reject::UnsupportedQop("auth-int".into()),
        ),
        (
            good.replace("nc=00000001, ", ""),
            Reject::MissingParam("nc"),
        ),
        (
            good.replace(", cnonce=\"0a4f113b\"", ""),
            Reject::MissingParam("cnonce"),
        ),
        (
            good.replace("nc=00000001", "nc=0000000g"),
            Reject::BadNonceCount("0000000g".into()),
        ),
        (
            good.replace("nc=00000001", "nc=000000001"),
            Reject::BadNonceCount("000000001".into()),
        ),
        (format!("{good}, userhash=true"), Reject::UserHash),
        (
            format!("{good}, username=\"bob\""),
            Reject::DuplicateParam("username".into()),
        ),
        ("Digest realm=\"unterminated".into(), Reject::Malformed),
    ];
    for (header, why) in cases {
        assert_eq!(
            a.verify(&Method::Register, &header, at(11), secrets),
            Verdict::Rejected(why),
            "{header}"
        );
    }
    assert_eq!(
        a.verify(&Method::Register, &good, at(11), secrets),
        ok("alice"),
        "rejections left no trace"
    );
}

#[test]
fn rfc7616_example_credentials_check_out() {
    // RFC 7616 §3.9.1: the response is right for "Circle of Life", so the verdict is Stale (the
    // nonce is not one of ours), while any other password is Rejected.
    let header = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
        uri=\"/dir/index.html\", algorithm=SHA-256, \
        nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
        cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let get = Method::Extension("GET".into());
    let mut a = Authenticator::new(
        "http-auth@example.org".into(),
        NonceKey::new([0; 32]),
        LIFETIME,
    );
    let right = |u: &str| (u == "Mufasa").then(|| "Circle of Life".to_string());
    let wrong = |u: &str| (u == "Mufasa").then(|| "Circle Of Life".to_string());
    assert_eq!(a.verify(&get, header, at(1), right), Verdict::Stale);
    assert_eq!(
        a.verify(&get, header, at(1), wrong),
        Verdict::Rejected(Reject::WrongPassword("Mufasa".into()))
    );
    let md5 = header
        .replace("algorithm=SHA-256", "algorithm=MD5")
        .replace(
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            "8ca523f5e9506fed4657c9700eebdbec",
        );
    assert_eq!(a.verify(&get, &md5, at(1), right), Verdict::Stale);
}

#[test]
fn debug_output_holds_no_key() {
    let a = Authenticator::new(REALM.into(), NonceKey::new([0xab; 32]), LIFETIME);
    let dbg = format!("{a:?}");
    assert!(!dbg.contains("171") && !dbg.contains("ab, ab"), "{dbg}");
}

#[test]
fn offered_algorithms_follow_the_configured_order_and_nothing_else_is_accepted() {
    let mut a = auth();
    a.set_algorithms(vec![Algorithm::Md5]);
    let ch = a.challenge(at(0), false);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert!(ch[0].contains("algorithm=MD5"));
    let nonce = nonce_of(&ch[0]);
    let mut sha = alice(nonce.clone(), 1);
    sha.alg = Some(Algorithm::Sha256);
    let v = a.verify(
        &Method::Register,
        &sha.header("REGISTER", "sip:alice.test"),
        at(1),
        secrets,
    );
    assert!(
        matches!(v, Verdict::Rejected(Reject::UnsupportedAlgorithm(_))),
        "{v:?}"
    );
    let mut md5 = alice(nonce, 2);
    md5.alg = Some(Algorithm::Md5);
    assert_eq!(
        a.verify(
            &Method::Register,
            &md5.header("REGISTER", "sip:alice.test"),
            at(1),
            secrets
        ),
        ok("alice")
    );

    a.set_algorithms(vec![Algorithm::Md5, Algorithm::Sha256]);
    let ch = a.challenge(at(0), false);
    assert!(ch[0].contains("algorithm=MD5") && ch[1].contains("algorithm=SHA-256"));
    a.set_algorithms(Vec::new());
    assert_eq!(
        a.challenge(at(0), false).len(),
        2,
        "an empty list keeps the current one"
    );
}
