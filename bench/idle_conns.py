#!/usr/bin/env python3
"""Memory per idle connection: RSS delta of a server process / connections held open.

Opens COUNT TCP connections to the server from this (separate) process and holds them;
the server's VmRSS (from /proc/PID/status) is read before and after. Arrival patterns
(--pattern):

  idle-then-request  (default) all connect; RSS read; then one request on each, every
                     reply read; RSS read again.
  silent             all connect and never speak; RSS read.
  burst              each client sends one request as soon as it is connected (10,000
                     requests arrive with their connections), every reply read, then
                     they stay idle; RSS read.

Each reading is taken --settle seconds after the step before it (after the last reply).
The result is one line of JSON:

    {"server": ..., "pattern": ..., "conns": 10000, "rss_before_kb": ...,
     "rss_connected_kb": ..., "rss_after_request_kb": ..., "bytes_per_conn_idle": ...,
     "bytes_per_conn_after_request": ...}

(a figure a pattern does not measure is null; for burst, "rss_peak_kb" is the RSS right
after the last reply).

Usage: idle_conns.py --port 7380 --pid 1234 --proto resp|http [--count 10000] [--name x]
                     [--settle 3] [--pattern idle-then-request|silent|burst]

--settle: seconds to wait before each RSS reading (1). framesim-server parks a connection
that has had nothing in progress for 1 s and gives the memory its tasks freed back to the
system a second later: measure it 3 s after the requests to see connections at rest.

With --hold it measures nothing: it opens the connections, sends one request on each,
prints "ready" and holds them until it is killed (idle load for bench/async-vs-threads.sh).
"""

import argparse
import json
import resource
import selectors
import signal
import socket
import sys
import time

REQUESTS = {
    "resp": (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
    # One keep-alive request; nginx answers with a small fixed body (see bench/nginx.conf).
    "http": (b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n", b"ok\n"),
}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


SETTLE = 1.0


def settle():
    # Let the server finish accepting/answering (and framesim-server park its idle
    # connections) before RSS is read.
    time.sleep(SETTLE)


def connect_all(host, port, count):
    conns = []
    for i in range(count):
        for attempt in range(50):
            try:
                s = socket.create_connection((host, port), timeout=10)
                break
            except OSError as e:
                # A full accept backlog refuses or times out: back off and retry.
                if attempt == 49:
                    raise RuntimeError(f"connection {i}: {e}") from e
                time.sleep(0.05)
        conns.append(s)
    return conns


def connect_and_send_all(host, port, count, request):
    """Opens `count` connections, sending `request` on each as soon as it is connected."""
    conns = []
    for _ in range(count):
        (s,) = connect_all(host, port, 1)
        s.sendall(request)
        conns.append(s)
    return conns


def request_all(conns, request, reply_end, sent=False):
    """Sends `request` on every connection (unless `sent`), then reads until each reply ends
    with `reply_end`."""
    sel = selectors.DefaultSelector()
    pending = {}
    for s in conns:
        if not sent:
            s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    deadline = time.monotonic() + 60
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} replies missing after 60 s")
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                raise RuntimeError("server closed a connection")
            pending[s] += data
            if pending[s].endswith(reply_end):
                sel.unregister(s)
                del pending[s]
    sel.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, help="server process to measure")
    ap.add_argument("--proto", choices=REQUESTS, default="resp")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--name", default="server")
    ap.add_argument("--hold", action="store_true", help="only open, ask once, hold")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds before each reading")
    ap.add_argument("--pattern", choices=["idle-then-request", "silent", "burst"],
                    default="idle-then-request", help="how the connections arrive (see above)")
    args = ap.parse_args()
    global SETTLE
    SETTLE = args.settle
    if args.pid is None and not args.hold:
        ap.error("--pid is required unless --hold")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        if min(want, hard) < want:
            sys.exit(f"need {want} open files, the hard limit is {hard}")

    request, reply_end = REQUESTS[args.proto]
    if args.hold:
        conns = connect_all(args.host, args.port, args.count)
        request_all(conns, request, reply_end)
        print("ready", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    # Warm the server up with one full connection first, so one-time allocations
    # (first accept, first request) are not counted against the idle connections.
    warm = connect_all(args.host, args.port, 1)
    request_all(warm, request, reply_end)
    warm[0].close()
    settle()

    before = rss_kb(args.pid)
    connected = after = peak = None
    if args.pattern == "burst":
        conns = connect_and_send_all(args.host, args.port, args.count, request)
        request_all(conns, request, reply_end, sent=True)
        peak = rss_kb(args.pid)
    else:
        conns = connect_all(args.host, args.port, args.count)
        settle()
        connected = rss_kb(args.pid)
    if args.pattern == "idle-then-request":
        request_all(conns, request, reply_end)
    if args.pattern != "silent":
        settle()
        after = rss_kb(args.pid)
    per = lambda kb: None if kb is None else round((kb - before) * 1024 / args.count)
    print(json.dumps({
        "server": args.name,
        "pattern": args.pattern,
        "conns": args.count,
        "settle_s": args.settle,
        "rss_before_kb": before,
        "rss_connected_kb": connected,
        "rss_after_request_kb": after,
        "rss_peak_kb": peak,
        "bytes_per_conn_idle": per(connected),
        "bytes_per_conn_after_request": per(after),
    }))
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
