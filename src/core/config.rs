//! The configuration: `config.toml` (written by the user) and `phones.toml` (written by
//! `sipwitch phone add/remove`, same `[[extension]]` schema). Pure: both are parsed from
//! strings; reading the files is the shell's job.
//!
//! Every field is optional and has an embedded default, so an empty (or missing) config file is
//! a working setup: the host's domains, the standard SIP port on every address, and one
//! extension (100) for the user running the daemon. Unknown keys are errors (a typo must not
//! silently fall back to a default); every error names the key and, when it came from a file,
//! the line.
//!
//! ```toml
//! [server]
//! domains = ["alice.test"]
//! listen = ["udp:0.0.0.0:5060", "tcp:[::]:5060"]
//! user_agent = "sipwitch/0.1.0"
//! [registrar]
//! min_expires = 60
//! max_expires = 3600
//! default_expires = 600
//! [auth]
//! nonce_lifetime_s = 300
//! [secrets]
//! store = "auto"            # auto | keyring | file
//! [mdns]
//! enabled = true            # publish the extensions on the LAN (tests set false)
//! [dns.publish]             # optional: `sipwitch dns publish` (RFC 2136 + TSIG)
//! server = "192.0.2.53:53"  # the zone's primary
//! key_name = "sipwitch-key." # secret: `sipwitch dns key set`
//! [[extension]]
//! number = "100"
//! name = "alice"
//! display_name = "Alice"
//! ```

use crate::core::auth::Algorithm;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub server: ServerConfig,
    pub registrar: RegistrarConfig,
    pub auth: AuthConfig,
    pub secrets: SecretsConfig,
    pub dns: DnsConfig,
    pub mdns: MdnsConfig,
    /// From config.toml (or the built-in default), then from phones.toml.
    pub extensions: Vec<Extension>,
}

/// Where names are looked up (RFC 3263 routing to other domains).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    /// `None`: the system's resolver (`/etc/resolv.conf`); `Some`: exactly this server
    /// (`server = "127.0.0.1:5353"`; resolv.conf cannot name a port).
    pub server: Option<SocketAddr>,
    /// How long one lookup may take before the call is answered 503.
    pub timeout: Duration,
    /// `[dns.publish]`: where `sipwitch dns publish` sends its RFC 2136 update.
    pub publish: Option<PublishConfig>,
}

/// The primary server of the user's zone and the TSIG key it accepts updates with. The
/// secret itself is in the secret store under [`PublishConfig::secret_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishConfig {
    pub server: SocketAddr,
    /// Absolute, lowercase, with the trailing dot (`sipwitch-key.`).
    pub key_name: String,
}

impl PublishConfig {
    /// The secret store entry of the TSIG secret of `key_name`.
    pub fn secret_user(key_name: &str) -> String {
        format!("tsig:{}", absolute_key_name(key_name))
    }
}

/// `Key.Name` and `key.name.` are the same key.
pub fn absolute_key_name(key_name: &str) -> String {
    format!("{}.", key_name.trim_end_matches('.').to_ascii_lowercase())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Lower-cased, non-empty, no duplicates. The first one is the realm and the domain
    /// shown to users.
    pub domains: Vec<String>,
    /// Non-empty, no duplicates.
    pub listen: Vec<Listen>,
    pub user_agent: String,
}

/// Transport of a listen address. Stand-in for `crate::core::flow::Transport` (branch `txn`),
/// to be unified by the lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenTransport {
    Udp,
    Tcp,
}

impl ListenTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            ListenTransport::Udp => "udp",
            ListenTransport::Tcp => "tcp",
        }
    }
}

/// `udp:0.0.0.0:5060`, `tcp:[::1]:5060`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Listen {
    pub transport: ListenTransport,
    pub addr: SocketAddr,
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Listen, String> {
        let shape = || {
            format!(
                "{s:?} is not transport:address:port (e.g. \"udp:0.0.0.0:5060\" or \"tcp:[::1]:5060\")"
            )
        };
        let (transport, addr) = s.split_once(':').ok_or_else(shape)?;
        let transport = if transport.eq_ignore_ascii_case("udp") {
            ListenTransport::Udp
        } else if transport.eq_ignore_ascii_case("tcp") {
            ListenTransport::Tcp
        } else {
            return Err(format!("{s:?}: transport {transport:?} is not udp or tcp"));
        };
        let addr = addr.parse::<SocketAddr>().map_err(|_| shape())?;
        Ok(Listen { transport, addr })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str(), self.addr)
    }
}

/// Registration lifetimes in seconds: requests below `min_expires` get 423, above
/// `max_expires` are shortened, none given means `default_expires`.
/// Invariant: `1 <= min_expires <= default_expires <= max_expires`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    pub nonce_lifetime: Duration,
    /// Digest algorithms offered, one challenge each, in this order. RFC 8760 wants SHA-256
    /// first; some old phones (baresip 1.0, SIPp 3.6) answer only the first challenge and only
    /// know MD5, and need `["MD5", "SHA-256"]`.
    pub algorithms: Vec<Algorithm>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretsConfig {
    pub store: StoreChoice,
}

/// Where the extensions' passwords live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreChoice {
    /// The desktop keyring if a Secret Service answers, else the file (with a warning).
    Auto,
    Keyring,
    File,
}

/// One phone account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Digits only, 1 to 15 of them (E.164 length), unique.
    pub number: String,
    /// The SIP user and auth user name: `[a-z0-9._-]`, starts with a letter or digit, not all
    /// digits (it would read as a number), at most 32 characters, unique.
    pub name: String,
    pub display_name: Option<String>,
    /// More user names that reach this extension (`alice.smith` for `alice@example.org`).
    pub aliases: Vec<String>,
    /// Who may call this extension from outside.
    pub inbound: InboundPolicy,
    pub source: ExtensionSource,
}

/// Who may call an extension from outside (local phones always may).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboundPolicy {
    /// Only callers matching `allow` (else anyone not blocked).
    pub known_only: bool,
    /// `user@domain`, `domain` or `*.domain`, lower-case.
    pub allow: Vec<String>,
    /// Refused whatever else is set.
    pub block: Vec<String>,
}

impl InboundPolicy {
    /// Whether a caller (`user`, `host` of its From) may ring the extension.
    pub fn admits(&self, user: Option<&str>, host: &str) -> bool {
        let matches = |p: &String| {
            let (pu, ph) = match p.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, p.as_str()),
            };
            let host_ok = match ph.strip_prefix("*.") {
                Some(base) => {
                    host.eq_ignore_ascii_case(base)
                        || host.to_ascii_lowercase().ends_with(&format!(".{base}"))
                }
                None => host.eq_ignore_ascii_case(ph),
            };
            host_ok && pu.is_none_or(|pu| user.is_some_and(|u| u.eq_ignore_ascii_case(pu)))
        };
        if self.block.iter().any(matches) {
            return false;
        }
        !self.known_only || self.allow.iter().any(matches)
    }
}

/// Which file an extension came from (the CLI may only edit phones.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionSource {
    Config,
    Phones,
    /// The embedded default extension for the current user (no `[[extension]]` configured).
    Default,
}

impl ExtensionSource {
    /// For `phone list --json`: the embedded default counts as configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionSource::Config | ExtensionSource::Default => "config",
            ExtensionSource::Phones => "phones",
        }
    }
}

/// The file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFile {
    Config,
    Phones,
}

impl fmt::Display for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigFile::Config => "config.toml",
            ConfigFile::Phones => "phones.toml",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, a wrong type or an unknown key: toml's own message, which shows line, column
    /// and the offending key.
    #[error("{file}: {message}")]
    Syntax { file: ConfigFile, message: String },
    /// A value that parsed but is not acceptable. `line` is `None` for values that came from
    /// the embedded defaults.
    #[error("{file}{}: {key}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        file: ConfigFile,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

impl ConfigError {
    pub fn file(&self) -> ConfigFile {
        match self {
            ConfigError::Syntax { file, .. } | ConfigError::Invalid { file, .. } => *file,
        }
    }
}

pub const DEFAULT_PORT: u16 = 5060;
pub const DEFAULT_EXTENSION_NUMBER: &str = "100";

const DEFAULT_LISTEN: [&str; 4] = [
    "udp:0.0.0.0:5060",
    "tcp:0.0.0.0:5060",
    "udp:[::]:5060",
    "tcp:[::]:5060",
];
const DEFAULT_MIN_EXPIRES: u32 = 60;
const DEFAULT_MAX_EXPIRES: u32 = 3600;
const DEFAULT_EXPIRES: u32 = 600;
/// Publishing on the local link (mDNS/DNS-SD, `_sip._udp.local.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MdnsConfig {
    /// On by default: a daemon on a LAN is reachable as `user@host` without any DNS set up.
    /// The test suite turns it off, because mDNS joins multicast groups on every interface of
    /// the machine; its own mDNS tests run in private network namespaces.
    pub enabled: bool,
}

const DEFAULT_NONCE_LIFETIME_S: u64 = 300;
const MAX_NONCE_LIFETIME_S: u64 = 86_400;

// ---- the file shapes --------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    server: RawServer,
    registrar: RawRegistrar,
    auth: RawAuth,
    secrets: RawSecrets,
    dns: RawDns,
    mdns: RawMdns,
    #[serde(rename = "extension")]
    extensions: Vec<RawExtension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDns {
    server: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<u64>>,
    publish: Option<RawPublish>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    server: Spanned<String>,
    key_name: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMdns {
    enabled: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    domains: Option<Spanned<Vec<Spanned<String>>>>,
    listen: Option<Spanned<Vec<Spanned<String>>>>,
    user_agent: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRegistrar {
    min_expires: Option<Spanned<u32>>,
    max_expires: Option<Spanned<u32>>,
    default_expires: Option<Spanned<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    nonce_lifetime_s: Option<Spanned<u64>>,
    algorithms: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSecrets {
    store: Option<StoreChoice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtension {
    number: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    display_name: Option<Spanned<String>>,
    #[serde(default)]
    aliases: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    inbound: Option<Spanned<String>>,
    #[serde(default)]
    allow: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    block: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPhones {
    #[serde(rename = "extension")]
    extensions: Vec<RawExtension>,
}

// ---- parsing ----------------------------------------------------------------------------

fn publish(cx: &Ctx<'_>, raw: &RawPublish) -> Result<PublishConfig, ConfigError> {
    let server = raw.server.get_ref().parse::<SocketAddr>().map_err(|_| {
        cx.at(
            &raw.server,
            "dns.publish.server",
            "must be the address:port of the zone's primary server, such as \"192.0.2.53:53\""
                .to_owned(),
        )
    })?;
    let name = raw.key_name.get_ref().trim_end_matches('.');
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 250 || !name.split('.').all(label_ok) {
        return Err(cx.at(
            &raw.key_name,
            "dns.publish.key_name",
            "must be the TSIG key's DNS name, such as \"sipwitch-key.\"".to_owned(),
        ));
    }
    Ok(PublishConfig {
        server,
        key_name: absolute_key_name(name),
    })
}

/// Builds errors that point into one file's text.
struct Ctx<'a> {
    file: ConfigFile,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let upto = self.text.get(..offset).unwrap_or(self.text);
        upto.bytes().filter(|&b| b == b'\n').count() + 1
    }

    fn at<T>(
        &self,
        v: &Spanned<T>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file,
            line: Some(self.line(v.span().start)),
            key: key.into(),
            message: message.into(),
        }
    }

    fn nowhere(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file,
            line: None,
            key: key.into(),
            message: message.into(),
        }
    }

    fn syntax(&self, e: toml::de::Error) -> ConfigError {
        ConfigError::Syntax {
            file: self.file,
            message: e.to_string().trim_end().to_string(),
        }
    }
}

impl Config {
    /// The embedded defaults (what an empty config.toml means).
    pub fn defaults(hostname: &str, default_user: &str) -> Result<Config, ConfigError> {
        Config::parse("", hostname, default_user)
    }

    /// Parses and validates config.toml. `hostname` gives the default domains, `default_user`
    /// (the login name) the default extension when none is configured.
    pub fn parse(text: &str, hostname: &str, default_user: &str) -> Result<Config, ConfigError> {
        let cx = Ctx {
            file: ConfigFile::Config,
            text,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| cx.syntax(e))?;

        let server = server(&cx, raw.server, hostname)?;
        let registrar = registrar(&cx, raw.registrar)?;
        let nonce_lifetime_s = match raw.auth.nonce_lifetime_s {
            None => DEFAULT_NONCE_LIFETIME_S,
            Some(v) if (1..=MAX_NONCE_LIFETIME_S).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                return Err(cx.at(
                    &v,
                    "auth.nonce_lifetime_s",
                    format!("must be 1 to {MAX_NONCE_LIFETIME_S} seconds"),
                ));
            }
        };
        let algorithms = match raw.auth.algorithms {
            None => vec![Algorithm::Sha256, Algorithm::Md5],
            Some(v) => {
                let mut algs = Vec::new();
                for name in v.get_ref() {
                    let Some(alg) = Algorithm::from_token(name) else {
                        return Err(cx.at(
                            &v,
                            "auth.algorithms",
                            format!("unknown algorithm {name:?} (use \"SHA-256\" and/or \"MD5\")"),
                        ));
                    };
                    if algs.contains(&alg) {
                        return Err(cx.at(
                            &v,
                            "auth.algorithms",
                            format!("{name:?} is listed twice"),
                        ));
                    }
                    algs.push(alg);
                }
                if algs.is_empty() {
                    return Err(cx.at(
                        &v,
                        "auth.algorithms",
                        "must name at least one algorithm".to_owned(),
                    ));
                }
                algs
            }
        };
        let secrets = SecretsConfig {
            store: raw.secrets.store.unwrap_or(StoreChoice::Auto),
        };
        let dns = DnsConfig {
            server: match raw.dns.server {
                None => None,
                Some(v) if v.get_ref() == "system" => None,
                Some(v) => Some(v.get_ref().parse::<SocketAddr>().map_err(|_| {
                    cx.at(
                        &v,
                        "dns.server",
                        "must be \"system\" or an address:port such as \"127.0.0.1:5353\""
                            .to_owned(),
                    )
                })?),
            },
            timeout: match raw.dns.timeout_ms {
                None => Duration::from_millis(DEFAULT_DNS_TIMEOUT_MS),
                Some(v) if (100..=60_000).contains(v.get_ref()) => {
                    Duration::from_millis(*v.get_ref())
                }
                Some(v) => {
                    return Err(cx.at(&v, "dns.timeout_ms", "must be 100 to 60000".to_owned()));
                }
            },
            publish: match raw.dns.publish {
                None => None,
                Some(v) => Some(publish(&cx, &v)?),
            },
        };

        let mdns = MdnsConfig {
            enabled: raw.mdns.enabled.is_none_or(|v| *v.get_ref()),
        };

        let mut extensions = Vec::new();
        for raw in raw.extensions {
            let ext = extension(&cx, raw, ExtensionSource::Config)?;
            add_unique(&cx, &mut extensions, ext)?;
        }
        if extensions.is_empty() {
            let name = default_user.to_ascii_lowercase();
            if let Err(why) = check_name(&name) {
                return Err(cx.nowhere(
                    "extension",
                    format!(
                        "no [[extension]] is configured and the login name {default_user:?} cannot be the default one ({why}); add an [[extension]]"
                    ),
                ));
            }
            extensions.push(Extension {
                number: DEFAULT_EXTENSION_NUMBER.to_string(),
                name,
                display_name: None,
                aliases: Vec::new(),
                inbound: InboundPolicy::default(),
                source: ExtensionSource::Default,
            });
        }

        Ok(Config {
            server,
            registrar,
            auth: AuthConfig {
                nonce_lifetime: Duration::from_secs(nonce_lifetime_s),
                algorithms,
            },
            secrets,
            dns,
            mdns,
            extensions,
        })
    }

    /// Parses phones.toml on its own (only `[[extension]]` entries; validated, no duplicates
    /// inside the file).
    pub fn parse_phones(text: &str) -> Result<Vec<Extension>, ConfigError> {
        let cx = Ctx {
            file: ConfigFile::Phones,
            text,
        };
        let raw: RawPhones = toml::from_str(text).map_err(|e| cx.syntax(e))?;
        let mut out = Vec::new();
        for raw in raw.extensions {
            let ext = extension(&cx, raw, ExtensionSource::Phones)?;
            add_unique(&cx, &mut out, ext)?;
        }
        Ok(out)
    }

    /// Adds the extensions of phones.toml; one that repeats a number or name already defined
    /// is an error naming both files.
    pub fn merge_phones(&mut self, text: &str) -> Result<(), ConfigError> {
        let cx = Ctx {
            file: ConfigFile::Phones,
            text,
        };
        let raw: RawPhones = toml::from_str(text).map_err(|e| cx.syntax(e))?;
        let mut merged = self.extensions.clone();
        for raw in raw.extensions {
            let ext = extension(&cx, raw, ExtensionSource::Phones)?;
            add_unique(&cx, &mut merged, ext)?;
        }
        self.extensions = merged;
        Ok(())
    }

    pub fn extension_by_name(&self, name: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.name == name)
    }

    pub fn extension_by_number(&self, number: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.number == number)
    }

    /// The smallest free extension number from 100 up.
    pub fn next_free_number(&self) -> String {
        (100u64..)
            .map(|n| n.to_string())
            .find(|n| self.extension_by_number(n).is_none())
            .unwrap_or_default()
    }
}

/// phones.toml text for these extensions (their `source` is not written).
pub fn render_phones(extensions: &[Extension]) -> String {
    let mut out = String::from(
        "# Phones added with `sipwitch phone add`; same [[extension]] schema as config.toml.\n",
    );
    for e in extensions {
        out.push_str("\n[[extension]]\n");
        out.push_str(&format!("number = {}\n", toml_string(&e.number)));
        out.push_str(&format!("name = {}\n", toml_string(&e.name)));
        if let Some(d) = &e.display_name {
            out.push_str(&format!("display_name = {}\n", toml_string(d)));
        }
        let list = |v: &[String]| {
            v.iter()
                .map(|x| toml_string(x))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !e.aliases.is_empty() {
            out.push_str(&format!("aliases = [{}]\n", list(&e.aliases)));
        }
        if e.inbound.known_only {
            out.push_str("inbound = \"known\"\n");
        }
        if !e.inbound.allow.is_empty() {
            out.push_str(&format!("allow = [{}]\n", list(&e.inbound.allow)));
        }
        if !e.inbound.block.is_empty() {
            out.push_str(&format!("block = [{}]\n", list(&e.inbound.block)));
        }
    }
    out
}

/// A TOML basic string (also used for keys: names may contain '.').
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn server(cx: &Ctx<'_>, raw: RawServer, hostname: &str) -> Result<ServerConfig, ConfigError> {
    let domains = match raw.domains {
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(cx.at(&list, "server.domains", "must name at least one domain"));
            }
            let mut out: Vec<String> = Vec::new();
            for (i, d) in list.get_ref().iter().enumerate() {
                let key = format!("server.domains[{i}]");
                let norm = d.get_ref().to_ascii_lowercase();
                check_domain(&norm).map_err(|why| cx.at(d, &key, why))?;
                if out.contains(&norm) {
                    return Err(cx.at(d, &key, format!("{norm:?} is listed twice")));
                }
                out.push(norm);
            }
            out
        }
        None => {
            let domains = default_domains(hostname);
            for d in &domains {
                check_domain(d).map_err(|why| {
                    cx.nowhere("server.domains", format!("the default from the host name {hostname:?} is not usable ({why}); set server.domains"))
                })?;
            }
            domains
        }
    };

    let listen = match raw.listen {
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(cx.at(&list, "server.listen", "must hold at least one address"));
            }
            let mut out: Vec<Listen> = Vec::new();
            for (i, l) in list.get_ref().iter().enumerate() {
                let key = format!("server.listen[{i}]");
                let parsed: Listen = l
                    .get_ref()
                    .parse()
                    .map_err(|why: String| cx.at(l, &key, why))?;
                if out.contains(&parsed) {
                    return Err(cx.at(l, &key, format!("{parsed} is listed twice")));
                }
                out.push(parsed);
            }
            out
        }
        None => {
            let mut out = Vec::new();
            for l in DEFAULT_LISTEN {
                out.push(
                    l.parse()
                        .map_err(|why: String| cx.nowhere("server.listen", why))?,
                );
            }
            out
        }
    };

    let user_agent = match raw.user_agent {
        None => format!("sipwitch/{}", env!("CARGO_PKG_VERSION")),
        Some(ua) => {
            let v = ua.get_ref();
            if v.is_empty() || v.len() > 200 || !v.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            {
                return Err(cx.at(
                    &ua,
                    "server.user_agent",
                    "must be 1 to 200 printable ASCII characters",
                ));
            }
            v.clone()
        }
    };
    Ok(ServerConfig {
        domains,
        listen,
        user_agent,
    })
}

/// `[host, <first label>.local]`, the second left out when it would say nothing new.
fn default_domains(hostname: &str) -> Vec<String> {
    let host = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut out = vec![host.clone()];
    let short = host.split('.').next().unwrap_or_default();
    if host != "localhost" && !host.ends_with(".local") && !short.is_empty() {
        out.push(format!("{short}.local"));
    }
    out
}

fn registrar(cx: &Ctx<'_>, raw: RawRegistrar) -> Result<RegistrarConfig, ConfigError> {
    let value = |v: &Option<Spanned<u32>>, default| v.as_ref().map_or(default, |s| *s.get_ref());
    let min = value(&raw.min_expires, DEFAULT_MIN_EXPIRES);
    let max = value(&raw.max_expires, DEFAULT_MAX_EXPIRES);
    let default = value(&raw.default_expires, DEFAULT_EXPIRES);
    // Point at whichever of the three was written, preferring the one named in the message.
    let blame = |key: &str,
                 first: &Option<Spanned<u32>>,
                 others: [&Option<Spanned<u32>>; 2],
                 msg: String| {
        match std::iter::once(first).chain(others).flatten().next() {
            Some(s) => cx.at(s, key, msg),
            None => cx.nowhere(key, msg),
        }
    };
    if min == 0 {
        return Err(blame(
            "registrar.min_expires",
            &raw.min_expires,
            [&None, &None],
            "must be at least 1".into(),
        ));
    }
    if min > default {
        return Err(blame(
            "registrar.default_expires",
            &raw.default_expires,
            [&raw.min_expires, &None],
            format!("{default} is below registrar.min_expires ({min})"),
        ));
    }
    if default > max {
        return Err(blame(
            "registrar.default_expires",
            &raw.default_expires,
            [&raw.max_expires, &None],
            format!("{default} is above registrar.max_expires ({max})"),
        ));
    }
    Ok(RegistrarConfig {
        min_expires: min,
        max_expires: max,
        default_expires: default,
    })
}

/// Lines of an extension's number and name in its file, for duplicate errors.
#[derive(Clone, Copy)]
struct ExtLines {
    number: Option<usize>,
    name: Option<usize>,
}

fn extension(
    cx: &Ctx<'_>,
    raw: RawExtension,
    source: ExtensionSource,
) -> Result<(Extension, ExtLines), ConfigError> {
    check_number(raw.number.get_ref())
        .map_err(|why| cx.at(&raw.number, "extension.number", why))?;
    check_name(raw.name.get_ref()).map_err(|why| cx.at(&raw.name, "extension.name", why))?;
    let display_name = match raw.display_name {
        None => None,
        Some(d) => {
            check_display_name(d.get_ref())
                .map_err(|why| cx.at(&d, "extension.display_name", why))?;
            Some(d.into_inner())
        }
    };
    let mut aliases = Vec::new();
    if let Some(list) = &raw.aliases {
        for a in list.get_ref() {
            check_name(a).map_err(|why| cx.at(list, "extension.aliases", why))?;
            if a == raw.name.get_ref() || aliases.contains(a) {
                return Err(cx.at(list, "extension.aliases", format!("{a:?} is listed twice")));
            }
            aliases.push(a.clone());
        }
    }
    let known_only = match &raw.inbound {
        None => false,
        Some(v) if v.get_ref() == "anyone" => false,
        Some(v) if v.get_ref() == "known" => true,
        Some(v) => {
            return Err(cx.at(
                v,
                "extension.inbound",
                "must be \"anyone\" or \"known\"".to_owned(),
            ));
        }
    };
    let patterns =
        |v: &Option<Spanned<Vec<String>>>, key: &str| -> Result<Vec<String>, ConfigError> {
            let Some(v) = v else { return Ok(Vec::new()) };
            v.get_ref()
                .iter()
                .map(|p| {
                    check_pattern(p)
                        .map(|()| p.to_ascii_lowercase())
                        .map_err(|why| cx.at(v, key, why))
                })
                .collect()
        };
    let inbound = InboundPolicy {
        known_only,
        allow: patterns(&raw.allow, "extension.allow")?,
        block: patterns(&raw.block, "extension.block")?,
    };
    let lines = ExtLines {
        number: Some(cx.line(raw.number.span().start)),
        name: Some(cx.line(raw.name.span().start)),
    };
    let ext = Extension {
        number: raw.number.into_inner(),
        name: raw.name.into_inner(),
        display_name,
        aliases,
        inbound,
        source,
    };
    Ok((ext, lines))
}

fn add_unique(
    cx: &Ctx<'_>,
    list: &mut Vec<Extension>,
    (ext, lines): (Extension, ExtLines),
) -> Result<(), ConfigError> {
    let origin = |e: &Extension| match e.source {
        ExtensionSource::Config => "config.toml",
        ExtensionSource::Phones => "phones.toml",
        ExtensionSource::Default => "the built-in default extension",
    };
    if let Some(other) = list.iter().find(|e| e.number == ext.number) {
        return Err(ConfigError::Invalid {
            file: cx.file,
            line: lines.number,
            key: "extension.number".into(),
            message: format!(
                "{:?} is already used by {:?} in {}",
                ext.number,
                other.name,
                origin(other)
            ),
        });
    }
    let names = |e: &Extension| {
        std::iter::once(e.name.clone())
            .chain(e.aliases.clone())
            .collect::<Vec<_>>()
    };
    if let Some((other, taken)) = list.iter().find_map(|o| {
        names(&ext)
            .into_iter()
            .find(|n| names(o).contains(n))
            .map(|n| (o, n))
    }) {
        return Err(ConfigError::Invalid {
            file: cx.file,
            line: lines.name,
            key: "extension.name".into(),
            message: format!(
                "{taken:?} is already a name or alias of extension {} ({}) in {}",
                other.number,
                other.name,
                origin(other)
            ),
        });
    }
    if let Some(other) = list.iter().find(|e| e.name == ext.name) {
        return Err(ConfigError::Invalid {
            file: cx.file,
            line: lines.name,
            key: "extension.name".into(),
            message: format!(
                "{:?} is already defined in {} (extension {})",
                ext.name,
                origin(other),
                other.number
            ),
        });
    }
    list.push(ext);
    Ok(())
}

/// An allow/block pattern: `user@domain`, `domain`, or `*.domain` (the domain and below).
pub fn check_pattern(p: &str) -> Result<(), String> {
    let host = p.rsplit_once('@').map_or(p, |(_, h)| h);
    let host = host.strip_prefix("*.").unwrap_or(host);
    if p.is_empty()
        || p.chars().any(|c| c.is_whitespace() || c.is_control())
        || check_domain(host).is_err()
    {
        return Err(format!("{p:?} must be user@domain, domain or *.domain"));
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 32 {
        return Err(format!("{name:?} must be 1 to 32 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(format!(
            "{name:?} may only contain a-z, 0-9, '.', '_' and '-'"
        ));
    }
    if !name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!("{name:?} must start with a letter or digit"));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name:?} is all digits and would read as an extension number"
        ));
    }
    Ok(())
}

pub fn check_number(number: &str) -> Result<(), String> {
    if number.is_empty() || number.len() > 15 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{number:?} must be 1 to 15 digits"));
    }
    Ok(())
}

pub fn check_display_name(d: &str) -> Result<(), String> {
    if d.trim().is_empty() || d.chars().count() > 64 || d.chars().any(char::is_control) {
        return Err(format!(
            "{d:?} must be 1 to 64 characters without control characters"
        ));
    }
    Ok(())
}

/// A host name (RFC 1123 labels) or an IP address.
pub fn check_domain(d: &str) -> Result<(), String> {
    if d.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let valid_label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if d.is_empty() || d.len() > 253 || !d.split('.').all(valid_label) {
        return Err(format!("{d:?} is not a valid domain name"));
    }
    Ok(())
}

/// Long enough for a slow resolver, short enough to answer a caller before its phone gives up.
const DEFAULT_DNS_TIMEOUT_MS: u64 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "myhost", "alice")
    }

    fn invalid(e: ConfigError) -> (ConfigFile, Option<usize>, String, String) {
        match e {
            ConfigError::Invalid {
                file,
                line,
                key,
                message,
            } => (file, line, key, message),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = Config::defaults("MyHost", "Alice").unwrap();
        assert_eq!(c.server.domains, ["myhost", "myhost.local"]);
        let listen: Vec<String> = c.server.listen.iter().map(ToString::to_string).collect();
        assert_eq!(
            listen,
            [
                "udp:0.0.0.0:5060",
                "tcp:0.0.0.0:5060",
                "udp:[::]:5060",
                "tcp:[::]:5060"
            ]
        );
        assert_eq!(
            c.server.user_agent,
            format!("sipwitch/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            c.registrar,
            RegistrarConfig {
                min_expires: 60,
                max_expires: 3600,
                default_expires: 600
            }
        );
        assert_eq!(c.auth.nonce_lifetime, Duration::from_secs(300));
        assert_eq!(c.secrets.store, StoreChoice::Auto);
        assert_eq!(
            c.extensions,
            [Extension {
                number: "100".into(),
                name: "alice".into(),
                display_name: None,
                aliases: Vec::new(),
                inbound: InboundPolicy::default(),
                source: ExtensionSource::Default
            }]
        );
        assert_eq!(
            parse("").unwrap(),
            Config::defaults("myhost", "alice").unwrap()
        );
    }

    #[test]
    fn default_domains_from_various_host_names() {
        assert_eq!(
            default_domains("box.example.org"),
            ["box.example.org", "box.local"]
        );
        assert_eq!(default_domains("localhost"), ["localhost"]);
        assert_eq!(default_domains("pi.local"), ["pi.local"]);
        let e = Config::defaults("bad_host!", "alice").unwrap_err();
        assert_eq!(invalid(e).2, "server.domains");
    }

    #[test]
    fn login_name_that_cannot_be_an_extension_is_explained() {
        let (_, line, key, message) = invalid(Config::defaults("h", "John Doe").unwrap_err());
        assert_eq!((line, key.as_str()), (None, "extension"));
        assert!(
            message.contains("John Doe") && message.contains("[[extension]]"),
            "{message}"
        );
    }

    #[test]
    fn full_example() {
        let c = parse(
            r#"
[server]
domains = ["Alice.test", "192.0.2.1"]
listen = ["udp:127.0.0.1:0", "TCP:[::1]:5070"]
user_agent = "test-agent/1"
[registrar]
min_expires = 30
max_expires = 7200
default_expires = 30
[auth]
nonce_lifetime_s = 60
[secrets]
store = "file"
[[extension]]
number = "100"
name = "alice"
display_name = "Alice Liddell"
[[extension]]
number = "2001"
name = "bob.desk"
"#,
        )
        .unwrap();
        assert_eq!(c.server.domains, ["alice.test", "192.0.2.1"]);
        assert_eq!(
            c.server.listen,
            [
                Listen {
                    transport: ListenTransport::Udp,
                    addr: "127.0.0.1:0".parse().unwrap()
                },
                Listen {
                    transport: ListenTransport::Tcp,
                    addr: "[::1]:5070".parse().unwrap()
                },
            ]
        );
        assert_eq!(c.server.user_agent, "test-agent/1");
        assert_eq!(
            c.registrar,
            RegistrarConfig {
                min_expires: 30,
                max_expires: 7200,
                default_expires: 30
            }
        );
        assert_eq!(c.auth.nonce_lifetime, Duration::from_secs(60));
        assert_eq!(c.secrets.store, StoreChoice::File);
        assert_eq!(c.extensions.len(), 2);
        assert_eq!(
            c.extensions[0].display_name.as_deref(),
            Some("Alice Liddell")
        );
        assert_eq!(c.extensions[1].source, ExtensionSource::Config);
        assert_eq!(c.extension_by_name("bob.desk").unwrap().number, "2001");
    }

    #[test]
    fn unknown_key_error_names_key_and_line() {
        let e = parse("[server]\ndomains = [\"a.test\"]\nlisten_on = []\n").unwrap_err();
        let text = e.to_string();
        assert!(matches!(
            e,
            ConfigError::Syntax {
                file: ConfigFile::Config,
                ..
            }
        ));
        assert!(
            text.contains("listen_on") && text.contains("line 3"),
            "{text}"
        );
        let text = parse("[server]\n[servr]\n").unwrap_err().to_string();
        assert!(text.contains("servr") && text.contains("line 2"), "{text}");
        let text = parse("[[extension]]\nnumber = \"1\"\nname = \"a\"\nnmae = \"b\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("nmae") && text.contains("line 4"), "{text}");
    }

    #[test]
    fn wrong_types_and_unknown_store_name_the_line() {
        let text = parse("[registrar]\n\nmin_expires = \"60\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("line 3"), "{text}");
        let text = parse("[secrets]\nstore = \"vault\"\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("vault") && text.contains("line 2"), "{text}");
        let text = parse("[registrar]\nmax_expires = -1\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn bad_listen() {
        let e = parse("[server]\nlisten = [\n  \"udp:0.0.0.0:5060\",\n  \"udp:nowhere\",\n]\n")
            .unwrap_err();
        let (file, line, key, message) = invalid(e.clone());
        assert_eq!(
            (file, line, key.as_str()),
            (ConfigFile::Config, Some(4), "server.listen[1]")
        );
        assert!(message.contains("udp:nowhere"), "{message}");
        assert_eq!(
            e.to_string(),
            format!("config.toml line 4: server.listen[1]: {message}")
        );
        assert!(
            invalid(parse("[server]\nlisten = [\"sctp:[::]:5060\"]").unwrap_err())
                .3
                .contains("sctp")
        );
        assert!(
            invalid(parse("[server]\nlisten = [\"udp:0.0.0.0\"]").unwrap_err())
                .3
                .contains("udp:0.0.0.0")
        );
        assert_eq!(
            invalid(parse("[server]\nlisten = []").unwrap_err()).2,
            "server.listen"
        );
        let dup = "[server]\nlisten = [\"udp:[::]:5060\", \"UDP:[::]:5060\"]";
        assert_eq!(invalid(parse(dup).unwrap_err()).2, "server.listen[1]");
    }

    #[test]
    fn bad_domains() {
        assert_eq!(
            invalid(parse("[server]\ndomains = []").unwrap_err()).2,
            "server.domains"
        );
        for bad in ["a..b", "-a.test", "a_b.test", "", "x y"] {
            let text = format!("[server]\ndomains = [\"ok.test\", {bad:?}]");
            assert_eq!(
                invalid(parse(&text).unwrap_err()).2,
                "server.domains[1]",
                "{bad}"
            );
        }
        assert!(
            parse("[server]\ndomains = [\"a.test\", \"A.TEST\"]").is_err(),
            "case-insensitive duplicate"
        );
    }

    #[test]
    fn expires_must_be_ordered() {
        let (_, line, key, _) =
            invalid(parse("[registrar]\nmin_expires = 60\ndefault_expires = 30\n").unwrap_err());
        assert_eq!((line, key.as_str()), (Some(3), "registrar.default_expires"));
        let (_, line, key, _) = invalid(parse("[registrar]\nmax_expires = 100\n").unwrap_err());
        assert_eq!((line, key.as_str()), (Some(2), "registrar.default_expires"));
        assert_eq!(
            invalid(parse("[registrar]\nmin_expires = 0").unwrap_err()).2,
            "registrar.min_expires"
        );
        assert_eq!(
            invalid(parse("[auth]\nnonce_lifetime_s = 0").unwrap_err()).2,
            "auth.nonce_lifetime_s"
        );
    }

    #[test]
    fn bad_extensions() {
        let one = |number: &str, name: &str| {
            format!("[[extension]]\nnumber = {number:?}\nname = {name:?}\n")
        };
        for name in ["Alice", "-x", "123", "a b", "", "é", &"a".repeat(33)] {
            assert_eq!(
                invalid(parse(&one("100", name)).unwrap_err()).2,
                "extension.name",
                "{name:?}"
            );
        }
        for number in ["", "10a", "+49", &"1".repeat(16)] {
            assert_eq!(
                invalid(parse(&one(number, "bob")).unwrap_err()).2,
                "extension.number",
                "{number:?}"
            );
        }
        let text = format!("{}display_name = \"a\\u0007b\"\n", one("100", "bob"));
        assert_eq!(
            invalid(parse(&text).unwrap_err()).2,
            "extension.display_name"
        );
    }

    #[test]
    fn duplicate_extension() {
        let text = "[[extension]]\nnumber = \"100\"\nname = \"alice\"\n\n[[extension]]\nnumber = \"100\"\nname = \"bob\"\n";
        let (_, line, key, message) = invalid(parse(text).unwrap_err());
        assert_eq!((line, key.as_str()), (Some(6), "extension.number"));
        assert!(message.contains("alice"), "{message}");
        let text = "[[extension]]\nnumber = \"100\"\nname = \"alice\"\n[[extension]]\nnumber = \"101\"\nname = \"alice\"\n";
        let (_, line, key, _) = invalid(parse(text).unwrap_err());
        assert_eq!((line, key.as_str()), (Some(6), "extension.name"));
    }

    #[test]
    fn merge() {
        let mut c = parse("[[extension]]\nnumber = \"100\"\nname = \"alice\"\n").unwrap();
        c.merge_phones("[[extension]]\nnumber = \"101\"\nname = \"bob\"\ndisplay_name = \"Bob\"\n")
            .unwrap();
        assert_eq!(c.extensions.len(), 2);
        assert_eq!(c.extensions[1].source, ExtensionSource::Phones);
        assert_eq!(c.extensions[1].display_name.as_deref(), Some("Bob"));
        assert_eq!(c.next_free_number(), "102");

        let before = c.clone();
        let e = c.merge_phones("[[extension]]\nnumber = \"102\"\nname = \"carol\"\n[[extension]]\nnumber = \"103\"\nname = \"alice\"\n").unwrap_err();
        let text = e.to_string();
        assert_eq!(e.file(), ConfigFile::Phones);
        assert!(
            text.starts_with("phones.toml line 6: extension.name:") && text.contains("config.toml"),
            "{text}"
        );
        assert_eq!(c, before, "a failed merge changes nothing");

        let e = c
            .merge_phones("[[extension]]\nnumber = \"101\"\nname = \"dave\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("phones.toml") && e.contains("\"bob\""), "{e}");

        let mut d = Config::defaults("h", "alice").unwrap();
        let e = d
            .merge_phones("[[extension]]\nnumber = \"100\"\nname = \"bob\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("built-in default"), "{e}");
        assert!(
            d.merge_phones("[server]\ndomains = [\"x.test\"]\n")
                .is_err(),
            "phones.toml holds extensions only"
        );
    }

    #[test]
    fn phones_render_round_trips() {
        let exts = vec![
            Extension {
                number: "101".into(),
                name: "bob".into(),
                display_name: Some("Bob \"the\" \\ Büro".into()),
                aliases: Vec::new(),
                inbound: InboundPolicy::default(),
                source: ExtensionSource::Phones,
            },
            Extension {
                number: "102".into(),
                name: "carol.x".into(),
                display_name: None,
                aliases: Vec::new(),
                inbound: InboundPolicy::default(),
                source: ExtensionSource::Phones,
            },
        ];
        let text = render_phones(&exts);
        assert_eq!(Config::parse_phones(&text).unwrap(), exts);
        assert_eq!(Config::parse_phones(&render_phones(&[])).unwrap(), []);
        assert_eq!(Config::parse_phones("").unwrap(), []);
    }

    #[test]
    fn listen_round_trips() {
        for s in ["udp:0.0.0.0:5060", "tcp:[::1]:5060", "udp:127.0.0.1:0"] {
            assert_eq!(s.parse::<Listen>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn digest_algorithms_default_order_and_validation() {
        use crate::core::auth::Algorithm;
        assert_eq!(
            parse("").unwrap().auth.algorithms,
            vec![Algorithm::Sha256, Algorithm::Md5]
        );
        let c = parse("[auth]\nalgorithms = [\"MD5\"]").unwrap();
        assert_eq!(c.auth.algorithms, vec![Algorithm::Md5]);
        for bad in ["[]", "[\"SHA-512\"]", "[\"MD5\", \"md5\"]"] {
            let e = parse(&format!("[auth]\nalgorithms = {bad}")).unwrap_err();
            let (_, line, key, _) = invalid(e);
            assert_eq!((line, key.as_str()), (Some(2), "auth.algorithms"), "{bad}");
        }
    }

    #[test]
    fn dns_server_is_the_system_one_unless_given() {
        let c = parse("").unwrap();
        assert_eq!(c.dns.server, None);
        assert_eq!(c.dns.timeout, Duration::from_secs(5));
        let c = parse("[dns]\nserver = \"127.0.0.1:5353\"\ntimeout_ms = 800").unwrap();
        assert_eq!(c.dns.server, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(c.dns.timeout, Duration::from_millis(800));
        assert_eq!(
            parse("[dns]\nserver = \"system\"").unwrap().dns.server,
            None
        );
        let (_, line, key, _) = invalid(parse("[dns]\nserver = \"localhost\"").unwrap_err());
        assert_eq!((line, key.as_str()), (Some(2), "dns.server"));
        let (_, line, key, _) = invalid(parse("[dns]\ntimeout_ms = 5").unwrap_err());
        assert_eq!((line, key.as_str()), (Some(2), "dns.timeout_ms"));
    }

    #[test]
    fn mdns_is_on_unless_turned_off() {
        assert!(parse("").unwrap().mdns.enabled);
        assert!(parse("[mdns]\nenabled = true").unwrap().mdns.enabled);
        assert!(!parse("[mdns]\nenabled = false").unwrap().mdns.enabled);
        // A typo is an error naming the line, not a silent default.
        let e = parse("[server]\n[mdns]\nenable = false").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = parse("[mdns]\nenabled = \"no\"").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn dns_publish_names_a_server_and_a_key() {
        assert_eq!(parse("").unwrap().dns.publish, None);
        let c =
            parse("[dns.publish]\nserver = \"127.0.0.1:53\"\nkey_name = \"SipWitch-Key\"").unwrap();
        assert_eq!(
            c.dns.publish,
            Some(PublishConfig {
                server: "127.0.0.1:53".parse().unwrap(),
                key_name: "sipwitch-key.".into(),
            })
        );
        assert_eq!(
            PublishConfig::secret_user("SipWitch-Key"),
            "tsig:sipwitch-key."
        );
        for (bad, line, field) in [
            ("server = \"ns.example\"\nkey_name = \"k.\"", 2, "server"),
            (
                "server = \"127.0.0.1:53\"\nkey_name = \"a..b\"",
                3,
                "key_name",
            ),
            ("server = \"127.0.0.1:53\"\nkey_name = \"\"", 3, "key_name"),
            (
                "server = \"127.0.0.1:53\"\nkey_name = \"k y\"",
                3,
                "key_name",
            ),
        ] {
            let (_, at, key, _) = invalid(parse(&format!("[dns.publish]\n{bad}")).unwrap_err());
            assert_eq!(
                (at, key),
                (Some(line), format!("dns.publish.{field}")),
                "{bad}"
            );
        }
        assert!(parse("[dns.publish]\nserver = \"127.0.0.1:53\"").is_err());
    }

    #[test]
    fn aliases_and_inbound_policy() {
        let c = parse(
            "[[extension]]\nnumber = \"100\"\nname = \"alice\"\naliases = [\"alice.smith\"]\ninbound = \"known\"\nallow = [\"Bob@Bob.test\", \"*.example.net\"]\nblock = [\"spam.test\"]",
        )
        .unwrap();
        let e = &c.extensions[0];
        assert_eq!(e.aliases, ["alice.smith"]);
        assert!(e.inbound.known_only);
        assert!(e.inbound.admits(Some("bob"), "bob.test"));
        assert!(!e.inbound.admits(Some("carol"), "bob.test"));
        assert!(
            e.inbound.admits(Some("x"), "a.example.net") && e.inbound.admits(None, "example.net")
        );
        assert!(!e.inbound.admits(Some("x"), "spam.test"));
        // the written form reads back the same
        let again = Config::parse_phones(&render_phones(&c.extensions)).unwrap();
        assert_eq!(
            (again[0].aliases.clone(), again[0].inbound.clone()),
            (e.aliases.clone(), e.inbound.clone())
        );
        for (bad, key) in [
            ("aliases = [\"alice\"]", "extension.aliases"),
            ("inbound = \"friends\"", "extension.inbound"),
            ("block = [\"not a domain\"]", "extension.block"),
        ] {
            let e = parse(&format!(
                "[[extension]]\nnumber = \"100\"\nname = \"alice\"\n{bad}"
            ))
            .unwrap_err();
            assert_eq!(invalid(e).2, key, "{bad}");
        }
        let dup = "[[extension]]\nnumber = \"100\"\nname = \"alice\"\naliases = [\"al\"]\n[[extension]]\nnumber = \"101\"\nname = \"al\"";
        assert_eq!(invalid(parse(dup).unwrap_err()).2, "extension.name");
    }
}
