#!/bin/bash
# run-app-bench.sh: how fast the desktop app starts, and how much memory it holds idle.
#
# Usage: tests/bench/run-app-bench.sh [--build-dir DIR] [--runs N]
#
# Starts the app N times (default 5), each with a fresh profile on the first-run page, and
# measures:
#   * start to first frame: from just before exec to the end of the first paint of its window
#     (the app prints the wall-clock time of its frame clock's first "after-paint" when
#     EARSHOT_BENCH is set);
#   * idle RSS: VmRSS of the process 5 s after that first frame.
# The first run reads the binaries and libraries from disk if they are not cached yet; the
# others run with a warm file cache. Without a display it runs under xvfb-run (GTK's GL
# renderer on llvmpipe; GSK_RENDERER=cairo to compare), always in a private D-Bus session. The figures go to stdout; the last
# line is one JSON object. This is a benchmark, not a test: nothing here fails on a number.
#
# SPDX-License-Identifier: GPL-3.0-or-later

set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${EARSHOT_BUILD_DIR:-$source_dir/build}
runs=5

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--runs N]" >&2; exit 2 ;;
  esac
done

if [[ -z ${EARSHOT_BENCH_INNER:-} ]]; then
  if [[ ! -f $build_dir/build.ninja ]]; then
    meson setup "$build_dir" "$source_dir" >/dev/null
  fi
  ninja -C "$build_dir" src/app/earshot data/gschemas.compiled >/dev/null
  export EARSHOT_BENCH_INNER=1
  if [[ -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ]]; then
    exec dbus-run-session -- "$0" --build-dir "$build_dir" --runs "$runs"
  fi
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$0" --build-dir "$build_dir" --runs "$runs"
fi

app=$build_dir/src/app/earshot
work=$(mktemp -d)
app_pid=
cleanup() {
  [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export GSETTINGS_BACKEND=memory GSETTINGS_SCHEMA_DIR=$build_dir/data LC_ALL=C.UTF-8 NO_AT_BRIDGE=1
export EARSHOT_BENCH=1

# A fresh profile each run, but one cache: GStreamer keeps its plugin registry
# there, and rebuilding it (seconds) is a first-ever start, not a cold one.
export XDG_CACHE_HOME=$work/cache
EARSHOT_BENCH= GSK_RENDERER=cairo timeout 20 "$app" --version > /dev/null
gst-inspect-1.0 > /dev/null 2>&1 || true

starts=()
rsss=()
for run in $(seq "$runs"); do
  dir=$work/run-$run
  mkdir -p "$dir"
  t0=$(date +%s%6N)
  XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config \
    EARSHOT_PROFILE=$dir/profile "$app" > "$dir/out.log" 2> "$dir/err.log" &
  app_pid=$!

  frame=
  for _ in $(seq 300); do
    frame=$(sed -n 's/^EARSHOT_BENCH first-frame realtime-us=\([0-9]*\)$/\1/p' "$dir/out.log")
    [[ -n $frame ]] && break
    kill -0 "$app_pid" 2>/dev/null || { cat "$dir/err.log" >&2; echo "the app died" >&2; exit 1; }
    sleep 0.05
  done
  [[ -n $frame ]] || { echo "no first frame in 15 s" >&2; exit 1; }
  start_ms=$(( (frame - t0) / 1000 ))

  sleep 5
  rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$app_pid/status")
  kill "$app_pid"
  wait "$app_pid" 2>/dev/null || true
  app_pid=

  printf 'run %d: start to first frame %d ms, idle RSS after 5 s %.1f MiB\n' \
    "$run" "$start_ms" "$(awk -v k="$rss_kib" 'BEGIN { print k / 1024 }')"
  starts+=("$start_ms")
  rsss+=("$rss_kib")
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
start_median=$(median "${starts[@]}")
rss_median=$(median "${rsss[@]}")
printf 'median over %d runs: start to first frame %s ms (first run %s ms), idle RSS %.1f MiB\n' \
  "$runs" "$start_median" "${starts[0]}" "$(awk -v k="$rss_median" 'BEGIN { print k / 1024 }')"
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "renderer: ${GSK_RENDERER:-default (GL)}; load average now: $load on $(nproc) cores"
printf '{"runs": %d, "start_to_first_frame_ms": [%s], "start_to_first_frame_ms_median": %s, "idle_rss_kib": [%s], "idle_rss_kib_median": %s, "display": "%s", "renderer": "%s", "loadavg": "%s"}\n' \
  "$runs" "$(IFS=,; echo "${starts[*]}")" "$start_median" "$(IFS=,; echo "${rsss[*]}")" "$rss_median" \
  "$( [[ -n ${WAYLAND_DISPLAY:-} ]] && echo wayland || echo "x11 ${DISPLAY:-}")" "${GSK_RENDERER:-default}" "$load"
