//! `sipwitch`: manage the phones (SIP accounts) of the per-user sipwitch daemon.
//!
//! ```text
//! sipwitch [--config FILE] phone add NAME [--number N] [--display-name D] [--password-stdin]
//! sipwitch [--config FILE] phone passwd NAME [--password-stdin]
//! sipwitch [--config FILE] phone remove NAME
//! sipwitch [--config FILE] phone list [--json]
//! sipwitch [--config FILE] config check
//! sipwitch [--config FILE] dns records [--domain D] [--address IP]...
//! sipwitch [--config FILE] dns key set [--name KEY] < secret
//! sipwitch [--config FILE] dns publish [--domain D] [--address IP]...
//! ```
//!
//! Phones added here go to phones.toml next to config.toml; their passwords go to the secret
//! store (desktop keyring or 0600 file), never to argv or a config file. A running daemon is
//! told to reload with SIGHUP. Exit status: 0 ok, 1 failure, 2 usage error.
//!
//! There is no tokio runtime here: the blocking secret store is called on the main thread,
//! which is what it wants.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sipwitch::core::config::{
    self, Config, ConfigError, Extension, ExtensionSource, ListenTransport, check_display_name,
    check_name, check_number, render_phones,
};
use sipwitch::io::paths::{self, Paths};
use sipwitch::io::secrets::{self, SecretStore, StoreKind};

#[derive(Debug, Parser)]
#[command(
    name = "sipwitch",
    version,
    about = "Manage the phones of the sipwitch SIP daemon"
)]
struct Cli {
    /// Config file to use instead of $XDG_CONFIG_HOME/sipwitch/config.toml
    /// (phones.toml is then the one next to it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, change or remove phones (SIP accounts).
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What to publish in DNS so that others can call you.
    #[command(subcommand)]
    Dns(DnsCommand),
    /// List the sipwitch users announced on the local network (mDNS/DNS-SD).
    Peers {
        /// How long to listen for announcements, in seconds.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        wait: u64,
        /// JSON array of {instance, user, identities, host, addresses, port, transport}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DnsCommand {
    /// Print the NAPTR, SRV and A/AAAA records (zone-file lines) for your domain.
    Records {
        /// The domain (default: the first configured one).
        #[arg(long)]
        domain: Option<String>,
        /// The public address others reach you at (repeatable; default: the addresses the
        /// daemon listens on, or this machine's outward address when it listens on all).
        #[arg(long = "address", value_name = "IP")]
        addresses: Vec<std::net::IpAddr>,
    },
    /// Send those records to the zone's primary server ([dns.publish] in config.toml) as an
    /// RFC 2136 update signed with the TSIG key, replacing the ones published before.
    Publish {
        /// The domain, which must be the zone's name (default: the first configured one).
        #[arg(long)]
        domain: Option<String>,
        /// The public address others reach you at (repeatable; default as for `records`).
        #[arg(long = "address", value_name = "IP")]
        addresses: Vec<std::net::IpAddr>,
    },
    /// The TSIG key `publish` signs with.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Store the key's base64 secret, read from the first line of stdin (never argv), in the
    /// secret store.
    Set {
        /// The key name (default: [dns.publish] key_name).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PhoneCommand {
    /// Add a phone and print the settings to type into it.
    Add {
        /// SIP user name: a-z, 0-9, '.', '_', '-'.
        name: String,
        /// Extension number (default: the lowest free one from 100).
        #[arg(long, value_name = "N")]
        number: Option<String>,
        #[arg(long, value_name = "D")]
        display_name: Option<String>,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a phone (generated unless --password-stdin).
    Passwd {
        name: String,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a phone added with `phone add`, and its password.
    Remove { name: String },
    /// List all phones.
    List {
        /// JSON array of {number, name, display_name, source}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parse config.toml and phones.toml and report errors.
    Check,
}

/// A failure to report; exit status 1.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Prints to stdout for --help/--version (status 0), to stderr otherwise (status 2).
        Err(e) => e.exit(),
    };
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(message)) => {
            eprintln!("sipwitch: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> Result<(), Fail> {
    let explicit_config = cli.config.is_some();
    let paths = Paths::resolve(cli.config)?;
    let setup = Setup::load(paths, explicit_config)?;
    match cli.command {
        Command::Phone(PhoneCommand::Add {
            name,
            number,
            display_name,
            password_stdin,
        }) => phone_add(&setup, name, number, display_name, password_stdin),
        Command::Phone(PhoneCommand::Passwd {
            name,
            password_stdin,
        }) => phone_passwd(&setup, &name, password_stdin),
        Command::Phone(PhoneCommand::Remove { name }) => phone_remove(&setup, &name),
        Command::Phone(PhoneCommand::List { json }) => phone_list(&setup, json),
        Command::Config(ConfigCommand::Check) => config_check(&setup),
        Command::Peers { wait, json } => peers(wait, json),
        Command::Dns(DnsCommand::Records { domain, addresses }) => {
            dns_records(&setup, domain, addresses)
        }
        Command::Dns(DnsCommand::Publish { domain, addresses }) => {
            dns_publish(&setup, domain, addresses)
        }
        Command::Dns(DnsCommand::Key(KeyCommand::Set { name })) => dns_key_set(&setup, name),
    }
}

/// Browses the link like `avahi-browse -t`: listens for `wait` seconds, then prints what it saw.
fn peers(wait: u64, json: bool) -> Result<(), Fail> {
    let mdns = sipwitch::io::mdns::Mdns::new()?;
    mdns.browse()?;
    // There is no "complete" in mDNS: answers trickle in, so listen for the whole window.
    mdns.wait_peers(std::time::Duration::from_secs(wait), |_| false);
    let peers = mdns.peers();
    mdns.shutdown();
    if json {
        let list: Vec<serde_json::Value> = peers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "instance": p.instance,
                    "user": p.user,
                    "identities": p.identities,
                    "host": p.host,
                    "addresses": p.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "port": p.port,
                    "transport": format!("{:?}", p.transport).to_ascii_lowercase(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if peers.is_empty() {
        println!("No sipwitch users found on the local network.");
    }
    for p in &peers {
        let addrs: Vec<String> = p.addrs.iter().map(ToString::to_string).collect();
        println!(
            "{:<24} {:<5} {}:{}  {}",
            p.instance,
            format!("{:?}", p.transport).to_ascii_lowercase(),
            p.host,
            p.port,
            p.identities.join(", ")
        );
        if !addrs.is_empty() {
            println!("{:<24}       at {}", "", addrs.join(", "));
        }
    }
    Ok(())
}

/// Prints the zone-file lines that make the domain reachable (RFC 3263).
fn dns_records(
    setup: &Setup,
    domain: Option<String>,
    addresses: Vec<std::net::IpAddr>,
) -> Result<(), Fail> {
    let (domain, records) = zone_records(setup, domain, addresses)?;
    println!(
        "; sipwitch: add these records to the zone of {domain} so that sip:user@{domain} reaches this machine"
    );
    for r in records {
        println!("{r}");
    }
    Ok(())
}

/// Stores the TSIG secret of the publish key.
fn dns_key_set(setup: &Setup, name: Option<String>) -> Result<(), Fail> {
    let name = match name.or_else(|| {
        setup
            .config
            .dns
            .publish
            .as_ref()
            .map(|p| p.key_name.clone())
    }) {
        Some(n) => config::absolute_key_name(&n),
        None => {
            return Err(Fail(
                "no key name: pass --name or set key_name in [dns.publish]".into(),
            ));
        }
    };
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail(format!("cannot read the secret from stdin: {e}")))?;
    let secret = line.trim();
    if !sipwitch::core::dnsupdate::valid_secret(secret) {
        return Err(Fail(
            "expected the key's base64 secret on the first line of stdin".into(),
        ));
    }
    let store = setup.open_store()?;
    store.set(&config::PublishConfig::secret_user(&name), secret)?;
    println!(
        "TSIG secret of {name} stored in {} ({})",
        store_name(store.as_ref()),
        store.describe()
    );
    Ok(())
}

/// How long each step of a publish (connect, send, answer, each lookup) may take.
const PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends the records as a signed RFC 2136 update, then looks the domain up on that server.
fn dns_publish(
    setup: &Setup,
    domain: Option<String>,
    addresses: Vec<std::net::IpAddr>,
) -> Result<(), Fail> {
    use sipwitch::core::dnsupdate::{self, TsigKey};
    use sipwitch::io::dnsupdate::{exchange_tcp, random_id};
    let Some(publish) = setup.config.dns.publish.clone() else {
        return Err(Fail(
            "no [dns.publish] in config.toml: set server = \"addr:port\" (the zone's primary) and key_name".into(),
        ));
    };
    let (domain, records) = zone_records(setup, domain, addresses)?;
    // The update deletes the old A/AAAA first: without a new one, it would unpublish us.
    if !records
        .iter()
        .any(|r| matches!(r, sipwitch::core::zone::Record::Address { .. }))
    {
        return Err(Fail(
            "no public address to publish: pass --address IP".into(),
        ));
    }
    let store = setup.open_store()?;
    let user = config::PublishConfig::secret_user(&publish.key_name);
    let Some(secret) = store.get(&user)? else {
        return Err(Fail(format!(
            "no TSIG secret for {} in {}: run `sipwitch dns key set` with the base64 secret on stdin",
            publish.key_name,
            store.describe()
        )));
    };
    let key = TsigKey::new(&publish.key_name, &secret)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Fail("the system clock is before 1970".into()))?
        .as_secs();
    let id = random_id().map_err(|e| Fail(format!("the system random source failed: {e}")))?;
    let update = dnsupdate::signed_update(id, &domain, &records, &key, now)?;
    let answer = exchange_tcp(publish.server, &update.wire, PUBLISH_TIMEOUT)?;
    dnsupdate::check_response(&answer, &update, &key).map_err(|e| {
        Fail(format!(
            "{} refused the update of {domain} signed with {}: {e}",
            publish.server, publish.key_name
        ))
    })?;
    println!(
        "published to {} (zone {domain}, key {}):",
        publish.server, publish.key_name
    );
    for r in &records {
        println!("{r}");
    }
    verify_published(&domain, publish.server, &records)
}

/// Locates sip:<domain> through the server just updated (NAPTR, SRV, A/AAAA, as a caller
/// would) and checks that every published address answers.
fn verify_published(
    domain: &str,
    server: std::net::SocketAddr,
    records: &[sipwitch::core::zone::Record],
) -> Result<(), Fail> {
    use sipwitch::core::locate::DEFAULT_SUPPORTED;
    use sipwitch::core::msg::Uri;
    use sipwitch::core::zone::Record;
    use sipwitch::io::dns::{Dns, DnsServer};
    let uri = Uri::parse(&format!("sip:{domain}"))
        .and_then(|u| u.as_sip().cloned())
        .ok_or_else(|| Fail(format!("{domain} is not a valid SIP domain")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let targets = rt.block_on(async {
        let dns = Dns::new(DnsServer::At(server), PUBLISH_TIMEOUT)?;
        Ok::<_, Fail>(dns.locate(&uri, DEFAULT_SUPPORTED, 0).await?)
    })?;
    let found: Vec<_> = targets.all().iter().map(|t| t.addr.ip()).collect();
    let missing: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Address { ip, .. } if !found.contains(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        return Err(Fail(format!(
            "the update was accepted, but {server} does not yet lead sip:{domain} to {}",
            missing.join(", ")
        )));
    }
    let shown: Vec<String> = targets
        .all()
        .iter()
        .map(|t| format!("{:?} {}", t.transport, t.addr))
        .collect();
    println!(
        "checked: {server} now locates sip:{domain} at {}",
        shown.join(", ")
    );
    Ok(())
}

/// The domain (given or the first configured) and its records for the configured listeners
/// at `addresses` (default: the listen addresses, or the outward address for a wildcard).
fn zone_records(
    setup: &Setup,
    domain: Option<String>,
    mut addresses: Vec<std::net::IpAddr>,
) -> Result<(String, Vec<sipwitch::core::zone::Record>), Fail> {
    use sipwitch::core::flow::Transport;
    let server = &setup.config.server;
    let domain = match domain.or_else(|| server.domains.first().cloned()) {
        Some(d) => d,
        None => return Err(Fail("no domain configured; pass --domain".into())),
    };
    let listeners: Vec<(Transport, u16)> = server
        .listen
        .iter()
        .map(|l| {
            (
                if l.transport == config::ListenTransport::Udp {
                    Transport::Udp
                } else {
                    Transport::Tcp
                },
                l.addr.port(),
            )
        })
        .collect();
    if addresses.is_empty() {
        for l in &server.listen {
            let ip = l.addr.ip();
            let ip = if ip.is_unspecified() {
                sipwitch::io::transport::outward_address(ip.is_ipv4())
            } else {
                Some(ip)
            };
            if let Some(ip) = ip.filter(|ip| !addresses.contains(ip)) {
                addresses.push(ip);
            }
        }
    }
    let records = sipwitch::core::zone::records(&domain, &listeners, &addresses);
    Ok((domain, records))
}

/// The files as they are now.
struct Setup {
    paths: Paths,
    config_text: Option<String>,
    phones_text: Option<String>,
    /// config.toml merged with phones.toml.
    config: Config,
    /// phones.toml alone.
    phones: Vec<Extension>,
}

fn read_optional(path: &Path) -> Result<Option<String>, Fail> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Fail(format!("cannot read {}: {e}", path.display()))),
    }
}

fn in_file(path: &Path, e: ConfigError) -> Fail {
    Fail(format!("invalid {}:\n  {e}", path.display()))
}

impl Setup {
    fn load(paths: Paths, explicit_config: bool) -> Result<Setup, Fail> {
        let config_text = read_optional(&paths.config_file)?;
        if config_text.is_none() && explicit_config {
            return Err(Fail(format!(
                "config file {} does not exist",
                paths.config_file.display()
            )));
        }
        let mut config = Config::parse(
            config_text.as_deref().unwrap_or(""),
            &paths::host_name(),
            &paths::user_name(),
        )
        .map_err(|e| in_file(&paths.config_file, e))?;
        let phones_text = read_optional(&paths.phones_file)?;
        let phones_str = phones_text.as_deref().unwrap_or("");
        let phones =
            Config::parse_phones(phones_str).map_err(|e| in_file(&paths.phones_file, e))?;
        config
            .merge_phones(phones_str)
            .map_err(|e| in_file(&paths.phones_file, e))?;
        Ok(Setup {
            paths,
            config_text,
            phones_text,
            config,
            phones,
        })
    }

    /// Checks that config.toml plus `phones` is a valid configuration, then writes phones.toml.
    fn write_phones(&self, phones: &[Extension]) -> Result<(), Fail> {
        let text = render_phones(phones);
        let mut check = Config::parse(
            self.config_text.as_deref().unwrap_or(""),
            &paths::host_name(),
            &paths::user_name(),
        )
        .map_err(|e| in_file(&self.paths.config_file, e))?;
        check
            .merge_phones(&text)
            .map_err(|e| in_file(&self.paths.phones_file, e))?;
        self.paths.ensure_config_dir()?;
        paths::write_atomic(&self.paths.phones_file, text.as_bytes(), 0o600).map_err(|e| {
            Fail(format!(
                "cannot write {}: {e}",
                self.paths.phones_file.display()
            ))
        })
    }

    fn open_store(&self) -> Result<Box<dyn SecretStore>, Fail> {
        Ok(secrets::open(&self.config.secrets, &self.paths)?)
    }
}

fn where_defined(e: &Extension) -> &'static str {
    match e.source {
        ExtensionSource::Config => "config.toml",
        ExtensionSource::Phones => "phones.toml",
        ExtensionSource::Default => "the built-in default",
    }
}

/// One line of stdin, without its line end. Passwords never come from argv, where every user
/// on the machine can read them (/proc/PID/cmdline).
fn password_from_stdin() -> Result<String, Fail> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Fail("no password on stdin (expected one line)".into()));
    }
    if password.chars().count() > 128 || password.chars().any(char::is_control) {
        return Err(Fail(
            "the password must be at most 128 characters without control characters".into(),
        ));
    }
    Ok(password.to_string())
}

fn new_password(from_stdin: bool) -> Result<(String, bool), Fail> {
    if from_stdin {
        Ok((password_from_stdin()?, false))
    } else {
        Ok((secrets::generate_password()?, true))
    }
}

fn store_name(store: &dyn SecretStore) -> &'static str {
    match store.kind() {
        StoreKind::Keyring => "the keyring",
        StoreKind::File => "the secrets file",
    }
}

fn password_line(password: &str, generated: bool, store: &dyn SecretStore) -> String {
    if generated {
        format!(
            "  Password:    {password}     (shown once; stored in {})",
            store_name(store)
        )
    } else {
        format!(
            "  Password:    (as given on stdin; stored in {})",
            store_name(store)
        )
    }
}

fn phone_add(
    setup: &Setup,
    name: String,
    number: Option<String>,
    display_name: Option<String>,
    password_stdin: bool,
) -> Result<(), Fail> {
    check_name(&name).map_err(|why| Fail(format!("invalid phone name: {why}")))?;
    if let Some(existing) = setup.config.extension_by_name(&name) {
        return Err(Fail(format!(
            "phone {name:?} already exists (extension {}, in {})",
            existing.number,
            where_defined(existing)
        )));
    }
    let number = number.unwrap_or_else(|| setup.config.next_free_number());
    check_number(&number).map_err(|why| Fail(format!("invalid extension number: {why}")))?;
    if let Some(existing) = setup.config.extension_by_number(&number) {
        return Err(Fail(format!(
            "extension {number} is already {:?} (in {})",
            existing.name,
            where_defined(existing)
        )));
    }
    if let Some(d) = &display_name {
        check_display_name(d).map_err(|why| Fail(format!("invalid display name: {why}")))?;
    }
    let ext = Extension {
        number,
        name,
        display_name,
        aliases: Vec::new(),
        inbound: config::InboundPolicy::default(),
        source: ExtensionSource::Phones,
    };
    let mut phones = setup.phones.clone();
    phones.push(ext.clone());

    let (password, generated) = new_password(password_stdin)?;
    // The secret first: a phone without a password would be listed but could never register,
    // while a password without a phone is harmless (and overwritten by the next add).
    let store = setup.open_store()?;
    store.set(&ext.name, &password)?;
    setup.write_phones(&phones)?;

    let domain = setup
        .config
        .server
        .domains
        .first()
        .map(String::as_str)
        .unwrap_or("localhost");
    println!("Phone {:?} (extension {}) added.", ext.name, ext.number);
    println!("  SIP address: sip:{}@{domain}", ext.name);
    println!("  Username:    {}", ext.name);
    println!("{}", password_line(&password, generated, store.as_ref()));
    println!(
        "  Registrar:   {domain} ({})",
        registrar_transport(&setup.config)
    );
    report_reload(&setup.paths);
    Ok(())
}

/// "port 5060, UDP or TCP" from the listen addresses.
fn registrar_transport(config: &Config) -> String {
    let listen = &config.server.listen;
    let port = listen
        .first()
        .map_or(config::DEFAULT_PORT, |l| l.addr.port());
    let udp = listen.iter().any(|l| l.transport == ListenTransport::Udp);
    let tcp = listen.iter().any(|l| l.transport == ListenTransport::Tcp);
    let transports = match (udp, tcp) {
        (true, true) => "UDP or TCP",
        (false, true) => "TCP",
        _ => "UDP",
    };
    format!("port {port}, {transports}")
}

fn phone_passwd(setup: &Setup, name: &str, password_stdin: bool) -> Result<(), Fail> {
    if setup.config.extension_by_name(name).is_none() {
        return Err(Fail(format!("no phone named {name:?}")));
    }
    let (password, generated) = new_password(password_stdin)?;
    let store = setup.open_store()?;
    store.set(name, &password)?;
    println!("Password of phone {name:?} changed.");
    println!("{}", password_line(&password, generated, store.as_ref()));
    report_reload(&setup.paths);
    Ok(())
}

fn phone_remove(setup: &Setup, name: &str) -> Result<(), Fail> {
    let Some(ext) = setup.config.extension_by_name(name) else {
        return Err(Fail(format!("no phone named {name:?}")));
    };
    match ext.source {
        ExtensionSource::Phones => {}
        ExtensionSource::Config => {
            return Err(Fail(format!(
                "phone {name:?} is defined in {}; remove its [[extension]] there",
                setup.paths.config_file.display()
            )));
        }
        ExtensionSource::Default => {
            return Err(Fail(format!(
                "phone {name:?} is the built-in default extension; it goes away once {} defines [[extension]] entries",
                setup.paths.config_file.display()
            )));
        }
    }
    let phones: Vec<Extension> = setup
        .phones
        .iter()
        .filter(|e| e.name != name)
        .cloned()
        .collect();
    setup.write_phones(&phones)?;
    let store = setup.open_store()?;
    store.delete(name).map_err(|e| {
        Fail(format!(
            "phone {name:?} was removed, but its password could not be deleted: {e}"
        ))
    })?;
    println!("Phone {name:?} (extension {}) removed.", ext.number);
    report_reload(&setup.paths);
    Ok(())
}

fn phone_list(setup: &Setup, json: bool) -> Result<(), Fail> {
    let exts = &setup.config.extensions;
    if json {
        let list: Vec<serde_json::Value> = exts
            .iter()
            .map(|e| {
                serde_json::json!({
                    "number": e.number,
                    "name": e.name,
                    "display_name": e.display_name,
                    "source": e.source.as_str(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let rows: Vec<[&str; 4]> = exts
        .iter()
        .map(|e| {
            [
                e.number.as_str(),
                e.name.as_str(),
                e.display_name.as_deref().unwrap_or("-"),
                e.source.as_str(),
            ]
        })
        .collect();
    let header = ["NUMBER", "NAME", "DISPLAY NAME", "SOURCE"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

fn config_check(setup: &Setup) -> Result<(), Fail> {
    let c = &setup.config;
    let p = &setup.paths;
    let present = |t: &Option<String>| {
        if t.is_some() {
            ""
        } else {
            " (not present: built-in defaults)"
        }
    };
    println!("Configuration OK.");
    println!(
        "  config file:  {}{}",
        p.config_file.display(),
        present(&setup.config_text)
    );
    println!(
        "  phones file:  {}{}",
        p.phones_file.display(),
        if setup.phones_text.is_some() {
            ""
        } else {
            " (not present)"
        }
    );
    println!("  domains:      {}", c.server.domains.join(", "));
    let listen: Vec<String> = c.server.listen.iter().map(ToString::to_string).collect();
    println!("  listen:       {}", listen.join(", "));
    println!("  phones:       {}", c.extensions.len());
    let store = match c.secrets.store {
        config::StoreChoice::Auto => format!("auto (keyring, else {})", p.secrets_file().display()),
        config::StoreChoice::Keyring => "keyring".to_string(),
        config::StoreChoice::File => format!("file {}", p.secrets_file().display()),
    };
    println!("  secrets:      {store}");
    println!("  state dir:    {}", p.state_dir.display());
    println!("  pid file:     {}", p.pid_file().display());
    Ok(())
}

// ---- telling the daemon ---------------------------------------------------------------

fn report_reload(paths: &Paths) {
    match reload_daemon(paths) {
        Ok(Some(pid)) => println!("sipwitchd (pid {pid}) was told to reload."),
        Ok(None) => println!("sipwitchd is not running; the change applies when it starts."),
        Err(e) => eprintln!("sipwitch: warning: could not tell sipwitchd to reload: {e}"),
    }
}

/// Sends SIGHUP to the running daemon, if the pid file names one. Returns its pid.
fn reload_daemon(paths: &Paths) -> Result<Option<i32>, String> {
    let text = match std::fs::read_to_string(paths.pid_file()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", paths.pid_file().display())),
    };
    let Some(pid) = text.trim().parse::<i32>().ok().filter(|&p| p > 1) else {
        return Err(format!(
            "{} does not hold a pid",
            paths.pid_file().display()
        ));
    };
    // A stale pid file may name a pid that now belongs to another program, for which SIGHUP
    // usually means "terminate": only signal a sipwitchd of our own user.
    if !is_our_daemon(pid) {
        return Ok(None);
    }
    send_sighup(pid).map_err(|e| format!("kill -HUP {pid}: {e}"))?;
    Ok(Some(pid))
}

fn is_our_daemon(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let comm = std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
    let owner = std::fs::metadata(&proc_dir).map(|m| m.uid()).ok();
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    comm.trim_end() == "sipwitchd" && owner.is_some() && owner == me
}

#[allow(unsafe_code)]
fn send_sighup(pid: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours. The pid was just
    // checked to be a sipwitchd of our user.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
