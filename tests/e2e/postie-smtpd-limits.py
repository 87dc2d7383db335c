#!/usr/bin/python3
"""postie-smtpd's limits: command and text line lengths, the bad command
count, maxrcpt, talking before the greeting, DATA content sent without
waiting for 354, the command and DATA timeouts, sequence errors."""
import os, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-limits", {"maxrcpt": "5"})
L = Launcher(home)

# --- line lengths: 512 with CRLF for a command, 1000 for a text line
c = Raw(L.port)
c.cmd("EHLO x.example")
r = c.cmd("NOOP " + "x" * (512 - 7))
check("command-512-ok", r[0] == 250, repr(r))
r = c.cmd("NOOP " + "x" * (512 - 6))
check("command-513-refused", r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
r = c.cmd("MAIL FROM:<" + "a" * 600 + "@x.example>")
check("command-long-mail", r[0] == 500 and r[1][0].startswith("5.5.2"), repr(r))
r = c.cmd("NOOP")
check("session-goes-on", r[0] == 250, repr(r))
# Text lines over RFC 5321's 1000 bytes are common in real mail (generated
# HTML): accepted and stored unaltered up to control/datalinemax (default
# 1 MiB); past it the message is refused with 554 5.6.0, not 5.5.2.
def long_line(c, n):
    """A message with a text line of n bytes (CRLF not counted): the reply
    to the end of DATA, and what was queued."""
    clear_queue(home)
    c.cmd("MAIL FROM:<a@x.example>")
    c.cmd("RCPT TO:<u@local.example>")
    c.cmd("DATA")
    c.send(b"Subject: long\r\n\r\n" + b"y" * n + b"\r\n.\r\n")
    return c.reply(), queued(home)


for n in (999, 5000, 200000):
    r, q = long_line(c, n)
    check("text-line-%d-accepted" % (n + 2), r[0] == 250, repr(r))
    check("text-line-%d-unaltered" % (n + 2), len(q) == 1 and q[0][1].endswith(b"\n\n" + b"y" * n + b"\n"), repr(q)[:200])
c.close()
with open(os.path.join(home, "control", "datalinemax"), "w") as f:
    f.write("1000\n")
c = Raw(L.port)
c.cmd("EHLO x.example")
for n, want in ((998, 250), (999, 554)):
    r, q = long_line(c, n)
    check("datalinemax-line-%d" % (n + 2), r[0] == want and (want == 250 or (r[1][0].startswith("5.6.0") and "1000 bytes" in r[1][0])), repr(r))
    check("datalinemax-line-%d-queue" % (n + 2), len(q) == (1 if want == 250 else 0))
r = c.cmd("NOOP")
check("datalinemax-session-goes-on", r[0] == 250, repr(r))
os.unlink(os.path.join(home, "control", "datalinemax"))
clear_queue(home)

# --- a command line that never ends: read up to 64 KiB past the limit,
# then answered and closed at once, not read until the timeout.
c2 = Raw(L.port)
c2.cmd("EHLO x.example")
c2.s.settimeout(10)
t0 = time.time()
try:
    c2.send(b"NOOP " + b"x" * 300000)
except OSError:
    pass
r1 = r2 = r3 = (-1, ["no reply within 10 s"])
try:
    r1 = c2.reply()
    r2 = c2.reply()
    r3 = c2.reply()
except OSError:
    pass
check("endless-line-500", r1[0] == 500 and r1[1][0].startswith("5.5.2"), repr(r1))
check("endless-line-closed", r2[0] == 421 and r3[0] == 0 and time.time() - t0 < 8, repr((r2, r3, time.time() - t0)))
c2.close()

# --- the same recipient twice: one envelope entry, delivered once; the
# domain's case does not matter, the local part's does.
clear_queue(home)
c.cmd("MAIL FROM:<a@x.example>")
r = [c.cmd(x)[0] for x in ("RCPT TO:<dup@local.example>", "RCPT TO:<dup@LOCAL.Example>",
                           "RCPT TO:<dup@local.example>", "RCPT TO:<Dup@local.example>")]
check("duplicate-rcpt-250", r == [250, 250, 250, 250], repr(r))
c.cmd("DATA")
c.send(b"Subject: dup\r\n\r\nx\r\n.\r\n")
r = c.reply()
q = queued(home)
check("duplicate-rcpt-once", r[0] == 250 and len(q) == 1 and q[0][3] == ["dup@local.example", "Dup@local.example"],
      repr(q)[:300])
clear_queue(home)
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<dup@local.example>")
c.cmd("RCPT TO:<dup@Local.Example>")
c.cmd("DATA")
c.send(b"Subject: dup\r\n\r\nx\r\n.\r\n")
c.reply()
q = queued(home)
check("duplicate-rcpt-for-line", len(q) == 1 and q[0][3] == ["dup@local.example"] and b"for <dup@local.example>" in q[0][1],
      repr(q)[:300])
clear_queue(home)

# --- sequence errors
r = c.cmd("RCPT TO:<u@local.example>")
check("rcpt-before-mail-503", r[0] == 503 and r[1][0].startswith("5.5.1"), repr(r))
r = c.cmd("DATA")
check("data-before-mail-503", r[0] == 503, repr(r))
c.cmd("MAIL FROM:<a@x.example>")
r = c.cmd("MAIL FROM:<a@x.example>")
check("nested-mail-503", r[0] == 503, repr(r))
r = c.cmd("DATA")
check("data-no-recipients-554", r[0] == 554 and r[1][0].startswith("5.5.1"), repr(r))
for i in range(5):
    c.cmd("RCPT TO:<u%d@local.example>" % i)
r = c.cmd("RCPT TO:<u9@local.example>")
check("maxrcpt-452", r[0] == 452 and r[1][0].startswith("4.5.3"), repr(r))
r = c.cmd("RSET")
r = c.cmd("DATA x")
check("data-with-argument-501", r[0] == 501, repr(r))
c.close()
c = Raw(L.port)
r = c.cmd("MAIL FROM:<a@x.example>")
check("mail-before-helo-503", r[0] == 503, repr(r))
r = c.cmd("HELO")
check("helo-without-name-501", r[0] == 501, repr(r))
r = c.cmd("HELO old.example")
check("helo-250", r[0] == 250 and r[1] == ["mx.test.example"], repr(r))
r = c.cmd("MAIL FROM:<a@x.example> BODY=8BITMIME")
check("helo-no-parameters", r[0] == 555, repr(r))
clear_queue(home)
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: helo\r\n\r\nx\r\n.\r\n")
r = c.reply()
q = queued(home)
check("helo-protocol-smtp", r[0] == 250 and q and b" with SMTP id " in q[0][1], repr(q))
c.close()

# --- the bad command limit (control/maxbadcmds, default 20)
c = Raw(L.port)
c.cmd("EHLO x.example")
codes = [c.cmd("BOGUS %d" % i)[0] for i in range(19)]
check("bad-commands-19-answered", codes == [500] * 19, repr(codes))
c.send(b"BOGUS 20\r\n")
r1 = c.reply()
r2 = c.reply()
r3 = c.reply()
check("bad-commands-20-ends", r1[0] == 500 and r2[0] == 421 and r2[1][0].startswith("4.7.0") and r3[0] == 0, repr((r1, r2, r3)))
c.close()

# --- talking before the greeting (control/greetdelay gives the client the
# time to show itself; without it, only input already there counts)
with open(os.path.join(home, "control", "greetdelay"), "w") as f:
    f.write("3000\n")
s = socket.create_connection(("127.0.0.1", L.port))
s.sendall(b"EHLO eager.example\r\nMAIL FROM:<a@x.example>\r\n")
data = b""
s.settimeout(10)
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
s.close()
os.unlink(os.path.join(home, "control", "greetdelay"))
check("pregreet-refused", data.startswith(b"554 5.5.0") and data.count(b"\r\n") == 1, repr(data))
# A client that resets the connection before the greeting did not talk:
# logged as a reset, and no 554 is written to the dead socket.
with open(os.path.join(home, "control", "greetdelay"), "w") as f:
    f.write("3000\n")
s = socket.create_connection(("127.0.0.1", L.port))
myport = s.getsockname()[1]
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
time.sleep(0.2)
s.close()
mine = []
for i in range(100):
    mine = [l for l in L.logtext().splitlines() if " session " in l and " port=%d " % myport in l]
    if mine:
        break
    time.sleep(0.1)
os.unlink(os.path.join(home, "control", "greetdelay"))
check("pregreet-reset-logged", len(mine) == 1 and "end=reset" in mine[0], repr(mine))

# --- DATA content sent without waiting for a refused DATA
clear_queue(home)
c = Raw(L.port)
c.cmd("EHLO x.example")
c.send(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<v@remote.example>\r\nDATA\r\n"
       b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<u@local.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
reps = []
while True:
    x = c.reply()
    if x[0] == 0:
        break
    reps.append(x)
check("data-without-waiting", [x[0] for x in reps] == [250, 554, 554, 421] and reps[3][1][0].startswith("4.5.0"), repr(reps))
check("data-without-waiting-nothing-queued", queued(home) == [])
c.close()

# --- timeouts
home2 = smtpd_instance("smtpd-limits-timeouts", {"timeoutsmtpd": "1", "timeoutdata": "1", "timeoutdatatotal": "2"})
L2 = Launcher(home2)
c = Raw(L2.port)
t0 = time.time()
r = c.reply()
check("timeout-command", r[0] == 421 and r[1][0].startswith("4.4.2") and 0.8 < time.time() - t0 < 5, repr(r))
check("timeout-command-closed", c.reply()[0] == 0)
c.close()
c = Raw(L2.port)
c.cmd("EHLO x.example")
c.send(b"NOOP")  # a command that never ends: the whole line has one deadline
time.sleep(0.6)
c.send(b" still")
t0 = time.time()
r = c.reply()
check("timeout-partial-command", r[0] == 421 and time.time() - t0 < 1.5, repr(r))
c.close()
c = Raw(L2.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: slow\r\n")
r = c.reply()
check("timeout-data", r[0] == 421 and r[1][0].startswith("4.4.2"), repr(r))
c.close()
c = Raw(L2.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
t0 = time.time()
got = None
c.s.settimeout(0.1)
for i in range(60):
    try:
        c.send(b"x")
    except OSError:
        break
    try:
        d = c.s.recv(100)
        got = d
        break
    except socket.timeout:
        pass
    time.sleep(0.3)
c.s.settimeout(10)
check("timeout-data-total", got is not None and got.startswith(b"421 4.4.2") and 1.5 < time.time() - t0 < 5, repr((got, time.time() - t0)))
c.close()
check("timeouts-nothing-queued", queued(home2) == [])
L2.wait_sessions(4)
check("timeout-logged", L2.logtext().count("end=timeout") == 4, L2.logtext())
done()
