#!/usr/bin/env bash
# Earshot's whole test run, as README gives it: installs what is missing, builds, and runs every
# suite; then the unit and integration suites again under ASan+UBSan, and a short fuzzing run.
#   build-aux/run-tests.sh            everything
#   build-aux/run-tests.sh --quick    the plain build's suites only
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=false
[ "${1:-}" = "--quick" ] && quick=true

bash build-aux/install-deps.sh

setup () {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

results=()
# run_suites DIR LOGNAME [meson test arguments]: each run keeps its own log for the summary.
run_suites () {
  local dir=$1 name=$2; shift 2
  local status=0
  meson test -C "$dir" --print-errorlogs --num-processes 2 --logbase "$name" "$@" || status=$?
  results+=("$dir/meson-logs/$name.json")
  return $status
}

failed=0
setup build
meson compile -C build
run_suites build all --no-suite bench --no-suite fuzz || failed=1

if ! $quick; then
  # GLib's type system keeps its registrations for the life of the process; LeakSanitizer would
  # report them all, so leaks are checked by the fuzzer (on the parser) and by valgrind by hand.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dapp=false
  meson compile -C build-asan
  run_suites build-asan unit --suite unit || failed=1
  # Real encoders and decoders run several times slower under ASan on two cores: the call tests
  # stretch their call durations and waits by this factor (tests/integration/earshot_testlib.py).
  EARSHOT_TEST_SLOWDOWN=3 run_suites build-asan integration --suite integration || failed=1

  CC=clang setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Dapp=false
  unset ASAN_OPTIONS
  run_suites build-fuzz fuzz --suite fuzz || failed=1
fi

python3 - "${results[@]}" <<'PY' || failed=1
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        f = open(path)
    except OSError:
        print(f"no test log at {path}: that run did not happen")
        failed += 1
        continue
    with f:
        for line in f:
            r = json.loads(line)
            if r["result"] in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r["result"] == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
exit $failed
