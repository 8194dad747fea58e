//! The tokio shell: everything that touches the outside world.

//TMP pub mod driver;
pub mod state;
pub mod transport;
