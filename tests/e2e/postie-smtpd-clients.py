#!/usr/bin/python3
"""postie-smtpd with real clients (smtplib, swaks): plain and pipelined
sessions, 8-bit and SMTPUTF8, SIZE, AUTH PLAIN/LOGIN, relay permission,
the Received: line, the log lines, queue failures, mail loops, the RCPT
check against locals/users/aliases."""
import base64, os, re, smtplib, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-clients")
L = Launcher(home, [CHECKPASSWORD])
nsessions = 0


def swaks(*args, port=None):
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % (port or L.port), "--helo", "swaks.example",
                        "--hide-informational", "--timeout", "20"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace").replace("\n", " | ")


# --- a plain session with smtplib
clear_queue(home)
s = smtplib.SMTP("127.0.0.1", L.port, local_hostname="client.example", timeout=20)
code, banner = s.ehlo()
nsessions += 1
check("ehlo-250", code == 250, repr(banner))
feats = banner.decode().split("\n")
check("ehlo-first-line-me", feats[0] == "mx.test.example", feats[0])
for f in ("PIPELINING", "8BITMIME", "SIZE 26214400", "ENHANCEDSTATUSCODES", "SMTPUTF8", "AUTH PLAIN LOGIN"):
    check("ehlo-has-" + f.split()[0].lower(), f in feats, repr(feats))
msg = b"From: a@client.example\r\nTo: b@local.example\r\nSubject: plain\r\n\r\nline one\r\n.leading dot\r\n\r\nlast\r\n"
refused = s.sendmail("a@client.example", ["b@local.example"], msg)
check("plain-accepted", refused == {}, repr(refused))
r = s.noop()
check("noop", r[0] == 250 and r[1].startswith(b"2.0.0"), repr(r))
r = s.verify("b")
check("vrfy-252", r[0] == 252, repr(r))
r = s.docmd("HELP")
check("help-214", r[0] == 214, repr(r))
r = s.docmd("EXPN", "list")
check("expn-502", r[0] == 502 and r[1].startswith(b"5.5.1"), repr(r))
r = s.docmd("FOO")
check("unknown-500", r[0] == 500 and r[1].startswith(b"5.5.1"), repr(r))
r = s.rset()
check("rset", r[0] == 250, repr(r))
s.quit()
q = queued(home)
check("plain-one-queued", len(q) == 1, repr(q))
if q:
    qid, m, snd, rc = q[0]
    check("plain-envelope", snd == "a@client.example" and rc == ["b@local.example"], repr((snd, rc)))
    head, _, rest = m.partition(b"\nFrom: ")
    check("plain-body-lf-and-unstuffed", rest == b"a@client.example\nTo: b@local.example\nSubject: plain\n\nline one\n.leading dot\n\nlast\n", repr(rest))
    rx = (rb"^Received: from client\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.test\.example \(postie-smtpd\) with ESMTP id (S\d+\.\d{6}\.\d+-1)\n"
          rb"\tfor <b@local\.example>;\n\t(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$")
    mm = re.match(rx, head)
    check("received-line", mm is not None, repr(head))
    check("received-only-one", m.count(b"Received:") == 1)
    log = L.logtext()
    if mm:
        sid = mm.group(1).decode()
        acc = [l for l in log.splitlines() if " accepted " in l and sid in l]
        check("log-accepted-links-ids", len(acc) == 1 and ("qid=" + qid) in acc[0], repr(log))
        if acc:
            for part in ("ip=127.0.0.1", "auth=-", "from=<a@client.example>", "to=<b@local.example>", "nrcpt=1", "size=%d" % len(m)):
                check("log-accepted-" + part.split("=")[0], part in acc[0], acc[0])

# --- the reply to DATA names the queue id
clear_queue(home)
c = Raw(L.port)
nsessions += 1
c.cmd("EHLO raw.example")
c.cmd("MAIL FROM:<>")
c.cmd("RCPT TO:<x@local.example>")
c.cmd("DATA")
c.send(b"Subject: null sender\r\n\r\nx\r\n.\r\n")
r = c.reply()
q = queued(home)
check("data-reply-queue-id", r[0] == 250 and len(q) == 1 and r[1][0] == "2.0.0 Ok: queued as " + q[0][0], repr((r, q)))
check("null-sender", q and q[0][2] == "", repr(q))
c.cmd("QUIT")
c.close()

# --- a pipelined session with several recipients (raw, then swaks)
clear_queue(home)
c = Raw(L.port)
nsessions += 1
c.cmd("EHLO pipe.example")
c.send(b"MAIL FROM:<p@pipe.example>\r\n" + b"".join(b"RCPT TO:<r%d@local.example>\r\n" % i for i in range(5))
       + b"RCPT TO:<nobody@remote.example>\r\nDATA\r\n")
reps = [c.reply() for _ in range(8)]
check("pipelined-replies", [r[0] for r in reps] == [250, 250, 250, 250, 250, 250, 554, 354], repr(reps))
c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<p2@pipe.example>\r\nRCPT TO:<z@local.example>\r\nDATA\r\n")
reps = [c.reply() for _ in range(4)]
check("pipelined-after-dot", [r[0] for r in reps] == [250, 250, 250, 354], repr(reps))
c.send(b"Subject: second\r\n\r\nbody\r\n.\r\nQUIT\r\n")
reps = [c.reply() for _ in range(2)]
check("pipelined-quit", [r[0] for r in reps] == [250, 221], repr(reps))
c.close()
q = sorted(queued(home), key=lambda x: x[2])
check("pipelined-queued", [(x[2], x[3]) for x in q] == [("p2@pipe.example", ["z@local.example"]),
                                                       ("p@pipe.example", ["r%d@local.example" % i for i in range(5)])], repr(q))
check("received-no-for-when-many", q and b"\tfor <" not in q[1][1].split(b"\nSubject")[0], repr(q[1][1][:300]) if q else "")

clear_queue(home)
rc, o = swaks("--pipeline", "--from", "sw@swaks.example", "--to", "a@local.example,b@local.example,c@x.sub.local.example",
              "--header", "Subject: swaks pipelined", "--body", "swaks body")
nsessions += 1
q = queued(home)
check("swaks-pipeline", rc == 0 and len(q) == 1 and q[0][3] == ["a@local.example", "b@local.example", "c@x.sub.local.example"], o + repr(q))
check("swaks-pipeline-body", q and b"swaks body" in q[0][1] and b"Subject: swaks pipelined" in q[0][1])

# --- 8-bit and SMTPUTF8
clear_queue(home)
s = smtplib.SMTP("127.0.0.1", L.port, local_hostname="client.example", timeout=20)
nsessions += 1
body8 = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu \u2603\r\n".encode("utf-8")
s.sendmail("a@client.example", ["b@local.example"], body8, mail_options=["BODY=8BITMIME"])
q = queued(home)
check("8bit-accepted", len(q) == 1 and q[0][1].endswith("Subject: caf\u00e9\n\nd\u00e9j\u00e0 vu \u2603\n".encode()), repr(q))
clear_queue(home)
s.sendmail("j\u00f6s\u00e9@client.example", ["\u00fcser@local.example"],
           "Subject: \u00fc\r\n\r\nutf8\r\n".encode(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
q = queued(home)
check("smtputf8-accepted", len(q) == 1 and q[0][2] == "j\u00f6s\u00e9@client.example" and q[0][3] == ["\u00fcser@local.example"], repr(q))
check("smtputf8-protocol", q and b" with UTF8SMTP id " in q[0][1], repr(q[0][1][:200]) if q else "")
clear_queue(home)
r = s.docmd("MAIL", "FROM:<j\u00f6s\u00e9@client.example>".encode().decode("latin-1"))
check("utf8-sender-without-smtputf8", r[0] == 553 and r[1].startswith(b"5.6.7"), repr(r))
s.docmd("MAIL", "FROM:<a@client.example>")
r = s.docmd("RCPT", "TO:<\u00fcser@local.example>".encode().decode("latin-1"))
check("utf8-rcpt-without-smtputf8", r[0] == 553 and r[1].startswith(b"5.6.7"), repr(r))
s.quit()
c = Raw(L.port)
nsessions += 1
c.cmd("EHLO x.example"); c.cmd("MAIL FROM:<a@client.example>"); c.cmd("RCPT TO:<b@local.example>"); c.cmd("DATA")
c.send(b"\xff\xfe invalid utf-8 is still 8-bit data\r\n.\r\n")
r = c.reply()
check("8bit-any-bytes", r[0] == 250, repr(r))
c.cmd("QUIT")
c.close()

# --- SIZE announced and enforced
home2 = smtpd_instance("smtpd-clients-size", {"databytes": "2000"})
L2 = Launcher(home2)
s = smtplib.SMTP("127.0.0.1", L2.port, local_hostname="client.example", timeout=20)
s.ehlo()
check("size-announced", s.esmtp_features.get("size") == "2000", repr(s.esmtp_features))
check("no-auth-without-checkpassword", "auth" not in s.esmtp_features, repr(s.esmtp_features))
try:
    s.sendmail("a@client.example", ["b@local.example"], b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 40)
    check("size-refused-on-mail", False, "accepted")
except smtplib.SMTPSenderRefused as e:
    check("size-refused-on-mail", e.smtp_code == 552 and e.smtp_error.startswith(b"5.3.4"), repr(e))
r = s.docmd("MAIL", "FROM:<a@client.example> SIZE=2000")
check("size-at-limit-ok", r[0] == 250, repr(r))
s.rcpt("b@local.example")
r = s.data(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 40)
check("size-enforced-in-data", r[0] == 552 and r[1].startswith(b"5.3.4"), repr(r))
check("size-nothing-queued", queued(home2) == [], repr(queued(home2)))
r = s.sendmail("a@client.example", ["b@local.example"], b"Subject: small\r\n\r\nsmall\r\n")
check("size-small-after-refusal", r == {} and len(queued(home2)) == 1)
s.quit()
L2.close()

# --- AUTH with smtplib: PLAIN and LOGIN, success and failure
for mech in ("PLAIN", "LOGIN"):
    for user, pw, ok in (("alice", "secret", True), ("alice", "wrong", False), ("mallory", "secret", False)):
        s = smtplib.SMTP("127.0.0.1", L.port, local_hostname="client.example", timeout=20)
        nsessions += 1
        s.ehlo()
        s.user, s.password = user, pw
        name = "smtplib-auth-%s-%s-%s" % (mech.lower(), user, "ok" if ok else "bad")
        try:
            r = s.auth(mech, getattr(s, "auth_" + mech.lower()), initial_response_ok=(mech == "PLAIN"))
            check(name, ok and r[0] == 235 and r[1].startswith(b"2.7.0"), repr(r))
        except smtplib.SMTPAuthenticationError as e:
            check(name, not ok and e.smtp_code == 535 and e.smtp_error.startswith(b"5.7.8"), repr(e))
        if ok:
            clear_queue(home)
            r = s.sendmail("alice@client.example", ["far@remote.example"], b"Subject: relayed\r\n\r\nx\r\n")
            q = queued(home)
            check(name + "-may-relay", r == {} and len(q) == 1 and b" with ESMTPA id " in q[0][1], repr(q))
            r = s.docmd("AUTH", "PLAIN")
            check(name + "-twice-503", r[0] == 503, repr(r))
        else:
            try:
                s.sendmail("m@client.example", ["far@remote.example"], b"x\r\n")
                check(name + "-no-relay", False, "relayed")
            except smtplib.SMTPRecipientsRefused as e:
                check(name + "-no-relay", list(e.recipients.values())[0][0] == 554, repr(e.recipients))
        s.quit()
log = L.logtext()
check("log-auth-ok", "mech=PLAIN user=alice ok" in log and "mech=LOGIN user=alice ok" in log)
check("log-auth-failed", "user=mallory failed" in log)
check("log-accepted-auth-user", re.search(r" accepted .* auth=alice .*to=<far@remote\.example>", log) is not None)
check("log-session-auth-user", re.search(r" session .* auth=alice ", log) is not None)

# AUTH: what the checkpassword program gets
cplog = os.path.join(home, "cp.log")
L3 = Launcher(home, [CHECKPASSWORD, "/usr/bin/env"], env={"TEST_CHECKPASSWORD_LOG": cplog})
c = Raw(L3.port)
c.cmd("EHLO x.example")
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0secret").decode())
c.cmd("QUIT")
c.close()
seen = open(cplog, "rb").read() if os.path.exists(cplog) else b""
check("checkpassword-interface", r[0] == 235 and re.match(rb"^b'alice' b'secret' b'<S\d+\.\d{6}\.\d+@mx\.test\.example>' \['/usr/bin/env', '/bin/true'\]\n$", seen) is not None, repr(seen))
c = Raw(L3.port)
c.cmd("EHLO x.example")
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0tempfail\0x").decode())
check("checkpassword-temporary-454", r[0] == 454 and r[1][0].startswith("4.7.0"), repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"bob\0alice\0secret").decode())
check("auth-plain-other-authzid-refused", r[0] == 535, repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"alice\0alice\0secret").decode())
check("auth-plain-same-authzid-ok", r[0] == 235, repr(r))
c.cmd("QUIT")
c.close()
L3.close()

# AUTH with swaks
for mech in ("PLAIN", "LOGIN"):
    clear_queue(home)
    rc, o = swaks("--auth", mech, "--auth-user", "alice", "--auth-password", "secret",
                  "--from", "alice@client.example", "--to", "far@remote.example")
    nsessions += 1
    check("swaks-auth-%s-ok" % mech.lower(), rc == 0 and "235 2.7.0" in o and len(queued(home)) == 1, o)
    rc, o = swaks("--auth", mech, "--auth-user", "alice", "--auth-password", "nope",
                  "--from", "alice@client.example", "--to", "far@remote.example")
    nsessions += 1
    check("swaks-auth-%s-bad" % mech.lower(), rc != 0 and "535 5.7.8" in o, o)

# --- SMTPAUTH=required (submission), SMTPAUTH=no, RELAYCLIENT
# (SENDERLOGIN=any: alice@client.example is not one of alice's own
# addresses, which submission requires by default; postie-smtpd-sender-login.py
# tests that.)
L4 = Launcher(home, [CHECKPASSWORD], env={"SMTPAUTH": "required", "SENDERLOGIN": "any"})
c = Raw(L4.port)
c.cmd("EHLO sub.example")
r = c.cmd("MAIL FROM:<alice@client.example>")
check("auth-required-530", r[0] == 530 and r[1][0].startswith("5.7.0"), repr(r))
r = c.cmd("AUTH LOGIN")
r2 = c.cmd(base64.b64encode(b"alice").decode())
r3 = c.cmd(base64.b64encode(b"secret").decode())
check("auth-login-dialogue", (r[0], r[1], r2[0], r2[1], r3[0]) == (334, ["VXNlcm5hbWU6"], 334, ["UGFzc3dvcmQ6"], 235), repr((r, r2, r3)))
r = c.cmd("MAIL FROM:<alice@client.example>")
check("auth-required-after-auth", r[0] == 250, repr(r))
c.cmd("QUIT")
c.close()
L4.close()
L5 = Launcher(home, [CHECKPASSWORD], env={"SMTPAUTH": "no"})
c = Raw(L5.port)
r = c.cmd("EHLO x.example")
check("smtpauth-no-not-offered", not any(l.startswith("AUTH") for l in r[1]), repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0secret").decode())
check("smtpauth-no-502", r[0] == 502, repr(r))
c.close()
L5.close()
L6 = Launcher(home, env={"RELAYCLIENT": ""})
clear_queue(home)
s = smtplib.SMTP("127.0.0.1", L6.port, local_hostname="client.example", timeout=20)
r = s.sendmail("a@client.example", ["far@remote.example"], b"Subject: r\r\n\r\nx\r\n")
check("relayclient-may-relay", r == {} and len(queued(home)) == 1)
s.quit()
L6.close()

# --- queue program failures: 451 / 554 with the reason, never 250
def fakequeue(code):
    p = os.path.join(home, "fakequeue%d" % code)
    with open(p, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\nexit %d\n" % code)
    os.chmod(p, 0o755)
    return p

for code, want, text in ((31, 554, "5.3.0 message refused"), (71, 451, "4.3.0 message temporarily refused"),
                         (53, 451, "4.3.0 unable to write"), (0, 250, "2.0.0 Ok")):
    Lq = Launcher(home, env={"POSTIE_QUEUE": fakequeue(code)})
    c = Raw(Lq.port)
    c.cmd("EHLO x.example")
    c.cmd("MAIL FROM:<a@client.example>")
    c.cmd("RCPT TO:<b@local.example>")
    c.cmd("DATA")
    c.send(b"Subject: q\r\n\r\nx\r\n.\r\n")
    r = c.reply()
    check("queue-exit-%d" % code, r[0] == want and r[1][0].startswith(text), repr(r))
    c.close()
    Lq.close()
Lq = Launcher(home, env={"POSTIE_QUEUE": "/nonexistent/queue"})
c = Raw(Lq.port)
c.cmd("EHLO x.example"); c.cmd("MAIL FROM:<a@client.example>"); c.cmd("RCPT TO:<b@local.example>")
r = c.cmd("DATA")
if r[0] == 354:
    c.send(b"x\r\n.\r\n")
    r = c.reply()
check("queue-missing-451", r[0] == 451, repr(r))
c.close()
Lq.close()

# --- a mail loop: more than 100 Received lines
clear_queue(home)
c = Raw(L.port)
nsessions += 1
c.cmd("EHLO x.example")
for n, want in ((100, 250), (101, 554)):
    c.cmd("MAIL FROM:<a@client.example>")
    c.cmd("RCPT TO:<b@local.example>")
    c.cmd("DATA")
    c.send(b"".join(b"Received: from hop%d by somewhere\r\n" % i for i in range(n)) + b"Subject: loop\r\n\r\nx\r\n.\r\n")
    r = c.reply()
    check("hops-%d" % n, r[0] == want and (want == 250 or r[1][0].startswith("5.4.6")), repr(r))
c.cmd("MAIL FROM:<a@client.example>")
c.cmd("RCPT TO:<b@local.example>")
c.cmd("DATA")
c.send(b"Subject: received in body\r\n\r\n" + b"Received: not a header\r\n" * 150 + b".\r\n")
r = c.reply()
check("hops-body-not-counted", r[0] == 250, repr(r))
c.cmd("QUIT")
c.close()
check("hops-queued", len(queued(home)) == 2)

# --- the RCPT check: control/locals, the users database, control/aliases
home7 = smtpd_instance("smtpd-clients-rcpt", {"locals": "local.example", "aliases": "info: alice\nSales : bob, carol",
                                              "extsep": "+-"})
users_cdb(home7, ["alice", "Bob"])
L7 = Launcher(home7)
c = Raw(L7.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@client.example>")
for rcpt, want in (("alice@local.example", 250), ("ALICE@Local.Example", 250), ("bob@local.example", 250),
                   ("alice+tag@local.example", 250), ("bob-list@local.example", 250), ("info@local.example", 250),
                   ("sales@local.example", 250), ("postmaster@local.example", 250), ("Postmaster", 250),
                   ("nobody@local.example", 550), ("nobody+alice@local.example", 550),
                   ("${run{/bin/true}}@local.example", 550), ("x@a.sub.local.example", 250)):
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    check("rcpt-check-" + rcpt, r[0] == want and (want != 550 or r[1][0].startswith("5.1.1")), repr(r))
c.cmd("QUIT")
c.close()
L7.close()

# rcpthosts.cdb: exact keys and .domain keys
home8 = smtpd_instance("smtpd-clients-cdb", {"rcpthosts": "# nothing here"})
cdb_write(os.path.join(home8, "control", "rcpthosts.cdb"), [(b"cdb.example", b""), (b".wild.example", b"")])
L8 = Launcher(home8)
c = Raw(L8.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@client.example>")
for rcpt, want in (("a@cdb.example", 250), ("a@CDB.example", 250), ("a@x.cdb.example", 554), ("a@wild.example", 554),
                   ("a@x.wild.example", 250), ("a@y.x.wild.example", 250), ("a@local.example", 554)):
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    check("rcpthosts-cdb-" + rcpt, r[0] == want, repr(r))
c.close()
L8.close()

# --- TCPREMOTEIP in the Received: line: IPv6, and junk is ignored
for ip, want in (("::1", b"([IPv6:::1])"), ("2001:db8::7", b"([IPv6:2001:db8::7])"),
                 ("1.2.3.4\nX-Injected: yes", b"(unknown)"), ("", b"(unknown)"), ("a" * 100, b"(unknown)")):
    clear_queue(home)
    Li = Launcher(home, remoteip=ip)
    c = Raw(Li.port)
    c.cmd("EHLO [198.51.100.1]")
    c.cmd("MAIL FROM:<a@client.example>"); c.cmd("RCPT TO:<b@local.example>"); c.cmd("DATA")
    c.send(b"Subject: ip\r\n\r\nx\r\n.\r\n")
    r = c.reply()
    c.close()
    q = queued(home)
    check("received-ip-" + repr(ip)[:20], r[0] == 250 and q and q[0][1].startswith(b"Received: from [198.51.100.1] " + want + b"\n")
          and b"X-Injected" not in q[0][1], repr(q[0][1][:80]) if q else repr(r))
    Li.close()
# A hostile HELO name is neutralized in the header.
clear_queue(home)
c = Raw(L.port)
nsessions += 1
c.cmd("EHLO evil(name);<x>\"y\"")
c.cmd("MAIL FROM:<a@client.example>"); c.cmd("RCPT TO:<b@local.example>"); c.cmd("DATA")
c.send(b"Subject: helo\r\n\r\nx\r\n.\r\n")
c.reply()
c.cmd("QUIT")
c.close()
q = queued(home)
check("received-helo-sanitized", q and q[0][1].startswith(b"Received: from evil?name???x??y? ([127.0.0.1])\n"), repr(q[0][1][:80]) if q else "")

# --- one log line per session
L.close()
res = L.wait_sessions(nsessions)
sess = [l for l in L.logtext().splitlines() if " session " in l]
check("log-one-line-per-session", len(sess) == len(res) == nsessions, "%d lines, %d sessions, %d expected" % (len(sess), len(res), nsessions))
check("log-session-fields", all(re.search(r"^postie-smtpd: S\d+\.\d{6}\.\d+ session ip=127\.0\.0\.1 port=\d+ helo=\S+ auth=\S+ tls=\S+ messages=\d+ refused=\d+ bad=\d+ end=\w+$", l) for l in sess), repr(sess[:3]))
done()
