//! The `sipwitch` CLI, run as a user would: a private config/state tree per test, the file
//! secret store, no D-Bus (the environment is cleared).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

const FILE_STORE: &str = "[server]\ndomains = [\"alice.test\"]\n[secrets]\nstore = \"file\"\n";

struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    /// `config`: the text of config.toml, or `None` for no file at all.
    fn new(config: Option<&str>) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let sb = Sandbox { dir };
        std::fs::create_dir_all(sb.config_dir()).unwrap();
        std::fs::create_dir_all(sb.path("run")).unwrap();
        if let Some(text) = config {
            std::fs::write(sb.config_dir().join("config.toml"), text).unwrap();
        }
        sb
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn config_dir(&self) -> PathBuf {
        self.path("config/sipwitch")
    }

    fn secrets_file(&self) -> PathBuf {
        self.path("state/secrets.toml")
    }

    fn pid_file(&self) -> PathBuf {
        // SIPWITCH_STATE_DIR puts the runtime directory under the state directory.
        self.path("state/run/sipwitchd.pid")
    }

    /// A hermetic environment: no session bus, no RUST_LOG, our own XDG directories.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sipwitch"));
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .env("USER", "tester")
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("SIPWITCH_STATE_DIR", self.path("state"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn list(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["phone", "list", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The password from the "Password:" line of `phone add`/`passwd`.
fn shown_password(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Password:"))
        .expect("a Password: line");
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn add_list_passwd_remove() {
    let sb = Sandbox::new(Some(FILE_STORE));

    let out = sb.run(&["phone", "add", "alice", "--display-name", "Alice A"]);
    let stdout = ok(&out);
    let password = shown_password(&stdout);
    assert_eq!(password.len(), 20, "{stdout}");
    let expected = format!(
        "Phone \"alice\" (extension 101) added.\n\
         \x20 SIP address: sip:alice@alice.test\n\
         \x20 Username:    alice\n\
         \x20 Password:    {password}     (shown once; stored in the secrets file)\n\
         \x20 Registrar:   alice.test (port 5060, UDP or TCP)\n"
    );
    assert!(stdout.starts_with(&expected), "{stdout}");
    assert!(!text(&out.stderr).contains(&password), "never in logs");

    // The secret is in a 0600 file in a 0700 directory, and not in phones.toml.
    let secrets = std::fs::read_to_string(sb.secrets_file()).unwrap();
    assert!(
        secrets.contains(&format!("\"alice\" = \"{password}\"")),
        "{secrets}"
    );
    assert_eq!(mode(&sb.secrets_file()), 0o600);
    assert_eq!(mode(&sb.path("state")), 0o700);
    let phones = std::fs::read_to_string(sb.config_dir().join("phones.toml")).unwrap();
    assert!(
        phones.contains("name = \"alice\"") && !phones.contains(&password),
        "{phones}"
    );

    let list = sb.list();
    assert_eq!(
        list,
        [
            serde_json::json!({"number": "100", "name": "tester", "display_name": null, "source": "config"}),
            serde_json::json!({"number": "101", "name": "alice", "display_name": "Alice A", "source": "phones"}),
        ]
    );
    let table = ok(&sb.run(&["phone", "list"]));
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["101", "alice", "Alice", "A", "phones"]),
        "{table}"
    );

    let out = sb.run_with_stdin(
        &["phone", "passwd", "alice", "--password-stdin"],
        "new secret 123\n",
    );
    let stdout = ok(&out);
    assert!(
        !stdout.contains("new secret 123"),
        "a given password is not echoed: {stdout}"
    );
    let secrets = std::fs::read_to_string(sb.secrets_file()).unwrap();
    assert!(
        secrets.contains("\"alice\" = \"new secret 123\"") && !secrets.contains(&password),
        "{secrets}"
    );

    // passwd without stdin generates and shows a new one.
    let stdout = ok(&sb.run(&["phone", "passwd", "alice"]));
    let generated = shown_password(&stdout);
    assert!(
        std::fs::read_to_string(sb.secrets_file())
            .unwrap()
            .contains(&generated)
    );

    ok(&sb.run(&["phone", "remove", "alice"]));
    assert_eq!(sb.list().len(), 1);
    assert!(
        !std::fs::read_to_string(sb.secrets_file())
            .unwrap()
            .contains("alice")
    );
    assert!(
        !std::fs::read_to_string(sb.config_dir().join("phones.toml"))
            .unwrap()
            .contains("alice")
    );
}

#[test]
fn add_with_number_and_password_from_stdin() {
    let sb = Sandbox::new(Some(FILE_STORE));
    let out = sb.run_with_stdin(
        &[
            "phone",
            "add",
            "bob",
            "--number",
            "2001",
            "--password-stdin",
        ],
        "hunter2\r\n",
    );
    let stdout = ok(&out);
    assert!(
        stdout.starts_with("Phone \"bob\" (extension 2001) added."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Password:    (as given on stdin; stored in the secrets file)"),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(sb.secrets_file())
            .unwrap()
            .contains("\"bob\" = \"hunter2\"")
    );
    // An empty line is no password.
    let out = sb.run_with_stdin(&["phone", "add", "carol", "--password-stdin"], "\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no password"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn duplicate_add_fails_with_status_1() {
    let sb = Sandbox::new(Some(FILE_STORE));
    ok(&sb.run(&["phone", "add", "alice"]));
    let before = std::fs::read_to_string(sb.config_dir().join("phones.toml")).unwrap();

    let out = sb.run(&["phone", "add", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    let out = sb.run(&["phone", "add", "bob", "--number", "100"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "100 is the default extension of the login user"
    );
    assert!(
        text(&out.stderr).contains("tester"),
        "{}",
        text(&out.stderr)
    );

    for bad in [
        &["phone", "add", "Bob"][..],
        &["phone", "add", "bob", "--number", "12a"],
        &["phone", "passwd", "nobody"],
    ] {
        let out = sb.run(bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", text(&out.stderr));
    }
    assert_eq!(
        std::fs::read_to_string(sb.config_dir().join("phones.toml")).unwrap(),
        before,
        "nothing written"
    );
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new(Some(FILE_STORE));
    for args in [
        &["phone", "add", "alice", "--bogus"][..],
        &["phone"],
        &["frobnicate"],
        &["phone", "add"],
        &["phone", "list", "--json", "extra"],
    ] {
        assert_eq!(sb.run(args).status.code(), Some(2), "{args:?}");
    }
    assert_eq!(sb.run(&["--help"]).status.code(), Some(0));
}

#[test]
fn passwords_never_travel_in_argv() {
    let sb = Sandbox::new(Some(FILE_STORE));
    // There is no option that takes a password: it comes from stdin or is generated.
    for args in [
        &["phone", "add", "alice", "--password", "s3cret"][..],
        &["phone", "passwd", "alice", "--password=s3cret"],
    ] {
        assert_eq!(sb.run(args).status.code(), Some(2), "{args:?}");
    }
    let help = ok(&sb.run(&["phone", "add", "--help"]));
    let options: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--password"))
        .collect();
    assert!(options.iter().all(|o| *o == "--password-stdin"), "{help}");

    // While the CLI waits for the password on stdin, its command line holds no secret (and
    // after it, the secret is stored even though argv never saw it).
    let mut child = sb
        .cmd(&["phone", "add", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Right after exec the kernel may not have laid out the arguments yet: wait for them.
    let mut cmdline = Vec::new();
    for _ in 0..200 {
        cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        if !cmdline.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let argv: Vec<String> = cmdline.split(|&b| b == 0).map(text).collect();
    assert!(
        argv.ends_with(&[
            "phone".into(),
            "add".into(),
            "alice".into(),
            "--password-stdin".into(),
            String::new()
        ]),
        "{argv:?}"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin-only\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out);
    assert!(!text(&out.stdout).contains("from-stdin-only"));
    assert!(
        std::fs::read_to_string(sb.secrets_file())
            .unwrap()
            .contains("from-stdin-only")
    );
}

#[test]
fn auto_store_falls_back_to_the_file_loudly_without_a_session_bus() {
    let sb = Sandbox::new(None);
    let out = sb.run(&["phone", "add", "alice"]);
    let stdout = ok(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("no Secret Service is running"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&sb.secrets_file().display().to_string()) && stderr.contains("0600"),
        "{stderr}"
    );
    // Without config the domains come from the host name; the default extension is taken.
    assert!(
        stdout.starts_with("Phone \"alice\" (extension 101) added."),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(sb.secrets_file())
            .unwrap()
            .contains(&shown_password(&stdout))
    );
}

#[test]
fn config_check_reports_paths_and_errors() {
    let sb = Sandbox::new(Some(FILE_STORE));
    let stdout = ok(&sb.run(&["config", "check"]));
    assert!(stdout.starts_with("Configuration OK."), "{stdout}");
    let config_file = sb.config_dir().join("config.toml");
    assert!(
        stdout.contains(&config_file.display().to_string()),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("pid file:     {}", sb.pid_file().display())),
        "{stdout}"
    );
    assert!(stdout.contains("domains:      alice.test"), "{stdout}");

    std::fs::write(
        &config_file,
        "[server]\ndomains = [\"alice.test\"]\n\nlisten = [\"udp:nowhere\"]\n",
    )
    .unwrap();
    let out = sb.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 4") && stderr.contains("server.listen[0]"),
        "{stderr}"
    );

    std::fs::write(&config_file, "[server]\ndomain = [\"alice.test\"]\n").unwrap();
    let stderr = text(&sb.run(&["config", "check"]).stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("domain"),
        "{stderr}"
    );
}

#[test]
fn explicit_config_file_keeps_phones_next_to_it() {
    let sb = Sandbox::new(None);
    let other = sb.path("elsewhere");
    std::fs::create_dir_all(&other).unwrap();
    let file = other.join("my.toml");
    std::fs::write(&file, FILE_STORE).unwrap();
    let file_arg = file.to_str().unwrap();
    ok(&sb.run(&["--config", file_arg, "phone", "add", "alice"]));
    assert!(other.join("phones.toml").exists());
    assert!(!sb.config_dir().join("phones.toml").exists());
    assert_eq!(
        sb.run(&["phone", "list", "--config", file_arg, "--json"])
            .status
            .code(),
        Some(0),
        "global option"
    );
    let out = sb.run(&[
        "--config",
        sb.path("missing.toml").to_str().unwrap(),
        "phone",
        "list",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn remove_refuses_phones_from_config_toml() {
    let config = format!("{FILE_STORE}[[extension]]\nnumber = \"100\"\nname = \"alice\"\n");
    let sb = Sandbox::new(Some(&config));
    let out = sb.run(&["phone", "remove", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("config.toml"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        sb.run(&["phone", "remove", "nobody"]).status.code(),
        Some(1)
    );
}

/// A process that looks like the daemon: a copy of `sleep` named sipwitchd.
fn fake_daemon(sb: &Sandbox) -> std::process::Child {
    let exe = sb.path("sipwitchd");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    // Another test thread forking right now may briefly hold the copy's write descriptor, and
    // exec then fails with ETXTBSY: retry.
    for _ in 0..50 {
        match Command::new(&exe).arg("30").spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{} stayed busy", exe.display())
}

fn write_pid(sb: &Sandbox, pid: u32) {
    std::fs::create_dir_all(sb.pid_file().parent().unwrap()).unwrap();
    std::fs::write(sb.pid_file(), format!("{pid}\n")).unwrap();
}

#[test]
fn running_daemon_gets_sighup() {
    let sb = Sandbox::new(Some(FILE_STORE));
    let mut daemon = fake_daemon(&sb);
    write_pid(&sb, daemon.id());
    // Let the fake finish exec'ing so that /proc shows its name.
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{}/comm", daemon.id()))
            .unwrap_or_default()
            .trim()
            == "sipwitchd"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let stdout = ok(&sb.run(&["phone", "add", "alice"]));
    assert!(
        stdout.contains(&format!(
            "sipwitchd (pid {}) was told to reload.",
            daemon.id()
        )),
        "{stdout}"
    );
    let status = daemon.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}");
}

#[test]
fn stale_pid_file_naming_another_program_is_left_alone() {
    let sb = Sandbox::new(Some(FILE_STORE));
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    write_pid(&sb, other.id());
    let stdout = ok(&sb.run(&["phone", "add", "alice"]));
    assert!(stdout.contains("sipwitchd is not running"), "{stdout}");
    assert!(
        other.try_wait().unwrap().is_none(),
        "sleep must not have been signalled"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}
