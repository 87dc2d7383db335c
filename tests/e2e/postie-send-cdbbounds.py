#!/usr/bin/python3
"""users/users.cdb with one user's record data length running past the
end of the file (12000, 0xffffffff): postie-send's recipient lookup and
postie-lspawn's read it as a malformed database (programs/lib/cdbfind.c),
a temporary failure: the message is left in queue/todo (logged, naming
users/users.cdb), postie-send keeps running (no SIGBUS, no 4 GiB
allocation), and once the database is whole again the message is
delivered to both recipients at the next scan: nothing lost."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from poptest import cdb_read
from cdbwrite import cdb_write

for n in (12000, 0xffffffff):
    i = Instance("send-cdbbounds-%d" % n, control={"locals": "example.org", "scaninterval": "1"})
    db = os.path.join(i.home, "users", "users.cdb")
    good = open(db, "rb").read()
    cdb_write(db, list(cdb_read(db).items()), {b"alice": n})
    i.start()
    q = i.inject("sender@example.org", ["alice@example.org", "bob@example.org"])
    want = "%s: unable to resolve alice@example.org: users/users.cdb: Invalid argument: left in queue/todo" % q
    deferred = i.wait(lambda: want in i.logtext(), 30)
    log = i.logtext()
    check("len-%d-deferred" % n, deferred, log[-600:])
    check("len-%d-still-running" % n, i.proc.poll() is None, log[-600:])
    check("len-%d-queued" % n, not i.queue_empty() and len(i.mails("alice")) == 0 and len(i.mails("bob")) == 0)
    with open(db + ".tmp", "wb") as f:
        f.write(good)
    os.rename(db + ".tmp", db)
    ended = i.wait(lambda: ("end msg " + q) in i.logtext(), 30)
    check("len-%d-delivered-after-repair" % n, ended and len(i.mails("alice")) == 1 and len(i.mails("bob")) == 1,
          i.logtext()[-600:])
    rc = i.stop()
    check("len-%d-sigterm" % n, rc == 0, repr(rc))
done()
