//! Locating SIP servers (RFC 3263), sans-IO: which DNS records to ask for next, and, from the
//! records the shell hands back, which `(transport, address)` targets to try in which order.
//!
//! The core owns no resolver. A shell drives a [`Locator`] in a loop:
//!
//! ```text
//! let mut loc = Locator::new(&uri, DEFAULT_SUPPORTED, seed);
//! loop {
//!     match loc.poll() {
//!         Step::Lookup(q) => loc.answer(shell_lookup(&q).await), // NAPTR, SRV or A+AAAA
//!         Step::Done(targets) => break try_in_order(targets),     // failover: targets.next()
//!         Step::Failed(e) => break respond(e.status()),
//!     }
//! }
//! ```
//!
//! Decisions the RFC leaves open, taken here:
//! - Transport preference is the order of the `supported` slice (default UDP, then TCP). It is
//!   used for the SRV queries made when there is no usable NAPTR, and for the transport of a
//!   numeric or explicit-port target (RFC 3263 §4.1 says UDP for `sip:`, TLS for `sips:`; with
//!   UDP supported that is what the default order yields).
//! - Every usable NAPTR (and every SRV name in the fallback) contributes targets, in order, so
//!   that failover (§4.3) can move on to the next transport too, not only to the next host.
//! - All lookups are done before any target is handed out: the list is short, and the shell
//!   caches it for [`Targets::ttl`] seconds.
//! - IPv4/IPv6 order within one host is the order the shell supplied (its resolver policy).
//! - When usable NAPTRs point at SRV names that give nothing, the domain's own A/AAAA records
//!   are not tried: §4.2 falls back to them only when no NAPTR selected the transport.
//! - Negative answers (NXDOMAIN, NODATA) carry no TTL here, so they do not shorten
//!   [`Targets::ttl`]; a shell that caches failures picks its own negative TTL.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::core::flow;
use crate::core::msg::{Host, SipUri};

/// At most this many lookups per location: a hostile zone cannot make us query forever.
pub const MAX_QUERIES: usize = 24;
/// At most this many targets in the final list (failover past this point is pointless).
pub const MAX_TARGETS: usize = 32;
/// At most this many usable NAPTR records are followed.
const MAX_NAPTR: usize = 8;
/// At most this many SRV records of one name are resolved.
const MAX_SRV: usize = 16;

/// The transports RFC 3263 can select. TLS is representable so that records naming it parse
/// and are skipped, until the daemon speaks it (see [`Transport::flow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// SIP over UDP (`SIP+D2U`, `_sip._udp`).
    Udp,
    /// SIP over TCP (`SIP+D2T`, `_sip._tcp`).
    Tcp,
    /// SIP over TLS over TCP (`SIPS+D2T`, `_sips._tcp`); the only transport for `sips:`.
    Tls,
}

/// What the daemon speaks today, in preference order.
pub const DEFAULT_SUPPORTED: &[Transport] = &[Transport::Udp, Transport::Tcp];

impl Transport {
    /// The port used when neither the URI nor an SRV record gives one (RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
        }
    }
    /// The SRV owner-name prefix for this transport (RFC 3263 §4.1), with its trailing dot.
    pub fn srv_prefix(self) -> &'static str {
        match self {
            Transport::Udp => "_sip._udp.",
            Transport::Tcp => "_sip._tcp.",
            Transport::Tls => "_sips._tcp.",
        }
    }
    /// The socket-level transport, or `None` while the daemon has no TLS.
    pub fn flow(self) -> Option<flow::Transport> {
        match self {
            Transport::Udp => Some(flow::Transport::Udp),
            Transport::Tcp => Some(flow::Transport::Tcp),
            Transport::Tls => None,
        }
    }
    /// The transport a NAPTR `services` field names; `None` for ones we do not know (SCTP,
    /// WebSocket, …).
    fn from_service(services: &str) -> Option<Transport> {
        let s = services.to_ascii_uppercase();
        match s.as_str() {
            "SIP+D2U" => Some(Transport::Udp),
            "SIP+D2T" => Some(Transport::Tcp),
            "SIPS+D2T" => Some(Transport::Tls),
            _ => None,
        }
    }
    /// The transport a `transport=` URI parameter names. In a `sips:` URI `tcp` means TLS over
    /// TCP (RFC 3261 §26.2.2) and `udp` is contradictory, so it names nothing.
    fn from_param(param: &str, secure: bool) -> Option<Transport> {
        let p = param.to_ascii_lowercase();
        match (p.as_str(), secure) {
            ("udp", false) => Some(Transport::Udp),
            ("tcp", false) => Some(Transport::Tcp),
            ("tcp" | "tls", true) | ("tls", false) => Some(Transport::Tls),
            _ => None,
        }
    }
}

/// One place to send a request: the transport and the peer's socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// How to reach the peer.
    pub transport: Transport,
    /// Where.
    pub addr: SocketAddr,
}

/// A NAPTR record (RFC 3403) as the shell read it. The regexp field is not carried: RFC 3263
/// uses only the replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    /// Lower is tried first.
    pub order: u16,
    /// Lower is tried first among equal `order`.
    pub preference: u16,
    /// Only `s` (next lookup is SRV) is followed; other flags are skipped.
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`; anything else is skipped.
    pub services: String,
    /// The SRV owner name to query next (`.` means none).
    pub replacement: String,
    /// Seconds the record may be cached.
    pub ttl: u32,
}

/// An SRV record (RFC 2782) as the shell read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share of selections within one priority.
    pub weight: u16,
    /// The port of the service on `target`.
    pub port: u16,
    /// The host to resolve; `.` means "service decidedly not available".
    pub target: String,
    /// Seconds the record may be cached.
    pub ttl: u32,
}

/// An A or AAAA record as the shell read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    /// The address.
    pub ip: IpAddr,
    /// Seconds the record may be cached.
    pub ttl: u32,
}

/// What the core asks the shell to look up. Names are absolute, with a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// NAPTR records of the name.
    Naptr(String),
    /// SRV records of the name (`_sip._udp.example.org.`).
    Srv(String),
    /// A and AAAA records of the name, in one answer.
    Addresses(String),
}

impl Query {
    /// The name to look up.
    pub fn name(&self) -> &str {
        match self {
            Query::Naptr(n) | Query::Srv(n) | Query::Addresses(n) => n,
        }
    }
}

/// The shell's answer to the current [`Query`]. A record list of the wrong kind, or an empty
/// one, counts as [`Answer::NoRecords`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Records for a [`Query::Naptr`].
    Naptr(Vec<Naptr>),
    /// Records for a [`Query::Srv`].
    Srv(Vec<Srv>),
    /// Records for a [`Query::Addresses`] (A and AAAA together).
    Addresses(Vec<Address>),
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no records of that type (NODATA).
    NoRecords,
    /// The lookup timed out or the server failed (SERVFAIL, REFUSED, network error): we do not
    /// know the answer.
    Failed,
}

/// Why no target could be found. [`LocateError::status`] is the one place these map to SIP.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    /// The domain does not exist (NXDOMAIN for the URI's host itself).
    #[error("{name}: no such domain")]
    NoSuchDomain {
        /// The name that does not exist.
        name: String,
    },
    /// The records exist but lead to nothing we can use: no transport in common (a `sips:` URI
    /// without TLS), an SRV target of `.`, hosts without addresses, or no records at all.
    #[error("{name}: no usable SIP target")]
    NoTargets {
        /// The host that was being located.
        name: String,
    },
    /// A lookup timed out or the DNS server failed, and nothing else gave a target.
    #[error("{name}: DNS lookup timed out or failed")]
    Timeout {
        /// The host that was being located.
        name: String,
    },
}

impl LocateError {
    /// The status a proxy answers with:
    /// - `NoSuchDomain` → 404: the DNS said authoritatively that the host is absent. Not 604:
    ///   a 6xx would cancel every other branch of a forked request, for one bad contact.
    /// - `NoTargets` → 404: the answer is definitive too, and 503 would make upstream fail
    ///   over to another proxy that would read the same DNS data.
    /// - `Timeout` → 503: transient; RFC 3263 §4.3 makes upstream try another server on 503,
    ///   which may have a working resolver.
    pub fn status(&self) -> u16 {
        match self {
            LocateError::NoSuchDomain { .. } | LocateError::NoTargets { .. } => 404,
            LocateError::Timeout { .. } => 503,
        }
    }
}

/// The ordered targets, with failover: iterate, and on a transaction timeout, a 503
/// ([`is_failover_status`]) or a transport error, take the next one (RFC 3263 §4.3).
/// ACK for a non-2xx and CANCEL must go where the request went, not to the next target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    list: Vec<Target>,
    next: usize,
    ttl: Option<u32>,
}

impl Targets {
    /// Every target, in the order to try them.
    pub fn all(&self) -> &[Target] {
        &self.list
    }
    /// The targets not handed out by `next()` yet.
    pub fn remaining(&self) -> &[Target] {
        self.list.get(self.next..).unwrap_or_default()
    }
    /// How long (seconds) the shell may cache this list: the smallest TTL among the records
    /// that were used. `None` when no DNS was involved (numeric host).
    pub fn ttl(&self) -> Option<u32> {
        self.ttl
    }
}

/// The first call gives the first target; each further call is a failover to the next.
impl Iterator for Targets {
    type Item = Target;
    fn next(&mut self) -> Option<Target> {
        let t = self.list.get(self.next).copied();
        if t.is_some() {
            self.next += 1;
        }
        t
    }
}

/// The responses after which a client moves to the next target (RFC 3263 §4.3). Timeouts and
/// transport errors fail over too, but are not responses.
pub fn is_failover_status(status: u16) -> bool {
    status == 503
}

/// What the shell should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Do this lookup and feed the result to [`Locator::answer`].
    Lookup(Query),
    /// Finished: try these targets in order.
    Done(Targets),
    /// Finished without a target.
    Failed(LocateError),
}

/// A unit of work; the front of the queue is the current one. Work is depth-first (the
/// address lookups of an SRV set run before the next SRV name), so targets land in try order.
#[derive(Clone, Debug)]
enum Job {
    /// NAPTR of the domain.
    Naptr,
    /// SRV of `name`, whose targets are reached over `transport`.
    Srv { name: String, transport: Transport },
    /// A/AAAA of `name`, mapped to `port` and `transport`; `domain` when `name` is the URI's
    /// own host (then NXDOMAIN means the domain does not exist).
    Addresses {
        name: String,
        port: u16,
        transport: Transport,
        domain: bool,
    },
    /// After the guessed SRV names: if none had records, A/AAAA of the domain (§4.2).
    FallbackIfNoSrv { transport: Transport },
}

/// An RFC 3263 resolution in progress. See the module documentation for the driving loop.
#[derive(Debug)]
pub struct Locator {
    /// The host being located: an FQDN with trailing dot, or an IP literal's text.
    domain: String,
    /// Supported transports allowed by the scheme, in preference order.
    allowed: Vec<Transport>,
    rng: u64,
    jobs: VecDeque<Job>,
    /// A/AAAA answers already received, so that a host named by several SRV records is asked
    /// once. An empty list is a negative answer.
    addresses: HashMap<String, Vec<IpAddr>>,
    targets: Vec<Target>,
    ttl: Option<u32>,
    queries: usize,
    srv_found: bool,
    nxdomain: bool,
    transient: bool,
    /// Set once a result is known; `poll` keeps returning it.
    outcome: Option<Step>,
}

impl Locator {
    /// Starts locating the server for `uri` (its `maddr`, else its host; port; `transport`
    /// parameter; scheme). `supported` lists the transports we can use, in preference order;
    /// `seed` is the randomness for the RFC 2782 weighted choice.
    pub fn new(uri: &SipUri, supported: &[Transport], seed: u64) -> Locator {
        let secure = uri.secure;
        let mut allowed: Vec<Transport> = Vec::new();
        for &t in supported {
            // A sips: URI must use TLS all the way (RFC 3261 §26.2.2).
            if (t == Transport::Tls || !secure) && !allowed.contains(&t) {
                allowed.push(t);
            }
        }
        // RFC 3263 §4: maddr, when present, replaces the host as the target.
        let host = match uri.params.value("maddr") {
            Some(m) => Host::parse(m),
            None => Some(uri.host.clone()),
        };
        let mut loc = Locator {
            domain: match &host {
                Some(Host::Name(n)) => fqdn(n),
                Some(h) => h.to_string(),
                None => uri.host.to_string(),
            },
            allowed,
            rng: seed,
            jobs: VecDeque::new(),
            addresses: HashMap::new(),
            targets: Vec::new(),
            ttl: None,
            queries: 0,
            srv_found: false,
            nxdomain: false,
            transient: false,
            outcome: None,
        };
        let param = uri.transport();
        let transport = match &param {
            Some(p) => Transport::from_param(p, secure).filter(|t| loc.allowed.contains(t)),
            None => loc.default_transport(),
        };
        let Some(transport) = transport else {
            // Nothing in common (unknown transport, sips without TLS): no lookup can help.
            return loc;
        };
        match host {
            // An unparsable maddr: nowhere to go.
            None => {}
            Some(Host::V4(a)) => loc.push_numeric(IpAddr::V4(a), uri.port, transport),
            Some(Host::V6(a)) => loc.push_numeric(IpAddr::V6(a), uri.port, transport),
            Some(Host::Name(_)) => {
                if let Some(port) = uri.port {
                    // §4.2: an explicit port means no NAPTR/SRV, only the name's addresses.
                    loc.jobs.push_back(Job::Addresses {
                        name: loc.domain.clone(),
                        port,
                        transport,
                        domain: true,
                    });
                } else if param.is_some() {
                    // §4.1: the transport is fixed; SRV for it, else the name on its default port.
                    loc.jobs.push_back(Job::Srv {
                        name: format!("{}{}", transport.srv_prefix(), loc.domain),
                        transport,
                    });
                    loc.jobs.push_back(Job::FallbackIfNoSrv { transport });
                } else {
                    loc.jobs.push_back(Job::Naptr);
                }
            }
        }
        loc
    }

    /// The next thing to do. Calling it again without an answer returns the same query.
    pub fn poll(&mut self) -> Step {
        if let Some(done) = &self.outcome {
            return done.clone();
        }
        while let Some(job) = self.jobs.front().cloned() {
            let query = match job {
                Job::Naptr => Query::Naptr(self.domain.clone()),
                Job::Srv { name, .. } => Query::Srv(name),
                Job::Addresses { ref name, .. } => {
                    if let Some(ips) = self.addresses.get(name).cloned() {
                        self.jobs.pop_front();
                        self.apply_addresses(&job, &ips);
                        continue;
                    }
                    Query::Addresses(name.clone())
                }
                Job::FallbackIfNoSrv { transport } => {
                    self.jobs.pop_front();
                    if !self.srv_found {
                        self.jobs.push_front(Job::Addresses {
                            name: self.domain.clone(),
                            port: transport.default_port(),
                            transport,
                            domain: true,
                        });
                    }
                    continue;
                }
            };
            if self.queries >= MAX_QUERIES || self.targets.len() >= MAX_TARGETS {
                self.jobs.clear();
                break;
            }
            return Step::Lookup(query);
        }
        let step = self.finish();
        self.outcome = Some(step.clone());
        step
    }

    /// Feeds the answer to the query [`Locator::poll`] returned. Ignored when no query is
    /// outstanding.
    pub fn answer(&mut self, answer: Answer) {
        if self.outcome.is_some() {
            return;
        }
        let Some(job) = self.jobs.front().cloned() else {
            return;
        };
        if matches!(job, Job::FallbackIfNoSrv { .. }) {
            return;
        }
        self.jobs.pop_front();
        self.queries += 1;
        match job {
            Job::Naptr => self.on_naptr(answer),
            Job::Srv { transport, .. } => self.on_srv(answer, transport),
            Job::Addresses { ref name, .. } => {
                let ips = match answer {
                    Answer::Addresses(records) => {
                        for r in &records {
                            self.note_ttl(r.ttl);
                        }
                        records.iter().map(|r| r.ip).collect()
                    }
                    Answer::NxDomain if matches!(job, Job::Addresses { domain: true, .. }) => {
                        self.nxdomain = true;
                        Vec::new()
                    }
                    Answer::Failed => {
                        self.transient = true;
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
                self.addresses.insert(name.clone(), ips.clone());
                self.apply_addresses(&job, &ips);
            }
            Job::FallbackIfNoSrv { .. } => {}
        }
    }

    /// §4.2: a numeric host needs no lookup.
    fn push_numeric(&mut self, ip: IpAddr, port: Option<u16>, transport: Transport) {
        self.push_target(Target {
            transport,
            addr: SocketAddr::new(ip, port.unwrap_or(transport.default_port())),
        });
    }

    /// RFC 3263 §4.1: sip: prefers UDP (else TCP), sips: uses TLS; among what we support.
    fn default_transport(&self) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|t| self.allowed.contains(t))
    }

    fn on_naptr(&mut self, answer: Answer) {
        let records = match answer {
            Answer::Naptr(r) => r,
            Answer::NxDomain => {
                self.nxdomain = true;
                return;
            }
            Answer::Failed => {
                // Some servers mishandle NAPTR; the SRV and A queries may still work.
                self.transient = true;
                Vec::new()
            }
            _ => Vec::new(),
        };
        let usable = usable_naptr(records, &self.allowed);
        if usable.is_empty() {
            // §4.1: no NAPTR → SRV for each transport we support, in our preference order.
            for &t in &self.allowed {
                self.jobs.push_back(Job::Srv {
                    name: format!("{}{}", t.srv_prefix(), self.domain),
                    transport: t,
                });
            }
            if let Some(t) = self.default_transport() {
                self.jobs.push_back(Job::FallbackIfNoSrv { transport: t });
            }
            return;
        }
        let mut seen: Vec<(String, Transport)> = Vec::new();
        for (n, t) in usable.into_iter().take(MAX_NAPTR) {
            self.note_ttl(n.ttl);
            let name = fqdn(&n.replacement);
            if !seen.contains(&(name.clone(), t)) {
                seen.push((name.clone(), t));
                self.jobs.push_back(Job::Srv { name, transport: t });
            }
        }
    }

    fn on_srv(&mut self, answer: Answer, transport: Transport) {
        let records = match answer {
            Answer::Srv(r) if !r.is_empty() => r,
            Answer::Failed => {
                self.transient = true;
                return;
            }
            _ => return,
        };
        // Records exist, even if only ".": the domain publishes SRV, so no A fallback (§4.2).
        self.srv_found = true;
        let records: Vec<Srv> = records
            .into_iter()
            .filter(|r| fqdn(&r.target) != "." && r.port != 0)
            .collect();
        for r in &records {
            self.note_ttl(r.ttl);
        }
        let seed = splitmix(&mut self.rng);
        let ordered = order_srv(records, seed);
        // Depth-first: these run before the next SRV name, in SRV order.
        for r in ordered.into_iter().take(MAX_SRV).rev() {
            self.jobs.push_front(Job::Addresses {
                name: fqdn(&r.target),
                port: r.port,
                transport,
                domain: false,
            });
        }
    }

    fn apply_addresses(&mut self, job: &Job, ips: &[IpAddr]) {
        if let Job::Addresses {
            port, transport, ..
        } = *job
        {
            for &ip in ips {
                // An unspecified address is not a destination.
                if !ip.is_unspecified() {
                    self.push_target(Target {
                        transport,
                        addr: SocketAddr::new(ip, port),
                    });
                }
            }
        }
    }

    fn push_target(&mut self, t: Target) {
        if self.targets.len() < MAX_TARGETS && !self.targets.contains(&t) {
            self.targets.push(t);
        }
    }

    fn note_ttl(&mut self, ttl: u32) {
        self.ttl = Some(self.ttl.map_or(ttl, |t| t.min(ttl)));
    }

    fn finish(&mut self) -> Step {
        let name = self.domain.clone();
        if !self.targets.is_empty() {
            return Step::Done(Targets {
                list: std::mem::take(&mut self.targets),
                next: 0,
                ttl: self.ttl,
            });
        }
        // NXDOMAIN for the host is authoritative; otherwise a failed lookup may be why we
        // found nothing, and that is worth a retry elsewhere.
        Step::Failed(if self.nxdomain {
            LocateError::NoSuchDomain { name }
        } else if self.transient {
            LocateError::Timeout { name }
        } else {
            LocateError::NoTargets { name }
        })
    }
}

/// NAPTR records RFC 3263 §4.1 lets us use, in (order, preference) order (stable, so equal
/// keys keep server order), with the transport each one selects. Only terminal `s` records
/// with a replacement are followed; regexp-based and non-terminal rewrites are not.
pub fn usable_naptr(records: Vec<Naptr>, allowed: &[Transport]) -> Vec<(Naptr, Transport)> {
    let mut usable: Vec<(Naptr, Transport)> = records
        .into_iter()
        .filter(|n| n.flags.eq_ignore_ascii_case("s") && fqdn(&n.replacement) != ".")
        .filter_map(|n| {
            let t = Transport::from_service(&n.services)?;
            allowed.contains(&t).then_some((n, t))
        })
        .collect();
    usable.sort_by_key(|(n, _)| (n.order, n.preference));
    usable
}

/// RFC 2782 ordering: by priority ascending; within a priority, repeated weighted random picks.
/// `seed` makes it deterministic. Two deliberate readings of the RFC's selection rule:
/// - weight-0 records are put first and share one chance in `sum + 1`, as the RFC says, but
///   when a group has no weight-0 record the draw is from `1..=sum`: the RFC's inclusive
///   `0..=sum` would give the first record an extra, unearned chance;
/// - when only weight-0 records remain, the pick is uniform, to spread load.
pub fn order_srv(mut records: Vec<Srv>, seed: u64) -> Vec<Srv> {
    let mut rng = seed;
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    let mut group: Vec<Srv> = Vec::new();
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        group.push(first);
        while let Some(r) = rest.next_if(|r| r.priority == priority) {
            group.push(r);
        }
        while !group.is_empty() {
            let sum: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let draw = splitmix(&mut rng);
            let pick = if sum == 0 {
                usize::try_from(draw % group.len() as u64).unwrap_or(0)
            } else {
                let has_zero = group.iter().any(|r| r.weight == 0);
                let target = if has_zero {
                    draw % (sum + 1)
                } else {
                    1 + draw % sum
                };
                let mut running = 0u64;
                let mut pick = 0;
                for (i, r) in group.iter().enumerate() {
                    running += u64::from(r.weight);
                    if running >= target {
                        pick = i;
                        break;
                    }
                }
                pick
            };
            out.push(group.remove(pick));
        }
    }
    out
}

/// A lower-cased absolute name with its trailing dot.
fn fqdn(name: &str) -> String {
    let mut s = name.to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// SplitMix64: a tiny, well-mixed generator over the seed we were handed (no RNG crate).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::Uri;

    const ALL: &[Transport] = &[Transport::Udp, Transport::Tcp, Transport::Tls];

    fn uri(s: &str) -> SipUri {
        Uri::parse(s).unwrap().as_sip().unwrap().clone()
    }

    fn naptr(order: u16, preference: u16, flags: &str, services: &str, repl: &str) -> Naptr {
        Naptr {
            order,
            preference,
            flags: flags.into(),
            services: services.into(),
            replacement: repl.into(),
            ttl: 300,
        }
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.into(),
            ttl: 300,
        }
    }

    fn addrs(ips: &[&str]) -> Answer {
        Answer::Addresses(
            ips.iter()
                .map(|s| Address {
                    ip: s.parse().unwrap(),
                    ttl: 300,
                })
                .collect(),
        )
    }

    fn t(transport: Transport, addr: &str) -> Target {
        Target {
            transport,
            addr: addr.parse().unwrap(),
        }
    }

    /// Drives a locator against a fake DNS; returns the queries made and the outcome.
    fn run(
        u: &str,
        supported: &[Transport],
        mut dns: impl FnMut(&Query) -> Answer,
    ) -> (Vec<Query>, Result<Targets, LocateError>) {
        let mut loc = Locator::new(&uri(u), supported, 7);
        let mut queries = Vec::new();
        for _ in 0..100 {
            match loc.poll() {
                Step::Lookup(q) => {
                    let a = dns(&q);
                    queries.push(q);
                    loc.answer(a);
                }
                Step::Done(t) => return (queries, Ok(t)),
                Step::Failed(e) => return (queries, Err(e)),
            }
        }
        panic!("locator did not finish");
    }

    fn no_dns(q: &Query) -> Answer {
        panic!("unexpected lookup {q:?}")
    }

    fn naptr_q(n: &str) -> Query {
        Query::Naptr(n.into())
    }
    fn srv_q(n: &str) -> Query {
        Query::Srv(n.into())
    }
    fn addr_q(n: &str) -> Query {
        Query::Addresses(n.into())
    }

    // §4.1/§4.2: numeric hosts.

    #[test]
    fn numeric_ipv4_defaults_to_udp_5060_without_lookups() {
        let (q, r) = run("sip:alice@192.0.2.1", DEFAULT_SUPPORTED, no_dns);
        assert!(q.is_empty());
        let r = r.unwrap();
        assert_eq!(r.all(), [t(Transport::Udp, "192.0.2.1:5060")]);
        assert_eq!(r.ttl(), None);
    }

    #[test]
    fn numeric_with_port_and_transport_param() {
        let (q, r) = run(
            "sip:192.0.2.1:5070;transport=TCP",
            DEFAULT_SUPPORTED,
            no_dns,
        );
        assert!(q.is_empty());
        assert_eq!(r.unwrap().all(), [t(Transport::Tcp, "192.0.2.1:5070")]);
    }

    #[test]
    fn numeric_ipv6_literal() {
        let (_, r) = run("sip:bob@[2001:db8::1]", DEFAULT_SUPPORTED, no_dns);
        assert_eq!(r.unwrap().all(), [t(Transport::Udp, "[2001:db8::1]:5060")]);
    }

    #[test]
    fn numeric_sips_is_tls_5061_or_nothing_without_tls() {
        let (_, r) = run("sips:192.0.2.1", ALL, no_dns);
        assert_eq!(r.unwrap().all(), [t(Transport::Tls, "192.0.2.1:5061")]);
        let (q, r) = run("sips:192.0.2.1", DEFAULT_SUPPORTED, no_dns);
        assert!(q.is_empty());
        let e = r.unwrap_err();
        assert!(matches!(e, LocateError::NoTargets { .. }));
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn unknown_or_contradictory_transport_param_has_no_target() {
        for u in [
            "sip:192.0.2.1;transport=sctp",
            "sip:example.org;transport=ws",
            "sips:example.org;transport=udp",
            "sip:example.org;transport=tls", // representable, but not supported by default
        ] {
            let (q, r) = run(u, DEFAULT_SUPPORTED, no_dns);
            assert!(q.is_empty(), "{u}");
            assert!(matches!(r, Err(LocateError::NoTargets { .. })), "{u}");
        }
    }

    #[test]
    fn maddr_replaces_the_host() {
        let (q, r) = run(
            "sip:alice@example.org;maddr=192.0.2.9",
            DEFAULT_SUPPORTED,
            no_dns,
        );
        assert!(q.is_empty());
        assert_eq!(r.unwrap().all(), [t(Transport::Udp, "192.0.2.9:5060")]);
    }

    // §4.2: explicit port with a name.

    #[test]
    fn explicit_port_only_resolves_the_name() {
        let (q, r) = run("sip:alice@Example.ORG:5080", DEFAULT_SUPPORTED, |q| {
            assert_eq!(q, &addr_q("example.org."));
            addrs(&["192.0.2.1", "2001:db8::1"])
        });
        assert_eq!(q.len(), 1);
        assert_eq!(
            r.unwrap().all(),
            [
                t(Transport::Udp, "192.0.2.1:5080"),
                t(Transport::Udp, "[2001:db8::1]:5080"),
            ]
        );
    }

    #[test]
    fn explicit_port_nxdomain_is_no_such_domain() {
        let (_, r) = run(
            "sip:example.invalid:5080;transport=tcp",
            DEFAULT_SUPPORTED,
            |_| Answer::NxDomain,
        );
        let e = r.unwrap_err();
        assert_eq!(
            e,
            LocateError::NoSuchDomain {
                name: "example.invalid.".into()
            }
        );
        assert_eq!(e.status(), 404);
    }

    // §4.1: transport param, no port.

    #[test]
    fn transport_param_uses_srv_of_that_transport() {
        let (q, r) = run(
            "sip:example.org;transport=tcp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(n) if n == "_sip._tcp.example.org." => {
                    Answer::Srv(vec![srv(0, 0, 5070, "pbx.example.org")])
                }
                Query::Addresses(n) if n == "pbx.example.org." => addrs(&["192.0.2.7"]),
                _ => panic!("{q:?}"),
            },
        );
        assert_eq!(
            q,
            [srv_q("_sip._tcp.example.org."), addr_q("pbx.example.org.")]
        );
        assert_eq!(r.unwrap().all(), [t(Transport::Tcp, "192.0.2.7:5070")]);
    }

    #[test]
    fn transport_param_without_srv_falls_back_to_the_name() {
        let (q, r) = run(
            "sip:example.org;transport=tcp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(_) => Answer::NxDomain,
                Query::Addresses(_) => addrs(&["192.0.2.1"]),
                _ => panic!("{q:?}"),
            },
        );
        assert_eq!(q, [srv_q("_sip._tcp.example.org."), addr_q("example.org.")]);
        assert_eq!(r.unwrap().all(), [t(Transport::Tcp, "192.0.2.1:5060")]);
    }

    #[test]
    fn sips_transport_tcp_means_tls() {
        let (q, r) = run("sips:example.org;transport=tcp", ALL, |q| match q {
            Query::Srv(_) => Answer::NoRecords,
            Query::Addresses(_) => addrs(&["192.0.2.1"]),
            _ => panic!("{q:?}"),
        });
        assert_eq!(q[0], srv_q("_sips._tcp.example.org."));
        assert_eq!(r.unwrap().all(), [t(Transport::Tls, "192.0.2.1:5061")]);
    }

    // §4.1: NAPTR.

    #[test]
    fn naptr_sorted_by_order_then_preference_whatever_the_server_order() {
        let records = vec![
            naptr(30, 10, "s", "SIP+D2U", "_sip._udp.c.example.org."),
            naptr(20, 90, "s", "SIP+D2T", "_sip._tcp.b.example.org."),
            naptr(20, 50, "S", "sip+d2u", "_sip._udp.a.example.org."),
        ];
        let (q, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Naptr(records.clone()),
            Query::Srv(n) => {
                let host = n.split('.').nth(2).unwrap();
                Answer::Srv(vec![srv(0, 0, 5060, &format!("{host}.example.org."))])
            }
            Query::Addresses(n) => match n.as_str() {
                "a.example.org." => addrs(&["192.0.2.1"]),
                "b.example.org." => addrs(&["192.0.2.2"]),
                _ => addrs(&["192.0.2.3"]),
            },
        });
        assert_eq!(
            q,
            [
                naptr_q("example.org."),
                srv_q("_sip._udp.a.example.org."),
                addr_q("a.example.org."),
                srv_q("_sip._tcp.b.example.org."),
                addr_q("b.example.org."),
                srv_q("_sip._udp.c.example.org."),
                addr_q("c.example.org."),
            ]
        );
        assert_eq!(
            r.unwrap().all(),
            [
                t(Transport::Udp, "192.0.2.1:5060"),
                t(Transport::Tcp, "192.0.2.2:5060"),
                t(Transport::Udp, "192.0.2.3:5060"),
            ]
        );
    }

    #[test]
    fn naptr_unsupported_services_and_flags_are_skipped() {
        let records = vec![
            naptr(10, 10, "s", "SIPS+D2T", "_sips._tcp.example.org."), // no TLS here
            naptr(10, 20, "s", "SIP+D2S", "_sip._sctp.example.org."),
            naptr(10, 30, "s", "SIP+D2W", "_sip._ws.example.org."),
            naptr(10, 40, "", "SIP+D2U", "other.example.org."), // non-terminal
            naptr(10, 50, "a", "SIP+D2U", "a.example.org."),
            naptr(10, 60, "s", "SIP+D2U", "."),
            naptr(20, 10, "s", "SIP+D2U", "_sip._udp.example.org."),
        ];
        let (q, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Naptr(records.clone()),
            Query::Srv(_) => Answer::Srv(vec![srv(0, 0, 5062, "host.example.org.")]),
            Query::Addresses(_) => addrs(&["127.0.0.1", "::1"]),
        });
        assert_eq!(
            q,
            [
                naptr_q("example.org."),
                srv_q("_sip._udp.example.org."),
                addr_q("host.example.org."),
            ]
        );
        assert_eq!(
            r.unwrap().all(),
            [
                t(Transport::Udp, "127.0.0.1:5062"),
                t(Transport::Udp, "[::1]:5062"),
            ]
        );
    }

    #[test]
    fn no_usable_naptr_tries_srv_per_transport_in_preference_order() {
        let (q, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Naptr(vec![naptr(10, 10, "s", "SIP+D2S", "x.")]),
            Query::Srv(n) if n.starts_with("_sip._udp") => Answer::NoRecords,
            Query::Srv(_) => Answer::Srv(vec![srv(0, 0, 5060, "tcp.example.org.")]),
            Query::Addresses(_) => addrs(&["192.0.2.5"]),
        });
        assert_eq!(
            q,
            [
                naptr_q("example.org."),
                srv_q("_sip._udp.example.org."),
                srv_q("_sip._tcp.example.org."),
                addr_q("tcp.example.org."),
            ]
        );
        // SRV records existed, so the domain's own addresses were not asked for.
        assert_eq!(r.unwrap().all(), [t(Transport::Tcp, "192.0.2.5:5060")]);

        // A caller preferring TCP gets the TCP query first.
        let tcp_first = [Transport::Tcp, Transport::Udp];
        let (q, _) = run("sip:example.org", &tcp_first, |_| Answer::NoRecords);
        assert_eq!(q[1], srv_q("_sip._tcp.example.org."));
        assert_eq!(q[2], srv_q("_sip._udp.example.org."));
    }

    #[test]
    fn no_naptr_no_srv_resolves_the_name_on_the_default_port() {
        let (q, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Addresses(_) => addrs(&["192.0.2.1"]),
            _ => Answer::NoRecords,
        });
        assert_eq!(
            q,
            [
                naptr_q("example.org."),
                srv_q("_sip._udp.example.org."),
                srv_q("_sip._tcp.example.org."),
                addr_q("example.org."),
            ]
        );
        assert_eq!(r.unwrap().all(), [t(Transport::Udp, "192.0.2.1:5060")]);
    }

    #[test]
    fn nxdomain_on_naptr_is_no_such_domain_with_one_query() {
        let (q, r) = run("sip:bob@nowhere.invalid", DEFAULT_SUPPORTED, |_| {
            Answer::NxDomain
        });
        assert_eq!(q, [naptr_q("nowhere.invalid.")]);
        let e = r.unwrap_err();
        assert!(matches!(e, LocateError::NoSuchDomain { .. }));
        assert_eq!(e.status(), 404);
        assert_eq!(e.to_string(), "nowhere.invalid.: no such domain");
    }

    #[test]
    fn sips_with_only_udp_records_has_no_usable_target() {
        // TLS supported: the SIP+D2U NAPTR is discarded, _sips._tcp has nothing, nor the name.
        let (q, r) = run("sips:example.org", ALL, |q| match q {
            Query::Naptr(_) => Answer::Naptr(vec![naptr(
                10,
                10,
                "s",
                "SIP+D2U",
                "_sip._udp.example.org.",
            )]),
            Query::Srv(n) if n == "_sip._udp.example.org." => {
                Answer::Srv(vec![srv(0, 0, 5060, "host.example.org.")])
            }
            _ => Answer::NoRecords,
        });
        assert_eq!(
            q,
            [
                naptr_q("example.org."),
                srv_q("_sips._tcp.example.org."),
                addr_q("example.org."),
            ]
        );
        assert!(matches!(r, Err(LocateError::NoTargets { .. })));
        // Without TLS support, nothing to ask at all.
        let (q, r) = run("sips:example.org", DEFAULT_SUPPORTED, no_dns);
        assert!(q.is_empty());
        assert!(matches!(r, Err(LocateError::NoTargets { .. })));
    }

    // SRV (RFC 2782).

    #[test]
    fn srv_dot_target_means_no_service_and_no_fallback() {
        let (q, r) = run(
            "sip:example.org;transport=udp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(_) => Answer::Srv(vec![srv(0, 0, 0, ".")]),
                _ => panic!("{q:?}"),
            },
        );
        assert_eq!(q, [srv_q("_sip._udp.example.org.")]);
        let e = r.unwrap_err();
        assert!(matches!(e, LocateError::NoTargets { .. }));
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn srv_priorities_give_the_failover_order() {
        let (_, r) = run(
            "sip:example.org;transport=udp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(_) => Answer::Srv(vec![
                    srv(30, 0, 5003, "c.example.org."),
                    srv(10, 0, 5001, "a.example.org."),
                    srv(20, 0, 5002, "b.example.org."),
                ]),
                Query::Addresses(n) => match n.as_str() {
                    "a.example.org." => addrs(&["192.0.2.1"]),
                    "b.example.org." => addrs(&["192.0.2.2"]),
                    _ => addrs(&["192.0.2.3"]),
                },
                _ => panic!("{q:?}"),
            },
        );
        let mut r = r.unwrap();
        assert_eq!(r.next(), Some(t(Transport::Udp, "192.0.2.1:5001")));
        // A 503 or timeout from the first: fail over to the next priority.
        assert!(is_failover_status(503));
        assert!(!is_failover_status(486));
        assert_eq!(r.remaining().len(), 2);
        assert_eq!(r.next(), Some(t(Transport::Udp, "192.0.2.2:5002")));
        assert_eq!(r.next(), Some(t(Transport::Udp, "192.0.2.3:5003")));
        assert_eq!(r.next(), None);
        assert_eq!(r.all().len(), 3);
    }

    #[test]
    fn order_srv_groups_by_priority() {
        let out = order_srv(
            vec![
                srv(2, 5, 1, "x."),
                srv(0, 1, 2, "y."),
                srv(1, 0, 3, "z."),
                srv(0, 9, 4, "w."),
            ],
            42,
        );
        let prios: Vec<u16> = out.iter().map(|r| r.priority).collect();
        assert_eq!(prios, [0, 0, 1, 2]);
    }

    #[test]
    fn weighted_order_is_deterministic_per_seed() {
        let recs: Vec<Srv> = (0..6).map(|i| srv(0, 10 + i, i, "h.")).collect();
        let ports = |seed| -> Vec<u16> {
            order_srv(recs.clone(), seed)
                .iter()
                .map(|r| r.port)
                .collect()
        };
        assert_eq!(ports(1), ports(1));
        assert!((0..20).any(|s| ports(s) != ports(1)));
    }

    #[test]
    fn weighted_first_pick_respects_weights() {
        for recs in [
            vec![srv(0, 3, 1, "heavy."), srv(0, 1, 2, "light.")],
            vec![srv(0, 1, 2, "light."), srv(0, 3, 1, "heavy.")],
        ] {
            let heavy = (0..10_000u64)
                .filter(|&s| order_srv(recs.clone(), s)[0].port == 1)
                .count();
            // Expect 7 500.
            assert!((7_200..7_800).contains(&heavy), "{heavy}");
        }
    }

    #[test]
    fn weight_zero_records_have_a_small_chance() {
        let recs = vec![srv(0, 10, 1, "a."), srv(0, 0, 2, "zero.")];
        let zero_first = (0..10_000u64)
            .filter(|&s| order_srv(recs.clone(), s)[0].port == 2)
            .count();
        // One chance in 11: about 909.
        assert!((600..1_250).contains(&zero_first), "{zero_first}");
        // All zero: uniform.
        let recs: Vec<Srv> = (0..3).map(|i| srv(0, 0, i, "h.")).collect();
        let mut firsts = [0usize; 3];
        for s in 0..9_000u64 {
            firsts[usize::from(order_srv(recs.clone(), s)[0].port)] += 1;
        }
        assert!(
            firsts.iter().all(|&n| (2_700..3_300).contains(&n)),
            "{firsts:?}"
        );
    }

    #[test]
    fn duplicate_targets_removed_and_each_host_asked_once() {
        let (q, r) = run(
            "sip:example.org;transport=udp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(_) => Answer::Srv(vec![
                    srv(0, 0, 5060, "Host.Example.org"),
                    srv(1, 0, 5060, "host.example.org."),
                    srv(2, 0, 5061, "host.example.org."),
                    srv(3, 0, 5060, "alias.example.org."),
                ]),
                Query::Addresses(_) => addrs(&["192.0.2.1", "2001:db8::1", "192.0.2.1"]),
                _ => panic!("{q:?}"),
            },
        );
        assert_eq!(
            q,
            [
                srv_q("_sip._udp.example.org."),
                addr_q("host.example.org."),
                addr_q("alias.example.org."),
            ]
        );
        assert_eq!(
            r.unwrap().all(),
            [
                t(Transport::Udp, "192.0.2.1:5060"),
                t(Transport::Udp, "[2001:db8::1]:5060"),
                t(Transport::Udp, "192.0.2.1:5061"),
                t(Transport::Udp, "[2001:db8::1]:5061"),
            ]
        );
    }

    // Errors, TTL, robustness.

    #[test]
    fn timeouts_without_targets_are_503() {
        let (_, r) = run("sip:example.org", DEFAULT_SUPPORTED, |_| Answer::Failed);
        let e = r.unwrap_err();
        assert!(matches!(e, LocateError::Timeout { .. }));
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn a_failed_naptr_lookup_still_tries_srv() {
        let (_, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Failed,
            Query::Srv(n) if n.starts_with("_sip._udp") => {
                Answer::Srv(vec![srv(0, 0, 5060, "h.example.org.")])
            }
            Query::Srv(_) => Answer::Failed,
            Query::Addresses(_) => addrs(&["192.0.2.1"]),
        });
        assert_eq!(r.unwrap().all(), [t(Transport::Udp, "192.0.2.1:5060")]);
    }

    #[test]
    fn ttl_is_the_minimum_of_the_records_used() {
        let (_, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Naptr(vec![
                Naptr {
                    ttl: 600,
                    ..naptr(10, 10, "s", "SIP+D2U", "_sip._udp.example.org.")
                },
                // Skipped: its short TTL does not matter.
                Naptr {
                    ttl: 1,
                    ..naptr(5, 10, "s", "SIP+D2S", "_sip._sctp.example.org.")
                },
            ]),
            Query::Srv(_) => Answer::Srv(vec![Srv {
                ttl: 120,
                ..srv(0, 0, 5060, "h.example.org.")
            }]),
            Query::Addresses(_) => Answer::Addresses(vec![Address {
                ip: "192.0.2.1".parse().unwrap(),
                ttl: 240,
            }]),
        });
        assert_eq!(r.unwrap().ttl(), Some(120));
    }

    #[test]
    fn poll_is_idempotent_and_stray_answers_are_harmless() {
        let mut loc = Locator::new(&uri("sip:example.org:5060"), DEFAULT_SUPPORTED, 0);
        let first = loc.poll();
        assert_eq!(first, Step::Lookup(addr_q("example.org.")));
        assert_eq!(loc.poll(), first);
        // The wrong kind of records counts as none.
        loc.answer(Answer::Srv(vec![srv(0, 0, 1, "x.")]));
        let done = loc.poll();
        assert!(matches!(done, Step::Failed(LocateError::NoTargets { .. })));
        loc.answer(addrs(&["192.0.2.1"]));
        assert_eq!(loc.poll(), done);
    }

    #[test]
    fn hostile_zone_is_bounded() {
        let (q, r) = run("sip:example.org", DEFAULT_SUPPORTED, |q| match q {
            Query::Naptr(_) => Answer::Naptr(
                (0..100)
                    .map(|i| naptr(i, 0, "s", "SIP+D2U", &format!("_sip._udp.n{i}.example.")))
                    .collect(),
            ),
            Query::Srv(n) => Answer::Srv(
                (0..100)
                    .map(|i| srv(0, 1, 5060, &format!("h{i}.{n}")))
                    .collect(),
            ),
            Query::Addresses(_) => Answer::NoRecords,
        });
        assert!(q.len() <= MAX_QUERIES, "{}", q.len());
        assert!(matches!(r, Err(LocateError::NoTargets { .. })));
    }

    #[test]
    fn unspecified_addresses_and_port_zero_are_skipped() {
        let (_, r) = run(
            "sip:example.org;transport=udp",
            DEFAULT_SUPPORTED,
            |q| match q {
                Query::Srv(_) => Answer::Srv(vec![srv(0, 0, 0, "z."), srv(1, 0, 5060, "h.")]),
                Query::Addresses(_) => addrs(&["0.0.0.0", "::", "192.0.2.1"]),
                _ => panic!("{q:?}"),
            },
        );
        assert_eq!(r.unwrap().all(), [t(Transport::Udp, "192.0.2.1:5060")]);
    }

    #[test]
    fn transports_map_to_flows() {
        assert_eq!(Transport::Udp.flow(), Some(flow::Transport::Udp));
        assert_eq!(Transport::Tcp.flow(), Some(flow::Transport::Tcp));
        assert_eq!(Transport::Tls.flow(), None);
        assert_eq!(Query::Srv("x.".into()).name(), "x.");
    }
}
