#!/usr/bin/env bash
# Installs every Debian 12 package that Earshot's build, tests, benchmarks and demo need.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev gettext
  libglib2.0-dev libjson-glib-dev libsoup-3.0-dev libsodium-dev libsqlite3-dev
  libgtk-4-dev libadwaita-1-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  # media at run time
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice gstreamer1.0-tools
  # data validation
  appstream desktop-file-utils libglib2.0-bin flatpak-builder
  # tests: display, session bus, fonts, network namespaces, TURN, scripts
  xvfb xauth dbus dbus-x11 fonts-noto-color-emoji fonts-cantarell
  iproute2 iptables nftables coturn python3 procps sqlite3
  # a test peer that stops answering shows its threads (earshot_testlib.py)
  gdb
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing ${#missing[@]} Debian packages: ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
