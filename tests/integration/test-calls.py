#!/usr/bin/env python3
"""Calls end to end: the real server and real earshot-cli peers with test media.

Covers multi-device ringing with warm branches, media gated until pickup, cancel (also before
the server acknowledged the invite), decline, missed, glare, codec negotiation and the video
bitrate cap. Every assertion is on events the peers print from decoded media and call state.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from earshot_testlib import Cases, Peer, Server, cli, json_lines, log, tempdir

RING_TIMEOUT = 8
suite = Cases()
check = suite.check


class World:
    def __init__(self):
        self.work = tempdir("earshot-calls-")
        self.server = Server(self.work, extra_args=["--ring-timeout", str(RING_TIMEOUT)]).start()
        self.profiles = {}
        self.device_ids = {}
        self.running = []

    def device(self, name, user, device_name):
        profile = os.path.join(self.work, name)
        exists = any(p == user for p in self.profiles.values())
        cmd = "login" if exists else "register"
        cli(profile, cmd, user, "pw-" + user, "--device-name", device_name, server=self.server.url)
        self.profiles[profile] = user
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


def main():
    w = World()
    w.device("alice", "alice", "Alice's desk")
    w.device("carol", "carol", "Carol's desk")
    w.device("dave", "dave", "Dave's desk")
    bob_count = [0]

    def new_bob():
        # A fresh callee per case: a device that was offline in an earlier case would otherwise
        # start this one by catching up on what it missed then.
        bob_count[0] += 1
        user = f"bob{bob_count[0]}"
        w.device("b1", user, "Bob's laptop")
        w.device("b2", user, "Bob's phone")
        return user

    def two_devices_one_answers():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--after", "2", "--test-media", "--json")
        b2 = w.peer("b2", "answer", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--duration", "4", "--json")
        dialing = a.wait_for("dialing", 10)
        a.wait_for("ringing", 15, device_id=w.device_ids["b1"])
        a.wait_for("ringing", 15, device_id=w.device_ids["b2"])
        ringing_devices = {e["device_id"] for e in a.all("ringing")}
        assert ringing_devices == {w.device_ids["b1"], w.device_ids["b2"]}, ringing_devices
        b1.wait_for("incoming", 5, call_id=dialing["call_id"])
        b2.wait_for("incoming", 5, call_id=dialing["call_id"])

        connected = a.wait_for("connected", 30)
        assert connected["device_id"] == w.device_ids["b1"], connected
        b1.wait_for("connected", 10)
        elsewhere = b2.wait_for("answered_elsewhere", 15)
        assert elsewhere["device_name"] == "Bob's laptop", elsewhere

        a.wait_for("media", 15, kind="audio")
        a.wait_for("media", 15, kind="video")
        b1.wait_for("media", 15, kind="audio")
        b1.wait_for("media", 15, kind="video")
        ended_a = a.wait_for("ended", 30)
        ended_b1 = b1.wait_for("ended", 15)
        for who, e in (("alice", ended_a), ("b1", ended_b1)):
            assert e["video_frames_decoded"] >= 30, (who, e)
            assert e["audio_buffers_decoded"] >= 50, (who, e)
        assert ended_a["reason"] == "hangup", ended_a
        assert ended_b1["reason"] == "remote_hangup", ended_b1
        ended_b2 = b2.wait_for("ended", 5)
        assert ended_b2["video_frames_decoded"] == 0 and ended_b2["audio_buffers_decoded"] == 0, ended_b2
        assert ended_b2["audio_packets_sent"] == 0 and ended_b2["video_packets_sent"] == 0, ended_b2
        for p in (a, b1, b2):
            assert p.wait_exit(20) == 0, p.name
        log(f"pickup -> first media: alice audio {a.wait_for('media', kind='audio')['ms_since_pickup']} ms, "
            f"video {a.wait_for('media', kind='video')['ms_since_pickup']} ms; "
            f"bob audio {b1.wait_for('media', kind='audio')['ms_since_pickup']} ms, "
            f"video {b1.wait_for('media', kind='video')['ms_since_pickup']} ms")

    def nothing_before_pickup():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--after", "4", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--duration", "2", "--json")
        accepted = b1.wait_for("accepted", 20)
        ringing_stats = [e for e in b1.all("stats") if e["phase"] == "ringing" and e["_t"] < accepted["_t"]]
        assert ringing_stats, "no stats while ringing: the branch did not connect during ringing"
        for e in ringing_stats:
            assert e["audio_packets_sent"] == 0 and e["video_packets_sent"] == 0, e
            assert e["audio_buffers_decoded"] == 0 and e["video_frames_decoded"] == 0, e
        caller_ringing = [e for e in a.all("stats") if e["phase"] == "ringing" and e["_t"] < accepted["_t"]]
        for e in caller_ringing:
            assert e["audio_packets_sent"] == 0 and e["video_packets_sent"] == 0, e
            assert e["video_frames_decoded"] == 0, e
        a.wait_for("media", 15, kind="video")
        b1.wait_for("media", 15, kind="video")
        a.wait_for("ended", 20)
        for p in (a, b1):
            assert p.wait_exit(20) == 0, p.name

    def cancel(after_ms):
        def run():
            bob = new_bob()
            b1 = w.peer("b1", "answer", "--test-media", "--json")
            b2 = w.peer("b2", "answer", "--test-media", "--json")
            time.sleep(0.5)
            a = w.peer("alice", "call", bob, "--test-media", "--cancel-after", str(after_ms), "--json")
            ended = a.wait_for("ended", 15)
            assert ended["reason"] == "cancelled", ended
            for b in (b1, b2):
                b.wait_for("cancelled", 15)
                e = b.wait_for("ended", 10)
                assert e["audio_packets_sent"] == 0 and e["video_packets_sent"] == 0, e
                assert e["video_frames_decoded"] == 0 and e["audio_buffers_decoded"] == 0, e
                assert b.wait_exit(15) == 0, b.name
            assert a.wait_exit(15) == 0
        return run

    def decline():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--decline", "--after", "1", "--test-media", "--json")
        b2 = w.peer("b2", "answer", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--json")
        ended = a.wait_for("ended", 20)
        assert ended["reason"] == "declined", ended
        b2.wait_for("declined_elsewhere", 10)
        for p in (a, b1, b2):
            assert p.wait_exit(15) == 0, p.name

    def missed():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--test-media", "--json")
        b2 = w.peer("b2", "answer", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--json")
        ended = a.wait_for("ended", RING_TIMEOUT + 15)
        assert ended["reason"] == "no_answer", ended
        for b in (b1, b2):
            b.wait_for("missed", 10)
            assert b.wait_exit(15) == 0, b.name
        assert a.wait_exit(15) == 0

    def glare():
        c = w.peer("carol", "call", "dave", "--test-media", "--duration", "3", "--json")
        d = w.peer("dave", "call", "carol", "--test-media", "--duration", "3", "--json")
        call_c = c.wait_for("connected", 30)
        call_d = d.wait_for("connected", 30)
        assert call_c["call_id"] == call_d["call_id"], (call_c, call_d)
        c.wait_for("media", 15, kind="video")
        d.wait_for("media", 15, kind="video")
        c.wait_for("ended", 20)
        d.wait_for("ended", 20)
        ids = {e["call_id"] for p in (c, d) for e in p.all("connected")}
        assert len(ids) == 1, f"more than one call connected: {ids}"
        for p in (c, d):
            assert p.wait_exit(20) == 0, p.name

    def codec(caller_codecs, callee_codecs, expect):
        def run():
            bob = new_bob()
            b1 = w.peer("b1", "answer", "--auto", "--test-media", "--codecs", callee_codecs, "--json")
            time.sleep(0.5)
            a = w.peer("alice", "call", bob, "--test-media", "--duration", "4",
                       "--codecs", caller_codecs, "--json")
            if expect is None:
                for p in (a, b1):
                    e = p.wait_for("ended", 30)
                    assert e["reason"] == "failed", e
                    assert "codec" in e.get("message", "").lower(), e
                    p.wait_exit(15)
                return
            assert a.wait_for("connected", 30)["codec"] == expect
            assert b1.wait_for("connected", 10)["codec"] == expect
            a.wait_for("media", 15, kind="video")
            b1.wait_for("media", 15, kind="video")
            for p in (a, b1):
                p.wait_for("ended", 20)
                assert p.wait_exit(15) == 0, p.name
        return run

    def bitrate_cap():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--duration", "7",
                   "--max-video-kbps", "300", "--json")
        connected = a.wait_for("connected", 30)
        a.wait_for("ended", 30)
        active = [e for e in a.all("stats") if e["phase"] == "active" and e["_t"] > connected["_t"] + 1]
        assert len(active) >= 5, f"only {len(active)} stats events while active"
        window = active[-5:]
        avg = sum(e["video_out_kbps"] for e in window) / len(window)
        log(f"outbound video with a 300 kbit/s cap: {avg:.0f} kbit/s over the last 5 s")
        assert 0 < avg <= 330, avg
        for p in (a, b1):
            assert p.wait_exit(15) == 0, p.name

    def server_restart_while_ringing():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--after", "5", "--test-media", "--json")
        b2 = w.peer("b2", "answer", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--duration", "2", "--json")
        a.wait_for("ringing", 15, device_id=w.device_ids["b1"])
        w.server.kill()
        time.sleep(0.5)
        w.server.start()
        connected = a.wait_for("connected", 30)
        assert connected["device_id"] == w.device_ids["b1"], connected
        b2.wait_for("answered_elsewhere", 20)
        a.wait_for("media", 15, kind="audio")
        b1.wait_for("media", 15, kind="audio")
        for p in (a, b1, b2):
            p.wait_for("ended", 20)
            assert p.wait_exit(15) == 0, p.name

    def muted_and_camera_off():
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--mute", "--test-media", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--duration", "4", "--camera-off", "--json")
        a.wait_for("connected", 30)
        told_b = b1.wait_for("peer_media", 15)
        told_a = a.wait_for("peer_media", 15)
        assert told_b["video"] is False and told_b["audio"] is True, told_b
        assert told_a["audio"] is False and told_a["video"] is True, told_a
        ended_a = a.wait_for("ended", 20)
        ended_b = b1.wait_for("ended", 20)
        # Alice's camera and Bob's microphone sent nothing; the other kinds flowed.
        assert ended_a["video_packets_sent"] == 0 and ended_b["video_frames_decoded"] == 0, (ended_a, ended_b)
        assert ended_b["audio_packets_sent"] == 0 and ended_a["audio_buffers_decoded"] == 0, (ended_a, ended_b)
        assert ended_a["audio_packets_sent"] > 0 and ended_b["audio_buffers_decoded"] > 0, (ended_a, ended_b)
        assert ended_b["video_packets_sent"] > 0 and ended_a["video_frames_decoded"] > 0, (ended_a, ended_b)
        for p in (a, b1):
            assert p.wait_exit(15) == 0, p.name

    def peer_vanishes():
        # Killed mid-call: no hangup, no closed channel, and ICE does not notice. The other side
        # hears no "alive" on the control channel and ends the call, saying so.
        bob = new_bob()
        b1 = w.peer("b1", "answer", "--auto", "--test-media", "--audio-only", "--json")
        time.sleep(0.5)
        a = w.peer("alice", "call", bob, "--test-media", "--audio-only", "--duration", "300",
                   "--json")
        b1.wait_for("media", 30, kind="audio")
        a.kill()
        killed = time.time()
        ended = b1.wait_for("ended", 40)
        log(f"bob's call ended {ended['_t'] - killed:.1f} s after alice was killed: "
            f"{ended['message']}")
        assert ended["reason"] == "failed" and "Lost the connection" in ended["message"], ended
        assert ended["audio_buffers_decoded"] > 0, ended

    cases = [
        ("two devices ring, one answers, the other hears where", two_devices_one_answers),
        ("no media before pickup", nothing_before_pickup),
        ("cancel 50 ms after invite", cancel(50)),
        ("cancel before the server acknowledged the invite", cancel(0)),
        ("decline on one device stops the others", decline),
        ("nobody answers: missed and no answer", missed),
        ("glare: exactly one call, media flows", glare),
        ("H.264 first on both: H.264", codec("H264,VP8", "H264,VP8", "H264")),
        ("VP8 first on both: VP8", codec("VP8,H264", "VP8,H264", "VP8")),
        ("VP8 only against H.264 only: clear error", codec("VP8", "H264", None)),
        ("video bitrate cap 300 kbit/s", bitrate_cap),
        ("the server restarts while it rings: the call goes on", server_restart_while_ringing),
        ("muted microphone and camera off send nothing, and the peer is told", muted_and_camera_off),
        ("the other side vanishes mid-call: the call ends as lost", peer_vanishes),
    ]
    only = os.environ.get("EARSHOT_CALLS_ONLY")
    for name, fn in cases:
        if only and only not in name:
            continue
        check(name, fn)
        w.settle()

    w.server.stop()
    return suite.report()


if __name__ == "__main__":
    sys.exit(main())
