#!/usr/bin/python3
"""A users.cdb or passwords.cdb whose record for a user has a data length
that runs past the end of the file (patched to the file's size, to
12000, to 0xffffffff) is a malformed database: postie-checkpassword
exits 111 with a log line naming the file (a temporary failure, never a
bad login), neither reading past the mapping (SIGBUS) nor allocating
the length; the other users of the same database still log in
(programs/lib/cdbfind.c)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users, cdb_read, checkpassword
from cdbwrite import cdb_write

home = tmpdir("cpw-cdbbounds")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
uid = 4242 if os.geteuid() == 0 else os.getuid()
users(home, "add", "alice", str(uid), str(uid), home, password="right")
users(home, "add", "bob", str(uid), str(uid), home, password="bobpw")
pwdb = os.path.join(home, "users", "passwords.cdb")
udb = os.path.join(home, "users", "users.cdb")
good = {f: open(f, "rb").read() for f in (pwdb, udb)}


def login(user, pw):
    return checkpassword(home, user, pw, ("-a", "true"))


check("good-db", login("alice", "right")[0] == 0 and login("bob", "bobpw")[0] == 0)
for f, name in ((udb, "users.cdb"), (pwdb, "passwords.cdb")):
    recs = cdb_read(f)
    for n in (len(good[f]), 12000, 0xffffffff):
        cdb_write(f, list(recs.items()), {b"alice": n})
        for pw in ("right", "wrong"):
            rc, err = login("alice", pw)
            check("%s-len-%d-%s-111" % (name, n, pw), rc == 111 and name in err,
                  "rc=%d %r" % (rc, err))
        rc, err = login("bob", "bobpw")
        check("%s-len-%d-other-user-ok" % (name, n), rc == 0, "rc=%d %r" % (rc, err))
    with open(f, "wb") as o:
        o.write(good[f])
check("good-again", login("alice", "right")[0] == 0)
done()
