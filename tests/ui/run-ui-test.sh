#!/bin/bash
# UI tests: the real app under Xvfb and a private D-Bus session, driven through
# its GActions with `gapplication action`, and screenshots of its windows.
#
# The app exposes extra actions when EARSHOT_AUTOMATION=1: app.screenshot(s)
# renders the topmost window to a PNG (DESIGN.md §7) and writes next to it
# PNG.regions, where the remote video is and what covers it; app.page,
# app.sas, app.verification and app.history hold what the app shows as their
# states (es-ui-check.py state NAME reads them).
#
# SPDX-License-Identifier: GPL-3.0-or-later

set -euo pipefail

if [ -z "${EARSHOT_UI_INNER:-}" ]; then
  export EARSHOT_UI_INNER=1
  exec xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$0" "$@"
fi

test_name=$1
here=$(cd "$(dirname "$0")" && pwd)
check=$here/es-ui-check.py
app=${EARSHOT_APP:?}
app_id=org.earshot.Earshot
shots=${EARSHOT_SCREENSHOT_DIR:?}
mkdir -p "$shots"

work=$(mktemp -d)
app_pid=
server_pid=
bot_pid=
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$bot_pid" ] && kill "$bot_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
export EARSHOT_PROFILE=$work/profile
export EARSHOT_AUTOMATION=1 EARSHOT_TEST_MEDIA=1

fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/app.log" ] && sed 's/^/app: /' "$work/app.log" >&2
  for log in "$work"/bot*.log; do [ -f "$log" ] && sed "s|^|$(basename "$log" .log): |" "$log" >&2; done
  exit 1
}

action() {
  gapplication action "$app_id" "$@"
}

# Prints the visible page, or nothing while the app is not on the bus yet.
page() {
  gdbus call --session --dest "$app_id" --object-path /org/earshot/Earshot \
    --method org.gtk.Actions.Describe page 2>/dev/null | sed -n "s/.*\[<'\([a-z-]*\)'>\].*/\1/p" || true
}

# Prints the state of the automation action $1, a list's items joined by
# spaces (gdbus and sed rather than Python: this is polled, on a busy machine).
state() {
  gdbus call --session --dest "$app_id" --object-path /org/earshot/Earshot \
    --method org.gtk.Actions.Describe "$1" 2>/dev/null |
    sed -n -e "s/.*\[<\(.*\)>\]),)\$/\1/" -e "s/^@as //" -e "s/[][',]//gp" || true
}

# Waits until the state of the automation action $1 is $2, for up to $3 seconds (20).
wait_state() {
  local name=$1 want=$2 now= deadline=$((SECONDS + ${3:-20}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    now=$(state "$name")
    [ "$now" = "$want" ] && return 0
    kill -0 "$app_pid" 2>/dev/null || fail "the app died waiting for $name to be '$want'"
    sleep 0.2
  done
  fail "$name is '$now', expected '$want'"
}

# Prints KEY of the bot's EVENT events, one line each.
bot_events() {
  python3 "$check" events "$1" "$2" "$3"
}

# Waits until the bot's log has an EVENT whose KEY is VALUE.
wait_bot_event() {
  local log=$1 event=$2 key=$3 want=$4 deadline=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$deadline" ]; do
    grep -F "\"event\":\"$event\"" "$log" | grep -qF "\"$key\":\"$want\"" && return 0
    sleep 0.2
  done
  fail "the bot never reported $event with $key=$want"
}

# The bot: a headless earshot-cli peer with test media. Started directly, not through a shell
# function, so that $bot_pid is earshot-cli itself and a kill reaches it.
start_bot() {
  local log=$1; shift
  "${EARSHOT_CLI:?}" --profile "$work/bot" "$@" > "$log" 2>&1 &
  bot_pid=$!
}

wait_bot_exit() {
  local status=0
  for _ in $(seq 300); do
    kill -0 "$bot_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$bot_pid" || status=$?
  bot_pid=
  return "$status"
}

register_bot() {
  "${EARSHOT_CLI:?}" --server "$server_url" --profile "$work/bot" register bob 'correct horse battery' \
    --device-name 'Bob Phone' > "$work/bot-register.log" 2>&1 || fail "bot register: $(cat "$work/bot-register.log")"
}

# Takes screenshot $1 until its remote video area varies (frames take a moment
# to arrive after the page shows), and fails if it never does.
screenshot_video() {
  for try in 1 2 3 4 5; do
    screenshot "$1"
    python3 "$check" video "$shots/$1.png" && return 0
    [ "$try" = 5 ] || sleep 1
  done
  fail "no live remote video in $1"
}

wait_page() {
  local want=$1 now= deadline=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$deadline" ]; do
    now=$(page)
    [ "$now" = "$want" ] && return 0
    kill -0 "$app_pid" 2>/dev/null || fail "the app died waiting for page $want"
    sleep 0.1
  done
  fail "page is '$now', expected '$want'"
}

screenshot() {
  local file=$shots/$1.png
  rm -f "$file" "$file.regions"
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
    # A real call to the bot, which picks up after two seconds and confirms the emoji.
    python3 "$check" self-test > "$work/self-test.log" || fail "es-ui-check.py self-test: $(cat "$work/self-test.log")"
    start_server
    register_bot
    start_bot "$work/bot.log" answer --auto --after 2 --count 1 --confirm-sas --test-media
    start_app
    wait_page welcome
    action register "('$server_url', 'alice', 'correct horse battery', 'Test Laptop')"
    wait_page main
    action call "'bob'"
    wait_page outgoing
    screenshot outgoing
    wait_page call
    wait_bot_event "$work/bot.log" connected event connected

    # The emoji the app shows are the bot's.
    wait_state verification comparing
    bot_emoji=$(bot_events "$work/bot.log" sas emoji | sed -n 1p)
    [ -n "$bot_emoji" ] || fail "the bot showed no emoji"
    wait_state sas "$bot_emoji"
    echo "emoji: $bot_emoji"
    screenshot_video in-call

    # "They Match": the bot's device key goes into the app's trust store as verified.
    action confirm-sas
    wait_state verification verified
    wait_state sas ""
    wait_bot_event "$work/bot.log" sas state verified
    [ -n "$(python3 "$check" trusted "$EARSHOT_PROFILE/trust.db" bob)" ] || fail "bob is not verified in the trust store"
    screenshot_video in-call-verified

    # Mute reaches the call itself: the bot hears that our microphone stopped.
    action mute
    deadline=$((SECONDS + 20))
    until grep -F '"event":"peer_media"' "$work/bot.log" | grep -qF '"audio":false'; do
      [ "$SECONDS" -lt "$deadline" ] || fail "the bot was never told that the app muted"
      sleep 0.2
    done

    action hang-up
    wait_page main
    wait_bot_event "$work/bot.log" ended reason remote_hangup
    wait_bot_exit || fail "the bot failed"
    wait_state history "bob outgoing hangup verified"
    screenshot main-recents
    quit_app
    ;;

  call-lost)
    # The bot vanishes mid-call (SIGKILL: no hangup, no closed channel, and ICE does not
    # notice). The app hears nothing on the control channel for 20 s, ends the call and says why.
    start_server
    register_bot
    start_bot "$work/bot.log" answer --auto --count 1 --test-media --audio-only
    start_app
    wait_page welcome
    action register "('$server_url', 'alice', 'correct horse battery', 'Test Laptop')"
    wait_page main
    action call-audio "'bob'"
    wait_page call
    wait_bot_event "$work/bot.log" media kind audio
    kill -KILL "$bot_pid"
    wait "$bot_pid" 2>/dev/null || true
    bot_pid=
    lost_at=$SECONDS
    wait_state toast "Call failed: Lost the connection: nothing heard from the other side for 20 s" 45
    echo "the call ended as lost $((SECONDS - lost_at)) s after the bot was killed"
    wait_page main
    wait_state history "bob outgoing failed unverified"
    screenshot main-call-lost
    quit_app
    ;;

  incoming)
    # The bot calls the app: Accept connects; in a second call Decline ends the bot's call.
    start_server
    register_bot
    start_app
    wait_page welcome
    action register "('$server_url', 'alice', 'correct horse battery', 'Test Laptop')"
    wait_page main
    start_bot "$work/bot-call-1.log" call alice --test-media --duration 8
    wait_page incoming
    screenshot incoming
    action accept
    wait_page call
    wait_bot_event "$work/bot-call-1.log" connected event connected
    screenshot_video incoming-accepted
    # The bot hangs up 8 s after it connected.
    wait_page main
    wait_bot_event "$work/bot-call-1.log" ended reason hangup
    wait_bot_exit || fail "the bot failed its first call"
    wait_state history "bob incoming remote_hangup unverified"

    start_bot "$work/bot-call-2.log" call alice --test-media
    wait_page incoming
    action decline
    wait_page main
    wait_bot_event "$work/bot-call-2.log" ended reason declined
    wait_bot_exit || true
    wait_state history "bob incoming declined unverified bob incoming remote_hangup unverified"
    screenshot main-declined
    quit_app
    ;;

  *)
    fail "unknown test $test_name"
    ;;
esac

echo "PASS: $test_name"
