#!/usr/bin/python3
"""postie-inject under a short deterministic fuzz run (fixed seed): random
headers made of real fields (To, Cc, Bcc and Resent-Bcc in every spelling:
case, blanks before the colon, folded), junk lines, NULs, bare CRs, CRLF,
"From " lines and "." lines. Whatever comes in, postie-inject either
refuses it (64, 65) or queues a message whose header has no Bcc field
and an envelope whose addresses hold no line end; never an internal
error, never a crash (SAN reports fail the run)."""
import os, random, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

home = mkinstance(tmpdir("inject-fuzz"), {"defaultdomain": "example.org"})
d = tmpdir("inject-fuzz-q")
cap = os.path.join(d, "capture")
with open(cap, "w") as f:
    f.write("#!/bin/sh\ncat >%s/msg\ncat <&1 >%s/env\n" % (d, d))
os.chmod(cap, 0o755)

rnd = random.Random(20261126)
ROUNDS = 150 if SAN else 400

BCC = [b"Bcc: %s", b"bcc:%s", b"BCC :%s", b"Bcc\t: %s", b"Bcc:\n %s", b"Bcc:\r\n\t%s", b"Resent-Bcc: %s",
       b"resent-bcc :\n  %s", b"Bcc: x@y.test,\n %s"]
OTHER = [b"To: a@example.net", b"Cc: Joe <c@example.net>, g: m@example.net;", b"Subject: hello",
         b"Resent-To: r@example.net", b"From: me@example.com", b"Date: Thu, 1 Jan 2026 00:00:00 +0000",
         b"X-Long: " + b"y" * 1200, b" continued", b"\tcontinued", b"Message-ID: <a@b>", b"To: \"q\\\"x\"@example.net",
         b"To: (comment (nested)) a@example.net", b"Cc: <@route:u@example.net>"]


def junk():
    return bytes(rnd.choice(b"ab:@<>(),;\"\\ \t\r\x00\x01\x80\xff.") for _ in range(rnd.randrange(1, 20)))


def message():
    lines = []
    if rnd.random() < 0.1:
        lines.append(b"From someone Thu Jan  1 00:00:00 2026")
    for _ in range(rnd.randrange(0, 12)):
        r = rnd.random()
        if r < 0.3:
            lines.append(rnd.choice(BCC) % (b"secret%d@hidden.example" % rnd.randrange(100)))
        elif r < 0.8:
            lines.append(rnd.choice(OTHER))
        elif r < 0.9:
            lines.append(junk())
        else:
            lines.append(rnd.choice([b".", b"", b" ", b"\r"]))
    body = b"body\n" if rnd.random() < 0.8 else b""
    eol = b"\r\n" if rnd.random() < 0.3 else b"\n"
    return eol.join(lines) + eol + eol + body


def header_fields(m):
    head = m.split(b"\n\n", 1)[0]
    return head.split(b"\n")


bad = []
ok_runs = 0
for i in range(ROUNDS):
    m = message()
    args = rnd.choice([["-t"], ["-t", "-i"], ["x@example.net"], ["-t", "y@example.net"]])
    for n in ("msg", "env"):
        if os.path.exists(os.path.join(d, n)):
            os.unlink(os.path.join(d, n))
    p = subprocess.run([prog("postie-inject")] + args, input=m, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env_for(home, POSTIE_QUEUE=cap, POSTIE_USER="u", POSTIE_HOST="h.example"), timeout=30)
    if p.returncode not in (0, 64, 65):
        bad.append("exit %d on %r: %r" % (p.returncode, m[:200], p.stderr[:200]))
        continue
    if p.returncode:
        continue
    ok_runs += 1
    q = open(os.path.join(d, "msg"), "rb").read()
    env = open(os.path.join(d, "env"), "rb").read()
    for line in header_fields(q):
        if re.match(rb"(?i)(resent-)?bcc[ \t]*:", line):
            bad.append("a Bcc field reached the queue: %r from %r" % (line, m[:300]))
    addrs = env.split(b"\0")
    if any(b"\n" in a or b"\r" in a for a in addrs) or not env.endswith(b"\0\0"):
        bad.append("bad envelope %r" % env[:200])

check("inject-fuzz-no-internal-error-no-bcc", not bad, "; ".join(bad[:3]))
check("inject-fuzz-some-queued", ok_runs > ROUNDS // 10, "%d of %d queued" % (ok_runs, ROUNDS))
done()
