#!/usr/bin/python3
"""What postie-smtpd's AUTH does with the checkpassword program
(doc/postie-smtpd.md, "AUTH through a checkpassword program"): fds 0 and 1
are /dev/null and fd 3 a pipe; one that hangs past control/timeoutsmtpd is
killed with all it started (454 4.7.0, a log line, the session goes on);
one killed by a signal or that exits 2 is a temporary failure; credentials too long
for the 512 bytes of fd 3 are refused without running it."""
import base64, os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

home = smtpd_instance("smtpd-auth-cp", {"timeoutsmtpd": "3"})


def script(name, body):
    p = os.path.join(home, name)
    with open(p, "w") as f:
        f.write(body)
    os.chmod(p, 0o755)
    return p


def plain(user, pw):
    return "AUTH PLAIN " + base64.b64encode(b"\0" + user + b"\0" + pw).decode()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for this purpose: its parent has not reaped it yet
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- fds 0 and 1 are /dev/null, fd 3 a pipe
fdlog = os.path.join(home, "fds.log")
L = Launcher(home, [CHECKPASSWORD], env={"TEST_CHECKPASSWORD_FDS": fdlog})
c = Raw(L.port)
c.cmd("EHLO x.example")
r = c.cmd(plain(b"alice", b"secret"))
c.cmd("QUIT")
c.close()
L.wait_sessions(1, 20)
given = dict(l.split(" ", 1) for l in open(fdlog).read().split("\n") if re.match(r"^\d+ ", l)) if os.path.exists(fdlog) else {}
check("checkpassword-fds-0-1-devnull", r[0] == 235 and given.get("0") == "/dev/null" and given.get("1") == "/dev/null",
      repr((r, given)))
check("checkpassword-fd-3-pipe", given.get("3", "").startswith("pipe:"), repr(given))
L.close()

# --- a checkpassword program that hangs, and a child it started: both
# killed after timeoutsmtpd, 454 4.7.0, a log line, the session goes on
pids = os.path.join(home, "hang.pids")
hang = script("hang", "#!/bin/sh\necho $$ >> %s\nsleep 600 &\necho $! >> %s\nwait\n" % (pids, pids))
L = Launcher(home, [hang])
c = Raw(L.port)
c.cmd("EHLO x.example")
t0 = time.time()
r = c.cmd(plain(b"alice", b"secret"))
took = time.time() - t0
check("checkpassword-hangs-454", r[0] == 454 and r[1][0].startswith("4.7.0"), repr(r))
check("checkpassword-hangs-timeout", 2.5 <= took < 30, "%.1f s" % took)
r = c.cmd("NOOP")
check("checkpassword-hangs-session-goes-on", r[0] == 250, repr(r))
c.cmd("QUIT")
c.close()
L.wait_sessions(1, 20)
hung = [int(x) for x in open(pids).read().split()] if os.path.exists(pids) else []
for _ in range(50):
    if not any(alive(p) for p in hung):
        break
    time.sleep(0.1)
check("checkpassword-hangs-killed-with-its-children", len(hung) == 2 and not any(alive(p) for p in hung), repr(hung))
log = L.logtext()
check("checkpassword-hangs-logged", re.search(r"^postie-smtpd: warning: \S*hang did not exit within 3 seconds: killed$", log, re.M)
      and re.search(r" auth ip=127\.0\.0\.1 mech=PLAIN user=alice tempfail$", log, re.M), log[-600:])
for p in hung:
    if alive(p):
        os.kill(p, 9)
L.close()

# --- one killed by a signal, one that exits 2 (misuse): 454 and a log line
crash = script("crash", "#!/bin/sh\nkill -TERM $$\n")
misuse = script("misuse", "#!/bin/sh\nexit 2\n")
for name, prog_, want in (("crash", crash, r"crash crashed with signal 15"), ("misuse", misuse, r"misuse exited 2")):
    L = Launcher(home, [prog_])
    c = Raw(L.port)
    c.cmd("EHLO x.example")
    r = c.cmd(plain(b"alice", b"secret"))
    check("checkpassword-%s-454" % name, r[0] == 454 and r[1][0].startswith("4.7.0"), repr(r))
    c.cmd("QUIT")
    c.close()
    L.wait_sessions(1, 20)
    log = L.logtext()
    check("checkpassword-%s-logged" % name, re.search(r"^postie-smtpd: warning: \S*" + want + "$", log, re.M)
          and " tempfail" in log, log[-600:])
    L.close()

# --- user, password and timestamp are at most 512 bytes on fd 3: longer
# ones fail (535) and nothing is run; shorter ones reach the program
ran = os.path.join(home, "ran")
marker = script("marker", "#!/bin/sh\necho ran >> %s\nexec %s \"$@\"\n" % (ran, CHECKPASSWORD))
users = os.path.join(home, "cpusers")
with open(users, "wb") as f:
    f.write(b"u" * 200 + b" " + b"p" * 200 + b"\n")
L = Launcher(home, [marker], env={"TEST_CHECKPASSWORD_USERS": users})
for name, pw, want, runs in (("fits", b"p" * 200, 235, 1), ("too-long", b"p" * 320, 535, 0)):
    if os.path.exists(ran):
        os.unlink(ran)
    c = Raw(L.port)
    c.cmd("EHLO x.example")
    c.cmd("AUTH LOGIN")
    c.cmd(base64.b64encode(b"u" * 200).decode())
    r = c.cmd(base64.b64encode(pw).decode())
    c.cmd("QUIT")
    c.close()
    n = len(open(ran).read().split()) if os.path.exists(ran) else 0
    check("checkpassword-input-%s" % name, r[0] == want and n == runs, repr((r, n)))
L.close()
done()
