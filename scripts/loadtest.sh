#!/usr/bin/env bash
# `bellhop loadtest` with everything it needs started here: `bash scripts/loadtest.sh [OPTIONS]`
# (options as `bellhop loadtest --help`; e.g. `--bots 50 --seconds 60` for a short run).
#
# Starts a throwaway PostgreSQL cluster on loopback (as scripts/test.sh does), builds bellhop
# (dev profile: dependencies optimised, see Cargo.toml; `BELLHOP_BUILD=release` for release),
# and runs the load test with the Qdrant server from ../shared/qdrant (or $BELLHOP_QDRANT_BIN)
# and a PostgreSQL restart as one of its faults. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bellhop/target}"
WORK=$(mktemp -d -t bellhop-loadtest.XXXXXX)
chmod 755 "$WORK"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL is not installed (scripts/test.sh installs it)"; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U bellhop -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
  -o "-h 127.0.0.1 -p $PGPORT -k $WORK/pg -c max_connections=500 -c fsync=on" start >/dev/null
RESTART="$PGBIN/pg_ctl -D $WORK/pg/data -l $WORK/pg/log -w -m fast restart"
[ "$(id -u)" = 0 ] && RESTART="runuser -u postgres -- $RESTART"

PROFILE="${BELLHOP_BUILD:-dev}"
if [ "$PROFILE" = release ]; then
  cargo build --release --bin bellhop --quiet; BIN="$CARGO_TARGET_DIR/release/bellhop"
else
  # The same build as the test command's (building the binary alone would unify features
  # differently and recompile much of the dependency tree).
  cargo build --workspace --tests --bins --quiet; BIN="$CARGO_TARGET_DIR/debug/bellhop"
fi
MODELS="${BELLHOP_MODELS_DIR:-$HOME/.cache/bellhop/models}"
bash scripts/fetch-models.sh "$MODELS" >/dev/null
echo "bellhop loadtest, $PROFILE build" >&2
cd "$WORK"
BELLHOP_MODELS_DIR="$MODELS" "$BIN" loadtest --postgres "postgres://bellhop@127.0.0.1:$PGPORT/postgres" \
  --postgres-restart "$RESTART" --qdrant-bin "${BELLHOP_QDRANT_BIN:-$OLDPWD/../shared/qdrant/qdrant}" "$@"
