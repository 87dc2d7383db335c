#!/usr/bin/python3
"""postie-imapd's former known limits, on a session run directly (PREAUTH,
on pipes): MOVE of more messages than 256 expunges them all; a folder
deleted and created again within one second gets a new UIDVALIDITY, above
the old one; 30,000 new messages get their UIDs in file name order with
the session's user CPU time bounded (the UIDs were handed out by a
selection sort: quadratic, about 10 s of CPU here; a sort takes a
fraction of a second, the bound is generous for the sanitizer build)."""
import os, random, re, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from imapdirect import Direct

pub = public_tmp("imapd-limits")
sandir = san_reports_into(pub)
home = pop_instance(pub)
md = make_maildir(os.path.join(pub, "Maildir"))


def fill(d, n, names=None):
    os.makedirs(os.path.join(d, "new"), exist_ok=True)
    for i in range(n):
        nm = names[i] if names else "%d.M%dP1.test" % (1700000000 + i, i)
        with open(os.path.join(d, "new", nm), "wb") as f:
            f.write(b"Subject: m%d\n\nbody\n" % i)


try:
    # MOVE of 300 messages (one range): all 300 leave INBOX.
    fill(md, 300)
    c = Direct(home, md)
    u, t = c.cmd(b"SELECT INBOX")
    check("select-300", t.startswith(b"t1 OK") and b"* 300 EXISTS\r\n" in u, (u, t))
    u, t = c.cmd(b"MOVE 1:300 Trash")
    expunged = [l for l in u if l.endswith(b" EXPUNGE\r\n")]
    check("move-300-reply", t.startswith(b"t2 OK") and len(expunged) == 300, (len(expunged), t))
    u, t = c.cmd(b"STATUS INBOX (MESSAGES)")
    check("move-300-inbox-empty", b"(MESSAGES 0)" in u[0], u)
    u, t = c.cmd(b"STATUS Trash (MESSAGES)")
    check("move-300-in-trash", b"(MESSAGES 300)" in u[0], u)
    check("move-300-files", len(os.listdir(os.path.join(md, "cur"))) == 0
          and len(os.listdir(os.path.join(md, ".Trash", "cur"))) == 300, "")

    # DELETE and CREATE within a second, five times: five UIDVALIDITYs,
    # each above the one before.
    vals = []
    for i in range(5):
        c.cmd(b"CREATE Again")
        u, t = c.cmd(b"STATUS Again (UIDVALIDITY)")
        m = re.search(rb"UIDVALIDITY (\d+)", b"".join(u))
        vals.append(int(m.group(1)) if m else None)
        c.cmd(b"DELETE Again")
    check("uidvalidity-unique", None not in vals and all(a < b for a, b in zip(vals, vals[1:])), vals)
    u, t = c.cmd(b"STATUS Trash (UIDVALIDITY)")
    c.close()

    # 30,000 new messages, created in random order.
    big = os.path.join(md, ".Big")
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(big, s))
    open(os.path.join(big, "maildirfolder"), "w").close()
    N = 30000
    names = ["%d.M%dP7.test" % (1600000000 + i, i) for i in range(N)]
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    fill(big, N, shuffled)
    c = Direct(home, md)
    before = c.cputime()
    u, t = c.cmd(b"SELECT Big")
    after = c.cputime()
    user = after[0] - before[0]
    check("select-30000", t.startswith(b"t1 OK") and b"* %d EXISTS\r\n" % N in u, t)
    check("uids-cpu-bounded", user < 4, "user CPU %.2f s" % user)
    with open(os.path.join(big, "postie-uids"), "rb") as f:
        lines = f.read().decode().split("\n")[1:-1]
    got = [l.split(" ", 1)[1] for l in lines]
    uids = [int(l.split(" ", 1)[0]) for l in lines]
    check("uids-in-name-order", got == sorted(names) and uids == list(range(1, N + 1)), got[:5])
    c.close()
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
