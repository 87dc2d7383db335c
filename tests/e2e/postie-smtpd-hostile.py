#!/usr/bin/python3
"""postie-smtpd under attack (review): limits that must hold even against a
client that never pauses, and a queue program that misbehaves."""
import os, signal, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *


def frozen(L, c, first, rest, seconds):
    """Send first, let postie-smtpd read it, stop it for seconds (past a
    deadline), send rest, let it go on: it then finds input waiting, as it
    does when a client sends faster than it reads. Returns its reply."""
    c.send(first)
    time.sleep(0.5)
    pid = L.pids[-1]
    os.kill(pid, signal.SIGSTOP)
    time.sleep(seconds)
    c.send(rest)
    time.sleep(0.2)
    os.kill(pid, signal.SIGCONT)
    return c.reply()


# --- the deadlines hold even when input is always there: a client that
# never lets the server wait (it sends faster than the server reads, or the
# server is slow) cannot stretch a command line past timeoutsmtpd or DATA
# past timeoutdatatotal.
home = smtpd_instance("review-smtpd-stream", {"timeoutdatatotal": "1", "timeoutdata": "60",
                                               "timeoutsmtpd": "1"})
L = Launcher(home)
c = Raw(L.port)
c.cmd("EHLO x.example")
r = frozen(L, c, b"NOOP " + b"a" * 100, b"\r\nNOOP\r\n", 1.6)
check("cmdline-deadline-with-input-waiting", r[0] == 421 and "timeout" in r[1][0], repr(r))
c.close()
c = Raw(L.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
r = frozen(L, c, b"Subject: slow\r\n\r\n" + b"x" * 100, b"\r\n.\r\n", 1.6)
check("data-deadline-with-input-waiting", r[0] == 421 and "timeout" in r[1][0], repr(r))
check("data-deadline-nothing-queued", not queue_files(home))
c.close()
L.wait_sessions(2, 10)
check("deadline-logged", L.logtext().count("end=timeout") == 2, L.logtext()[-400:])
L.close()

# --- a queue program that stops reading and still exits 0 has not queued
# the message: a temporary failure (as qmail-smtpd does), never "250".
home = smtpd_instance("review-smtpd-shortq")
shortq = os.path.join(home, "shortq")
with open(shortq, "w") as f:
    f.write("#!/bin/sh\nhead -c 10 >/dev/null\nexit 0\n")
os.chmod(shortq, 0o755)
L = Launcher(home, env={"POSTIE_QUEUE": shortq})
c = Raw(L.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
c.send(b"Subject: big\r\n\r\n" + (b"z" * 500 + b"\r\n") * 1000 + b".\r\n")
r = c.reply()
check("queue-exit0-after-broken-pipe-is-451", r[0] == 451, repr(r))
r = c.cmd("QUIT")
c.close()
L.wait_sessions(1, 10)
check("queue-exit0-after-broken-pipe-logged", " refused " in L.logtext() and " accepted " not in L.logtext(), L.logtext()[-300:])
L.close()

# --- descriptors: the queue program and the checkpassword program get
# fds 0 to 3 and nothing else of postie-smtpd's (what this test itself
# passes down to postie-smtpd is left aside).
home = smtpd_instance("review-smtpd-fds")
inherited = set()
for f in os.listdir("/proc/self/fd"):
    try:
        if int(f) > 2 and os.get_inheritable(int(f)):
            inherited.add(int(f))
    except OSError:
        pass
lister = os.path.join(home, "lister")
with open(lister, "w") as f:
    f.write("""#!/usr/bin/python3
import os, sys
fds = sorted(int(x) for x in os.listdir('/proc/self/fd'))
fds = [f for f in fds if os.path.exists('/proc/self/fd/%d' % f)]
with open(os.environ['LISTER_OUT'], 'a') as o:
    o.write(os.path.basename(sys.argv[0]) + ' ' + ' '.join(map(str, fds)) + '\\n')
if len(sys.argv) > 1:
    os.read(3, 1000)
    sys.exit(1)
while os.read(0, 65536): pass
while True:
    b = os.read(1, 65536)
    if not b or b.endswith(b'\\0\\0'): break
os.write(3, b'1\\n')
""")
os.chmod(lister, 0o755)
out = os.path.join(home, "fds.out")
L = Launcher(home, [lister], env={"POSTIE_QUEUE": lister, "LISTER_OUT": out})
c = Raw(L.port)
c.cmd("EHLO x.example")
import base64
c.cmd("AUTH PLAIN " + base64.b64encode(b"\0u\0p").decode())
c.cmd("MAIL FROM:<a@x.example>")
c.cmd("RCPT TO:<u@local.example>")
c.cmd("DATA")
r = c.cmd("Subject: fds\r\n\r\nx\r\n.")
c.cmd("QUIT")
c.close()
L.wait_sessions(1, 10)
lines = open(out).read().split("\n") if os.path.exists(out) else []
want = {0, 1, 2, 3} | inherited
extra = [l for l in lines if l and set(map(int, l.split()[1:])) - want]
check("fds-children-get-only-0-to-3", len([l for l in lines if l]) == 2 and not extra, "%r (inherited %r)" % (lines, inherited))
L.close()

# --- our Received: line's "for <...>" is a valid path: a quoted local
# part (stored unquoted) is quoted again, so it cannot end the clause and
# forge trace text ("; by ..." , a date) inside our own header.
home = smtpd_instance("review-smtpd-received")
L = Launcher(home)
c = Raw(L.port)
c.cmd("EHLO x.example")
c.cmd("MAIL FROM:<a@x.example>")
r1 = c.cmd('RCPT TO:<"v>; by forged.example with ESMTP; Thu, 1 Jan 1970 00:00:00 +0000 \\"x"@local.example>')
c.cmd("DATA")
r = c.cmd("Subject: q\r\n\r\nx\r\n.")
c.cmd("QUIT")
c.close()
q = queued(home)
hdr = q[0][1].split(b"\n\n")[0].decode() if q else ""
check("received-for-quoted", r1[0] == 250 and r[0] == 250 and
      '\tfor <"v>; by forged.example with ESMTP; Thu, 1 Jan 1970 00:00:00 +0000 \\"x"@local.example>;\n' in hdr, repr(hdr))
L.close()

# --- a queue program that writes garbage as its id: nothing of it that
# could split or forge a reply reaches the client or the log.
home = smtpd_instance("review-smtpd-garbageid")
g = os.path.join(home, "gq")
with open(g, "w") as f:
    f.write("#!/usr/bin/python3\n"
            "import os\n"
            "while os.read(0, 65536): pass\n"
            "while os.read(1, 65536): pass\n"
            "os.write(3, bytes.fromhex(os.environ['GQ_ID']))\n")
os.chmod(g, 0o755)
for name, idbytes in (("ctl", b"\x1b[31m1\r\n250 forged\n"), ("long", b"9" * 5000 + b"\n"), ("none", b"")):
    L = Launcher(home, env={"POSTIE_QUEUE": g, "GQ_ID": idbytes.hex()})
    c = Raw(L.port)
    c.cmd("EHLO x.example")
    c.cmd("MAIL FROM:<a@x.example>")
    c.cmd("RCPT TO:<u@local.example>")
    c.cmd("DATA")
    c.send(b"Subject: id\r\n\r\nx\r\n.\r\nNOOP\r\n")
    r = c.reply()
    r2 = c.reply()
    c.close()
    L.wait_sessions(1, 10)
    qid = r[1][0].split("queued as ", 1)[-1] if r[1] else ""
    check("garbage-id-" + name, r[0] == 250 and r2[0] == 250 and r2[1] == ["2.0.0 Ok"] and
          all(32 < ord(ch) < 127 for ch in qid) and len(qid) <= 64 and "\x1b" not in L.logtext(), repr((r, r2)))
    L.close()

done()
