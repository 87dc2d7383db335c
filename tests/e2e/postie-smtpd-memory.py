#!/usr/bin/python3
"""postie-smtpd's memory stays bounded whatever the client sends: a 100 MB
command line with no line end, a 100 MB header line, 1,000,000 RCPT
commands. Each gets its error (500 / 452) and the process's peak resident
memory (VmHWM) stays under a few MB. Data is streamed: nothing here holds
100 MB either."""
import os, socket, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

LIMIT_KB = 4096
MB100 = 100 * 1024 * 1024
# 452 replies count as junk commands (control/maxjunkcmds): lifted here,
# where what is measured is memory.
home = smtpd_instance("smtpd-memory", {"maxjunkcmds": "10000000"})
L = Launcher(home)


def vmhwm(pid):
    try:
        for l in open("/proc/%d/status" % pid):
            if l.startswith("VmHWM:"):
                return int(l.split()[1])
    except OSError:
        return None


def stream(sock, head, byte, n, tail):
    sock.sendall(head)
    chunk = byte * (1 << 20)
    left = n
    while left > 0:
        k = min(left, len(chunk))
        sock.sendall(chunk[:k])
        left -= k
    sock.sendall(tail)


def memcheck(name, pid):
    if SAN:
        skip(name, "memory is meaningless under sanitizers")
        return
    h = vmhwm(pid)
    print("# %s: VmHWM %s kB" % (name, h))
    check(name, h is not None and h < LIMIT_KB, "VmHWM %s kB" % h)


# A 100 MB command line: answered and closed once it is 64 KiB past the
# limit (it is not read to its end).
c = Raw(L.port)
pid = L.pids[-1]
c.cmd("EHLO x.example")
t0 = time.time()
peak = [None]


def watch():
    # VmHWM is the peak so far: the last value read before the process
    # ends is its peak for the session
    while True:
        h = vmhwm(pid)
        if h is None:
            return
        peak[0] = h
        time.sleep(0.01)


w = threading.Thread(target=watch, daemon=True)
w.start()
try:
    stream(c.s, b"NOOP ", b"x", MB100, b"\r\n")
except OSError:
    pass
r = c.reply()
check("100mb-command-line-500", r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
r = c.reply()
check("100mb-command-line-closed", r[0] == 421 and c.reply()[0] == 0, repr(r))
print("# 100 MB command line: %.1fs" % (time.time() - t0))
c.close()
w.join(10)
if SAN:
    skip("100mb-command-line-memory", "memory is meaningless under sanitizers")
else:
    print("# 100mb-command-line-memory: VmHWM %s kB" % peak[0])
    check("100mb-command-line-memory", peak[0] is not None and peak[0] < LIMIT_KB, "VmHWM %s kB" % peak[0])

c = Raw(L.port)
pid = L.pids[-1]
c.cmd("EHLO x.example")
t0 = time.time()
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
stream(c.s, b"X-Long: ", b"y", MB100, b"\r\nSubject: long\r\n\r\nbody\r\n.\r\n")
r = c.reply()
check("100mb-header-line-554", r[0] == 554 and r[1][0].startswith("5.6.0"), repr(r))
check("100mb-header-line-nothing-queued", queued(home) == [])
print("# 100 MB header line: %.1fs" % (time.time() - t0))
memcheck("100mb-header-line-memory", pid)

# 1,000,000 RCPT commands, pipelined: the first 100 (control/maxrcpt)
# are accepted, every other one gets 452.
N = 1000000
t0 = time.time()
c.cmd("MAIL FROM:<a@x.example>")
counts = {}
lock = threading.Lock()


def reader():
    left = b""
    n = 0
    while n < N:
        d = c.s.recv(1 << 20)
        if not d:
            break
        lines = (left + d).split(b"\r\n")
        left = lines.pop()
        for l in lines:
            k = l[:9]
            counts[k] = counts.get(k, 0) + 1
        n += len(lines)


t = threading.Thread(target=reader)
t.start()
batch = b"".join(b"RCPT TO:<user%d@local.example>\r\n" % (i % 1000) for i in range(10000))
for i in range(N // 10000):
    c.s.sendall(batch)
t.join(120)
check("1m-rcpt-replies", counts == {b"250 2.1.5": 100, b"452 4.5.3": N - 100}, repr(counts))
print("# 1,000,000 RCPT: %.1fs" % (time.time() - t0))
memcheck("1m-rcpt-memory", pid)
c.cmd("DATA")
c.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
r = c.reply()
q = queued(home)
check("1m-rcpt-message-has-100", r[0] == 250 and len(q) == 1 and len(q[0][3]) == 100, repr(r))
memcheck("session-memory", pid)
c.cmd("QUIT")
c.close()
done()
