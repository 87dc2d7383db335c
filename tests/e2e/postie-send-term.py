#!/usr/bin/python3
"""postie-send's SIGTERM: stops starting deliveries, waits for running ones
(up to control/termwait), exits 0; the spawners' delivery timeout; one
postie-send per queue; postie-send reaps its spawners before it exits."""
import ctypes, os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

# orphans come to us, not to init: a spawner postie-send left unreaped
# stays visible as our zombie instead of being reaped by init at once
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def spawners(ppid):
    """pids of postie-send's children (its two spawners)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st.rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid and ("postie-lspawn" in st or "postie-rspawn" in st):
                out.append(int(d))
    return out


def left(pids):
    """those of pids still there, zombies included (and reap ours)."""
    out = []
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                out.append(f.read().strip())
        except OSError:
            continue
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
    return out

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("send-term", "no /usr/sbin/smtp-sink (package postfix)")
    done()
base = tmpdir("send-term")
slow = Sink(os.path.join(base, "slow"), ["-w", "2"])
i = Instance("send-term", control={"locals": "example.org", "smtproutes": "slow.test:127.0.0.1:%d\n" % slow.port})
i.start()

# a second postie-send on the same queue refuses to run
r = subprocess.run([prog("postie-send")], env=i.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
check("one-send-per-queue", r.returncode == 111 and b"another postie-send" in r.stderr, r.stderr)

q = i.inject("alice@example.org", ["a@slow.test"])
i.wait(lambda: ("starting delivery " + q) in i.logtext(), 10)
kids = spawners(i.proc.pid)
check("spawners-found", len(kids) == 2, repr(kids))
t = time.time()
i.signal(signal.SIGTERM)
q2 = i.inject("alice@example.org", ["bob@example.org"])  # not started any more
rc = i.proc.wait(timeout=30)
took = time.time() - t
i.proc = None
i.logf.close()
log = i.logtext()
check("sigterm-exit-0", rc == 0, "rc=%r" % rc)
l = left(kids)
check("sigterm-spawners-reaped", kids and not l, repr(l))
check("sigterm-waited-for-delivery", took >= 1.0 and (": success: ") in log.split("starting delivery " + q, 1)[-1], "%.2fs" % took)
check("sigterm-result-recorded", not any(n == q for n, _ in queue_files(i.home, "info")))
check("sigterm-started-nothing-new", ("starting delivery " + q2) not in log)
check("sigterm-new-message-kept", len(queue_files(i.home, "todo")) + len(queue_files(i.home, "info")) >= 1)

# termwait bounds the wait; the message stays queued
slow.stop()
slower = Sink(os.path.join(base, "slower"), ["-w", "6"])
i.control("smtproutes", "slow.test:127.0.0.1:%d\n" % slower.port)
i.control("termwait", "1")
i.start()
check("restart-delivers-kept-message", i.wait(lambda: len(i.mails("bob")) == 1, 10))
q3 = i.inject("alice@example.org", ["b@slow.test"])
i.wait(lambda: ("starting delivery " + q3) in i.logtext(), 10)
kids = spawners(i.proc.pid)
t = time.time()
rc = i.stop()
took = time.time() - t
check("termwait-bounds-exit", rc == 0 and took < 4, "rc=%r %.2fs" % (rc, took))
l = left(kids)
check("termwait-spawners-reaped", len(kids) == 2 and not l, repr(l))
check("termwait-message-still-queued", any(n == q3 for n, _ in queue_files(i.home, "info")))

# the spawners' delivery timeout
i.control("termwait", "60")
i.control("timeoutremote", "1")
i.start()
i.signal(signal.SIGALRM)
check("delivery-timeout", i.wait(lambda: "delivery timed out after 1 seconds" in i.logtext(), 15), i.logtext()[-600:])
check("timeout-is-temporary", any(n == q3 for n, _ in queue_files(i.home, "info")) and len(i.mails("alice")) == 0)
i.stop()
slower.stop()
done()
