#!/usr/bin/python3
"""A dead destination (issue 11, scenario 4; doc/remote-results.md, the U
line): when no host of a domain takes a session, postie-remote says U,
and postie-send holds the domain's other messages until the domain's own
next retry instead of trying each one: one attempt, not one per message.
Other domains go on. SIGALRM forgets the hold; once the domain answers,
everything waiting is delivered."""
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("send-deaddest", "no /usr/sbin/smtp-sink (package postfix)")
    done()

base = tmpdir("send-deaddest")
alive = Sink(os.path.join(base, "alive"))
DEAD = "dead.test:127.0.0.1:9\n"  # a closed port: every connection refused
i = Instance("send-deaddest", users=("alice",), control={
    "locals": "example.org", "retrymin": "5", "retrymax": "10",
    "smtproutes": DEAD + "alive.test:127.0.0.1:%d\n" % alive.port})

# postie-remote itself: no host took a session, so every line is U
msg = os.path.join(base, "msg")
with open(msg, "wb") as f:
    f.write(b"Subject: x\n\nx\n")
with open(msg, "rb") as f:
    r = subprocess.run([prog("postie-remote"), "dead.test", "a@example.org", "u@dead.test", "v@dead.test"],
                       stdin=f, capture_output=True, env=i.env(), timeout=30)
lines = r.stdout.decode(errors="replace").splitlines()
check("remote-u-lines", r.returncode == 0 and len(lines) == 3 and all(l.startswith("Uunable to deliver to any host") for l in lines),
      repr(lines) + r.stderr.decode(errors="replace"))

i.start()
first = i.inject("alice@example.org", ["x@dead.test"], b"Subject: first\n\nfirst\n")
check("dead-marked", i.wait(lambda: "destination dead.test took no session" in i.logtext(), 20), i.logtext()[-800:])
N = 10
others = [i.inject("alice@example.org", ["y%d@dead.test" % n], b"Subject: held\n\nheld\n") for n in range(N)]
ok = i.inject("alice@example.org", ["z@alive.test"], b"Subject: alive\n\nalive\n")
check("other-domain-delivered", i.wait(lambda: len(alive.messages()) == 1, 20), i.logtext()[-800:])
held = lambda: sum(1 for q in others if ("delivery %s: <y" % q) in i.logtext() and "waiting for its next retry" in i.logtext())
check("dead-others-held", i.wait(lambda: held() == N, 20), i.logtext()[-1500:])
starts = [l for l in i.logtext().splitlines() if "starting delivery" in l and "@dead.test>" in l]
check("dead-one-attempt", len(starts) == 1 and first in starts[0], "\n".join(starts))
check("dead-messages-queued", all(any(n == q for n, _ in queue_files(i.home, "info")) for q in others + [first]))

# the domain's retry (retrymin, 5 s): one delivery probes it, the others
# keep waiting; it fails again (U), and the hold doubles (10 s)
check("dead-probe", i.wait(lambda: i.logtext().count("destination dead.test took no session:") >= 2, 20),
      i.logtext()[-800:])
time.sleep(1)
starts = [l for l in i.logtext().splitlines() if "starting delivery" in l and "@dead.test>" in l]
check("dead-probe-one-attempt", len(starts) == 2 and "wait 10 seconds" in i.logtext(), "\n".join(starts))

# the destination answers again (routed to the sink), SIGALRM: all delivered
i.control("smtproutes", "dead.test:127.0.0.1:%d\nalive.test:127.0.0.1:%d\n" % (alive.port, alive.port))
i.signal(signal.SIGHUP)
time.sleep(0.3)
i.signal(signal.SIGALRM)
check("dead-delivered-after", i.wait(lambda: len(alive.messages()) == N + 2 and i.queue_empty(), 30),
      "%d messages at the sink; %s" % (len(alive.messages()), i.logtext()[-800:]))
check("dead-sigterm", i.stop() == 0)
alive.stop()
done()
