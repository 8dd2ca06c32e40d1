"""Shared pieces of Earshot's integration tests: the real server and CLI as processes, a TCP
proxy that can cut connections, and a small WebSocket client that can also misbehave.

Everything binds to 127.0.0.1; nothing here talks to any other address.
"""

import base64
import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

BUILD_DIR = os.environ.get("EARSHOT_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER = os.path.join(BUILD_DIR, "src", "server", "earshot-server")
CLI = os.path.join(BUILD_DIR, "src", "cli", "earshot-cli")
# Under sanitizers encoders and decoders run several times slower: calls last longer and waits
# for their events are longer by this factor, so that what is checked stays the same.
SLOWDOWN = float(os.environ.get("EARSHOT_TEST_SLOWDOWN", "1"))


def _is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Built with AddressSanitizer: its quarantine holds freed memory, so RSS says nothing.
SANITIZED = _is_sanitized(SERVER)


def stretch_durations(args):
    """ARGS with every `--duration S` multiplied by SLOWDOWN."""
    args = list(args)
    for i in range(len(args) - 1):
        if args[i] == "--duration":
            args[i + 1] = f"{float(args[i + 1]) * SLOWDOWN:g}"
    return args


def log(*args):
    print("#", *args, flush=True)


class Server:
    """earshot-server on 127.0.0.1, started again on the same port after a kill."""

    def __init__(self, workdir, port=0, extra_args=()):
        self.workdir = workdir
        self.database = os.path.join(workdir, "server.db")
        self.port = port
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(workdir, "server.log")
        self.starts = 0

    def start(self):
        args = [SERVER, "--listen", f"127.0.0.1:{self.port}", "--database", self.database,
                "--password-hash", "min"] + self.extra_args
        for attempt in range(50):
            logf = open(self.log_path, "a")
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=logf, text=True)
            line = self.proc.stdout.readline().strip()
            if line.startswith("listening on http://127.0.0.1:"):
                self.port = int(line.rsplit(":", 1)[1])
                self.starts += 1
                # Keep reading stdout so the server never blocks on a full pipe.
                threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
                return self
            self.proc.wait()
            # The old process's port may still be held for a moment after a kill.
            time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.log_path}")

    @staticmethod
    def _drain(proc):
        for _ in proc.stdout:
            pass

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def cli(profile, *args, server=None, check=True, timeout=60):
    cmd = [CLI, "--profile", profile]
    if server:
        cmd += ["--server", server]
    cmd += list(args)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr}")
    return result


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def http_json(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def register(server_url, user, password, device_name):
    status, text = http_json("POST", f"{server_url}/v1/register",
                             {"user": user, "password": password, "device_name": device_name})
    assert status == 200, (status, text)
    return json.loads(text)


def login(server_url, user, password, device_name):
    status, text = http_json("POST", f"{server_url}/v1/login",
                             {"user": user, "password": password, "device_name": device_name})
    assert status == 200, (status, text)
    return json.loads(text)


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the server and, when asked, cuts every open connection."""

    def __init__(self, target_port_fn):
        self.target_port_fn = target_port_fn
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.cuts = 0
        self.running = True
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port_fn()), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        a, b = pair
        socks = [a, b]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 1.0)
                if not self.running:
                    break
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            self._close(pair)

    def _close(self, pair):
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)
        for s in pair:
            try:
                # An abortive close (RST), like a dropped mobile link or a NAT timing out.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def cut_all(self):
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self._close(pair)
        if pairs:
            self.cuts += 1
        return len(pairs)

    def stop(self):
        self.running = False
        self.listener.close()
        self.cut_all()


class WebSocket:
    """A deliberately small RFC 6455 client that sends exactly what a test tells it to."""

    def __init__(self, port, token=None, path="/v1/ws"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                   "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if token is not None:
            headers.append(f"Authorization: Bearer {token}")
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1]) if head else 0
        self.close_code = None
        self.close_reason = ""

    def send_text(self, text):
        payload = text.encode() if isinstance(text, str) else text
        self._send_frame(0x1, payload)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        self.sock.sendall(header + mask + masked)

    def _read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self, timeout=10):
        """The next text message as parsed JSON, or None once the server closed."""
        self.sock.settimeout(timeout)
        while True:
            try:
                b0, b1 = self._read_exact(2)
            except (ConnectionError, OSError):
                return None
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read_exact(8))[0]
            payload = self._read_exact(n)
            if opcode == 0x8:
                if len(payload) >= 2:
                    self.close_code = struct.unpack(">H", payload[:2])[0]
                    self.close_reason = payload[2:].decode(errors="replace")
                return None
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x1:
                return json.loads(payload)

    def recv_until(self, predicate, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.recv(timeout=max(0.1, deadline - time.time()))
            if msg is None:
                return None
            if predicate(msg):
                return msg
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def frame(type_, seq=0, ack=0, body=None, **fields):
    f = {"v": 1, "seq": seq, "ack": ack, "type": type_, "body": body or {}}
    f.update(fields)
    return f


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


class Peer:
    """A long-running earshot-cli (call, answer) whose JSON events are collected as they come."""

    def __init__(self, profile, *args, name=None):
        self.name = name or os.path.basename(profile)
        self.args = [CLI, "--profile", profile] + stretch_durations(args)
        self.events = []
        self.cond = threading.Condition()
        self.stderr_path = os.path.join(os.path.dirname(profile), f"{self.name}.stderr")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=open(self.stderr_path, "a"), text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            event["_t"] = time.time()
            with self.cond:
                self.events.append(event)
                self.cond.notify_all()

    def wait_for(self, name, timeout=30, **match):
        """The first event called NAME whose fields equal MATCH, waiting up to TIMEOUT s (times
        SLOWDOWN)."""
        timeout *= SLOWDOWN
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                        return e
                left = deadline - time.time()
                if left <= 0:
                    self.show_stderr()
                    self.show_stacks()
                    raise AssertionError(f"{self.name}: no '{name}' {match} within {timeout} s; "
                                         f"saw {[e.get('event') for e in self.events]}; "
                                         f"stderr in {self.stderr_path}")
                self.cond.wait(min(left, 0.5))

    def all(self, name):
        with self.cond:
            return [e for e in self.events if e.get("event") == name]

    def wait_exit(self, timeout=60):
        timeout *= SLOWDOWN
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.show_stderr()
            raise AssertionError(f"{self.name} did not exit within {timeout} s")
        if status != 0:
            self.show_stderr()
        return status

    def show_stacks(self):
        """Every thread's stack of a peer that is still running, on the test's stderr: a peer
        that stopped answering shows where it waits. Needs gdb (build-aux/install-deps.sh)."""
        if self.proc.poll() is not None or not shutil.which("gdb"):
            return
        out = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                              "-ex", "thread apply all bt"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120).stdout
        stacks = [line for line in out.splitlines()
                  if line.startswith(("Thread ", "#")) or not line.strip()]
        print(f"--- {self.name} (pid {self.proc.pid}) is still running; its threads:\n"
              + "\n".join(stacks) + "\n---", file=sys.stderr)

    def show_stderr(self, lines=40):
        """The end of a peer's stderr, on the test's stderr: what it said before it failed."""
        with open(self.stderr_path, errors="replace") as f:
            tail = f.readlines()[-lines:]
        status = ("is still running" if self.proc.poll() is None
                  else f"exited {self.proc.returncode}")
        print(f"--- {self.name} ({self.args[0]}) {status}; its stderr ends:\n"
              f"{''.join(tail)}---", file=sys.stderr)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Cases:
    """Runs named cases, goes on after a failure, and prints the TAP report at the end."""

    def __init__(self):
        self.results = []

    def check(self, name, fn):
        t0 = time.time()
        try:
            fn()
            self.results.append((True, name, ""))
            log(f"{name}: ok in {time.time() - t0:.1f} s")
        except Exception as e:  # noqa: BLE001 - report every failure, go on with the next case
            self.results.append((False, name, f"{e!r}\n{traceback.format_exc()}"))
            log(f"{name}: FAILED in {time.time() - t0:.1f} s")

    def report(self):
        """Prints TAP and returns the exit status: 0 only when cases ran and all passed."""
        print(f"1..{len(self.results)}")
        for i, (ok, name, detail) in enumerate(self.results, 1):
            print(("ok" if ok else "not ok") + f" {i} {name}")
            if not ok:
                for line in detail.splitlines():
                    print("# " + line)
                # meson echoes only stderr of a failed test: CI's console then says why.
                print(f"FAILED: {name}\n{detail}", file=sys.stderr)
        return 0 if self.results and all(ok for ok, _, _ in self.results) else 1
