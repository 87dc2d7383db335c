#!/usr/bin/python3
"""sendmail's other modes and who sent it: -bs (SMTP on fds 0/1 through
postie-smtpd, as a local client: relaying allowed, the uid recorded),
-bp and mailq (postie-qread), -q (every deferred message due now, through
the trigger; refused with what to run for a uid that may not write it),
-bi and newaliases (check control/aliases, postie-send reads it again);
postie's own programs found next to sendmail whatever PATH holds; the
injecting uid in a Received field and in postie-send's log."""
import os, re, smtplib, socket, stat, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("sendmail-modes", control={
    "locals": "example.org", "me": "mx.example.org", "defaultdomain": "example.org",
    "retrymin": "300", "retrymax": "3600",
    "smtproutes": ":127.0.0.1:9\n",  # remote domains: a closed port, deferred
    "aliases": "postmaster: alice\n",
})
scratch = tmpdir("sendmail-modes-x")
os.chmod(scratch, 0o755)
CLEAN = ("NAME", "POSTIE_NAME", "POSTIE_USER", "POSTIE_HOST", "POSTIE_DEFAULTDOMAIN", "POSTIE_QUEUE",
         "TCPREMOTEIP", "TCPLOCALIP", "RELAYCLIENT", "SMTPAUTH", "POSTIE_LOCALUID")


def env(**extra):
    e = i.env()
    for k in CLEAN:
        e.pop(k, None)
    e.update({k: str(v) for k, v in extra.items()})
    return e


def sm(args, inp=b"", name="sendmail", **kw):
    p = subprocess.run([os.path.join(kw.pop("bindir", BIN), name)] + args, input=inp, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=kw.pop("e", None) or env(), timeout=60, **kw)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def todo():
    return [parse_queue_file(open(f, "rb").read()) + (f,) for _, f in queue_files(i.home)]


def clear():
    for _, f in queue_files(i.home):
        os.unlink(f)


# --- -bs: a real SMTP client (python's smtplib) on sendmail's fds 0 and 1
def bs_session(e, sender, rcpts, body):
    a, b = socket.socketpair()
    p = subprocess.Popen([prog("sendmail"), "-bs"], stdin=b, stdout=b, stderr=subprocess.PIPE, env=e)
    b.close()
    s = smtplib.SMTP()
    s.sock = a
    s.file = None
    greet, feats, refused, err = (None, None), {}, None, None
    try:
        greet = s.getreply()
        s.ehlo("client.example")
        feats = dict(s.esmtp_features)
        refused = s.sendmail(sender, rcpts, body)
        s.quit()
    except smtplib.SMTPException as x:
        err = x
    a.close()
    rc = p.wait(30)
    return greet, feats, refused, err, rc, p.stderr.read().decode(errors="replace")


clear()
greet, feats, refused, err, rc, stderr = bs_session(env(TCPREMOTEIP="192.0.2.9", SMTPAUTH="required"), "me@example.org",
                                                    ["alice@example.org", "far@remote.test"],
                                                    b"Subject: bs\r\n\r\nover a pipe\r\n")
q = todo()
check("bs-greeting", greet[0] == 220, repr(greet))
check("bs-no-auth-offered", greet[0] == 220 and "auth" not in feats, repr(feats))
check("bs-relay-as-local-client", err is None and refused == {} and rc == 0, repr((err, refused, rc, stderr)))
check("bs-queued", len(q) == 1 and q and q[0][1] == "me@example.org" and q[0][2] == ["alice@example.org", "far@remote.test"],
      repr([x[1:3] for x in q]))
if q:
    m = q[0][0]
    check("bs-received-uid", re.search(rb"^Received: from client\.example \(invoked by uid %d\)\n\tby mx\.example\.org \(postie-smtpd\) with ESMTP id "
                                       % os.getuid(), m, re.M) is not None, repr(m[:300]))
    check("bs-body", m.endswith(b"\n\nover a pipe\n"), repr(m[-60:]))
check("bs-log-uid", re.search(r"postie-smtpd: \S+ accepted .* ip=local uid=%d " % os.getuid(), stderr) is not None, stderr)
rc, out, errs = sm(["-bs", "x@example.org"])
check("bs-no-recipients-arg", rc == 64 and "-bs takes no recipients" in errs, errs)
clear()

# --- PATH is never used for postie's own programs: a postie-inject that
# cannot be run (mode 0644) or a fake one earlier in PATH
bad = os.path.join(scratch, "badpath")
os.makedirs(bad, exist_ok=True)
with open(os.path.join(bad, "postie-inject"), "w") as f:
    f.write("#!/bin/sh\necho FAKE >&2\nexit 3\n")
os.chmod(os.path.join(bad, "postie-inject"), 0o644)
e = env()
e["PATH"] = bad + ":/usr/bin:/bin"
rc, out, errs = sm(["alice"], b"x\n", e=e)
check("path-unrunnable-sibling-ignored", rc == 0 and len(todo()) == 1, "rc=%d %s" % (rc, errs))
clear()
os.chmod(os.path.join(bad, "postie-inject"), 0o755)
with open(os.path.join(bad, "postie-queue"), "w") as f:
    f.write("#!/bin/sh\necho FAKE >&2\nexit 3\n")
os.chmod(os.path.join(bad, "postie-queue"), 0o755)
rc, out, errs = sm(["alice"], b"x\n", e=e)
check("path-fake-programs-ignored", rc == 0 and "FAKE" not in errs and len(todo()) == 1, "rc=%d %s" % (rc, errs))
clear()
greet, feats, refused, err, rc, stderr = bs_session(e, "me@example.org", ["alice@example.org"], b"Subject: x\r\n\r\ny\r\n")
check("path-bs-fake-queue-ignored", err is None and refused == {} and "FAKE" not in stderr and len(todo()) == 1,
      repr((err, refused, stderr)))
clear()

# --- who sent it: the real uid, whatever POSTIE_USER and -f say
rc, out, errs = sm(["-f", "ceo@bank.example", "alice"], b"Subject: hi\n\nmoney\n",
                   e=env(POSTIE_USER="ceo", POSTIE_HOST="bank.example"))
q = todo()
check("inject-received-uid", rc == 0 and q and re.match(rb"Received: \(postie-inject invoked by uid %d\);\n\t[A-Z][a-z]{2}, " % os.getuid(), q[0][0]) is not None,
      repr(q[0][0][:200] if q else errs))
i.start()
i.wait(lambda: "new msg" in i.logtext(), 10)
check("send-log-uid", re.search(r"new msg \S+: from <ceo@bank\.example> size \d+ recipients 1 uid %d\n" % os.getuid(), i.logtext()) is not None,
      i.logtext()[-500:])

# --- mailq and -bp: the queue listing
qid = i.inject("s@example.org", ["far@remote.test"])
i.wait(lambda: "<far@remote.test>: deferral" in i.logtext(), 15)
mailq = os.path.join(scratch, "mailq")
if not os.path.lexists(mailq):
    os.symlink(prog("sendmail"), mailq)
rc, out, errs = sm([], name="mailq", bindir=scratch)
check("mailq-lists", rc == 0 and (qid + " ") in out and "pending remote <far@remote.test>" in out, "rc=%d %r %s" % (rc, out, errs))
rc, out2, errs = sm(["-bp"])
check("bp-lists", rc == 0 and (qid + " ") in out2, "rc=%d %r %s" % (rc, out2, errs))

# --- -q: every deferred message due now
n = i.logtext().count("<far@remote.test>: deferral")
rc, out, errs = sm(["-q"])
check("q-exit-0", rc == 0 and "retries every deferred message now" in out, "rc=%d %s %s" % (rc, out, errs))
check("q-retried", i.wait(lambda: i.logtext().count("<far@remote.test>: deferral") > n, 10) and "retrying everything now" in i.logtext(),
      i.logtext()[-400:])
rc, out, errs = sm(["-q1h"])
check("q-interval-refused", rc == 64 and "sendmail -q retries everything now" in errs, errs)
if ROOT:
    # a uid that may not write the trigger is told what to run
    p = subprocess.run(["s6-setuidgid", "nobody", prog("sendmail"), "-q"], env=env(), capture_output=True, text=True, timeout=30)
    check("q-unprivileged-says-what-to-run", p.returncode == 77 and "s6-svc -a" in p.stderr, "rc=%d %s" % (p.returncode, p.stderr))

# --- newaliases and -bi: check, and postie-send reads the aliases again
n = i.logtext().count("settings read again")
nl = os.path.join(scratch, "newaliases")
if not os.path.lexists(nl):
    os.symlink(prog("sendmail"), nl)
rc, out, errs = sm([], name="newaliases", bindir=scratch)
check("newaliases-ok", rc == 0 and "1 alias, every one reaches someone" in out and "reads the control files again now" in out,
      "rc=%d %s %s" % (rc, out, errs))
check("newaliases-reload", i.wait(lambda: i.logtext().count("settings read again") > n, 10), i.logtext()[-300:])
i.control("aliases", "postmaster: alice\nsales: nobodyhere, bob\n")
rc, out, errs = sm(["-bi"])
check("bi-bad-target", rc == 65 and "alias sales: <nobodyhere@example.org>: no such user" in errs and "2 aliases" in out,
      "rc=%d %s %s" % (rc, out, errs))
i.stop()
rc, out, errs = sm(["-bi"])
check("bi-send-not-running", "postie-send is not running" in out, out)
done()
