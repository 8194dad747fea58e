//! The registrar's persistence format, so that phones stay reachable across a daemon restart
//! without waiting for their next REGISTER.
//!
//! The core's [`Time`] restarts at zero with the process, so a snapshot stores absolute
//! wall-clock instants (Unix milliseconds) handed in by the shell. The Contact is kept as its
//! string form and re-parsed on restore; an entry that does not parse or validate is skipped,
//! never fatal, because the file may be hand-edited or written by another version.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::binding::{Binding, Identity};
use super::{MAX_BINDINGS_PER_AOR, Registrar};
use crate::core::flow::{Flow, Transport};
use crate::core::msg::NameAddr;
use crate::core::time::Time;

/// The format version written by [`Registrar::snapshot`]; other versions are ignored on restore.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The registrar's state, serialisable (the shell writes it as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// Entries that fail to deserialise (wrong types, missing fields) are dropped one by one
    /// instead of failing the whole file.
    #[serde(default, deserialize_with = "lenient_entries")]
    pub bindings: Vec<SnapshotEntry>,
}

/// One binding with absolute wall-clock times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub aor: String,
    /// The Contact value as the phone sent it (`NameAddr` display form).
    pub contact: String,
    pub expires_unix_ms: u64,
    pub registered_unix_ms: u64,
    #[serde(default)]
    pub q: Option<u16>,
    pub call_id: String,
    pub cseq: u32,
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub reg_id: Option<u32>,
    /// `UDP` or `TCP`.
    pub transport: String,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    #[serde(default)]
    pub user_agent: Option<String>,
}

fn lenient_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SnapshotEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Good(Box<SnapshotEntry>),
        Bad(serde::de::IgnoredAny),
    }
    let all: Vec<Lenient> = Vec::deserialize(d)?;
    Ok(all
        .into_iter()
        .filter_map(|e| match e {
            Lenient::Good(e) => Some(*e),
            Lenient::Bad(_) => None,
        })
        .collect())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SnapshotEntry {
    fn from_binding(aor: &str, b: &Binding, now: Time, wall_now_unix_ms: u64) -> SnapshotEntry {
        SnapshotEntry {
            aor: aor.to_owned(),
            contact: b.contact.to_string(),
            expires_unix_ms: wall_now_unix_ms.saturating_add(millis(b.remaining(now))),
            registered_unix_ms: wall_now_unix_ms
                .saturating_sub(millis(now.saturating_since(b.registered_at))),
            q: b.q,
            call_id: b.call_id.clone(),
            cseq: b.cseq,
            instance: b.instance.clone(),
            reg_id: b.reg_id,
            transport: b.flow.transport.as_via().to_owned(),
            local: b.flow.local,
            remote: b.flow.remote,
            user_agent: b.user_agent.clone(),
        }
    }

    /// The binding on the restored process's clock, or `None` if it has expired or does not
    /// validate. The remaining lifetime is capped at `max_expires`, in case the wall clock went
    /// backwards since the snapshot.
    fn into_binding(self, now: Time, wall_now_unix_ms: u64, max_expires: u32) -> Option<Binding> {
        let remaining_ms = self
            .expires_unix_ms
            .checked_sub(wall_now_unix_ms)
            .filter(|&ms| ms > 0)?;
        let remaining =
            Duration::from_millis(remaining_ms).min(Duration::from_secs(u64::from(max_expires)));
        let age = Duration::from_millis(wall_now_unix_ms.saturating_sub(self.registered_unix_ms));
        let contact = NameAddr::parse(&self.contact).ok()?;
        contact.uri.as_sip()?;
        let transport = match self.transport.as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            _ => return None,
        };
        if self.aor.is_empty() || self.q.is_some_and(|q| q > 1000) {
            return None;
        }
        let reg_id = if self.instance.is_some() {
            self.reg_id
        } else {
            None
        };
        Some(Binding {
            contact,
            expires_at: now + remaining,
            q: self.q,
            call_id: self.call_id,
            cseq: self.cseq,
            instance: self.instance,
            reg_id,
            flow: Flow {
                transport,
                local: self.local,
                remote: self.remote,
            },
            user_agent: self.user_agent,
            registered_at: now - age,
        })
    }
}

impl Registrar {
    /// A serialisable copy of the live bindings with absolute expiry times; `wall_now_unix_ms`
    /// is the wall clock at `now`.
    pub fn snapshot(&self, now: Time, wall_now_unix_ms: u64) -> Snapshot {
        let bindings = self
            .aors
            .iter()
            .flat_map(|(aor, list)| list.iter().map(move |b| (aor, b)))
            .filter(|(_, b)| b.is_live(now))
            .map(|(aor, b)| SnapshotEntry::from_binding(aor, b, now, wall_now_unix_ms))
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            bindings,
        }
    }

    /// Restores a snapshot after a restart, dropping bindings already expired by wall-clock time
    /// and entries that do not validate. Bindings registered since the start win over restored
    /// ones for the same contact. Returns how many bindings were restored.
    ///
    /// TCP bindings are restored too although their connection died with the old process: the
    /// shell learns that on the first send and calls [`Registrar::flow_closed`].
    pub fn restore(&mut self, snap: Snapshot, now: Time, wall_now_unix_ms: u64) -> usize {
        if snap.version != SNAPSHOT_VERSION {
            return 0;
        }
        let max_expires = self.policy.max_expires;
        let mut restored = 0usize;
        for entry in snap.bindings {
            let aor = entry.aor.clone();
            let Some(b) = entry.into_binding(now, wall_now_unix_ms, max_expires) else {
                continue;
            };
            let Some(uri) = b.sip_uri() else { continue };
            let id = Identity {
                uri,
                instance: b.instance.as_deref(),
                reg_id: b.reg_id,
            };
            let list = self.aors.entry(aor).or_default();
            if list.len() >= MAX_BINDINGS_PER_AOR || list.iter().any(|o| o.matches(&id)) {
                continue;
            }
            list.push(b);
            restored += 1;
        }
        if restored > 0 {
            self.generation = self.generation.wrapping_add(1);
        }
        // `entry(..).or_default()` may have left empty lists behind for skipped entries.
        self.aors.retain(|_, list| !list.is_empty());
        restored
    }
}
