//! The registrar (RFC 3261 §10.3, with the instance/reg-id keys of RFC 5626 §6): the location
//! service that maps an address-of-record (an extension name) to the contacts and flows its
//! phones registered. Sans-IO: the caller authenticates the REGISTER, hands it in with `now` and
//! turns the outcome into a response.

mod binding;
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

pub use binding::{Binding, contact_for_response};
pub use store::{SNAPSHOT_VERSION, Snapshot, SnapshotEntry};

use binding::{ContactParams, Identity, parse_delta_seconds};

use crate::core::flow::Flow;
use crate::core::msg::{ContactList, HeaderName, NameAddr, Request};
use crate::core::time::Time;

/// Most bindings one address-of-record keeps; a new one beyond that evicts the stalest, so a
/// phone that keeps registering under fresh URIs cannot grow the table without bound.
pub const MAX_BINDINGS_PER_AOR: usize = 10;

/// User-Agent strings are only kept for display; longer ones are cut (at a char boundary).
const MAX_USER_AGENT_LEN: usize = 256;

/// Registration lifetimes, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistrarPolicy {
    /// Shorter nonzero requests get 423 (RFC 3261 §10.3 step 7). 0 disables the check.
    pub min_expires: u32,
    /// Longer requests are shortened to this.
    pub max_expires: u32,
    /// Used when the REGISTER says nothing (neither `expires` parameter nor Expires header).
    pub default_expires: u32,
}

impl Default for RegistrarPolicy {
    fn default() -> Self {
        RegistrarPolicy {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

impl RegistrarPolicy {
    /// Makes the three values consistent (`1 <= max`, `min <= max`, default within
    /// `[max(min, 1), max]`), so that a bad configuration cannot make every REGISTER fail or
    /// turn the default into a removal.
    fn normalised(self) -> RegistrarPolicy {
        let max_expires = self.max_expires.max(1);
        let min_expires = self.min_expires.min(max_expires);
        let default_expires = self.default_expires.clamp(min_expires.max(1), max_expires);
        RegistrarPolicy {
            min_expires,
            max_expires,
            default_expires,
        }
    }
}

/// What to answer to a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// 200 OK: the current bindings of the AOR after the update, in [`Registrar::lookup`] order
    /// (for the Contact headers of the 200, see [`contact_for_response`]). `changed` is true when
    /// the routing-visible state changed: a binding was added or removed, or moved to another
    /// URI, flow, q-value or instance — not for a mere refresh (see [`Registrar::generation`]
    /// for persistence).
    Ok {
        bindings: Vec<Binding>,
        changed: bool,
    },
    /// 423 Interval Too Brief with Min-Expires.
    IntervalTooBrief { min_expires: u32 },
    /// 400 Bad Request, with a reason phrase detail.
    BadRequest(&'static str),
    /// 500 (with Retry-After): a REGISTER with the Call-ID of an existing binding and a CSeq not
    /// above the stored one is out of order and changes nothing (RFC 3261 §10.3 steps 6–7).
    OutOfOrder,
}

/// The location service: address-of-record → bindings.
#[derive(Clone, Debug)]
pub struct Registrar {
    policy: RegistrarPolicy,
    /// A BTreeMap so that listings and snapshots come out in a stable order.
    aors: BTreeMap<String, Vec<Binding>>,
    generation: u64,
}

/// One Contact of a REGISTER, validated, with its granted lifetime.
struct Update {
    contact: NameAddr,
    params: ContactParams,
    /// Seconds granted; 0 removes.
    expires: u32,
}

impl Registrar {
    pub fn new(policy: RegistrarPolicy) -> Self {
        Registrar {
            policy: policy.normalised(),
            aors: BTreeMap::new(),
            generation: 0,
        }
    }

    pub fn policy(&self) -> RegistrarPolicy {
        self.policy
    }

    /// New limits apply to later REGISTERs; existing bindings keep their expiry.
    pub fn set_policy(&mut self, policy: RegistrarPolicy) {
        self.policy = policy.normalised();
    }

    /// Counts every change of the stored state, refreshes included: the shell persists a
    /// [`Snapshot`] whenever this differs from the value it saw at its last save.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Applies an authenticated REGISTER for address-of-record `aor` received on `flow`
    /// (RFC 3261 §10.3 steps 6–8). Either every Contact is applied or none is.
    pub fn register(&mut self, aor: &str, req: &Request, flow: Flow, now: Time) -> RegisterOutcome {
        let Ok(call_id) = req.headers.call_id() else {
            return RegisterOutcome::BadRequest("missing or malformed Call-ID");
        };
        let Ok(cseq) = req.headers.cseq() else {
            return RegisterOutcome::BadRequest("missing or malformed CSeq");
        };
        let cseq = cseq.seq;
        // RFC 3261 §20.19: a malformed Expires is taken as 3600.
        let header_expires = req
            .headers
            .get(&HeaderName::Expires)
            .map(|v| parse_delta_seconds(v).unwrap_or(3600));

        // Look at the raw values for `*`, so that `*` mixed with addresses is refused whatever
        // the typed view makes of such a list.
        let raw_contacts: Vec<&str> = req.headers.get_all(&HeaderName::Contact).collect();
        if raw_contacts.iter().any(|v| v.trim() == "*") {
            if raw_contacts.len() != 1 {
                return RegisterOutcome::BadRequest("Contact * with other contacts");
            }
            if header_expires != Some(0) {
                return RegisterOutcome::BadRequest("Contact * without Expires: 0");
            }
            return self.remove_all(aor, call_id, cseq, now);
        }
        let contacts = match req.headers.contacts() {
            Ok(ContactList::Addrs(c)) => c,
            Ok(ContactList::Star) => {
                return RegisterOutcome::BadRequest("Contact * with other contacts");
            }
            Err(_) => return RegisterOutcome::BadRequest("malformed Contact"),
        };
        if contacts.is_empty() {
            // A query (§10.3 step 8). Dropping what already expired on the way counts as a
            // change, as it would have when `expire` collected it.
            let purged = self.purge_expired(aor, now);
            return RegisterOutcome::Ok {
                bindings: self.lookup_owned(aor, now),
                changed: purged,
            };
        }
        if contacts.len() > MAX_BINDINGS_PER_AOR {
            return RegisterOutcome::BadRequest("too many Contact values");
        }

        let mut updates = Vec::with_capacity(contacts.len());
        let mut reg_ids = 0usize;
        for contact in contacts {
            if contact.uri.as_sip().is_none() {
                // We can only reach phones over SIP; a tel: or mailto: binding would be a dead end.
                return RegisterOutcome::BadRequest("Contact URI is not sip: or sips:");
            }
            let params = match ContactParams::from_contact(&contact) {
                Ok(p) => p,
                Err(why) => return RegisterOutcome::BadRequest(why),
            };
            if params.reg_id.is_some() {
                reg_ids += 1;
            }
            let requested = params
                .expires
                .or(header_expires)
                .unwrap_or(self.policy.default_expires);
            if requested != 0 && requested < self.policy.min_expires {
                return RegisterOutcome::IntervalTooBrief {
                    min_expires: self.policy.min_expires,
                };
            }
            let expires = requested.min(self.policy.max_expires);
            updates.push(Update {
                contact,
                params,
                expires,
            });
        }
        // RFC 5626 §6: one flow per REGISTER.
        if reg_ids > 1 {
            return RegisterOutcome::BadRequest("more than one Contact with reg-id");
        }

        let user_agent = req
            .headers
            .get(&HeaderName::UserAgent)
            .map(truncate_user_agent);
        let stored = self.aors.get(aor).map(Vec::as_slice).unwrap_or_default();
        // Work on a copy and commit at the end: an out-of-order contact aborts the whole request.
        // The flag marks bindings already written by this request: a second Contact for the same
        // binding in one REGISTER overrides the first instead of failing the CSeq check against
        // itself.
        let mut list: Vec<(Binding, bool)> = stored
            .iter()
            .filter(|b| b.is_live(now))
            .map(|b| (b.clone(), false))
            .collect();

        for u in updates {
            let Some(uri) = u.contact.uri.as_sip() else {
                continue;
            };
            let id = Identity {
                uri,
                instance: u.params.instance.as_deref(),
                reg_id: u.params.reg_id,
            };
            let matched: Vec<usize> = list
                .iter()
                .enumerate()
                .filter(|(_, (b, _))| b.matches(&id))
                .map(|(i, _)| i)
                .collect();
            let out_of_order = matched
                .iter()
                .filter_map(|&i| list.get(i))
                .any(|(b, touched)| !touched && b.call_id == call_id && cseq <= b.cseq);
            if out_of_order {
                return RegisterOutcome::OutOfOrder;
            }
            // The first match is replaced in place (keeping the order stable), the others dropped.
            let first = matched.first().copied();
            for &i in matched.iter().rev() {
                list.remove(i);
            }
            if u.expires != 0 {
                let b = Binding {
                    expires_at: now + Duration::from_secs(u64::from(u.expires)),
                    q: u.params.q,
                    call_id: call_id.to_owned(),
                    cseq,
                    instance: u.params.instance,
                    reg_id: u.params.reg_id,
                    flow,
                    user_agent: user_agent.clone(),
                    registered_at: now,
                    contact: u.contact,
                };
                let at = first.unwrap_or(list.len()).min(list.len());
                list.insert(at, (b, true));
            }
        }

        // Evict the stalest (least recently written; earliest in the list on ties).
        while list.len() > MAX_BINDINGS_PER_AOR {
            let oldest = list
                .iter()
                .enumerate()
                .min_by_key(|(i, (b, _))| (b.registered_at, *i))
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    list.remove(i);
                }
                None => break,
            }
        }
        let list: Vec<Binding> = list.into_iter().map(|(b, _)| b).collect();

        let changed = !same_routes(stored, &list);
        self.generation = self.generation.wrapping_add(1);
        if list.is_empty() {
            self.aors.remove(aor);
        } else {
            self.aors.insert(aor.to_owned(), list);
        }
        RegisterOutcome::Ok {
            bindings: self.lookup_owned(aor, now),
            changed,
        }
    }

    /// `Contact: *` with `Expires: 0` (§10.3 step 6): removes every binding, unless one of them
    /// was written by this Call-ID with a CSeq at least as high.
    fn remove_all(&mut self, aor: &str, call_id: &str, cseq: u32, now: Time) -> RegisterOutcome {
        let Some(stored) = self.aors.get(aor) else {
            return RegisterOutcome::Ok {
                bindings: Vec::new(),
                changed: false,
            };
        };
        if stored
            .iter()
            .any(|b| b.is_live(now) && b.call_id == call_id && cseq <= b.cseq)
        {
            return RegisterOutcome::OutOfOrder;
        }
        self.aors.remove(aor);
        self.generation = self.generation.wrapping_add(1);
        RegisterOutcome::Ok {
            bindings: Vec::new(),
            changed: true,
        }
    }

    /// Drops the expired bindings of one AOR; true if there were any.
    fn purge_expired(&mut self, aor: &str, now: Time) -> bool {
        let Some(list) = self.aors.get_mut(aor) else {
            return false;
        };
        let before = list.len();
        list.retain(|b| b.is_live(now));
        let purged = list.len() != before;
        if list.is_empty() {
            self.aors.remove(aor);
        }
        if purged {
            self.generation = self.generation.wrapping_add(1);
        }
        purged
    }

    /// Live bindings of `aor`, highest q first (an unspecified q counts as 1.0), then most
    /// recently written first.
    pub fn lookup(&self, aor: &str, now: Time) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = match self.aors.get(aor) {
            Some(list) => list.iter().filter(|b| b.is_live(now)).collect(),
            None => Vec::new(),
        };
        v.sort_by(|a, b| {
            let (qa, qb) = (a.q.unwrap_or(1000), b.q.unwrap_or(1000));
            qb.cmp(&qa).then(b.registered_at.cmp(&a.registered_at))
        });
        v
    }

    fn lookup_owned(&self, aor: &str, now: Time) -> Vec<Binding> {
        self.lookup(aor, now).into_iter().cloned().collect()
    }

    /// Drops expired bindings; returns the AORs that lost any.
    pub fn expire(&mut self, now: Time) -> Vec<String> {
        self.remove_where(|b| !b.is_live(now))
    }

    /// When the next binding expires (the time to call [`Registrar::expire`]).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.aors.values().flatten().map(|b| b.expires_at).min()
    }

    /// Removes every binding that uses `flow`, once its TCP connection is closed; returns the
    /// AORs that lost any. A UDP "flow" never closes, so this ignores UDP flows.
    pub fn flow_closed(&mut self, flow: Flow) -> Vec<String> {
        if !flow.transport.is_reliable() {
            return Vec::new();
        }
        self.remove_where(|b| b.flow == flow)
    }

    pub fn remove_aor(&mut self, aor: &str) {
        if self.aors.remove(aor).is_some() {
            self.generation = self.generation.wrapping_add(1);
        }
    }

    /// The AORs that have stored bindings (possibly expired but not yet collected).
    pub fn aors(&self) -> impl Iterator<Item = &str> {
        self.aors.keys().map(String::as_str)
    }

    fn remove_where(&mut self, mut gone: impl FnMut(&Binding) -> bool) -> Vec<String> {
        let mut changed = Vec::new();
        self.aors.retain(|aor, list| {
            let before = list.len();
            list.retain(|b| !gone(b));
            if list.len() != before {
                changed.push(aor.clone());
            }
            !list.is_empty()
        });
        if !changed.is_empty() {
            self.generation = self.generation.wrapping_add(1);
        }
        changed
    }
}

/// Whether two binding lists route the same way (order aside).
fn same_routes(a: &[Binding], b: &[Binding]) -> bool {
    a.len() == b.len() && b.iter().all(|nb| a.iter().any(|ob| ob.same_route(nb)))
}

fn truncate_user_agent(s: &str) -> String {
    let mut end = s.len().min(MAX_USER_AGENT_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests;
