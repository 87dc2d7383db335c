#!/usr/bin/python3
"""postie-smtpd's page faults per session (doc/bench.md, profile notes:
a page fault costs ~12 us on a virtual machine, about as much as ten
system calls). In the static musl build, a session that queues one short
message (EHLO, MAIL, two RCPT, DATA, QUIT) costs at most 27 minor faults,
postie-smtpd's and those of the postie-queue it waits for together (the
session is started with posix_spawn, so that none of the test's pages
are copied into it). It took 30 while postie-smtpd's input, output and
queue buffers sat between .data and its small variables, postie-queue's
too, and the environment given to postie-queue was a malloc'd array of
its own size class (a mapping and a fault more). Not a timing test: the
count does not depend on the load. A glibc build (make SAN=1) has other
start-up costs: the count is not checked there. The environment given
to postie-queue is a static array for up to 254 variables: a session
with 300 still queues and reports the queue id (the array is then
malloc'd)."""
import os, socket, statistics, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import recv_to_eof, smtpd_instance

exe = prog("postie-smtpd")

home = smtpd_instance("smtpd-faults")
env = env_for(home, PROTO="TCP", TCPREMOTEIP="127.0.0.1", TCPREMOTEPORT="4242",
              TCPLOCALIP="127.0.0.1", TCPLOCALPORT="25")
lines = [b"EHLO client.example", b"MAIL FROM:<a@client.example>", b"RCPT TO:<u@remote.example>",
         b"RCPT TO:<postmaster@local.example>", b"DATA", b"Subject: faults\r\n\r\nhello\r\n.", b"QUIT"]


def session(env=env):
    """One session: (its replies, its exit code, minor faults of
    postie-smtpd and its reaped children)."""
    a, b = socket.socketpair()
    a.settimeout(20)
    pid = os.posix_spawn(exe, [exe], env, file_actions=[
        (os.POSIX_SPAWN_DUP2, b.fileno(), 0), (os.POSIX_SPAWN_DUP2, b.fileno(), 1),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    b.close()
    out = b""
    try:
        out = a.recv(4096)
        for l in lines:
            a.sendall(l + b"\r\n")
            out += a.recv(4096)
    except OSError:
        pass
    out += recv_to_eof(a)
    a.close()
    _, st, ru = os.wait4(pid, 0)
    return out, os.waitstatus_to_exitcode(st), ru.ru_minflt


res = [session() for k in range(30)]
bad = [(rc, out) for out, rc, f in res if rc != 0 or b"250 2.0.0 Ok: queued as" not in out]
queued = sum(len(os.listdir(os.path.join(home, "queue", "todo", d))) for d in os.listdir(os.path.join(home, "queue", "todo")))
check("smtpd-faults-queued", not bad and queued == 30, "%d queued, bad sessions: %r" % (queued, bad[:2]))
faults = [f for out, rc, f in res]
med = statistics.median(faults)
print("# postie-smtpd (+ postie-queue): minor page faults per session: median %s, min %d, max %d" % (med, min(faults), max(faults)))
if static_musl(exe):
    check("smtpd-faults-at-most-27", med <= 27, "median %s over 30 sessions: %r" % (med, faults))
else:
    skip("smtpd-faults-at-most-27", "not a static musl build (%s)" % BUILD)

big = dict(env, **{"X_FAULTS_%d" % k: "x" for k in range(300)})
out, rc, f = session(big)
check("smtpd-faults-big-environment", rc == 0 and b"250 2.0.0 Ok: queued as 1" in out, "exit %d, %r" % (rc, out[-200:]))
done()
