#!/usr/bin/env python3
"""Torture test for queues that lose nothing.

Two devices of one user exchange COUNT messages each way through a proxy that cuts every
connection at random every 0.2-2 s, while the server and each client are SIGKILLed and started
again KILLS times each. At the end each side's received stream must equal the other's sent
stream exactly: same messages, same order, no loss, no duplicate.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from earshot_testlib import CLI, CuttingProxy, Server, cli, json_lines, log, tempdir

COUNT = int(os.environ.get("EARSHOT_TORTURE_COUNT", "10000"))
KILLS = int(os.environ.get("EARSHOT_TORTURE_KILLS", "5"))
DEADLINE = float(os.environ.get("EARSHOT_TORTURE_DEADLINE", "400"))


class Peer:
    def __init__(self, name, profile, server_url, to_device):
        self.name = name
        self.profile = profile
        self.args = [CLI, "--profile", profile, "--server", server_url, "soak",
                     "--to-device", to_device, "--count", str(COUNT), "--expect", str(COUNT),
                     "--heartbeat", "500"]
        self.proc = None
        self.kills = 0
        self.failures = 0
        self.done = False
        self.last = {}
        self.log = open(os.path.join(profile, "..", f"{name}.log"), "a")

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc):
        for event in json_lines_iter(proc.stdout):
            self.last = event
            if event.get("event") == "done":
                self.done = True

    def kill_and_restart(self, downtime):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.kills += 1
        time.sleep(downtime)
        self.done = False
        self.start()

    def finished(self):
        return self.proc.poll() == 0 and self.done


def json_lines_iter(stream):
    for line in stream:
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                pass


def stream(profile, which, peer):
    out = cli(profile, "log", f"--{which}").stdout
    return [(e["type"], e["body"].get("n")) for e in json_lines(out)
            if e["type"] == "data" and e["peer"] == peer]


def main():
    random.seed(os.environ.get("EARSHOT_TORTURE_SEED"))
    work = tempdir("earshot-torture-")
    server = Server(work).start()
    proxy = CuttingProxy(lambda: server.port)

    prof_a = os.path.join(work, "a")
    prof_b = os.path.join(work, "b")
    cli(prof_a, "register", "alice", "correct horse", "--device-name", "desk", server=proxy.url)
    cli(prof_b, "login", "alice", "correct horse", "--device-name", "laptop", server=proxy.url)
    dev_a = json_lines(cli(prof_a, "whoami").stdout)[0]["device_id"]
    dev_b = json_lines(cli(prof_b, "whoami").stdout)[0]["device_id"]
    log(f"devices {dev_a} and {dev_b}")

    a = Peer("a", prof_a, proxy.url, dev_b)
    b = Peer("b", prof_b, proxy.url, dev_a)
    a.start()
    b.start()

    stop = threading.Event()

    def cutter():
        while not stop.wait(random.uniform(0.2, 2.0)):
            proxy.cut_all()

    threading.Thread(target=cutter, daemon=True).start()

    # Spread the kills over the time the exchange is sure to take (the clients pace themselves
    # at 400 frames/s, so COUNT messages take at least COUNT/400 s).
    span = max(3.0, COUNT / 400.0 * 0.8)
    events = sorted([(random.uniform(0.5, span), "server") for _ in range(KILLS)] +
                    [(random.uniform(0.5, span), "a") for _ in range(KILLS)] +
                    [(random.uniform(0.5, span), "b") for _ in range(KILLS)])
    start = time.time()
    server_kills = 0
    for at, who in events:
        time.sleep(max(0.0, start + at - time.time()))
        downtime = random.uniform(0.05, 0.5)
        if who == "server":
            server.kill()
            server_kills += 1
            time.sleep(downtime)
            server.start()
        else:
            (a if who == "a" else b).kill_and_restart(downtime)
        log(f"{time.time() - start:6.2f}s killed and restarted {who}; a={a.last} b={b.last}")

    while not (a.finished() and b.finished()):
        if time.time() - start > DEADLINE:
            stop.set()
            log(f"deadline passed: a={a.last} b={b.last}")
            for p in (a, b):
                p.proc.kill()
            server.kill()
            return 1
        for p in (a, b):
            if p.proc.poll() not in (None, 0):
                log(f"{p.name} exited with {p.proc.returncode}; see {p.log.name}")
                p.failures += 1
                if p.failures > 3:
                    stop.set()
                    server.kill()
                    return 1
                p.start()
        time.sleep(0.2)

    elapsed = time.time() - start
    stop.set()
    proxy.stop()
    server.stop()

    sent_a, recv_b = stream(prof_a, "sent", dev_b), stream(prof_b, "received", dev_a)
    sent_b, recv_a = stream(prof_b, "sent", dev_a), stream(prof_a, "received", dev_b)
    expected = [("data", n) for n in range(1, COUNT + 1)]

    print(f"# a->b: sent {len(sent_a)}, received {len(recv_b)}; "
          f"b->a: sent {len(sent_b)}, received {len(recv_a)}")
    print(f"# {proxy.cuts} connection cuts, server killed {server_kills} times, "
          f"a {a.kills} times, b {b.kills} times, {elapsed:.1f} s")

    ok = True
    for label, sent, received in (("a->b", sent_a, recv_b), ("b->a", sent_b, recv_a)):
        if sent != expected:
            print(f"# {label}: the sent stream is not 1..{COUNT}")
            ok = False
        if received != sent:
            missing = len(set(sent) - set(received))
            dups = len(received) - len(set(received))
            print(f"# {label}: received differs from sent: {missing} missing, {dups} duplicates")
            ok = False
    if server_kills < KILLS or a.kills < KILLS or b.kills < KILLS:
        print("# not every planned kill happened")
        ok = False

    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"# kept {work} for a look")
    print("1..1")
    print(("ok" if ok else "not ok") + " 1 torture: streams equal")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
