//! `sipwitchd`: the per-user SIP daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Provider-less SIP: registrar, small PBX and peer-to-peer call router for one user.
#[derive(Debug, Parser)]
#[command(name = "sipwitchd", version)]
struct Args {
    /// Configuration file (default: $XDG_CONFIG_HOME/sipwitch/config.toml; optional).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SIPWITCH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sipwitchd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sipwitch::io::driver::run(sipwitch::io::driver::Options {
        config: args.config,
    })) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipwitchd: {e}");
            ExitCode::FAILURE
        }
    }
}
