#!/usr/bin/env python3
"""es-net-probe.py: measure a link from inside network namespaces.

  es-net-probe.py ping HOST [--count N] [--interval S]
      ICMP echo over a raw socket (needs root; this machine has no ping(8)).
  es-net-probe.py udp-recv --port P [--idle S] [--timeout S] [--ready FILE]
      Receives the sender's datagrams until it has been idle for S seconds.
  es-net-probe.py udp-send HOST PORT [--kbit R] [--size B] [--seconds S]
      Sends B-byte datagrams at R kbit/s, paced on an absolute schedule.
  es-net-probe.py udp-punch PORT HOST PEER_PORT [--seconds S]
      Binds PORT and sends to HOST:PEER_PORT every 50 ms, counting what comes back: run it on
      both sides at once to see whether UDP hole punching gets through their NATs.

Each prints one JSON object on stdout. One-way delays use CLOCK_MONOTONIC stamped into the
datagram by the sender: namespaces share the clock, so sender and receiver must run on the same
machine (they do, in different network namespaces).
"""

import argparse
import json
import os
import socket
import statistics
import struct
import sys
import time

# seq, total, send time (ns)
HEADER = struct.Struct("!IIQ")


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values_ns):
    if not values_ns:
        return {}
    ms = [v / 1e6 for v in values_ns]
    return {
        "min_ms": round(min(ms), 3),
        "median_ms": round(statistics.median(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "stdev_ms": round(statistics.pstdev(ms), 3),
    }


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def cmd_ping(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    rtts = []
    target = socket.gethostbyname(args.host)
    for seq in range(args.count):
        payload = struct.pack("!Q", time.monotonic_ns()) + bytes(48)
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload
        sent = time.monotonic_ns()
        sock.sendto(packet, (target, 0))
        deadline = sent + int(args.wait * 1e9)
        while True:
            remaining = (deadline - time.monotonic_ns()) / 1e9
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                break
            now = time.monotonic_ns()
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if kind == 0 and rid == ident and rseq == seq and addr[0] == target:
                rtts.append(now - sent)
                if args.verbose:
                    print("reply seq=%d rtt=%.3f ms" % (seq, (now - sent) / 1e6), file=sys.stderr)
                break
        pause = sent + int(args.interval * 1e9) - time.monotonic_ns()
        if pause > 0 and seq + 1 < args.count:
            time.sleep(pause / 1e9)
    result = {"sent": args.count, "received": len(rtts),
              "loss_pct": round(100 * (args.count - len(rtts)) / args.count, 2)}
    result.update({"rtt_" + k: v for k, v in summary_ms(rtts).items()})
    print(json.dumps(result))
    return 0 if rtts else 1


def cmd_udp_recv(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((args.bind, args.port))
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    seen = set()
    delays = []
    total = 0
    reordered = 0
    duplicates = 0
    highest = -1
    first = last = None
    nbytes = 0
    start = time.monotonic()
    while True:
        timeout = args.idle if first is not None else args.timeout - (time.monotonic() - start)
        if timeout <= 0:
            break
        sock.settimeout(timeout)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        now = time.monotonic_ns()
        if len(data) < HEADER.size:
            continue
        seq, total, sent = HEADER.unpack_from(data)
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
        delays.append(now - sent)
        nbytes += len(data)
        first = first or now
        last = now
    result = {
        "expected": total,
        "received": len(seen),
        "lost": max(0, total - len(seen)),
        "loss_pct": round(100 * (total - len(seen)) / total, 2) if total else None,
        "reordered": reordered,
        "duplicates": duplicates,
        "kbit_s": round(nbytes * 8 / ((last - first) / 1e9) / 1000, 1)
        if first and last > first else None,
    }
    result.update({"owd_" + k: v for k, v in summary_ms(delays).items()})
    print(json.dumps(result))
    return 0 if seen else 1


def cmd_udp_send(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    size = max(args.size, HEADER.size)
    interval_ns = int(size * 8 / (args.kbit * 1000) * 1e9)
    total = max(1, int(args.seconds * 1e9 / interval_ns))
    padding = bytes(size - HEADER.size)
    start = time.monotonic_ns()
    late_max = 0
    for seq in range(total):
        due = start + seq * interval_ns
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
            now = time.monotonic_ns()
        late_max = max(late_max, now - due)
        sock.sendto(HEADER.pack(seq, total, now) + padding, (args.host, args.port))
    print(json.dumps({"sent": total, "size": size, "kbit_s": args.kbit,
                      "seconds": round((time.monotonic_ns() - start) / 1e9, 3),
                      "send_late_max_ms": round(late_max / 1e6, 3)}))
    return 0


def cmd_udp_punch(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", args.port))
    sock.setblocking(False)
    sent = received = 0
    sources = set()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        sock.sendto(b"punch", (args.host, args.peer_port))
        sent += 1
        pause = time.monotonic() + 0.05
        while time.monotonic() < pause:
            try:
                _, addr = sock.recvfrom(2048)
                received += 1
                sources.add("%s:%d" % addr)
            except BlockingIOError:
                time.sleep(0.005)
    print(json.dumps({"sent": sent, "received": received, "from": sorted(sources)}))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ping")
    p.add_argument("host")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--wait", type=float, default=2.0, help="seconds to wait for each reply")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_ping)

    p = sub.add_parser("udp-recv")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=float, default=1.5)
    p.add_argument("--timeout", type=float, default=30.0, help="give up without a packet")
    p.add_argument("--ready", help="file to write once the socket is bound")
    p.set_defaults(func=cmd_udp_recv)

    p = sub.add_parser("udp-send")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--kbit", type=float, default=3000)
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--seconds", type=float, default=5.0)
    p.set_defaults(func=cmd_udp_send)

    p = sub.add_parser("udp-punch")
    p.add_argument("port", type=int)
    p.add_argument("host")
    p.add_argument("peer_port", type=int)
    p.add_argument("--seconds", type=float, default=2.0)
    p.set_defaults(func=cmd_udp_punch)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
