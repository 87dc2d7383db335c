#!/usr/bin/python3
"""Who sent it, after SMTP AUTH: the Received line names the login
("(authenticated as alice)", with ESMTPA), the accepted log line says
auth=alice, and SENDERLOGIN=match (the default where SMTPAUTH=required,
i.e. submission) refuses a MAIL FROM that is not one of the login's own
addresses with 553 5.7.1; on port 25 (no SMTPAUTH) it is off unless
asked for. The login's own addresses: those whose mail is delivered to
the login alone (name@ each local domain, name+ext, an alias to it)."""
import base64, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import Launcher, Raw, queued, clear_queue
from poptest import users

home = mkinstance(tmpdir("sender-login"), {
    "me": "mx.test.example", "rcpthosts": "local.example\nother.example",
    "locals": "local.example\nother.example", "authfaildelay": "0",
    "aliases": "a.smith: alice\nteam: alice, bob\nout: someone@remote.example"})
for n, uid in (("alice", 4242), ("bob", 4243)):
    d = os.path.join(home, n)
    os.makedirs(d, exist_ok=True)
    rc, _, err = users(home, "add", n, str(uid), str(uid), d, password="pw-" + n)
    check("users-add-" + n, rc == 0, err)
CPW = [prog("postie-checkpassword"), "-a", "true"]
sub = Launcher(home, CPW, env={"SMTPAUTH": "required"})
sub_any = Launcher(home, CPW, env={"SMTPAUTH": "required", "SENDERLOGIN": "any"})
mx = Launcher(home, CPW)
mx_match = Launcher(home, CPW, env={"SENDERLOGIN": "match"})


def session(l, user):
    c = Raw(l.port)
    c.cmd("EHLO client.example")
    tok = base64.b64encode(b"\0" + user.encode() + b"\0pw-" + user.encode()).decode()
    code, _ = c.cmd("AUTH PLAIN " + tok)
    return c, code


def mail_from(l, user, sender):
    c, code = session(l, user)
    r = c.cmd("MAIL FROM:<%s>" % sender)
    c.cmd("QUIT")
    c.close()
    return code, r


OWN = ["alice@local.example", "ALICE@Other.Example", "alice+lists@local.example", "a.smith@local.example", ""]
NOT = ["bob@local.example", "team@local.example", "someone@remote.example", "out@local.example",
       "nobody@local.example"]
for s in OWN:
    code, r = mail_from(sub, "alice", s)
    check("submission-own-%s" % (s or "null"), code == 235 and r[0] == 250, "%r %r" % (code, r))
for s in NOT:
    code, r = mail_from(sub, "alice", s)
    check("submission-not-own-%s" % s, code == 235 and r[0] == 553 and r[1][0].startswith("5.7.1")
          and "not owned by user alice" in r[1][0], "%r %r" % (code, r))
check("refusal-logged", "auth=alice from=<bob@local.example> reason=sender address not owned by the login"
      in sub.logtext(), sub.logtext()[-600:])
code, r = mail_from(sub_any, "alice", "bob@local.example")
check("submission-senderlogin-any", r[0] == 250, repr(r))
code, r = mail_from(mx, "alice", "bob@local.example")
check("port25-default-off", r[0] == 250, repr(r))
code, r = mail_from(mx_match, "alice", "bob@local.example")
check("port25-senderlogin-match", r[0] == 553, repr(r))

# A message: the Received line names the login; so does the log line.
clear_queue(home)
c, code = session(sub, "alice")
ok = c.cmd("MAIL FROM:<alice@local.example>")[0] == 250 and c.cmd("RCPT TO:<friend@remote.example>")[0] == 250 \
    and c.cmd("DATA")[0] == 354
r = c.cmd("Subject: hi\r\n\r\nbody\r\n.") if ok else (0, [])
c.cmd("QUIT")
c.close()
q = queued(home)
rec = q[0][1].split(b"\n\n")[0].split(b"\nSubject")[0] if q else b""
check("received-names-login", r[0] == 250 and rec.startswith(b"Received: from client.example")
      and b"(authenticated as alice)\n\tby mx.test.example (postie-smtpd) with ESMTPA id " in rec, repr(rec))
sub.wait_sessions(len(OWN) + len(NOT) + 1)
check("accepted-logged", " accepted " in sub.logtext() and "auth=alice size=" in sub.logtext(), sub.logtext()[-400:])
for l in (sub, sub_any, mx, mx_match):
    l.close()
done()
