//! Where the extensions' passwords live: the desktop keyring (Secret Service) or, without
//! one, a 0600 file.
//!
//! Every store call BLOCKS. The keyring store talks D-Bus through `zbus::block_on`, which
//! panics on a tokio worker thread ("Cannot start a runtime from within a runtime") and can
//! wait for a user at an unlock prompt. So async code must never call a store directly: use
//! [`load_all`] (spawn_blocking + timeout) or `tokio::task::spawn_blocking` itself. The CLI,
//! which has no runtime, calls the stores on its main thread.
//!
//! Secrets are never logged, and no error message carries one.

mod file;
mod keyring_store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use self::file::FileStore;
pub use self::keyring_store::{KeyringStore, SERVICE};
use crate::core::config::{SecretsConfig, StoreChoice};
use crate::io::paths::Paths;

/// How long [`load_all`] waits for the store (a keyring may be waiting for an unlock prompt).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Keyring,
    File,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Keyring => "keyring",
            StoreKind::File => "file",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "keyring locked: the Secret Service refused access ({0}); unlock the login keyring \
         (log in to the desktop) or set [secrets] store = \"file\""
    )]
    KeyringLocked(String),
    #[error(
        "no Secret Service available ({0}); start a keyring (e.g. gnome-keyring) or set [secrets] store = \"file\""
    )]
    KeyringUnavailable(String),
    #[error("keyring error: {0}")]
    Keyring(String),
    #[error("secrets file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secrets file {}: {message}", path.display())]
    FileFormat { path: PathBuf, message: String },
    #[error(
        "secrets file {} is accessible by other users (mode {mode:04o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecureFile { path: PathBuf, mode: u32 },
    #[error("the secret store did not answer within {} s (is a keyring unlock prompt waiting?)", .0.as_secs())]
    Timeout(Duration),
    #[error("secret store task failed: {0}")]
    Task(String),
    #[error("cannot generate a password: the system random source failed: {0}")]
    Random(String),
}

/// A place that maps extension names to passwords. All methods BLOCK (see the module doc).
pub trait SecretStore: Send + Sync {
    fn kind(&self) -> StoreKind;
    /// `None` when nothing is stored for `user`.
    fn get(&self, user: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, user: &str, secret: &str) -> Result<(), SecretError>;
    /// Deleting a missing entry is not an error.
    fn delete(&self, user: &str) -> Result<(), SecretError>;
    /// Where the secrets are, for messages ("the keyring", or the file's path).
    fn describe(&self) -> String;
}

/// Opens the configured store. BLOCKING (connects to D-Bus for the keyring).
///
/// `auto` tries the keyring and falls back to the file store with a loud warning when no
/// Secret Service answers. A keyring that is present but locked is only noticed at the first
/// write, as [`SecretError::KeyringLocked`].
pub fn open(cfg: &SecretsConfig, paths: &Paths) -> Result<Box<dyn SecretStore>, SecretError> {
    match cfg.store {
        StoreChoice::File => Ok(Box::new(FileStore::new(paths.secrets_file()))),
        StoreChoice::Keyring => Ok(Box::new(KeyringStore::connect()?)),
        StoreChoice::Auto => match KeyringStore::connect() {
            Ok(k) => Ok(Box::new(k)),
            Err(e) => {
                let file = FileStore::new(paths.secrets_file());
                let reason = match &e {
                    SecretError::KeyringUnavailable(reason) => reason.clone(),
                    other => other.to_string(),
                };
                tracing::warn!(
                    "no Secret Service is running ({reason}): passwords are kept in the 0600 file {} \
                     instead of the desktop keyring. Start a keyring, or set [secrets] store = \"file\" \
                     to silence this warning.",
                    file.path().display()
                );
                Ok(Box::new(file))
            }
        },
    }
}

/// Reads the secrets of `users` off the async runtime, giving up after [`LOAD_TIMEOUT`].
/// Users without a stored secret are left out of the map (and logged).
pub async fn load_all(
    store: Arc<dyn SecretStore>,
    users: Vec<String>,
) -> Result<HashMap<String, String>, SecretError> {
    load_all_within(store, users, LOAD_TIMEOUT).await
}

async fn load_all_within(
    store: Arc<dyn SecretStore>,
    users: Vec<String>,
    timeout: Duration,
) -> Result<HashMap<String, String>, SecretError> {
    let task = tokio::task::spawn_blocking(move || {
        let mut found = HashMap::new();
        for user in users {
            match store.get(&user)? {
                Some(secret) => {
                    found.insert(user, secret);
                }
                None => tracing::warn!(
                    "no password stored for extension {user:?} in {}; it cannot register (set one with `sipwitch phone passwd {user}`)",
                    store.describe()
                ),
            }
        }
        Ok(found)
    });
    // On timeout the blocking thread is left to finish on its own; nothing waits for it.
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(SecretError::Timeout(timeout)),
        Ok(Err(join)) => Err(SecretError::Task(join.to_string())),
        Ok(Ok(result)) => result,
    }
}

/// Letters and digits a person can read back and type without confusion (no 0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
pub const PASSWORD_LEN: usize = 20;

/// A fresh password: 20 characters from a 56-character alphabet (about 116 bits), drawn from
/// the OS random source without modulo bias.
pub fn generate_password() -> Result<String, SecretError> {
    let n = PASSWORD_ALPHABET.len();
    // The largest multiple of n that fits in a byte: bytes at or above it are redrawn.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(PASSWORD_LEN);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LEN {
        getrandom::fill(&mut buf).map_err(|e| SecretError::Random(e.to_string()))?;
        for &b in &buf {
            let b = usize::from(b);
            if b < limit
                && out.len() < PASSWORD_LEN
                && let Some(&c) = PASSWORD_ALPHABET.get(b % n)
            {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_unambiguous_and_different() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(a.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)), "{a}");
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(a, b);
    }

    #[test]
    fn alphabet_has_no_duplicates() {
        let mut v = PASSWORD_ALPHABET.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), PASSWORD_ALPHABET.len());
        assert_eq!(PASSWORD_ALPHABET.len(), 56);
    }

    #[tokio::test]
    async fn load_all_reads_off_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets.toml"));
        store.set("alice", "pw-a").unwrap();
        store.set("bob", "pw-b").unwrap();
        let store: Arc<dyn SecretStore> = Arc::new(store);
        let got = load_all(store, vec!["alice".into(), "bob".into(), "carol".into()])
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["alice"], "pw-a");
        assert_eq!(got["bob"], "pw-b");
    }

    struct Stuck;
    impl SecretStore for Stuck {
        fn kind(&self) -> StoreKind {
            StoreKind::Keyring
        }
        fn get(&self, _: &str) -> Result<Option<String>, SecretError> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(None)
        }
        fn set(&self, _: &str, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
        fn describe(&self) -> String {
            "a stuck store".into()
        }
    }

    #[tokio::test]
    async fn load_all_times_out() {
        let e = load_all_within(
            Arc::new(Stuck),
            vec!["alice".into()],
            Duration::from_millis(20),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, SecretError::Timeout(_)), "{e}");
    }
}
