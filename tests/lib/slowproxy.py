#!/usr/bin/env python3
"""A slow etcd: a TCP proxy in front of an etcd member's gRPC-JSON gateway
that delays, throttles or stalls the answers to chosen requests.

  slowproxy.py --listen PORT --upstream HOST:PORT [--log FILE]
               [--control FILE] [setting=value ...]

Settings (on the command line, and re-read from --control FILE, when
given, before each request, so a test can change them while it runs):
  paths=/v3/kv/range   comma-separated request paths the settings apply
                       to (others, e.g. watches, pass untouched)
  latency_ms=0         every answer starts this late
  rate=0               answers are sent at most this many bytes/s (0: no limit)
  stall_nth=0          the Nth matching request (1-based) is stalled ...
  stall_every=0        ... or every Nth one
  stall_ms=0           ... for this long before its answer goes (the
                       client has usually given up by then)
  fail_nth=0           the Nth matching request is not forwarded: the
                       proxy answers HTTP 500 with an etcd error (gRPC
                       code 13) itself

Requests are HTTP/1.1 with a Content-Length body (what libcurl sends); one
request is in flight per connection at a time, so bytes from upstream
after a request belong to its answer. --log gets one line per matching
request: "<n>\\t<path>\\t<0, 1 stalled, 2 failed>\\t<body>". Prints "ready" on stdout
once listening. Standard library only.
"""
import os
import socket
import sys
import threading
import time

DEFAULTS = {"paths": "/v3/kv/range", "latency_ms": "0", "rate": "0",
            "stall_nth": "0", "stall_every": "0", "stall_ms": "0",
            "fail_nth": "0"}
MAX_HEADER = 64 * 1024
FAILED_BODY = b'{"error":"injected by slowproxy","code":13,' \
    b'"message":"injected by slowproxy"}'
FAILED = b"HTTP/1.1 500 Internal Server Error\r\n" \
    b"Content-Type: application/json\r\n" \
    b"Content-Length: %d\r\n\r\n" % len(FAILED_BODY) + FAILED_BODY


class Proxy:
    def __init__(self, upstream, log_path, control, settings):
        self.upstream = upstream
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.control = control
        self.base = dict(DEFAULTS)
        self.base.update(settings)
        self.lock = threading.Lock()
        self.count = 0

    def settings(self):
        s = dict(self.base)
        if self.control:
            try:
                with open(self.control) as f:
                    for line in f:
                        if "=" in line:
                            k, v = line.strip().split("=", 1)
                            s[k] = v
            except OSError:
                pass
        return s

    def policy(self, path, body):
        """(delay before the answer in s, rate in bytes/s, failed), or
        None for a request left alone."""
        s = self.settings()
        if path not in s["paths"].split(","):
            return None
        with self.lock:
            self.count += 1
            n = self.count
        nth, every = int(s["stall_nth"]), int(s["stall_every"])
        stalled = (nth and n == nth) or (every and n % every == 0)
        failed = int(s["fail_nth"]) == n
        if self.log:
            self.log.write("%d\t%s\t%d\t%s\n" % (
                n, path, 2 if failed else 1 if stalled else 0,
                body.decode("utf-8", "replace").replace("\n", " ")))
        delay = int(s["latency_ms"]) / 1000.0
        if stalled:
            delay += int(s["stall_ms"]) / 1000.0
        return delay, int(s["rate"]), failed


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def client_to_server(px, cli, srv, pending, cond):
    buf = b""
    try:
        while True:
            data = cli.recv(65536)
            if not data:
                break
            buf += data
            # Forward every complete request, deciding its answer's fate.
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEADER:
                        raise OSError("header too long")
                    break
                head = buf[:end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                if len(buf) < end + 4 + length:
                    break
                req = buf[:end + 4 + length]
                body = req[end + 4:]
                buf = buf[end + 4 + length:]
                path = head.split(" ")[1] if " " in head else ""
                pol = px.policy(path, body)
                if pol and pol[2]:
                    cli.sendall(FAILED)
                    continue
                with cond:
                    pending.append(pol)
                srv.sendall(req)
    except OSError:
        pass
    close_both(cli, srv)


def server_to_client(cli, srv, pending, cond):
    rate = 0
    try:
        while True:
            data = srv.recv(65536)
            if not data:
                break
            with cond:
                pol = pending.pop(0) if pending else "same"
            if pol != "same":
                # The first bytes of the answer to the next request.
                rate = 0
                if pol:
                    delay, rate, _ = pol
                    if delay > 0:
                        time.sleep(delay)
            if rate > 0:
                for i in range(0, len(data), 4096):
                    chunk = data[i:i + 4096]
                    cli.sendall(chunk)
                    time.sleep(len(chunk) / rate)
            else:
                cli.sendall(data)
    except OSError:
        pass
    close_both(cli, srv)


def handle(px, cli):
    host, port = px.upstream.rsplit(":", 1)
    try:
        srv = socket.create_connection((host, int(port)))
    except OSError:
        cli.close()
        return
    for s in (cli, srv):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending, cond = [], threading.Condition()
    t = threading.Thread(target=server_to_client,
                         args=(cli, srv, pending, cond), daemon=True)
    t.start()
    client_to_server(px, cli, srv, pending, cond)
    t.join()
    cli.close()
    srv.close()


def main(argv):
    args = {"--listen": None, "--upstream": None, "--log": None,
            "--control": None}
    settings = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in args and i + 1 < len(argv):
            args[a] = argv[i + 1]
            i += 2
        elif "=" in a and a.split("=", 1)[0] in DEFAULTS:
            k, v = a.split("=", 1)
            settings[k] = v
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    if not args["--listen"] or not args["--upstream"]:
        sys.stderr.write(__doc__)
        return 2
    px = Proxy(args["--upstream"], args["--log"], args["--control"],
               settings)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(args["--listen"])))
    ls.listen(128)
    print("ready", flush=True)
    while True:
        cli, _ = ls.accept()
        threading.Thread(target=handle, args=(px, cli), daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
