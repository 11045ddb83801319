#!/usr/bin/env python3
"""varlink-raw.py SOCKET [N]: sends the raw bytes of stdin (frames end with NUL, as given) and
prints every reply, one JSON object per line, until N replies came, the daemon closed the
connection (prints EOF) or 2 s passed without data (prints TIMEOUT)."""
import socket
import sys

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(2)
want = int(sys.argv[2]) if len(sys.argv) > 2 else None
try:
    s.sendall(sys.stdin.buffer.read())
except (BrokenPipeError, ConnectionResetError):
    pass
buf = b""
replies = []
end = None
try:
    while want is None or len(replies) < want:
        d = s.recv(65536)
        if not d:
            end = "EOF"
            break
        buf += d
        while b"\0" in buf:
            m, buf = buf.split(b"\0", 1)
            replies.append(m.decode())
except socket.timeout:
    end = "TIMEOUT"
except ConnectionResetError:
    end = "RESET"
print("\n".join(replies + ([end] if end else [])))
