//! The tokio shell: everything that touches the outside world.
