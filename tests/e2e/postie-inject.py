#!/usr/bin/python3
"""postie-inject and sendmail, end to end: the flags MUAs and cron use,
recipients on the command line and from the header (-t), Bcc removal, the
fields added, line ends and the "." line, errors that leave nothing
queued, and the exit codes (sysexits)."""
import os, pwd, re, stat, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

home = mkinstance(tmpdir("inject"), {"defaultdomain": "example.org", "me": "mx.example.org"})
LOGIN = pwd.getpwuid(os.getuid()).pw_name
ME = LOGIN + "@example.org"
DATE_RE = re.compile(rb"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
                     rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                     rb"[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$", re.M)
MSGID_RE = re.compile(rb"^Message-ID: <[0-9]+\.[0-9]+\.[0-9]+\.[0-9a-f]{16}@mx\.example\.org>$", re.M)
CLEAN = ("NAME", "POSTIE_NAME", "POSTIE_USER", "POSTIE_HOST", "POSTIE_DEFAULTDOMAIN", "POSTIE_QUEUE")


# postie-inject's trace field, on top of every message (who injected it:
# tests/e2e/sendmail-modes.py); the checks below look at what follows it.
RECEIVED_RE = re.compile(rb"Received: \(postie-inject invoked by uid %d\);\n\t[A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000\n" % os.getuid())
received_seen = []


def unreceived(m):
    r = RECEIVED_RE.match(m)
    received_seen.append(r is not None)
    return m[r.end():] if r else m


def clear():
    for _, p in queue_files(home):
        os.unlink(p)


def run(args, msg, prog="sendmail", env=None, path=None):
    """Run prog with msg on stdin; returns (rc, stderr, [(message, sender, rcpts)])
    and empties the queue."""
    e = env_for(home)
    for k in CLEAN:
        e.pop(k, None)
    e.update(env or {})
    if path is not None:
        e["PATH"] = path
    p = subprocess.run([prog if "/" in prog else os.path.join(BIN, prog)] + args, input=msg,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=60)
    out = [parse_queue_file(open(f, "rb").read()) for _, f in queue_files(home)]
    out = [(unreceived(m), s, r) for m, s, r in out]
    clear()
    return p.returncode, p.stderr.decode(errors="replace"), out


def header_of(m):
    return m.split(b"\n\n", 1)[0] + b"\n"


def body_of(m):
    return m.split(b"\n\n", 1)[1]


# --- cron-like use: echo body | sendmail user
rc, err, q = run(["root"], b"body\n")
check("cron-exit-0", rc == 0, "rc=%d %s" % (rc, err))
check("cron-one-message", len(q) == 1, repr(q))
if q:
    m, s, r = q[0]
    check("cron-sender-default", s == ME, s)
    check("cron-bare-recipient-gets-defaultdomain", r == ["root@example.org"], repr(r))
    check("cron-body", body_of(m) == b"body\n", repr(m))
    check("cron-from-added", re.search(rb"^From: " + re.escape(ME.encode()) + rb"$", m, re.M) is not None, repr(m))
    check("cron-date-added", DATE_RE.search(m) is not None, repr(m))
    check("cron-message-id-added", MSGID_RE.search(m) is not None, repr(m))
    check("cron-only-added-fields", header_of(m).count(b"\n") == 3, repr(m))

# Debian cron and cronie's command lines.
rc, err, q = run(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
                 b"Subject: Cron <root@host> ls\nTo: root\n\nout\n")
check("cron-debian-flags", rc == 0 and len(q) == 1 and q[0][2] == ["root@example.org"], "rc=%d %s %r" % (rc, err, q))
if q:
    check("cron-debian-from-name", b"\nFrom: CronDaemon <" + ME.encode() + b">\n" in q[0][0], repr(q[0][0]))
rc, err, q = run(["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"],
                 b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@h> true\n\nok\n")
check("cron-cronie-flags", rc == 0 and len(q) == 1 and q[0][1] == "root@example.org" and q[0][2] == ["root@example.org"],
      "rc=%d %s %r" % (rc, err, q))
if q:
    check("cron-cronie-from-kept", q[0][0].count(b"From:") == 1 and b"From: root (Cron Daemon)\n" in q[0][0], repr(q[0][0]))

# mutt, git send-email, mail(1).
for name, flags in (("mutt", ["-oem", "-oi", "--"]), ("git-send-email", ["-i"]), ("mailx", ["-i", "--"])):
    rc, err, q = run(flags + ["x@example.net", "y@example.net"], b"From: a@b.c\nTo: x@example.net\nSubject: s\n\n.\nb\n")
    check("mua-" + name, rc == 0 and len(q) == 1 and q[0][2] == ["x@example.net", "y@example.net"]
          and body_of(q[0][0]) == b".\nb\n", "rc=%d %s %r" % (rc, err, q))

# The same through postie-inject directly.
rc, err, q = run(["someone@example.net"], b"Subject: x\n\ny\n", prog="postie-inject")
check("postie-inject-direct", rc == 0 and len(q) == 1 and q[0][2] == ["someone@example.net"], "rc=%d %s" % (rc, err))

# --- -t: To, Cc, Bcc; Bcc removed; argv recipients added; duplicates once.
msg = (b"From: Alice <alice@example.com>\n"
       b"To: Bob <bob@example.net>, \"Carol Q.\" <carol@example.net>\n"
       b"Cc: dave@example.net,\n  Eve (the eavesdropper) <eve@example.net>\n"
       b"Bcc: hidden@example.net, bob@example.net\n"
       b"Subject: test\n"
       b"\n"
       b"Hello.\n")
rc, err, q = run(["-t"], msg)
check("t-exit-0", rc == 0, "rc=%d %s" % (rc, err))
if q:
    m, s, r = q[0]
    check("t-recipients", r == ["bob@example.net", "carol@example.net", "dave@example.net", "eve@example.net", "hidden@example.net"], repr(r))
    check("t-bcc-removed", b"Bcc" not in m and b"hidden" not in m, repr(m))
    check("t-from-kept", m.count(b"From:") == 1 and b"From: Alice <alice@example.com>\n" in m, repr(m))
    check("t-folding-kept", b"Cc: dave@example.net,\n  Eve (the eavesdropper) <eve@example.net>\n" in m, repr(m))
    check("t-body", body_of(m) == b"Hello.\n", repr(m))
    check("t-order-kept", header_of(m).startswith(b"From: Alice <alice@example.com>\nTo: Bob"), repr(m))
    check("t-sender-is-user", s == ME, s)
rc, err, q = run(["-t", "extra@example.org", "bob@example.net"], msg)
check("t-plus-argv", rc == 0 and q and q[0][2] == ["extra@example.org", "bob@example.net", "carol@example.net",
                                                  "dave@example.net", "eve@example.net", "hidden@example.net"], repr(q))
# The same recipient with its domain in another case is the same recipient
# (delivered once, as first spelt); a local part in another case is not.
rc, err, q = run(["-t", "Bob@EXAMPLE.net"], b"To: bob@example.net, BOB@Example.Net\nCc: bob@Example.NET, Bob@example.net\n\nx\n")
check("t-duplicates-domain-case", rc == 0 and q and q[0][2] == ["Bob@EXAMPLE.net", "bob@example.net", "BOB@Example.Net"], repr(q))
rc, err, q = run(["carol@example.net", "carol@EXAMPLE.NET", "carol@Example.Net"], b"Subject: x\n\ny\n", prog="postie-inject")
check("argv-duplicates-domain-case", rc == 0 and q and q[0][2] == ["carol@example.net"], repr(q))
rc, err, q = run(["-t"], b"To: Undisclosed recipients:;\nBcc: one@example.net\n\nx\n")
check("t-group-and-bcc-only", rc == 0 and q and q[0][2] == ["one@example.net"] and b"Bcc" not in q[0][0]
      and b"To: Undisclosed recipients:;\n" in q[0][0], repr(q))
rc, err, q = run(["-t"], b"To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n\nx\n")
check("t-group-members", rc == 0 and q and q[0][2] == ["c@a.test", "joe@where.test", "jdoe@one.test"], repr(q))
# a quoted-pair in a domain literal reaches the envelope whole (it used
# to lose the escaped character and keep the backslash: [ab\])
rc, err, q = run(["-t"], b"To: a@[ab\\ ]\n\nx\n")
check("t-domain-literal-quoted-pair", rc == 0 and q and q[0][2] == ["a@[ab\\ ]"], "rc=%d %s %r" % (rc, err, q))
rc, err, q = run(["-t"], b"To: \"john doe\"@example.net, \"a\\\"b\"@example.net\n\nx\n")
check("t-quoted-local-parts", rc == 0 and q and q[0][2] == ["john doe@example.net", 'a"b@example.net'], repr(q))
rc, err, q = run(["-t"], b"To: root, postmaster\n\nx\n")
check("t-bare-names", rc == 0 and q and q[0][2] == ["root@example.org", "postmaster@example.org"], repr(q))
rc, err, q = run([], b"To: x@example.net\n\nx\n")
check("no-t-ignores-header", rc == 64 and not q, "rc=%d %r" % (rc, q))
rc, err, q = run([], b"To: x@example.net\nBcc: y@example.net\n\nx\n", prog="postie-inject")
check("no-t-no-recipients-64", rc == 64 and not q and "no recipients" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["someone@example.net"], b"To: x@example.net\nBcc: y@example.net\n\nx\n")
check("no-t-bcc-still-removed", rc == 0 and q and q[0][2] == ["someone@example.net"] and b"Bcc" not in q[0][0], repr(q))
rc, err, q = run(["-t"], b"Subject: nobody\n\nx\n")
check("t-no-recipients-65", rc == 65 and not q and "no recipients" in err, "rc=%d %s" % (rc, err))

# Resent- fields: -t takes the Resent- recipients, as sendmail does.
resent = (b"Resent-From: Mary Smith <mary@example.net>\n"
          b"Resent-To: Jane Brown <j-brown@other.example>\n"
          b"Resent-Bcc: secret@other.example\n"
          b"From: John Doe <jdoe@machine.example>\n"
          b"To: Mary Smith <mary@example.net>\n"
          b"Subject: Saying Hello\n"
          b"Date: Fri, 21 Nov 1997 09:55:06 -0600\n"
          b"Message-ID: <1234@local.machine.example>\n"
          b"\n"
          b"This is a message just to say hello.\n")
rc, err, q = run(["-t"], resent)
check("resent-recipients", rc == 0 and q and q[0][2] == ["j-brown@other.example", "secret@other.example"], repr(q))
if q:
    m = q[0][0]
    check("resent-bcc-removed", b"Resent-Bcc" not in m and b"secret" not in m, repr(m))
    check("resent-date-added", re.search(rb"^Resent-Date: ", m, re.M) is not None and m.count(b"\nDate:") == 1, repr(m))
    check("resent-message-id-added", re.search(rb"^Resent-Message-ID: <", m, re.M) is not None and m.count(b"Message-ID: <1234@") == 1, repr(m))
    check("resent-from-kept", m.count(b"Resent-From:") == 1, repr(m))
    check("resent-added-on-top", m.startswith(b"Resent-Date: ") or m.startswith(b"Resent-Message-ID: "), repr(m))

# --- -f and -F
rc, err, q = run(["-f", "bounces@example.com", "x@example.net"], b"Subject: s\n\nb\n")
check("f-sender", rc == 0 and q and q[0][1] == "bounces@example.com", repr(q))
if q:
    check("f-from-uses-sender", b"\nFrom: bounces@example.com\n" in b"\n" + q[0][0], repr(q[0][0]))
rc, err, q = run(["-fbounces@example.com", "x@example.net"], b"b\n")
check("f-attached", rc == 0 and q and q[0][1] == "bounces@example.com", repr(q))
rc, err, q = run(["-r", "old@example.com", "x@example.net"], b"b\n")
check("r-is-f", rc == 0 and q and q[0][1] == "old@example.com", repr(q))
rc, err, q = run(["-f", "<>", "x@example.net"], b"b\n")
check("f-null-sender", rc == 0 and q and q[0][1] == "" and (b"From: " + ME.encode()) in q[0][0], repr(q))
rc, err, q = run(["-f", "", "x@example.net"], b"b\n")
check("f-empty-null-sender", rc == 0 and q and q[0][1] == "", repr(q))
rc, err, q = run(["-f", "daemon", "x@example.net"], b"b\n")
check("f-bare-gets-defaultdomain", rc == 0 and q and q[0][1] == "daemon@example.org", repr(q))
rc, err, q = run(["-f", "Bounce Handler <b@example.com>", "x@example.net"], b"b\n")
check("f-with-display-name", rc == 0 and q and q[0][1] == "b@example.com", repr(q))
rc, err, q = run(["-f", "a@b, c@d", "x@example.net"], b"b\n")
check("f-two-addresses-64", rc == 64 and not q, "rc=%d %s" % (rc, err))
rc, err, q = run(["-f", "\"unclosed@x", "x@example.net"], b"b\n")
check("f-invalid-64", rc == 64 and not q and "unbalanced quote" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["-F", "Joe Q. Public", "x@example.net"], b"b\n")
check("F-quoted-name", rc == 0 and q and (b"From: \"Joe Q. Public\" <" + ME.encode() + b">\n") in q[0][0], repr(q))
rc, err, q = run(["-F", "Cron Daemon", "x@example.net"], b"From: me@example.com\n\nb\n")
check("F-existing-from-kept", rc == 0 and q and q[0][0].count(b"From:") == 1 and b"From: me@example.com\n" in q[0][0], repr(q))
rc, err, q = run(["-F", "bad\nname", "x@example.net"], b"b\n")
check("F-control-char-64", rc == 64 and not q, "rc=%d %s" % (rc, err))
rc, err, q = run(["x@example.net"], b"b\n", env={"NAME": "Nom Name"})
check("env-NAME", rc == 0 and q and (b"From: Nom Name <" + ME.encode() + b">\n") in q[0][0], repr(q))
rc, err, q = run(["x@example.net"], b"b\n", env={"NAME": "Nom Name", "POSTIE_NAME": "Postie Name"})
check("env-POSTIE_NAME-first", rc == 0 and q and (b"From: Postie Name <") in q[0][0], repr(q))
rc, err, q = run(["-F", "Flag Name", "x@example.net"], b"b\n", env={"POSTIE_NAME": "Postie Name"})
check("F-before-env", rc == 0 and q and (b"From: Flag Name <") in q[0][0], repr(q))
rc, err, q = run(["x@example.net", "bare"], b"b\n", env={"POSTIE_USER": "robot", "POSTIE_HOST": "host.example"})
check("env-USER-HOST", rc == 0 and q and q[0][1] == "robot@host.example" and b"From: robot@host.example\n" in q[0][0]
      and q[0][2] == ["x@example.net", "bare@example.org"], repr(q))
rc, err, q = run(["bare"], b"b\n", env={"POSTIE_DEFAULTDOMAIN": "dd.example"})
check("env-DEFAULTDOMAIN", rc == 0 and q and q[0][1] == LOGIN + "@dd.example" and q[0][2] == ["bare@dd.example"], repr(q))
rc, err, q = run(["x@example.net"], b"b\n", env={"POSTIE_HOST": "bad host"})
check("env-bad-host-78", rc == 78 and not q, "rc=%d %s" % (rc, err))

# Default domain: control/defaultdomain, else control/me; neither is a
# configuration slip (exit 78, nothing queued), never a made-up localhost.
os.unlink(os.path.join(home, "control", "defaultdomain"))
rc, err, q = run(["bare"], b"b\n")
check("defaultdomain-from-me", rc == 0 and q and q[0][2] == ["bare@mx.example.org"] and q[0][1] == LOGIN + "@mx.example.org", repr(q))
os.rename(os.path.join(home, "control", "me"), os.path.join(home, "control", "me.off"))
rc, err, q = run(["bare"], b"b\n")
check("defaultdomain-no-me-refused", rc == 78 and not q and "control/me" in err, "rc=%d %s %r" % (rc, err, q))
os.rename(os.path.join(home, "control", "me.off"), os.path.join(home, "control", "me"))
with open(os.path.join(home, "control", "defaultdomain"), "w") as f:
    f.write("example.org\n")

# Existing Date and Message-ID are kept, not doubled.
rc, err, q = run(["x@example.net"], b"Date: Fri, 21 Nov 1997 09:55:06 -0600\nMessage-ID: <1@x>\nFrom: a@b.c\n\nb\n")
check("existing-fields-kept", rc == 0 and q and header_of(q[0][0]) ==
      b"Date: Fri, 21 Nov 1997 09:55:06 -0600\nMessage-ID: <1@x>\nFrom: a@b.c\n", repr(q))
rc, err, q = run(["x@example.net"], b"date: x\nmessage-id: <2@x>\nfrom: a@b.c\n\nb\n")
check("existing-fields-any-case", rc == 0 and q and header_of(q[0][0]).count(b"\n") == 3, repr(q))
ids = set()
for i in range(3):
    rc, err, q = run(["x@example.net"], b"b\n")
    if q:
        ids.add(MSGID_RE.search(q[0][0]).group(0))
check("message-ids-unique", len(ids) == 3, repr(ids))

# --- line ends and the "." line
rc, err, q = run(["x@example.net"], b"Subject: crlf\r\nTo: x@example.net\r\n\r\nline 1\r\nline 2\r\n")
check("crlf-to-lf", rc == 0 and q and b"\r" not in q[0][0] and body_of(q[0][0]) == b"line 1\nline 2\n"
      and b"Subject: crlf\nTo: x@example.net\n" in q[0][0], repr(q))
rc, err, q = run(["x@example.net"], b"S: x\n\na\rb\r\r\nc\r")
check("bare-cr-in-body-kept", rc == 0 and q and body_of(q[0][0]) == b"a\rb\r\nc\r", repr(q))
rc, err, q = run(["x@example.net"], b"Subject: dot\n\nbefore\n.\nafter\n")
check("dot-ends-message", rc == 0 and q and body_of(q[0][0]) == b"before\n", repr(q))
rc, err, q = run(["x@example.net"], b"Subject: dot\r\n\r\nbefore\r\n.\r\nafter\r\n")
check("dot-crlf-ends-message", rc == 0 and q and body_of(q[0][0]) == b"before\n", repr(q))
rc, err, q = run(["-i", "x@example.net"], b"Subject: dot\n\nbefore\n.\nafter\n")
check("i-dot-kept", rc == 0 and q and body_of(q[0][0]) == b"before\n.\nafter\n", repr(q))
rc, err, q = run(["-oi", "x@example.net"], b"Subject: dot\n\nbefore\n.\nafter\n")
check("oi-dot-kept", rc == 0 and q and body_of(q[0][0]) == b"before\n.\nafter\n", repr(q))
rc, err, q = run(["x@example.net"], b"Subject: dots\n\n..\n.x\nx.\n. \n")
check("dot-lines-not-alone", rc == 0 and q and body_of(q[0][0]) == b"..\n.x\nx.\n. \n", repr(q))
rc, err, q = run(["x@example.net"], b"Subject: dots\n\nlast\n.")
check("dot-at-eof-ends", rc == 0 and q and body_of(q[0][0]) == b"last\n", repr(q))
rc, err, q = run(["x@example.net"], b"Subject: dot\n.\nTo: after\n")
check("dot-in-header-ends", rc == 0 and q and q[0][0].startswith(b"Subject: dot\n") and b"after" not in q[0][0], repr(q))
rc, err, q = run(["x@example.net"], b"hello world\nFrom: not a header\n")
check("no-header", rc == 0 and q and body_of(q[0][0]) == b"hello world\nFrom: not a header\n"
      and header_of(q[0][0]).count(b"\n") == 3, repr(q))
rc, err, q = run(["x@example.net"], b"Subject: a\nnot a field\nmore\n")
check("header-ends-at-non-field", rc == 0 and q and q[0][0].startswith(b"Subject: a\n") and body_of(q[0][0]) == b"not a field\nmore\n", repr(q))
rc, err, q = run(["-t"], b"From alice@example.com Thu Nov 26 17:04:16 2026\nTo: x@example.net\n\nFrom me\n")
check("mbox-from-line-dropped", rc == 0 and q and q[0][0].startswith(b"To: x@example.net\n") and body_of(q[0][0]) == b"From me\n", repr(q))
rc, err, q = run(["x@example.net"], b"From me to you\nwith love\n")
check("from-line-kept-before-body", rc == 0 and q and body_of(q[0][0]) == b"From me to you\nwith love\n", repr(q))
rc, err, q = run(["x@example.net"], b"From me to you\n\nbody\n")
check("from-line-kept-before-blank", rc == 0 and q and body_of(q[0][0]) == b"From me to you\n\nbody\n", repr(q))
rc, err, q = run(["x@example.net"], b"From me to you")
check("from-line-kept-alone", rc == 0 and q and body_of(q[0][0]) == b"From me to you", repr(q))
rc, err, q = run(["x@example.net"], b"From me to you\n.\nmore\n")
check("from-line-kept-before-dot", rc == 0 and q and body_of(q[0][0]) == b"From me to you\n", repr(q))
rc, err, q = run(["-t"], b"From a@b Thu Nov 26 17:04:16 2026\r\nTo: x@example.net\r\n")
check("mbox-from-line-then-header-only", rc == 0 and q and q[0][0].startswith(b"To: x@example.net\n") and body_of(q[0][0]) == b"", repr(q))
rc, err, q = run(["-t"], b"From  : John Doe <jdoe@machine(comment).  example>\nTo    : Mary Smith\n  \n          <mary@example.net>\n\nx\n")
check("obsolete-from-field-first", rc == 0 and q and q[0][2] == ["mary@example.net"] and q[0][0].startswith(b"From  : John Doe")
      and q[0][0].count(b"From") == 1, repr(q))
rc, err, q = run(["x@example.net"], b"Subject: no newline at all")
check("header-without-lf", rc == 0 and q and q[0][0].startswith(b"Subject: no newline at all\n") and body_of(q[0][0]) == b"", repr(q))
rc, err, q = run(["x@example.net"], b"")
check("empty-input", rc == 0 and q and body_of(q[0][0]) == b"" and header_of(q[0][0]).count(b"\n") == 3, repr(q))
big = b"".join(b"line %d " % i + b"x" * (i % 3000) + b"\n" for i in range(4000))
rc, err, q = run(["x@example.net"], b"Subject: big\n\n" + big + b"end\n")
check("big-body-long-lines", rc == 0 and q and body_of(q[0][0]) == big + b"end\n", "rc=%d %s" % (rc, err))
# a NUL in the body, after much text already streamed: refused, nothing queued
rc, err, q = run(["x@example.net"], b"Subject: big\n\n" + big + b"\0nul\n")
check("big-body-nul-refused", rc == 65 and not q and "NUL" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["x@example.net"], b"x" * 3000000)
check("3MB-single-line-body", rc == 0 and q and body_of(q[0][0]) == b"x" * 3000000, "rc=%d %s" % (rc, err))

# --- errors: a clear message, the right code, nothing queued
bad = [
    ("unbalanced-quote", b"To: \"Joe <joe@example.net>\n\nx\n", "unbalanced quote"),
    ("unbalanced-angle", b"To: Joe <joe@example.net\n\nx\n", "< with no >"),
    ("unbalanced-paren", b"To: joe@example.net (comment\n\nx\n", "comment not closed"),
    ("stray-close-angle", b"Cc: joe@example.net>\n\nx\n", "> with no <"),
    ("bad-from", b"From: @nowhere\nTo: a@b.c\n\nx\n", "missing local part"),
    ("bad-reply-to", b"Reply-To: a@\nTo: a@b.c\n\nx\n", "missing domain"),
    ("bad-bcc", b"To: a@b.c\nBcc: John Doe@x\n\nx\n", "display name needs"),
    ("nul-in-header", b"To: a@b.c\nSubject: a\0b\n\nx\n", "NUL byte"),
    ("nul-in-address", b"To: a\0b@c.d\n\nx\n", "NUL byte"),
    ("bare-cr-in-header", b"To: a@b.c\nSubject: a\rb\n\nx\n", "CR not followed by LF"),
    ("long-header-line", b"To: a@b.c\nSubject: " + b"x" * 2000 + b"\n\nx\n", "longer than 998"),
    ("1MB-header-line", b"To: a@b.c\nSubject: " + b"x" * (1 << 20) + b"\n\nx\n", "longer than 998"),
    ("long-continuation", b"To: a@b.c\nSubject: x\n " + b"x" * 1000 + b"\n\nx\n", "longer than 998"),
    ("huge-header", b"To: a@b.c\n" + b"X-Filler: " + b"y" * 900 + b"\n" + (b" " + b"y" * 900 + b"\n") * 1200 + b"\nx\n", "larger than 1048576"),
    ("deep-comment", b"To: " + (b"(" * 900 + b"\n ") * 120 + b"a@b.c\n\nx\n", "comment not closed"),
    ("group-not-closed", b"To: friends: a@b.c\n\nx\n", "group not closed"),
    ("nested-group", b"To: a: b: c@d.e;;\n\nx\n", "group inside a group"),
    ("empty-angle", b"To: <>\n\nx\n", "empty address"),
    ("control-char", b"To: \"a\x01\"@b.c\n\nx\n", "control character"),
    ("tab-in-local-part", b"To: \"a\tb\"@example.net\n\nx\n", "tab in the local part"),
    ("long-address", b"To: " + b"a" * 900 + b"\n @" + b"b" * 200 + b".c\n\nx\n", "longer than 1000"),
]
for name, m, why in bad:
    rc, err, q = run(["-t", "ok@example.net"], m)
    check("error-" + name, rc == 65 and not q and why in err and "fatal" in err, "rc=%d q=%d err=%r" % (rc, len(q), err[:300]))
rc, err, q = run(["-t"], b"To: a@b.c " + b"(" * 400 + b")" * 400 + b"\n\nx\n")
check("deep-balanced-comment-ok", rc == 0 and q, "rc=%d %s" % (rc, err))
with open(os.path.join(home, "control", "injectlinemax"), "w") as f:
    f.write("5000\n")
rc, err, q = run(["ok@example.net"], b"Subject: " + b"x" * 2000 + b"\n\nx\n")
check("injectlinemax-setting", rc == 0 and q, "rc=%d %s" % (rc, err))
os.unlink(os.path.join(home, "control", "injectlinemax"))
with open(os.path.join(home, "control", "injectheadermax"), "w") as f:
    f.write("2000\n")
rc, err, q = run(["ok@example.net"], b"X: " + b"y" * 900 + b"\nY: " + b"y" * 900 + b"\nZ: " + b"y" * 900 + b"\n\nx\n")
check("injectheadermax-setting", rc == 65 and not q and "larger than 2000" in err, "rc=%d %s" % (rc, err))
os.unlink(os.path.join(home, "control", "injectheadermax"))

rc, err, q = run(["bad address@"], b"x\n")
check("error-bad-argv-recipient-64", rc == 64 and not q and "invalid recipient" in err, "rc=%d %s" % (rc, err))
rc, err, q = run([], b"x\n")
check("error-no-recipients-64", rc == 64 and not q, "rc=%d %s" % (rc, err))
rc, err, q = run(["-Z", "x@example.net"], b"x\n")
check("error-unknown-flag-64", rc == 64 and not q and "usage: sendmail" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["-Z", "x@example.net"], b"x\n", prog="postie-inject")
check("error-unknown-flag-inject-64", rc == 64 and not q and "usage: postie-inject" in err, "rc=%d %s" % (rc, err))
# -bs, -bp, -q, -bi and the names mailq, newaliases: tests/e2e/sendmail-modes.py
for flag in (["-q1h"], ["-bd"], ["-bv"]):
    rc, err, q = run(flag + ["x@example.net"], b"x\n")
    check("error-unsupported" + flag[0], rc == 64 and not q and "not supported" in err, "rc=%d %s" % (rc, err))

# Every flag MUAs and cron pass, accepted.
rc, err, q = run(["-v", "-m", "-n", "-G", "-U", "-oem", "-odb", "-odi", "-oee", "-oXanything", "-Ooption=value",
                  "-B8BITMIME", "-B", "7BIT", "-N", "never", "-R", "hdrs", "-V", "envid", "-L", "tag", "-h", "17",
                  "-C", "/etc/mail/sendmail.cf", "-d0.1", "-em", "-X", "/dev/null", "-Am", "-bm", "-i", "--", "x@example.net"], b"x\n")
check("ignored-flags-accepted", rc == 0 and len(q) == 1, "rc=%d %s" % (rc, err))

# --- the queue program and its exit codes
qdir = tmpdir("inject-q")


def fake_queue(name, code):
    p = os.path.join(qdir, name)
    with open(p, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\ncat <&1 >/dev/null\nexit %d\n" % code)
    os.chmod(p, 0o755)
    return p


for code, want in ((11, 65), (31, 65), (51, 75), (53, 75), (71, 75), (81, 75), (91, 70)):
    rc, err, q = run(["x@example.net"], b"x\n", env={"POSTIE_QUEUE": fake_queue("q%d" % code, code)})
    check("queue-exit-%d-gives-%d" % (code, want), rc == want and not q and "not queued" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["x@example.net"], b"x\n", env={"POSTIE_QUEUE": os.path.join(qdir, "does-not-exist")})
check("queue-missing-71", rc == 71 and not q and "does-not-exist" in err, "rc=%d %s" % (rc, err))
p = os.path.join(qdir, "crash")
with open(p, "w") as f:
    f.write("#!/bin/sh\nkill -9 $$\n")
os.chmod(p, 0o755)
rc, err, q = run(["x@example.net"], b"x\n" * 100000, env={"POSTIE_QUEUE": p})
check("queue-crash-75", rc == 75 and not q and "crashed" in err, "rc=%d %s" % (rc, err))

# A filter sees the message on fd 0 and the envelope on fd 1 (qmail-queue's interface).
cap = os.path.join(qdir, "capture")
with open(cap, "w") as f:
    f.write("#!/bin/sh\ncat >%s/msg\ncat <&1 >%s/env\nexec postie-queue\n" % (qdir, qdir))
os.chmod(cap, 0o755)
rc, err, q = run(["-f", "s@example.com", "-t", "a@example.net"], b"To: b@example.net\n\nx\n", env={"POSTIE_QUEUE": cap})
env = open(os.path.join(qdir, "env"), "rb").read()
check("envelope-format", env == b"Fs@example.com\0Ta@example.net\0Tb@example.net\0\0", repr(env))
check("filter-message", unreceived(open(os.path.join(qdir, "msg"), "rb").read()).startswith(b"To: b@example.net\n"), "")
rc, err, q = run(["-f", "<>", "a@example.net"], b"x\n", env={"POSTIE_QUEUE": cap})
env = open(os.path.join(qdir, "env"), "rb").read()
check("envelope-null-sender", env == b"F\0Ta@example.net\0\0", repr(env))

# databytes: postie-queue refuses, sendmail says so, nothing queued.
with open(os.path.join(home, "control", "databytes"), "w") as f:
    f.write("1000\n")
rc, err, q = run(["x@example.net"], b"x" * 5000 + b"\n")
check("databytes-65", rc == 65 and not q and "not queued" in err, "rc=%d %s" % (rc, err))
rc, err, q = run(["x@example.net"], b"x\n" * 2000000)
check("databytes-big-input-65", rc == 65 and not q, "rc=%d %s" % (rc, err))
os.unlink(os.path.join(home, "control", "databytes"))
check("tmp-empty", os.listdir(os.path.join(home, "queue", "tmp")) == [], repr(os.listdir(os.path.join(home, "queue", "tmp"))))

# cron runs sendmail with PATH=/usr/bin:/bin: postie-inject and postie-queue are found next to it.
rc, err, q = run(["root"], b"body\n", prog=os.path.join(BIN, "sendmail"), path="/usr/bin:/bin")
check("short-path-finds-siblings", rc == 0 and len(q) == 1, "rc=%d %s" % (rc, err))

# A missing instance is a configuration error.
rc, err, q = run(["x@example.net"], b"x\n", env={"POSTIE_HOME": os.path.join(qdir, "nope")})
check("no-instance-78", rc == 78, "rc=%d %s" % (rc, err))

check("received-on-every-message", received_seen and all(received_seen), repr(received_seen.count(False)))
done()
