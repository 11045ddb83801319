#!/usr/bin/env python3
"""ckptd's sd_notify protocol, seen from a NOTIFY_SOCKET listener as systemd would see it.

Type=notify and WatchdogSec= in ckptd.service rely on it:
  - READY=1 comes once, from ckptd's own pid, and only when the socket accepts connections;
  - STATUS= describes the daemon;
  - with WATCHDOG_USEC set and WATCHDOG_PID = ckptd's pid, WATCHDOG=1 comes regularly within
    WATCHDOG_USEC (sd-event aims at 1/2 to 3/4 of it); with WATCHDOG_PID naming another
    process, never (negative control). That a real systemd with WatchdogSec= never kills
    ckptd is checked in test-timer.sh (NRestarts=0);
  - SIGHUP (systemctl reload) gives RELOADING=1, then READY=1;
  - SIGTERM gives STOPPING=1 and exit status 0.
Needs root (ckptd's state directory); runs ckptd with --config-dir/--state-dir/--socket in a
temporary directory.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

CKPTD = os.environ["CKPTD"]
CKPTCTL = os.environ["CKPTCTL"]
WATCHDOG_USEC = 400_000  # pings every 200-300 ms


def fail(msg):
    print(f"FAIL (test-notify.py): {msg}", file=sys.stderr)
    sys.exit(1)


def info(msg):
    print(f"test-notify.py: {msg}", flush=True)


class Listener:
    """The service manager's end: a datagram socket that also learns each sender's pid."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []  # (monotonic time, sender pid, {field: value})

    def receive(self, seconds, until=None):
        """Collects messages for up to `seconds`, or until `until(fields)` is true."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                return None
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid, _, _ = struct.unpack("iII", cdata[:12])
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), pid, fields))
            if until and until(fields):
                return fields

    def with_field(self, key):
        return [(t, pid, f) for t, pid, f in self.messages if key in f]


def start_ckptd(tmp, notify_path, watchdog_pid):
    """fork + exec, so that the child can name its own pid in WATCHDOG_PID ("self")."""
    args = [CKPTD, "--config-dir", f"{tmp}/conf", "--state-dir", f"{tmp}/state",
            "--socket", f"{tmp}/io.ckptd.Manager"]
    log = open(f"{tmp}/ckptd.log", "ab")
    pid = os.fork()
    if pid == 0:
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "WATCHDOG_"))}
            env["NOTIFY_SOCKET"] = notify_path
            env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
            env["WATCHDOG_PID"] = str(os.getpid() if watchdog_pid == "self" else watchdog_pid)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            os.execve(CKPTD, args, env)
        finally:
            os._exit(127)
    log.close()
    return pid


def stop_ckptd(pid, timeout=10):
    """SIGTERM, then the exit status (SIGKILL and failure after the timeout)."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    fail(f"ckptd did not exit within {timeout} s of SIGTERM")


def run(tmp, name, watchdog_pid):
    notify_path = f"{tmp}/notify-{name}"
    listener = Listener(notify_path)
    pid = start_ckptd(tmp, notify_path, watchdog_pid)
    try:
        ready = listener.receive(10, until=lambda f: f.get("READY") == "1")
        if ready is None:
            fail(f"[{name}] no READY=1 within 10 s; ckptd's log:\n" + open(f"{tmp}/ckptd.log").read())
        # READY=1 promises a working socket: connect at once, no retry.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(f"{tmp}/io.ckptd.Manager")
        except OSError as e:
            fail(f"[{name}] READY=1 was sent but the socket refuses connections: {e}")
        probe.close()
        status = subprocess.run([CKPTCTL, "--socket", f"{tmp}/io.ckptd.Manager", "status"],
                                capture_output=True, text=True, timeout=20)
        if status.returncode != 0:
            fail(f"[{name}] ckptctl status after READY=1 failed: {status.stderr}")
        # SIGHUP: configuration reloaded, announced with RELOADING=1 and then READY=1 again.
        os.kill(pid, signal.SIGHUP)
        if listener.receive(10, until=lambda f: f.get("READY") == "1") is None:
            fail(f"[{name}] no READY=1 within 10 s of SIGHUP")
        listener.receive(2.0)  # several watchdog periods of pings (or none)
        code = stop_ckptd(pid)
        listener.receive(2, until=lambda f: f.get("STOPPING") == "1")
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        except ProcessLookupError:
            pass
        raise
    finally:
        listener.sock.close()
    return pid, code, listener


def main():
    if os.geteuid() != 0:
        fail("needs root")
    tmp = tempfile.mkdtemp(prefix="ckptd-test-notify.")
    try:
        os.makedirs(f"{tmp}/conf/containers.d")
        os.makedirs(f"{tmp}/state")

        info("WATCHDOG_PID = ckptd's pid: READY=1, STATUS=, RELOADING=1, WATCHDOG=1 pings, STOPPING=1")
        pid, code, listener = run(tmp, "watchdog", "self")
        senders = {p for _, p, _ in listener.messages}
        if senders != {pid}:
            fail(f"notifications came from pids {senders}, not only from ckptd ({pid}) (NotifyAccess=main)")
        order = [k for _, _, f in listener.messages for k in ("READY", "RELOADING") if k in f]
        if order != ["READY", "RELOADING", "READY"]:
            fail(f"READY=1 at start, RELOADING=1 and READY=1 on SIGHUP expected; got {order}")
        statuses = [f["STATUS"] for _, _, f in listener.with_field("STATUS")]
        if not statuses or not any("Idle" in s for s in statuses):
            fail(f"no STATUS= saying the daemon is idle: {statuses}")
        pings = [t for t, _, f in listener.with_field("WATCHDOG") if f["WATCHDOG"] == "1"]
        if len(pings) < 4:
            fail(f"{len(pings)} WATCHDOG=1 in 2 s, expected at least 4 (every {WATCHDOG_USEC // 2000} ms)")
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        median = gaps[len(gaps) // 2]
        # sd-event aims at 1/2 to 3/4 of WATCHDOG_USEC. On a loaded test machine a gap may
        # stretch; typically beyond the period, or any gap beyond twice it, means a blocked loop.
        if median > WATCHDOG_USEC / 1e6:
            fail(f"WATCHDOG=1 every {median * 1000:.0f} ms (median), more than WATCHDOG_USEC")
        if gaps[-1] > 2 * WATCHDOG_USEC / 1e6:
            fail(f"WATCHDOG=1 pings {gaps[-1] * 1000:.0f} ms apart: the event loop was blocked")
        if not listener.with_field("STOPPING"):
            fail("no STOPPING=1 after SIGTERM")
        if code != 0:
            fail(f"exit status {code} after SIGTERM")
        info(f"{len(pings)} pings, median gap {median * 1000:.0f} ms, largest {gaps[-1] * 1000:.0f} ms; "
             f"statuses: {sorted(set(statuses))}")

        info("WATCHDOG_PID = another process: no WATCHDOG=1")
        _, code, listener = run(tmp, "other-pid", 1)
        if listener.with_field("WATCHDOG"):
            fail("WATCHDOG=1 sent although WATCHDOG_PID names another process")
        if not listener.with_field("READY") or code != 0:
            fail("READY=1 or a clean exit missing in the negative control")
        info("ok")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
