//! The desktop keyring through the freedesktop Secret Service (gnome-keyring, KWallet,
//! KeePassXC), via the `keyring` crate (4.x: keyring-core with the zbus Secret Service store,
//! so the binary keeps one D-Bus stack, zbus 5).
//!
//! Items live in the default (login) collection with the attributes `service = "sipwitch"`
//! and `username = <extension name>`, so `secret-tool lookup service sipwitch username alice`
//! finds them. BLOCKING, and panics on a tokio worker: see the parent module.

use keyring::{Entry, Error};

use super::{SecretError, SecretStore, StoreKind};

/// The `service` attribute of our keyring items.
pub const SERVICE: &str = "sipwitch";

pub struct KeyringStore {
    /// Entries are built on the store `keyring` installs as the default at first use.
    _connected: (),
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore").finish_non_exhaustive()
    }
}

impl KeyringStore {
    /// Connects to the session bus's Secret Service. Fails when there is no session bus or no
    /// provider; succeeds even when the keyring is locked (that shows at the first write).
    pub fn connect() -> Result<KeyringStore, SecretError> {
        if let Err(e) = Entry::store_status() {
            return Err(SecretError::KeyringUnavailable(describe(e)));
        }
        Ok(KeyringStore { _connected: () })
    }

    fn entry(&self, user: &str) -> Result<Entry, SecretError> {
        Entry::new(SERVICE, user).map_err(map_err)
    }
}

/// keyring-core's Display of some errors includes the secret's bytes (`BadEncoding`,
/// `BadDataFormat`) or whole entries (`Ambiguous`): never show those.
fn describe(e: &Error) -> String {
    match e {
        Error::BadEncoding(_) => "the stored secret is not UTF-8".to_string(),
        Error::BadDataFormat(_, _) => "the stored secret is malformed".to_string(),
        Error::Ambiguous(items) => format!("{} keyring items match", items.len()),
        other => other.to_string(),
    }
}

fn map_err(e: Error) -> SecretError {
    match e {
        Error::NoStorageAccess(_) => SecretError::KeyringLocked(describe(&e)),
        other => SecretError::Keyring(describe(&other)),
    }
}

impl SecretStore for KeyringStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Keyring
    }

    fn get(&self, user: &str) -> Result<Option<String>, SecretError> {
        match self.entry(user)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn set(&self, user: &str, secret: &str) -> Result<(), SecretError> {
        self.entry(user)?.set_password(secret).map_err(map_err)
    }

    fn delete(&self, user: &str) -> Result<(), SecretError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn describe(&self) -> String {
        "the desktop keyring (Secret Service)".to_string()
    }
}
