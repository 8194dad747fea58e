//! Stateless, signed nonces.
//!
//! A nonce is `base64url(issued_ms | salt | tag)`, 32 bytes before encoding:
//! - `issued_ms` (u64, big endian): when we issued it, in milliseconds on the core clock, so
//!   that its age is known without a nonce table;
//! - `salt` (u64): a per-authenticator counter, so that two challenges in the same millisecond
//!   still get distinct nonces (the nonce-count replay table is keyed by nonce);
//! - `tag`: `HMAC-SHA256(key, issued_ms | salt | realm)[..16]`, which makes every nonce we did
//!   not issue (or issued for another realm, or under a previous key) detectable.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The secret that signs nonces. The shell draws it at random on start; it never leaves
/// memory and is never logged (its `Debug` prints nothing of it).
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

impl NonceKey {
    pub fn new(bytes: [u8; 32]) -> NonceKey {
        NonceKey(bytes)
    }
}

impl From<[u8; 32]> for NonceKey {
    fn from(bytes: [u8; 32]) -> NonceKey {
        NonceKey(bytes)
    }
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

const TAG_LEN: usize = 16;
/// Raw nonce length (before base64url).
pub(crate) const RAW_LEN: usize = 8 + 8 + TAG_LEN;
pub(crate) type RawNonce = [u8; RAW_LEN];

/// A nonce that decoded to the right shape; `authentic` says whether our key signed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DecodedNonce {
    pub raw: RawNonce,
    pub issued_ms: u64,
    pub authentic: bool,
}

impl NonceKey {
    fn tag(&self, issued_ms: u64, salt: u64, realm: &str) -> Option<[u8; TAG_LEN]> {
        // HMAC accepts keys of any length, so this never fails; if it ever did, `None` makes
        // the nonce unverifiable rather than signed with a guessable tag.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(&issued_ms.to_be_bytes());
        mac.update(&salt.to_be_bytes());
        mac.update(realm.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(full.get(..TAG_LEN)?);
        Some(tag)
    }

    pub(crate) fn mint(&self, issued_ms: u64, salt: u64, realm: &str) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&issued_ms.to_be_bytes());
        raw[8..16].copy_from_slice(&salt.to_be_bytes());
        if let Some(tag) = self.tag(issued_ms, salt, realm) {
            raw[16..].copy_from_slice(&tag);
        }
        base64url_encode(&raw)
    }

    /// `None` when the text is not one of our nonce shapes at all.
    pub(crate) fn decode(&self, nonce: &str, realm: &str) -> Option<DecodedNonce> {
        let bytes = base64url_decode(nonce)?;
        let raw: RawNonce = bytes.as_slice().try_into().ok()?;
        let issued_ms = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let salt = u64::from_be_bytes(raw[8..16].try_into().ok()?);
        let authentic = match self.tag(issued_ms, salt, realm) {
            Some(expected) => bool::from(expected.ct_eq(&raw[16..])),
            None => false,
        };
        Some(DecodedNonce {
            raw,
            issued_ms,
            authentic,
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 §5 without padding.
fn base64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len().saturating_sub(1);
        for i in 0..produced {
            out.push(((n >> (16 - 8 * i)) & 0xff) as u8);
        }
        // Non-canonical encodings (stray low bits in the last character) are refused, so that
        // every nonce has exactly one spelling. A final group of 2 or 3 characters carries
        // 4 or 2 bits that no output byte uses.
        if chunk.len() < 4 {
            let spare_bits = 8 - 2 * chunk.len();
            let last = value(*chunk.last()?)?;
            if last & ((1 << spare_bits) - 1) != 0 {
                return None;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64url_encode(&data);
            assert!(!enc.contains('='));
            assert_eq!(
                base64url_decode(&enc).as_deref(),
                Some(data.as_slice()),
                "len {len}"
            );
        }
    }

    #[test]
    fn base64url_known_values() {
        assert_eq!(base64url_encode(b"f"), "Zg");
        assert_eq!(base64url_encode(b"fo"), "Zm8");
        assert_eq!(base64url_encode(b"foo"), "Zm9v");
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("Zh"), None, "non-canonical trailing bits");
        assert_eq!(base64url_decode("Z"), None);
        assert_eq!(base64url_decode("Zm9v+"), None);
    }

    #[test]
    fn nonce_is_signed_and_carries_its_time() {
        let key = NonceKey::new([7; 32]);
        let n = key.mint(123_456, 9, "alice.test");
        assert_eq!(n.len(), 43);
        let d = key.decode(&n, "alice.test").unwrap();
        assert!(d.authentic);
        assert_eq!(d.issued_ms, 123_456);
        assert!(
            !key.decode(&n, "other.test").unwrap().authentic,
            "bound to the realm"
        );
        assert!(
            !NonceKey::new([8; 32])
                .decode(&n, "alice.test")
                .unwrap()
                .authentic
        );
        assert_ne!(
            n,
            key.mint(123_456, 10, "alice.test"),
            "salt separates same-ms nonces"
        );
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", NonceKey::new([0x41; 32])),
            "NonceKey(<redacted>)"
        );
    }
}
