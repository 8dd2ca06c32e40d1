#!/usr/bin/env python3
# Helpers for run-ui-test.sh, with nothing but the standard library.
#
#   es-ui-check.py state NAME        prints the state of the app's action NAME
#                                    (strings one per line), read over D-Bus
#   es-ui-check.py video PNG         fails unless the remote video in the
#                                    screenshot PNG (where PNG.regions says it
#                                    is) varies: a flat colour is no video
#   es-ui-check.py self-test         shows that `video` fails on a flat frame
#   es-ui-check.py events LOG EVENT KEY
#                                    prints KEY of every EVENT in earshot-cli's
#                                    JSON event log (lists joined by spaces)
#   es-ui-check.py trusted DB USER   prints the verified device keys of USER in
#                                    a profile's trust store
#
# SPDX-License-Identifier: GPL-3.0-or-later

import ast
import json
import os
import re
import struct
import subprocess
import sqlite3
import sys
import tempfile
import zlib

APP_ID = "org.earshot.Earshot"
OBJECT_PATH = "/org/earshot/Earshot"

# Standard deviation of luma (0-255) below which the video area counts as flat.
# The test pattern (concentric rings) gives 85-90, a flat frame 0, and the
# main page's list of calls cut out at the same place about 15.
MIN_STDDEV = 40.0


def state(name):
    out = subprocess.run(
        ["gdbus", "call", "--session", "--dest", APP_ID, "--object-path", OBJECT_PATH,
         "--method", "org.gtk.Actions.Describe", name],
        capture_output=True, text=True, check=True).stdout
    # ((true, signature '', [<['Dog', 'Cat']>]),) or ... [<'main'>]),)
    m = re.search(r"\[<(.*)>\]\),\)\s*$", out.strip(), re.S)
    if not m:
        raise SystemExit(f"cannot read the state of {name}: {out}")
    value = m.group(1).strip()
    if value.startswith("@as "):
        value = value[4:]
    parsed = ast.literal_eval(value)
    return parsed if isinstance(parsed, list) else [parsed]


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path} is not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if interlace != 0 or depth not in (8, 16) or color not in (2, 6):
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {color})")
    channels = 4 if color == 6 else 3
    bpp = channels * depth // 8
    stride = width * bpp
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        filt = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    step = depth // 8

    def pixel(x, y):
        o = x * bpp
        r, g, b = (rows[y][o + k * step] for k in range(3))
        return r, g, b

    return width, height, pixel


def read_regions(path):
    video, covered = None, []
    with open(path) as f:
        for line in f:
            kind, *numbers = line.split()
            rect = tuple(int(float(n)) for n in numbers)
            if kind == "video":
                video = rect
            elif kind == "covered":
                covered.append(rect)
    return video, covered


def video_stddev(png, regions):
    video, covered = read_regions(regions)
    if video is None:
        raise SystemExit(f"{png}: no remote video is shown")
    width, height, pixel = read_png(png)
    x0, y0, w, h = video
    n = total = total2 = 0
    # Every second pixel is plenty, and keeps this quick.
    for y in range(max(y0, 0), min(y0 + h, height), 2):
        for x in range(max(x0, 0), min(x0 + w, width), 2):
            if any(cx <= x < cx + cw and cy <= y < cy + ch for cx, cy, cw, ch in covered):
                continue
            r, g, b = pixel(x, y)
            luma = 0.299 * r + 0.587 * g + 0.114 * b
            n += 1
            total += luma
            total2 += luma * luma
    if n < 1000:
        raise SystemExit(f"{png}: only {n} pixels of video are visible")
    mean = total / n
    return max(total2 / n - mean * mean, 0.0) ** 0.5, n


def check_video(png):
    stddev, n = video_stddev(png, png + ".regions")
    print(f"{os.path.basename(png)}: remote video luma stddev {stddev:.1f} over {n} pixels")
    if stddev < MIN_STDDEV:
        raise SystemExit(f"{png}: the remote video is a flat colour (stddev {stddev:.1f} < {MIN_STDDEV})")


def write_png(path, width, height, pixel):
    raw = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        flat, rings = os.path.join(tmp, "flat.png"), os.path.join(tmp, "rings.png")
        write_png(flat, 200, 150, lambda x, y: (40, 40, 40))
        # Rings outside the covered corner, flat inside it: still video.
        write_png(rings, 200, 150, lambda x, y: ((0, 0, 0) if x >= 150 and y >= 100 else
                                                 (255, 255, 255) if (x * x + y * y) // 300 % 2 else (0, 0, 0)))
        for png in (flat, rings):
            with open(png + ".regions", "w") as f:
                f.write("video 0 0 200 150\ncovered 150 100 50 50\n")
        try:
            check_video(flat)
        except SystemExit as e:
            print(f"flat frame rejected as it should be: {e}")
        else:
            raise SystemExit("self-test: a flat frame passed the video check")
        check_video(rings)
    print("self-test passed")


def events(log, event, key):
    with open(log, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == event:
                value = e.get(key)
                print(" ".join(map(str, value)) if isinstance(value, list) else value)


def trusted(db, user):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        for device_id, in c.execute("SELECT device_id FROM peer_keys WHERE user = ? AND verified = 1",
                                    (user,)):
            print(device_id)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "state":
        for item in state(sys.argv[2]):
            print(item)
    elif len(sys.argv) == 3 and sys.argv[1] == "video":
        check_video(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "events":
        events(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "trusted":
        trusted(*sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "self-test":
        self_test()
    else:
        raise SystemExit("usage: es-ui-check.py state NAME | video PNG | self-test | "
                         "events LOG EVENT KEY | trusted DB USER")
