//! The sans-IO rule, checked mechanically: nothing under src/core/ may reach for the outside
//! world (sockets, clocks, threads, the runtime, D-Bus, the keyring, DNS).

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio::",
    "zbus::",
    "keyring",
    "hickory",
    "mdns_sd",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "Instant::now",
    "SystemTime::now",
    "std::thread",
    "std::fs",
    "std::env",
    "getrandom",
    "std::process",
];

fn visit(dir: &Path, hits: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            visit(&path, hits);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for f in FORBIDDEN {
                    if code.contains(f) {
                        hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
}

#[test]
fn core_is_sans_io() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    assert!(core.is_dir());
    let mut hits = Vec::new();
    visit(&core, &mut hits);
    assert!(
        hits.is_empty(),
        "src/core must stay sans-IO:\n{}",
        hits.join("\n")
    );
}
