//! The digest computation itself (RFC 7616 §3.4.1, RFC 2617 §3.2.2, RFC 2069).
//!
//! Public because a user agent side (sipwitch registering to a peer) needs the very same
//! formula; the server side only uses it through [`super::Authenticator`].

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::Algorithm;

/// `qop=auth` inputs: the nonce count exactly as the client wrote it (8 hex digits) and its
/// client nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QopAuth<'a> {
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// Everything that goes into a `response` value.
#[derive(Clone, Copy)]
pub struct DigestInput<'a> {
    pub algorithm: Algorithm,
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    /// The `uri` parameter of the credentials (not necessarily the Request-URI).
    pub uri: &'a str,
    pub nonce: &'a str,
    /// `None` is the RFC 2069 form (no `qop` in the credentials).
    pub qop: Option<QopAuth<'a>>,
}

// Hand-written so that a stray `{:?}` can never print the password.
impl std::fmt::Debug for DigestInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestInput")
            .field("algorithm", &self.algorithm)
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("nonce", &self.nonce)
            .field("qop", &self.qop)
            .finish_non_exhaustive()
    }
}

/// Lower-case hex of `H(parts[0] ":" parts[1] ":" …)`.
pub fn hash_joined(algorithm: Algorithm, parts: &[&str]) -> String {
    match algorithm {
        Algorithm::Md5 => hex(&feed(Md5::new(), parts).finalize()),
        Algorithm::Sha256 => hex(&feed(Sha256::new(), parts).finalize()),
    }
}

fn feed<D: sha2::Digest>(mut d: D, parts: &[&str]) -> D {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(p.as_bytes());
    }
    d
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The `response` value: `KD(H(A1), nonce:nc:cnonce:qop:H(A2))` with `qop=auth`, or
/// `KD(H(A1), nonce:H(A2))` in the RFC 2069 form. Only the non-`-sess` algorithms exist here,
/// so `A1 = username:realm:password` and `A2 = method:uri`.
pub fn response(input: &DigestInput<'_>) -> String {
    let alg = input.algorithm;
    let ha1 = hash_joined(alg, &[input.username, input.realm, input.password]);
    let ha2 = hash_joined(alg, &[input.method, input.uri]);
    match input.qop {
        Some(q) => hash_joined(alg, &[&ha1, input.nonce, q.nc, q.cnonce, "auth", &ha2]),
        None => hash_joined(alg, &[&ha1, input.nonce, &ha2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc7616(algorithm: Algorithm) -> String {
        response(&DigestInput {
            algorithm,
            username: "Mufasa",
            realm: "http-auth@example.org",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop: Some(QopAuth {
                nc: "00000001",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            }),
        })
    }

    #[test]
    fn rfc7616_example_md5() {
        assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_example_sha256() {
        assert_eq!(
            rfc7616(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc2617_example() {
        let r = response(&DigestInput {
            algorithm: Algorithm::Md5,
            username: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop: Some(QopAuth {
                nc: "00000001",
                cnonce: "0a4f113b",
            }),
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc2069_form_omits_nc_and_cnonce() {
        let ha1 = hash_joined(Algorithm::Md5, &["u", "r", "p"]);
        let ha2 = hash_joined(Algorithm::Md5, &["REGISTER", "sip:r"]);
        let r = response(&DigestInput {
            algorithm: Algorithm::Md5,
            username: "u",
            realm: "r",
            password: "p",
            method: "REGISTER",
            uri: "sip:r",
            nonce: "n",
            qop: None,
        });
        assert_eq!(r, hash_joined(Algorithm::Md5, &[&ha1, "n", &ha2]));
    }
}
