#!/usr/bin/env bash
# Rehearses docker-compose.yml without a Docker engine: `bash scripts/compose-rehearsal.sh`.
#
# Every service of the compose file runs as a local process with the environment compose would
# give it (PostgreSQL, the Qdrant server from ../shared/qdrant, Caddy with compose's command,
# bellhop-web and the bellhop workers), the image's models stage runs fetch-models.sh, and a
# business is onboarded and answered through Caddy over HTTPS. What it checks and what differs
# from Docker: scripts/compose_rehearsal.py. Needs PostgreSQL (scripts/test.sh installs it) and
# Caddy (installed here from Debian's packages when missing and run as root). Not part of the
# test command: it installs Caddy and downloads the models afresh, as the image build would.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bellhop/target}"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL is not installed (scripts/test.sh installs it)"; exit 1; }
if ! command -v caddy >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "Caddy is not installed: apt-get install caddy"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy >/dev/null
fi
if [ "${BELLHOP_BUILD:-dev}" = release ]; then
  cargo build --release --bin bellhop --quiet; BIN="$CARGO_TARGET_DIR/release/bellhop"
else
  cargo build --workspace --tests --bins --quiet; BIN="$CARGO_TARGET_DIR/debug/bellhop"
fi
WORK=$(mktemp -d -t bellhop-compose.XXXXXX)
chmod 755 "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# The script stops what it started; this is for when it could not (killed).
trap 'as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q pyyaml==6.0.2 requests==2.32.3
PYTHON="$WORK/venv/bin/python" "$WORK/venv/bin/python" scripts/compose_rehearsal.py --bin "$BIN" --pgbin "$PGBIN" \
  --qdrant-bin "${BELLHOP_QDRANT_BIN:-$PWD/../shared/qdrant/qdrant}" --work "$WORK"
