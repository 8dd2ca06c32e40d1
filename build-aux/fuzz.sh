#!/usr/bin/env bash
# Runs the frame-parser fuzzer for SECONDS (default 60) from the seed corpus, keeping what it
# learns in the build directory so the source tree stays clean.
#   build-aux/fuzz.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
seconds=${1:-60}
build=${2:-build-fuzz}
top=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$build/tests/fuzz/fuzz-frame" ]; then
  CC=clang meson setup "$build" "$top" -Dfuzzing=true -Dapp=false \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  ninja -C "$build" tests/fuzz/fuzz-frame >/dev/null
fi

mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"
exec "$build/tests/fuzz/fuzz-frame" -max_total_time="$seconds" -max_len=70000 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/" \
  "$build/fuzz-corpus" "$top/tests/fuzz/corpus"
