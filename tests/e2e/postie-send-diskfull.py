#!/usr/bin/python3
"""A full disk while postie-send records a bounce (issue 15): the queue
on a small tmpfs (in the test's own mount namespace), a delivery that
fails permanently while the filesystem is full. postie-send logs that it
could not record the failure, keeps running and keeps the recipient
pending; once space is free again the failure is recorded at the next
retry, the DSN reaches the sender and the message leaves the queue."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

NAMES = ["diskfull-started", "diskfull-delivery-running", "diskfull-filled", "diskfull-send-alive",
         "diskfull-logged", "diskfull-recipient-pending", "diskfull-dsn-after-space", "diskfull-queue-empty",
         "diskfull-sigterm"]
own_mount_namespace(NAMES)  # the tmpfs goes with it

i = Instance("send-diskfull", users=("alice", "bob"),
             control={"locals": "example.org", "me": "example.org", "retrymin": "1", "retrymax": "1"})
q = os.path.join(i.home, "queue")
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", q], capture_output=True, text=True)
if r.returncode != 0:
    for n in NAMES:
        skip(n, "mount tmpfs: %s" % r.stderr.strip())
    done()
mkinstance(i.home)  # queue/tmp, todo/B, the trigger, now on the tmpfs

# alice's program waits for the test's go-ahead, then fails permanently
go = os.path.join(i.home, "go")
prog_line = "|while [ ! -e %s ] ; do sleep 0.05 ; done ; echo 'no thanks (#5.7.1)' ; exit 100\n" % go
with open(os.path.join(i.users["alice"], ".postie"), "w") as f:
    f.write(prog_line)
os.chown(os.path.join(i.users["alice"], ".postie"), UID, GID)
fill = os.path.join(q, "fill")
try:
    i.start()
    check("diskfull-started", i.proc.poll() is None, i.logtext()[-500:])
    qid = i.inject("bob@example.org", ["alice@example.org"], b"Subject: full\n\nto a full disk\n")
    check("diskfull-delivery-running", i.wait(lambda: "starting delivery " + qid in i.logtext(), 20), i.logtext()[-500:])
    # every block of the tmpfs taken
    with open(fill, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    try:
        with open(os.path.join(q, "probe"), "wb") as f:
            f.write(b"x")
        full = False
    except OSError:
        full = True
    check("diskfull-filled", full)
    open(go, "w").close()
    logged = i.wait(lambda: "unable to record the failures" in i.logtext(), 20)
    time.sleep(2)  # a retry or two (retrymin 1) on the still full disk
    check("diskfull-send-alive", i.proc.poll() is None, i.logtext()[-1500:])
    check("diskfull-logged", logged and "fatal" not in i.logtext(), i.logtext()[-1500:])
    info = [p for _, p in queue_files(i.home, "info")]
    state = open(info[0], "rb").read().split(b"\n")[3][:1] if len(info) == 1 else None
    check("diskfull-recipient-pending", state == b"P", repr(info) + repr(state))
    os.unlink(fill)
    ok = i.wait(lambda: any(b"no thanks" in m for m in i.mails("bob")), 30)
    check("diskfull-dsn-after-space", ok, i.logtext()[-1500:])
    check("diskfull-queue-empty", i.wait(i.queue_empty, 20), i.logtext()[-800:])
    check("diskfull-sigterm", i.stop() == 0)
finally:
    if i.proc:
        i.kill()
    subprocess.run(["umount", "-l", q], capture_output=True)
done()
