//! The tokio shell: everything that touches the outside world.

pub mod dns;
pub mod dnsupdate;
pub mod driver;
pub mod mdns;
pub mod paths;
pub mod secrets;
pub mod state;
pub mod transport;
