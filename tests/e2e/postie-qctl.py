#!/usr/bin/python3
"""postie-qctl: delete, hold, release and retry now one message, through
postie-send. A held message gets no delivery attempt (not on SIGALRM,
not after a restart of postie-send) and postie-qread shows it held;
release and retry start a delivery at once; a delete of a message whose
delivery is in flight waits for that delivery to end (and can time out,
withdrawn, leaving the message alone); only a uid that may write
queue/ctl can use it."""
import os, re, shutil, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("qctl", control={
    "locals": "example.org",
    "retrymin": "300", "retrymax": "3600",
    "smtproutes": ":127.0.0.1:9\n",  # remote: a closed port, deferred
}, local_standin=True)
# postie-local for the extension "slow": waits for HOME/go before it delivers
slow = os.path.join(i.bin, "postie-local")
real = os.path.join(i.bin, "postie-local.standin")
shutil.move(slow, real)
with open(slow, "w") as f:
    f.write('#!/bin/sh\nif [ "$4" = slow ] ; then n=0 ; while [ ! -e "$2/go" ] && [ $n -lt 600 ] ; do sleep 0.05 ; n=$((n+1)) ; done ; fi\n'
            'exec %s "$@"\n' % real)
os.chmod(slow, 0o755)
go = os.path.join(i.users["alice"], "go")


def qctl(*args, timeout=60, user=None):
    cmd = [prog("postie-qctl")] + list(args)
    if user:
        cmd = ["s6-setuidgid", user] + cmd
    p = subprocess.run(cmd, env=i.env(), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def qread():
    return subprocess.run([prog("postie-qread")], env=i.env(), capture_output=True, text=True, timeout=60).stdout


def line_of(q):
    return ([l for l in qread().splitlines() if l.startswith(q + " ")] or [""])[0]


def starts(q):
    return i.logtext().count("starting delivery " + q + " ")


def files(q):
    b = str(int(q.split(".")[2]) % 64)
    return [d for d in ("info", "mess", "hold", "bounce") if os.path.exists(os.path.join(i.home, "queue", d, b, q))]


def ctl_left():
    d = os.path.join(i.home, "queue", "ctl")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


# --- postie-send not running: nothing done, nothing left
os.makedirs(os.path.join(i.home, "queue", "ctl"), exist_ok=True)
rc, out, err = qctl("hold", "1796400000.000000.12345")
check("not-running-111", rc == 111 and "postie-send is not running: nothing done" in err and not ctl_left(), "rc=%d %s %r" % (rc, err, ctl_left()))
rc, out, err = qctl("frobnicate", "1796400000.000000.12345")
check("usage-100", rc == 100 and "usage" in err, "rc=%d %s" % (rc, err))
rc, out, err = qctl("hold", "../../etc/passwd")
check("bad-id-100", rc == 100 and "not a queue id" in err, "rc=%d %s" % (rc, err))

i.start()
a = i.inject("s@example.org", ["far@remote.test"])
check("deferred", i.wait(lambda: ("<far@remote.test>: deferral") in i.logtext(), 15), i.logtext()[-300:])
time.sleep(0.3)  # its pass ends

# --- retry now
n = starts(a)
rc, out, err = qctl("retry", a)
check("retry-exit-0", rc == 0 and out == a + ": retrying now\n", "rc=%d %r %s" % (rc, out, err))
check("retry-delivers-now", i.wait(lambda: starts(a) > n, 10), i.logtext()[-300:])
rc, out, err = qctl("retry", "1796400000.000000.12345")
check("retry-unknown-1", rc == 1 and "no such message in the queue" in err, "rc=%d %s" % (rc, err))
time.sleep(0.3)

# --- hold: no delivery attempt, whatever wakes postie-send
rc, out, err = qctl("hold", a)
check("hold-exit-0", rc == 0 and out.startswith(a + ": held"), "rc=%d %r %s" % (rc, out, err))
check("hold-qread-shows-held", re.search(r" from <s@example\.org> held: pending remote <far@remote\.test>", line_of(a)) is not None, line_of(a))
rc, out, err = qctl("hold", a)
check("hold-again", rc == 0 and "already held" in out, "rc=%d %r %s" % (rc, out, err))
qs = subprocess.run([prog("postie-qstat")], env=i.env(), capture_output=True, text=True, timeout=60).stdout
check("hold-qstat-counts", "messages held: 1\n" in qs, qs)
i.control("retrymin", "1")
i.control("retrymax", "1")
i.signal(signal.SIGHUP)
n = starts(a)
i.signal(signal.SIGALRM)
time.sleep(2.5)
check("hold-no-attempt-on-sigalrm", starts(a) == n, i.logtext()[-400:])
rc, out, err = qctl("retry", a)
check("retry-held-refused", rc == 1 and "held: release it" in err, "rc=%d %s" % (rc, err))
i.stop()
i.start()
time.sleep(2.5)
check("hold-survives-restart", starts(a) == n and " held:" in line_of(a), "%d %d %s" % (starts(a), n, line_of(a)))

# --- release: delivered (attempted) at once
rc, out, err = qctl("release", a)
check("release-exit-0", rc == 0 and "released" in out, "rc=%d %r %s" % (rc, out, err))
check("release-delivers-now", i.wait(lambda: starts(a) > n, 10), i.logtext()[-300:])
check("release-qread-not-held", " held" not in line_of(a), line_of(a))
rc, out, err = qctl("release", a)
check("release-not-held-1", rc == 1 and "not held" in err, "rc=%d %s" % (rc, err))

# --- delete: gone, no DSN
rc, out, err = qctl("delete", a)
check("delete-exit-0", rc == 0 and "deleted" in out, "rc=%d %r %s" % (rc, out, err))
check("delete-files-gone", i.wait(lambda: not files(a), 5) and a not in qread(), repr(files(a)))
check("delete-logged-no-bounce", ("end msg %s (deleted by postie-qctl)" % a) in i.logtext() and ("bounce " + a) not in i.logtext(),
      i.logtext()[-400:])
i.control("retrymin", "300")
i.control("retrymax", "3600")
i.signal(signal.SIGHUP)

# --- delete while its delivery is in flight: waits for it to end
b = i.inject("s@example.org", ["alice+slow@example.org"])
check("slow-started", i.wait(lambda: starts(b) > 0, 10), i.logtext()[-300:])
p = subprocess.Popen([prog("postie-qctl"), "delete", b], env=i.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
check("delete-in-flight-waits", p.poll() is None and "info" in files(b) and "mess" in files(b), repr((p.poll(), files(b))))
open(go, "w").close()
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
log = i.logtext()
check("delete-in-flight-after-delivery", p.returncode == 0 and "after the deliveries" in out and not files(b)
      and log.find("delivery %s L" % b) < log.find("end msg %s (deleted by postie-qctl)" % b) and len(i.mails("alice")) == 1,
      "rc=%r %r %s %r" % (p.returncode, out, err, files(b)))
os.unlink(go)

# --- a delete that times out is withdrawn: the message is left alone
c = i.inject("s@example.org", ["alice+slow@example.org"])
check("slow-started-2", i.wait(lambda: starts(c) > 0, 10), i.logtext()[-300:])
rc, out, err = qctl("-t", "1", "delete", c)
check("delete-timeout-withdrawn", rc == 111 and "request withdrawn, nothing done" in err and files(c), "rc=%d %s %r" % (rc, err, files(c)))
open(go, "w").close()
check("withdrawn-delivered-normally", i.wait(lambda: ("end msg " + c + "\n") in i.logtext(), 15)
      and "withdrawn by postie-qctl" in i.logtext() and len(i.mails("alice")) == 2, i.logtext()[-400:])
check("ctl-empty", ctl_left() == [], repr(ctl_left()))

# --- hold in the middle of a pass: the delivery in flight ends, the one
# not started yet does not start until the release
os.unlink(go)
i.control("concurrencylocal", "1")
i.signal(signal.SIGHUP)
i.wait(lambda: i.logtext().count("settings read again") >= 3, 10)
e = i.inject("s@example.org", ["alice+slow@example.org", "bob@example.org"])
check("mid-pass-started", i.wait(lambda: starts(e) == 1, 10), i.logtext()[-300:])
rc, out, err = qctl("hold", e)
check("mid-pass-hold", rc == 0 and "deliveries in flight go on" in out, "rc=%d %r %s" % (rc, out, err))
open(go, "w").close()
check("mid-pass-inflight-ends", i.wait(lambda: ("delivery %s L" % e) in i.logtext(), 15), i.logtext()[-300:])
time.sleep(1.5)
check("mid-pass-rest-not-started", starts(e) == 1 and len(i.mails("bob")) == 0 and " held:" in line_of(e), line_of(e))
rc, out, err = qctl("release", e)
check("mid-pass-release-delivers", rc == 0 and i.wait(lambda: len(i.mails("bob")) == 1, 10)
      and i.wait(lambda: ("end msg " + e + "\n") in i.logtext(), 10), "rc=%d %r %s" % (rc, out, err))

# --- who may use it: the owner of queue/ctl (root, or the instance's owner)
if ROOT:
    d = i.inject("s@example.org", ["far@remote.test"])
    i.wait(lambda: starts(d) > 0, 10)
    rc, out, err = qctl("hold", d, user="nobody")
    check("nobody-refused", rc == 111 and "Permission denied" in err and "runs as root" in err and " held" not in line_of(d),
          "rc=%d %s" % (rc, err))
i.stop()
done()
