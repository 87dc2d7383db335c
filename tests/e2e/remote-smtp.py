#!/usr/bin/python3
"""postie-remote against SMTP servers on loopback, reached through
control/smtproutes (no DNS at all): a fake server with failure injection
(tests/lib/smtpfake.py) and postfix's smtp-sink. Checks the bytes that
arrive and the result lines."""
import os, shutil, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpfake import FakeSMTP, wire
from remotetest import run_remote, letters, well_formed, set_control

home = mkinstance(tmpdir("remote-smtp"))
ctl = os.path.join(home, "control")


def setctl(name, value):
    set_control(home, name, value)


def route_to(srv, domain="example.com", host="127.0.0.1"):
    h = "[%s]" % host if ":" in host else host
    setctl("smtproutes", "%s:%s:%d\n" % (domain, h, srv.port))


MSG = b"Subject: test\n\nhello\n.leading dot\n..two dots\n.\nend\n"
R3 = ["a@example.com", "b@example.com", "c@example.com"]


def rfcsize(m):
    """The size SIZE speaks of (RFC 1870 3): CRLF line ends, neither the
    final dot nor the dots added by dot-stuffing."""
    body = wire(m)[:-3]
    return len(body) - sum(1 for l in body.split(b"\r\n") if l.startswith(b"."))

setctl("helohost", "client.test\n")

# 1. A plain delivery, pipelined.
s = FakeSMTP()
route_to(s)
rc, lines, err, _ = run_remote(home, "example.com", "sender@example.org", R3, MSG)
check("plain-exit-0", rc == 0, "rc=%d %r" % (rc, err))
check("plain-lines", well_formed(lines, 3) and letters(lines) == "KKKK", repr(lines))
check("plain-text", lines and "[127.0.0.1]:%d" % s.port in lines[0] and "250 2.1.5 ok" in lines[0]
      and "accepted the message (no TLS): 250 2.0.0 queued" in lines[-1], repr(lines))
ss = s.wait_sessions()
sess = ss[0] if ss else {"commands": [], "recvs": [], "data": None}
cmds = sess["commands"]
check("plain-wire-bytes", sess["data"] == wire(MSG), repr(sess["data"]))
check("plain-wire-exact", sess["data"] == b"Subject: test\r\n\r\nhello\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n", repr(sess["data"]))
check("plain-ehlo-helohost", cmds[:1] == [b"EHLO client.test"], repr(cmds))
check("plain-mail-size", len(cmds) > 1 and cmds[1] == b"MAIL FROM:<sender@example.org> SIZE=%d" % rfcsize(MSG), repr(cmds))
check("plain-rcpts", cmds[2:5] == [b"RCPT TO:<%s>" % r.encode() for r in R3], repr(cmds))
check("plain-quit", cmds[-1:] == [b"QUIT"], repr(cmds))
# MAIL, the RCPTs and DATA went out together
i_mail = cmds.index(b"MAIL FROM:<sender@example.org> SIZE=%d" % rfcsize(MSG)) if b"MAIL FROM:<sender@example.org> SIZE=%d" % rfcsize(MSG) in cmds else 0
check("pipelining-used", len(set(sess["recvs"][1:6])) == 1 and cmds[5:6] == [b"DATA"], repr(list(zip(cmds, sess["recvs"]))))
s.stop()

# 2. Without PIPELINING: one command at a time.
s = FakeSMTP(ehlo=["8BITMIME"])
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
sess = s.wait_sessions()[0]
check("nopipe-delivered", letters(lines) == "KKKK" and sess["data"] == wire(MSG), repr(lines))
check("nopipe-lockstep", len(set(sess["recvs"][:6])) == 6, repr(list(zip(sess["commands"], sess["recvs"]))))
check("nopipe-no-size", sess["commands"][1] == b"MAIL FROM:<x@y>", repr(sess["commands"]))
s.stop()

# 3. Line ends and dots: CRLF, bare LF, bare CR, no final newline, a lone
# dot, a message that is only a dot, the empty message.
s = FakeSMTP()
route_to(s)
cases = [
    ("crlf", b"A: b\r\n\r\nbody\r\n.\r\n..\r\n"),
    ("mixed", b"A: b\n\r\nx\ry\n.z\r\n"),
    ("no-final-newline", b"A: b\n\nlast line"),
    ("dot-last-no-newline", b"A: b\n\n."),
    ("only-dot", b"."),
    ("empty", b""),
    ("cr-at-end", b"A: b\n\nx\r"),
    ("crcrlf", b"x\r\r\ny\n"),
    # the line end and the dot on either side of the 64 KiB read boundary
    ("boundary-lf-dot", b"x" * 65535 + b"\n.dot\n"),
    ("boundary-crlf-dot", b"x" * 65535 + b"\r\n.dot\n"),
    ("boundary-cr-dot", b"x" * 65535 + b"\r.dot\n"),
    ("boundary-dot-first", b"x" * 65534 + b"\n.dot\n"),
]
for name, m in cases:
    n0 = len(s.sessions)
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], m)
    ss = s.wait_sessions(n0 + 1)
    got = ss[n0]["data"] if len(ss) > n0 else None
    check("wire-" + name, rc == 0 and letters(lines) == "KK" and got == wire(m), "%r %r" % (lines, got))
check("wire-empty-is-dot", wire(b"") == b".\r\n")
# a long message, fed in several reads
big = (b"x" * 999 + b"\n" + b".y\n") * 300
n0 = len(s.sessions)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], big)
ss = s.wait_sessions(n0 + 1)
check("wire-big", letters(lines) == "KK" and ss[n0]["data"] == wire(big), repr(lines))
s.stop()

# 4. 8BITMIME: BODY=8BITMIME only for an 8-bit message to a server that
# offers it; a server without it gets the message as is.
m8 = "Subject: caf\u00e9\n\n\u00e9t\u00e9\n".encode()
s = FakeSMTP()
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], m8)
sess = s.wait_sessions()[0]
check("8bitmime-body-param", sess["commands"][1].endswith(b" BODY=8BITMIME") and sess["data"] == wire(m8), repr(sess["commands"]))
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
sess = s.wait_sessions(2)[1]
check("8bitmime-7bit-no-param", b"BODY" not in sess["commands"][1], repr(sess["commands"]))
s.stop()
s = FakeSMTP(ehlo=["PIPELINING"])
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], m8)
sess = s.wait_sessions()[0]
check("8bitmime-absent-sent-as-is", letters(lines) == "KK" and b"BODY" not in sess["commands"][1] and sess["data"] == wire(m8), repr(lines))
s.stop()

# 5. SIZE: a message over the server's limit is a permanent failure and
# is never sent; at the limit it goes.
s = FakeSMTP(ehlo=["PIPELINING", "SIZE %d" % rfcsize(MSG)])
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("size-at-limit", letters(lines) == "KKKK", repr(lines))
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG + b"x\n")
ss = s.wait_sessions(2)
check("size-over-limit", rc == 0 and well_formed(lines, 3) and letters(lines) == "DDDD" and "too large" in lines[-1], repr(lines))
check("size-over-limit-no-mail", len(ss) == 2 and not any(c.startswith(b"MAIL") for c in ss[1]["commands"]), repr(ss[-1]["commands"]))
s.stop()

# the dots added by dot-stuffing are not part of the size (RFC 1870 3):
# a message exactly at the limit, with lines that start with a dot, goes
s = FakeSMTP(ehlo=["PIPELINING", "SIZE %d" % rfcsize(MSG)])
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("size-at-limit-dots-not-counted", letters(lines) == "KKKK", repr(lines))
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG + b"x")
check("size-over-limit-by-one", letters(lines) == "DDDD" and "too large" in lines[-1], repr(lines))
s.stop()

# 6. Per-recipient results: 5xx on one, 4xx on another.
s = FakeSMTP(rcpt={"a@example.com": b"550 5.1.1 no such user", "b@example.com": b"452 4.2.2 mailbox full"})
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("rcpt-mixed", letters(lines) == "DZKK" and "550 5.1.1 no such user" in lines[0] and "452 4.2.2 mailbox full" in lines[1], repr(lines))
check("rcpt-mixed-data-sent", s.wait_sessions()[0]["data"] == wire(MSG))
s.stop()

# 7. Every recipient refused: DATA is refused by the server (pipelining)
# or never sent; the message line is K "accepted no recipient" and each
# recipient keeps its own result.
for name, ehlo in (("pipe", ["PIPELINING"]), ("nopipe", [])):
    s = FakeSMTP(ehlo=ehlo, rcpt={"a@example.com": b"550 5.1.1 unknown", "b@example.com": b"451 4.3.0 later",
                                  "c@example.com": b"553 5.1.8 nope"})
    route_to(s)
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
    sess = s.wait_sessions()[0]
    check("no-rcpt-accepted-" + name, letters(lines) == "DZDK" and "accepted no recipient" in lines[-1] and sess["data"] is None, repr(lines))
    if name == "nopipe":
        check("no-rcpt-accepted-no-data-cmd", b"DATA" not in sess["commands"], repr(sess["commands"]))
    s.stop()

# 8. The message refused: at MAIL, at DATA, after the dot.
for name, kw, want in (
        ("mail-5xx", {"mail_reply": b"553 5.7.1 sender refused"}, "DDDD"),
        ("mail-4xx", {"mail_reply": b"451 4.7.1 try later"}, "ZZZZ"),
        ("data-4xx", {"data_reply": b"451 4.3.0 not now"}, "ZZZZ"),
        ("data-5xx", {"data_reply": b"554 5.3.0 no"}, "DDDD"),
        ("final-5xx", {"final_reply": b"554 5.7.1 spam"}, "DDDD"),
        ("final-4xx", {"final_reply": b"452 4.3.1 disk full"}, "ZZZZ"),
        ("mail-5xx-nopipe", {"mail_reply": b"553 5.7.1 sender refused", "ehlo": []}, "DDDD")):
    s = FakeSMTP(**kw)
    route_to(s)
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
    reply = (kw.get("mail_reply") or kw.get("data_reply") or kw.get("final_reply")).decode()
    check("refused-" + name, rc == 0 and well_formed(lines, 3) and letters(lines) == want
          and all(reply in l for l in lines), repr(lines))
    if name == "mail-5xx-nopipe":
        check("refused-mail-nopipe-no-rcpt", not any(c.startswith(b"RCPT") for c in s.wait_sessions()[0]["commands"]))
    s.stop()

# 9. Greeting refused, EHLO refused (HELO fallback), HELO refused.
s = FakeSMTP(greeting=b"421 4.3.2 too busy")
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("greeting-4xx", rc == 0 and letters(lines) == "UUUU" and "421 4.3.2 too busy" in lines[-1], repr(lines))
s.stop()
s = FakeSMTP(greeting=b"554 5.3.2 go away")
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("greeting-5xx-is-temporary", letters(lines) == "UUUU" and "554 5.3.2 go away" in lines[-1], repr(lines))
s.stop()
s = FakeSMTP(ehlo_reply=b"502 5.5.2 what")
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, m8)
sess = s.wait_sessions()[0]
check("helo-fallback", letters(lines) == "KKKK" and sess["commands"][:2] == [b"EHLO client.test", b"HELO client.test"]
      and sess["commands"][2] == b"MAIL FROM:<x@y>" and sess["data"] == wire(m8), repr(sess["commands"]))
check("helo-fallback-no-pipelining", len(set(sess["recvs"][2:7])) == 5, repr(sess["recvs"]))
s.stop()
s = FakeSMTP(ehlo_reply=b"502 5.5.2 what", helo_reply=b"550 5.7.1 bad name")
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("helo-refused", letters(lines) == "UUUU" and "550 5.7.1 bad name" in lines[-1], repr(lines))
s.stop()

# 10. HELO name: control/me when there is no helohost; neither is a
# configuration slip: Z for every line, no session, never "localhost".
setctl("helohost", None)
setctl("me", "me.test\n")
s = FakeSMTP()
route_to(s)
run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
setctl("me", None)
_, nome, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
ss = s.wait_sessions(2, timeout=3)
check("helo-from-me", ss and ss[0]["commands"][0] == b"EHLO me.test", repr(ss[0]["commands"][:1] if ss else ss))
check("helo-no-me-temporary", len(ss) == 1 and nome and all(l.startswith("Z") for l in nome) and "control/me" in nome[-1], repr((nome, len(ss))))
setctl("helohost", "client.test\n")
s.stop()

# 11. Hostile replies: too long, malformed, too many lines, control
# characters, multi-line replies.
for name, kw, want in (
        ("overlong-greeting", {"greeting": b"220 " + b"x" * 5000}, "reply line too long"),
        ("overlong-rcpt", {"rcpt_default": b"250 " + b"y" * 3000}, "reply line too long"),
        ("malformed-greeting", {"greeting": b"hello there"}, "malformed reply"),
        ("malformed-code", {"rcpt_default": b"25x ok"}, "malformed reply"),
        ("code-changes", {"mail_reply": b"250-ok\r\n550 no"}, "code changes"),
        ("too-many-lines", {"rcpt_default": b"250-x\r\n" * 300 + b"250 x"}, "too many lines"),
        ("bad-first-digit", {"rcpt_default": b"650 what"}, "malformed reply")):
    s = FakeSMTP(**kw)
    route_to(s)
    rc, lines, _, el = run_remote(home, "example.com", "x@y", R3, MSG)
    # before a session (the greeting): no host took one, U (doc/remote-results.md)
    check("hostile-" + name, rc == 0 and well_formed(lines, 3) and letters(lines) == ("UUUU" if "greeting" in name else "ZZZZ")
          and want in lines[-1], repr(lines)[:300])
    s.stop()
# the line limit is a setting
setctl("remotereplylinemax", "6000\n")
s = FakeSMTP(greeting=b"220 " + b"x" * 5000)
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("replylinemax-setting", letters(lines) == "KKKK", repr(lines)[:200])
setctl("remotereplylinemax", None)
s.stop()
s = FakeSMTP(rcpt={"a@example.com": b"250-first line\r\n250-second\x1b[31m line\r\n250 third\x00line",
                   "b@example.com": b"550-" + b"z" * 900 + b"\r\n550 " + b"w" * 900})
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("multiline-joined", well_formed(lines, 3) and "250-first line / 250-second?[31m line / 250 third?line" in lines[0], repr(lines[:1]))
check("text-truncated", well_formed(lines, 3) and lines[1][0] == "D" and len(lines[1]) == 999, "%d" % (len(lines[1]) if len(lines) > 1 else -1))
s.stop()

# 12. Timeouts: a reply that does not come in time.
setctl("timeoutremote", "1\n")
for name, d in (("greeting", {"greeting": 4}), ("rcpt", {"RCPT": 4}), ("final", {".": 4})):
    s = FakeSMTP(delay=d)
    route_to(s)
    rc, lines, _, el = run_remote(home, "example.com", "x@y", R3, MSG)
    check("timeout-" + name, letters(lines) == ("UUUU" if name == "greeting" else "ZZZZ") and "timed out" in lines[-1]
          and el < 3.5, "%r %.1fs" % (lines, el))
    s.stop()
setctl("timeoutremote", None)

# 13. Connection trouble: refused, closed before a reply.
p = free_port()
setctl("smtproutes", "example.com:127.0.0.1:%d\n" % p)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
check("connect-refused", rc == 0 and well_formed(lines, 3) and letters(lines) == "UUUU" and "unable to connect" in lines[-1], repr(lines))
for name, on, want in (("closed-at-mail", "MAIL", "ZZZZ"), ("closed-after-dot", ".", "ZZZZ")):
    s = FakeSMTP(close_on=on)
    route_to(s)
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", R3, MSG)
    check(name, rc == 0 and letters(lines) == want and "closed" in lines[-1], repr(lines))
    s.stop()

# 14. Recipients: many (pipelined in batches), bad addresses refused here.
many = ["u%d@example.com" % i for i in range(250)]
s = FakeSMTP(rcpt={"u7@example.com": b"550 no u7", "u180@example.com": b"450 later u180"})
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", many, MSG)
sess = s.wait_sessions()[0]
exp = "".join("D" if i == 7 else "Z" if i == 180 else "K" for i in range(250)) + "K"
check("many-recipients", well_formed(lines, 250) and letters(lines) == exp and "no u7" in lines[7] and "later u180" in lines[180], letters(lines))
check("many-recipients-order", [c for c in sess["commands"] if c.startswith(b"RCPT")] == [b"RCPT TO:<%s>" % r.encode() for r in many])
check("many-recipients-batched", len(set(sess["recvs"][1:252])) >= 3, repr(sorted(set(sess["recvs"]))))
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com", "b\r\nRSET@example.com", "c<x>@example.com", ""], MSG)
sess = s.wait_sessions(2)[1]
check("bad-recipients", letters(lines) == "KDDDK" and not any(b"RSET" in c for c in sess["commands"]), repr(lines))
n0 = len(s.sessions)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["b\r\nRSET@example.com", "c<x>@example.com"], MSG)
check("only-bad-recipients", letters(lines) == "DDK" and "no valid recipient" in lines[-1] and len(s.sessions) == n0, repr(lines))
rc, lines, _, _ = run_remote(home, "example.com", "x\n@y", ["a@example.com"], MSG)
check("bad-sender", rc == 0 and letters(lines) == "DD", repr(lines))
rc, lines, _, _ = run_remote(home, "example.com", "", ["a@example.com"], MSG)
sess = s.wait_sessions(3)[2] if len(s.wait_sessions(3)) > 2 else {"commands": [b"", b""]}
check("null-sender", letters(lines) == "KK" and sess["commands"][1].startswith(b"MAIL FROM:<> "), repr(sess["commands"][:2]))
s.stop()

# 14b. Local parts are unquoted in the queue (doc/envelope.md): one that is
# not a dot-atom is quoted again on the wire.
s = FakeSMTP()
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "john doe@example.org", ['a"b@example.com', "plain.name@example.com"], MSG)
sess = s.wait_sessions()[0]
check("quoted-local-parts", letters(lines) == "KKK"
      and sess["commands"][1].startswith(b'MAIL FROM:<"john doe"@example.org>')
      and sess["commands"][2] == b'RCPT TO:<"a\\"b"@example.com>'
      and sess["commands"][3] == b"RCPT TO:<plain.name@example.com>", repr(sess["commands"][:4]))
s.stop()

# 15. SMTPUTF8: non-ASCII addresses need it.
s = FakeSMTP(ehlo=["PIPELINING", "8BITMIME", "SMTPUTF8"])
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "j\u00f6rg@example.org", ["a@example.com"], MSG)
sess = s.wait_sessions()[0]
check("smtputf8-param", letters(lines) == "KK" and sess["commands"][1].endswith(b" SMTPUTF8"), repr(sess["commands"][:2]))
s.stop()
s = FakeSMTP()
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["\u00fcser@example.com"], MSG)
check("smtputf8-missing", letters(lines) == "DD" and "SMTPUTF8" in lines[-1], repr(lines))
s.stop()

# 16. smtproutes: IPv6 literal relays, subdomains, the default, case,
# a port-less relay, syntax errors.
try:
    s6 = FakeSMTP(host="::1")
except OSError:
    s6 = None
if s6:
    for spelling in ("[::1]", "[IPv6:::1]"):
        setctl("smtproutes", "example.com:%s:%d\n" % (spelling, s6.port))
        rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
        check("route-ipv6-" + spelling, letters(lines) == "KK" and "[::1]:%d" % s6.port in lines[-1], repr(lines))
    s6.stop()
else:
    skip("route-ipv6", "no ::1 on this host")
sa, sb = FakeSMTP(name="a"), FakeSMTP(name="b")
setctl("smtproutes", "# comment\n\n.example.net:127.0.0.1:%d\n:127.0.0.1:%d\nEXAMPLE.org:127.0.0.1:%d\n" % (sa.port, sb.port, sa.port))
for dom, srv in (("mx.example.net", sa), ("a.b.example.net", sa), ("example.net", sb), ("example.org", sa),
                 ("Example.ORG.", sa), ("other.test", sb), ("[192.0.2.1]", sb)):
    rc, lines, _, _ = run_remote(home, dom, "x@y", ["a@" + dom], MSG)
    check("route-" + dom, letters(lines) == "KK" and ":%d " % srv.port in lines[-1], repr(lines))
for bad in ("example.com", "example.com:[::1", "example.com:1.2.3.4:0", "example.com:1.2.3.4:99999",
            "example.com:[256.1.1.1]:25", "example.com:host name:25", "example.com:1.2.3.4:25x", "example.com:::1:25"):
    setctl("smtproutes", ":127.0.0.1:%d\n%s\n" % (sa.port, bad))
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
    check("route-syntax-error " + bad, rc == 0 and letters(lines) == "ZZ" and "smtproutes" in lines[-1], repr(lines))
sa.stop(); sb.stop()

# 17. Bad domains and configuration.
setctl("smtproutes", None)
for dom in ("exa mple.com", "[1.2.3]", "[IPv6:zz]", "[::1]", "a\nb"):
    rc, lines, _, _ = run_remote(home, dom, "x@y", ["a@b"], MSG)
    check("bad-domain " + repr(dom), rc == 0 and letters(lines) == "DD", repr(lines))
setctl("timeoutremote", "soon\n")
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@b"], MSG)
check("bad-control", rc == 0 and letters(lines) == "ZZ" and "timeoutremote" in lines[-1], repr(lines))
setctl("timeoutremote", None)
r = subprocess.run([prog("postie-remote"), "example.com", "x@y"], stdin=subprocess.DEVNULL, capture_output=True, env=env_for(home))
check("usage", r.returncode == 100 and not r.stdout, repr(r))
r = subprocess.run([prog("postie-remote"), "example.com", "x@y", "a@b"], stdin=subprocess.PIPE, capture_output=True, env=env_for(home))
check("message-not-a-file", r.returncode == 0 and r.stdout.decode().startswith("Z") and b"regular file" in r.stdout, repr(r.stdout))

# 18. Outgoing address.
s = FakeSMTP()
route_to(s)
setctl("outgoingip", "127.0.0.9\n")
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
check("outgoingip", letters(lines) == "KK", repr(lines))
setctl("outgoingip", "not-an-ip\n")
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], MSG)
check("outgoingip-bad", letters(lines) == "ZZ" and "outgoingip" in lines[-1], repr(lines))
setctl("outgoingip", None)
s.stop()

# 19. postfix's smtp-sink: an independent server.
sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
if not os.path.exists(sink):
    skip("smtp-sink", "postfix's smtp-sink is not installed")
else:
    # smtp-sink runs as nobody when we are root: a dump directory it can reach
    import tempfile
    dump = tempfile.mkdtemp(prefix="postie-sink-")
    os.chmod(dump, 0o777)

    def sinkrun(*opts):
        port = free_port()
        user = ["-u", "nobody"] if os.getuid() == 0 else []
        p = subprocess.Popen([sink] + user + list(opts) + ["127.0.0.1:%d" % port, "10"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        setctl("smtproutes", "example.com:127.0.0.1:%d\n" % port)
        return p

    p = sinkrun("-d", dump + "/%M.")
    rc, lines, _, _ = run_remote(home, "example.com", "from@example.org", R3, MSG)
    time.sleep(0.3)
    files = os.listdir(dump)
    body = open(os.path.join(dump, files[0]), "rb").read() if len(files) == 1 else b""
    check("sink-delivered", rc == 0 and letters(lines) == "KKKK" and "250" in lines[-1], repr(lines))
    check("sink-envelope", b"X-Mail-Args: <from@example.org>" in body and
          all(b"X-Rcpt-Args: <%s>" % r.encode() in body for r in R3), repr(body[:400]))
    # the dump holds the message unstuffed, LF line ends
    check("sink-message", body.endswith(MSG + b"\n") or body.endswith(MSG), repr(body[-120:]))
    p.kill(); p.wait()
    for name, opts, want in (("reject-rcpt-5xx", ["-f", "RCPT"], "DDDK"), ("reject-rcpt-4xx", ["-r", "RCPT"], "ZZZK"),
                             ("reject-dot", ["-f", "."], "DDDD"), ("421-at-mail", ["-Q", "MAIL"], "ZZZZ"),
                             ("reject-data-4xx", ["-r", "DATA"], "ZZZZ")):
        p = sinkrun(*opts)
        rc, lines, _, _ = run_remote(home, "example.com", "from@example.org", R3, MSG)
        check("sink-" + name, rc == 0 and well_formed(lines, 3) and letters(lines) == want, repr(lines))
        p.kill(); p.wait()
    shutil.rmtree(dump, ignore_errors=True)

# Long lines (over RFC 5321's 1000 bytes, which postie-smtpd accepts up to
# control/datalinemax): sent as they are, never split; a server that
# refuses them after the message gets D (a bounce with its reply), one
# that defers Z (doc/postie-remote.md, "Long lines").
LONG = b"Subject: long\n\n" + b"h" * 5000 + b"\nend\n"
s = FakeSMTP()
route_to(s)
rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], LONG)
sess = s.wait_sessions()[0]
check("long-line-sent-unaltered", letters(lines) == "KK" and sess["data"] == wire(LONG), repr(lines))
s.stop()
for name, reply, want in (("long-line-refused", b"500 5.5.2 Line too long", "DD"),
                          ("long-line-deferred", b"451 4.3.0 try later", "ZZ")):
    s = FakeSMTP(final_reply=reply)
    route_to(s)
    rc, lines, _, _ = run_remote(home, "example.com", "x@y", ["a@example.com"], LONG)
    check(name, letters(lines) == want and reply.decode() in lines[-1], repr(lines))
    s.stop()
setctl("smtproutes", None)

done()
