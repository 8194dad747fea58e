//! The fallback store: `<state_dir>/secrets.toml`, `name = "secret"` lines, mode 0600.
//!
//! Plain text protected by file permissions only, like the original sipwitch kept secrets in
//! its config. Refuses to read a file others can access. Writes are atomic (temp file, fsync,
//! rename). Concurrent writers in different processes are not locked against each other: the
//! last one wins (the CLI is the only writer in practice).

use crate::core::config::toml_string;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{SecretError, SecretStore, StoreKind};
use crate::io::paths::{create_private_dir, file_mode, write_atomic};

#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    /// Serialises read-modify-write within this process.
    lock: Mutex<()>,
}

impl FileStore {
    pub fn new(path: PathBuf) -> FileStore {
        FileStore {
            path,
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: io::Error) -> SecretError {
        SecretError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, SecretError> {
        let mode = match file_mode(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io(e)),
        };
        if mode & 0o077 != 0 {
            return Err(SecretError::InsecureFile {
                path: self.path.clone(),
                mode,
            });
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        // toml's own message quotes the offending line, which may hold a secret: give the line
        // number only.
        toml::from_str::<BTreeMap<String, String>>(&text).map_err(|e| {
            let line = e.span().map(|s| {
                text.get(..s.start)
                    .unwrap_or_default()
                    .matches('\n')
                    .count()
                    + 1
            });
            SecretError::FileFormat {
                path: self.path.clone(),
                message: match line {
                    Some(l) => format!("line {l} is not `name = \"secret\"`"),
                    None => "not a list of `name = \"secret\"` lines".to_string(),
                },
            }
        })
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        if let Some(dir) = self.path.parent() {
            create_private_dir(dir).map_err(|source| SecretError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut text = String::from("# sipwitch extension passwords (mode 0600). Keep private.\n");
        for (user, secret) in map {
            text.push_str(&format!(
                "{} = {}\n",
                toml_string(user),
                toml_string(secret)
            ));
        }
        write_atomic(&self.path, text.as_bytes(), 0o600).map_err(|e| self.io(e))
    }

    fn update(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, String>) -> bool,
    ) -> Result<(), SecretError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut map = self.read()?;
        if f(&mut map) {
            self.write(&map)?;
        }
        Ok(())
    }
}

impl SecretStore for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::File
    }

    fn get(&self, user: &str) -> Result<Option<String>, SecretError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(self.read()?.remove(user))
    }

    fn set(&self, user: &str, secret: &str) -> Result<(), SecretError> {
        self.update(|map| {
            map.insert(user.to_string(), secret.to_string());
            true
        })
    }

    fn delete(&self, user: &str) -> Result<(), SecretError> {
        self.update(|map| map.remove(user).is_some())
    }

    fn describe(&self) -> String {
        format!("the file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn store() -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("state/secrets.toml"));
        (dir, store)
    }

    #[test]
    fn set_get_delete() {
        let (_dir, s) = store();
        assert_eq!(s.get("alice").unwrap(), None, "no file yet");
        s.set("alice", "pw \"quoted\" \\ ü").unwrap();
        s.set("bob.desk", "x").unwrap();
        assert_eq!(
            s.get("alice").unwrap().as_deref(),
            Some("pw \"quoted\" \\ ü")
        );
        assert_eq!(s.get("bob.desk").unwrap().as_deref(), Some("x"));
        s.set("alice", "new").unwrap();
        assert_eq!(s.get("alice").unwrap().as_deref(), Some("new"));
        s.delete("alice").unwrap();
        s.delete("alice").unwrap();
        assert_eq!(s.get("alice").unwrap(), None);
        assert_eq!(s.kind(), StoreKind::File);
    }

    #[test]
    fn file_and_directory_are_private() {
        let (_dir, s) = store();
        s.set("alice", "pw").unwrap();
        assert_eq!(file_mode(s.path()).unwrap(), 0o600);
        assert_eq!(file_mode(s.path().parent().unwrap()).unwrap(), 0o700);
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let (_dir, s) = store();
        s.set("alice", "pw").unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = s.get("alice").unwrap_err();
        assert!(
            matches!(e, SecretError::InsecureFile { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
    }

    #[test]
    fn format_errors_do_not_quote_secrets() {
        let (_dir, s) = store();
        s.set("alice", "pw").unwrap();
        write_atomic(s.path(), b"alice = \"ok\"\nbob = hunter2-secret\n", 0o600).unwrap();
        let e = s.get("alice").unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("hunter2"), "{e}");
    }
}
