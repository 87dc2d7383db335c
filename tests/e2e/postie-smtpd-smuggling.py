#!/usr/bin/python3
"""postie-smtpd against SMTP smuggling: every non-standard end-of-data
sequence, followed by a second transaction, as raw bytes. At most one
message is queued, never the smuggled one. Also: bare CR/LF in commands,
and the NUL variants (refused: a next server that drops NULs would see
an end of data there)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-smuggling")
L = Launcher(home)

ends = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r",
        b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\r\n.\r\r\n"]
smuggled = (b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@local.example>\r\nDATA\r\n"
            b"From: ceo@local.example\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n")

for i, e in enumerate(ends):
    clear_queue(home)
    name = "smuggle-" + repr(e)[2:-1].replace("\\", "").replace(".", "dot")
    c = Raw(L.port)
    c.cmd("EHLO attacker.example")
    c.cmd("MAIL FROM:<a@attacker.example>")
    c.cmd("RCPT TO:<user@local.example>")
    r = c.cmd("DATA")
    # The first message, the odd end, the smuggled transaction, a real end,
    # then QUIT: everything in one write, as an attacker's relay would.
    c.send(b"Subject: first\r\n\r\nfirst body" + e + smuggled + b"\r\n.\r\nQUIT\r\n")
    reps = []
    while True:
        x = c.reply()
        if x[0] == 0:
            break
        reps.append(x)
    c.close()
    q = queued(home)
    codes = [x[0] for x in reps]
    ok = len(q) <= 1 and not any(m[2] == "evil@attacker.example" for m in q)
    ok = ok and not any(m[1].startswith(b"Received:") and b"Subject: smuggled" in m[1].split(b"\n\n")[0] and b"Subject: first" not in m[1] for m in q)
    check(name + "-at-most-one", ok and r[0] == 354, repr((codes, q)))
    # Exactly one reply to the one DATA, then 221: the smuggled commands
    # were never read as commands.
    check(name + "-replies", codes in ([250, 221], [554, 221]), repr(reps))
    if e in (b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"):
        # No bare CR or LF, but a NUL: refused (554 5.6.0), nothing queued,
        # so no next server can be shown a NUL-stripped end of data.
        check(name + "-refused-nul", codes == [554, 221] and reps[0][1][0].startswith("5.6.0") and "NUL" in reps[0][1][0] and not q, repr(reps))
    else:
        check(name + "-refused-bare", codes == [554, 221] and reps[0][1][0].startswith("5.6.0") and not q, repr(reps))

# A bare LF or CR never ends a command line either.
c = Raw(L.port)
c.cmd("EHLO attacker.example")
for bad in (b"MAIL FROM:<a@attacker.example>\nRCPT TO:<x@local.example>", b"MAIL FROM:<a@attacker.example>\rRCPT TO:<x@local.example>",
            b"NOOP\nNOOP", b"NOOP\x00"):
    c.send(bad + b"\r\n")
    r = c.reply()
    check("command-bare-" + repr(bad[-20:]), r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
r = c.cmd("MAIL FROM:<a@attacker.example>")
check("command-after-bare", r[0] == 250, repr(r))
# A lone LF-terminated command is not a command: nothing answers until CRLF.
c.send(b"RSET\n")
c.s.settimeout(0.5)
try:
    got = c.s.recv(100)
except OSError:
    got = b""
c.s.settimeout(10)
check("lf-only-is-not-a-line-end", got == b"", repr(got))
c.send(b"\r\n")
r = c.reply()
check("lf-only-then-crlf", r[0] == 500, repr(r))
c.cmd("QUIT")
c.close()

# Dot-stuffing and the real end are exact.
clear_queue(home)
c = Raw(L.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: dots\r\n\r\n..\r\n...x\r\n. \r\n.x\r\nend\r\n.\r\n")
r = c.reply()
q = queued(home)
check("dot-unstuffing", r[0] == 250 and q and q[0][1].endswith(b"Subject: dots\n\n.\n..x\n \nx\nend\n"), repr(q))
clear_queue(home)
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b".\r\n")
r = c.reply()
q = queued(home)
check("empty-message", r[0] == 250 and q and q[0][1].endswith(b"+0000\n"), repr(q))
c.close()
done()
