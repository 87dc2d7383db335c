#!/usr/bin/python3
"""postie-smtpd is not an open relay: the sixteen sender/recipient forms
of nmap's smtp-open-relay script (percent hack, bang paths, source routes,
quoted local parts with @ inside, IP literals, user@D@S), plus ""@remote,
trailing dots, mixed case, look-alike domains, empty and overlong
addresses. No form gets a remote recipient into the queue; the same forms
do relay for a RELAYCLIENT, as the control shows."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-relay", {"maxbadcmds": "100000"})
L = Launcher(home)

SRV = "local.example"       # the server's own (accepted) domain
IP = "[127.0.0.1]"          # the server's address literal
D = "remote.example"        # the target nmap tries to reach
T = "relaytest"
F = "antispam"

# nmap's smtp-open-relay.nse, its sixteen tests (MAIL FROM, RCPT TO).
nmap = [
    ("", "%s@%s" % (T, D)),
    ("%s@%s" % (F, SRV), "%s@%s" % (T, D)),
    ("%s@%s" % (F, IP), "%s@%s" % (T, D)),
    ("%s@%s" % (F, SRV), "%s%%%s@%s" % (T, D, SRV)),
    ("%s@%s" % (F, SRV), "%s%%%s@%s" % (T, D, IP)),
    ("%s@%s" % (F, SRV), "\"%s@%s\"" % (T, D)),
    ("%s@%s" % (F, SRV), "\"%s%%%s\"" % (T, D)),
    ("%s@%s" % (F, SRV), "%s@%s@%s" % (T, D, SRV)),
    ("%s@%s" % (F, SRV), "\"%s@%s\"@%s" % (T, D, SRV)),
    ("%s@%s" % (F, SRV), "%s@%s@%s" % (T, D, IP)),
    ("%s@%s" % (F, SRV), "@%s:%s@%s" % (SRV, T, D)),
    ("%s@%s" % (F, SRV), "@%s:%s@%s" % (IP, T, D)),
    ("%s@%s" % (F, SRV), "%s!%s" % (D, T)),
    ("%s@%s" % (F, SRV), "%s!%s@%s" % (D, T, SRV)),
    ("%s@%s" % (F, SRV), "%s!%s@%s" % (D, T, IP)),
    ("%s@%s" % (F, SRV), "%s%%%s@%s" % (T, D, "[IPv6:::1]")),
]
extra = [
    ("", "\"\"@%s" % D),
    ("", "\"\"@%s" % SRV),
    ("", "%s@%s." % (T, D)),
    ("", "%s@%s." % (T, SRV)),
    ("", "%s@%s.." % (T, D)),
    ("", "%s@.%s" % (T, D)),
    ("", "%s@%s" % (T.upper(), D.upper())),
    ("", "%s@Remote.Example" % T),
    ("", "%s@%s.%s" % (T, SRV, D)),
    ("", "%s@x%s" % (T, SRV)),
    ("", "%s@xsub.%s" % (T, SRV)),
    ("", "%s@sub.%s" % (T, SRV)),       # .sub.local.example covers subdomains only
    ("", "%s@%s" % (T, IP)),
    ("", "%s@[IPv6:::1]" % T),
    ("", "%s@[127.0.0.1]" % T),
    ("", "%s@[999.0.0.1]" % T),
    ("", "%s@[127.0.0.1" % T),
    ("", ""),
    ("", "%s@" % T),
    ("", "@%s" % D),
    ("", T),
    ("", "%s%%%s" % (T, D)),
    ("", "a" * 300 + "@" + D),
    ("", T + "@" + "a" * 300 + ".example"),
    ("", T + "@" + "a" * 64 + ".example"),
    ("", "@%s,@%s:%s@%s" % (SRV, D, T, D)),
    ("", "@%s:%s@%s" % (D, T, SRV + "x")),
    ("", "%s\\@%s@%s" % (T, D, SRV)),
    ("", "\"%s\\\"@%s\"@%s" % (T, D, SRV)),
    ("", "%s@%s " % (T, D)),
    ("", " %s@%s" % (T, D)),
    ("", "%s@%s>" % (T, D)),
    ("%s@%s" % (T, SRV), "%s@%s" % (T, D)),   # a local sender does not grant relaying
    ("postmaster@%s" % SRV, "%s@%s" % (T, D)),
    ("", "%s@-%s" % (T, D)),
    ("", "%s@%s-" % (T, D)),
    ("", "%s@%s" % (T, D.replace(".", "_"))),
]


def attempt(c, frm, to, raw=False):
    c.cmd("RSET")
    r1 = c.cmd("MAIL FROM:<%s>" % frm)
    r2 = c.cmd(to if raw else "RCPT TO:<%s>" % to)
    r3 = None
    if r1[0] == 250 and r2[0] == 250:
        r3 = c.cmd("DATA")
        if r3[0] == 354:
            c.send(b"Subject: relay test\r\n\r\nx\r\n.\r\n")
            r3 = c.reply()
    return r1, r2, r3


c = Raw(L.port)
c.cmd("EHLO nmap.scanme.org")
for i, (frm, to) in enumerate(nmap):
    clear_queue(home)
    r1, r2, r3 = attempt(c, frm, to)
    check("nmap-%02d <%s> -> <%s>" % (i + 1, frm, to), r2[0] >= 500 and queued(home) == [], repr((r1, r2, r3, queued(home))))
for i, (frm, to) in enumerate(extra):
    clear_queue(home)
    r1, r2, r3 = attempt(c, frm, to)
    check("extra-%02d <%s> -> <%s>" % (i + 1, frm[:40], to[:60]), r2[0] >= 500 and queued(home) == [], repr((r1, r2, r3, queued(home))))
# Odd command spellings.
for i, raw in enumerate(["RCPT TO: <%s@%s>" % (T, D), "RCPT TO:%s@%s" % (T, D), "RCPT  TO:<%s@%s>" % (T, D),
                         "rcpt to:<%s@%s>" % (T, D), "RCPT TO:<%s@%s> <x@%s>" % (T, D, SRV),
                         "RCPT TO:<x@%s><%s@%s>" % (SRV, T, D), "RCPT TO:<<%s@%s>>" % (T, D)]):
    clear_queue(home)
    r1, r2, r3 = attempt(c, "", raw, raw=True)
    check("spelling-%02d %s" % (i + 1, raw), r2[0] >= 500 and queued(home) == [], repr((r2, queued(home))))
c.cmd("QUIT")
c.close()

# The control: these addresses are deliverable here, and a RELAYCLIENT
# may send to remote ones, so the refusals above are not a broken server.
c = Raw(L.port)
c.cmd("EHLO x.example")
for to in ("relaytest@local.example", "RelayTest@LOCAL.Example", "a@x.sub.local.example", "\"relay test\"@local.example", "postmaster"):
    clear_queue(home)
    r1, r2, r3 = attempt(c, "a@x.example", to)
    check("control-local <%s>" % to, r2[0] == 250 and r3 and r3[0] == 250 and len(queued(home)) == 1, repr((r2, r3)))
q = queued(home)
check("control-postmaster-is-ours", q and q[0][3] == ["postmaster@mx.test.example"], repr(q))
c.close()
L2 = Launcher(home, env={"RELAYCLIENT": ""})
c = Raw(L2.port)
c.cmd("EHLO x.example")
clear_queue(home)
r1, r2, r3 = attempt(c, "a@x.example", "relaytest@remote.example")
check("control-relayclient", r2[0] == 250 and len(queued(home)) == 1, repr((r2, r3)))
r1, r2, r3 = attempt(c, "a@x.example", "relaytest%remote.example@local.example")
check("control-relayclient-no-percent", r2[0] == 553, repr(r2))
c.close()
done()
