#!/usr/bin/env bash
# Installs what is missing, builds, and starts a local Earshot signaling server on SQLite.
# The desktop app is not written yet; until it is, this prints how to use the headless peer
# (earshot-cli) against the server, and keeps the server in the foreground (Ctrl+C stops it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash build-aux/install-deps.sh
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
meson compile -C build >/dev/null

data=${EARSHOT_DEV_DATA:-$top/build/dev-data}
mkdir -p "$data"
listen=${EARSHOT_LISTEN:-127.0.0.1:7878}

cli="$top/build/src/cli/earshot-cli"
cat <<TXT
Earshot signaling server, database $data/server.db.
In another terminal, two devices of one user can talk through it:
  $cli --server http://$listen --profile /tmp/es-a register alice secret --device-name desk
  $cli --server http://$listen --profile /tmp/es-b login alice secret --device-name laptop
  $cli --profile /tmp/es-a whoami
  $cli --profile /tmp/es-a soak --to-device <laptop's device_id> --count 100 --expect 0
  $cli --profile /tmp/es-b log --received
TXT
exec "$top/build/src/server/earshot-server" --listen "$listen" --database "$data/server.db"
