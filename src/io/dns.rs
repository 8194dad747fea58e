//! DNS for RFC 3263: the tokio shell around [`crate::core::locate`]. The core decides which
//! records to ask for and orders the result; this module only asks hickory, turns its replies
//! into [`Answer`]s, and caches them, because a proxy resolves the same few domains again and
//! again.
//!
//! Time bounds: hickory gives up on one server attempt after `timeout`; one query is cut off
//! after [`QUERY_TIMEOUT_FACTOR`]` × timeout` (room for the UDP→TCP retry of a truncated
//! answer), and one whole location after [`LOCATE_TIMEOUT_FACTOR`]` × timeout`: queries the
//! locator still wants after that are answered [`Answer::Failed`] without being sent, so the
//! targets found so far are still used.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::time::Instant;
use tracing::{debug, info};

use crate::core::locate::{
    self, Address, Answer, LocateError, Locator, Naptr, Query, Srv, Step, Targets,
};
use crate::core::msg::SipUri;

/// Answers kept at most; a proxy talks to a bounded set of domains, and a flood of distinct
/// names (a hostile peer) must not grow memory.
pub const CACHE_ENTRIES: usize = 1024;
/// How long NXDOMAIN and "no records" are kept, at most (a shorter SOA minimum wins): long
/// enough to absorb retransmissions and forks, short enough that a fixed zone is seen soon.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Positive answers are not kept longer than this, whatever their TTL says.
pub const MAX_TTL: Duration = Duration::from_secs(86_400);
/// One query may take this many `timeout`s (UDP, then TCP for a truncated reply).
pub const QUERY_TIMEOUT_FACTOR: u32 = 2;
/// One whole location may take this many `timeout`s (a locator needs up to four lookups in
/// the common case: NAPTR, SRV, SRV, A/AAAA).
pub const LOCATE_TIMEOUT_FACTOR: u32 = 4;

/// Which nameserver to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsServer {
    /// The system's configuration (`/etc/resolv.conf`, `/etc/hosts`).
    System,
    /// Exactly this server, UDP then TCP, and nothing else (tests, or a local resolver on a
    /// port `resolv.conf` cannot express).
    At(SocketAddr),
}

/// `system`, an address with port (`127.0.0.1:5353`, `[::1]:53`), or a bare IP (port 53).
impl FromStr for DnsServer {
    type Err = DnsError;
    fn from_str(s: &str) -> Result<DnsServer, DnsError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("system") {
            return Ok(DnsServer::System);
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(DnsServer::At(addr));
        }
        match s.parse::<IpAddr>() {
            Ok(ip) => Ok(DnsServer::At(SocketAddr::new(ip, 53))),
            Err(_) => Err(DnsError::BadServer(s.to_owned())),
        }
    }
}

impl fmt::Display for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsServer::System => f.write_str("system"),
            DnsServer::At(addr) => write!(f, "{addr}"),
        }
    }
}

/// Why a [`Dns`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The configured server is neither `system` nor an address.
    #[error("DNS server {0:?}: expected \"system\" or an address such as 127.0.0.1:5353")]
    BadServer(String),
    /// A zero timeout would fail every lookup.
    #[error("DNS timeout must be more than zero")]
    ZeroTimeout,
    /// The system configuration could not be read or the resolver not built.
    #[error("DNS resolver setup failed: {0}")]
    Setup(#[from] NetError),
}

/// A resolver with an answer cache. Cheap to clone: clones share the resolver and the cache.
#[derive(Clone)]
pub struct Dns {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    server: DnsServer,
    timeout: Duration,
    cache: Mutex<Cache>,
}

impl fmt::Debug for Dns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dns")
            .field("server", &self.inner.server)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// A resolver asking `server`, each attempt bounded by `timeout`. hickory's own cache is
    /// off (ours knows which answers matter); IPv4 and IPv6 are both asked for.
    pub fn new(server: DnsServer, timeout: Duration) -> Result<Dns, DnsError> {
        if timeout.is_zero() {
            return Err(DnsError::ZeroTimeout);
        }
        let mut builder = match server {
            DnsServer::System => TokioResolver::builder_tokio()?,
            DnsServer::At(addr) => {
                let (mut udp, mut tcp) = (ConnectionConfig::udp(), ConnectionConfig::tcp());
                udp.port = addr.port();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                // No domain, no search list: the names we ask are absolute anyway, and the
                // system's settings must not leak into a setup that names its server.
                let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
                let mut b = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
                let o = b.options_mut();
                o.attempts = 1;
                o.use_hosts_file = ResolveHosts::Never;
                b
            }
        };
        let o = builder.options_mut();
        o.timeout = timeout;
        o.cache_size = 0;
        o.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        let resolver = builder.build()?;
        Ok(Dns {
            inner: Arc::new(Inner {
                resolver,
                server,
                timeout,
                cache: Mutex::new(Cache::new(CACHE_ENTRIES)),
            }),
        })
    }

    /// Locates the server for `uri` (RFC 3263): runs a [`Locator`] to completion, answering
    /// its queries from the cache or the DNS. `seed` drives the SRV weighted choice.
    pub async fn locate(
        &self,
        uri: &SipUri,
        supported: &[locate::Transport],
        seed: u64,
    ) -> Result<Targets, LocateError> {
        let deadline = Instant::now() + self.inner.timeout * LOCATE_TIMEOUT_FACTOR;
        let mut locator = Locator::new(uri, supported, seed);
        // The locator bounds its own queries (MAX_QUERIES); this bound is for a locator bug.
        for _ in 0..=locate::MAX_QUERIES {
            match locator.poll() {
                Step::Lookup(query) => {
                    let answer = self.answer(&query, deadline).await;
                    locator.answer(answer);
                }
                Step::Done(targets) => {
                    debug!(host = %uri.host, targets = targets.all().len(), "located");
                    return Ok(targets);
                }
                Step::Failed(e) => {
                    info!(host = %uri.host, error = %e, "locating failed");
                    return Err(e);
                }
            }
        }
        // Unreachable while the locator keeps its MAX_QUERIES promise.
        locator.answer(Answer::Failed);
        match locator.poll() {
            Step::Done(targets) => Ok(targets),
            Step::Failed(e) => Err(e),
            Step::Lookup(_) => Err(LocateError::Timeout {
                name: uri.host.to_string(),
            }),
        }
    }

    /// The answer to one query: cached, or asked for now (unless the location's time is up).
    async fn answer(&self, query: &Query, deadline: Instant) -> Answer {
        let now = Instant::now();
        if let Some(answer) = self.cache().get(query, now) {
            debug!(?query, records = records(&answer), "DNS answer from cache");
            return answer;
        }
        let Some(left) = deadline
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
        else {
            info!(?query, "DNS query not sent: time for this location is up");
            return Answer::Failed;
        };
        let limit = left.min(self.inner.timeout * QUERY_TIMEOUT_FACTOR);
        let (answer, negative_ttl) = match tokio::time::timeout(limit, self.lookup(query)).await {
            Ok(result) => result,
            Err(_) => {
                info!(?query, "DNS query timed out");
                (Answer::Failed, None)
            }
        };
        debug!(?query, records = records(&answer), "DNS answer");
        self.cache()
            .put(query.clone(), answer.clone(), negative_ttl, Instant::now());
        answer
    }

    /// Asks hickory. The second value is the negative-caching TTL the server gave (SOA).
    async fn lookup(&self, query: &Query) -> (Answer, Option<u32>) {
        let name = match Name::from_utf8(query.name()) {
            Ok(n) => n,
            Err(e) => {
                // A name that cannot be written in DNS cannot have records.
                info!(?query, error = %e, "not a valid DNS name");
                return (Answer::NoRecords, None);
            }
        };
        let resolver = &self.inner.resolver;
        let result = match query {
            Query::Naptr(_) => resolver
                .lookup(name, RecordType::NAPTR)
                .await
                .map(|l| naptr_answer(l.answers())),
            Query::Srv(_) => resolver
                .srv_lookup(name)
                .await
                .map(|l| srv_answer(l.answers())),
            Query::Addresses(_) => resolver
                .lookup_ip(name)
                .await
                .map(|l| address_answer(l.as_lookup().answers())),
        };
        match result {
            Ok(answer) => (answer, None),
            Err(e) => negative(query, &e),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds plain data; a panic elsewhere cannot leave it half-updated in a
        // way that matters, so a poisoned lock is still usable.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An error from hickory as an [`Answer`], with the SOA negative TTL when there is one.
fn negative(query: &Query, e: &NetError) -> (Answer, Option<u32>) {
    let ttl = match e {
        NetError::Dns(hickory_resolver::net::DnsError::NoRecordsFound(n)) => n.negative_ttl,
        _ => None,
    };
    if e.is_nx_domain() {
        (Answer::NxDomain, ttl)
    } else if e.is_no_records_found() {
        (Answer::NoRecords, ttl)
    } else {
        info!(?query, error = %e, "DNS lookup failed");
        (Answer::Failed, None)
    }
}

// The answer sections may hold CNAMEs (kept as intermediates) and, from a careless server,
// records of other types: only the asked-for variant counts. An empty list is NODATA.

/// An answer whose records were all of other types (CNAMEs kept as intermediates) is no answer.
fn non_empty<T>(list: Vec<T>, wrap: fn(Vec<T>) -> Answer) -> Answer {
    if list.is_empty() {
        Answer::NoRecords
    } else {
        wrap(list)
    }
}

fn naptr_answer(records: &[Record]) -> Answer {
    let list: Vec<Naptr> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::NAPTR(n) => Some(Naptr {
                order: n.order,
                preference: n.preference,
                flags: String::from_utf8_lossy(&n.flags).into_owned(),
                services: String::from_utf8_lossy(&n.services).into_owned(),
                replacement: n.replacement.to_utf8(),
                ttl: r.ttl,
            }),
            _ => None,
        })
        .collect();
    non_empty(list, Answer::Naptr)
}

fn srv_answer(records: &[Record]) -> Answer {
    let list: Vec<Srv> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target.to_utf8(),
                ttl: r.ttl,
            }),
            _ => None,
        })
        .collect();
    non_empty(list, Answer::Srv)
}

fn address_answer(records: &[Record]) -> Answer {
    let list: Vec<Address> = records
        .iter()
        .filter_map(|r| {
            let ip = match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => return None,
            };
            Some(Address { ip, ttl: r.ttl })
        })
        .collect();
    non_empty(list, Answer::Addresses)
}

/// How many records an answer holds, for the logs.
fn records(answer: &Answer) -> usize {
    match answer {
        Answer::Naptr(l) => l.len(),
        Answer::Srv(l) => l.len(),
        Answer::Addresses(l) => l.len(),
        Answer::NxDomain | Answer::NoRecords | Answer::Failed => 0,
    }
}

/// Answers per query until their TTL runs out. Failures are never kept: the next location
/// must try the server again.
#[derive(Debug)]
struct Cache {
    entries: HashMap<Query, Entry>,
    capacity: usize,
}

#[derive(Debug)]
struct Entry {
    answer: Answer,
    stored: Instant,
    expires: Instant,
}

impl Cache {
    fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The cached answer, its record TTLs lowered by the time spent in the cache (so that
    /// [`Targets::ttl`] stays truthful).
    fn get(&mut self, query: &Query, now: Instant) -> Option<Answer> {
        let entry = self.entries.get(query)?;
        if entry.expires <= now {
            self.entries.remove(query);
            return None;
        }
        let aged = u32::try_from(now.duration_since(entry.stored).as_secs()).unwrap_or(u32::MAX);
        let age = |ttl: u32| ttl.saturating_sub(aged);
        Some(match &entry.answer {
            Answer::Naptr(l) => Answer::Naptr(
                l.iter()
                    .map(|r| Naptr {
                        ttl: age(r.ttl),
                        ..r.clone()
                    })
                    .collect(),
            ),
            Answer::Srv(l) => Answer::Srv(
                l.iter()
                    .map(|r| Srv {
                        ttl: age(r.ttl),
                        ..r.clone()
                    })
                    .collect(),
            ),
            Answer::Addresses(l) => Answer::Addresses(
                l.iter()
                    .map(|r| Address {
                        ttl: age(r.ttl),
                        ..*r
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
    }

    fn put(&mut self, query: Query, answer: Answer, negative_ttl: Option<u32>, now: Instant) {
        let Some(ttl) = lifetime(&answer, negative_ttl) else {
            return;
        };
        if ttl.is_zero() {
            return;
        }
        let Some(expires) = now.checked_add(ttl) else {
            return;
        };
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&query) {
            self.entries.retain(|_, e| e.expires > now);
            if self.entries.len() >= self.capacity {
                // Still full of live answers: drop the one closest to expiring anyway.
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(q, _)| q.clone());
                if let Some(q) = soonest {
                    self.entries.remove(&q);
                }
            }
        }
        self.entries.insert(
            query,
            Entry {
                answer,
                stored: now,
                expires,
            },
        );
    }
}

/// How long an answer may be kept: its smallest record TTL, or the negative TTL; `None` for
/// a failure.
fn lifetime(answer: &Answer, negative_ttl: Option<u32>) -> Option<Duration> {
    let min_ttl = match answer {
        Answer::Naptr(l) => l.iter().map(|r| r.ttl).min(),
        Answer::Srv(l) => l.iter().map(|r| r.ttl).min(),
        Answer::Addresses(l) => l.iter().map(|r| r.ttl).min(),
        Answer::NxDomain | Answer::NoRecords => {
            let soa = negative_ttl.map_or(NEGATIVE_TTL, |t| Duration::from_secs(t.into()));
            return Some(soa.min(NEGATIVE_TTL));
        }
        Answer::Failed => return None,
    };
    Some(Duration::from_secs(min_ttl.unwrap_or(0).into()).min(MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ttl: u32) -> Answer {
        Answer::Addresses(vec![Address {
            ip: "192.0.2.1".parse().unwrap(),
            ttl,
        }])
    }

    fn q(n: &str) -> Query {
        Query::Addresses(n.into())
    }

    #[test]
    fn server_setting_parses() {
        assert_eq!("system".parse::<DnsServer>().unwrap(), DnsServer::System);
        assert_eq!(
            "127.0.0.1:5353".parse::<DnsServer>().unwrap(),
            DnsServer::At("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            "::1".parse::<DnsServer>().unwrap(),
            DnsServer::At("[::1]:53".parse().unwrap())
        );
        assert!("dns.example".parse::<DnsServer>().is_err());
        assert_eq!(DnsServer::System.to_string(), "system");
    }

    #[test]
    fn cache_respects_ttl_and_ages_records() {
        let t0 = Instant::now();
        let mut c = Cache::new(4);
        c.put(q("a."), addrs(60), None, t0);
        assert_eq!(
            c.get(&q("a."), t0 + Duration::from_secs(20)),
            Some(addrs(40))
        );
        assert_eq!(c.get(&q("a."), t0 + Duration::from_secs(60)), None);
        assert!(c.entries.is_empty());
    }

    #[test]
    fn failures_and_zero_ttl_are_not_cached_negatives_briefly() {
        let t0 = Instant::now();
        let mut c = Cache::new(4);
        c.put(q("f."), Answer::Failed, None, t0);
        c.put(q("z."), addrs(0), None, t0);
        assert!(c.entries.is_empty());
        c.put(q("nx."), Answer::NxDomain, Some(3600), t0);
        c.put(q("nd."), Answer::NoRecords, Some(5), t0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(c.get(&q("nx."), later), Some(Answer::NxDomain));
        assert_eq!(c.get(&q("nd."), later), None);
        assert_eq!(c.get(&q("nx."), t0 + NEGATIVE_TTL), None);
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_soonest_expiry() {
        let t0 = Instant::now();
        let mut c = Cache::new(2);
        c.put(q("long."), addrs(600), None, t0);
        c.put(q("short."), addrs(10), None, t0);
        c.put(q("new."), addrs(300), None, t0);
        assert_eq!(c.entries.len(), 2);
        assert!(c.get(&q("short."), t0).is_none());
        assert!(c.get(&q("long."), t0).is_some());
        // Expired entries go first.
        let later = t0 + Duration::from_secs(400);
        c.put(q("newer."), addrs(300), None, later);
        assert!(c.get(&q("long."), later).is_some());
        assert!(c.get(&q("newer."), later).is_some());
    }

    #[test]
    fn builds_outside_a_runtime_without_sending_anything() {
        // The daemon builds its resolver while reading the configuration.
        let at = DnsServer::At("127.0.0.1:5353".parse().unwrap());
        let dns = Dns::new(at, Duration::from_secs(1)).unwrap();
        assert!(format!("{dns:?}").contains("127.0.0.1:5353"));
        if std::path::Path::new("/etc/resolv.conf").exists() {
            assert!(Dns::new(DnsServer::System, Duration::from_secs(1)).is_ok());
        }
    }

    #[test]
    fn zero_timeout_is_refused() {
        let server = DnsServer::At("127.0.0.1:53".parse().unwrap());
        assert!(matches!(
            Dns::new(server, Duration::ZERO),
            Err(DnsError::ZeroTimeout)
        ));
    }
}
