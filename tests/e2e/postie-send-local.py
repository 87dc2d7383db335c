#!/usr/bin/python3
"""postie-send local delivery through postie-lspawn and postie-local:
plain users, extensions, aliases, virtual domains, unknown users (DSN),
a uid-0 user refused, deliveries as the user's uid, latency of new mail."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from cdbwrite import users_cdb

i = Instance("send-local", control={
    "locals": "example.org\nlocalhost",
    "virtualdomains": "virt.test:carol\n",
    "aliases": "postmaster: alice\nMAILER-DAEMON: postmaster\nabuse: bob, alice@example.org\nroot: postmaster\nteam: alice, bob, carol\n",
    "me": "mx.example.org",
})
# a uid-0 user in the database must never be delivered to
rows = [(u, "*", UID, GID, h, "Maildir/") for u, h in i.users.items()]
rows.append(("toor", "*", 0, 0, i.users["alice"], "Maildir/"))
users_cdb(i.home, rows)
i.start()

def count(u):
    return len(i.mails(u))

# latency: one new message, measured from postie-queue's exit
t0 = time.time()
q0 = i.inject("sender@example.org", ["alice@example.org"], b"Subject: first\n\nfast\n")
t1 = time.time()
i.wait(lambda: count("alice") == 1, 10, 0.001)
lat = time.time() - t1
check("plain-user", count("alice") == 1)
check("fast-delivery", lat < 0.5, "%.3fs" % lat)
print("# new message delivered %.1f ms after postie-queue exited" % (lat * 1000))
m = i.mails("alice")[0]
check("message-intact", m.endswith(b"Subject: first\n\nfast\n"), m)
st = os.stat(os.path.join(i.users["alice"], "Maildir", "new", os.listdir(os.path.join(i.users["alice"], "Maildir", "new"))[0]))
check("delivered-as-user-uid", st.st_uid == UID, "uid %d" % st.st_uid)

q1 = i.inject("sender@example.org", ["bob+lists@example.org", "ALICE@EXAMPLE.ORG", "carol@localhost"])
i.wait(lambda: count("bob") == 1 and count("alice") == 2 and count("carol") == 1)
check("extension", count("bob") == 1 and b"Delivered-To: bob+lists@example.org" in i.mails("bob")[0])
check("case-insensitive", count("alice") == 2)
check("second-local-domain", count("carol") == 1)

q2 = i.inject("sender@example.org", ["postmaster@example.org", "abuse@example.org", "root@localhost", "team@example.org", "MAILER-DAEMON@example.org"])
# postmaster->alice, abuse->bob+alice, root->postmaster->alice, team->alice,bob,carol, MAILER-DAEMON->postmaster->alice
i.wait(lambda: count("alice") == 2 + 5 and count("bob") == 1 + 2 and count("carol") == 2)
check("aliases", (count("alice"), count("bob"), count("carol")) == (7, 3, 2), repr((count("alice"), count("bob"), count("carol"))))

q3 = i.inject("sender@example.org", ["anything@virt.test"])
i.wait(lambda: count("carol") == 3)
check("virtual-domain", count("carol") == 3 and b"Delivered-To: carol+anything@virt.test" in i.mails("carol")[-1],
      i.mails("carol")[-1][:200] if i.mails("carol") else "")

# unknown user and the uid-0 user: permanent failures, one DSN to the sender (alice)
before = count("alice")
q4 = i.inject("alice@example.org", ["nosuchuser@example.org", "toor@example.org", "bob@example.org"], b"Subject: some fail\n\nx\n")
i.wait(lambda: count("alice") == before + 1 and count("bob") == 4)
check("one-dsn-for-two-failures", count("alice") == before + 1, "%d" % (count("alice") - before))
if count("alice") == before + 1:
    d = i.mails("alice")[-1]
    check("dsn-lists-unknown", b"Final-Recipient: rfc822; nosuchuser@example.org" in d and b"Status: 5.1.1" in d, d)
    check("dsn-lists-root-user", b"Final-Recipient: rfc822; toor@example.org" in d and b"uid is 0" in d, d)
    check("dsn-from-me", b"MAILER-DAEMON@mx.example.org" in d)
check("good-recipient-still-delivered", count("bob") == 4)
check("nothing-delivered-to-root-user", all(b"some fail" not in m or b"Delivered-To: alice@" in m or b"Final-Recipient" in m
                                            for m in i.mails("alice")))
check("queue-empty", i.wait(i.queue_empty, 10))

# SIGHUP reads the aliases (and the rest) again
import signal
i.control("aliases", "postmaster: alice\nnewalias: carol\n")
i.signal(signal.SIGHUP)
i.wait(lambda: "settings read again" in i.logtext(), 5)
c = count("carol")
q5 = i.inject("sender@example.org", ["newalias@example.org"])
check("sighup-new-alias", i.wait(lambda: count("carol") == c + 1, 10))
# "end msg" is logged just after the delivery's result: wait for it
i.wait(lambda: ("end msg " + q5) in i.logtext(), 10)
log = i.logtext()
for q in (q0, q1, q2, q3, q4, q5):
    check("log-life-" + q, ("new msg " + q) in log and ("end msg " + q) in log)
check("log-starting-delivery", ("starting delivery " + q1) in log and "bob+lists@example.org" in log)
check("sigterm", i.stop() == 0)
done()
