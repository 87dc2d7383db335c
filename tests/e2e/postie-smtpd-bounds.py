#!/usr/bin/python3
"""postie-smtpd's bounds on what a client or a queue program can hold:
control/timeoutqueue (a hung queue program is killed, 451, the session
goes on), control/maxjunkcmds (NOOP, RSET, VRFY, HELP, HELO/EHLO again,
RCPT over maxrcpt), control/timeoutsession (the whole session)."""
import os, socket, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *


def gone(pid):
    """The process is gone, or a zombie (killed, not yet reaped by init)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith("State:"):
                    return "Z" in l.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        # gone between the open and the read: the kernel says ESRCH
        return True
    return True


def waitgone(pids, timeout=3):
    end = time.time() + timeout
    while time.time() < end:
        if all(gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


# --- timeoutqueue: queue programs that hang
home = smtpd_instance("smtpd-bounds-queue", {"timeoutqueue": "2"})
pidfile = os.path.join(home, "qpids")
scripts = {
    # reads the message, then hangs in a child of its own
    "hang": "#!/bin/sh\ncat >/dev/null\nsleep 1000 &\necho $$ $! >%s\nwait\n" % pidfile,
    # reads nothing at all: our writes to it fill the pipe
    "deaf": "#!/bin/sh\nsleep 1000 &\necho $$ $! >%s\nwait\n" % pidfile,
}
for name, text in scripts.items():
    path = os.path.join(home, "queue-" + name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    L = Launcher(home, env={"POSTIE_QUEUE": path})
    c = Raw(L.port)
    c.cmd("EHLO x.example")
    c.cmd("MAIL FROM:<a@x.example>")
    c.cmd("RCPT TO:<u@local.example>")
    r = c.cmd("DATA")
    check("queue-%s-354" % name, r[0] == 354, repr(r))
    body = b"Subject: t\r\n\r\n" + (b"x" * 998 + b"\r\n") * (400 if name == "deaf" else 1) + b".\r\n"
    t0 = time.time()
    threading.Thread(target=c.send, args=(body,), daemon=True).start()
    r = c.reply()
    el = time.time() - t0
    check("queue-%s-451" % name, r[0] == 451 and r[1][0].startswith("4.3.0"), repr(r))
    check("queue-%s-in-time" % name, 1.5 < el < 20, "%.1f s" % el)
    pids = []
    try:
        pids = [int(x) for x in open(pidfile).read().split()]
    except (OSError, ValueError):
        pass
    check("queue-%s-killed" % name, len(pids) == 2 and waitgone(pids), repr(pids))
    check("queue-%s-nothing-queued" % name, queued(home) == [])
    r = c.cmd("RSET")
    check("queue-%s-rset-after" % name, r[0] == 250, repr(r))
    r = c.cmd("NOOP")
    check("queue-%s-noop-after" % name, r[0] == 250, repr(r))
    r = c.cmd("QUIT")
    check("queue-%s-quit-after" % name, r[0] == 221, repr(r))
    c.close()
    L.wait_sessions(1)
    check("queue-%s-logged" % name, "reason=queue program timed out" in L.logtext(), L.logtext())
    L.close()

# --- maxjunkcmds
home = smtpd_instance("smtpd-bounds-junk", {"maxjunkcmds": "5", "maxrcpt": "1"})
L = Launcher(home)
c = Raw(L.port)
c.cmd("EHLO x.example")
rs = [c.cmd(x)[0] for x in ("NOOP", "RSET", "VRFY u", "HELP", "EHLO y.example")]
check("junk-5-ok", rs == [250, 250, 252, 214, 250], repr(rs))
r = c.cmd("NOOP")
check("junk-6th-421", r[0] == 421 and r[1][0].startswith("4.7.0") and "too many commands" in r[1][0], repr(r))
check("junk-closed", c.reply()[0] == 0)
c.close()
# an accepted message clears the count; RCPT over maxrcpt counts
c = Raw(L.port)
c.cmd("HELO x.example")
for i in range(4):
    c.cmd("NOOP")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
r = c.cmd("RCPT TO:<v@local.example>")
check("junk-rcpt-452", r[0] == 452, repr(r))
c.cmd("DATA")
r = c.cmd("Subject: t\r\n\r\nhello\r\n.")
check("junk-message-accepted", r[0] == 250, repr(r))
rs = [c.cmd("NOOP")[0] for i in range(5)]
check("junk-count-cleared", rs == [250] * 5, repr(rs))
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
r = c.cmd("RCPT TO:<v@local.example>")
check("junk-rcpt-452-counted", r[0] == 421 and "too many commands" in r[1][0], repr(r))
c.close()
L.wait_sessions(2)
check("junk-logged", L.logtext().count("end=toomanycommands") == 2, L.logtext())
L.close()

# --- timeoutsession
home = smtpd_instance("smtpd-bounds-session", {"timeoutsession": "2"})
L = Launcher(home)
idle = Raw(L.port)  # sends nothing after EHLO: read once the NOOPs are done
idle.cmd("EHLO x.example")
idlet0 = time.time()
c = Raw(L.port)
t0 = time.time()
c.cmd("EHLO x.example")
r = (0, [])
while time.time() - t0 < 5:
    r = c.cmd("NOOP")
    if r[0] != 250:
        break
    time.sleep(0.3)
el = time.time() - t0
check("session-noops-421", r[0] == 421 and r[1][0].startswith("4.4.2") and "session too long" in r[1][0], repr(r))
check("session-noops-in-time", 1.8 < el < 15, "%.1f s" % el)
c.close()
r = idle.reply()  # nothing sent: the deadline passes while it waits
el = time.time() - idlet0
check("session-idle-421", r[0] == 421 and "session too long" in r[1][0], repr(r))
check("session-idle-in-time", 1.5 < el < 15, "%.1f s" % el)
idle.close()
# a DATA under way when the session's time is up is not cut
c = Raw(L.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
r = c.cmd("DATA")
c.send(b"Subject: slow\r\n\r\n")
for i in range(5):
    time.sleep(0.5)
    c.send(b"line %d\r\n" % i)
r = c.cmd(".")
check("session-data-not-cut", r[0] == 250, repr(r))
check("session-data-queued", len(queued(home)) == 1)
r = c.cmd("NOOP")
check("session-after-data-421", r[0] == 421 and "session too long" in r[1][0], repr(r))
c.close()
L.wait_sessions(3)
check("session-logged", L.logtext().count("end=sessiontoolong") == 3, L.logtext())
L.close()
done()
