#!/bin/bash
# UI tests: the real app under Xvfb and a private D-Bus session, driven through
# its GActions with `gapplication action`, and screenshots of its windows.
#
# The app exposes two extra actions when EARSHOT_AUTOMATION=1: app.screenshot(s)
# renders the topmost window to a PNG (DESIGN.md §7), and app.page holds the
# name of the visible page as its state.
#
# SPDX-License-Identifier: GPL-3.0-or-later

set -euo pipefail

if [ -z "${EARSHOT_UI_INNER:-}" ]; then
  export EARSHOT_UI_INNER=1
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$0" "$@"
fi

test_name=$1
app=${EARSHOT_APP:?}
app_id=org.earshot.Earshot
shots=${EARSHOT_SCREENSHOT_DIR:?}
mkdir -p "$shots"

work=$(mktemp -d)
app_pid=
server_pid=
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
export EARSHOT_PROFILE=$work/profile
export EARSHOT_AUTOMATION=1 EARSHOT_TEST_MEDIA=1

fail() { echo "FAIL: $*" >&2; [ -f "$work/app.log" ] && sed 's/^/app: /' "$work/app.log" >&2; exit 1; }

action() {
  gapplication action "$app_id" "$@"
}

# Prints the visible page, or nothing while the app is not on the bus yet.
page() {
  gdbus call --session --dest "$app_id" --object-path /org/earshot/Earshot \
    --method org.gtk.Actions.Describe page 2>/dev/null | sed -n "s/.*\[<'\([a-z-]*\)'>\].*/\1/p" || true
}

wait_page() {
  local want=$1 now=
  for _ in $(seq 200); do
    now=$(page)
    [ "$now" = "$want" ] && return 0
    kill -0 "$app_pid" 2>/dev/null || fail "the app died waiting for page $want"
    sleep 0.1
  done
  fail "page is '$now', expected '$want'"
}

screenshot() {
  local file=$shots/$1.png
  rm -f "$file"
  # Two frames for the last state change to be laid out and drawn.
  sleep 0.5
  action screenshot "'$file'"
  for _ in $(seq 100); do
    [ -s "$file" ] && break
    sleep 0.1
  done
  [ -s "$file" ] || fail "no screenshot $file"
  head -c 8 "$file" | od -An -tx1 | grep -q '89 50 4e 47' || fail "$file is not a PNG"
  echo "screenshot: $file"
}

start_app() {
  "$app" > "$work/app.log" 2>&1 &
  app_pid=$!
}

quit_app() {
  action quit
  local status=0
  wait "$app_pid" || status=$?
  app_pid=
  # fatal-warnings turns any warning or critical into a crash: the exit status says.
  [ "$status" = 0 ] || fail "the app exited with status $status"
}

start_server() {
  local server=${EARSHOT_SERVER:?}
  mkfifo "$work/server.out"
  "$server" --listen 127.0.0.1:0 --database "$work/server.db" --password-hash min \
    > "$work/server.out" 2> "$work/server.log" &
  server_pid=$!
  exec 3< "$work/server.out"
  local line
  read -r -t 20 line <&3 || fail "the server did not start: $(cat "$work/server.log")"
  server_url=${line#listening on }
  case $server_url in http://*) ;; *) fail "unexpected server line: $line" ;; esac
  # Keep draining the server's stdout so that it never blocks on a full pipe.
  cat <&3 > /dev/null &
}

case $test_name in
  first-run)
    start_app
    wait_page welcome
    screenshot first-run
    quit_app
    ;;

  sign-up)
    start_server
    start_app
    wait_page welcome
    # A wrong password on an unknown account stays on the first-run page with an error.
    action login "('$server_url', 'nobody', 'wrong-password', 'Test Laptop')"
    sleep 2
    [ "$(page)" = welcome ] || fail "login of an unknown user left the first-run page"
    screenshot sign-in-error
    action register "('$server_url', 'alice', 'correct horse battery', 'Test Laptop')"
    wait_page main
    screenshot main-empty
    quit_app
    # Signed in for good: the next start goes straight to the main window.
    start_app
    wait_page main
    quit_app
    ;;

  dark-and-windows)
    start_server
    export ADW_DEBUG_COLOR_SCHEME=prefer-dark
    start_app
    wait_page welcome
    action register "('$server_url', 'bob', 'correct horse battery', 'Desk')"
    wait_page main
    screenshot main-empty-dark
    action preferences
    sleep 1
    screenshot preferences-dark
    action about
    sleep 1
    screenshot about-dark
    quit_app
    ;;

  call)
    # A real call to a headless peer (earshot-cli) that picks up after a few seconds.
    start_server
    cli=${EARSHOT_CLI:?}
    "$cli" --server "$server_url" --profile "$work/bob" register bob 'correct horse battery' \
      --device-name 'Bob Phone' > "$work/cli-register.log" 2>&1 || fail "cli register: $(cat "$work/cli-register.log")"
    "$cli" --server "$server_url" --profile "$work/bob" answer --auto --after 4 --test-media \
      > "$work/cli-answer.log" 2>&1 &
    start_app
    wait_page welcome
    action register "('$server_url', 'alice', 'correct horse battery', 'Test Laptop')"
    wait_page main
    action call "'bob'"
    wait_page outgoing
    screenshot outgoing
    wait_page call
    sleep 4
    screenshot in-call
    action hang-up
    wait_page main
    screenshot main-recents
    quit_app
    ;;

  *)
    fail "unknown test $test_name"
    ;;
esac

echo "PASS: $test_name"
