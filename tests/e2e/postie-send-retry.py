#!/usr/bin/python3
"""postie-send: stale tmp cleanup, the retry schedule, SIGALRM retries now,
queuelifetime bounces, double bounces (never dropped), no bounce for the
null sender."""
import fcntl, os, signal, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-retry", control={
    "locals": "example.org",
    "aliases": "postmaster: carol\n",
    "retrymin": "1", "retrymax": "3",
})

# stale tmp files: old and unlocked goes; locked or young stays
tmp = os.path.join(i.home, "queue", "tmp")
for n in ("11111", "22222", "33333"):
    open(os.path.join(tmp, n), "w").write("partial")
old = time.time() - 7200
os.utime(os.path.join(tmp, "11111"), (old, old))
os.utime(os.path.join(tmp, "22222"), (old, old))
lk = open(os.path.join(tmp, "22222"))
fcntl.flock(lk, fcntl.LOCK_EX)
i.start()
left = sorted(os.listdir(tmp))
check("stale-tmp-removed", "11111" not in left, repr(left))
check("locked-tmp-kept", "22222" in left, repr(left))
check("young-tmp-kept", "33333" in left, repr(left))
lk.close()

def deferrals(q):
    return sum(1 for l in i.logtext().splitlines() if q in l and ": deferral: " in l)

def count(u):
    return len(i.mails(u))

def block(u, on=True):
    """A temporary failure: the Maildir's tmp/ not writable by the user."""
    d = os.path.join(i.users[u], "Maildir", "tmp")
    if on:
        os.chown(d, 0 if ROOT else os.geteuid(), 0 if ROOT else os.getegid())
        os.chmod(d, 0o555)
    else:
        os.chown(d, UID, GID)
        os.chmod(d, 0o755)

if ROOT or True:
    # the retry schedule: retrymin 1, retrymax 3; intervals grow, capped
    block("bob")
    q = i.inject("alice@example.org", ["bob@example.org"])
    times = []
    end = time.time() + 20
    while time.time() < end and len(times) < 5:
        n = deferrals(q)
        if n > len(times):
            times.extend([time.time()] * (n - len(times)))
        time.sleep(0.02)
    gaps = [b - a for a, b in zip(times, times[1:])]
    check("retries-happen", len(times) >= 5, "deferrals %d" % len(times))
    check("retry-not-before-retrymin", all(g >= 0.8 for g in gaps), repr(gaps))
    check("retry-capped-at-retrymax", all(g <= 4.5 for g in gaps), repr(gaps))
    check("retry-interval-grows", gaps and gaps[-1] >= gaps[0] + 0.5, repr(gaps))
    print("# retry gaps: " + ", ".join("%.2f" % g for g in gaps))
    # next retry time on disk is the info file's mtime
    info = [p for n, p in queue_files(i.home, "info") if n == q]
    check("next-retry-recorded", info and os.stat(info[0]).st_mtime > time.time() - 1)
    block("bob", False)
    check("delivered-after-retry", i.wait(lambda: count("bob") == 1, 10))
    check("no-dsn-for-deferral", count("alice") == 0)

    # SIGALRM: retry now, long before the schedule says
    i.control("retrymin", "300")
    i.control("retrymax", "3600")
    i.signal(signal.SIGHUP)
    time.sleep(0.2)
    block("bob")
    q = i.inject("alice@example.org", ["bob@example.org"], b"Subject: alarm\n\nx\n")
    i.wait(lambda: deferrals(q) >= 1, 10)
    block("bob", False)
    time.sleep(0.5)
    check("not-retried-before-alarm", count("bob") == 1)
    t = time.time()
    i.signal(signal.SIGALRM)
    check("sigalrm-retries-now", i.wait(lambda: count("bob") == 2, 5), "%d" % count("bob"))
    print("# delivered %.0f ms after SIGALRM" % ((time.time() - t) * 1000))

    # queuelifetime: a deferred message older than it bounces
    i.control("retrymin", "1")
    i.control("retrymax", "1")
    i.control("queuelifetime", "3")
    i.signal(signal.SIGHUP)
    time.sleep(0.2)
    block("bob")
    t = time.time()
    q = i.inject("alice@example.org", ["bob@example.org"], b"Subject: expire\n\nx\n")
    check("lifetime-bounce", i.wait(lambda: count("alice") == 1, 15), i.logtext()[-800:])
    took = time.time() - t
    check("lifetime-not-early", took >= 2.0, "%.2fs" % took)
    if count("alice"):
        d = i.mails("alice")[0]
        check("lifetime-dsn-status", b"Status: 4.4.7" in d and b"Final-Recipient: rfc822; bob@example.org" in d, d)
        check("lifetime-dsn-last-error", b"last error" in d, d)
    check("lifetime-queue-empty", i.wait(lambda: not any(n == q for n, _ in queue_files(i.home, "info")), 10))
    block("bob", False)
    i.control("queuelifetime", "604800")
    i.signal(signal.SIGHUP)
    time.sleep(0.2)

# double bounce: the sender is a local address that does not exist
q = i.inject("ghost@example.org", ["nobody@example.org"], b"Subject: double\n\nx\n")
check("double-bounce-to-postmaster", i.wait(lambda: count("carol") == 1, 10), i.logtext()[-1000:])
time.sleep(0.5)
check("double-bounce-once", count("carol") == 1)
if count("carol"):
    d = i.mails("carol")[0]
    check("double-bounce-sender", b"Return-Path: <#@[]>" in d, d[:300])
    check("double-bounce-content", b"Final-Recipient: rfc822; ghost@example.org" in d, d)
check("double-bounce-queue-empty", i.wait(i.queue_empty, 10))

# A failed double bounce is never dropped (issue 15): its recipient (here
# nobody, no such user) stays pending, logged at every retry; once the
# address works (an alias added), the next retry delivers it.
i.control("doublebounceto", "nobody-either@example.org")
i.signal(signal.SIGHUP)
time.sleep(0.2)
q = i.inject("ghost@example.org", ["nobody@example.org"], b"Subject: triple\n\nx\n")
kept = lambda: i.logtext().count("<nobody-either@example.org>: no such user (#5.1.1): kept in the queue")
check("failed-double-bounce-kept", i.wait(lambda: kept() >= 2, 15) and not i.queue_empty()
      and "dropping" not in i.logtext(), i.logtext()[-1000:])
check("failed-double-bounce-nothing-delivered", count("carol") == 1)
i.control("aliases", "postmaster: carol\nnobody-either: carol\n")
i.signal(signal.SIGHUP)
time.sleep(0.2)
i.signal(signal.SIGALRM)
check("failed-double-bounce-delivered-later", i.wait(lambda: count("carol") == 2 and i.queue_empty(), 15),
      i.logtext()[-1000:])
if count("carol") == 2:
    d = i.mails("carol")[1]
    check("failed-double-bounce-content", b"Return-Path: <#@[]>" in d and b"Final-Recipient: rfc822; ghost@example.org" in d, d[:600])

# A double bounce whose delivery fails permanently (bob's program exits
# 100) stays too, logged at each retry; fixed, it is delivered.
dot = os.path.join(i.users["bob"], ".postie")
with open(dot, "w") as f:
    f.write("|echo refused ; exit 100\n")
os.chown(dot, UID, GID)
i.control("doublebounceto", "bob@example.org")
i.signal(signal.SIGHUP)
time.sleep(0.2)
q = i.inject("ghost@example.org", ["nobody@example.org"], b"Subject: quadruple\n\nx\n")
n0 = i.logtext().count("<bob@example.org>: kept in the queue")
check("refused-double-bounce-kept",
      i.wait(lambda: i.logtext().count("<bob@example.org>: kept in the queue") >= n0 + 2, 15) and not i.queue_empty()
      and "dropping" not in i.logtext(), i.logtext()[-1000:])
os.unlink(dot)
i.signal(signal.SIGALRM)
check("refused-double-bounce-delivered-later", i.wait(lambda: count("bob") >= 1 and i.queue_empty(), 15),
      i.logtext()[-1000:])

# the null sender: no bounce to it; its failure goes to doublebounceto, and
# with control/doublebounceto empty to postmaster: never dropped
before = count("carol")
i.control("doublebounceto", "")
i.signal(signal.SIGHUP)
time.sleep(0.2)
q = i.inject("", ["nobody@example.org"], b"Subject: null2\n\nx\n")
check("null-sender-double-bounce-to-postmaster", i.wait(lambda: count("carol") == before + 1 and i.queue_empty(), 10),
      i.logtext()[-800:])
check("null-sender-never-dropped", "dropping" not in i.logtext(), i.logtext()[-800:])
check("sigterm", i.stop() == 0)
done()
