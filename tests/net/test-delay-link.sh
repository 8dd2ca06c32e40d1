#!/bin/bash
# test-delay-link.sh: proves the namespace link of netns-link.sh and es-delay-link (TAP).
#
# Brings up a 100 ms RTT link, measures ICMP RTT, sends 3 Mbit/s of UDP across it for 5 s and
# checks the one-way delay and loss, then checks the loss and jitter settings, the NAT variants,
# and that `down` leaves nothing behind, even after the forwarder was killed. Figures are
# printed as TAP comments. Skips (1..0) unless root with /dev/net/tun and python3.
#
# Run: sudo tests/net/test-delay-link.sh   (or `meson test --suite net` as root)

set -uo pipefail
# The conditions given to ok() are evaluated there, so they are single-quoted on purpose.
# shellcheck disable=SC2016

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
link=$here/netns-link.sh
probe=$here/es-net-probe.py
name=tap$$
tmp=$(mktemp -d)

skip() {
  echo "1..0 # SKIP $*"
  rm -rf "$tmp"
  exit 0
}

[[ $(id -u) -eq 0 ]] || skip "needs root"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
command -v python3 >/dev/null || skip "no python3"
command -v ip >/dev/null || skip "no iproute2"
ip netns add "es-$name-probe" 2>/dev/null || skip "cannot create network namespaces"
ip netns del "es-$name-probe"

cleanup() {
  "$link" down "$name" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
ok() { # COND DESCRIPTION
  n=$((n + 1))
  if eval "$1"; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=$((failed + 1))
  fi
}

# jget FILE KEY: one field of the JSON object in FILE ("" if missing).
jget() {
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' \
    "$1" "$2" 2>/dev/null
}

# cmp A OP B: floating-point comparison.
cmp() {
  [[ -n $1 && -n $3 ]] && awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"
}

run() { # ROLE CMD...
  "$link" exec "$name" "$@"
}

# udp_test OUT KBIT SIZE SECONDS: receiver on the right, sender on the left.
udp_test() {
  rm -f "$tmp/ready"
  run right python3 "$probe" udp-recv --port 5000 --ready "$tmp/ready" >"$1" &
  local recv=$!
  for _ in $(seq 50); do [[ -f $tmp/ready ]] && break; sleep 0.1; done
  run left python3 "$probe" udp-send 10.99.2.2 5000 --kbit "$2" --size "$3" --seconds "$4" >"$1.send"
  wait $recv
}

echo "1..20"

# 100 ms RTT, no loss, no jitter.
"$link" up "$name" 100 >"$tmp/up.log" 2>&1
st=$?
ok '[[ $st -eq 0 ]]' "up $name 100"
[[ $failed -eq 0 ]] || { sed 's/^/# /' "$tmp/up.log"; exit 1; }

run left python3 "$probe" ping 10.99.2.2 --count 30 --interval 0.1 >"$tmp/ping.json"
rtt=$(jget "$tmp/ping.json" rtt_median_ms)
echo "# ping left->right: $(cat "$tmp/ping.json")"
ok 'cmp "$rtt" ">=" 95 && cmp "$rtt" "<=" 105' "ping RTT median $rtt ms is 100 ± 5 ms"
ok '[[ $(jget "$tmp/ping.json" received) == 30 ]]' "no ping lost"

run left python3 "$probe" ping 10.99.0.2 --count 10 --interval 0.02 >"$tmp/ping-srv.json"
srv_rtt=$(jget "$tmp/ping-srv.json" rtt_median_ms)
run right python3 "$probe" ping 10.99.0.2 --count 10 --interval 0.02 >"$tmp/ping-srv2.json"
srv_rtt2=$(jget "$tmp/ping-srv2.json" rtt_median_ms)
ok 'cmp "$srv_rtt" "<" 5 && cmp "$srv_rtt2" "<" 5' \
  "server leg is not delayed (left $srv_rtt ms, right $srv_rtt2 ms)"

udp_test "$tmp/udp.json" 3000 1200 5
echo "# udp 3 Mbit/s 5 s left->right: $(cat "$tmp/udp.json")"
echo "# sender: $(cat "$tmp/udp.json.send")"
ok '[[ $(jget "$tmp/udp.json" lost) == 0 && $(jget "$tmp/udp.json" expected) -gt 1500 ]]' \
  "3 Mbit/s: no loss ($(jget "$tmp/udp.json" received)/$(jget "$tmp/udp.json" expected))"
owd=$(jget "$tmp/udp.json" owd_median_ms)
extra=$(awk -v o="$owd" 'BEGIN { printf "%.3f", o - 50 }')
ok 'cmp "$extra" "<" 5 && cmp "$extra" ">" -1' "3 Mbit/s: median one-way delay $owd ms ($extra ms over 50)"
ok '[[ $(jget "$tmp/udp.json" reordered) == 0 ]]' "3 Mbit/s: no reordering"
stats=$("$link" stats "$name" 2>&1)
echo "$stats" | sed 's/^/# /'
ok '[[ $stats == *"a->b rx"* ]]' "forwarder alive and reporting"

"$link" down "$name" >/dev/null 2>&1
st=$?
ok '[[ $st -eq 0 && -z $(ip netns list | grep "es-$name-") && ! -e /run/earshot-net/$name ]]' \
  "down removes namespaces and state"
"$link" down "$name" >/dev/null 2>&1
st=$?
ok '[[ $st -eq 0 ]]' "down is idempotent"

# Loss: 10 % of 2500 small datagrams, ±3 % (five standard deviations).
"$link" up "$name" 100 10 >"$tmp/up.log" 2>&1
st=$?
ok '[[ $st -eq 0 ]]' "up $name 100 10"
udp_test "$tmp/loss.json" 1000 200 4
echo "# udp with 10% loss: $(cat "$tmp/loss.json")"
loss=$(jget "$tmp/loss.json" loss_pct)
ok 'cmp "$loss" ">=" 7 && cmp "$loss" "<=" 13' "loss $loss % is 10 ± 3 %"

# A crash: the forwarder dies and the state directory is lost; down NAME still cleans up.
kill -KILL "$(cat "/run/earshot-net/$name/forwarder.pid")"
rm -rf "/run/earshot-net/$name"
"$link" down "$name" >/dev/null 2>&1
ok '[[ -z $(ip netns list | grep "es-$name-") ]]' "down after a crash removes the namespaces"

# Jitter ±10 ms, order kept: no delay below 40 ms, 95 % below 61 ms (the receiver's own
# scheduling adds a few ms to the odd datagram on a loaded machine), nothing reordered.
"$link" up "$name" 100 0 10 >"$tmp/up.log" 2>&1
udp_test "$tmp/jitter.json" 500 200 3
echo "# udp with ±10 ms jitter: $(cat "$tmp/jitter.json")"
ok 'cmp "$(jget "$tmp/jitter.json" owd_min_ms)" ">=" 39.9 &&
    cmp "$(jget "$tmp/jitter.json" owd_p95_ms)" "<=" 61 &&
    cmp "$(jget "$tmp/jitter.json" owd_stdev_ms)" ">=" 2' \
  "jitter: delays spread over 40..60 ms (stdev $(jget "$tmp/jitter.json" owd_stdev_ms) ms)"
ok '[[ $(jget "$tmp/jitter.json" reordered) == 0 && $(jget "$tmp/jitter.json" lost) == 0 ]]' \
  "jitter: order kept, nothing lost"
"$link" down "$name" >/dev/null 2>&1

# NAT: cone on both sides lets UDP hole punching through (MASQUERADE keeps ports), symmetric
# (--random-fully) on one side does not; both still reach the server.
punch() {
  run left python3 "$probe" udp-punch 40000 10.99.2.2 40000 >"$tmp/punch-l.json" &
  run right python3 "$probe" udp-punch 40000 10.99.1.2 40000 >"$tmp/punch-r.json"
  wait
  echo "# punch: left $(cat "$tmp/punch-l.json") right $(cat "$tmp/punch-r.json")"
}
"$link" up "$name" 100 --nat cone >"$tmp/up.log" 2>&1
st=$?
ok '[[ $st -eq 0 && $("$link" addr "$name" left) == 192.168.1.2 ]]' "up --nat cone"
run left python3 "$probe" ping 10.99.0.2 --count 3 --interval 0.02 >"$tmp/nat-srv.json"
ok '[[ $(jget "$tmp/nat-srv.json" received) == 3 ]]' "behind NAT: server reachable"
punch
ok '[[ $(jget "$tmp/punch-l.json" received) -gt 0 && $(jget "$tmp/punch-r.json" received) -gt 0 ]]' \
  "cone/cone: hole punching works"
"$link" down "$name" >/dev/null 2>&1
"$link" up "$name" 100 --nat-left cone --nat-right symmetric >"$tmp/up.log" 2>&1
punch
ok '[[ $(jget "$tmp/punch-l.json" received) == 0 && $(jget "$tmp/punch-r.json" received) == 0 ]]' \
  "cone/symmetric: hole punching fails"
run right python3 "$probe" ping 10.99.1.2 --count 2 --interval 0.02 --wait 0.3 >"$tmp/nat-in.json"
ok '[[ $(jget "$tmp/nat-in.json" received) == 0 ]]' "NAT router drops unsolicited traffic on wan"
"$link" down "$name" >/dev/null 2>&1

[[ $n -eq 20 ]] || echo "# planned 20 tests, ran $n"
[[ $failed -eq 0 && $n -eq 20 ]]
