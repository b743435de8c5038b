#!/usr/bin/env bash
# The one command that runs every test: `bash scripts/test.sh`.
#
# On a fresh Debian machine with only the Rust toolchain it installs what the tests need
# (PostgreSQL, CMake and libclang from Debian's packages, a throwaway Python virtualenv with
# python-telegram-bot and stripe),
# starts a throwaway PostgreSQL cluster on loopback, runs the whole suite on SQLite and then on
# PostgreSQL, then the index, isolation and answering tests once more on PostgreSQL with a Qdrant
# server (started on loopback from ../shared/qdrant) as the vector index, removes both, scans all output for leaked bot tokens, and prints how many
# tests ran on each engine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bellhop/target}"
WORK=$(mktemp -d -t bellhop-test.XXXXXX)
chmod 755 "$WORK"
# Everything the tests create in temporary folders goes here and is removed at the end.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
PG_STARTED=""
QDRANT_PID=""
cleanup() {
  if [ -n "$PG_STARTED" ]; then as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true; fi
  if [ -n "$QDRANT_PID" ]; then kill "$QDRANT_PID" 2>/dev/null || true; wait "$QDRANT_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '\n==> %s\n' "$*"; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- PostgreSQL -------------------------------------------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  say "installing PostgreSQL from Debian's packages"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
# PostgreSQL refuses to run as root: run it as the `postgres` user the package created.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
say "starting a throwaway PostgreSQL cluster on 127.0.0.1:$PGPORT"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U bellhop -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
  -o "-h 127.0.0.1 -p $PGPORT -k $WORK/pg -c max_connections=400 -c fsync=on" start >/dev/null
PG_STARTED=1
export BELLHOP_TEST_POSTGRES_URL="postgres://bellhop@127.0.0.1:$PGPORT/postgres"

# --- Qdrant server (the production index backend) ---------------------------------------------
# No package registry carries a Qdrant server; ../shared/qdrant holds one built from the official
# source (version 1.16.3, the version qdrant-client is pinned to and docker-compose.yml runs).
QDRANT_BIN="${BELLHOP_QDRANT_BIN:-$ROOT/../shared/qdrant/qdrant}"
QDRANT_URL=""
if [ -x "$QDRANT_BIN" ]; then
  # Both ports chosen while both are held: two separate picks can return the same port.
  read -r QHTTP QGRPC < <(python3 -c 'import socket; a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])')
  say "starting a throwaway Qdrant server on 127.0.0.1:$QGRPC (gRPC)"
  mkdir -p "$WORK/qdrant"
  (cd "$WORK/qdrant" && QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$QHTTP QDRANT__SERVICE__GRPC_PORT=$QGRPC \
    QDRANT__STORAGE__STORAGE_PATH="$WORK/qdrant/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$WORK/qdrant/snapshots" \
    QDRANT__TELEMETRY_DISABLED=true QDRANT__LOG_LEVEL=WARN exec "$QDRANT_BIN" >"$WORK/qdrant/log" 2>&1) &
  QDRANT_PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$QHTTP/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fs "http://127.0.0.1:$QHTTP/readyz" >/dev/null || { echo "the Qdrant server did not start:"; tail -n 20 "$WORK/qdrant/log"; exit 1; }
  QDRANT_URL="http://127.0.0.1:$QGRPC"
else
  say "NO QDRANT SERVER at $QDRANT_BIN: the server-backend pass is skipped (set BELLHOP_QDRANT_BIN)"
fi

# --- Python clients for the fidelity tests ------------------------------------------------------
say "creating a throwaway virtualenv with python-telegram-bot and stripe"
python3 -m venv "$WORK/venv"
# stripe: Stripe's own library signs the webhook events of tests/api/billing_stripe.rs.
"$WORK/venv/bin/pip" install -q --disable-pip-version-check 'python-telegram-bot>=22.8' 'stripe>=7'
export BELLHOP_PYTHON="$WORK/venv/bin/python"

# --- Local model files for the retrieval tests (fetched once, cached) ----------------------------
MODELS_CACHE="${BELLHOP_MODELS_CACHE:-$HOME/.cache/bellhop/models}"
say "local model files in $MODELS_CACHE"
bash scripts/fetch-models.sh "$MODELS_CACHE"
export BELLHOP_MODELS_DIR="$MODELS_CACHE"

# --- Build once, then the suite on each engine -----------------------------------------------
# CMake and libclang (from Debian's packages) for llama.cpp, installed when missing.
source scripts/build-deps.sh
say "building"
cargo build --workspace --tests --bins --quiet
export BELLHOP_TEST_LOG_DIR="$WORK/logs"
export BELLHOP_TEST_TOKEN_LOG="$WORK/tokens-used.txt"
mkdir -p "$BELLHOP_TEST_LOG_DIR"
: > "$BELLHOP_TEST_TOKEN_LOG"

# The heaviest tests (the real local model end to end; 2,000 adversarial answers) run after
# the parallel suite, one at a time, so they never compete with it for the two cores.
HEAVY=(
  answering::a_customer_gets_an_answer_from_the_owners_document_or_a_person_offered
  answering_llm::ten_tenants_under_200_attacks_each_never_see_each_others_canaries
)
# Tests marked #[ignore] because a plain `cargo test` should not wait for them; the suite runs
# them once, after the first engine's pass.
ONCE=(retrieval::analysis::english_unchanged::eval_sets_are_analysed_as_before)
declare -A PASSED FAILED
status=0
for engine in sqlite postgres; do
  say "running every test on $engine"
  set +e
  skips=(); for t in "${HEAVY[@]}"; do skips+=(--skip "$t"); done
  BELLHOP_TEST_DATABASE=$engine cargo test --workspace --no-fail-fast -- --test-threads "${BELLHOP_TEST_THREADS:-4}" "${skips[@]}" 2>&1 | tee "$WORK/out-$engine.txt"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || status=1
  say "the heavy tests on $engine, one at a time"
  BELLHOP_TEST_DATABASE=$engine cargo test --test api -- --exact --test-threads 1 "${HEAVY[@]}" 2>&1 | tee -a "$WORK/out-$engine.txt"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || status=1
  if [ "$engine" = sqlite ]; then
    # Skipped by a plain `cargo test` (it reads the whole English eval sets, half a minute in a
    # dev build) and needing no database: run once here.
    say "the English text analysis over the whole eval sets, once"
    cargo test --lib -- --exact --ignored "${ONCE[@]}" 2>&1 | tee -a "$WORK/out-$engine.txt"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || status=1
  fi
  set -e
  PASSED[$engine]=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$WORK/out-$engine.txt" | awk '{s+=$4} END {print s+0}')
  FAILED[$engine]=$(grep -Eo '[0-9]+ failed' "$WORK/out-$engine.txt" | awk '{s+=$1} END {print s+0}')
done

# --- The index, isolation and answering tests on the Qdrant server --------------------------------
# The same tests, with BELLHOP_TEST_QDRANT_URL: each test's app (and each test index) gets a fresh
# collection on the server instead of Qdrant Edge shards.
SERVER_TESTS=(retrieval_index:: answering knowledge_admin:: knowledge_per_bot:: owner_account::)
if [ -n "$QDRANT_URL" ]; then
  say "the index, isolation and answering tests on postgres with the Qdrant server"
  set +e
  BELLHOP_TEST_DATABASE=postgres BELLHOP_TEST_QDRANT_URL="$QDRANT_URL" cargo test --test api --no-fail-fast -- \
    --test-threads "${BELLHOP_TEST_THREADS:-4}" "${skips[@]}" "${SERVER_TESTS[@]}" 2>&1 | tee "$WORK/out-qdrant.txt"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || status=1
  PASSED[qdrant]=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$WORK/out-qdrant.txt" | awk '{s+=$4} END {print s+0}')
  FAILED[qdrant]=$(grep -Eo '[0-9]+ failed' "$WORK/out-qdrant.txt" | awk '{s+=$1} END {print s+0}')
else
  PASSED[qdrant]=0; FAILED[qdrant]=0
fi

# --- Browser tests: headless Chromium against `bellhop demo` -----------------------------------
say "browser tests in headless Chromium (screenshots in docs/screenshots/)"
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "color emoji"; then
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
mkdir -p "$WORK/browser"
cp tests/browser/package.json tests/browser/*.mjs "$WORK/browser/"
(cd "$WORK/browser" && npm install --silent --no-audit --no-fund >/dev/null)
WEBPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The demo's sandbox takes the next port; pick again if that one is busy.
while ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$((WEBPORT+1))))" 2>/dev/null; do
  WEBPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
done
mkdir -p "$WORK/demo" docs/screenshots
# `exec`: the PID below is then bellhop itself, so the kill at the end stops it (it used to
# stop only the subshell and leave the demo running).
(cd "$WORK/demo" && BELLHOP_LOG_FORMAT=json exec "$CARGO_TARGET_DIR/debug/bellhop" demo --listen "127.0.0.1:$WEBPORT" >"$BELLHOP_TEST_LOG_DIR/demo.log" 2>&1) &
DEMO_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$WEBPORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
set +e
(cd "$WORK/browser" && BELLHOP_URL="http://127.0.0.1:$WEBPORT" SANDBOX_URL="http://127.0.0.1:$((WEBPORT+1))" SCREENSHOTS_DIR="$ROOT/docs/screenshots" \
  node --test --test-reporter=tap ./*.test.mjs) 2>&1 | tee "$WORK/out-browser.txt"
rc=${PIPESTATUS[0]}
set -e
kill "$DEMO_PID" 2>/dev/null || true
wait "$DEMO_PID" 2>/dev/null || true
[ "$rc" = 0 ] || status=1
PASSED[browser]=$(grep -Eo '^# pass [0-9]+' "$WORK/out-browser.txt" | awk '{s+=$3} END {print s+0}')
FAILED[browser]=$(grep -Eo '^# fail [0-9]+' "$WORK/out-browser.txt" | awk '{s+=$3} END {print s+0}')

say "scanning everything the suite printed for the bot tokens it used"
sort -u "$BELLHOP_TEST_TOKEN_LOG" | grep -v '^$' > "$WORK/tokens.txt" || true
tokens=$(wc -l < "$WORK/tokens.txt")
if [ "$tokens" -gt 0 ] && cat "$WORK"/out-*.txt "$BELLHOP_TEST_LOG_DIR"/* 2>/dev/null | grep -F -q -f "$WORK/tokens.txt"; then
  echo "LEAK: a bot token appears in the test output or logs:"
  cat "$WORK"/out-*.txt "$BELLHOP_TEST_LOG_DIR"/* 2>/dev/null | grep -F -n -f "$WORK/tokens.txt" | head -n 5 | cut -c1-200
  status=1
else
  echo "no token found ($tokens tokens checked against $(cat "$WORK"/out-*.txt "$BELLHOP_TEST_LOG_DIR"/* 2>/dev/null | wc -l) lines of output and logs)"
fi

echo
echo "tests on sqlite:   ${PASSED[sqlite]} passed, ${FAILED[sqlite]} failed"
echo "tests on postgres: ${PASSED[postgres]} passed, ${FAILED[postgres]} failed"
if [ -n "$QDRANT_URL" ]; then
  echo "qdrant server:     ${PASSED[qdrant]} passed, ${FAILED[qdrant]} failed (index, isolation and answering tests, on postgres)"
else
  echo "qdrant server:     SKIPPED (no server binary at $QDRANT_BIN)"
fi
echo "browser tests:     ${PASSED[browser]} passed, ${FAILED[browser]} failed"
total_p=$(( ${PASSED[sqlite]} + ${PASSED[postgres]} + ${PASSED[qdrant]} + ${PASSED[browser]} ))
total_f=$(( ${FAILED[sqlite]} + ${FAILED[postgres]} + ${FAILED[qdrant]} + ${FAILED[browser]} ))
echo "$total_p passed, $total_f failed"
exit $status
