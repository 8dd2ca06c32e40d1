#!/usr/bin/env python3
"""Emoji verification end to end (DESIGN.md §4): real server, real earshot-cli peers.

(a) an ordinary call shows the same 5 emoji on both sides; (b) key continuity: confirmed once,
verified at once next time, and a replaced identity key is reported as key_changed; (c) the
identity secret never reaches stdout or stderr, even with G_MESSAGES_DEBUG=all, and
identity.key is 0600; (d) a man in the middle (test-only earshot-server-mitm and es-mitm) that
bridges the call so that it works gets different emoji on the two sides in 20 of 20 calls, and
the two cheaper attacks (rewritten SDP fingerprint, commitment to another certificate) end the
call with a clear security reason.
"""

import base64
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import earshot_testlib as testlib  # noqa: E402
from earshot_testlib import Cases, Peer, Server, cli, json_lines, log, tempdir  # noqa: E402

MITM_SERVER = os.path.join(testlib.BUILD_DIR, "tests", "integration", "earshot-server-mitm")
MITM = os.path.join(testlib.BUILD_DIR, "tests", "integration", "es-mitm")
MITM_RUNS = int(os.environ.get("EARSHOT_MITM_RUNS", "20"))
MEDIA = ["--test-media", "--audio-only"]
suite = Cases()
check = suite.check


class World:
    def __init__(self, work, server):
        self.work = work
        self.server = server
        self.device_ids = {}
        self.running = []

    def device(self, name, user):
        profile = os.path.join(self.work, name)
        cli(profile, "register", user, "pw-" + user, "--device-name", name, server=self.server.url)
        self.device_ids[name] = json_lines(cli(profile, "whoami").stdout)[0]["device_id"]
        return profile

    def peer(self, name, *args):
        p = Peer(os.path.join(self.work, name), *args, name=name)
        self.running.append(p)
        return p

    def settle(self):
        for p in self.running:
            p.kill()
        self.running = []


def one_call(w, caller, callee, caller_args=(), callee_args=(), duration="2"):
    """A call from CALLER to CALLEE's user; returns both peers after both exited."""
    b = w.peer(callee, "answer", "--auto", *MEDIA, *callee_args)
    time.sleep(0.3)
    a = w.peer(caller, "call", w.users[callee], *MEDIA, "--duration", duration, *caller_args)
    a.wait_exit(60)
    b.wait_exit(30)
    return a, b


def sas_events(p):
    return p.all("sas")


def trust_list(profile):
    return json_lines(cli(profile, "trust", "list").stdout)


def main():
    work = tempdir("earshot-verify-")
    server = Server(work).start()
    w = World(work, server)
    w.users = {"alice": "alice", "bob": "bob"}
    alice = w.device("alice", "alice")
    bob = w.device("bob", "bob")

    def ordinary_call():
        a, b = one_call(w, "alice", "bob")
        sa, sb = sas_events(a), sas_events(b)
        assert sa and sb, (sa, sb)
        assert sa[0]["state"] == "comparing" and sb[0]["state"] == "comparing", (sa, sb)
        assert sa[0]["indices"] == sb[0]["indices"], (sa[0], sb[0])
        assert sa[0]["emoji"] == sb[0]["emoji"] and len(sa[0]["emoji"]) == 5, (sa[0], sb[0])
        assert all(0 <= i < 64 for i in sa[0]["indices"]), sa[0]
        log(f"both read: {' '.join(sa[0]['emoji'])}")
        # Each side's peer key is the key the other side's trust store holds for it.
        ta, tb = trust_list(alice), trust_list(bob)
        assert [k["key"] for k in ta] == [sa[0]["peer_key"]], (ta, sa[0])
        assert [k["key"] for k in tb] == [sb[0]["peer_key"]], (tb, sb[0])
        assert ta[0]["device_id"] == w.device_ids["bob"] and ta[0]["user"] == "bob", ta
        assert not ta[0]["verified"] and not tb[0]["verified"], (ta, tb)
        assert a.all("ended")[0]["reason"] == "hangup", a.all("ended")
        assert b.all("ended")[0]["audio_buffers_decoded"] > 0, b.all("ended")

    def continuity():
        a, b = one_call(w, "alice", "bob", ["--confirm-sas"], ["--confirm-sas"])
        for p in (a, b):
            states = [e["state"] for e in sas_events(p)]
            assert states == ["comparing", "verified"], (p.name, states)
        assert trust_list(alice)[0]["verified"] and trust_list(bob)[0]["verified"]

        a, b = one_call(w, "alice", "bob")
        for p in (a, b):
            states = [e["state"] for e in sas_events(p)]
            assert states == ["verified"], (p.name, states)
        assert sas_events(a)[0]["indices"] == sas_events(b)[0]["indices"]

        old_key = trust_list(alice)[0]["key"]
        os.remove(os.path.join(bob, "identity.key"))  # a new one is made on the next call
        a, b = one_call(w, "alice", "bob")
        states = [e["state"] for e in sas_events(a)]
        assert states == ["key_changed"], states
        assert sas_events(a)[0]["peer_key"] != old_key
        assert [e["state"] for e in sas_events(b)] == ["verified"], sas_events(b)
        assert sas_events(a)[0]["indices"] == sas_events(b)[0]["indices"]
        # The verified old key stays stored until the users compare again: the warning repeats.
        entry = trust_list(alice)[0]
        assert entry["key"] == old_key and entry["verified"], entry
        log(f"bob's key {old_key} → {sas_events(a)[0]['peer_key']}: alice sees key_changed")

    def secret_never_printed():
        env = dict(os.environ, G_MESSAGES_DEBUG="all")
        outs = {}
        procs = {}
        for name, args in (("bob", ["answer", "--auto"]),
                           ("alice", ["call", "bob", "--duration", "2", "--confirm-sas"])):
            profile = os.path.join(work, name)
            outs[name] = (os.path.join(work, f"{name}.debug.out"),
                          os.path.join(work, f"{name}.debug.err"))
            procs[name] = subprocess.Popen([testlib.CLI, "--profile", profile, *args, *MEDIA],
                                           stdout=open(outs[name][0], "wb"),
                                           stderr=open(outs[name][1], "wb"), env=env)
            time.sleep(0.3)
        assert procs["alice"].wait(60) == 0
        assert procs["bob"].wait(30) == 0
        for name in ("alice", "bob"):
            path = os.path.join(work, name, "identity.key")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode == 0o600, (path, oct(mode))
            with open(path, "rb") as f:
                text = f.read()
            lines = text.split(b"\n")
            assert lines[0] == b"earshot-identity-v1", lines[0]
            seed = base64.b64decode(lines[1])
            assert len(seed) == 32
            b64 = base64.b64encode(seed)
            url = base64.urlsafe_b64encode(seed)
            needles = {
                "raw": seed,
                "raw half 1": seed[:16],
                "raw half 2": seed[16:],
                "hex": seed.hex().encode(),
                "HEX": seed.hex().upper().encode(),
                "hex half 1": seed[:16].hex().encode(),
                "hex half 2": seed[16:].hex().encode(),
                "HEX:colon": ":".join(f"{x:02X}" for x in seed[:16]).encode(),
                "hex:colon": ":".join(f"{x:02x}" for x in seed[:16]).encode(),
                "base64": b64,
                "base64 prefix (also of seed‖pk)": b64[:40],
                "base64 from byte 3": base64.b64encode(seed[3:30]),
                "base64url": url,
                "base64url prefix": url[:40],
                "file line": lines[1],
            }
            for stream in outs[name] + outs["bob" if name == "alice" else "alice"]:
                with open(stream, "rb") as f:
                    data = f.read()
                for what, needle in needles.items():
                    assert needle not in data, f"{name}'s secret ({what}) is in {stream}"
        with open(outs["alice"][1], "rb") as f:
            err = f.read()
        # Not vacuous: the debug log was on and the call was verified.
        assert b"earshot-verify" in err and b"DEBUG" in err, err[-500:]
        with open(outs["alice"][0], "rb") as f:
            events = json_lines(f.read().decode())
        assert any(e["event"] == "sas" for e in events), events
        log(f"{len(err)} bytes of debug log on alice's stderr, no secret in any encoding")

    def deny():
        w.device("carol", "carol")
        w.device("dave", "dave")
        w.users.update(carol="carol", dave="dave")
        a, b = one_call(w, "carol", "dave", ["--deny-sas"], [], duration="5")
        assert [e["state"] for e in sas_events(a)] == ["comparing", "mismatch"], sas_events(a)
        ended = a.all("ended")[0]
        assert ended["reason"] == "failed" and "emoji did not match" in ended["message"], ended
        assert b.all("ended")[0]["reason"] == "remote_hangup", b.all("ended")
        assert not trust_list(os.path.join(work, "carol"))[0]["verified"]

    cases = [
        ("ordinary call: both read the same 5 emoji", ordinary_call),
        ("--deny-sas ends the call with the mismatch reason", deny),
        ("continuity: verified once, verified next time; a new key is key_changed", continuity),
        ("identity secret never printed, identity.key is 0600", secret_never_printed),
    ]

    only = os.environ.get("EARSHOT_VERIFY_ONLY")
    for name, fn in cases:
        if only and only not in name:
            continue
        check(name, fn)
        w.settle()
    server.stop()

    mitm_cases(only)

    return suite.report()


class Middleman(Peer):
    """es-mitm, with its JSON lines collected like a peer's."""

    def __init__(self, profile, *args):
        self.name = "mitm"
        self.args = [MITM, "--profile", profile] + list(args)
        self.events = []
        import threading
        self.cond = threading.Condition()
        self.stderr_path = os.path.join(os.path.dirname(profile), "mitm.stderr")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=open(self.stderr_path, "a"), text=True)
        threading.Thread(target=self._read, daemon=True).start()


def mitm_cases(only):
    work = tempdir("earshot-mitm-")
    # A compromised server: test-only binary, diverts alice↔bob through mallory's device.
    saved = testlib.SERVER
    testlib.SERVER = MITM_SERVER
    os.environ["EARSHOT_MITM_USER"] = "mallory"
    try:
        server = Server(work).start()
    finally:
        testlib.SERVER = saved
        del os.environ["EARSHOT_MITM_USER"]
    w = World(work, server)
    w.users = {"alice": "alice", "bob": "bob"}
    w.device("alice", "alice")
    w.device("bob", "bob")
    mallory = w.device("mallory", "mallory")

    def relay():
        m = Middleman(mallory)
        w.running.append(m)
        m.wait_for("ready", 20)
        b = w.peer("bob", "answer", "--auto", "--count", str(MITM_RUNS), *MEDIA)
        time.sleep(0.3)
        differ = 0
        t0 = time.time()
        for run in range(MITM_RUNS):
            # 3 s: long enough for both legs' reveals on two busy cores, short for 20 runs.
            a = w.peer("alice", "call", "bob", *MEDIA, "--duration", "3")
            assert a.wait_exit(60) == 0, f"run {run}: alice exited badly: {a.events[-3:]}"
            call_id = a.wait_for("dialing", 1)["call_id"]
            try:
                ended_b = b.wait_for("ended", 30, call_id=call_id)
            except AssertionError as err:
                seen = [(ev["event"], ev.get("leg"), ev.get("type")) for ev in m.events
                        if ev.get("call_id") == call_id]
                raise AssertionError(f"run {run}: {err}; alice: {a.events[-4:]}; "
                                     f"middleman: {seen}") from None
            # Bob's call is over: a call that ended before its emoji says why, with what the
            # middleman saw.
            if not [e for e in b.all("sas") if e.get("call_id") == call_id]:
                raise AssertionError(f"run {run}: bob's call ended before its emoji: {ended_b}; "
                                     f"alice: {a.all('ended')}; middleman: {m.all('leg_failed')}")
            sa = a.wait_for("sas", 5)
            sb = b.wait_for("sas", 5, call_id=call_id)
            leg_a = m.wait_for("leg", 5, call_id=call_id, leg="alice")
            leg_b = m.wait_for("leg", 5, call_id=call_id, leg="bob")
            ended_a = a.wait_for("ended", 1)
            # The call itself works: both connect and decode (the middleman's own) audio.
            assert a.all("connected"), a.events
            b.wait_for("connected", 1, call_id=call_id)
            assert ended_a["reason"] == "hangup" and ended_b["reason"] == "remote_hangup", \
                (ended_a, ended_b)
            assert ended_a["audio_buffers_decoded"] > 0, ended_a
            assert ended_b["audio_buffers_decoded"] > 0, ended_b
            # The middleman's honest verification agrees with each side: its legs are real.
            assert leg_a["indices"] == sa["indices"], (leg_a, sa)
            assert leg_b["indices"] == sb["indices"], (leg_b, sb)
            if sa["indices"] != sb["indices"]:
                differ += 1
            log(f"run {run + 1}: alice {' '.join(sa['emoji'])} | bob {' '.join(sb['emoji'])}")
            # The server told the middleman the call is over, and it closed both legs: without
            # that, each run left two live encoders behind, and the last runs starved.
            m.wait_for("session_ended", 10, call_id=call_id)
            w.running.remove(a)
        log(f"emoji differ in {differ} of {MITM_RUNS} calls through the middleman "
            f"({time.time() - t0:.0f} s)")
        assert differ == MITM_RUNS, f"{differ} of {MITM_RUNS}"
        assert b.wait_exit(20) == 0

    def attack(mode, reason_words):
        def run():
            # Fresh users, so that nothing an earlier case left queued reaches this one.
            name = mode.strip("-")
            w.device(f"alice-{name}", f"alice-{name}")
            w.device(f"bob-{name}", f"bob-{name}")
            m = Middleman(mallory, mode)
            w.running.append(m)
            m.wait_for("ready", 20)
            b = w.peer(f"bob-{name}", "answer", "--auto", *MEDIA)
            time.sleep(0.3)
            # A long ceiling: a stopped call ends at once, and a slow leg still gets its verdict.
            a = w.peer(f"alice-{name}", "call", f"bob-{name}", *MEDIA, "--duration", "10")
            a.wait_exit(60)
            b.wait_exit(30)
            ended = {p.name: p.all("ended") for p in (a, b)}
            log(f"{mode}: {ended}")
            stopped = [p for p in (a, b)
                       if p.all("ended") and p.all("ended")[0]["reason"] == "failed"
                       and reason_words in p.all("ended")[0].get("message", "")]
            assert stopped, {"ended": ended, "middleman": m.all("leg_failed")}
            # Stopped before any emoji: neither side got to compare, and nothing it recorded
            # reached the middleman (media waits for the checks, not only for pickup).
            for p in stopped:
                assert not p.all("sas"), (p.name, p.all("sas"))
                ended_p = p.all("ended")[0]
                assert ended_p["audio_packets_sent"] == 0 and ended_p["video_packets_sent"] == 0, ended_p
            if mode == "--swap-fingerprint":
                assert m.all("relayed"), "the middleman relayed nothing"
        return run

    cases = [
        (f"middleman bridging the call: emoji differ in {MITM_RUNS} of {MITM_RUNS}", relay),
        ("middleman rewriting the SDP fingerprint: stopped by the fingerprint check",
         attack("--swap-fingerprint", "does not match the fingerprint it announced")),
        ("middleman committing to another certificate: stopped by the commitment check",
         attack("--late-cert", "does not match what it committed to")),
    ]
    for name, fn in cases:
        if only and only not in name:
            continue
        check(name, fn)
        w.settle()
    server.stop()


if __name__ == "__main__":
    sys.exit(main())
