#!/usr/bin/env python3
"""hostile-client.py: clients that misbehave, for test-hostile-clients.sh.

  flood SOCKET N READY STOP   opens N connections and holds them without a word; writes
                              "opened=X" to READY once done, waits until the file STOP
                              exists (at most 120 s), then prints "open=K closed=M": how
                              many the daemon kept and how many it closed.
  noread SOCKET N GO          sends N GetInterfaceDescription calls, reads nothing until the
                              file GO exists (at most 120 s), then reads: prints "replies=R
                              end=ALL|EOF|RESET|TIMEOUT".
"""
import os
import socket
import sys
import time


def flood(path, n, ready, stop):
    socks, failed = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(path)
            socks.append(s)
        except OSError:
            failed += 1
            s.close()
    with open(ready + ".tmp", "w") as f:
        f.write("opened=%d failed=%d\n" % (len(socks), failed))
    os.rename(ready + ".tmp", ready)
    deadline = time.monotonic() + 120
    while not os.path.exists(stop) and time.monotonic() < deadline:
        time.sleep(0.05)
    still_open = closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            closed += 1 if d == b"" else 0
            still_open += 0 if d == b"" else 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            closed += 1
    print("open=%d closed=%d" % (still_open, closed))


def noread(path, n, go):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    call = b'{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.ckptd.Manager"}}\0'
    try:
        s.sendall(call * n)
    except OSError:
        pass
    deadline = time.monotonic() + 120
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
    s.settimeout(3)
    buf, replies, end = b"", 0, "TIMEOUT"
    try:
        while replies < n:
            d = s.recv(1 << 20)
            if not d:
                end = "EOF"
                break
            buf += d
            replies += buf.count(b"\0")
            buf = buf[buf.rfind(b"\0") + 1:]
    except socket.timeout:
        pass
    except OSError:
        end = "RESET"
    if replies == n:
        end = "ALL"
    print("replies=%d end=%s" % (replies, end))


if __name__ == "__main__":
    if sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "noread":
        noread(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: see the docstring")
