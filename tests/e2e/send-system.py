#!/usr/bin/python3
"""System mode (as root): postie-send runs as the queue's owner, postie-lspawn
as root, postie-rspawn as the remote uid, and each local delivery as the
recipient's own uid."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from cdbwrite import users_cdb

if os.geteuid() != 0:
    skip("send-system", "needs root")
    done()
QUID, QGID, RUID, USERUID = 65534, 65534, 65533, 65532
i = Instance("send-system", users=("alice",), control={"locals": "example.org", "smtproutes": ":127.0.0.1:9\n"})
# alice is uid 65532 now
uh = i.users["alice"]
for dp, dn, fn in os.walk(uh):
    os.chown(dp, USERUID, USERUID)
users_cdb(i.home, [("alice", "*", USERUID, USERUID, uh, "Maildir/")])
for dp, dn, fn in os.walk(os.path.join(i.home, "queue")):
    os.chown(dp, QUID, QGID)
    for f in fn:
        os.chown(os.path.join(dp, f), QUID, QGID)

def inject_as_queue(rcpts):
    mr, mw = os.pipe(); er, ew = os.pipe()
    p = subprocess.Popen([prog("postie-queue")], stdin=mr, stdout=er, env=i.env(), user=QUID, group=QGID, extra_groups=[])
    os.close(mr); os.close(er)
    writeall(mw, b"Subject: system\n\nx\n"); os.close(mw)
    writeall(ew, envelope("bob@example.org", rcpts)); os.close(ew)
    return p.wait()

i.start(POSTIE_SEND_UID=QUID, POSTIE_SEND_GID=QGID, POSTIE_REMOTE_UID=RUID, POSTIE_REMOTE_GID=QGID)
def uid_of(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("Uid:"):
            return int(l.split()[2])
kids = subprocess.run(["pgrep", "-P", str(i.proc.pid)], stdout=subprocess.PIPE).stdout.split()
names = {}
for k in kids:
    try:
        names[open("/proc/%s/comm" % k.decode()).read().strip()] = uid_of(int(k))
    except OSError:
        pass
check("send-runs-as-queue-owner", uid_of(i.proc.pid) == QUID, "uid %r" % uid_of(i.proc.pid))
check("lspawn-runs-as-root", names.get("postie-lspawn") == 0, repr(names))
check("rspawn-runs-as-remote-uid", names.get("postie-rspawn") == RUID, repr(names))
check("queue-as-queue-uid", inject_as_queue(["alice@example.org", "far@remote.test"]) == 0)
check("delivered", i.wait(lambda: len(i.mails("alice")) == 1, 10), i.logtext()[-800:])
d = os.path.join(uh, "Maildir", "new")
fs = os.listdir(d)
check("delivered-as-recipient-uid", fs and os.stat(os.path.join(d, fs[0])).st_uid == USERUID)
check("remote-attempted-as-remote-uid", i.wait(lambda: "far@remote.test>: deferral" in i.logtext(), 10), i.logtext()[-800:])
check("no-root-warning", "running as root" not in i.logtext())
check("sigterm", i.stop() == 0)
done()
