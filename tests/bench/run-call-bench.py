#!/usr/bin/env python3
"""Call benchmarks (not tests): figures to read, never assertions.

  (a) pickup -> first decoded audio and video on both ends, p50/p90 over N calls, on loopback
      and across a 100 ms round-trip link between network namespaces (tests/net);
  (b) invite -> ringing;
  (c) CPU seconds per call-minute for VP8 and for H.264 at 640x480, 30 fps (both ends summed,
      and per end).

Usage (as root for the namespace part; builds nothing, point it at a build dir):
  tests/bench/run-call-bench.py [--build-dir build] [--calls 10] [--cpu-seconds 30]
                                [--skip-netns] [--skip-cpu]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETNS = os.path.join(TOP, "tests", "net", "netns-link.sh")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Proc:
    """A command whose JSON lines are collected with the time they arrived."""

    def __init__(self, argv, stderr_path):
        self.events = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(stderr_path, "a"),
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                e["_t"] = time.monotonic()
                with self.cond:
                    self.events.append(e)
                    self.cond.notify_all()

    def wait_for(self, name, timeout=60, **match):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                        return e
                if time.monotonic() > deadline:
                    return None
                self.cond.wait(0.2)

    def finish(self, timeout=60):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Setup:
    """Server plus two devices, either on loopback or across the namespace link."""

    def __init__(self, build, work, netns=None):
        self.build = build
        self.work = work
        self.netns = netns
        self.server_proc = None
        self.cli = os.path.join(build, "src", "cli", "earshot-cli")
        server = os.path.join(build, "src", "server", "earshot-server")
        listen = "10.99.0.2:7878" if netns else "127.0.0.1:0"
        argv = self.wrap("server", [server, "--listen", listen, "--database",
                                    os.path.join(work, "server.db"), "--password-hash", "min"])
        self.server_proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                            stderr=open(os.path.join(work, "server.log"), "a"),
                                            text=True)
        line = self.server_proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1]
        threading.Thread(target=lambda: [None for _ in self.server_proc.stdout], daemon=True).start()
        self.alice = os.path.join(work, "alice")
        self.bob = os.path.join(work, "bob")
        self.run("left", [self.cli, "--profile", self.alice, "--server", self.url,
                          "register", "alice", "pw", "--device-name", "Alice's desk"])
        self.run("right", [self.cli, "--profile", self.bob, "--server", self.url,
                           "register", "bob", "pw", "--device-name", "Bob's laptop"])

    def wrap(self, where, argv):
        if not self.netns:
            return argv
        return ["bash", NETNS, "exec", self.netns, where] + argv

    def run(self, where, argv):
        subprocess.run(self.wrap(where, argv), check=True, capture_output=True, timeout=60)

    def call(self, extra_caller, extra_callee, ring_s, duration):
        err = os.path.join(self.work, "peers.log")
        callee = Proc(self.wrap("right", [self.cli, "--profile", self.bob, "answer", "--auto",
                                          "--after", str(ring_s), "--test-media"] + extra_callee), err)
        time.sleep(0.5)
        caller = Proc(self.wrap("left", [self.cli, "--profile", self.alice, "call", "bob",
                                         "--test-media", "--duration", str(duration)] + extra_caller), err)
        return caller, callee

    def stop(self):
        if self.server_proc and self.server_proc.poll() is None:
            self.server_proc.terminate()
            self.server_proc.wait(timeout=10)


def time_to_media(setup, calls, label, extra=()):
    figures = {"caller_audio": [], "caller_video": [], "callee_audio": [], "callee_video": [],
               "invite_to_ringing": []}
    for i in range(calls):
        caller, callee = setup.call(list(extra), list(extra), ring_s=3, duration=2)
        dialing = caller.wait_for("dialing", 30)
        ringing = caller.wait_for("ringing", 30)
        if dialing and ringing:
            figures["invite_to_ringing"].append((ringing["_t"] - dialing["_t"]) * 1000)
        for who, proc in (("caller", caller), ("callee", callee)):
            for kind in ("audio", "video"):
                e = proc.wait_for("media", 30, kind=kind)
                if e is not None:
                    figures[f"{who}_{kind}"].append(e["ms_since_pickup"])
        caller.finish()
        callee.finish()
        print(f"  {label} call {i + 1}/{calls}: " +
              ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in figures.items() if v), flush=True)
    return figures


def cpu_per_minute(setup, codec, seconds):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    caller, callee = setup.call(["--codecs", codec], ["--codecs", codec], ring_s=0, duration=seconds)
    connected = caller.wait_for("connected", 60)
    caller.finish(seconds + 60)
    callee.finish(60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ended = caller.wait_for("ended", 1) or {}
    return {"codec": (connected or {}).get("codec"), "cpu_s_per_call_minute": cpu / seconds * 60,
            "cpu_s_per_end_minute": cpu / seconds * 60 / 2,
            "video_frames_decoded_caller": ended.get("video_frames_decoded")}


def report(label, figures):
    out = {}
    for k, v in figures.items():
        if v:
            out[k] = {"p50": round(percentile(v, 50), 1), "p90": round(percentile(v, 90), 1), "n": len(v)}
            print(f"  {label:10s} {k:18s} p50 {out[k]['p50']:7.1f} ms   p90 {out[k]['p90']:7.1f} ms   (n={len(v)})")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(TOP, "build"))
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--cpu-seconds", type=int, default=30)
    ap.add_argument("--skip-netns", action="store_true")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-loopback", action="store_true")
    ap.add_argument("--latency", type=int, help="jitterbuffer latency in ms for both peers")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    results = {}

    extra = ["--latency", str(args.latency)] if args.latency else []
    work = tempfile.mkdtemp(prefix="earshot-call-bench-")
    setup = Setup(build, work)
    try:
        if not args.skip_loopback:
            print("pickup -> first media, loopback:", flush=True)
            results["loopback"] = report("loopback", time_to_media(setup, args.calls, "loopback", extra))
        if not args.skip_cpu:
            for codec in ("VP8", "H264"):
                r = cpu_per_minute(setup, codec, args.cpu_seconds)
                results[f"cpu_{codec}"] = r
                print(f"  CPU {codec}: {r['cpu_s_per_call_minute']:.1f} CPU s per call-minute "
                      f"(both ends; {r['cpu_s_per_end_minute']:.1f} per end), negotiated {r['codec']}",
                      flush=True)
    finally:
        setup.stop()

    if not args.skip_netns and os.geteuid() == 0:
        subprocess.run(["bash", NETNS, "down", "bench"], capture_output=True)
        up = subprocess.run(["bash", NETNS, "up", "bench", "100"], capture_output=True, text=True,
                            env=dict(os.environ, EARSHOT_BUILD_DIR=build))
        if up.returncode != 0:
            print(f"netns link did not come up: {up.stderr}")
        else:
            work = tempfile.mkdtemp(prefix="earshot-call-bench-netns-")
            setup = Setup(build, work, netns="bench")
            try:
                print("pickup -> first media, 100 ms RTT link:", flush=True)
                results["rtt100"] = report("rtt100", time_to_media(setup, args.calls, "rtt100", extra))
            finally:
                setup.stop()
                subprocess.run(["bash", NETNS, "down", "bench"], capture_output=True)

    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
