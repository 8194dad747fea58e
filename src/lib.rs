//! sipwitch: provider-less SIP telephony for one user's desktop.
//!
//! The crate is split in two, like `quinn`:
//! - [`core`] is sans-IO: SIP messages, transactions, the registrar, digest authentication and
//!   the proxy are state machines that take bytes, commands and `now`, and hand back datagrams to
//!   send, timers to arm and events. Every RFC 3261 timer is tested on a virtual clock.
//! - [`io`] is the tokio shell around it: sockets, the secret store (desktop keyring), paths,
//!   signals. The binaries `sipwitchd` (the daemon) and `sipwitch` (the CLI) sit on top.
#![forbid(unsafe_code)]

pub mod core;
pub mod io;
