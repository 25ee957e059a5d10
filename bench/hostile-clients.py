#!/usr/bin/env python3
"""Hostile clients against three servers, side by side in one run, over loopback TCP.

The three servers: framesim-server BEFORE the hardening (commit 96cd3c0), framesim-server
NOW (current main), and redis-server 7 (its defaults). Each case starts a fresh server
process per measurement, attacks it from this process, reads the server's memory from
/proc/PID/status (VmRSS now, VmHWM the peak), and prints one markdown table per case.

Cases (numbers as in the hardening issue):

1. Reply memory. A value is SET, then connections pipeline `GET a` without ever reading
   the replies (writing whenever the socket takes more) for 8 s while the server's RSS is
   sampled every ~10 ms:
   a 16 MiB value on 1 connection with `GET a\\r\\n`; 4 connections x a 4 MiB value; a 1 MiB
   value with `GET a\\n`. RSS before, peak (VmHWM), growth over the last second (still
   climbing?), RSS 1 s after the client closed, and whether the server then answers a PING
   within 2 s. A server whose RSS passes --rss-cap-mib (default 6 GiB) is killed at once.
2. Request memory. framesim gets `--max-buffered 65536` (redis its defaults). One connection
   sends `*200001\\r\\n` then 200,000 bulk arguments of 4 KiB and never finishes; it stops
   sending on any reply or close, or after 10 s, and holds the connection until 11.5 s (or
   1.5 s after a reply). Peak RSS; when the server closed and what it replied.
3. File-descriptor exhaustion. The server runs with RLIMIT_NOFILE 5000 (soft and hard);
   15,000 clients connect at once, each sends PING and waits up to 5 s (connect and reply
   each bounded by 5 s). Answered / refused (`-ERR max number of clients reached`) / closed
   or reset with no reply / no reply / connect timeout, median and slowest time to an answer
   or a refusal, the server's log lines that contain "Too many open files", and the kernel's
   TcpExt ListenOverflows delta (/proc/net/netstat, machine-wide: SYNs dropped because an
   accept queue was full). Answered clients hold their connection until the case ends.
4. Signals. SIGHUP to an idle server: does it survive and still answer PING? Then 1,000
   clients each keep 100-200 pipelined SETs in flight, and the server gets SIGTERM: per
   client, did it see a clean close (EOF) or a reset; did any client get a truncated reply;
   exit status; the final line (framesim: "stopped", redis: "ready to exit"); for framesim
   NOW, whether its own count of answered requests equals the replies the clients got.
5. Error text: the exact reply bytes to four malformed requests.
6. `--mode threads --idle-timeout-s 2` (framesim only): 64 pipelined `GET` of a 1 MiB value
   by a client that never reads, and by one that reads 1 byte per second. When the server
   closes its side is read from /proc/net/tcp (the server's socket leaves ESTABLISHED), so
   the clients read nothing to find out.

Usage (from the repository root; stdlib only, Python 3.11):

    cargo build --release -p framesim-server                        # NOW
    git worktree add /tmp/before 96cd3c0 && \\
      (cd /tmp/before && cargo build --release -p framesim-server)  # BEFORE
    python3 bench/hostile-clients.py --before /tmp/before/target/release/framesim-server \\
        --now target/release/framesim-server [--cases 1,2,3,4,5,6] [--redis redis-server]

Needs a hard open-files limit of at least 20,000 (`ulimit -Hn`) for case 3 and ~7 GiB of
free memory for case 1. Progress goes to stderr, the tables to stdout. Every wait is bounded;
every server started is killed at the end (only those: never by name). Times depend on the
machine's load; memory much less so.
"""

import argparse
import atexit
import datetime
import errno
import os
import platform
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
MiB = 1024 * 1024
KINDS = ("before", "now", "redis")
TITLES = {
    "before": "framesim BEFORE (96cd3c0)",
    "now": "framesim NOW (main)",
    "redis": "redis-server 7",
}
PING = b"*1\r\n$4\r\nPING\r\n"

# Every server process this script started; killed at exit whatever happens.
CHILDREN = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def kill_children():
    for proc in CHILDREN:
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
    for proc in CHILDREN:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mib(kb):
    return "—" if kb is None else f"{kb / 1024:,.0f} MiB"


def recv_line(sock, deadline):
    """Bytes up to and including the first CRLF (or what came before EOF/deadline)."""
    buf = b""
    while b"\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not data:
            break
        buf += data
    return buf


def ping(port, timeout=2.0):
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(PING)
            return recv_line(s, time.monotonic() + timeout)
    except OSError:
        return b""


class Server:
    """One server process: framesim (BEFORE or NOW) or redis-server, logging to a file."""

    def __init__(self, kind, binaries, workdir, extra=(), nofile=None):
        self.kind = kind
        self.port = free_port()
        if kind == "redis":
            cmd = [binaries["redis"], "--port", str(self.port), "--bind", HOST, "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--dir", workdir, "--logfile", ""]
        else:
            cmd = [binaries[kind], "--listen", f"{HOST}:{self.port}"]
        self.cmd = cmd + list(extra)
        self.logpath = os.path.join(workdir, f"{kind}-{self.port}.log")
        self.logf = open(self.logpath, "wb")
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")

        def limits():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, preexec_fn=limits if nofile is not None else None)
        CHILDREN.append(self.proc)
        self.pid = self.proc.pid
        self.killed_at_cap = False
        self.pings = 0  # PINGs this script got answered (framesim counts them as frames)
        self._wait_ready()

    def _wait_ready(self, limit=20.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: "
                                   f"{self.log_text()[-500:]}")
            if self.ping(1.0).startswith(b"+PONG"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} not answering PING on port {self.port} after {limit} s")

    def ping(self, timeout=2.0):
        reply = ping(self.port, timeout)
        self.pings += reply.startswith(b"+PONG")
        return reply

    def alive(self):
        return self.proc.poll() is None

    def status_kb(self, field):
        """VmRSS/VmHWM in kB, or None once the process is gone."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def log_text(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        self.kill()
        self.logf.close()


def set_value(port, size, timeout=60.0):
    """SET a <size bytes> on a connection of its own."""
    req = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$%d\r\n" % size + b"v" * size + b"\r\n"
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(req)
        reply = recv_line(s, time.monotonic() + timeout)
    if reply != b"+OK\r\n":
        raise RuntimeError(f"SET of {size} bytes answered {reply[:100]!r}")


def fmt_time(t):
    return "—" if t is None else f"{t:.2f} s"


def short(data, limit=90):
    text = repr(bytes(data))
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------
# Case 1: replies nobody reads.

def flood_gets(server, conns, req, duration, cap_kb):
    """Pipelines `req` on `conns` connections without ever reading, for `duration` seconds
    (writing whenever the socket takes more), sampling the server's RSS every ~10 ms; kills
    the server if its RSS passes `cap_kb`."""
    socks = []
    for _ in range(conns):
        s = socket.create_connection((HOST, server.port), timeout=5)
        s.setblocking(False)
        socks.append(s)
    chunk = memoryview(req * 4096)
    offset = {s: 0 for s in socks}
    written = {s: 0 for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    start = time.monotonic()
    peak_seen = 0
    samples = []  # (t, rss)
    note = ""
    try:
        while time.monotonic() - start < duration:
            for key, _ in sel.select(timeout=0.01):
                s = key.fileobj
                try:
                    n = s.send(chunk[offset[s]:])
                except BlockingIOError:
                    continue
                except OSError as e:
                    sel.unregister(s)
                    note = f"send failed: {errno.errorcode.get(e.errno, e)}"
                    continue
                written[s] += n
                offset[s] = (offset[s] + n) % len(chunk)
            rss = server.status_kb("VmRSS")
            if rss is None:
                note = "server died"
                break
            samples.append((time.monotonic() - start, rss))
            peak_seen = max(peak_seen, rss)
            if rss > cap_kb:
                peak_seen = max(peak_seen, server.status_kb("VmHWM") or 0)
                server.kill()
                server.killed_at_cap = True
                note = f"killed at the {cap_kb // 1024:,} MiB cap after {samples[-1][0]:.1f} s"
                break
        hwm = server.status_kb("VmHWM") if server.alive() else peak_seen
        rss_end = server.status_kb("VmRSS") if server.alive() else None
    finally:
        sel.close()
        for s in socks:
            s.close()
    # Growth over the last second sampled: is it still climbing when the window ends?
    peak = max(hwm or 0, peak_seen)
    growth = None
    if samples:
        t_end, rss_last = samples[-1]
        earlier = [rss for t, rss in samples if t <= t_end - 1.0]
        if earlier:
            growth = rss_last - earlier[-1]
    return {
        "requests": sum(written.values()) // len(req),
        "peak_kb": peak,
        "growth_kb": growth,
        "rss_end_kb": rss_end,
        "note": note,
    }


def case1(binaries, workdir, args):
    subcases = [
        ("16 MiB value, 1 conn, `GET a\\r\\n`", 16 * MiB, 1, b"GET a\r\n"),
        ("4 MiB value, 4 conns, `GET a\\r\\n`", 4 * MiB, 4, b"GET a\r\n"),
        ("1 MiB value, 1 conn, `GET a\\n`", 1 * MiB, 1, b"GET a\n"),
    ]
    rows = []
    for title, size, conns, req in subcases:
        cells = {}
        for kind in KINDS:
            log(f"case 1: {title}: {kind}")
            server = Server(kind, binaries, workdir)
            try:
                set_value(server.port, size)
                time.sleep(0.3)
                before = server.status_kb("VmRSS")
                r = flood_gets(server, conns, req, duration=args.flood_s,
                               cap_kb=args.rss_cap_mib * 1024)
                time.sleep(1.0)
                after = server.status_kb("VmRSS") if server.alive() else None
                alive = server.alive() and ping(server.port).startswith(b"+PONG")
                cells[kind] = {
                    "RSS before": mib(before),
                    "`GET`s the client wrote (never reading)": f"{r['requests']:,}",
                    "peak RSS (VmHWM)": mib(r["peak_kb"]),
                    "RSS growth in the last second sampled": (
                        "—" if r["growth_kb"] is None else f"{r['growth_kb'] / 1024:+,.0f} MiB"),
                    f"RSS at {args.flood_s:.0f} s": mib(r["rss_end_kb"]) if not r["note"]
                    else r["note"],
                    "RSS 1 s after the client closed": mib(after),
                    "answers PING (2 s) 1 s after the client closed": "yes" if alive else "no",
                }
            except Exception as e:  # a cell, not the run
                cells[kind] = {"error": f"{type(e).__name__}: {e}"}
            finally:
                server.stop()
        rows.append((title, cells))
    out = []
    for title, cells in rows:
        out.append(table(f"1. Reply memory: {title}", cells))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Case 2: one request that never ends.

def endless_multibulk(server, duration, cap_kb, linger=1.5):
    arg = b"$4096\r\n" + b"x" * 4096 + b"\r\n"
    pieces = [b"*200001\r\n"] + [arg * 256] * (200_000 // 256) + [arg * (200_000 % 256)]
    s = socket.create_connection((HOST, server.port), timeout=5)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    start = time.monotonic()
    # Held open (the request never ends) until `duration` plus `linger`, or `linger` after
    # the first reply byte.
    end_at = start + duration + linger
    sent = 0
    piece, offset = 0, 0
    reply = b""
    closed = None  # (seconds, how)
    sending = True
    peak_seen = 0
    try:
        while closed is None:
            now = time.monotonic()
            if sending and now - start >= duration:
                sending = False
                sel.modify(s, selectors.EVENT_READ)
            if now >= end_at:
                break
            for _, mask in sel.select(timeout=0.01):
                if mask & selectors.EVENT_READ:
                    try:
                        data = s.recv(65536)
                    except OSError as e:
                        closed = (time.monotonic() - start, f"reset ({errno.errorcode.get(e.errno, e)})")
                        break
                    if not data:
                        closed = (time.monotonic() - start, "EOF")
                        break
                    if not reply:  # an error reply: stop sending, wait for the close
                        end_at = min(end_at, time.monotonic() + linger)
                    reply += data
                    if sending:
                        sending = False
                        sel.modify(s, selectors.EVENT_READ)
                if sending and mask & selectors.EVENT_WRITE:
                    try:
                        n = s.send(memoryview(pieces[piece])[offset:])
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        closed = (time.monotonic() - start,
                                  f"send failed ({errno.errorcode.get(e.errno, e)})")
                        break
                    sent += n
                    offset += n
                    if offset == len(pieces[piece]):
                        piece, offset = piece + 1, 0
                        if piece == len(pieces):
                            sending = False
                            sel.modify(s, selectors.EVENT_READ)
            rss = server.status_kb("VmRSS")
            if rss is None:
                closed = closed or (time.monotonic() - start, "server died")
                break
            peak_seen = max(peak_seen, rss)
            if rss > cap_kb:
                server.kill()
                server.killed_at_cap = True
                closed = (time.monotonic() - start, "server killed at the RSS cap")
                break
        hwm = server.status_kb("VmHWM") if server.alive() else peak_seen
    finally:
        sel.close()
        s.close()
    return {"sent": sent, "peak_kb": max(hwm or 0, peak_seen), "closed": closed,
            "reply": reply, "elapsed": time.monotonic() - start}


def case2(binaries, workdir, args):
    cells = {}
    for kind in KINDS:
        log(f"case 2: {kind}")
        extra = [] if kind == "redis" else ["--max-buffered", "65536"]
        server = Server(kind, binaries, workdir, extra)
        try:
            before = server.status_kb("VmRSS")
            r = endless_multibulk(server, duration=10.0, cap_kb=args.rss_cap_mib * 1024)
            closed = r["closed"]
            cells[kind] = {
                "settings": "defaults" if kind == "redis" else "`--max-buffered 65536`",
                "RSS before": mib(before),
                "bytes the client sent": f"{r['sent'] / MiB:,.1f} MiB "
                                         f"(~{max(0, r['sent'] - 9) // 4105:,} arguments)",
                "peak RSS (VmHWM)": mib(r["peak_kb"]),
                "server closed the connection": (f"after {closed[0]:.3f} s ({closed[1]})"
                                                 if closed else f"no (still open at "
                                                 f"{r['elapsed']:.1f} s)"),
                "reply": f"`{short(r['reply'])}`" if r["reply"] else "none",
            }
        except Exception as e:
            cells[kind] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            server.stop()
    return table("2. Request memory: `*200001` then 200,000 × 4 KiB arguments, never finished",
                 cells)


# ---------------------------------------------------------------------------------------
# Case 3: more clients than file descriptors.

def many_pings(port, count, wait):
    sel = selectors.DefaultSelector()
    results = {}
    latencies = {}  # outcome -> seconds from connect() to the outcome
    held = []
    pending = {}  # sock -> [state, since, buf, launched]
    launched = 0
    start = time.monotonic()
    last_scan = start

    def done(sock, outcome, keep=False):
        results[outcome] = results.get(outcome, 0) + 1
        st = pending.pop(sock, None)
        if st is not None:
            latencies.setdefault(outcome, []).append(time.monotonic() - st[3])
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        if keep:
            held.append(sock)
        else:
            sock.close()

    def classify(buf):
        if buf.startswith(b"+PONG"):
            return "answered `+PONG`"
        if buf.startswith(b"-ERR max number of clients reached"):
            return "refused `-ERR max number of clients reached`"
        return f"other reply `{short(buf, 60)}`"

    try:
        while launched < count or pending:
            now = time.monotonic()
            if now - start > 4 * wait + 30:
                for sock in list(pending):
                    done(sock, "still pending when the bench gave up")
                break
            for _ in range(min(500, count - launched)):
                sock = socket.socket()
                sock.setblocking(False)
                launched += 1
                err = sock.connect_ex((HOST, port))
                if err not in (0, errno.EINPROGRESS):
                    results_key = f"connect failed ({errno.errorcode.get(err, err)})"
                    results[results_key] = results.get(results_key, 0) + 1
                    sock.close()
                    continue
                pending[sock] = ["connecting", now, b"", now]
                sel.register(sock, selectors.EVENT_WRITE)
            for key, _ in sel.select(timeout=0.02):
                sock = key.fileobj
                st = pending.get(sock)
                if st is None:
                    continue
                if st[0] == "connecting":
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        done(sock, f"connect failed ({errno.errorcode.get(err, err)})")
                        continue
                    try:
                        sock.send(PING)
                    except OSError as e:
                        done(sock, f"send failed ({errno.errorcode.get(e.errno, e)})")
                        continue
                    st[0], st[1] = "waiting", time.monotonic()
                    sel.modify(sock, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    done(sock, classify(st[2]) if st[2] else "reset, no reply")
                    continue
                if not data:
                    done(sock, classify(st[2]) if st[2] else "closed, no reply")
                    continue
                st[2] += data
                if b"\r\n" in st[2]:
                    outcome = classify(st[2])
                    done(sock, outcome, keep=outcome.startswith("answered"))
            now = time.monotonic()
            if now - last_scan >= 0.1:
                last_scan = now
                for sock, st in list(pending.items()):
                    if now - st[1] >= wait:
                        done(sock, f"connect not done in {wait:.0f} s" if st[0] == "connecting"
                             else f"no reply in {wait:.0f} s")
        elapsed = time.monotonic() - start
    finally:
        sel.close()
        for sock in list(pending) + held:
            sock.close()
    return results, latencies, elapsed


def listen_overflows():
    """The kernel's count of connections dropped because an accept queue was full."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:])))["ListenOverflows"]
    return 0


FD_OUTCOMES = ("answered `+PONG`", "refused `-ERR max number of clients reached`",
               "closed, no reply", "reset, no reply", "no reply in 5 s",
               "connect not done in 5 s")


def outcome_order(outcome):
    return (FD_OUTCOMES.index(outcome) if outcome in FD_OUTCOMES else len(FD_OUTCOMES), outcome)


def case3(binaries, workdir, args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = args.fd_clients
    if hard < count + 500:
        log(f"case 3: hard RLIMIT_NOFILE {hard} < {count + 500}: using {hard - 500} clients")
        count = hard - 500
    cells = {}
    for kind in KINDS:
        log(f"case 3: {kind}")
        server = Server(kind, binaries, workdir, nofile=args.server_nofile)
        try:
            overflows = listen_overflows()
            results, latencies, elapsed = many_pings(server.port, count, wait=5.0)
            overflows = listen_overflows() - overflows
            time.sleep(0.5)
            text = server.log_text()
            emfile_lines = [line for line in text.splitlines() if "Too many open files" in line]
            emfile = len(emfile_lines)
            if emfile_lines:
                log(f"case 3: {kind}: first 'Too many open files' line: {emfile_lines[0][:200]}")
            alive = server.alive() and ping(server.port).startswith(b"+PONG")
            cell = {}
            for outcome in sorted(set(results) | set(FD_OUTCOMES), key=outcome_order):
                cell[outcome] = f"{results.get(outcome, 0):,}"
            for outcome in FD_OUTCOMES[:2]:
                times = sorted(latencies.get(outcome, []))
                cell[f"{outcome.split()[0]}: median / slowest, from connect()"] = (
                    f"{times[len(times) // 2]:.2f} s / {times[-1]:.2f} s" if times else "—")
            cell["log lines with \"Too many open files\""] = f"{emfile:,}"
            cell["kernel ListenOverflows during the run (SYNs dropped, machine-wide)"] = (
                f"{overflows:,}")
            cell["client run took"] = f"{elapsed:.1f} s"
            cell["server answers PING afterwards"] = "yes" if alive else "no"
            cells[kind] = cell
        except Exception as e:
            cells[kind] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            server.stop()
        time.sleep(1.0)
    return table(f"3. fd exhaustion: server RLIMIT_NOFILE {args.server_nofile}, "
                 f"{count:,} clients send PING, 5 s each", cells)


# ---------------------------------------------------------------------------------------
# Case 4: signals.

class Setter:
    """A client keeping 100-200 SETs in flight."""

    __slots__ = ("sock", "batch", "out", "sent", "replies", "buf", "other", "end", "connected")

    def __init__(self, sock, batch):
        self.sock, self.batch = sock, batch
        self.out = memoryview(b"")
        self.sent = self.replies = 0
        self.buf = b""
        self.other = None
        self.end = None
        self.connected = False


def sets_then_sigterm(server, clients, steady, after, batch_size=100):
    sel = selectors.DefaultSelector()
    setters = []
    value = b"x" * 16
    start = time.monotonic()
    for i in range(clients):
        sock = socket.socket()
        sock.setblocking(False)
        err = sock.connect_ex((HOST, server.port))
        key = b"k%d" % i
        req = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)
        c = Setter(sock, req * batch_size)
        setters.append(c)
        if err not in (0, errno.EINPROGRESS):
            c.end = f"connect failed ({errno.errorcode.get(err, err)})"
            sock.close()
            continue
        sel.register(sock, selectors.EVENT_WRITE, c)
    live = sum(c.end is None for c in setters)
    term_at = None
    exit_at = None

    def finish(c, how):
        c.end = how
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    try:
        while True:
            now = time.monotonic()
            if term_at is None:
                warmed = sum(c.replies > 0 for c in setters)
                if (warmed >= 0.99 * live and now - start >= steady) or now - start > steady + 15:
                    term_at = time.monotonic()
                    os.kill(server.pid, signal.SIGTERM)
                    log(f"case 4: SIGTERM with {warmed} clients answered at least once")
            else:
                if exit_at is None and not server.alive():
                    exit_at = time.monotonic()
                if now - term_at > after or all(c.end is not None for c in setters):
                    break
            for key, mask in sel.select(timeout=0.01):
                c = key.data
                if c.end is not None:
                    continue
                if not c.connected:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(c, f"connect failed ({errno.errorcode.get(err, err)})")
                        continue
                    c.connected = True
                if mask & selectors.EVENT_READ:
                    try:
                        data = c.sock.recv(262144)
                    except BlockingIOError:
                        data = None
                    except OSError as e:
                        finish(c, "reset" if e.errno in (errno.ECONNRESET, errno.EPIPE)
                               else f"recv error ({errno.errorcode.get(e.errno, e)})")
                        continue
                    if data == b"":
                        finish(c, "clean close (EOF)")
                        continue
                    if data:
                        c.buf += data
                        cut = c.buf.rfind(b"\r\n") + 2
                        if cut >= 2:
                            whole, c.buf = c.buf[:cut], c.buf[cut:]
                            n = whole.count(b"\r\n")
                            if c.other is None and whole != b"+OK\r\n" * n:
                                c.other = next(r for r in whole.split(b"\r\n") if r != b"+OK")
                            c.replies += n
                if not c.out and c.sent - c.replies <= batch_size:
                    c.out = memoryview(c.batch)
                    c.sent += batch_size
                if c.out:
                    try:
                        n = c.sock.send(c.out)
                        c.out = c.out[n:]
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        finish(c, "reset" if e.errno in (errno.ECONNRESET, errno.EPIPE)
                               else f"send error ({errno.errorcode.get(e.errno, e)})")
                        continue
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
                if key.events != want:
                    sel.modify(c.sock, want, c)
    finally:
        sel.close()
        for c in setters:
            if c.end is None:
                c.end = "still open when the bench gave up"
                c.sock.close()
    if term_at is None:
        raise RuntimeError("SIGTERM was never sent")
    deadline = term_at + after + 5
    while server.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if exit_at is None and not server.alive():
        exit_at = time.monotonic()
    ends = {}
    for c in setters:
        ends[c.end] = ends.get(c.end, 0) + 1
    return {
        "ends": ends,
        "sent": sum(c.sent - len(c.out) // max(1, len(c.batch) // batch_size) for c in setters),
        "replies": sum(c.replies for c in setters),
        "truncated": sum(bool(c.buf) for c in setters),
        "other": [c.other for c in setters if c.other is not None],
        "exit_after": None if exit_at is None else exit_at - term_at,
        "returncode": server.proc.poll(),
    }


def case4(binaries, workdir, args):
    cells = {}
    for kind in KINDS:
        log(f"case 4: {kind}")
        cell = {}
        server = Server(kind, binaries, workdir)
        try:
            os.kill(server.pid, signal.SIGHUP)
            time.sleep(1.0)
            if server.alive():
                pong = server.ping()
                cell["SIGHUP: survives, answers PING"] = ("yes" if pong.startswith(b"+PONG")
                                                          else f"alive, PING → {short(pong)}")
            else:
                cell["SIGHUP: survives, answers PING"] = (f"no: exited, status "
                                                          f"{exit_status(server.proc.returncode)}")
                server.stop()
                server = Server(kind, binaries, workdir)
            r = sets_then_sigterm(server, args.signal_clients, steady=1.5, after=12.0)
            for how in sorted(set(r["ends"]) | {"clean close (EOF)", "reset"},
                              key=lambda k: (k != "clean close (EOF)", k != "reset", k)):
                cell[f"SIGTERM: clients that saw {how} first"] = f"{r['ends'].get(how, 0):,}"
            cell["SIGTERM: SETs written / replies received"] = f"{r['sent']:,} / {r['replies']:,}"
            cell["SIGTERM: clients left with a truncated reply"] = f"{r['truncated']:,}"
            cell["SIGTERM: replies other than `+OK`"] = (
                f"{len(r['other'])} clients, e.g. `{short(r['other'][0], 60)}`"
                if r["other"] else "none")
            rc = r["returncode"]
            cell["SIGTERM: exit"] = ("still running 17 s after SIGTERM (killed)" if rc is None
                                     else f"status {exit_status(rc)} after "
                                          f"{fmt_time(r['exit_after'])}")
            text = server.log_text()
            marker = "Redis is now ready to exit" if kind == "redis" else "stopped"
            final = [line for line in text.splitlines() if marker in line]
            if final:
                log(f"case 4: {kind}: final line: {final[-1].strip()}")
                line = final[-1].strip()
                line = line[line.index(marker):]
                frames = re.search(r"\bframes: (\d+)", line)
                if frames:
                    answered = int(frames.group(1)) - server.pings
                    cell["SIGTERM: requests the server answered (its stats) = replies received"] = (
                        f"{answered:,} {'=' if answered == r['replies'] else '≠'} "
                        f"{r['replies']:,}")
                cell["SIGTERM: final line"] = f"yes: `{line[:70]}{'…' if len(line) > 70 else ''}`"
            else:
                cell["SIGTERM: final line"] = "no"
            cells[kind] = cell
        except Exception as e:
            cell["error"] = f"{type(e).__name__}: {e}"
            cells[kind] = cell
        finally:
            server.stop()
        time.sleep(1.0)
    return table(f"4. Signals: SIGHUP to an idle server; SIGTERM while "
                 f"{args.signal_clients:,} clients pipeline SETs", cells)


def exit_status(rc):
    if rc is None:
        return "none (running)"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return str(rc)


# ---------------------------------------------------------------------------------------
# Case 5: error text.

ERROR_REQUESTS = [b"*abc\r\n", b"*1\r\n$abc\r\n", b"*1\r\n:5\r\n", b'GET "abc\r\n']


def exchange(port, payload, wait=1.5):
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(payload)
        buf = b""
        end = "still open"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                break
            except OSError as e:
                end = f"reset ({errno.errorcode.get(e.errno, e)})"
                break
            if not data:
                end = "closed"
                break
            buf += data
    return buf, end


def case5(binaries, workdir, args):
    cells = {}
    for kind in KINDS:
        log(f"case 5: {kind}")
        server = Server(kind, binaries, workdir)
        try:
            cell = {}
            for payload in ERROR_REQUESTS:
                reply, end = exchange(server.port, payload)
                cell[f"`{short(payload)}`"] = f"`{short(reply)}` ({end})"
            cells[kind] = cell
        except Exception as e:
            cells[kind] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            server.stop()
    return table("5. Error text: exact reply bytes (then: did the server close?)", cells)


# ---------------------------------------------------------------------------------------
# Case 6: thread per connection, slow readers.

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def server_side_states(server_port, client_ports):
    """State of the server's socket for each client port, from /proc/net/tcp."""
    found = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            lport = int(parts[1].rsplit(":", 1)[1], 16)
            rport = int(parts[2].rsplit(":", 1)[1], 16)
            if lport == server_port and rport in client_ports:
                found[rport] = TCP_STATES.get(parts[3], parts[3])
    return found


def slow_readers(server, limit):
    req = b"GET a\r\n" * 64
    a = socket.create_connection((HOST, server.port), timeout=5)
    b = socket.create_connection((HOST, server.port), timeout=5)
    ports = {a.getsockname()[1]: "never reads", b.getsockname()[1]: "reads 1 byte/s"}
    a.sendall(req)
    b.sendall(req)
    start = time.monotonic()
    b.setblocking(False)
    cut = {}
    b_read = 0
    b_end = None
    next_read = start + 1.0
    try:
        while time.monotonic() - start < limit and len(cut) < 2:
            states = server_side_states(server.port, set(ports))
            now = time.monotonic()
            for port, who in ports.items():
                if who not in cut and states.get(port) != "ESTABLISHED":
                    cut[who] = (now - start, states.get(port, "gone"))
            if now >= next_read and b_end is None:
                next_read += 1.0
                try:
                    data = b.recv(1)
                    if data:
                        b_read += 1
                    else:
                        b_end = (now - start, "EOF")
                except BlockingIOError:
                    pass
                except OSError as e:
                    b_end = (now - start, f"reset ({errno.errorcode.get(e.errno, e)})")
            time.sleep(0.05)
    finally:
        a.close()
        b.close()
    return cut, b_read, b_end


def case6(binaries, workdir, args):
    cells = {}
    limit = 30.0
    for kind in ("before", "now"):
        log(f"case 6: {kind}")
        server = Server(kind, binaries, workdir, ["--mode", "threads", "--idle-timeout-s", "2"])
        try:
            set_value(server.port, MiB)
            cut, b_read, b_end = slow_readers(server, limit)
            cell = {}
            for who in ("never reads", "reads 1 byte/s"):
                if who in cut:
                    cell[f"client that {who}: server closed its side"] = (
                        f"after {cut[who][0]:.1f} s (socket now {cut[who][1]})")
                else:
                    cell[f"client that {who}: server closed its side"] = (
                        f"no, still open after {limit:.0f} s")
            cell["bytes the 1 byte/s client read"] = f"{b_read}"
            cells[kind] = cell
        except Exception as e:
            cells[kind] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            server.stop()
    return table("6. `--mode threads --idle-timeout-s 2`: 64 pipelined `GET` of a 1 MiB value",
                 cells, kinds=("before", "now"))


# ---------------------------------------------------------------------------------------

def table(title, cells, kinds=KINDS, fill="—"):
    rows = []
    for kind in kinds:
        for row in cells.get(kind, {}):
            if row not in rows:
                rows.append(row)
    lines = [f"### {title}", "", "| | " + " | ".join(TITLES[k] for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for row in rows:
        vals = [str(cells.get(k, {}).get(row, fill)).replace("|", "\\|") for k in kinds]
        lines.append(f"| {row} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def mem_total_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / MiB
    return 0


CASES = {1: case1, 2: case2, 3: case3, 4: case4, 5: case5, 6: case6}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="framesim-server built at 96cd3c0")
    parser.add_argument("--now", required=True, help="framesim-server built from main")
    parser.add_argument("--redis", default="redis-server", help="redis-server binary")
    parser.add_argument("--cases", default="1,2,3,4,5,6", help="comma-separated case numbers")
    parser.add_argument("--rss-cap-mib", type=int, default=6144,
                        help="kill a server whose RSS passes this (cases 1 and 2)")
    parser.add_argument("--flood-s", type=float, default=8.0,
                        help="how long case 1 pipelines GETs and samples RSS")
    parser.add_argument("--fd-clients", type=int, default=15000)
    parser.add_argument("--server-nofile", type=int, default=5000)
    parser.add_argument("--signal-clients", type=int, default=1000)
    args = parser.parse_args()
    cases = [int(c) for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            parser.error(f"unknown case {c}")
    binaries = {"before": os.path.abspath(args.before), "now": os.path.abspath(args.now),
                "redis": args.redis}
    for kind in ("before", "now"):
        if not os.access(binaries[kind], os.X_OK):
            parser.error(f"--{kind}: {binaries[kind]} is not an executable")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    atexit.register(kill_children)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    redis_version = subprocess.run([args.redis, "--version"], capture_output=True, text=True,
                                   timeout=10).stdout.split(" sha=")[0].strip()
    started = datetime.datetime.now()
    header = [
        "## Hostile clients",
        "",
        f"{started:%Y-%m-%d %H:%M}, {platform.node() or 'this host'}: "
        f"{os.cpu_count()} cores, {mem_total_gib():.0f} GiB, Linux {platform.release()}, "
        f"{redis_version}. "
        f"Load average at start {os.getloadavg()[0]:.1f}: times move with the machine's load "
        "(other builds share the cores); memory numbers much less.",
        f"BEFORE `{binaries['before']}`, NOW `{binaries['now']}`.",
        "",
    ]
    print("\n".join(header), flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="hostile-clients-") as workdir:
            for c in cases:
                t0 = time.monotonic()
                text = CASES[c](binaries, workdir, args)
                print(text + f"\n_case {c}: {time.monotonic() - t0:.0f} s, load average "
                      f"{os.getloadavg()[0]:.1f}_\n", flush=True)
    finally:
        kill_children()


if __name__ == "__main__":
    main()
