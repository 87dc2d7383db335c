#!/usr/bin/python3
"""postie-send's sync threads (control/syncthreads): with 1 and with 8
threads (and with 4 and control/pickupmax 1), a burst of messages injected as fast as possible to several local
users is delivered exactly once each, with the right marks in the info
files (D for delivered, F for an unknown user, after its bounce; P for a
remote recipient still deferred), and the queue empties of everything
finished. An invalid syncthreads is refused or falls back as documented.
Under strace, fsync and fdatasync run only in the threads, never in the
main thread (which would then wait on the disk)."""
import os, re, signal, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

N = int(os.environ.get("SEND_SYNC_N", "300"))
NB = 40
users = ["alice", "bob", "carol"]
tagre = re.compile(rb"X-Tag: (\S+)")


def info_marks(home):
    """{queue id: {original address: state}} from every info file."""
    out = {}
    for qid, path in queue_files(home, "info"):
        with open(path, "rb") as f:
            lines = f.read().decode().split("\n")
        m = {}
        for l in lines[3:]:
            if l:
                fields = l[3:].split("\t")
                m[fields[1]] = l[0]
        out[qid] = m
    return out


def burst(threads, pickupmax=None):
    name = "send-sync-%d" % threads + ("-pickupmax%d" % pickupmax if pickupmax else "")
    control = {"locals": "example.org", "syncthreads": str(threads), "smtproutes": "far.test:127.0.0.1:9\n"}
    if pickupmax:
        control["pickupmax"] = str(pickupmax)
    i = Instance(name, control=control)
    i.start()
    check(name + "-started", i.proc.poll() is None and "status: ready" in i.logtext(), i.logtext()[-300:])
    # A: every local user, all delivered, nothing left
    ids = {}
    def inj(lo, hi):
        for n in range(lo, hi):
            tag = "a-%s-%04d" % (name, n)
            ids[tag] = i.inject("sender@far.test", ["%s@example.org" % u for u in users],
                                ("Subject: %s\nX-Tag: %s\n\nbody\n" % (tag, tag)).encode())
    ths = [threading.Thread(target=inj, args=(k * N // 3, (k + 1) * N // 3)) for k in range(3)]
    for t in ths:
        t.start()
    # B: alice (delivered), nosuch (unknown: F after its bounce record),
    # far.test (deferred: stays P); the DSNs go to carol
    bids = []
    for n in range(NB):
        tag = "b-%s-%04d" % (name, n)
        bids.append(i.inject("carol@example.org", ["alice@example.org", "nosuch@example.org", "x@far.test"],
                             ("Subject: %s\nX-Tag: %s\n\nbody\n" % (tag, tag)).encode()))
    for t in ths:
        t.join()
    want_alice = N + NB

    def settled():
        if len(i.mails("bob")) < N or len(i.mails("alice")) < want_alice:
            return False
        if queue_files(i.home, "todo") or queue_files(i.home, "bounce"):
            return False
        return len(queue_files(i.home, "info")) == NB and len(queue_files(i.home, "mess")) == NB \
            and i.logtext().count("delivery ") >= 0
    ok = i.wait(settled, 120)
    # let the passes of B end (deferral recorded) before looking at marks
    i.wait(lambda: i.logtext().count("deferral:") >= NB, 30)
    time.sleep(0.3)
    check(name + "-settled", ok, "alice %d bob %d info %d" % (len(i.mails("alice")), len(i.mails("bob")), len(queue_files(i.home, "info"))))
    for u in users:
        got = {}
        for msg in i.mails(u):
            if b"multipart/report" in msg[:4000]:
                continue
            m = tagre.search(msg)
            if m:
                got[m.group(1).decode()] = got.get(m.group(1).decode(), 0) + 1
        a = set(ids)
        missing = a - set(got)
        dups = [k for k, v in got.items() if v > 1]
        check("%s-%s-each-once" % (name, u), not missing and not dups,
              "%d missing %r, %d twice %r" % (len(missing), sorted(missing)[:3], len(dups), dups[:3]))
    dsns = [m for m in i.mails("carol") if b"multipart/report" in m[:4000]]
    check(name + "-bounces-once", len(dsns) == NB, "%d DSNs for %d messages" % (len(dsns), NB))
    marks = info_marks(i.home)
    bad = [(q, marks.get(q)) for q in bids
           if marks.get(q) != {"alice@example.org": "D", "nosuch@example.org": "F", "x@far.test": "P"}]
    check(name + "-marks", not bad, "%d wrong, e.g. %r" % (len(bad), bad[:2]))
    check(name + "-finished-removed", set(q for q, _ in queue_files(i.home, "info")) == set(bids)
          and set(q for q, _ in queue_files(i.home, "mess")) == set(bids))
    check(name + "-work-empty", not os.listdir(os.path.join(i.home, "queue", "work")))
    check(name + "-sigterm", i.stop() == 0)


burst(1)
burst(8)
# one pickup in flight at a time: every bucket waits its turn, nothing is lost
burst(4, pickupmax=1)

# invalid values: not a number is refused at start-up (exit 111, the file
# named); 0 and more than 64 fall back to 1 and 64 with a warning
i = Instance("send-sync-bad", control={"locals": "example.org", "syncthreads": "lots"})
p = i.start()
try:
    rc = p.wait(timeout=10)
except subprocess.TimeoutExpired:
    rc = None
check("syncthreads-garbage-refused", rc == 111 and "control/syncthreads" in i.logtext(), "rc %r: %s" % (rc, i.logtext()[-300:]))
if rc is None:
    i.stop()
for v, use in (("0", "1"), ("1000", "64")):
    i = Instance("send-sync-%s" % v, control={"locals": "example.org", "syncthreads": v})
    i.start()
    check("syncthreads-%s-falls-back" % v, i.proc.poll() is None
          and ("control/syncthreads is %s, not 1 to 64: using %s" % (v, use)) in i.logtext(), i.logtext()[-300:])
    q = i.inject("sender@far.test", ["alice@example.org"])
    check("syncthreads-%s-delivers" % v, i.wait(lambda: len(i.mails("alice")) == 1 and i.queue_empty(), 20))
    check("syncthreads-%s-sigterm" % v, i.stop() == 0)

# strace: the main thread (pid == tid) makes no fsync/fdatasync
if not os.path.exists("/usr/bin/strace"):
    skip("sync-only-in-threads", "no strace")
else:
    i = Instance("send-sync-strace", control={"locals": "example.org", "syncthreads": "2"})
    out = os.path.join(i.home, "strace.out")
    logf = open(i.log, "ab")
    sp = subprocess.Popen(["strace", "-f", "-qq", "-o", out, "-e", "trace=fsync,fdatasync", prog("postie-send")],
                          stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=i.env(), start_new_session=True)
    i.wait(lambda: "status: ready" in i.logtext() or sp.poll() is not None, 30)
    if sp.poll() is not None or "status: ready" not in i.logtext():
        skip("sync-only-in-threads", "strace cannot run here: " + i.logtext()[-200:])
    else:
        for n in range(20):
            i.inject("sender@far.test", ["alice@example.org", "bob@example.org"])
        ok = i.wait(lambda: len(i.mails("bob")) == 20 and i.queue_empty(), 60)
        check("strace-delivered", ok)
        pid = None
        for line in open("/proc/%d/task/%d/children" % (sp.pid, sp.pid)).read().split():
            pid = int(line)
        tids = set(int(t) for t in os.listdir("/proc/%d/task" % pid)) - {pid}
        check("strace-threads", len(tids) == 2, "%r" % tids)
        os.kill(pid, signal.SIGTERM)
        sp.wait(timeout=30)
        main_calls, thread_calls = [], []
        for l in open(out):
            m = re.match(r"(\d+)\s+(fsync|fdatasync)\(", l)
            if m:
                if int(m.group(1)) == pid:
                    main_calls.append(l.strip())
                elif int(m.group(1)) in tids:
                    thread_calls.append(l.strip())
        check("sync-only-in-threads", not main_calls and len(thread_calls) >= 20 * 4,
              "main thread: %d calls, e.g. %r; threads: %d" % (len(main_calls), main_calls[:2], len(thread_calls)))
    logf.close()

# strace: a delivery slot is not reused before the fdatasync of the mark
# its result wrote has completed (with concurrencylocal 1 and one local
# recipient per message, delivery n starts only after n mark fdatasyncs
# have returned): so a crash repeats at most the deliveries in flight.
# Pickups use fsync, marks fdatasync: only marks are counted.
if not os.path.exists("/usr/bin/strace"):
    skip("slot-held-until-mark-synced", "no strace")
else:
    M = 10
    i = Instance("send-sync-slot", control={"locals": "example.org", "syncthreads": "1", "concurrencylocal": "1"})
    out = os.path.join(i.home, "strace.out")
    logf = open(i.log, "ab")
    sp = subprocess.Popen(["strace", "-f", "-qq", "-s", "100", "-o", out, "-e", "trace=fdatasync,write", prog("postie-send")],
                          stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=i.env(), start_new_session=True)
    i.wait(lambda: "status: ready" in i.logtext() or sp.poll() is not None, 30)
    if sp.poll() is not None or "status: ready" not in i.logtext():
        skip("slot-held-until-mark-synced", "strace cannot run here: " + i.logtext()[-200:])
    else:
        pid = None
        for line in open("/proc/%d/task/%d/children" % (sp.pid, sp.pid)).read().split():
            pid = int(line)
        tids = set(int(t) for t in os.listdir("/proc/%d/task" % pid))
        for n in range(M):
            i.inject("sender@far.test", ["alice@example.org"])
        ok = i.wait(lambda: len(i.mails("alice")) == M and i.queue_empty(), 60)
        check("slot-delivered", ok)
        os.kill(pid, signal.SIGTERM)
        sp.wait(timeout=30)
        synced, starts, early = 0, 0, []
        for l in open(out):
            m = re.match(r"(\d+)\s+(.*)", l)
            if not m or int(m.group(1)) not in tids:
                continue
            call = m.group(2)
            if re.match(r"(fdatasync\(\d+\)|<\.\.\. fdatasync resumed>.*\))\s+= 0", call):
                synced += 1
            elif call.startswith('write(2, "postie-send: starting delivery'):
                if synced < starts:
                    early.append("start %d after %d mark syncs" % (starts, synced))
                starts += 1
        check("slot-held-until-mark-synced", starts == M and synced >= M and not early,
              "%d starts, %d mark syncs: %r" % (starts, synced, early[:3]))
    logf.close()
done()
