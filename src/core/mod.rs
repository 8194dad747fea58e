//! The sans-IO core: deterministic state machines. Nothing here touches sockets, clocks, threads,
//! randomness it was not handed, or the D-Bus/keyring/DNS crates (checked by `tests/purity.rs`).

pub mod auth;
pub mod config;
pub mod dnsupdate;
pub mod flow;
pub mod locate;
pub mod msg;
pub mod proxy;
pub mod registrar;
pub mod time;
pub mod transaction;
pub mod zone;
