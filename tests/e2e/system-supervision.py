#!/usr/bin/python3
"""s6 keeps postie running: kill -9 of the smtpd service's processes, and s6
restarts it and the next connection works; kill -9 of postie-send with mail
queued, and after s6 restarts it every message is delivered."""
import os, signal, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

CHECKS = ["smtpd-restarted", "smtpd-works-after-kill", "send-restarted", "send-delivers-all"]
need = missing(["postie-setup", "postie-users", "postie-tcpserver", "postie-tcpaccess", "postie-smtpd",
                "postie-queue", "postie-send", "postie-lspawn", "postie-local"])
if need:
    for c in CHECKS:
        skip(c, "missing programs: " + " ".join(need))
    done()

base = scratch("supervision")
home = os.path.join(base, "inst")
ports = (free_port(), free_port(), free_port())
r = setup(home, ports, me="a.example")
check("setup", r.returncode == 0, r.stderr.decode())
add_user(home, "alice", "alice-pw")
# One delivery at a time, so that the kill below lands in the middle.
write(os.path.join(home, "control", "concurrencylocal"), "1\n")
sv = Supervised(home)


def restarted(name, old):
    """The service runs again, under a new pid, and is ready."""
    return wait_for(lambda: sv.pid(name) not in (-1, old) and sv.is_ready(name), 15)


def subjects():
    out = set()
    for m in maildir_messages(home, "alice"):
        for l in m.split(b"\n"):
            if l.startswith(b"Subject: "):
                out.add(l[9:].strip().decode())
    return out


try:
    check("ready", sv.wait_ready(), "services not ready")

    # kill -9 of the smtpd service: its postie-tcpserver and any session.
    old = sv.pid("smtpd")
    s = smtplib.SMTP("127.0.0.1", ports[0], timeout=10)     # a session in progress
    s.ehlo("x")
    os.killpg(old, signal.SIGKILL) if os.getpgid(old) == old else os.kill(old, signal.SIGKILL)
    new = restarted("smtpd", old)
    check("smtpd-restarted", new, "pid still %d" % sv.pid("smtpd"))
    try:
        with smtplib.SMTP("127.0.0.1", ports[0], timeout=10) as c:
            c.sendmail("x@example.org", ["alice@a.example"], "Subject: after-kill\r\n\r\nx\r\n")
        check("smtpd-works-after-kill", True)
    except (OSError, smtplib.SMTPException) as e:
        check("smtpd-works-after-kill", False, repr(e))
    try:
        s.close()
    except Exception:
        pass
    check("delivered-after-kill", wait_for(lambda: "after-kill" in subjects(), 20), repr(subjects()))

    # Queue N messages while postie-send is down, start it, kill -9 it in
    # the middle of the work: after s6 restarts it, all N are delivered.
    N = 60
    sv.ctl("send", "-d")
    wait_for(lambda: sv.state("send") and not sv.state("send")[0], 10)
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=20) as c:
        for i in range(N):
            c.sendmail("x@example.org", ["alice@a.example"], "Subject: m%d\r\n\r\nmessage %d\r\n" % (i, i))
    queued = len(queue_files(home))
    check("queued-while-send-down", queued == N, "%d in queue/todo" % queued)
    sv.ctl("send", "-u")
    wait_for(lambda: sv.pid("send") > 0, 10)
    old = sv.pid("send")
    wait_for(lambda: len(subjects()) > 1, 20, 0.005)
    before = len(subjects())
    try:
        os.kill(old, signal.SIGKILL)
    except ProcessLookupError:
        pass
    new = restarted("send", old)
    check("send-restarted", new, "pid still %d" % sv.pid("send"))
    check("send-killed-mid-work", before < N, "all %d delivered before the kill" % N)
    want = {"m%d" % i for i in range(N)}
    got = wait_for(lambda: want <= subjects() and subjects(), 40)
    check("send-delivers-all", want <= subjects(), "missing %r (killed after %d)" % (sorted(want - subjects())[:10], before))
    check("send-queue-empty", wait_for(lambda: not queue_files(home), 20), "%d left in queue/todo" % len(queue_files(home)))
finally:
    ok = sv.stop()
check("clean-stop", ok and not supervisors_left(home), repr(supervisors_left(home)))
done()
