#!/usr/bin/python3
"""postie-lspawn's user lookup with users/users.cdb's record for bob
corrupt (its data length run past the end of the file: 12000,
0xffffffff): a temporary failure (Z, naming users/users.cdb), neither a
crash (SIGBUS) nor a 4 GiB allocation; postie-lspawn answers the next
request, and delivers once the database is whole again
(programs/lib/cdbfind.c)."""

import os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import UID, GID, spawner_instance, lspawn_deliver, lspawn_standin
from cdbwrite import users_cdb

base, inst, home = spawner_instance("lspawn-cdbbounds")
bindir = lspawn_standin(base, inst)
row = [("bob", "!", UID, GID, home, "./Maildir/")]


env = env_for(inst)
env["PATH"] = bindir + ":/usr/bin:/bin"
p = subprocess.Popen([prog("postie-lspawn"), "1000", "10"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=inst, env=env)


def deliver(user):
    return lspawn_deliver(p, user)


good = deliver(b"bob")
check("good-db-delivers", good.startswith(b"K"), repr(good))
for n in (12000, 0xffffffff):
    users_cdb(inst, row, {b"bob": n})
    r = deliver(b"bob")
    check("len-%d-temporary" % n, r.startswith(b"Z") and b"users/users.cdb" in r, repr(r))
users_cdb(inst, row)
back = deliver(b"bob")
check("repaired-delivers", back.startswith(b"K"), repr(back))
p.stdin.close()
p.stdout.read()
err = p.stderr.read()
rc = p.wait(timeout=60)
check("exit-0", rc == 0, "rc=%r %r" % (rc, err[-300:]))
done()
