#!/usr/bin/python3
"""Big messages go through postie-imapd without being held in memory: a
50 MB message (LF line ends, as delivered) fetched in 8 MB parts
(BODY.PEEK[]<partial>), its RFC822.SIZE, header, envelope and the start
of its text, all matching the message with CRLF line ends; a 50 MB APPEND
(a literal, read into a file) stored whole. The session's peak resident
memory (VmHWM in /proc) stays well under the message's size (it read the
message whole, twice over, before); a generous bound, not a time."""
import hashlib, os, re, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from imapdirect import Direct

pub = public_tmp("imapd-big")
sandir = san_reports_into(pub)
home = pop_instance(pub)
with open(os.path.join(home, "control", "imapmaxmessage"), "w") as f:
    f.write("60000000\n")
md = make_maildir(os.path.join(pub, "Maildir"))

SIZE = 50 * 1000 * 1000
PART = 8 * 1000 * 1000
BOUND = 40 * 1024  # kB: under one copy of the message, and far under two
line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123\n"
head = b"From: Big <big@example.org>\nTo: alice@example.org\nSubject: big one\n\n"
body = line * ((SIZE - len(head)) // len(line))
big = head + body
crlf = big.replace(b"\n", b"\r\n")

try:
    deliver(md, big)
    c = Direct(home, md)
    u, t = c.cmd(b"SELECT INBOX")
    check("select", t.startswith(b"t1 OK") and b"* 1 EXISTS\r\n" in u, (u, t))
    u, t = c.cmd(b"FETCH 1 (RFC822.SIZE)")
    m = re.search(rb"RFC822.SIZE (\d+)", b"".join(u))
    check("size-as-sent", m and int(m.group(1)) == len(crlf), (m and m.group(1), len(crlf)))
    got = hashlib.sha256()
    parts = 0
    ok = True
    for off in range(0, len(crlf), PART):
        u, t = c.cmd(b"FETCH 1 (BODY.PEEK[]<%d.%d>)" % (off, PART))
        want = crlf[off:off + PART]
        hdr = b"* 1 FETCH (BODY[]<%d> {%d}\r\n" % (off, len(want))
        if not (t.startswith(b"t") and b" OK" in t and len(u) == 1 and u[0].startswith(hdr) and u[0][len(hdr):-3] == want):
            ok = False
        parts += 1
    check("partial-fetches", ok and parts == 7, parts)
    u, t = c.cmd(b"FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.80> ENVELOPE)")
    r = b"".join(u)
    check("header-text-envelope", head.replace(b"\n", b"\r\n") in r and b"BODY[TEXT]<0> {80}\r\n" + line.replace(b"\n", b"\r\n")[:80] in r
          and b'"big one"' in r, r[:400])
    peak = c.status("VmHWM")
    check("fetch-memory-bounded", peak < BOUND, "peak %d kB" % peak)
    print("fetch: peak %d kB" % peak)

    c.close()

    # APPEND of a 50 MB literal (CRLF, as a client sends it), in a
    # session of its own (its own peak memory).
    c = Direct(home, md)
    c.send(b"a1 APPEND INBOX (\\Seen) {%d}\r\n" % len(crlf))
    l = c.line()
    check("append-continuation", l.startswith(b"+"), l)
    for off in range(0, len(crlf), 1 << 20):
        c.send(crlf[off:off + (1 << 20)])
    c.send(b"\r\n")
    l = c.line()
    check("append-big", l.startswith(b"a1 OK [APPENDUID "), l)
    stored = [n for n in os.listdir(os.path.join(md, "cur")) if n.endswith(":2,S")]
    data = open(os.path.join(md, "cur", stored[0]), "rb").read() if len(stored) == 1 else b""
    check("append-stored", data == crlf, (stored, len(data)))
    check("append-no-leftover", os.listdir(os.path.join(md, "tmp")) == [], os.listdir(os.path.join(md, "tmp")))
    peak = c.status("VmHWM")
    check("append-memory-bounded", peak < BOUND, "peak %d kB" % peak)
    print("append: peak %d kB" % peak)
    c.close()
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
