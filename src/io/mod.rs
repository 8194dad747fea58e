//! The tokio shell: everything that touches the outside world.

pub mod paths;
pub mod secrets;
