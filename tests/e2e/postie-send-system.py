#!/usr/bin/python3
"""System mode (as root), with the queue laid out as postie-setup's system
mode does (doc/queue.md, "Who may do what"), with fixed test ids (no
account is added to the machine): postie-send starts as root, starts
postie-lspawn (root) and postie-rspawn (the remote uid, in no queue group),
then runs as the send uid with the queue group and the users group of its
GIDLIST; a message injected by another unprivileged uid (sendmail ->
postie-inject -> postie-queue with the queue group, as the set-gid
postie-queue has) is picked up and delivered as the recipient's uid; the
remote uid can read a message in mess/ but not write it, rename it, or
write anything else in the queue."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from queueprobe import PROBE, WANT, ATTACK, parse
from cdbwrite import users_cdb

if os.geteuid() != 0:
    skip("send-system", "needs root")
    done()
# postieq (queue uid and group), posties, postier, postieu (users group),
# alice, and a local user who runs sendmail.
QUID = QGID = 65531
SUID, RUID, RGID, UGID, USERUID, INJUID, INJGID = 65530, 65533, 65533, 65528, 65532, 65529, 65529
BOBUID = 65526
i = Instance("send-system", users=("alice", "bob"), control={"locals": "example.org", "me": "example.org",
                                                              "smtproutes": ":127.0.0.1:9\n",
                                                              "retrymin": "1", "retrymax": "1"})
uh = i.users["alice"]
for dp, dn, fn in os.walk(uh):
    os.chown(dp, USERUID, USERUID)
bh = i.users["bob"]
for dp, dn, fn in os.walk(bh):
    os.chown(dp, BOBUID, BOBUID)
users_cdb(i.home, [("alice", "*", USERUID, USERUID, uh, "Maildir/"), ("bob", "*", BOBUID, BOBUID, bh, "Maildir/")])
# users/: readable by the users group only (postie-send reaches it through
# POSTIE_SEND_GIDLIST).
ud = os.path.join(i.home, "users")
os.chown(ud, 0, UGID); os.chmod(ud, 0o750)
for f in os.listdir(ud):
    os.chown(os.path.join(ud, f), 0, UGID); os.chmod(os.path.join(ud, f), 0o640)

# The queue, as postie-setup -s lays it out.
q = os.path.join(i.home, "queue")
def own(path, uid, gid, mode):
    os.chown(path, uid, gid)
    os.chmod(path, mode)
own(q, SUID, QGID, 0o751)
own(os.path.join(q, "tmp"), QUID, QGID, 0o2770)
own(os.path.join(q, "todo"), QUID, QGID, 0o750)
for b in range(64):
    own(os.path.join(q, "todo", str(b)), QUID, QGID, 0o2770)
for name, split, uid, gid, mode in (("mess", 1, SUID, RGID, 0o2710), ("info", 1, SUID, QGID, 0o700),
                                    ("bounce", 1, SUID, QGID, 0o700), ("work", 0, SUID, QGID, 0o700)):
    os.makedirs(os.path.join(q, name), exist_ok=True)
    own(os.path.join(q, name), uid, gid, mode)
    for b in range(64 if split else 0):
        os.makedirs(os.path.join(q, name, str(b)), exist_ok=True)
        own(os.path.join(q, name, str(b)), uid, gid, mode)
own(os.path.join(q, "trigger"), SUID, QGID, 0o620)
open(os.path.join(q, "lock"), "w").close()
own(os.path.join(q, "lock"), SUID, QGID, 0o600)

i.start(POSTIE_SEND_UID=str(SUID), POSTIE_SEND_GID=str(QGID), POSTIE_SEND_GIDLIST="%d,%d" % (UGID, QGID),
        POSTIE_REMOTE_UID=str(RUID), POSTIE_REMOTE_GID=str(RGID))

def ids_of(pid):
    u = g = None
    groups = []
    for l in open("/proc/%d/status" % pid):
        if l.startswith("Uid:"):
            u = [int(x) for x in l.split()[1:]]
        elif l.startswith("Gid:"):
            g = [int(x) for x in l.split()[1:]]
        elif l.startswith("Groups:"):
            groups = sorted(int(x) for x in l.split()[1:])
    return u, g, groups

check("send-started", i.proc.poll() is None and "status: ready" in i.logtext(), i.logtext()[-800:])
u, g, groups = ids_of(i.proc.pid)
check("send-runs-as-send-uid", u == [SUID] * 4, "uids %r" % u)
check("send-has-queue-group", g == [QGID] * 4 and groups == sorted({QGID, UGID}), "gids %r groups %r" % (g, groups))
kids = subprocess.run(["pgrep", "-P", str(i.proc.pid)], stdout=subprocess.PIPE).stdout.split()
names = {}
for k in kids:
    try:
        names[open("/proc/%s/comm" % k.decode()).read().strip()] = ids_of(int(k))
    except OSError:
        pass
check("lspawn-runs-as-root", names.get("postie-lspawn", (None,))[0] == [0] * 4, repr(names))
r = names.get("postie-rspawn")
check("rspawn-runs-as-remote-uid", r and r[0] == [RUID] * 4 and r[1] == [RGID] * 4 and r[2] == [RGID],
      repr(names))

# A local user's sendmail: the queue file belongs to that uid, not to
# postie-send's; postie-send takes it out of todo/ all the same.
env = i.env()
p = subprocess.run([prog("sendmail"), "-f", "joe@example.org", "alice@example.org", "far@remote.test"],
                   input=b"Subject: system\n\nfrom a local user\n", env=dict(env, POSTIE_USER="joe"), user=INJUID, group=QGID,
                   extra_groups=[], capture_output=True, timeout=30)
check("sendmail-as-local-user", p.returncode == 0, p.stderr.decode())
check("delivered", i.wait(lambda: len(i.mails("alice")) == 1, 10), i.logtext()[-800:])
d = os.path.join(uh, "Maildir", "new")
fs = os.listdir(d)
check("delivered-as-recipient-uid", fs and os.stat(os.path.join(d, fs[0])).st_uid == USERUID)
check("remote-attempted", i.wait(lambda: "far@remote.test>: deferral" in i.logtext(), 10), i.logtext()[-800:])

# The deferred message waits in mess/B/ID: the injector's file, mode 0664.
mess = [os.path.join(dp, f) for dp, dn, fn in os.walk(os.path.join(q, "mess")) for f in fn]
check("message-in-mess", len(mess) == 1, repr(mess))
if mess:
    st = os.stat(mess[0])
    check("queue-file-owner-mode", st.st_uid == INJUID and st.st_gid == QGID and st.st_mode & 0o7777 == 0o664,
          "uid %d gid %d mode %o" % (st.st_uid, st.st_gid, st.st_mode & 0o7777))
    # What the remote uid (postie-rspawn, postie-remote) may do: read the
    # message, nothing else.
    pr = subprocess.run(["/usr/bin/python3", "-c", PROBE, mess[0], q], user=RUID, group=RGID, extra_groups=[],
                        capture_output=True, text=True, timeout=30)
    got = parse(pr.stdout)
    check("remote-uid-reads-message", got.get("read") == "ok", pr.stdout + pr.stderr)
    check("remote-uid-cannot-write-queue", all(got.get(k) == v for k, v in WANT.items()), pr.stdout + pr.stderr)
    check("message-intact", os.path.exists(mess[0]) and os.path.getsize(mess[0]) == st.st_size)

# Issue 15: a local user who is also the recipient gets the queue file on
# fd 0 of a |program. Here the injection is the stand-in above (the whole
# chain as the user with the queue group), so the file is the user's, as
# the set-gid postie-queue made it: the program appends to it through
# /proc/self/fd/0, chmods it 0600 and asks for a retry. postie-send's
# next attempt cannot truncate it (EACCES): that message waits, logged;
# postie-send runs on and delivers the others. (With postie-setup's
# set-uid postie-queue the file is the queue uid's and the program can do
# neither: postie-setup-system.py.)
ap = os.path.join(uh, "attack.py")
with open(ap, "w") as f:
    f.write(ATTACK)
with open(os.path.join(uh, ".postie"), "w") as f:
    f.write("|/usr/bin/python3 %s\n" % ap)
for n in (ap, os.path.join(uh, ".postie")):
    os.chown(n, USERUID, USERUID)
pid = i.proc.pid
p = subprocess.run([prog("sendmail"), "-f", "alice@example.org", "alice@example.org"],
                   input=b"Subject: mine\n\nmy own message\n", env=dict(env, POSTIE_USER="alice"), user=USERUID,
                   group=QGID, extra_groups=[], capture_output=True, timeout=30)
check("hostile-injected", p.returncode == 0, p.stderr.decode())
check("hostile-program-ran", i.wait(lambda: "attack: reopened chmoded" in i.logtext(), 20),
      i.logtext()[-800:])
check("hostile-truncate-deferred", i.wait(lambda: "unable to truncate" in i.logtext(), 20), i.logtext()[-1500:])
time.sleep(1.5)  # more retries of the same message
p = subprocess.run([prog("sendmail"), "-f", "joe@example.org", "bob@example.org"],
                   input=b"Subject: other\n\nsomeone else's message\n", env=dict(env, POSTIE_USER="joe"), user=INJUID,
                   group=QGID, extra_groups=[], capture_output=True, timeout=30)
check("hostile-others-delivered", p.returncode == 0 and i.wait(lambda: len(i.mails("bob")) == 1, 20),
      p.stderr.decode() + i.logtext()[-1500:])
check("hostile-send-alive", i.proc.poll() is None and i.proc.pid == pid and "fatal" not in i.logtext(),
      i.logtext()[-1500:])

check("no-root-warning", "running as root" not in i.logtext())
check("sigterm", i.stop() == 0)
done()
