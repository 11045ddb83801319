#!/usr/bin/env python3
"""varlink-raw.py SOCKET: sends raw bytes from stdin (as given: frames end with NUL) and prints
every reply, one JSON object per line, until the daemon closes or 2 s pass without data."""
import socket
import sys

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(2)
try:
    s.sendall(sys.stdin.buffer.read())
except (BrokenPipeError, ConnectionResetError):
    pass
buf = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("EOF")
            break
        buf += d
        while b"\0" in buf:
            m, buf = buf.split(b"\0", 1)
            print(m.decode())
except socket.timeout:
    print("TIMEOUT")
except ConnectionResetError:
    print("RESET")
