#!/usr/bin/env bash
# Installs what is missing, builds, and runs Earshot on this machine: a local signaling server
# (SQLite), a headless peer "echo-bot" (earshot-cli) that answers every call with a test
# pattern and a tone, and the desktop app against them. Sign up in the window, type echo-bot
# in the search field, call. Closing the window stops the bot and the server.
#
#   build-aux/run-earshot.sh            needs a display ($DISPLAY or $WAYLAND_DISPLAY)
#   build-aux/run-earshot.sh --xvfb     no display: the app runs in Xvfb, unseen (smoke test)
#   build-aux/run-earshot.sh --server-only
#                                       only the server, in the foreground (no app, no bot)
#
# Environment: EARSHOT_LISTEN (default 127.0.0.1:7878), EARSHOT_BUILD_DIR (default build),
# EARSHOT_DEV_DATA (default BUILD/dev-data: the server's database, the app's and the bot's
# profiles, logs), EARSHOT_TEST_MEDIA=1 to show the app a test pattern instead of the camera
# (the default when this machine has no camera).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mode=app
case ${1:-} in
  "") ;;
  --xvfb) mode=xvfb ;;
  --server-only) mode=server ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--xvfb | --server-only]" >&2; exit 2 ;;
esac

# Decide before building or starting anything.
if [ "$mode" = app ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cat >&2 <<'TXT'
run-earshot.sh: no display ($DISPLAY and $WAYLAND_DISPLAY are unset), so the app cannot open
a window. Nothing was started. Run it from a desktop session, or:
  build-aux/run-earshot.sh --xvfb          the app in a virtual display (you will not see it)
  build-aux/run-earshot.sh --server-only   only the signaling server
TXT
  exit 1
fi

build=${EARSHOT_BUILD_DIR:-$top/build}
bash build-aux/install-deps.sh
if [ -f "$build/build.ninja" ]; then meson setup --reconfigure "$build" >/dev/null; else meson setup "$build" >/dev/null; fi
meson compile -C "$build" >/dev/null

data=${EARSHOT_DEV_DATA:-$build/dev-data}
mkdir -p "$data"
listen=${EARSHOT_LISTEN:-127.0.0.1:7878}
url=http://$listen
server="$build/src/server/earshot-server"
cli="$build/src/cli/earshot-cli"
app="$build/src/app/earshot"

if [ "$mode" = server ]; then
  cat <<TXT
Earshot signaling server on $url, database $data/server.db. In another terminal:
  $cli --server $url --profile /tmp/es-a register alice secret --device-name desk
  $cli --profile /tmp/es-a answer --auto --test-media
TXT
  exec "$server" --listen "$listen" --database "$data/server.db"
fi

server_pid=
bot_pid=
cleanup() {
  [ -n "$bot_pid" ] && kill "$bot_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$server" --listen "$listen" --database "$data/server.db" > "$data/server.out" 2> "$data/server.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$data/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$data/server.log" >&2; echo "The server did not start (is $listen in use? set EARSHOT_LISTEN)." >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening on ' "$data/server.out" || { echo "The server did not start in 10 s." >&2; exit 1; }

# The bot: registered once, then logged in from its profile on every run.
bot_profile=$data/echo-bot
if ! "$cli" --profile "$bot_profile" whoami > /dev/null 2>&1; then
  "$cli" --server "$url" --profile "$bot_profile" register echo-bot echo-bot-password \
    --device-name "Echo Bot" > "$data/echo-bot-register.log" 2>&1 ||
    { cat "$data/echo-bot-register.log" >&2; echo "Cannot register echo-bot." >&2; exit 1; }
fi
# It answers after a second, sends a test pattern and a tone, and says the emoji match
# (a bot cannot read them out; you still confirm them in the app).
"$cli" --profile "$bot_profile" answer --auto --after 1 --test-media --confirm-sas \
  > "$data/echo-bot.log" 2>&1 &
bot_pid=$!

export EARSHOT_PROFILE=$data/app
export GSETTINGS_SCHEMA_DIR=$build/data
if [ -z "${EARSHOT_TEST_MEDIA:-}" ] && ! ls /dev/video* > /dev/null 2>&1; then
  export EARSHOT_TEST_MEDIA=1
fi
if [ "$url" != http://127.0.0.1:7878 ]; then
  gsettings set org.earshot.Earshot server-url "$url" 2>/dev/null || true
fi

cat <<TXT
Earshot: server $url (database $data/server.db), echo-bot answering, app profile $data/app.
Sign up in the window (the server is filled in), type echo-bot in the search field and call.
${EARSHOT_TEST_MEDIA:+No camera here: the app sends a test pattern. }Logs: $data/*.log. Close the window to stop.
TXT

if [ "$mode" = xvfb ]; then
  xvfb-run -a -s "-screen 0 1280x1024x24" "$app"
else
  "$app"
fi
