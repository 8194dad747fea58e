//! Digest authentication for the registrar and the proxy (RFC 3261 §22, RFC 7616, RFC 8760,
//! RFC 2617, RFC 2069), sans-IO.
//!
//! - Challenges offer SHA-256 first and MD5 second (RFC 8760 §2.4: the client picks the first it
//!   supports; old phones only know MD5), both with `qop="auth"`.
//! - Nonces are stateless and signed (see [`nonce`]): their age is read from the nonce itself.
//! - Replay protection: per nonce, the highest nonce count that authenticated (see `replay`).
//! - `Stale` is answered only when the credentials are right but the nonce is not good any more
//!   (expired, or not signed by our current key, e.g. issued before a restart). RFC 2617 §3.2.1
//!   asks exactly this: the client then retries with the new nonce instead of asking its user
//!   for a password.
//! - Unknown users are checked against a dummy secret so that the work done and the answer are
//!   those of a wrong password: no user enumeration. The [`Reject`] reason tells them apart for
//!   the local log only; the caller must never put it on the wire.
//!
//! User names are looked up exactly as sent in `username` (`alice`, never `alice@domain`); the
//! `-sess` algorithms, `qop=auth-int` and `userhash` are refused.

pub mod digest;
mod nonce;
mod replay;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::core::msg::{AuthParams, Method};
use crate::core::time::Time;
pub use digest::{DigestInput, QopAuth};
pub use nonce::NonceKey;
use replay::{NcOutcome, NcTable};

/// Bound of the nonce-count table (one entry per nonce that authenticated a request).
pub const NC_TABLE_CAPACITY: usize = 10_000;

/// Secret used for users we do not know; its result is computed and thrown away.
const DUMMY_SECRET: &str = "sipwitch:no-such-user:dummy-secret";

/// Digest hash algorithms we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RFC 7616/8760; offered first.
    Sha256,
    /// RFC 2617; still the only one many phones know.
    Md5,
}

impl Algorithm {
    /// The `algorithm=` token.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// Parses an `algorithm=` token (case-insensitive); `None` for anything we do not do,
    /// including the `-sess` variants.
    pub fn from_token(token: &str) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else {
            None
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The outcome of [`Authenticator::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right for this user and this request.
    Ok { user: String },
    /// The credentials are right but the nonce is expired or not ours: challenge again with
    /// `stale=true`.
    Stale,
    /// Challenge again (without `stale`).
    Rejected(Reject),
}

/// Why credentials were refused. For the local log only.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("credentials could not be parsed")]
    Malformed,
    #[error("scheme {0:?} is not Digest")]
    NotDigest(String),
    #[error("parameter {0} is missing")]
    MissingParam(&'static str),
    #[error("parameter {0} appears twice")]
    DuplicateParam(String),
    #[error("realm {0:?} is not ours")]
    WrongRealm(String),
    #[error("algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("qop {0:?} is not supported")]
    UnsupportedQop(String),
    #[error("userhash is not supported")]
    UserHash,
    #[error("nonce count {0:?} is not 1 to 8 hex digits")]
    BadNonceCount(String),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("wrong password for user {0:?}")]
    WrongPassword(String),
    #[error("nonce count {nc:#x} of user {user:?} replayed")]
    Replay { user: String, nc: u32 },
    /// Not checked at all: the sender failed too often (the proxy's brute-force brake).
    #[error("the source is locked out after repeated failures")]
    LockedOut,
}

/// Issues challenges and checks credentials for one realm.
pub struct Authenticator {
    realm: String,
    key: NonceKey,
    nonce_lifetime: Duration,
    /// Makes nonces minted in the same millisecond distinct. Atomic only so that `challenge`
    /// can take `&self`.
    salt: AtomicU64,
    nc: NcTable,
    /// Offered, in this order; answers with any other algorithm are refused.
    algorithms: Vec<Algorithm>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("realm", &self.realm)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("nc_entries", &self.nc.len())
            .finish_non_exhaustive()
    }
}

enum NonceState {
    Valid {
        raw: nonce::RawNonce,
        issued_ms: u64,
    },
    /// Signed by us, but too old.
    Expired,
    /// Not decodable, not signed by our key, or from the future of our clock.
    Foreign,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Escapes a value for a quoted-string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The credentials, checked for shape.
struct Credentials<'a> {
    username: &'a str,
    nonce: &'a str,
    uri: &'a str,
    response: &'a str,
    algorithm: Algorithm,
    /// `(nc text, nc value, cnonce)` with `qop=auth`; `None` in the RFC 2069 form.
    qop: Option<(&'a str, u32, &'a str)>,
}

impl Authenticator {
    pub fn new(realm: String, key: NonceKey, nonce_lifetime: Duration) -> Self {
        Authenticator {
            realm,
            key,
            nonce_lifetime,
            salt: AtomicU64::new(0),
            nc: NcTable::new(NC_TABLE_CAPACITY),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Which algorithms to offer, in order (default SHA-256 then MD5, RFC 8760 §2.4). Answers
    /// with an algorithm not offered are rejected. An empty list keeps the current one.
    pub fn set_algorithms(&mut self, algorithms: Vec<Algorithm>) {
        if !algorithms.is_empty() {
            self.algorithms = algorithms;
        }
    }

    /// Header VALUES for a challenge: one per offered algorithm, sharing one fresh nonce. The
    /// caller puts each in its own WWW-Authenticate (401, for REGISTER) or Proxy-Authenticate
    /// (407) header.
    pub fn challenge(&self, now: Time, stale: bool) -> Vec<String> {
        let salt = self.salt.fetch_add(1, Ordering::Relaxed);
        let nonce = self.key.mint(millis(now.since_origin()), salt, &self.realm);
        let realm = quote(&self.realm);
        let stale = if stale { ", stale=true" } else { "" };
        self.algorithms
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm={realm}, nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}"
                )
            })
            .collect()
    }

    /// Checks an Authorization / Proxy-Authorization header value for a request with `method`.
    /// `secret_for(user)` returns the user's password, `None` for unknown users.
    pub fn verify(
        &mut self,
        method: &Method,
        header_value: &str,
        now: Time,
        secret_for: impl Fn(&str) -> Option<String>,
    ) -> Verdict {
        let Ok(params) = AuthParams::parse(header_value) else {
            return Verdict::Rejected(Reject::Malformed);
        };
        let creds = match self.credentials(&params) {
            Ok(c) => c,
            Err(why) => return Verdict::Rejected(why),
        };

        let now_ms = millis(now.since_origin());
        let lifetime_ms = millis(self.nonce_lifetime);
        self.nc.expire(now_ms.saturating_sub(lifetime_ms));
        let state = match self.key.decode(creds.nonce, &self.realm) {
            Some(d) if d.authentic && d.issued_ms <= now_ms => {
                if now_ms - d.issued_ms > lifetime_ms {
                    NonceState::Expired
                } else {
                    NonceState::Valid {
                        raw: d.raw,
                        issued_ms: d.issued_ms,
                    }
                }
            }
            _ => NonceState::Foreign,
        };

        // Same work whether or not the user exists.
        let secret = secret_for(creds.username);
        let known = secret.is_some();
        let password = secret.as_deref().unwrap_or(DUMMY_SECRET);
        let expected = digest::response(&DigestInput {
            algorithm: creds.algorithm,
            username: creds.username,
            realm: &self.realm,
            password,
            method: method.as_str(),
            uri: creds.uri,
            nonce: creds.nonce,
            qop: creds.qop.map(|(nc, _, cnonce)| QopAuth { nc, cnonce }),
        });
        let given = creds.response.to_ascii_lowercase();
        let matches = bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
        if !(known && matches) {
            let user = creds.username.to_string();
            return Verdict::Rejected(if known {
                Reject::WrongPassword(user)
            } else {
                Reject::UnknownUser(user)
            });
        }

        let (raw, issued_ms) = match state {
            NonceState::Valid { raw, issued_ms } => (raw, issued_ms),
            NonceState::Expired | NonceState::Foreign => return Verdict::Stale,
        };
        if let Some((_, nc, _)) = creds.qop {
            match self.nc.check_and_record(&raw, issued_ms, nc) {
                NcOutcome::Fresh => {}
                NcOutcome::Forgotten => return Verdict::Stale,
                NcOutcome::Replay => {
                    return Verdict::Rejected(Reject::Replay {
                        user: creds.username.to_string(),
                        nc,
                    });
                }
            }
        }
        // RFC 2069 form: no nonce count, so a captured request can be replayed until the nonce
        // expires. Accepted for old phones; the transaction layer absorbs honest retransmissions.
        Verdict::Ok {
            user: creds.username.to_string(),
        }
    }

    fn credentials<'a>(&self, params: &'a AuthParams) -> Result<Credentials<'a>, Reject> {
        if !params.scheme.eq_ignore_ascii_case("Digest") {
            return Err(Reject::NotDigest(params.scheme.clone()));
        }
        for (i, (name, _)) in params.params.iter().enumerate() {
            if params
                .params
                .iter()
                .skip(i + 1)
                .any(|(other, _)| other == name)
            {
                return Err(Reject::DuplicateParam(name.clone()));
            }
        }
        let required = |name: &'static str| params.get(name).ok_or(Reject::MissingParam(name));
        let username = required("username")?;
        let realm = required("realm")?;
        let nonce = required("nonce")?;
        let uri = required("uri")?;
        let response = required("response")?;
        if realm != self.realm {
            return Err(Reject::WrongRealm(realm.to_string()));
        }
        if params
            .get("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(Reject::UserHash);
        }
        let algorithm = match params.get("algorithm") {
            None => Algorithm::Md5,
            Some(token) => Algorithm::from_token(token)
                .ok_or_else(|| Reject::UnsupportedAlgorithm(token.to_string()))?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(Reject::UnsupportedAlgorithm(algorithm.token().to_string()));
        }
        let qop = match params.get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc_text = required("nc")?;
                let cnonce = required("cnonce")?;
                let nc = (1..=8)
                    .contains(&nc_text.len())
                    .then(|| u32::from_str_radix(nc_text, 16).ok())
                    .flatten()
                    .filter(|_| nc_text.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| Reject::BadNonceCount(nc_text.to_string()))?;
                Some((nc_text, nc, cnonce))
            }
            Some(q) => return Err(Reject::UnsupportedQop(q.to_string())),
        };
        Ok(Credentials {
            username,
            nonce,
            uri,
            response,
            algorithm,
            qop,
        })
    }
}

#[cfg(test)]
mod tests;
