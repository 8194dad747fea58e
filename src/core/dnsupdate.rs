//! RFC 2136 dynamic UPDATE of the records of [`crate::core::zone`], signed with TSIG
//! (RFC 8945, HMAC-SHA256). Sans-IO: bytes out ([`signed_update`]), bytes in
//! ([`check_response`]); the caller sends them and hands in the clock and the message id.
//!
//! Written by hand rather than with hickory-proto because the core must not depend on the DNS
//! crates, and hickory's TSIG signer wants a heavy crypto backend; HMAC-SHA256 is already here.

use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::core::zone::{Record, TTL};

type HmacSha256 = Hmac<Sha256>;

const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const TYPE_NAPTR: u16 = 35;
const TYPE_TSIG: u16 = 250;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
const OPCODE_UPDATE: u16 = 5;
const HMAC_SHA256: &str = "hmac-sha256.";
/// Allowed clock skew between us and the server (RFC 8945 recommends 300 s).
pub const FUDGE: u16 = 300;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("invalid DNS name {0:?}")]
    Name(String),
    #[error("the TSIG secret is not valid base64")]
    Secret,
    #[error("the update is too large for one DNS message")]
    TooLarge,
    #[error("malformed DNS response: {0}")]
    Malformed(&'static str),
    #[error("the response is for another message (id {got}, expected {expected})")]
    WrongId { got: u16, expected: u16 },
    #[error("the response is not signed with our key; refusing to trust it")]
    Unsigned,
    #[error("the response's TSIG signature does not verify (wrong secret?)")]
    BadResponseMac,
    #[error("{0}")]
    Refused(Rcode),
}

/// The outcome the server reported: RCODE plus the TSIG error when there was one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rcode {
    pub rcode: u16,
    pub tsig_error: u16,
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.rcode {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            _ => "unknown rcode",
        };
        write!(f, "the server answered {name} ({})", self.rcode)?;
        match self.tsig_error {
            0 => {}
            16 => write!(
                f,
                ": TSIG BADSIG, the key's secret does not match the server's"
            )?,
            17 => write!(f, ": TSIG BADKEY, the server does not know this key name")?,
            18 => write!(
                f,
                ": TSIG BADTIME, this machine's clock is off by more than {FUDGE} s"
            )?,
            e => write!(f, ": TSIG error {e}")?,
        }
        match (self.rcode, self.tsig_error) {
            (5, _) => write!(f, " (the key is not allowed to update this zone)"),
            (9, 0) => write!(f, " (the server is not authoritative for the zone)"),
            _ => Ok(()),
        }
    }
}

/// A TSIG key: its name (as configured on the server) and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    name: Vec<u8>,
    secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    // The secret never goes to a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// `secret_b64` is the base64 secret as knotc/tsig-keygen print it.
    pub fn new(name: &str, secret_b64: &str) -> Result<TsigKey, UpdateError> {
        let secret = base64_decode(secret_b64.trim()).ok_or(UpdateError::Secret)?;
        if secret.is_empty() {
            return Err(UpdateError::Secret);
        }
        Ok(TsigKey {
            name: wire_name(name)?,
            secret,
        })
    }
}

/// Checks that `s` is a base64 TSIG secret (for `sipwitch dns key set`).
pub fn valid_secret(s: &str) -> bool {
    base64_decode(s.trim()).is_some_and(|b| !b.is_empty())
}

/// What [`signed_update`] produced: the message and the MAC the response must chain to.
#[derive(Clone, Debug)]
pub struct SignedUpdate {
    pub wire: Vec<u8>,
    pub id: u16,
    request_mac: Vec<u8>,
}

/// The RRsets sipwitch manages for `domain`; an update deletes all of them before adding, so
/// a transport or address that went away does not linger.
pub fn managed_rrsets(domain: &str) -> Vec<(String, u16)> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    vec![
        (format!("{d}."), TYPE_NAPTR),
        (format!("_sip._udp.{d}."), TYPE_SRV),
        (format!("_sip._tcp.{d}."), TYPE_SRV),
        (format!("sip.{d}."), TYPE_A),
        (format!("sip.{d}."), TYPE_AAAA),
    ]
}

/// The UPDATE for zone `domain` (RFC 2136 §2): no prerequisites; delete the managed RRsets,
/// then add `records`. Unsigned.
pub fn update_message(id: u16, domain: &str, records: &[Record]) -> Result<Vec<u8>, UpdateError> {
    let zone = format!("{}.", domain.trim_end_matches('.').to_ascii_lowercase());
    let deletes = managed_rrsets(domain);
    let count = u16::try_from(deletes.len() + records.len()).map_err(|_| UpdateError::TooLarge)?;
    let mut m = Vec::with_capacity(512);
    put16(&mut m, id);
    put16(&mut m, OPCODE_UPDATE << 11);
    for c in [1, 0, count, 0] {
        put16(&mut m, c);
    }
    m.extend(wire_name(&zone)?);
    put16(&mut m, TYPE_SOA);
    put16(&mut m, CLASS_IN);
    for (owner, rtype) in deletes {
        // RFC 2136 §2.5.2: class ANY, TTL 0, no RDATA deletes the whole RRset.
        m.extend(wire_name(&owner)?);
        put16(&mut m, rtype);
        put16(&mut m, CLASS_ANY);
        put32(&mut m, 0);
        put16(&mut m, 0);
    }
    for r in records {
        let (owner, rtype, rdata) = rdata(r)?;
        m.extend(wire_name(owner)?);
        put16(&mut m, rtype);
        put16(&mut m, CLASS_IN);
        put32(&mut m, TTL);
        put16(
            &mut m,
            u16::try_from(rdata.len()).map_err(|_| UpdateError::TooLarge)?,
        );
        m.extend(rdata);
    }
    if m.len() > usize::from(u16::MAX) - 512 {
        return Err(UpdateError::TooLarge);
    }
    Ok(m)
}

/// The update for `domain` with `records`, signed with `key` at `now_unix` (seconds since the
/// epoch, from the caller's clock).
pub fn signed_update(
    id: u16,
    domain: &str,
    records: &[Record],
    key: &TsigKey,
    now_unix: u64,
) -> Result<SignedUpdate, UpdateError> {
    let msg = update_message(id, domain, records)?;
    let (wire, request_mac) = sign(msg, key, now_unix, &[])?;
    Ok(SignedUpdate {
        wire,
        id,
        request_mac,
    })
}

/// Appends a TSIG RR to `msg` (RFC 8945 §4.3). `prior_mac` is empty for a request and the
/// request's MAC for a response. Returns the signed message and its MAC.
pub fn sign(
    mut msg: Vec<u8>,
    key: &TsigKey,
    now_unix: u64,
    prior_mac: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), UpdateError> {
    let id = read16(&msg, 0).ok_or(UpdateError::Malformed("short header"))?;
    let mac = compute_mac(key, prior_mac, &msg, now_unix, FUDGE, 0)?;
    let arcount = read16(&msg, 10).ok_or(UpdateError::Malformed("short header"))?;
    let arcount = arcount.checked_add(1).ok_or(UpdateError::TooLarge)?;
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    let mut rdata = wire_name(HMAC_SHA256)?;
    put48(&mut rdata, now_unix);
    put16(&mut rdata, FUDGE);
    put16(&mut rdata, mac.len() as u16);
    rdata.extend(&mac);
    put16(&mut rdata, id);
    put16(&mut rdata, 0); // error
    put16(&mut rdata, 0); // other len
    msg.extend(&key.name);
    put16(&mut msg, TYPE_TSIG);
    put16(&mut msg, CLASS_ANY);
    put32(&mut msg, 0);
    put16(&mut msg, rdata.len() as u16);
    msg.extend(rdata);
    Ok((msg, mac))
}

/// The MAC over `msg` (without its TSIG RR, with the original id) and the TSIG variables
/// (RFC 8945 §4.3.3), preceded by the length-prefixed request MAC for a response.
fn compute_mac(
    key: &TsigKey,
    prior_mac: &[u8],
    msg: &[u8],
    time: u64,
    fudge: u16,
    error: u16,
) -> Result<Vec<u8>, UpdateError> {
    let mut h = HmacSha256::new_from_slice(&key.secret).map_err(|_| UpdateError::Secret)?;
    if !prior_mac.is_empty() {
        let len = u16::try_from(prior_mac.len()).map_err(|_| UpdateError::TooLarge)?;
        h.update(&len.to_be_bytes());
        h.update(prior_mac);
    }
    h.update(msg);
    let mut vars = key.name.clone();
    put16(&mut vars, CLASS_ANY);
    put32(&mut vars, 0);
    vars.extend(wire_name(HMAC_SHA256)?);
    put48(&mut vars, time);
    put16(&mut vars, fudge);
    put16(&mut vars, error);
    put16(&mut vars, 0); // other len
    h.update(&vars);
    Ok(h.finalize().into_bytes().to_vec())
}

/// Checks the server's answer to `sent`: same id, NOERROR, and a TSIG by `key` that chains
/// to our request. A refusal is [`UpdateError::Refused`] with the server's reasons.
pub fn check_response(resp: &[u8], sent: &SignedUpdate, key: &TsigKey) -> Result<(), UpdateError> {
    let got = read16(resp, 0).ok_or(UpdateError::Malformed("short header"))?;
    if got != sent.id {
        return Err(UpdateError::WrongId {
            got,
            expected: sent.id,
        });
    }
    let flags = read16(resp, 2).ok_or(UpdateError::Malformed("short header"))?;
    if flags & 0x8000 == 0 {
        return Err(UpdateError::Malformed("not a response"));
    }
    let rcode = flags & 0x000f;
    let tsig = find_tsig(resp)?;
    if rcode != 0 || tsig.as_ref().is_some_and(|t| t.error != 0) {
        // An error answer is often unsigned (the server could not sign with a key it refused);
        // it only makes us fail, so it is reported as is.
        return Err(UpdateError::Refused(Rcode {
            rcode,
            tsig_error: tsig.map_or(0, |t| t.error),
        }));
    }
    let tsig = tsig.ok_or(UpdateError::Unsigned)?;
    if tsig.key_name != key.name || tsig.algorithm != wire_name(HMAC_SHA256)? {
        return Err(UpdateError::Unsigned);
    }
    let mut unsigned = resp
        .get(..tsig.start)
        .ok_or(UpdateError::Malformed("TSIG offset"))?
        .to_vec();
    let arcount = read16(&unsigned, 10)
        .and_then(|c| c.checked_sub(1))
        .ok_or(UpdateError::Malformed("ARCOUNT"))?;
    unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
    unsigned[0..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let expect = compute_mac(
        key,
        &sent.request_mac,
        &unsigned,
        tsig.time,
        tsig.fudge,
        tsig.error,
    )?;
    // Constant time: the MAC is a secret-derived value.
    use subtle::ConstantTimeEq;
    if expect.len() != tsig.mac.len() || !bool::from(expect.ct_eq(&tsig.mac)) {
        return Err(UpdateError::BadResponseMac);
    }
    Ok(())
}

struct Tsig {
    /// Offset of the TSIG RR in the message.
    start: usize,
    key_name: Vec<u8>,
    algorithm: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
}

/// The TSIG RR, which must be the last record of the additional section (RFC 8945 §5.1).
fn find_tsig(msg: &[u8]) -> Result<Option<Tsig>, UpdateError> {
    const SHORT: UpdateError = UpdateError::Malformed("truncated message");
    let mut counts = [0u16; 4];
    for (i, c) in counts.iter_mut().enumerate() {
        *c = read16(msg, 4 + 2 * i).ok_or(SHORT)?;
    }
    let mut pos = 12;
    for _ in 0..counts[0] {
        pos = skip_name(msg, pos)?.checked_add(4).ok_or(SHORT)?;
    }
    let records = u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3]);
    let mut last = None;
    for _ in 0..records {
        let start = pos;
        let name_end = skip_name(msg, pos)?;
        let rtype = read16(msg, name_end).ok_or(SHORT)?;
        let rdlen = read16(msg, name_end + 8).ok_or(SHORT)?;
        let rdata = name_end + 10;
        pos = rdata + usize::from(rdlen);
        if pos > msg.len() {
            return Err(SHORT);
        }
        last = Some((start, name_end, rtype, rdata, pos));
    }
    if pos != msg.len() {
        return Err(UpdateError::Malformed("trailing bytes"));
    }
    let Some((start, name_end, TYPE_TSIG, rdata, end)) = last.filter(|_| counts[3] > 0) else {
        return Ok(None);
    };
    let key_name = msg.get(start..name_end).ok_or(SHORT)?;
    let rd = msg.get(rdata..end).ok_or(SHORT)?;
    let alg_end = skip_name(rd, 0)?;
    let algorithm = rd.get(..alg_end).ok_or(SHORT)?.to_vec();
    let time = read48(rd, alg_end).ok_or(SHORT)?;
    let fudge = read16(rd, alg_end + 6).ok_or(SHORT)?;
    let mac_len = usize::from(read16(rd, alg_end + 8).ok_or(SHORT)?);
    let mac_at = alg_end + 10;
    let mac = rd.get(mac_at..mac_at + mac_len).ok_or(SHORT)?.to_vec();
    let original_id = read16(rd, mac_at + mac_len).ok_or(SHORT)?;
    let error = read16(rd, mac_at + mac_len + 2).ok_or(SHORT)?;
    Ok(Some(Tsig {
        start,
        key_name: lower(key_name),
        algorithm: lower(&algorithm),
        time,
        fudge,
        mac,
        original_id,
        error,
    }))
}

/// Canonical (lowercase) names compare equal to ours; a compressed name never does, which
/// only makes a compressed TSIG owner fail as "not signed", never pass wrongly.
fn lower(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

/// The offset after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, UpdateError> {
    loop {
        let len = *msg
            .get(pos)
            .ok_or(UpdateError::Malformed("truncated name"))?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                return if pos + 2 <= msg.len() {
                    Ok(pos + 2)
                } else {
                    Err(UpdateError::Malformed("truncated name"))
                };
            }
            l if l & 0xc0 != 0 => return Err(UpdateError::Malformed("label type")),
            l => pos += 1 + usize::from(l),
        }
    }
}

fn rdata(r: &Record) -> Result<(&str, u16, Vec<u8>), UpdateError> {
    let mut d = Vec::new();
    Ok(match r {
        Record::Naptr {
            owner,
            order,
            preference,
            service,
            replacement,
        } => {
            put16(&mut d, *order);
            put16(&mut d, *preference);
            for s in ["s", service, ""] {
                let len = u8::try_from(s.len()).map_err(|_| UpdateError::TooLarge)?;
                d.push(len);
                d.extend(s.as_bytes());
            }
            d.extend(wire_name(replacement)?);
            (owner, TYPE_NAPTR, d)
        }
        Record::Srv {
            owner,
            priority,
            weight,
            port,
            target,
        } => {
            put16(&mut d, *priority);
            put16(&mut d, *weight);
            put16(&mut d, *port);
            d.extend(wire_name(target)?);
            (owner, TYPE_SRV, d)
        }
        Record::Address {
            owner,
            ip: IpAddr::V4(a),
        } => (owner, TYPE_A, a.octets().to_vec()),
        Record::Address {
            owner,
            ip: IpAddr::V6(a),
        } => (owner, TYPE_AAAA, a.octets().to_vec()),
    })
}

/// A name in uncompressed, lowercase wire form; the trailing dot is optional.
fn wire_name(name: &str) -> Result<Vec<u8>, UpdateError> {
    let bad = || UpdateError::Name(name.to_owned());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::with_capacity(trimmed.len() + 2);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            let len = u8::try_from(label.len()).map_err(|_| bad())?;
            if len == 0 || len > 63 || !label.is_ascii() {
                return Err(bad());
            }
            out.push(len);
            out.extend(label.to_ascii_lowercase().as_bytes());
        }
    }
    out.push(0);
    if out.len() > 255 {
        return Err(bad());
    }
    Ok(out)
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend(v.to_be_bytes());
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend(v.to_be_bytes());
}

fn put48(b: &mut Vec<u8>, v: u64) {
    b.extend(&v.to_be_bytes()[2..]);
}

fn read16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn read48(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(6)?)?;
    let mut v = [0u8; 8];
    v[2..].copy_from_slice(s);
    Some(u64::from_be_bytes(v))
}

/// Standard base64 (RFC 4648 §4), padding optional; `None` on any other character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be padding zeros, and one leftover character (6 bits) is impossible.
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests;
