#!/usr/bin/env python3
"""Records what redis-server answers to each bad input of redis_errors.txt.

Usage: record_redis_errors.py PORT < inputs > redis_errors.txt

Each input line is escaped text (\\\\, \\r, \\n, \\t, \\xHH), optionally followed
by a tab and a padding `N*C` (N more bytes C, for inputs over a limit). Each output line is
the input line, a tab, and every byte redis-server wrote back before it closed the
connection (or went quiet for a second), escaped the same way. server/tests/redis_errors.rs sends the
same inputs to framesim-server and compares the bytes.
"""
import codecs
import socket
import sys


def escape(b: bytes) -> str:
    """Printable ASCII as is; backslash, CR, LF, tab and everything else escaped."""
    named = {0x5C: "\\\\", 0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t"}
    return "".join(
        named.get(c, chr(c) if 0x20 <= c < 0x7F else f"\\x{c:02x}") for c in b
    )


def ask(port: int, data: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(1.0)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def main() -> None:
    port = int(sys.argv[1])
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        literal, _, pad = line.partition("\t")
        data = codecs.escape_decode(literal)[0]
        if pad:
            count, byte = pad.split("*")
            data += byte.encode() * int(count)
        print(f"{literal}\t{pad or '-'}\t{escape(ask(port, data))}")


if __name__ == "__main__":
    main()
