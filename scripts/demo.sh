#!/usr/bin/env bash
# The one command that runs the whole platform locally with zero configuration:
# `bash scripts/demo.sh` (extra arguments go to `bellhop demo`, e.g. --listen 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bellhop/target}"
if ! command -v cargo >/dev/null; then
  echo "bellhop needs the Rust toolchain: https://rustup.rs" >&2
  exit 1
fi
echo "==> building bellhop (the first build takes a few minutes)"
cargo build --quiet --bin bellhop
exec "$CARGO_TARGET_DIR/debug/bellhop" demo "$@"
