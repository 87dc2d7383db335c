#!/usr/bin/python3
"""The last deferral reason of each pending recipient: postie-send records
it in queue/defer/B/ID, postie-qread shows it (pending remote <addr>
(last: TEXT)), and the file goes when the message ends."""
import os, signal, stat, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-defer", control={
    "locals": "example.org",
    "retrymin": "300", "retrymax": "3600",
    # the remote domain's server is down: port 9 on loopback refuses
    "smtproutes": ":127.0.0.1:9\n",
})


def qread():
    r = subprocess.run([prog("postie-qread")], env=i.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def deferfile(q):
    return os.path.join(i.home, "queue", "defer", str(int(q.split(".")[2]) % 64), q)


i.start()
check("defer-dir-made", os.path.isdir(os.path.join(i.home, "queue", "defer", "63")))
q = i.inject("sender@example.org", ["alice@example.org", "far@remote.test"])
i.wait(lambda: os.path.exists(deferfile(q)), 15)
log = i.logtext()
why = log.split("<far@remote.test>: deferral: ", 1)[-1].split("\n", 1)[0] if "<far@remote.test>: deferral: " in log else None
rc, out, err = qread()
l = ([x for x in out.splitlines() if x.startswith(q + " ")] or [""])[0]
check("qread-last-reason", rc == 0 and why and ("pending remote <far@remote.test> (last: %s)" % why) in l, repr((l, why, err)))
check("qread-done-has-no-reason", "done local <alice@example.org>" in l and "<alice@example.org> (last:" not in l, l)
try:
    with open(deferfile(q)) as f:
        content = f.read()
    mode = stat.S_IMODE(os.stat(deferfile(q)).st_mode)
except OSError as e:
    content, mode = repr(e), 0
check("defer-file", why and content == "far@remote.test\t%s\n" % why and mode == 0o600, "%r %o" % (content, mode))

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("defer-file-removed", "no /usr/sbin/smtp-sink (package postfix)")
else:
    sink = Sink(os.path.join(tmpdir("send-defer"), "sink"))
    i.control("smtproutes", "remote.test:127.0.0.1:%d\n" % sink.port)
    i.signal(signal.SIGHUP)
    i.wait(lambda: "settings read again" in i.logtext(), 10)
    i.signal(signal.SIGALRM)
    ended = i.wait(lambda: ("end msg " + q) in i.logtext(), 20)
    rc, out, err = qread()
    check("defer-file-removed", ended and not os.path.exists(deferfile(q)) and q not in out and len(sink.messages()) == 1,
          "%r %r" % (ended, out))
    sink.stop()
i.stop()
done()
