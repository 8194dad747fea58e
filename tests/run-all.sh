#!/usr/bin/env bash
# Runs every test: formatting, lints, the sans-IO core and daemon tests, and the interop tests
# against real SIP peers (SIPp, baresip) and a real Secret Service (gnome-keyring).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# Interop tests start real phones and daemons; two at a time keeps a 2-core machine honest.
cargo test --locked --all-targets -- --test-threads=2
