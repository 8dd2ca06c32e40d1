#!/usr/bin/env python3
"""Stopping the real server: every connected device, whichever I/O thread serves it, is told
1001 "going away", the server exits at once and cleanly, and what it had acknowledged is there
after a restart. Also: a bad --io-threads is refused with a clear message."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from earshot_testlib import SERVER, Cases, Server, WebSocket, frame, login, register, tempdir

DEVICES = 12  # more than the I/O threads, so that every thread has connections to close

suite = Cases()
check = suite.check


def connect(port, account):
    ws = WebSocket(port, account["token"])
    assert ws.status == 101, ws.status
    ws.send_json(frame("hello", body={"device_id": account["device_id"], "resume_ack": 0}))
    assert ws.recv_until(lambda m: m["type"] == "welcome") is not None, "no welcome"
    return ws


def main():
    work = tempdir("earshot-shutdown-")
    server = Server(work, extra_args=["--io-threads", "4"]).start()
    accounts = [register(server.url, "carol", "pw-carol", "device 0")]
    accounts += [login(server.url, "carol", "pw-carol", f"device {i}") for i in range(1, DEVICES)]
    sockets = [connect(server.port, a) for a in accounts]

    def acknowledged_before_stop():
        sockets[0].send_json(frame("data", seq=1, to_device=accounts[1]["device_id"],
                                   body={"kept": True}))
        ack = sockets[0].recv_until(lambda m: m["ack"] >= 1)
        assert ack is not None, "the server did not acknowledge the frame"

    check("a frame is acknowledged before the stop", acknowledged_before_stop)

    t0 = time.time()
    server.proc.send_signal(signal.SIGTERM)

    def every_device_hears_1001():
        codes = []
        for ws in sockets:
            while ws.recv(timeout=5) is not None:
                pass
            codes.append(ws.close_code)
            ws.close()
        assert codes == [1001] * DEVICES, f"close codes {codes}"

    def exits_at_once():
        status = server.proc.wait(timeout=10)
        elapsed = time.time() - t0
        assert status == 0, f"exit status {status}"
        assert elapsed < 5, f"took {elapsed:.1f} s to exit"

    check("every device is told 1001 going away", every_device_hears_1001)
    check("the server exits cleanly within 5 s", exits_at_once)

    def acknowledged_frame_survives():
        server.start()
        ws = connect(server.port, accounts[1])
        msg = ws.recv_until(lambda m: m["type"] == "data", timeout=10)
        assert msg is not None and msg["body"] == {"kept": True}, msg
        ws.close()
        server.stop()

    check("the acknowledged frame is delivered after a restart", acknowledged_frame_survives)

    def bad_io_threads():
        for value in ["0", "257", "-1"]:
            result = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--database",
                                     os.path.join(work, "other.db"), "--io-threads", value],
                                    capture_output=True, text=True, timeout=30)
            assert result.returncode != 0, f"--io-threads {value} was accepted"
            assert "io-threads" in result.stderr, result.stderr

    check("a bad --io-threads is refused with a clear message", bad_io_threads)

    server.kill()
    return suite.report()


if __name__ == "__main__":
    sys.exit(main())
