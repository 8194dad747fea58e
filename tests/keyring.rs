//! The keyring store against a REAL gnome-keyring on a private session bus.
//!
//! Each test runs `dbus-run-session -- sh script` with a private HOME and XDG_RUNTIME_DIR, so
//! no real keyring is touched. Needs the Debian packages dbus-daemon, dbus-user-session,
//! gnome-keyring and libsecret-tools; the tests FAIL (not skip) when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const TOOLS: [&str; 3] = ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"];

fn require_tools() {
    for tool in TOOLS {
        let found = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
            .unwrap_or(false)
            || Path::new("/usr/bin").join(tool).is_file();
        assert!(
            found,
            "{tool} is missing: install dbus-daemon dbus-user-session gnome-keyring libsecret-tools"
        );
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `script` (sh) inside a private session bus with the keyring store configured.
fn in_session(script: &str) -> (Run, TempDir) {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let p = |rel: &str| dir.path().join(rel);
    for d in ["home", "run", "config/sipwitch", "state"] {
        std::fs::create_dir_all(p(d)).unwrap();
    }
    std::fs::set_permissions(
        p("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(
        p("config/sipwitch/config.toml"),
        "[server]\ndomains = [\"bob.test\"]\n[secrets]\nstore = \"keyring\"\n",
    )
    .unwrap();
    std::fs::write(p("script.sh"), format!("set -u\n{script}")).unwrap();
    let mut child = Command::new("dbus-run-session")
        .args(["--", "sh"])
        .arg(p("script.sh"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", p("home"))
        .env("USER", "tester")
        .env("XDG_RUNTIME_DIR", p("run"))
        .env("XDG_CONFIG_HOME", p("config"))
        .env("XDG_DATA_HOME", p("home/.local/share"))
        .env("SIPWITCH_STATE_DIR", p("state"))
        .env("SIPWITCH", env!("CARGO_BIN_EXE_sipwitch"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A keyring prompt would wait forever; the bus and its keyring die with dbus-run-session.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the keyring session did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, dir)
}

fn marker<'a>(run: &'a Run, name: &str) -> &'a str {
    let prefix = format!("{name}=");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| {
            panic!(
                "no {name}= line\nstdout: {}\nstderr: {}",
                run.stdout, run.stderr
            )
        })
}

const UNLOCK: &str =
    "printf '%s' ci-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n";

#[test]
fn phone_add_stores_the_password_in_the_secret_service() {
    let script = format!(
        "{UNLOCK}\
         printf 'bob-secret-42\\n' | \"$SIPWITCH\" phone add bob --password-stdin; echo \"ADD_BOB=$?\"\n\
         echo \"LOOKUP_BOB=$(secret-tool lookup service sipwitch username bob)\"\n\
         \"$SIPWITCH\" phone add carol; echo \"ADD_CAROL=$?\"\n\
         echo \"LOOKUP_CAROL=$(secret-tool lookup service sipwitch username carol)\"\n\
         printf 'changed\\n' | \"$SIPWITCH\" phone passwd bob --password-stdin; echo \"PASSWD=$?\"\n\
         echo \"LOOKUP_BOB2=$(secret-tool lookup service sipwitch username bob)\"\n\
         \"$SIPWITCH\" phone remove carol; echo \"REMOVE=$?\"\n\
         secret-tool lookup service sipwitch username carol; echo \"LOOKUP_CAROL_GONE=$?\"\n"
    );
    let (run, dir) = in_session(&script);
    assert_eq!(
        run.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert_eq!(marker(&run, "ADD_BOB"), "0", "{}", run.stderr);
    assert!(
        run.stdout.contains("Phone \"bob\" (extension 101) added."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stored in the keyring"),
        "{}",
        run.stdout
    );
    assert_eq!(marker(&run, "LOOKUP_BOB"), "bob-secret-42");

    assert_eq!(marker(&run, "ADD_CAROL"), "0", "{}", run.stderr);
    let shown = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Password:") && l.contains("shown once"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap();
    assert_eq!(
        marker(&run, "LOOKUP_CAROL"),
        shown,
        "the generated password is what the keyring holds"
    );

    assert_eq!(marker(&run, "PASSWD"), "0", "{}", run.stderr);
    assert_eq!(marker(&run, "LOOKUP_BOB2"), "changed");
    assert_eq!(marker(&run, "REMOVE"), "0", "{}", run.stderr);
    assert_ne!(
        marker(&run, "LOOKUP_CAROL_GONE"),
        "0",
        "carol's item was deleted"
    );

    assert!(
        !dir.path().join("state/secrets.toml").exists(),
        "the file store was not used"
    );
    assert!(
        !run.stderr.contains("bob-secret-42") && !run.stderr.contains(shown),
        "no secret in logs"
    );
}

#[test]
fn locked_keyring_is_a_clear_error_and_adds_nothing() {
    // gnome-keyring is D-Bus-activated but never unlocked: there is no login keyring to
    // store into, and no prompt can be shown.
    let (run, dir) = in_session(
        "printf 'dave-secret\\n' | \"$SIPWITCH\" phone add dave --password-stdin; echo \"ADD=$?\"\n",
    );
    assert_eq!(
        marker(&run, "ADD"),
        "1",
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("keyring locked"), "{}", run.stderr);
    assert!(!run.stderr.contains("dave-secret"));
    assert!(
        !dir.path().join("config/sipwitch/phones.toml").exists(),
        "no phone without a password"
    );
    assert!(
        !dir.path().join("state/secrets.toml").exists(),
        "no silent fallback when keyring is forced"
    );
}
