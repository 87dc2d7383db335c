#!/usr/bin/python3
"""A whole system under real supervision: two instances made by postie-setup,
each run by s6-svscan. Mail sent with smtplib to a local user is read back
with poplib after STLS (and fetchmail with STLS), each verifying the
instance's own certificate; relaying needs AUTH, over STARTTLS; mail relayed by an authenticated user
reaches the second instance through control/smtproutes and is read there;
one queue id tells a message's story across the services' s6-log
directories; stopping s6-svscan leaves no process behind."""
import os, poplib, re, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

CHECKS = ["local-delivery", "pop3-read", "relay-denied", "submission-needs-auth", "relay-auth",
          "relay-read", "log-story", "logs-per-service", "clean-stop"]
need = missing()
if need:
    for c in CHECKS:
        skip(c, "missing programs: " + " ".join(need))
    done()

ID = re.compile(rb"\b\d{9,}\.\d{6}\.\d+\b")
base = scratch("system")
A, B = os.path.join(base, "a"), os.path.join(base, "b")
pa = (free_port(), free_port(), free_port())
pb = (free_port(), free_port(), free_port())
for home, ports, me in ((A, pa, "a.example"), (B, pb, "b.example")):
    r = setup(home, ports, me=me)
    check("setup-" + me, r.returncode == 0, r.stderr.decode())
add_user(A, "alice", "alice-pw")
add_user(B, "bob", "bob-pw")
write(os.path.join(A, "control", "smtproutes"), "b.example:127.0.0.1:%d\n" % pb[0])

sa, sb = Supervised(A), Supervised(B)
try:
    check("supervised-ready", sa.wait_ready() and sb.wait_ready(), "services not ready")

    # Local delivery: SMTP in, Maildir, POP3 out.
    body = "Subject: local test\r\nMessage-ID: <local-1@example.org>\r\n\r\nhello alice\r\n"
    with smtplib.SMTP("127.0.0.1", pa[0], timeout=20) as s:
        s.sendmail("someone@example.org", ["alice@a.example"], body)
    got = wait_for(lambda: maildir_messages(A, "alice"), 20)
    check("local-delivery", got and b"hello alice" in got[0], repr(got)[:300])
    try:
        p = pop3_tls(A, pa[2], "a.example")
        p.user("alice")
        p.pass_("alice-pw")
        n, total = p.stat()
        listed = p.list()[1]
        resp, lines, octets = p.retr(1) if n else (b"", [], 0)
        p.quit()
        check("pop3-read", n == 1 and b"hello alice" in lines and b"Subject: local test" in lines, repr(lines)[:300])
        # RFC 1939 11: the size announced is the size as sent
        check("pop3-size-as-sent", listed == [b"1 %d" % octets] and total == octets == sum(len(l) + 2 for l in lines)
              and resp.startswith(b"+OK %d octets" % octets), repr((listed, total, octets, resp)))
    except Exception as e:
        check("pop3-read", False, repr(e))

    # fetchmail, an independent POP3 client, after delivery through the
    # real queue: keep, then fetch and delete.
    with smtplib.SMTP("127.0.0.1", pa[0], timeout=20) as s:
        s.sendmail("someone@example.org", ["alice@a.example"], "Subject: second\r\n\r\n.dotted line\r\n")
    wait_for(lambda: len(maildir_messages(A, "alice")) == 2, 20)
    fm = os.path.join(base, "fetchmail")
    os.makedirs(fm, exist_ok=True)
    fmrc, fmout = os.path.join(fm, "rc"), os.path.join(fm, "out")
    with open(fmrc, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol pop3 auth password user "alice" password "alice-pw" '
                'mda "/bin/sh -c \'cat >> %s\'"\n' % (pa[2], fmout))
    os.chmod(fmrc, 0o600)
    def fetchmail(*extra):
        return subprocess.run(["fetchmail", "-f", fmrc, "--nosyslog", "--sslproto", "tls1.2+", "--sslcertck",
                               "--sslcertfile", os.path.join(A, "tls", "cert.pem"), "--sslcommonname", "a.example",
                               "--idfile", os.path.join(fm, "ids")] + list(extra), env=dict(os.environ, HOME=fm, FETCHMAILHOME=fm),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    r = fetchmail("-k", "-a")
    got = open(fmout, "rb").read() if os.path.exists(fmout) else b""
    check("fetchmail-keep", r.returncode == 0 and got.count(b"Subject:") == 2 and len(maildir_messages(A, "alice")) == 2,
          r.stdout.decode(errors="replace")[-1000:])
    if os.path.exists(fmout):
        os.unlink(fmout)
    r = fetchmail("-a")
    got = open(fmout, "rb").read() if os.path.exists(fmout) else b""
    check("fetchmail-fetch-delete", r.returncode == 0 and b"\n.dotted line\n" in got and not maildir_messages(A, "alice"),
          r.stdout.decode(errors="replace")[-1000:])

    # Relay control: no relaying without AUTH, no submission without AUTH.
    try:
        with smtplib.SMTP("127.0.0.1", pa[0], timeout=20) as s:
            s.sendmail("someone@example.org", ["bob@b.example"], "Subject: x\r\n\r\nx\r\n")
        check("relay-denied", False, "accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code = list(e.recipients.values())[0][0]
        check("relay-denied", 500 <= code < 600, repr(e))
    except smtplib.SMTPException as e:
        check("relay-denied", False, repr(e))
    try:
        with smtplib.SMTP("127.0.0.1", pa[1], timeout=20) as s:
            s.sendmail("alice@a.example", ["alice@a.example"], "Subject: x\r\n\r\nx\r\n")
        check("submission-needs-auth", False, "accepted without AUTH")
    except smtplib.SMTPException as e:
        check("submission-needs-auth", True)

    # Relaying after AUTH, on the submission port, to instance B.
    try:
        with smtp_tls(A, pa[1], "a.example") as s:
            s.login("alice", "alice-pw")
            s.sendmail("alice@a.example", ["bob@b.example"],
                       "Subject: relayed\r\nMessage-ID: <relay-1@a.example>\r\n\r\nhello bob\r\n")
        check("relay-auth", True)
    except smtplib.SMTPException as e:
        check("relay-auth", False, repr(e))
    got = wait_for(lambda: maildir_messages(B, "bob"), 30)
    try:
        p = pop3_tls(B, pb[2], "b.example")
        p.user("bob")
        p.pass_("bob-pw")
        n, _ = p.stat()
        lines = p.retr(1)[1] if n else []
        p.quit()
        check("relay-read", n == 1 and b"hello bob" in lines and b"Subject: relayed" in lines, repr(lines)[:300])
    except Exception as e:
        check("relay-read", False, "%r (maildir: %r)" % (e, got))

    # Mail to a domain nobody can reach (no DNS server answers in this
    # network namespace: the demo's situation without internet) stays
    # queued for a retry, and the queue tools say so.
    try:
        with smtp_tls(A, pa[1], "a.example") as s:
            s.login("alice", "alice-pw")
            s.sendmail("alice@a.example", ["someone@far-away.example"], "Subject: far\r\n\r\nfar\r\n")
        queued_ok = True
    except smtplib.SMTPException as e:
        queued_ok = False
    def qstat():
        r = subprocess.run([prog("postie-qstat")], env=env_for(A), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.stdout.decode(errors="replace")
    def deferred():
        return "remote recipients pending: 1" in qstat() and "deferral" in logs(A, "send")
    ok = wait_for(deferred, 30)
    r = subprocess.run([prog("postie-qread")], env=env_for(A), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    qr = r.stdout.decode(errors="replace")
    check("unreachable-stays-queued", queued_ok and ok and "pending remote <someone@far-away.example>" in qr
          and "next-retry" in qr, qstat() + qr)
    # The per-client limit of the run scripts (env/MAXCONNIP): a client over
    # it is told why, in the protocol's words, before the close.
    for svc in ("smtpd", "pop3d"):
        write(os.path.join(B, "service", svc, "env", "MAXCONNIP"), "1\n")
        sb.ctl(svc, "-r")
    time.sleep(0.5)
    check("maxconnip-restarted", sb.wait_ready(), "services not ready")
    for svc, port, greet, told in (("smtpd", pb[0], b"220 ", b"421 4.7.0 Too many connections from your address\r\n"),
                                   ("pop3d", pb[2], b"+OK ", b"-ERR [SYS/TEMP] too many connections from your address\r\n")):
        import socket
        first = socket.create_connection(("127.0.0.1", port), 10)
        first.settimeout(10)
        g = first.recv(1000)
        second = socket.create_connection(("127.0.0.1", port), 10)
        second.settimeout(10)
        data = b""
        try:
            while True:
                d = second.recv(1000)
                if not d:
                    break
                data += d
        except OSError:
            pass
        second.close()
        first.close()
        check("maxconnip-told-" + svc, g.startswith(greet) and data == told, repr((g, data)))
finally:
    # Let the loggers catch up before reading them; then stop everything.
    time.sleep(0.5)
    oka, okb = sa.stop(), sb.stop()

check("clean-stop", oka and okb and not supervisors_left(A) and not supervisors_left(B),
      "left: %r" % (supervisors_left(A) + supervisors_left(B)))

# The logs: each service's own s6-log directory, timestamped lines.
for home in (A, B):
    for svc in ("smtpd", "submission", "pop3d", "send"):
        text = logs(home, svc)
        check("logs-per-service-%s-%s" % (os.path.basename(home), svc),
              text and all(l.startswith("@") for l in text.splitlines()), repr(text[:200]))
# One queue id finds the whole story: the first message A took over SMTP
# (alice's) is in the smtpd log and in the send log, delivered.
smtpd_ids = [m.group(1) for m in re.finditer(rb"qid=(\d+\.\d+\.\d+)", logs(A, "smtpd").encode())]
send_log = logs(A, "send").encode()
if smtpd_ids:
    qid = smtpd_ids[0]
    story = [l for l in send_log.splitlines() if qid in l]
    check("log-story", len(story) >= 2 and any(b"alice" in l for l in story),
          "id %s in send log: %r" % (qid.decode(), story))
    rstory = [l for l in send_log.splitlines() if ID.search(l) and b"bob@b.example" in l]
    check("log-story-remote", rstory, "no send log line about bob@b.example with an id")
else:
    check("log-story", False, "no queue id in A's smtpd log: %r" % logs(A, "smtpd")[:500])
done()
