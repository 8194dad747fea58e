//! Branch and tag generation.
//!
//! The core may not draw randomness itself, so the shell hands in a secret seed; identifiers are
//! `SHA-256(seed ‖ counter)` truncated. Unique per process (the counter) and unguessable across
//! restarts (the seed), which is what RFC 3261 §8.1.1.7 and §19.3 ask of branches and tags.

use sha2::{Digest, Sha256};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Debug)]
pub struct Ids {
    seed: [u8; 32],
    counter: u64,
}

impl Ids {
    pub fn new(seed: [u8; 32]) -> Ids {
        Ids { seed, counter: 0 }
    }

    fn next_hex(&mut self, len: usize) -> String {
        self.counter = self.counter.wrapping_add(1);
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        hex(&h.finalize()[..len.div_ceil(2)])[..len].to_owned()
    }

    /// A tag for To/From (§19.3).
    pub fn tag(&mut self) -> String {
        self.next_hex(16)
    }

    /// A branch for a request we forward: cookie, the loop-detection hash of the request (so a
    /// request that comes back unchanged is recognised, §16.3 step 4), then a unique part.
    pub fn branch(&mut self, loop_hash: &str) -> String {
        format!("{MAGIC_COOKIE}.{loop_hash}.{}", self.next_hex(12))
    }
}

/// Extracts the loop-detection hash from a branch we generated.
pub fn loop_hash_of_branch(branch: &str) -> Option<&str> {
    let rest = branch.strip_prefix(MAGIC_COOKIE)?.strip_prefix('.')?;
    let (hash, _) = rest.split_once('.')?;
    Some(hash)
}

/// Deterministic hash used for stateless forwarding (ACK for 2xx): the same incoming branch
/// always maps to the same outgoing branch (§16.11).
pub fn stateless_branch(seed: &[u8; 32], incoming_branch: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(b"stateless");
    h.update(incoming_branch.as_bytes());
    format!("{MAGIC_COOKIE}.sl.{}", hex(&h.finalize()[..8]))
}

pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize()[..6])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_unique_and_carry_the_loop_hash() {
        let mut ids = Ids::new([7; 32]);
        let a = ids.branch("abc123");
        let b = ids.branch("abc123");
        assert_ne!(a, b);
        assert!(a.starts_with("z9hG4bK."));
        assert_eq!(loop_hash_of_branch(&a), Some("abc123"));
        assert_eq!(loop_hash_of_branch("z9hG4bKforeign"), None);
    }

    #[test]
    fn tags_differ_between_seeds() {
        assert_ne!(Ids::new([1; 32]).tag(), Ids::new([2; 32]).tag());
        assert_eq!(Ids::new([1; 32]).tag().len(), 16);
    }

    #[test]
    fn stateless_branch_is_deterministic() {
        let s = [3; 32];
        assert_eq!(
            stateless_branch(&s, "z9hG4bKx"),
            stateless_branch(&s, "z9hG4bKx")
        );
        assert_ne!(
            stateless_branch(&s, "z9hG4bKx"),
            stateless_branch(&s, "z9hG4bKy")
        );
    }
}
