#!/usr/bin/python3
"""postie-smtpd against envelope injection and hostile parameters: CR, LF
or NUL inside MAIL/RCPT arguments and ESMTP parameters never reach the
queue, a log line or a header; shell and Exim-expansion strings are refused
or stored inertly; every bad parameter and bad AUTH response gets its 5xx
and the session goes on."""
import base64, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-injection", {"maxbadcmds": "1000"})
L = Launcher(home, [CHECKPASSWORD])
marker = "/tmp/postie-smtpd-injection-%d" % os.getpid()

# --- control characters inside arguments
c = Raw(L.port)
c.cmd("EHLO x.example")
injections = []
for ch in (b"\r", b"\n", b"\x00"):
    for tmpl in (b"MAIL FROM:<a%s@x.example>", b"MAIL FROM:<a@x.example%sRCPT TO:<v@remote.example>>",
                 b"MAIL FROM:<a@x.example> BODY=8BIT%sMIME", b"MAIL FROM:<a@x.example> SIZE=1%s0",
                 b"MAIL FROM:<\"a%sb\"@x.example>"):
        injections.append(tmpl % ch)
for b in injections:
    c.send(b + b"\r\n")
    r = c.reply()
    check("ctl-mail-" + repr(b), r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
r = c.cmd("MAIL FROM:<a@x.example>")
check("ctl-then-mail", r[0] == 250, repr(r))
for tmpl in (b"RCPT TO:<u%s@local.example>", b"RCPT TO:<u@local.example%s>", b"RCPT TO:<u@local.example> NOTIFY=%s"):
    for ch in (b"\r", b"\n", b"\x00", b"\r\n"[::-1]):
        b = tmpl % ch
        c.send(b + b"\r\n")
        r = c.reply()
        check("ctl-rcpt-" + repr(b), r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: clean\r\n\r\nx\r\n.\r\n")
r = c.reply()
check("ctl-then-message", r[0] == 250, repr(r))
c.cmd("QUIT")
c.close()

# --- shell and expansion strings
c = Raw(L.port)
c.cmd("EHLO x.example")
r = c.cmd("MAIL FROM:<;touch %s;>" % marker)
check("shell-sender-refused", r[0] == 501 and r[1][0].startswith("5.1.7"), repr(r))
r = c.cmd("MAIL FROM:<() { :; }; /bin/true>")
check("shellshock-sender-refused", r[0] == 501, repr(r))
r = c.cmd("MAIL FROM:<`touch %s`@x.example>" % marker)
check("backquote-sender-stored-inert-or-refused", r[0] in (250, 501), repr(r))
if r[0] == 250:
    c.cmd("RSET")
c.cmd("MAIL FROM:<a@x.example>")
r = c.cmd("RCPT TO:<${run{/bin/true}}@local.example>")
check("exim-expansion-rcpt", r[0] in (250, 501, 550), repr(r))
r2 = c.cmd("RCPT TO:<$(touch %s)@local.example>" % marker)
check("dollar-paren-rcpt-refused", r2[0] == 501, repr(r2))
r3 = c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: inert\r\n\r\nx\r\n.\r\n")
rd = c.reply()
c.cmd("QUIT")
c.close()
q = queued(home)
if r[0] == 250:
    check("exim-expansion-stored-inert", any("${run{/bin/true}}@local.example" in m[3] for m in q), repr(q))
check("no-shell-ran", not os.path.exists(marker))

# --- nothing with a control character reaches the queue, a header or the log
L.wait_sessions(2)
log = L.logtext()
check("log-no-control-chars", all(ch not in log.replace("\n", "") for ch in "\r\x00"), repr(log[-500:]))
for qid, m, s, rc in queued(home):
    env = s + "".join(rc)
    check("queue-clean-" + qid, not any(ord(ch) < 32 for ch in env), repr(env))
    head = m.split(b"\n\n")[0]
    check("header-clean-" + qid, b"\r" not in head and b"\x00" not in head, repr(head))
clear_queue(home)

# --- hostile ESMTP parameters: each its 5xx, the session goes on
c = Raw(L.port)
c.cmd("EHLO x.example")
params = [
    ("duplicate-size", "SIZE=10 SIZE=20", 501, "5.5.4"),
    ("size-huge", "SIZE=99999999999999999999", 552, "5.3.4"),
    ("size-huge-2", "SIZE=18446744073709551616", 552, "5.3.4"),
    ("size-negative", "SIZE=-1", 501, "5.5.4"),
    ("size-empty", "SIZE=", 501, "5.5.4"),
    ("size-novalue", "SIZE", 501, "5.5.4"),
    ("size-hex", "SIZE=0x10", 501, "5.5.4"),
    ("body-junk", "BODY=junk", 501, "5.5.4"),
    ("body-lone-quote", "BODY=8BITMIME\"", 501, "5.5.4"),
    ("body-duplicate", "BODY=7BIT BODY=8BITMIME", 501, "5.5.4"),
    ("value-lone-quote", "X-FOO=\"", 555, "5.5.4"),
    ("unknown", "FOO=bar", 555, "5.5.4"),
    ("unknown-novalue", "XYZZY", 555, "5.5.4"),
    ("smtputf8-value", "SMTPUTF8=yes", 501, "5.5.4"),
    ("smtputf8-twice", "SMTPUTF8 SMTPUTF8", 501, "5.5.4"),
    ("double-equals", "SIZE==1", 501, "5.5.4"),
    ("bad-keyword", "-SIZE=1", 501, "5.5.4"),
    ("keyword-quote", "\"=1", 501, "5.5.4"),
    ("auth-twice", "AUTH=<> AUTH=<>", 501, "5.5.4"),
]
for name, p, code, esc in params:
    r = c.cmd("MAIL FROM:<a@x.example> " + p)
    check("param-" + name, r[0] == code and r[1][0].startswith(esc), repr(r))
for name, p in (("size-ok", "SIZE=1000"), ("body-7bit", "BODY=7BIT"), ("auth-param", "AUTH=<>"), ("all", "SIZE=1 BODY=8BITMIME SMTPUTF8 AUTH=x")):
    r = c.cmd("MAIL FROM:<a@x.example> " + p)
    check("param-" + name, r[0] == 250, repr(r))
    c.cmd("RSET")
r = c.cmd("MAIL FROM:<a@x.example>")
check("params-session-goes-on", r[0] == 250, repr(r))
r = c.cmd("RCPT TO:<u@local.example> NOTIFY=NEVER")
check("rcpt-param-555", r[0] == 555, repr(r))
r = c.cmd("RCPT TO:<u@local.example> ORCPT=rfc822;x@y")
check("rcpt-orcpt-555", r[0] == 555, repr(r))
r = c.cmd("RSET")

# --- AUTH responses that are not base64
b64 = base64.b64encode(b"\0alice\0secret").decode()
cases = [
    ("len-1-mod-4", b64 + "A"),
    ("len-2-mod-4", b64 + "AB"),
    ("len-3-mod-4", b64 + "ABC"),
    ("equals-in-middle", b64[:4] + "=" + b64[5:]),
    ("equals-first", "=AAA"),
    ("three-equals", "A==="),
    ("bad-char", b64[:-4] + "!!!!"),
]
for name, resp in cases:
    r = c.cmd("AUTH PLAIN " + resp)
    check("auth-b64-%s-initial" % name, r[0] == 501 and r[1][0].startswith("5.5.2"), repr(r))
    r = c.cmd("AUTH PLAIN")
    r2 = c.cmd(resp)
    check("auth-b64-%s-continued" % name, r[0] == 334 and r2[0] == 501, repr((r, r2)))
    r = c.cmd("AUTH LOGIN")
    r2 = c.cmd(resp)
    check("auth-b64-%s-login" % name, r[0] == 334 and r2[0] == 501, repr((r, r2)))
r = c.cmd("AUTH PLAIN")
r2 = c.cmd("*")
check("auth-cancel", r[0] == 334 and r2[0] == 501 and r2[1][0].startswith("5.0.0"), repr(r2))
r = c.cmd("AUTH CRAM-MD5")
check("auth-unknown-mech-504", r[0] == 504, repr(r))
r = c.cmd("AUTH")
check("auth-no-mech-501", r[0] == 501, repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0al\nice\0secret").decode())
check("auth-user-with-lf-535", r[0] == 535, repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0sec\0ret").decode())
check("auth-plain-three-nuls-501", r[0] == 501, repr(r))
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"alice").decode())
check("auth-plain-no-nul-501", r[0] == 501, repr(r))
r = c.cmd("AUTH PLAIN =")
check("auth-plain-empty-501", r[0] == 501, repr(r))
c.cmd("MAIL FROM:<a@x.example>")
r = c.cmd("AUTH PLAIN " + b64)
check("auth-in-transaction-503", r[0] == 503, repr(r))
c.cmd("RSET")
r = c.cmd("AUTH PLAIN " + b64)
check("auth-after-all-that", r[0] == 235, repr(r))
c.cmd("QUIT")
c.close()
L.wait_sessions(3)
log = L.logtext()
check("log-no-control-chars-after-auth", "\x00" not in log and "\r" not in log and "al\nice" not in log, repr(log[-300:]))
done()
