//! LAN reachability through mDNS/DNS-SD (RFC 6762/6763): each extension is published as a
//! `_sip._udp.local.` and a `_sip._tcp.local.` instance named `user@host`, and the instances
//! of other daemons on the link are kept in a live map.
//!
//! `mdns-sd` runs its own thread and talks over flume channels. Nothing here runs on a tokio
//! worker: browse events are drained by one plain thread per service type (the crate drops a
//! subscription whose channel fills up, so they must be read promptly), and the few calls that
//! wait (`withdraw`) are blocking and belong in `spawn_blocking`.
//!
//! Creating an [`Mdns`] joins the mDNS multicast groups on every interface at once, so tests
//! only ever create one inside a network namespace of their own (see tests/mdns.rs).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mdns_sd::{ResolvedService, ServiceDaemon, ServiceEvent, ServiceInfo, UnregisterStatus};
use thiserror::Error;
use tracing::{debug, warn};

use crate::core::locate::{Target, Transport};

/// The DNS-SD service type for each transport we publish (RFC 3263 §4.1 names).
const SERVICE_TYPES: [(Transport, &str); 2] = [
    (Transport::Udp, "_sip._udp.local."),
    (Transport::Tcp, "_sip._tcp.local."),
];

/// A TXT string is at most 255 bytes (RFC 6763 §6.1), `ids=` included.
const MAX_TXT_STRING: usize = 255;
/// Bounds on what one LAN host can make us keep.
const MAX_PEERS: usize = 1024;
const MAX_IDS: usize = 32;
/// How long `withdraw` waits for the daemon thread to confirm each goodbye.
const WITHDRAW_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Error)]
pub enum MdnsError {
    #[error("mdns: {0}")]
    Daemon(#[from] mdns_sd::Error),
    #[error("mdns: cannot publish {what:?}: {why}")]
    Name { what: String, why: &'static str },
}

/// One SIP service instance seen on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The instance name, `user@host` for another sipwitch.
    pub instance: String,
    /// The `user` TXT property.
    pub user: String,
    /// The identities (`name@domain`) from the `ids` TXT property.
    pub identities: Vec<String>,
    /// The mDNS host name, `bobhost.local.`.
    pub host: String,
    /// Sorted, IPv4 first.
    pub addrs: Vec<IpAddr>,
    pub port: u16,
    pub transport: Transport,
}

impl Peer {
    fn targets(&self) -> impl Iterator<Item = Target> + '_ {
        self.addrs.iter().map(|ip| Target {
            transport: self.transport,
            addr: SocketAddr::new(*ip, self.port),
        })
    }
}

/// The live map, keyed by (full service name, transport), and a signal for waiters.
#[derive(Debug, Default)]
struct Shared {
    peers: Mutex<HashMap<String, Peer>>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Peer>> {
        // A browse thread that panicked mid-update leaves a map that is still a valid map.
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sorted(&self) -> Vec<Peer> {
        sorted(self.lock().values())
    }

    fn apply(&self, transport: Transport, event: ServiceEvent) {
        let mut peers = self.lock();
        match event {
            ServiceEvent::ServiceResolved(rs) => match peer_from(&rs, transport) {
                Some(peer) => {
                    if peers.len() >= MAX_PEERS && !peers.contains_key(&rs.fullname) {
                        warn!(instance = %peer.instance, "mdns: too many peers, ignoring");
                        return;
                    }
                    debug!(instance = %peer.instance, host = %peer.host, "mdns: peer resolved");
                    peers.insert(rs.fullname.to_ascii_lowercase(), peer);
                }
                None => debug!(name = %rs.fullname, "mdns: ignoring an instance without user"),
            },
            ServiceEvent::ServiceRemoved(_, fullname) => {
                debug!(name = %fullname, "mdns: peer removed");
                peers.remove(&fullname.to_ascii_lowercase());
            }
            _ => return,
        }
        drop(peers);
        self.changed.notify_all();
    }
}

/// A running mDNS responder and browser.
pub struct Mdns {
    daemon: ServiceDaemon,
    /// Full names of what `publish` registered, for `withdraw`.
    published: Vec<String>,
    shared: Arc<Shared>,
}

impl Mdns {
    /// Starts the mDNS thread on every interface (it joins the multicast groups now).
    pub fn new() -> Result<Mdns, MdnsError> {
        Ok(Mdns {
            daemon: ServiceDaemon::new()?,
            published: Vec::new(),
            shared: Arc::default(),
        })
    }

    /// Publishes one `_sip._udp` (when `port_udp` is given) and one `_sip._tcp` (when
    /// `port_tcp` is given) instance per user, named `user@host`, with TXT `user=<name>` and
    /// `ids=<identities, comma-separated>`; the addresses follow the interfaces. `host` is the
    /// machine name; its first label becomes `<label>.local.`.
    pub fn publish(
        &mut self,
        users: &[(String, Vec<String>)],
        port_udp: Option<u16>,
        port_tcp: Option<u16>,
        host: &str,
    ) -> Result<(), MdnsError> {
        let label = host_label(host)?;
        let hostname = format!("{label}.local.");
        for (user, ids) in users {
            if user.is_empty() || user.contains(',') {
                return Err(MdnsError::Name {
                    what: user.clone(),
                    why: "not a user name",
                });
            }
            let instance = format!("{user}@{label}");
            let ids = ids_txt(ids);
            for (transport, ty) in SERVICE_TYPES {
                let port = match transport {
                    Transport::Udp => port_udp,
                    _ => port_tcp,
                };
                let Some(port) = port else { continue };
                let props = [("user", user.as_str()), ("ids", ids.as_str())];
                let info = ServiceInfo::new(ty, &instance, &hostname, "", port, &props[..])?
                    .enable_addr_auto();
                let fullname = info.get_fullname().to_owned();
                self.daemon.register(info)?;
                self.published.push(fullname);
            }
        }
        Ok(())
    }

    /// Unregisters everything `publish` registered (goodbye packets, so peers forget us now
    /// rather than when the records expire). Blocks for at most a few seconds.
    pub fn withdraw(&mut self) {
        let waits: Vec<_> = self
            .published
            .drain(..)
            .filter_map(|name| match self.daemon.unregister(&name) {
                Ok(rx) => Some((name, rx)),
                Err(e) => {
                    warn!(name = %name, error = %e, "mdns: could not withdraw");
                    None
                }
            })
            .collect();
        let deadline = Instant::now() + WITHDRAW_WAIT;
        for (name, rx) in waits {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(UnregisterStatus::OK) => debug!(name = %name, "mdns: withdrawn"),
                Ok(UnregisterStatus::NotFound) => warn!(name = %name, "mdns: was not published"),
                Err(e) => warn!(name = %name, error = %e, "mdns: withdraw not confirmed"),
            }
        }
    }

    /// Starts following the `_sip._udp` and `_sip._tcp` instances on the link; see
    /// [`Mdns::peers`]. The browse threads end when the mDNS thread does.
    pub fn browse(&self) -> Result<(), MdnsError> {
        for (transport, ty) in SERVICE_TYPES {
            let rx = self.daemon.browse(ty)?;
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name(format!("mdns-{}", ty.trim_end_matches(".local.")))
                .spawn(move || {
                    while let Ok(event) = rx.recv() {
                        shared.apply(transport, event);
                    }
                })
                .map_err(|e| mdns_sd::Error::Msg(format!("browse thread: {e}")))?;
        }
        Ok(())
    }

    /// What is on the link now, sorted by instance then transport.
    pub fn peers(&self) -> Vec<Peer> {
        self.shared.sorted()
    }

    /// Waits until `ready` holds for the peers on the link, or `timeout` passes; says which.
    pub fn wait_peers(&self, timeout: Duration, ready: impl Fn(&[Peer]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.shared.lock();
        loop {
            if ready(&sorted(guard.values())) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.shared.changed.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Where to send to `name`: a host (`bobhost.local`, with or without the final dot) or an
    /// instance (`bob@bobhost`). UDP targets come before TCP ones. `None` when nothing on the
    /// link matches.
    pub fn resolve_local(&self, name: &str) -> Option<Vec<Target>> {
        resolve_in(&self.shared.sorted(), name)
    }

    /// Stops the mDNS thread (and with it the browse threads). Does not withdraw.
    pub fn shutdown(&self) {
        if let Err(e) = self.daemon.shutdown() {
            debug!(error = %e, "mdns: shutdown");
        }
    }
}

impl std::fmt::Debug for Mdns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdns")
            .field("published", &self.published)
            .field("peers", &self.shared.sorted().len())
            .finish_non_exhaustive()
    }
}

impl Drop for Mdns {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn sorted<'a>(peers: impl Iterator<Item = &'a Peer>) -> Vec<Peer> {
    let mut peers: Vec<Peer> = peers.cloned().collect();
    peers.sort_by(|a, b| (&a.instance, a.transport).cmp(&(&b.instance, b.transport)));
    peers
}

/// See [`Mdns::resolve_local`].
fn resolve_in(peers: &[Peer], name: &str) -> Option<Vec<Target>> {
    let want = name.trim_end_matches('.');
    let mut matching: Vec<&Peer> = peers
        .iter()
        .filter(|p| {
            p.instance.eq_ignore_ascii_case(want)
                || p.host.trim_end_matches('.').eq_ignore_ascii_case(want)
        })
        .collect();
    // Stable: the address order inside a transport stays.
    matching.sort_by_key(|p| p.transport);
    let mut targets: Vec<Target> = Vec::new();
    for t in matching.into_iter().flat_map(Peer::targets) {
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    (!targets.is_empty()).then_some(targets)
}

/// The first label of the machine name, lowercased: the `.local` host name to publish.
fn host_label(host: &str) -> Result<String, MdnsError> {
    let label = host
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let ok = !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(label)
    } else {
        Err(MdnsError::Name {
            what: host.to_owned(),
            why: "not usable as a .local host name",
        })
    }
}

/// As many whole identities as fit in one TXT string.
fn ids_txt(ids: &[String]) -> String {
    let mut out = String::new();
    for id in ids.iter().take(MAX_IDS) {
        let extra = usize::from(!out.is_empty()) + id.len();
        if "ids=".len() + out.len() + extra > MAX_TXT_STRING || id.contains(',') {
            warn!(identity = %id, "mdns: identity left out of the ids TXT");
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(id);
    }
    out
}

/// The instance name of a full service name: `alice@host._sip._udp.local.` → `alice@host`.
fn instance_of(fullname: &str, ty: &str) -> String {
    let raw = fullname
        .len()
        .checked_sub(ty.len() + 1)
        .and_then(|n| fullname.get(..n))
        .filter(|_| {
            fullname
                .get(fullname.len().saturating_sub(ty.len())..)
                .is_some_and(|t| t.eq_ignore_ascii_case(ty))
        })
        .unwrap_or(fullname);
    // DNS-SD escapes dots and backslashes inside the instance label.
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// A peer from a resolved instance; `None` unless it says which user it serves.
fn peer_from(rs: &ResolvedService, transport: Transport) -> Option<Peer> {
    let user = rs.get_property_val_str("user")?.trim();
    if user.is_empty() || rs.port == 0 {
        return None;
    }
    let identities = rs
        .get_property_val_str("ids")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(MAX_IDS)
        .map(str::to_owned)
        .collect();
    let mut addrs: Vec<IpAddr> = rs.addresses.iter().map(|a| a.to_ip_addr()).collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    addrs.dedup();
    Some(Peer {
        instance: instance_of(&rs.fullname, &rs.ty_domain),
        user: user.to_owned(),
        identities,
        host: rs.host.to_ascii_lowercase(),
        addrs,
        port: rs.port,
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(ty: &str, instance: &str, props: &[(&str, &str)]) -> ResolvedService {
        ServiceInfo::new(
            ty,
            instance,
            "BobHost.local.",
            "10.0.0.2,fd00::2,10.0.0.1",
            5070,
            props,
        )
        .unwrap()
        .as_resolved_service()
    }

    #[test]
    fn peer_from_a_resolved_instance() {
        let rs = resolved(
            "_sip._udp.local.",
            "bob@bobhost",
            &[("user", "bob"), ("ids", "bob@bob.test, bobby@bob.test,,")],
        );
        let p = peer_from(&rs, Transport::Udp).unwrap();
        assert_eq!(p.instance, "bob@bobhost");
        assert_eq!(p.user, "bob");
        assert_eq!(p.identities, ["bob@bob.test", "bobby@bob.test"]);
        assert_eq!(p.host, "bobhost.local.");
        assert_eq!(
            p.addrs,
            ["10.0.0.1", "10.0.0.2", "fd00::2"].map(|a| a.parse::<IpAddr>().unwrap())
        );
        assert_eq!(p.port, 5070);
        // Not one of ours: no user.
        let other = resolved("_sip._udp.local.", "printer", &[("x", "y")]);
        assert_eq!(peer_from(&other, Transport::Udp), None);
    }

    #[test]
    fn instance_names_are_unescaped() {
        assert_eq!(
            instance_of("a\\.b@h._sip._tcp.local.", "_sip._tcp.local."),
            "a.b@h"
        );
        assert_eq!(instance_of("odd", "_sip._tcp.local."), "odd");
    }

    #[test]
    fn host_labels_and_ids() {
        assert_eq!(host_label("BoxOne.example.org").unwrap(), "boxone");
        assert!(host_label("").is_err());
        assert!(host_label("bad host").is_err());
        let ids: Vec<String> = (0..40)
            .map(|i| format!("user{i:02}@example.test"))
            .collect();
        let txt = ids_txt(&ids);
        assert!(txt.len() + 4 <= MAX_TXT_STRING);
        assert!(txt.starts_with("user00@example.test,user01@example.test"));
        assert!(txt.split(',').all(|id| ids.iter().any(|i| i == id)));
    }

    #[test]
    fn resolve_local_by_host_or_instance() {
        let shared = Shared::default();
        for (transport, ty) in SERVICE_TYPES.into_iter().rev() {
            let rs = resolved(ty, "bob@bobhost", &[("user", "bob")]);
            shared.apply(transport, ServiceEvent::ServiceResolved(Box::new(rs)));
        }
        let peers = shared.sorted();
        assert_eq!(peers.len(), 2);
        let t = |tr, a: &str| Target {
            transport: tr,
            addr: a.parse().unwrap(),
        };
        let want = vec![
            t(Transport::Udp, "10.0.0.1:5070"),
            t(Transport::Udp, "10.0.0.2:5070"),
            t(Transport::Udp, "[fd00::2]:5070"),
            t(Transport::Tcp, "10.0.0.1:5070"),
            t(Transport::Tcp, "10.0.0.2:5070"),
            t(Transport::Tcp, "[fd00::2]:5070"),
        ];
        for name in ["bobhost.local", "BobHost.local.", "bob@bobhost"] {
            assert_eq!(resolve_in(&peers, name), Some(want.clone()), "{name}");
        }
        assert_eq!(resolve_in(&peers, "alice@bobhost"), None);
        assert_eq!(resolve_in(&peers, "bobhost"), None);
        shared.apply(
            Transport::Udp,
            ServiceEvent::ServiceRemoved(
                "_sip._udp.local.".into(),
                "bob@bobhost._sip._udp.local.".into(),
            ),
        );
        let left = shared.sorted();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].transport, Transport::Tcp);
    }
}
