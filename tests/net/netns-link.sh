#!/bin/bash
# netns-link.sh: two hosts in network namespaces joined by a delayed, lossy link, plus a server.
#
# Usage:
#   netns-link.sh up NAME RTT_MS [LOSS_PCT] [JITTER_MS] [options]
#       options: --rate KBIT          link rate each way (default unlimited)
#                --reorder            let jitter reorder packets (default: order is kept)
#                --nat cone|symmetric put both hosts behind a NAT router
#                --nat-left KIND, --nat-right KIND   the same for one side
#                --no-realtime        do not run the forwarder with SCHED_FIFO
#   netns-link.sh down [NAME]          remove NAME (all links this script made, if no NAME)
#   netns-link.sh exec [NAME] left|right|server|link|natl|natr CMD...
#   netns-link.sh addr [NAME] left|right|server     print the host's address
#   netns-link.sh stats [NAME]         the forwarder's counters and lateness (SIGUSR1)
#   netns-link.sh status               list the links that are up
#
# NAME may be left out of exec/addr/stats when exactly one link is up.
#
# Topology (namespaces es-NAME-*, all addresses private to them; no address outside is touched):
#
#   left 10.99.1.2 --- link 10.99.1.1 [tl]==es-delay-link==[tr] 10.99.2.1 --- right 10.99.2.2
#                                   10.99.0.1
#                                       |
#                                 server 10.99.0.2
#
# "link" is a router. Traffic from the left leg to 10.99.2.0/24 is policy-routed into TUN tl;
# es-delay-link holds it for RTT/2 (± jitter, maybe dropping it) and writes it to TUN tr, where
# the router forwards it to the right host; the other way likewise. Traffic between either host
# and the server leg is routed directly, without delay or loss: signaling there, media across.
#
# With --nat KIND, a NAT router namespace (natl/natr) takes the host's public address
# 10.99.1.2/10.99.2.2 on its interface "wan", and the host sits behind it on 192.168.1.2 /
# 192.168.2.2 ("lan"). cone = iptables MASQUERADE (port-restricted cone), symmetric =
# MASQUERADE --random-fully; both routers drop NEW connections arriving on wan.
#
# The forwarder is $ES_DELAY_LINK, else es-delay-link in $EARSHOT_BUILD_DIR/tests/net or
# <source>/build/tests/net, else it is compiled with cc into the state directory.
# State (pid, log) lives in /run/earshot-net/NAME. Needs root, /dev/net/tun, iproute2, iptables.

set -Eeuo pipefail

state_root=/run/earshot-net
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
roles=(left right server link natl natr)

die() {
  echo "netns-link.sh: $*" >&2
  exit 1
}

ns_of() { # NAME ROLE
  case $2 in
    server) echo "es-$1-srv" ;;
    *) echo "es-$1-$2" ;;
  esac
}

ns_exists() {
  [[ -e /run/netns/$1 ]]
}

is_role() {
  local r
  for r in "${roles[@]}"; do [[ $1 == "$r" ]] && return 0; done
  return 1
}

only_link() {
  local names=()
  if [[ -d $state_root ]]; then
    mapfile -t names < <(find "$state_root" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
  fi
  [[ ${#names[@]} -eq 1 ]] || die "give NAME: ${#names[@]} links are up (${names[*]:-none})"
  echo "${names[0]}"
}

find_forwarder() {
  local candidate
  for candidate in "${ES_DELAY_LINK:-}" \
    "${EARSHOT_BUILD_DIR:+$EARSHOT_BUILD_DIR/tests/net/es-delay-link}" \
    "$source_dir/build/tests/net/es-delay-link"; do
    if [[ -n $candidate && -x $candidate ]]; then
      echo "$candidate"
      return
    fi
  done
  mkdir -p "$state_root"
  candidate=$state_root/es-delay-link
  if [[ ! -x $candidate || $source_dir/tests/net/es-delay-link.c -nt $candidate ]]; then
    # shellcheck disable=SC2046
    cc -O2 -o "$candidate" "$source_dir/tests/net/es-delay-link.c" \
      $(pkg-config --cflags --libs glib-2.0) >&2 || die "cannot build es-delay-link"
  fi
  echo "$candidate"
}

nsx() { # NS CMD...
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

new_ns() {
  ip netns add "$1"
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip -n "$1" link set lo up
}

# Sets up the NAT router NS between the link router and the host HOST_NS.
make_nat() { # NAME SIDE(1|2) KIND NAT_NS HOST_NS
  local nat_ns=$4 host_ns=$5 side=$2 random=()
  [[ $3 == symmetric ]] && random=(--random-fully)
  [[ $3 == cone || $3 == symmetric ]] || die "NAT kind is cone or symmetric, not '$3'"
  new_ns "$nat_ns"
  nsx "$nat_ns" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$nat_ns" link add lan type veth peer name eth0 netns "$host_ns"
  ip -n "$nat_ns" addr add "192.168.$side.1/24" dev lan
  ip -n "$nat_ns" link set lan up
  ip -n "$host_ns" addr add "192.168.$side.2/24" dev eth0
  ip -n "$host_ns" link set eth0 up
  ip -n "$host_ns" route add default via "192.168.$side.1"
  nsx "$nat_ns" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE "${random[@]}"
  nsx "$nat_ns" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP
  nsx "$nat_ns" iptables -A FORWARD -i wan -m conntrack --ctstate NEW -j DROP
}

cmd_up() {
  local name=${1:-} rtt=${2:-} loss=0 jitter=0 rate=0 reorder=() realtime=(--realtime)
  local nat_left=none nat_right=none
  [[ -n $name && -n $rtt ]] || die "usage: up NAME RTT_MS [LOSS_PCT] [JITTER_MS] [options]"
  shift 2
  [[ $# -gt 0 && $1 != --* ]] && { loss=$1; shift; }
  [[ $# -gt 0 && $1 != --* ]] && { jitter=$1; shift; }
  while [[ $# -gt 0 ]]; do
    case $1 in
      --rate) rate=$2; shift 2 ;;
      --reorder) reorder=(--reorder); shift ;;
      --nat) nat_left=$2; nat_right=$2; shift 2 ;;
      --nat-left) nat_left=$2; shift 2 ;;
      --nat-right) nat_right=$2; shift 2 ;;
      --no-realtime) realtime=(); shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  [[ $name =~ ^[a-z0-9]{1,16}$ ]] || die "NAME is 1 to 16 of a-z0-9"
  [[ $(id -u) -eq 0 ]] || die "needs root"
  [[ -c /dev/net/tun ]] || die "no /dev/net/tun"
  [[ ! -d $state_root/$name ]] || die "link $name is already up (down $name first)"
  for r in "${roles[@]}"; do
    ! ns_exists "$(ns_of "$name" "$r")" ||
      die "namespace $(ns_of "$name" "$r") exists (down $name first)"
  done

  local bin
  bin=$(find_forwarder)
  local one_way
  one_way=$(awk -v r="$rtt" 'BEGIN { printf "%.3f", r / 2 }')

  mkdir -p "$state_root/$name"
  trap 'echo "netns-link.sh: up failed, removing $name" >&2; cmd_down "$name"' ERR

  local link left right srv
  link=$(ns_of "$name" link)
  left=$(ns_of "$name" left)
  right=$(ns_of "$name" right)
  srv=$(ns_of "$name" server)
  new_ns "$link"
  new_ns "$left"
  new_ns "$right"
  new_ns "$srv"
  nsx "$link" sysctl -qw net.ipv4.ip_forward=1

  # Public side of each host: the host itself, or its NAT router.
  local side pub_ns nat host dev
  for side in 1 2; do
    if [[ $side == 1 ]]; then host=$left nat=$nat_left dev=vl; else host=$right nat=$nat_right dev=vr; fi
    pub_ns=$host
    if [[ $nat != none ]]; then
      pub_ns=$(ns_of "$name" "$([[ $side == 1 ]] && echo natl || echo natr)")
      make_nat "$name" $side "$nat" "$pub_ns" "$host"
      ip -n "$link" link add $dev type veth peer name wan netns "$pub_ns"
      ip -n "$pub_ns" addr add "10.99.$side.2/24" dev wan
      ip -n "$pub_ns" link set wan up
    else
      ip -n "$link" link add $dev type veth peer name eth0 netns "$pub_ns"
      ip -n "$pub_ns" addr add "10.99.$side.2/24" dev eth0
      ip -n "$pub_ns" link set eth0 up
    fi
    ip -n "$pub_ns" route add default via "10.99.$side.1"
    ip -n "$link" addr add "10.99.$side.1/24" dev $dev
    ip -n "$link" link set $dev up
  done

  ip -n "$link" link add vs type veth peer name eth0 netns "$srv"
  ip -n "$link" addr add 10.99.0.1/24 dev vs
  ip -n "$link" link set vs up
  ip -n "$srv" addr add 10.99.0.2/24 dev eth0
  ip -n "$srv" link set eth0 up
  ip -n "$srv" route add default via 10.99.0.1

  # The TUN pair, and policy routes that send host-to-host traffic into it.
  ip -n "$link" tuntap add dev tl mode tun
  ip -n "$link" tuntap add dev tr mode tun
  ip -n "$link" link set tl up
  ip -n "$link" link set tr up
  nsx "$link" sysctl -qw net.ipv4.conf.tl.rp_filter=0 net.ipv4.conf.tr.rp_filter=0
  ip -n "$link" route add default dev tl table 101
  ip -n "$link" route add default dev tr table 102
  ip -n "$link" rule add iif vl to 10.99.2.0/24 lookup 101 pref 1000
  ip -n "$link" rule add iif vr to 10.99.1.0/24 lookup 102 pref 1001

  # ip netns exec and setsid both exec, so $! is the forwarder itself.
  ip netns exec "$link" setsid "$bin" --tun-a tl --tun-b tr --delay "$one_way" \
    --jitter "$jitter" --loss "$loss" --rate "$rate" "${reorder[@]}" "${realtime[@]}" \
    </dev/null >"$state_root/$name/forwarder.log" 2>&1 &
  echo $! >"$state_root/$name/forwarder.pid"
  printf 'rtt=%s loss=%s jitter=%s rate=%s nat_left=%s nat_right=%s\n' \
    "$rtt" "$loss" "$jitter" "$rate" "$nat_left" "$nat_right" >"$state_root/$name/config"

  # A TUN device has carrier once a process has attached to it.
  for _ in $(seq 50); do
    if ip -n "$link" link show tr | grep -q LOWER_UP && ip -n "$link" link show tl | grep -q LOWER_UP; then
      trap - ERR
      echo "netns-link.sh: $name up: RTT $rtt ms, loss $loss%, jitter ±$jitter ms, rate $([[ $rate == 0 ]] && echo unlimited || echo "$rate kbit/s")"
      return 0
    fi
    kill -0 "$(cat "$state_root/$name/forwarder.pid")" 2>/dev/null || break
    sleep 0.1
  done
  cat "$state_root/$name/forwarder.log" >&2
  false
}

kill_ns_pids() { # NS...
  local ns pids=()
  for ns in "$@"; do
    ns_exists "$ns" || continue
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 30); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

cmd_down() {
  local names=() name r nss ns pid
  if [[ $# -gt 0 ]]; then
    names=("$1")
  elif [[ -d $state_root ]]; then
    mapfile -t names < <(find "$state_root" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
  fi
  for name in "${names[@]}"; do
    nss=()
    for r in "${roles[@]}"; do nss+=("$(ns_of "$name" "$r")"); done
    # The forwarder first (its pid file survives a crash of this script), then whatever else
    # still runs in these namespaces, then the namespaces, which takes their devices along.
    if [[ -f $state_root/$name/forwarder.pid ]]; then
      pid=$(cat "$state_root/$name/forwarder.pid")
      if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q es-delay-link; then
        kill -TERM "$pid" 2>/dev/null || true
      fi
    fi
    kill_ns_pids "${nss[@]}"
    for ns in "${nss[@]}"; do
      if ns_exists "$ns"; then
        ip netns del "$ns"
      fi
    done
    rm -rf "${state_root:?}/$name"
  done
  # The last link takes the state directory along (and the forwarder compiled into it).
  if [[ -d $state_root ]] && [[ -z $(find "$state_root" -mindepth 1 -maxdepth 1 -type d) ]]; then
    rm -rf "$state_root"
  fi
  return 0
}

cmd_exec() {
  local name
  if is_role "${1:-}"; then name=$(only_link); else name=${1:-}; shift; fi
  is_role "${1:-}" || die "usage: exec [NAME] left|right|server|link|natl|natr CMD..."
  local ns
  ns=$(ns_of "$name" "$1")
  shift
  [[ $# -gt 0 ]] || die "exec: no command"
  exec ip netns exec "$ns" "$@"
}

cmd_addr() {
  local name
  if is_role "${1:-}"; then name=$(only_link); else name=${1:-}; shift; fi
  [[ -d $state_root/$name ]] || die "link $name is not up"
  case ${1:-} in
    left) grep -q 'nat_left=none' "$state_root/$name/config" && echo 10.99.1.2 || echo 192.168.1.2 ;;
    right) grep -q 'nat_right=none' "$state_root/$name/config" && echo 10.99.2.2 || echo 192.168.2.2 ;;
    server) echo 10.99.0.2 ;;
    *) die "usage: addr [NAME] left|right|server" ;;
  esac
}

cmd_stats() {
  local name=${1:-}
  [[ -n $name ]] || name=$(only_link)
  local pid log=$state_root/$name/forwarder.log
  pid=$(cat "$state_root/$name/forwarder.pid")
  local lines
  lines=$(wc -l <"$log")
  kill -USR1 "$pid"
  for _ in $(seq 20); do
    [[ $(wc -l <"$log") -ge $((lines + 2)) ]] && break
    sleep 0.05
  done
  tail -n 2 "$log"
}

cmd_status() {
  local name
  [[ -d $state_root ]] || return 0
  find "$state_root" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | while read -r name; do
    echo "$name: $(cat "$state_root/$name/config" 2>/dev/null)"
  done
}

cmd=${1:-}
shift || true
case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  exec) cmd_exec "$@" ;;
  addr) cmd_addr "$@" ;;
  stats) cmd_stats "$@" ;;
  status) cmd_status ;;
  *) sed -n '2,/^# State/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
