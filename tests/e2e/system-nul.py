#!/usr/bin/python3
"""Two small promises of issue 15.
A NUL byte in a message is refused where mail enters (postie-smtpd: 554
5.6.0 at the end of DATA; postie-inject: exit 65 with a clear message),
and never sent by postie-remote (a permanent failure), since a next
server that drops NULs could see the message end where postie saw none.
A queue program killed by a signal is reported to the SMTP client as
such (451 4.3.0 ... killed by signal N), and logged, not as an
"internal bug"."""
import os, smtplib, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import Launcher, Raw, smtpd_instance, queued, clear_queue
from remotetest import run_remote

home = smtpd_instance("nul-signal")
L = Launcher(home)

# ---- NUL at DATA ----
c = Raw(L.port)
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<b@local.example>")
r = c.cmd("DATA")
check("data-354", r[0] == 354, r)
r = c.cmd(b"Subject: nul\r\n\r\nbefore\x00after\r\n.")
check("nul-554-5.6.0", r[0] == 554 and r[1][0].startswith("5.6.0") and "NUL" in r[1][0], r)
check("nul-nothing-queued", not queued(home))
r = c.cmd("NOOP")
check("nul-session-goes-on", r[0] == 250, r)
c.cmd("QUIT")
c.close()
check("nul-logged", "reason=NUL byte" in L.logtext(), L.logtext()[-300:])
# the same message without the NUL is accepted
s = smtplib.SMTP("127.0.0.1", L.port, timeout=20)
s.sendmail("a@remote.example", ["b@local.example"], b"Subject: nul\r\n\r\nbefore after\r\n")
s.quit()
check("no-nul-accepted", len(queued(home)) == 1)
clear_queue(home)

# ---- NUL through postie-inject ----
p = subprocess.run([prog("postie-inject"), "x@example.net"], input=b"Subject: x\n\nbody \x00 here\n",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(home), timeout=30)
check("inject-nul-refused", p.returncode == 65 and b"NUL" in p.stderr and not queued(home),
      "rc=%d %r" % (p.returncode, p.stderr))

# ---- NUL in a queued message: postie-remote does not send it ----
with open(os.path.join(home, "control", "smtproutes"), "w") as f:
    f.write(":127.0.0.1:9\n")  # nothing leaves loopback
rc, lines, err, _ = run_remote(home, "remote.example", "a@b.example", ["x@remote.example"], b"Subject: x\n\na\x00b\n")
check("remote-nul-permanent", lines and all(l.startswith("D") for l in lines) and "NUL" in lines[-1], lines)

# ---- a queue program killed by a signal ----
q = os.path.join(home, "killed-queue")
with open(q, "w") as f:
    f.write("#!/bin/sh\ncat >/dev/null\nkill -KILL $$\n")
os.chmod(q, 0o755)
Lk = Launcher(home, env={"POSTIE_QUEUE": q})
s = smtplib.SMTP("127.0.0.1", Lk.port, timeout=20)
try:
    s.sendmail("a@remote.example", ["b@local.example"], b"Subject: x\r\n\r\ny\r\n")
    got = None
except smtplib.SMTPDataError as e:
    got = (e.smtp_code, e.smtp_error.decode(errors="replace"))
s.close()
check("killed-queue-451", got and got[0] == 451 and got[1].startswith("4.3.0") and "killed by signal 9" in got[1], got)
check("killed-queue-not-internal-bug", got and "internal bug" not in got[1], got)
check("killed-queue-logged", "reason=queue program killed by signal 9" in Lk.logtext(), Lk.logtext()[-300:])
L.close()
Lk.close()
done()
