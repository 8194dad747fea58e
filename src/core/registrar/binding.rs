//! One registered contact of an address-of-record, and the Contact parameters that define it
//! (RFC 3261 §10.3, §20.10; RFC 5626 §4.2, §6).

use std::time::Duration;

use crate::core::flow::Flow;
use crate::core::msg::{NameAddr, SipUri};
use crate::core::time::Time;

/// A contact registered for an address-of-record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// As the phone sent it (its URI may hold a private address; requests go to `flow`).
    pub contact: NameAddr,
    pub expires_at: Time,
    /// q-value in thousandths (q=0.5 → 500); `None` = unspecified.
    pub q: Option<u16>,
    /// Call-ID and CSeq of the REGISTER that last wrote this binding (RFC 3261 §10.3 step 7).
    pub call_id: String,
    pub cseq: u32,
    /// `+sip.instance` without its quotes, e.g. `<urn:uuid:…>`.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626); only kept together with an instance, as §6 of that RFC wants.
    pub reg_id: Option<u32>,
    /// The flow the REGISTER arrived on (after rport): requests for this binding go here.
    pub flow: Flow,
    pub user_agent: Option<String>,
    /// When the binding was last written (created or refreshed).
    pub registered_at: Time,
}

impl Binding {
    /// A binding is usable strictly before its expiry instant.
    pub fn is_live(&self, now: Time) -> bool {
        now < self.expires_at
    }

    pub fn remaining(&self, now: Time) -> Duration {
        self.expires_at.saturating_since(now)
    }

    /// Remaining lifetime in whole seconds, rounded up, so that a live binding never
    /// advertises `expires=0` (which a phone would read as "removed").
    pub fn remaining_secs(&self, now: Time) -> u64 {
        let d = self.remaining(now);
        d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
    }

    pub fn sip_uri(&self) -> Option<&SipUri> {
        self.contact.uri.as_sip()
    }

    /// Whether a contact with identity `id` designates this binding.
    ///
    /// With an instance (RFC 5626/5627) the key is (instance, reg-id), so that a phone that comes
    /// back on a new address or port replaces its old binding; a binding registered without an
    /// instance under an equivalent URI is the same phone upgrading and is replaced too. Without
    /// an instance the key is the URI (§19.1.4 equivalence), as RFC 3261 §10.3 step 7 says.
    pub(super) fn matches(&self, id: &Identity<'_>) -> bool {
        let same_uri = || match self.sip_uri() {
            Some(mine) => mine.equivalent(id.uri),
            None => false,
        };
        match (id.instance, self.instance.as_deref()) {
            (Some(theirs), Some(mine)) => {
                mine.eq_ignore_ascii_case(theirs) && self.reg_id == id.reg_id
            }
            (Some(_), None) => same_uri(),
            (None, _) => same_uri(),
        }
    }

    /// Fields that decide where and in which order requests are routed; a REGISTER that leaves
    /// them alone is a mere refresh.
    pub(super) fn same_route(&self, other: &Binding) -> bool {
        self.contact.uri == other.contact.uri
            && self.flow == other.flow
            && self.q == other.q
            && self.instance == other.instance
            && self.reg_id == other.reg_id
    }
}

/// What identifies the binding a Contact value talks about.
#[derive(Clone, Copy, Debug)]
pub(super) struct Identity<'a> {
    pub uri: &'a SipUri,
    pub instance: Option<&'a str>,
    pub reg_id: Option<u32>,
}

/// The value of a Contact header of the 200 OK for `b` (RFC 3261 §10.3 step 8): the URI with the
/// remaining lifetime, followed by the parameters the phone sent (RFC 5626 §6 wants
/// `+sip.instance` and `reg-id` echoed) minus its own `expires`.
pub fn contact_for_response(b: &Binding, now: Time) -> String {
    let mut params = b.contact.params.clone();
    params.remove("expires");
    format!(
        "<{}>;expires={}{}",
        b.contact.uri,
        b.remaining_secs(now),
        params
    )
}

/// The parts of one Contact value of a REGISTER that the registrar acts on.
#[derive(Clone, Debug)]
pub(super) struct ContactParams {
    /// The `expires` parameter; malformed values count as 3600 like the Expires header
    /// (RFC 3261 §20.19), which also covers RFC 2543 clients that send a date.
    pub expires: Option<u32>,
    pub q: Option<u16>,
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
}

impl ContactParams {
    pub fn from_contact(c: &NameAddr) -> Result<ContactParams, &'static str> {
        let expires = c
            .params
            .get("expires")
            .map(|v| v.and_then(parse_delta_seconds).unwrap_or(3600));
        let q = match c.params.get("q") {
            None => None,
            Some(v) => Some(
                v.and_then(parse_qvalue)
                    .ok_or("malformed q-value in Contact")?,
            ),
        };
        let instance = match c.params.get("+sip.instance") {
            None => None,
            Some(v) => {
                let v = v.map(unquote).unwrap_or("");
                if v.is_empty() {
                    return Err("empty +sip.instance in Contact");
                }
                Some(v.to_owned())
            }
        };
        let reg_id = match c.params.get("reg-id") {
            None => None,
            Some(v) => Some(
                v.and_then(parse_reg_id)
                    .ok_or("malformed reg-id in Contact")?,
            ),
        };
        // RFC 5626 §6: a reg-id without an instance is ignored.
        let reg_id = if instance.is_some() { reg_id } else { None };
        Ok(ContactParams {
            expires,
            q,
            instance,
            reg_id,
        })
    }
}

/// `delta-seconds` (RFC 3261 §25.1: 1*DIGIT). Values too large saturate at 2^32-1 as §10.2.1.1
/// tells a UA to do; anything that is not digits is `None`.
pub(super) fn parse_delta_seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
pub(super) fn parse_qvalue(s: &str) -> Option<u16> {
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100u16, 10, 1].get(i).copied()?;
        thousandths += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `reg-id = 1*DIGIT` in 1..=2^31-1 (RFC 5626 §4.2).
fn parse_reg_id(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (1..=0x7fff_ffff).contains(&v).then_some(v)
}

/// Removes one pair of surrounding double quotes (the instance is a quoted `<urn:…>`).
fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0.123"), Some(123));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.0"), Some(1000));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("2"), None);
        assert_eq!(parse_qvalue(".5"), None);
        assert_eq!(parse_qvalue("0.x"), None);
        assert_eq!(parse_qvalue(""), None);
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_delta_seconds("3600"), Some(3600));
        assert_eq!(parse_delta_seconds(" 0 "), Some(0));
        assert_eq!(parse_delta_seconds("99999999999999999999"), Some(u32::MAX));
        assert_eq!(parse_delta_seconds("-1"), None);
        assert_eq!(parse_delta_seconds("1h"), None);
        assert_eq!(parse_delta_seconds(""), None);
    }

    #[test]
    fn reg_ids() {
        assert_eq!(parse_reg_id("1"), Some(1));
        assert_eq!(parse_reg_id("2147483647"), Some(2_147_483_647));
        assert_eq!(parse_reg_id("0"), None);
        assert_eq!(parse_reg_id("2147483648"), None);
        assert_eq!(parse_reg_id("99999999999"), None);
        assert_eq!(parse_reg_id("x"), None);
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"<urn:uuid:1>\""), "<urn:uuid:1>");
        assert_eq!(unquote("<urn:uuid:1>"), "<urn:uuid:1>");
        assert_eq!(unquote("\""), "\"");
    }
}
