#!/usr/bin/python3
"""postie-send must not stall (issue 15): a todo bucket is left to the
next scan only when its own pickups have all ended, none of them done;
never while they are still in flight. Two measures:
1. a backlog of 600 messages queued while postie-send is down drains
   after its start as fast with the default scaninterval (60 s) as with
   scaninterval=1, within a generous factor;
2. in a burst injected through postie-queue while it runs, no message
   waits for the scan interval."""
import os, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

N = 600
BODY = b"Subject: backlog\n\nmessage\n"


def backlog(i, n):
    """n queue files written as postie-queue writes them (doc/queue.md),
    without its two fsyncs each: a backlog left by a stopped postie-send."""
    q = os.path.join(i.home, "queue")
    env = envelope("bob@example.org", ["alice@example.org"])
    trailer = TRAILER_MAGIC + b"%016x\n" % len(BODY)
    for k in range(n):
        tmp = os.path.join(q, "tmp", "backlog.%d" % k)
        with open(tmp, "wb") as f:
            f.write(BODY + env + trailer)
            ino = os.fstat(f.fileno()).st_ino
        t = time.time()
        qid = "%d.%06d.%d" % (int(t), int((t % 1) * 1e6), ino)
        os.rename(tmp, os.path.join(q, "todo", str(ino % QUEUE_SPLIT), qid))


def drain(scaninterval, limit):
    """Seconds from postie-send's start to the backlog's last delivery,
    or None after limit seconds."""
    i = Instance("send-stall-%s" % scaninterval, users=("alice",), control={"locals": "example.org"})
    if scaninterval:
        i.control("scaninterval", scaninterval)
    backlog(i, N)
    t0 = time.time()
    i.start()
    ok = i.wait(lambda: len(os.listdir(os.path.join(i.users["alice"], "Maildir", "new"))) == N, limit, 0.05)
    t = time.time() - t0
    stuck = "in the last round" in i.logtext()
    alive = i.proc.poll() is None
    i.stop()
    return (t if ok else None), stuck, alive


ref, _, alive = drain("1", 120)
check("stall-reference-drains", ref is not None and alive, "scaninterval=1: not drained in 120 s")
if ref is not None:
    limit = 3 * ref + 5
    t, stuck, alive = drain(None, limit)
    check("stall-backlog-drain-time", t is not None and alive,
          "scaninterval=60: %d messages not drained in %.1f s (with scaninterval=1: %.1f s)" % (N, limit, ref))
    check("stall-no-bucket-declared-stuck", not stuck, "a bucket was declared stuck while its pickups ran")
    print("# drain of %d: %.1f s with scaninterval=1, %s with the default" % (N, ref, "%.1f s" % t if t else "more"))

# A burst through postie-queue from 8 injectors at once, postie-send
# running with the default scaninterval (60 s): every message is in the
# Maildir well before the first scan could have picked up a forgotten one.
# A small pickupmax makes every bucket go through the rescan rule.
i = Instance("send-stall-burst", users=("alice",), control={"locals": "example.org", "pickupmax": "4"})
i.start()
BURST = 480
errors = []


def injector(n):
    for k in range(n):
        try:
            i.inject("bob@example.org", ["alice@example.org"], BODY)
        except Exception as e:
            errors.append(str(e))


t0 = time.time()
threads = [threading.Thread(target=injector, args=(BURST // 8,)) for _ in range(8)]
for th in threads:
    th.start()
for th in threads:
    th.join()
injected = time.time() - t0
new = os.path.join(i.users["alice"], "Maildir", "new")
ok = i.wait(lambda: len(os.listdir(new)) == BURST, 30, 0.05)
after = time.time() - t0 - injected
check("stall-burst-injected", not errors, repr(errors[:3]))
check("stall-burst-no-wait-for-scan", ok and "in the last round" not in i.logtext(),
      "%d of %d delivered %.1f s after the burst (%.1f s to inject)" % (len(os.listdir(new)), BURST, after, injected))
print("# burst of %d: injected in %.1f s, all delivered %.1f s later" % (BURST, injected, after))
check("stall-sigterm", i.stop() == 0)
done()
