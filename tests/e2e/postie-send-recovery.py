#!/usr/bin/python3
"""postie-send's start-up recovery, each interrupted step on its own:
a pickup stopped after the info file (todo still there), one stopped before
the truncation, a finished message whose info file was not yet removed, a
message whose DSN was not yet sent, leftovers in queue/work."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-recovery", users=("alice", "bob"), control={"locals": "example.org"})
q = os.path.join(i.home, "queue")
for d in ("info", "mess", "bounce"):
    for b in range(64):
        os.makedirs(os.path.join(q, d, str(b)), exist_ok=True)
os.makedirs(os.path.join(q, "work"), exist_ok=True)

def todo_path(qid):
    return os.path.join(q, "todo", str(int(qid.split(".")[2]) % 64), qid)

def path(d, qid):
    return os.path.join(q, d, str(int(qid.split(".")[2]) % 64), qid)

def info(msglen, sender, lines):
    s = "postie-info-1\n%d\n%s\n" % (msglen, sender)
    for st, kind, addr, user in lines:
        s += "%s%s\t%s\t%s\t%s\t%s\t\t%s\t\n" % (st, kind, addr, addr, user, user, addr.split("@")[1])
    return s

def write(p, s):
    with open(p, "w") as f:
        f.write(s)

# (a) info written, the todo file not yet renamed
ma = b"Subject: A\n\nmessage a\n"
qa = i.inject("bob@example.org", ["alice@example.org"], ma)
write(path("info", qa), info(len(ma), "bob@example.org", [("P", "L", "alice@example.org", "alice")]))
# (b) renamed to mess, not truncated (envelope and trailer still there)
mb = b"Subject: B\n\nmessage b\n"
qb = i.inject("bob@example.org", ["alice@example.org"], mb)
write(path("info", qb), info(len(mb), "bob@example.org", [("P", "L", "alice@example.org", "alice")]))
os.rename(todo_path(qb), path("mess", qb))
# (c) finished: message file removed, info file not yet
qc = "1700000000.000001.999999"
write(path("info", qc), info(5, "bob@example.org", [("D", "L", "alice@example.org", "alice")]))
# (d) a recipient failed, its DSN not yet sent; the other one delivered
md = b"Subject: D\nMessage-ID: <d@example.org>\n\nmessage d\n"
qd = i.inject("alice@example.org", ["bob@example.org", "gone@example.org"], md)
write(path("info", qd), info(len(md), "alice@example.org", [("D", "L", "bob@example.org", "bob"), ("F", "L", "gone@example.org", "gone")]))
os.rename(todo_path(qd), path("mess", qd))
os.truncate(path("mess", qd), len(md))
write(path("bounce", qd), "gone@example.org\tgone@example.org\t5.1.1\tx-postie; no such user\n")
# (e) postie-send's scratch files
write(os.path.join(q, "work", "info"), "half an info file")
write(os.path.join(q, "work", "bounce"), "half a bounce")

i.start()
ok = i.wait(lambda: len(i.mails("alice")) == 3 and i.queue_empty(), 15)
check("recovered-and-drained", ok, i.logtext()[-1500:])
alice = i.mails("alice")
subj = sorted(m.split(b"Subject: ")[1].split(b"\n")[0] for m in alice if b"Subject: " in m)
check("interrupted-pickup-delivered-once", subj.count(b"A") == 1, repr(subj))
check("untruncated-delivered-once", subj.count(b"B") == 1, repr(subj))
mbs = [m for m in alice if m.endswith(mb)]
check("untruncated-delivered-exactly", len(mbs) == 1 and b"postie-queue-1" not in mbs[0], repr(alice))
check("pending-dsn-sent", any(b"Final-Recipient: rfc822; gone@example.org" in m for m in alice))
check("delivered-recipient-not-again", len(i.mails("bob")) == 0)
check("orphan-info-removed", not os.path.exists(path("info", qc)) and ("end msg " + qc) in i.logtext())
check("work-emptied", os.listdir(os.path.join(q, "work")) == [])
time.sleep(0.5)
check("nothing-more", len(i.mails("alice")) == 3 and len(i.mails("bob")) == 0)
check("sigterm", i.stop() == 0)

# More than 64 (PICKUP_MAX) todo files of one bucket whose pickups all fail
# at an asynchronous step (the rename into queue/info/B refused): postie-send
# still becomes ready and delivers the other buckets (no rescan without
# progress), and picks them all up once the directory is writable again.
import shutil
i = Instance("send-recovery-stuck", users=("alice", "bob"), control={"locals": "example.org", "scaninterval": "1"})
q = os.path.join(i.home, "queue")
good = [i.inject("bob@example.org", ["alice@example.org"], b"Subject: G\n\ngood\n")]
sec, usec, ino = good[0].split(".")
B = (int(ino) + 1) % 64
NSTUCK = 80
for n in range(3):
    qid = i.inject("bob@example.org", ["alice@example.org"], b"Subject: G\n\ngood\n")
    if int(qid.split(".")[2]) % 64 != B:
        good.append(qid)
    else:
        NSTUCK += 1
os.makedirs(os.path.join(q, "todo", str(B)), exist_ok=True)
for n in range(80):
    shutil.copy(todo_path(good[0]), os.path.join(q, "todo", str(B), "%s.%s.%d" % (sec, usec, B + 64 * (100000 + n))))
ib = os.path.join(q, "info", str(B))
os.makedirs(ib, exist_ok=True)
if os.geteuid() == 0:
    locked = subprocess.run(["chattr", "+i", ib], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    unlock = lambda: subprocess.run(["chattr", "-i", ib], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
else:
    os.chmod(ib, 0o555)
    locked = True
    unlock = lambda: os.chmod(ib, 0o750)
if not locked:
    skip("stuck-bucket-ready", "cannot make queue/info/%d unwritable (chattr +i failed)" % B)
else:
    try:
        i.start()
        check("stuck-bucket-ready", i.proc.poll() is None and "status: ready" in i.logtext(), i.logtext()[-600:])
        ok = i.wait(lambda: len(i.mails("alice")) >= len(good), 20)
        check("stuck-bucket-others-delivered", ok and len(i.mails("alice")) == len(good),
              "%d mails for %d good messages" % (len(i.mails("alice")), len(good)))
        check("stuck-bucket-left-in-todo", len(os.listdir(os.path.join(q, "todo", str(B)))) == NSTUCK)
        check("stuck-bucket-no-progress-logged", "no message picked up from queue/todo" in i.logtext())
        unlock()
        locked = False
        ok = i.wait(lambda: len(i.mails("alice")) == len(good) + NSTUCK and i.queue_empty(), 60)
        check("stuck-bucket-delivered-later", ok, "%d mails, want %d" % (len(i.mails("alice")), len(good) + NSTUCK))
        check("stuck-bucket-sigterm", i.stop() == 0)
    finally:
        if locked:
            unlock()
        if i.proc:
            i.kill()
done()
