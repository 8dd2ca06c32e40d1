#!/bin/bash
# run-server-bench.sh: measure earshot-server with thousands of connected devices.
#
# Usage: tests/bench/run-server-bench.sh [--build-dir DIR] [bench-server options...]
#
#   tests/bench/run-server-bench.sh                  # 5000 devices, 200 senders, 6000 msgs/s, 10 s
#   tests/bench/run-server-bench.sh --ramp           # then raise the rate by half while sustained
#   tests/bench/run-server-bench.sh --devices 500 --seconds 3
#   SERVER_ARGS="--rate-limit 2000" tests/bench/run-server-bench.sh --senders 20
#
# Builds DIR (default: build in the source tree) if needed, starts earshot-server on
# 127.0.0.1:0 with a fresh database in a temporary directory and --password-hash min, runs
# bench-server against it, and stops the server and removes the directory afterwards. The
# figures go to stdout; the last line is one JSON object with all of them. Both processes share
# this machine's cores, so run it on an otherwise idle machine.
#
# bench-server options: --devices N --senders S --rate R --seconds T --ramp --max-rate R
# --concurrency N --payload BYTES (see bench-server --help).

set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${EARSHOT_BUILD_DIR:-$source_dir/build}

if [[ ${1:-} == --build-dir ]]; then
  build_dir=$2
  shift 2
fi

if [[ ! -f $build_dir/build.ninja ]]; then
  meson setup "$build_dir" "$source_dir" >/dev/null
fi
ninja -C "$build_dir" src/server/earshot-server tests/bench/bench-server >/dev/null

server=$build_dir/src/server/earshot-server
bench=$build_dir/tests/bench/bench-server

# Each device is one socket on either side. The server raises its soft limit to the hard one;
# we are root in CI and on the bench machine, so the hard limit can be raised here first.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

# On a shared machine, builds and tests of others take CPU from both processes and turn the
# figures into noise; a higher priority (root only) keeps most of it out.
priority=()
if nice -n -10 true 2>/dev/null; then
  priority=(nice -n -10)
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/earshot-bench.XXXXXX")
server_pid=
bench_pid=

cleanup() {
  if [[ -n $bench_pid ]]; then
    kill -TERM "$bench_pid" 2>/dev/null || true
  fi
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    # With a SERVER_WRAPPER the server is the wrapper's child: a wrapper that does not pass the
    # signal on would leave it running, and its CPU would skew every later run.
    pkill -TERM -P "$server_pid" 2>/dev/null || true
    kill -TERM "$server_pid"
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    pkill -KILL -P "$server_pid" 2>/dev/null || true
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
# Exiting on a signal runs the EXIT trap, so the server never outlives an interrupted run.
trap 'exit 130' INT
trap 'exit 143' TERM

# --idle-timeout 0: idle devices send nothing during a long ramp, and closing them would be a
# finding about the benchmark rather than about the server. SERVER_ARGS come last so they win.
# SERVER_WRAPPER runs the server under a tool, e.g. SERVER_WRAPPER="valgrind --tool=callgrind".
# shellcheck disable=SC2086
"${priority[@]}" ${SERVER_WRAPPER:-} "$server" --listen 127.0.0.1:0 --database "$workdir/server.db" --password-hash min \
  --idle-timeout 0 ${SERVER_ARGS:-} >"$workdir/stdout" 2>"$workdir/server.log" &
server_pid=$!

url=
for _ in $(seq 100); do
  line=$(head -n 1 "$workdir/stdout" 2>/dev/null || true)
  if [[ $line == "listening on http://127.0.0.1:"* ]]; then
    url=${line#listening on }
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

if [[ -z $url ]]; then
  echo "run-server-bench: earshot-server did not start; its log:" >&2
  tail -n 20 "$workdir/server.log" >&2
  exit 1
fi

echo "earshot-server pid $server_pid at $url, database $workdir/server.db ($(nproc) cores)"

# In the background so that a signal reaches the traps above at once, not after the run.
"${priority[@]}" "$bench" --server "$url" --server-pid "$server_pid" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=

if [[ $status -ne 0 ]]; then
  echo "run-server-bench: bench-server failed ($status); last lines of the server log:" >&2
  tail -n 20 "$workdir/server.log" >&2
fi
exit $status
