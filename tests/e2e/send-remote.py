#!/usr/bin/python3
"""postie-send remote delivery through postie-rspawn and postie-remote to
postfix's smtp-sink on loopback: one session per domain with all its
recipients; a permanent refusal gives a DSN in the sender's Maildir; a
server that answers 4xx and then accepts gets the message on retry."""
import os, re, signal, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from smtpfake import FakeSMTP

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("send-remote", "no /usr/sbin/smtp-sink (package postfix)")
    done()

base = tmpdir("send-remote")
ok = Sink(os.path.join(base, "ok"))
refuse = Sink(os.path.join(base, "refuse"), ["-f", "RCPT", "-B", "550 5.1.1 no such user here"])
later = Sink(os.path.join(base, "later"), ["-r", "RCPT", "-b", "451 4.3.0 try again later"])
# a next hop that names the message in its own queue after the final dot
traced = FakeSMTP(final_reply=b"250 2.0.0 Ok: queued as 4XgT2zK")
i = Instance("send-remote", control={
    "locals": "example.org",
    "retrymin": "1", "retrymax": "1",
    "smtproutes": "ok.test:127.0.0.1:%d\nrefuse.test:127.0.0.1:%d\nlater.test:127.0.0.1:%d\ntraced.test:127.0.0.1:%d\n" % (ok.port, refuse.port, later.port, traced.port),
})
i.start()
t0 = time.time()
body = b"Subject: remote test\nMessage-ID: <remote-1@example.org>\n\nhello remote\n"
qid = i.inject("alice@example.org", ["u1@ok.test", "u2@OK.test", "v@refuse.test"], body)
got = i.wait(lambda: len(ok.messages()) >= 1 and len(i.mails("alice")) >= 1, 20)
elapsed = time.time() - t0
check("remote-delivered", len(ok.messages()) == 1, "sink got %d messages" % len(ok.messages()))
if ok.messages():
    m = ok.messages()[0]
    check("remote-one-session-both-recipients", m.count(b"X-Rcpt-Args:") == 2, m[:400])
    check("remote-body", b"hello remote" in m)
dsn = i.mails("alice")
check("dsn-in-sender-maildir", len(dsn) == 1, "alice has %d messages" % len(dsn))
if dsn:
    d = dsn[0]
    check("dsn-multipart-report", b"multipart/report; report-type=delivery-status" in d, d[:600])
    check("dsn-final-recipient", b"Final-Recipient: rfc822; v@refuse.test" in d)
    check("dsn-status", b"Status: 5.1.1" in d, d)
    # RFC 3464: the server's reply alone after "smtp;", and the server
    check("dsn-diagnostic-smtp-reply", re.search(rb"\nStatus: 5\.1\.1\nRemote-MTA: dns; \[127\.0\.0\.1\]\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user here\n", d)
          is not None, d)
    # a small message comes back whole (control/bouncemessagebytes)
    check("dsn-whole-message", b"Content-Type: message/rfc822\n\n" in d and b"Message-ID: <remote-1@example.org>" in d
          and b"\n\nhello remote\n" in d, d)
    check("dsn-not-other-recipients", b"u1@ok.test" not in d.split(b"message/rfc822")[0])
    check("dsn-null-sender", b"Return-Path: <>" in d, d[:200])
    check("dsn-from-mailer-daemon", b"From: Mail Delivery System <MAILER-DAEMON@" in d)
log = i.logtext()
check("log-has-id", all(qid in l for l in log.splitlines() if "u1@ok.test" in l) and ("end msg " + qid) in log, log[-2000:])
# the next server's reply to the end of DATA, with its queue id and the
# session's TLS (none here)
check("log-data-reply", re.search(r"postie-send: delivery %s R\d+: message: \S+ accepted the message \(no TLS\): 250 2\.0\.0 Ok\n" % re.escape(qid), log)
      is not None, log[-2000:])
qt = i.inject("alice@example.org", ["t@traced.test"], b"Subject: traced\n\nx\n")
check("log-data-reply-queue-id", i.wait(lambda: re.search(r"postie-send: delivery %s R\d+: message: \S+ accepted the message \(no TLS\): 250 2\.0\.0 Ok: queued as 4XgT2zK\n"
                                                          % re.escape(qt), i.logtext()) is not None, 15), i.logtext()[-1000:])
traced.stop()

# above control/bouncemessagebytes: the header only
i.control("bouncemessagebytes", "100")
i.signal(signal.SIGHUP)
i.wait(lambda: "settings read again" in i.logtext(), 10)
i.inject("alice@example.org", ["v@refuse.test"], b"Subject: big\nMessage-ID: <remote-2@example.org>\n\n" + b"x" * 200 + b"\n")
check("dsn2-in-sender-maildir", i.wait(lambda: len(i.mails("alice")) >= 2, 20), "alice has %d" % len(i.mails("alice")))
d2 = ([m for m in i.mails("alice") if b"remote-2@example.org" in m] or [b""])[0]
check("dsn-header-only-above-limit", b"Content-Type: text/rfc822-headers\n\n" in d2 and b"Message-ID: <remote-2@example.org>" in d2
      and b"x" * 200 not in d2, d2)

# 4xx first, then the server accepts: the retry delivers.
qid2 = i.inject("alice@example.org", ["w@later.test"], b"Subject: later\n\nretry me\n")
deferred = i.wait(lambda: ("%s R" % qid2) in i.logtext() and "deferral" in i.logtext().split(qid2, 1)[1], 10)
check("tempfail-deferred", deferred, i.logtext()[-1500:])
check("tempfail-still-queued", not i.queue_empty())
later.stop()
later2 = Sink(os.path.join(base, "later2"))
# the sink now listens on another port: point the route at it
i.control("smtproutes", "ok.test:127.0.0.1:%d\nrefuse.test:127.0.0.1:%d\nlater.test:127.0.0.1:%d\n" % (ok.port, refuse.port, later2.port))
arrived = i.wait(lambda: len(later2.messages()) == 1, 15)
check("tempfail-then-accepted-on-retry", arrived, i.logtext()[-1500:])
check("queue-empty-after", i.wait(i.queue_empty, 10))
check("no-bounce-for-deferral", len(i.mails("alice")) == 2)
rc = i.stop()
check("sigterm-clean-exit", rc == 0, "rc=%r" % rc)
for s in (ok, refuse, later2):
    s.stop()
print("# remote delivery + DSN in %.2fs" % elapsed)
done()
