#!/usr/bin/env bash
# Installs, when missing, what building bellhop needs besides the Rust toolchain: a C++ compiler,
# CMake and libclang (llama.cpp, the local chat model's runtime, is compiled from the source the
# `llama-cpp-sys-2` crate carries, with CMake; bindgen reads its headers through libclang).
# Debian's packages; sourced by scripts/demo.sh and scripts/test.sh.
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
# libclang itself (libclang.so, libclang-14.so.1 …): libclang-cpp.so, which other packages bring,
# is a different library that bindgen cannot use.
# (`ls` fails when any one pattern matches nothing: count what it lists instead.)
if [ -z "${LIBCLANG_PATH:-}" ] && ! ls -d /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* /usr/lib/*/libclang.so* /usr/lib/*/libclang-[0-9]*.so* 2>/dev/null | grep -q .; then
  missing+=(libclang-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "building bellhop needs ${missing[*]} (CMake, a C++ compiler and libclang, for llama.cpp): install them with your system's package manager" >&2
    exit 1
  fi
  echo "==> installing ${missing[*]} from Debian's packages (to build llama.cpp, the local chat model)"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
