//! Where sipwitch keeps its files (XDG base directories), and how it writes them safely.
//!
//! | what | default | with `--config FILE` |
//! |---|---|---|
//! | config | `$XDG_CONFIG_HOME/sipwitch/config.toml` | `FILE` |
//! | phones added by the CLI | `phones.toml` next to the config | next to `FILE` |
//! | state (secrets file, …) | `$XDG_STATE_HOME/sipwitch/` | same |
//! | runtime (pid file) | `$XDG_RUNTIME_DIR/sipwitch/`, else `<state>/run` | same |
//!
//! `SIPWITCH_STATE_DIR`, when set, replaces the state directory and puts the runtime directory
//! under it (`<state>/run`): one variable relocates everything mutable, which is what tests and
//! side-by-side instances need. The daemon and the CLI resolve paths the same way, so they
//! agree on the pid file.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use directories::ProjectDirs;

pub const STATE_DIR_ENV: &str = "SIPWITCH_STATE_DIR";

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot find the home directory (HOME is unset and there is no passwd entry)")]
    NoHome,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub phones_file: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// Resolves the paths from the environment; `config_override` is `--config FILE`.
    pub fn resolve(config_override: Option<PathBuf>) -> Result<Paths, PathsError> {
        let dirs = ProjectDirs::from("org", "sipwitch", "sipwitch").ok_or(PathsError::NoHome)?;
        let config_file = match config_override {
            // Absolute, so that "next to FILE" is a real directory even for `--config x.toml`.
            Some(f) => {
                std::path::absolute(&f).map_err(|source| PathsError::Io { path: f, source })?
            }
            None => dirs.config_dir().join("config.toml"),
        };
        let phones_file = config_file.with_file_name("phones.toml");
        let state_override = std::env::var_os(STATE_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let (state_dir, runtime_dir) = match state_override {
            Some(state) => {
                let state = std::path::absolute(&state).map_err(|source| PathsError::Io {
                    path: state,
                    source,
                })?;
                let run = state.join("run");
                (state, run)
            }
            None => {
                // `state_dir()` is None only off Linux/XDG; fall back to the local data dir.
                let state = dirs
                    .state_dir()
                    .unwrap_or_else(|| dirs.data_local_dir())
                    .to_path_buf();
                // No XDG_RUNTIME_DIR outside a login session (cron, ssh without pam_systemd).
                let run = dirs
                    .runtime_dir()
                    .map_or_else(|| state.join("run"), Path::to_path_buf);
                (state, run)
            }
        };
        Ok(Paths {
            config_file,
            phones_file,
            state_dir,
            runtime_dir,
        })
    }

    /// Where the daemon writes its pid (the CLI reads it to send SIGHUP).
    pub fn pid_file(&self) -> PathBuf {
        self.runtime_dir.join("sipwitchd.pid")
    }

    /// The secrets file of the file store.
    pub fn secrets_file(&self) -> PathBuf {
        self.state_dir.join("secrets.toml")
    }

    /// Creates the state and runtime directories (0700 for what it creates).
    pub fn ensure_dirs(&self) -> Result<(), PathsError> {
        for dir in [&self.state_dir, &self.runtime_dir] {
            create_private_dir(dir).map_err(|source| PathsError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Creates the directory of the config file (0700 for what it creates), so that the CLI
    /// can write phones.toml before any config exists.
    pub fn ensure_config_dir(&self) -> Result<(), PathsError> {
        match self.config_file.parent() {
            Some(dir) => create_private_dir(dir).map_err(|source| PathsError::Io {
                path: dir.to_path_buf(),
                source,
            }),
            None => Ok(()),
        }
    }
}

/// `mkdir -p -m 0700`; existing directories are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Replaces `path` with `contents` so that readers see either the old or the new file, never a
/// torn one, and a crash leaves one of the two on disk: write a temporary file in the same
/// directory with `mode` (exactly, whatever the umask), fsync it, rename it over `path`, fsync
/// the directory.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = OsString::from(".");
    tmp_name.push(
        path.file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?,
    );
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    // A leftover from a crashed run of a process with our pid.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The permission bits of a file.
pub fn file_mode(path: &Path) -> io::Result<u32> {
    Ok(fs::metadata(path)?.mode() & 0o7777)
}

/// This machine's host name (for the default domains).
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The login name of the user running us (for the default extension).
pub fn user_name() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Some(v) = std::env::var_os(var)
            .and_then(|v| v.into_string().ok())
            .filter(|v| !v.is_empty())
        {
            return v;
        }
    }
    // No environment (a bare service): look our uid up in /etc/passwd.
    let uid = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let from_passwd = uid.and_then(|uid| {
        let passwd = fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let entry_uid: u32 = fields.nth(1)?.parse().ok()?;
            (entry_uid == uid).then(|| name.to_string())
        })
    });
    from_passwd.unwrap_or_else(|| "user".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_sets_the_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        write_atomic(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(file_mode(&path).unwrap(), 0o600);
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(file_mode(&path).unwrap(), 0o644);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.toml"], "no temporary file left behind");
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_private_dir(&deep).unwrap();
        assert_eq!(file_mode(&deep).unwrap(), 0o700);
        assert_eq!(file_mode(&dir.path().join("a")).unwrap(), 0o700);
    }

    #[test]
    fn host_and_user_names_are_never_empty() {
        assert!(!host_name().is_empty());
        assert!(!user_name().is_empty());
    }
}
