#!/usr/bin/python3
"""POP3 sessions that race, and sessions that never log in (issue 15).
Two real poplib sessions on one message: A retrieves it and quits (the
message is renamed to mark it seen), B deletes it and quits: B's +OK
means the message is gone, under whatever name A gave it. Before login,
postie-popup keeps no session longer than control/pop3logintime and
takes no more than control/pop3maxcmds commands, however harmless
(CAPA once a second kept a slot forever)."""
import os, poplib, shutil, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *

pub = public_tmp("pop3-race")
try:
    home = os.path.join(pub, "instance")
    mkinstance(home, {"pop3faildelay": "0", "pop3logintime": "3", "pop3maxcmds": "8"})
    for dp, dn, fn in os.walk(home):
        os.chmod(dp, 0o755)
        for n in fn:
            os.chmod(os.path.join(dp, n), 0o644)
    root = os.geteuid() == 0
    uid = 4242 if root else os.getuid()
    gid = 4243 if root else os.getgid()
    uhome = os.path.join(pub, "alice")
    md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
    chown_r(uhome, uid, gid)
    rc, _, err = users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
    check("users-add", rc == 0, err)
    srv = Pop3Server(home)
    try:
        def login():
            c = poplib.POP3("127.0.0.1", srv.port, timeout=20)
            c.user("alice")
            c.pass_("alice pw")
            return c

        # ---- the race, twice: B quits after A, and A after B ----
        for order in ("A-then-B", "B-then-A"):
            deliver(md, b"From: a@example.org\nSubject: race\n\nbody\n", uid, gid)
            a = login()
            b = login()
            check("%s-both-see-it" % order, a.stat()[0] == 1 and b.stat()[0] == 1)
            a.retr(1)
            b.dele(1)
            if order == "A-then-B":
                ra = a.quit()
                rb = b.quit()
            else:
                rb = b.quit()
                ra = a.quit()
            check("%s-quit-ok" % order, ra.startswith(b"+OK") and rb.startswith(b"+OK"), (ra, rb))
            c = login()
            n = c.stat()[0]
            c.quit()
            left = os.listdir(os.path.join(md, "cur")) + os.listdir(os.path.join(md, "new"))
            check("%s-deleted-means-gone" % order, n == 0 and not left, "stat %d, files %s" % (n, left))

        # ---- before login: a session limit, and a command limit ----
        c = Raw(srv.port)
        c.line()
        t0 = time.time()
        ans = []
        while time.time() - t0 < 10:
            ans.append(c.cmd(b"NOOP") if len(ans) % 2 else c.cmd(b"CAPA"))
            if ans[-1].startswith(b"+OK"):
                c.multi()
            if not ans[-1] or b"closing" in ans[-1]:
                break
            time.sleep(1)
        # a command every second: the command limit (8) is not reached
        # before the time limit (3 s) ends it
        el = time.time() - t0
        check("pre-login-time-limit", b"too long without logging in" in ans[-1] and el < 6 and c.closed(), "%r after %.1fs" % (ans[-3:], el))
        c.close()
        c = Raw(srv.port)
        c.line()
        ans = []
        for k in range(20):
            r = c.cmd(b"CAPA")
            ans.append(r)
            if r.startswith(b"+OK"):
                c.multi()
            else:
                break
        check("pre-login-command-limit", len(ans) == 9 and b"too many commands" in ans[-1] and c.closed(), ans[-2:])
        c.close()
        # a normal login is far below both
        c = login()
        check("login-still-works", c.stat()[0] == 0)
        c.quit()
        log = srv.stderr()
    finally:
        srv.stop()
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
