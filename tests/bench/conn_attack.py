#!/usr/bin/env python3
"""Hostile connections against a service, and how GET /api/v1/version fares.

usage: conn_attack.py PORT MODE COUNT SOURCES SECONDS
  MODE     none (no attack: the baseline), idle (connect, send nothing) or
           slow (send half a request header, then one more header byte per
           connection every second: "slowloris")
  COUNT    connections, all opened at once before the probes start
  SOURCES  local addresses to open them from: "127.0.0.2" or a range
           "127.0.0.2-21" (Linux routes all of 127/8 to lo)
  SECONDS  how long to probe: a new connection from 127.0.0.1 with one
           GET /api/v1/version every 0.1 s
Prints one tab-separated line: mode, count, sources, connections opened,
probes, failed probes, median, p99 and max latency (ms), probes over
100 ms, attack connections the service still had open at the end.
"""
import resource
import socket
import statistics
import sys
import threading
import time

port, mode, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spec, seconds = sys.argv[4], float(sys.argv[5])

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 1000
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

last = spec.rsplit(".", 1)
if "-" in last[1]:
    lo, hi = map(int, last[1].split("-"))
    sources = ["%s.%d" % (last[0], i) for i in range(lo, hi + 1)]
else:
    sources = [spec]

socks = []
for i in range(count if mode != "none" else 0):
    s = socket.socket()
    s.settimeout(5)
    s.bind((sources[i % len(sources)], 0))
    try:
        s.connect(("127.0.0.1", port))
        if mode == "slow":
            s.send(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    except OSError:
        s.close()

stop = False


def trickle():
    while not stop:
        for s in socks:
            try:
                s.send(b"X")
            except OSError:
                pass
        time.sleep(1)


if mode == "slow":
    threading.Thread(target=trickle, daemon=True).start()


def probe():
    t = time.monotonic()
    ok = False
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=40)
        c.sendall(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    return (time.monotonic() - t) * 1000, ok


lat, bad = [], 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    ms, ok = probe()
    lat.append(ms)
    bad += not ok
    time.sleep(0.1)

alive = 0
for s in socks:
    try:
        s.setblocking(False)
        alive += s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
stop = True
over = sum(1 for x in lat if x > 100)
lat.sort()
print("%s\t%d\t%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%d" % (
    mode, count, spec, len(socks), len(lat), bad, statistics.median(lat),
    lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1], over, alive))
