#!/usr/bin/env python3
"""status-latency.py SOCKET [N]: calls io.ckptd.Manager.Status N times (default 20) over one raw
Varlink connection each and prints the round trips in ms (min median max), then exits 0. The
time of a client process's start-up is not in these numbers: only the daemon's answer is."""
import socket
import statistics
import sys
import time

path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
times = []
for _ in range(n):
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b'{"method":"io.ckptd.Manager.Status","parameters":{}}\0')
    buf = b""
    while b"\0" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("status-latency: the daemon closed the connection")
        buf += d
    s.close()
    times.append((time.monotonic() - t0) * 1000)
print("%.2f %.2f %.2f" % (min(times), statistics.median(times), max(times)))
