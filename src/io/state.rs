//! Durable state under `$XDG_STATE_HOME/sipwitch/`, written with [`paths::write_atomic`] (temp
//! file, fsync, rename, fsync of the directory) so that a crash, even `kill -9`, leaves either
//! the old or the new file, never a torn one.

use std::io;
use std::path::Path;

use crate::io::paths;

/// Replaces `path` with `bytes` atomically and durably; the file gets mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        paths::create_private_dir(dir)?;
    }
    paths::write_atomic(path, bytes, 0o600)
}

/// Reads a state file; `Ok(None)` when it does not exist yet.
pub fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
