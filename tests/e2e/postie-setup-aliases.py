#!/usr/bin/python3
"""postmaster, root and abuse on a fresh instance (issue 15, RFC 5321
4.5.1): postie-setup writes control/aliases for them, to the address given
with -a or else to a local mailbox it makes, and says which. Mail to the
three over SMTP, and cron's `sendmail -i root`, lands in that mailbox."""
import os, smtplib, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

need = missing()
if need:
    for c in ("setup-aliases-local", "setup-aliases-address"):
        skip(c, "missing programs: " + " ".join(need))
    done()

base = scratch("setup-aliases")
A = os.path.join(base, "a")
pa = (free_port(), free_port(), free_port())
r = setup(A, pa, me="a.example", extra=["-n"])
check("dry-run-says-postmaster", "would add user postmaster" in r.stdout.decode() and not os.path.exists(A), r.stdout.decode()[-300:])
r = setup(A, pa, me="a.example")
out = r.stdout.decode()
check("setup-exit-0", r.returncode == 0, r.stderr.decode())
check("setup-says-local-mailbox", "postmaster, root and abuse: mail goes to the local mailbox %s/mail/postmaster/Maildir/" % A in out, out[-400:])
aliases = open(os.path.join(A, "control", "aliases")).read()
check("aliases-written", "root: postmaster" in aliases and "abuse: postmaster" in aliases, aliases)
r = setup(A, pa, me="a.example")
out = r.stdout.decode()
check("again-nothing-to-add", "is complete: nothing to add" in out and "(kept as it is)" in out and "add user" not in out, out[-400:])

def box():
    return maildir_messages(A, "postmaster")

s6 = Supervised(A)
try:
    check("supervised-ready", s6.wait_ready(), "services not ready")
    codes = []
    with smtplib.SMTP("127.0.0.1", pa[0], timeout=20) as s:
        s.ehlo("client.example")
        for who in ("postmaster", "root", "abuse"):
            s.mail("someone@example.org")
            c = s.rcpt("%s@a.example" % who)
            codes.append(c[0])
            if c[0] == 250:
                s.data("Subject: to %s\r\n\r\nhello %s\r\n" % (who, who))
            else:
                s.rset()
    check("rcpt-postmaster-root-abuse-250", codes == [250, 250, 250], codes)
    got = wait_for(lambda: len(box()) >= 3 and box(), 20)
    check("delivered-to-postmaster-mailbox", got and len(got) == 3 and all(b"hello " + w in b"".join(got) for w in (b"postmaster", b"root", b"abuse")),
          "%d messages; send log: %s" % (len(box()), logs(A, "send")[-500:]))
    # cron style: sendmail -i root, a bare name
    r = run_as([prog("sendmail"), "-i", "root"], home=A, input=b"Subject: cron output\n\nbackup done\n")
    check("sendmail-root-exit-0", r.returncode == 0, r.stderr.decode())
    got = wait_for(lambda: len(box()) >= 4 and box(), 20)
    check("sendmail-root-delivered", got and any(b"backup done" in m for m in got), "%d messages; send log: %s" % (len(box()), logs(A, "send")[-500:]))
finally:
    s6.stop()

# -a: the aliases point there, and the output says so
B = os.path.join(base, "b")
r = setup(B, (free_port(), free_port(), free_port()), me="b.example", extra=["-a", "admin@elsewhere.example"])
out = r.stdout.decode()
check("setup-a-exit-0", r.returncode == 0, r.stderr.decode())
check("setup-a-says-address", "postmaster, root and abuse: mail goes to admin@elsewhere.example" in out, out[-400:])
aliases = open(os.path.join(B, "control", "aliases")).read()
check("setup-a-aliases", "postmaster: admin@elsewhere.example" in aliases and "root: postmaster" in aliases and "abuse: postmaster" in aliases, aliases)
check("setup-a-no-mailbox", not os.path.exists(os.path.join(B, "mail", "postmaster")))
r = setup(B, (free_port(), free_port(), free_port()), me="b.example", extra=["-a", "bad address,x"])
check("setup-a-bad-refused", r.returncode == 100, r.stderr.decode())
done()
