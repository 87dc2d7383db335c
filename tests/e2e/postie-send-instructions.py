#!/usr/bin/python3
"""The whole local chain: postie-queue -> postie-send -> postie-lspawn ->
postie-local, with delivery instructions files: an mbox, a forward to
another local user, a program with its environment, an extension file, and
a loop caught by Delivered-To. Headers are checked where the mail lands."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-instr", users=("alice", "bob", "carol", "dave"),
             control={"locals": "example.org", "me": "mx.example.org"})

def put(user, name, text):
    p = os.path.join(i.users[user], name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o644)
    os.chown(p, UID, GID)
    return p

envout = os.path.join(i.users["carol"], "env.out")
put("alice", ".postie", "# alice keeps an mbox and a Maildir\n./mbox\n./Maildir/\n")
put("bob", ".postie", "&carol@example.org\n")
put("carol", ".postie-prog", "|env > %s; cat > %s.msg\n" % (envout, envout))
put("dave", ".postie", "&dave@example.org\n")   # forwards to itself: a loop
# Forwards re-inject as the recipient's uid: in system mode postie-queue is
# set-gid to the queue group; here the queue is opened to every uid instead.
for d in ["tmp"] + [os.path.join("todo", str(b)) for b in range(QUEUE_SPLIT)]:
    os.chmod(os.path.join(i.home, "queue", d), 0o777)
os.chmod(os.path.join(i.home, "queue", "trigger"), 0o666)
i.start()

i.inject("s@remote.example", ["alice@example.org"], b"Subject: one\n\nFrom here\nbody\n")
mbox = os.path.join(i.users["alice"], "mbox")
ok = i.wait(lambda: os.path.exists(mbox) and len(i.mails("alice")) == 1, 15)
check("mbox-and-maildir", ok)
if ok:
    m = open(mbox, "rb").read()
    check("mbox-from-line", m.startswith(b"From s@remote.example "), m[:80])
    check("mbox-headers", b"\nReturn-Path: <s@remote.example>\nDelivered-To: alice@example.org\nSubject: one\n" in m, m[:200])
    check("mbox-from-quoted", b"\n>From here\n" in m, m)
    md = i.mails("alice")[0]
    check("maildir-headers", md.startswith(b"Return-Path: <s@remote.example>\nDelivered-To: alice@example.org\n"), md[:100])

i.inject("s@remote.example", ["bob@example.org"], b"Subject: two\n\nforward me\n")
ok = i.wait(lambda: len(i.mails("carol")) == 1, 15)
check("forward-arrives", ok)
if ok:
    m = i.mails("carol")[0]
    check("forward-keeps-sender", m.startswith(b"Return-Path: <s@remote.example>\n"), m[:120])
    check("forward-delivered-to-both", b"Delivered-To: carol@example.org\n" in m and b"Delivered-To: bob@example.org\n" in m, m[:300])

i.inject("s@remote.example", ["carol+prog@example.org"], b"Subject: three\n\nto a program\n")
ok = i.wait(lambda: os.path.exists(envout + ".msg") and os.path.getsize(envout + ".msg") > 0, 15)
check("program-runs", ok)
if ok:
    env = dict(l.split("=", 1) for l in open(envout).read().splitlines() if "=" in l)
    check("program-env", env.get("SENDER") == "s@remote.example" and env.get("RECIPIENT") == "carol+prog@example.org"
          and env.get("EXT") == "prog" and env.get("HOST") == "example.org" and env.get("USER") == "carol", repr(env))
    msg = open(envout + ".msg", "rb").read()
    # as in qmail, a program gets the message as queued; the added lines are
    # in its environment (DTLINE, RPLINE), for preline-style use
    check("program-stdin", msg == b"Subject: three\n\nto a program\n", msg)
    check("program-dtline", env.get("DTLINE") == "Delivered-To: carol+prog@example.org"
          and env.get("RPLINE") == "Return-Path: <s@remote.example>", repr(env))
    check("program-as-user", os.stat(envout).st_uid == UID)

i.inject("alice@example.org", ["dave@example.org"], b"Subject: four\n\nloop\n")
ok = i.wait(lambda: len(i.mails("alice")) == 2 and i.queue_empty(), 20)
check("forward-loop-stops", ok and len(i.mails("dave")) == 0, i.logtext()[-800:])
if ok:
    dsn = i.mails("alice")[1]
    check("forward-loop-bounced", b"multipart/report" in dsn and b"dave@example.org" in dsn and b"loop" in dsn.lower(), dsn[:600])
check("queue-empty", i.wait(i.queue_empty, 20))
check("sigterm", i.stop() == 0)
done()
