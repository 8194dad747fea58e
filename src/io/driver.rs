//! The daemon: loads the configuration and secrets, binds the sockets, then runs one loop that
//! moves bytes, timers and signals into the sans-IO [`Proxy`] and its outputs back out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::core::auth::{Authenticator, NonceKey};
use crate::core::config::{Config, ListenTransport};
use crate::core::flow::Transport;
use crate::core::locate::DEFAULT_SUPPORTED;
use crate::core::msg::SipUri;
use crate::core::proxy::{Event, Extension, Listener, Locality, LookupId, Proxy};
use crate::core::registrar::{Registrar, RegistrarPolicy, Snapshot};
use crate::core::time::Time;
use crate::core::transaction::{TimerConfig, Transactions};
use crate::io::dns::{Dns, DnsServer};
use crate::io::mdns::Mdns;
use crate::io::paths::{self, Paths};
use crate::io::secrets::{self, SecretStore};
use crate::io::state;
use crate::io::transport::{self, Input, Transports};

const BINDINGS_FILE: &str = "bindings.json";

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {transport} {addr} (setting server.listen): {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("secret store: {0}")]
    Secrets(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything the daemon needs from its command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
}

/// Reads config.toml (if present) and phones.toml (if present) over the embedded defaults.
pub fn load_config(paths: &Paths) -> Result<Config, DaemonError> {
    let (host, user) = (paths::host_name(), paths::user_name());
    let mut config = match state::read(&paths.config_file)? {
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                DaemonError::Config(format!("{}: not UTF-8", paths.config_file.display()))
            })?;
            Config::parse(&text, &host, &user)
                .map_err(|e| DaemonError::Config(format!("{}: {e}", paths.config_file.display())))?
        }
        None => Config::defaults(&host, &user)
            .map_err(|e| DaemonError::Config(format!("embedded defaults: {e}")))?,
    };
    if let Some(bytes) = state::read(&paths.phones_file)? {
        let text = String::from_utf8(bytes).map_err(|_| {
            DaemonError::Config(format!("{}: not UTF-8", paths.phones_file.display()))
        })?;
        config
            .merge_phones(&text)
            .map_err(|e| DaemonError::Config(format!("{}: {e}", paths.phones_file.display())))?;
    }
    Ok(config)
}

fn policy(config: &Config) -> RegistrarPolicy {
    RegistrarPolicy {
        min_expires: config.registrar.min_expires,
        max_expires: config.registrar.max_expires,
        default_expires: config.registrar.default_expires,
    }
}

fn extensions(config: &Config) -> Vec<Extension> {
    config
        .extensions
        .iter()
        .map(|e| Extension {
            number: e.number.clone(),
            name: e.name.clone(),
            display_name: e.display_name.clone(),
            aliases: e.aliases.clone(),
            inbound: e.inbound.clone(),
        })
        .collect()
}

/// The address to name in Via/Record-Route for a socket bound to a wildcard address: the one
/// the kernel would use towards the outside. A UDP `connect` only picks a route; it sends nothing.
fn advertised(addr: SocketAddr) -> SocketAddr {
    if !addr.ip().is_unspecified() {
        return addr;
    }
    let fallback = if addr.is_ipv4() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    };
    SocketAddr::new(
        transport::outward_address(addr.is_ipv4()).unwrap_or(fallback),
        addr.port(),
    )
}

fn random_bytes() -> Result<[u8; 32], DaemonError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| DaemonError::Io(std::io::Error::other(e.to_string())))?;
    Ok(b)
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---- mDNS: publishing the extensions on the local link ----------------------------------

/// What each extension is published as: its name, and every `name@domain` it answers to.
fn mdns_users(config: &Config) -> Vec<(String, Vec<String>)> {
    config
        .extensions
        .iter()
        .map(|e| {
            let ids = std::iter::once(&e.name)
                .chain(&e.aliases)
                .flat_map(|n| {
                    config
                        .server
                        .domains
                        .iter()
                        .map(move |d| format!("{n}@{d}"))
                })
                .collect();
            (e.name.clone(), ids)
        })
        .collect()
}

/// Starts mDNS and publishes the extensions on the first UDP and TCP listener. Best effort: a
/// LAN without multicast must not stop the daemon, so failures are logged and give `None`.
async fn start_mdns(config: &Config, listeners: &[Listener]) -> Option<Mdns> {
    if !config.mdns.enabled {
        return None;
    }
    let port = |t| {
        listeners
            .iter()
            .find(|l| l.transport == t)
            .map(|l| l.addr.port())
    };
    let (udp, tcp) = (port(Transport::Udp), port(Transport::Tcp));
    let users = mdns_users(config);
    // Creating the responder binds sockets and joins groups: blocking work.
    let started = tokio::task::spawn_blocking(move || {
        let mut mdns = Mdns::new()?;
        mdns.publish(&users, udp, tcp, &paths::host_name())?;
        // And listen for the others, so that `user@host.local` can be called.
        mdns.browse()?;
        Ok::<_, crate::io::mdns::MdnsError>(mdns)
    })
    .await;
    match started {
        Ok(Ok(mdns)) => {
            info!("published on the local link (mDNS)");
            Some(mdns)
        }
        Ok(Err(e)) => {
            warn!(error = %e, "mDNS disabled");
            None
        }
        Err(e) => {
            warn!(error = %e, "mDNS disabled");
            None
        }
    }
}

/// Says goodbye on the link so peers forget us now rather than when the records expire.
async fn stop_mdns(mdns: Option<Mdns>) {
    if let Some(mut mdns) = mdns {
        let _ = tokio::task::spawn_blocking(move || mdns.withdraw()).await;
    }
}

struct Daemon {
    paths: Paths,
    proxy: Proxy,
    transports: Transports,
    inputs_tx: mpsc::Sender<Input>,
    origin: Instant,
    store: Arc<dyn SecretStore>,
    dns: Dns,
    /// The LAN side (None when off or unavailable).
    mdns: Option<Mdns>,
}

impl Daemon {
    fn now(&self) -> Time {
        Time::from_duration(self.origin.elapsed())
    }

    /// Persists, then sends: a 200 OK to a REGISTER leaves only once the binding is on disk.
    async fn flush(&mut self) {
        let mut persist = false;
        while let Some(event) = self.proxy.poll_event() {
            match event {
                Event::BindingsChanged => persist = true,
                Event::Locate { id, uri } => self.locate(id, uri),
            }
        }
        if persist {
            self.persist_bindings();
        }
        while let Some(t) = self.proxy.poll_transmit() {
            self.transports.send(t.flow, t.bytes, &self.inputs_tx).await;
        }
    }

    /// Resolves in the background; the answer comes back as an input like a packet does.
    fn locate(&mut self, id: LookupId, uri: SipUri) {
        // `user@host.local`: the peers seen on the link, never DNS (RFC 6762 keeps .local off it).
        if let crate::core::msg::Host::Name(host) = &uri.host
            && (host.ends_with(".local") || host.ends_with(".local."))
        {
            let label = host.split('.').next().unwrap_or_default();
            let found = self.mdns.as_ref().and_then(|m| match uri.user_unescaped() {
                Some(user) => m.resolve_local(&format!("{user}@{label}")),
                None => m.resolve_local(host),
            });
            let result = found
                .ok_or_else(|| crate::core::locate::LocateError::NoTargets { name: host.clone() });
            let now = self.now();
            self.proxy.handle_located(id, result, now);
            return;
        }
        let dns = self.dns.clone();
        let inputs = self.inputs_tx.clone();
        let seed = u64::from_le_bytes(
            random_bytes()
                .map(|b| [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                .unwrap_or_default(),
        );
        tokio::spawn(async move {
            let result = dns
                .locate(&uri, DEFAULT_SUPPORTED, seed)
                .await
                .map(|t| t.all().to_vec());
            let _ = inputs.send(Input::Located { id, result }).await;
        });
    }

    fn persist_bindings(&self) {
        let snapshot = self.proxy.registrar().snapshot(self.now(), wall_ms());
        let path = self.paths.state_dir.join(BINDINGS_FILE);
        match serde_json::to_vec(&snapshot) {
            Ok(bytes) => {
                if let Err(e) = tokio::task::block_in_place(|| state::write_private(&path, &bytes))
                {
                    error!(path = %path.display(), error = %e, "could not save registrations");
                }
            }
            Err(e) => error!(error = %e, "could not serialise registrations"),
        }
    }

    async fn reload(&mut self) {
        info!("reloading configuration");
        let config = match load_config(&self.paths) {
            Ok(c) => c,
            Err(e) => {
                error!(error = %e, "reload failed; keeping the running configuration");
                return;
            }
        };
        let running: Vec<_> = self
            .proxy
            .locality()
            .listeners
            .iter()
            .map(|l| (l.transport, l.addr.port()))
            .collect();
        let wanted: Vec<_> = config
            .server
            .listen
            .iter()
            .map(|l| {
                (
                    if l.transport == ListenTransport::Udp {
                        Transport::Udp
                    } else {
                        Transport::Tcp
                    },
                    l.addr.port(),
                )
            })
            .collect();
        if running.len() != wanted.len() || wanted.iter().any(|w| w.1 != 0 && !running.contains(w))
        {
            warn!("server.listen changed: the sockets stay as they are until sipwitchd restarts");
        }
        let mut locality = self.proxy.locality().clone();
        locality.domains = config.server.domains.clone();
        locality.extensions = extensions(&config);
        let names: Vec<String> = locality.extensions.iter().map(|e| e.name.clone()).collect();
        match secrets::load_all(self.store.clone(), names).await {
            Ok(s) => self.proxy.set_secrets(s),
            Err(e) => warn!(error = %e, "could not reload secrets; keeping the old ones"),
        }
        self.proxy.set_locality(locality);
        self.proxy.registrar_mut().set_policy(policy(&config));
        self.proxy
            .set_auth_algorithms(config.auth.algorithms.clone());
        info!("configuration reloaded");
    }
}

/// Runs the daemon until SIGTERM/SIGINT. Prints one `listening on PROTO ADDR` line per socket
/// on stdout once every socket is bound (tests and scripts read these).
pub async fn run(options: Options) -> Result<(), DaemonError> {
    let paths =
        Paths::resolve(options.config.clone()).map_err(|e| DaemonError::Config(e.to_string()))?;
    let config = load_config(&paths)?;
    let origin = Instant::now();

    // Secrets first: a missing keyring is reported before the sockets say we are ready.
    let store_cfg = config.secrets;
    let store_paths = paths.clone();
    let store: Arc<dyn SecretStore> =
        tokio::task::spawn_blocking(move || secrets::open(&store_cfg, &store_paths))
            .await
            .map_err(|e| DaemonError::Secrets(e.to_string()))?
            .map_err(|e| DaemonError::Secrets(e.to_string()))?
            .into();
    let names: Vec<String> = config.extensions.iter().map(|e| e.name.clone()).collect();
    let secret_map: HashMap<String, String> = secrets::load_all(store.clone(), names)
        .await
        .map_err(|e| DaemonError::Secrets(e.to_string()))?;

    let (inputs_tx, mut inputs_rx) = mpsc::channel::<Input>(8192);
    let mut transports = Transports::new();
    let mut listeners = Vec::new();
    let mut lines = Vec::new();
    for listen in &config.server.listen {
        let (transport, name) = match listen.transport {
            ListenTransport::Udp => (Transport::Udp, "udp"),
            ListenTransport::Tcp => (Transport::Tcp, "tcp"),
        };
        let bound = transport::bind(transport, listen.addr)
            .await
            .map_err(|source| DaemonError::Bind {
                transport: name,
                addr: listen.addr,
                source,
            })?;
        let local = bound.local_addr()?;
        let named = advertised(local);
        lines.push(format!("listening on {name} {local}"));
        transports.start(bound, named, inputs_tx.clone());
        listeners.push(Listener {
            transport,
            addr: named,
        });
    }

    let locality = Locality {
        domains: config.server.domains.clone(),
        listeners,
        extensions: extensions(&config),
    };
    let realm = config
        .server
        .domains
        .first()
        .cloned()
        .unwrap_or_else(paths::host_name);
    let mut auth = Authenticator::new(
        realm,
        NonceKey::new(random_bytes()?),
        config.auth.nonce_lifetime,
    );
    auth.set_algorithms(config.auth.algorithms.clone());
    let mut registrar = Registrar::new(policy(&config));
    let bindings_path = paths.state_dir.join(BINDINGS_FILE);
    match state::read(&bindings_path) {
        Ok(Some(bytes)) => match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snap) => {
                let restored = registrar.restore(snap, Time::ZERO, wall_ms());
                info!(restored, "registrations restored");
            }
            Err(e) => {
                warn!(path = %bindings_path.display(), error = %e, "ignoring unreadable registrations")
            }
        },
        Ok(None) => {}
        Err(e) => {
            warn!(path = %bindings_path.display(), error = %e, "could not read registrations")
        }
    }
    let mut proxy = Proxy::new(
        locality,
        config.server.user_agent.clone(),
        Transactions::new(TimerConfig::default()),
        registrar,
        auth,
        random_bytes()?,
    );
    proxy.set_secrets(secret_map);

    let pid_file = paths.pid_file();
    if let Err(e) = state::write_private(&pid_file, format!("{}\n", std::process::id()).as_bytes())
    {
        warn!(path = %pid_file.display(), error = %e, "could not write pid file");
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
    }
    info!(domains = ?config.server.domains, extensions = config.extensions.len(), "sipwitchd ready");

    let mdns = start_mdns(&config, &proxy.locality().listeners).await;

    let dns_server = config.dns.server.map_or(DnsServer::System, DnsServer::At);
    let dns = Dns::new(dns_server, config.dns.timeout)
        .map_err(|e| DaemonError::Config(format!("dns ({dns_server}): {e}")))?;
    let mut daemon = Daemon {
        paths,
        proxy,
        transports,
        inputs_tx,
        origin,
        store,
        dns,
        mdns,
    };
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        let deadline = daemon
            .proxy
            .poll_timeout()
            .map(|t| daemon.origin + t.since_origin());
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = inputs_rx.recv() => {
                let Some(input) = input else { break };
                let now = daemon.now();
                match input {
                    Input::Packet { flow, bytes } => daemon.proxy.handle_datagram(flow, &bytes, now),
                    Input::Connected { flow, writer } => daemon.transports.connected(flow, writer),
                    Input::Located { id, result } => daemon.proxy.handle_located(id, result, now),
                    Input::Closed { flow } => {
                        daemon.transports.closed(flow);
                        daemon.proxy.handle_transport_error(flow, now);
                    }
                }
            }
            () = sleep => {
                let now = daemon.now();
                daemon.proxy.handle_timeout(now);
            }
            _ = hup.recv() => daemon.reload().await,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
        daemon.flush().await;
    }
    info!("shutting down");
    daemon.persist_bindings();
    stop_mdns(daemon.mdns.take()).await;
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}
