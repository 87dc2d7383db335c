#!/usr/bin/python3
"""IDLE without polling: a whole instance (postie-setup, s6-svscan) with
control/imapidlepoll at its largest (600 seconds), so that only inotify
can wake an IDLE session within the test's time. A message sent through
SMTP (postie-smtpd, the queue, postie-local) shows up as EXISTS in the
IDLE session; a flag changed by a second IMAP session shows up as FETCH;
a message expunged by that session as EXPUNGE."""
import imaplib, os, smtplib, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

CHECKS = ["idle-smtp-exists", "idle-flag-change", "idle-expunge", "idle-done", "clean-stop"]
need = missing(SYSTEM_PROGS + ["postie-imapup", "postie-imapd", "postie-tlsd"])
if need:
    for c in CHECKS:
        skip(c, "missing programs: " + " ".join(need))
    done()

base = scratch("imapd-idle")
home = os.path.join(base, "a")
ports = (free_port(), free_port(), free_port())
iport = free_port()
r = setup(home, ports, me="a.example", extra=["-I", str(iport)])
check("setup", r.returncode == 0, r.stderr.decode())
write(os.path.join(home, "control", "imapidlepoll"), "600\n")
add_user(home, "alice", "alice-pw")
sup = Supervised(home)
ctx = tls_context(home)


def session():
    c = imaplib.IMAP4("127.0.0.1", iport, timeout=60)
    c.host = "a.example"
    c.starttls(ssl_context=ctx)
    c.login("alice", "alice-pw")
    return c


def send(subject):
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=20) as s:
        s.sendmail("someone@example.org", ["alice@a.example"], "Subject: %s\r\n\r\nbody\r\n" % subject)


try:
    check("ready", sup.wait_ready(("smtpd", "send", "imapd")), "services not ready")
    send("first")
    check("first-delivered", wait_for(lambda: len(maildir_messages(home, "alice")) == 1, 30), "not delivered")
    c = session()
    typ, d = c.select("INBOX")
    check("select", typ == "OK" and d == [b"1"], d)
    c.send(b"i1 IDLE\r\n")
    l = c.readline()
    check("idle-continuation", l.startswith(b"+"), l)
    t0 = time.time()
    send("second")
    try:
        l = c.readline()
    except socket.timeout:
        l = b"(nothing within 60 s)"
    check("idle-smtp-exists", l == b"* 2 EXISTS\r\n", (l, time.time() - t0))

    o = session()
    o.select("INBOX")
    o.store("1", "+FLAGS", "(\\Flagged)")
    try:
        l = c.readline()
    except socket.timeout:
        l = b"(nothing within 60 s)"
    check("idle-flag-change", l == b"* 1 FETCH (FLAGS (\\Flagged))\r\n", l)
    o.store("1", "+FLAGS", "(\\Deleted)")
    o.expunge()
    try:
        l = c.readline()
        while b" FETCH " in l:  # the \Deleted flag, if IDLE looked in between
            l = c.readline()
    except socket.timeout:
        l = b"(nothing within 60 s)"
    check("idle-expunge", l == b"* 1 EXPUNGE\r\n", l)
    o.logout()
    c.send(b"DONE\r\n")
    l = c.readline()
    while l.startswith(b"*"):
        l = c.readline()
    check("idle-done", l.startswith(b"i1 OK"), l)
    c.logout()
finally:
    check("clean-stop", sup.stop(), "s6-svscan did not stop cleanly")
done()
