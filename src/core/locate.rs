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
