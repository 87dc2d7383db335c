#!/usr/bin/python3
"""postie-send's pickups share their directory fsyncs (doc/queue.md,
"Pickup, step by step"): N messages in one queue/todo bucket, picked up
together at start-up and again on one trigger byte, cost fewer fsyncs of
queue/info/B and of queue/mess/B than N each (one each per message
before), are delivered once each, and each message's durable steps keep
their order under strace: its info file fsynced before its rename into
queue/info/B; an fsync of queue/info/B that started after that rename
returned before the message's rename into queue/mess/B; an fsync of
queue/mess/B that started after that rename returned before the file
is truncated."""
import os, re, shutil, signal, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

N = 40
if not os.path.exists("/usr/bin/strace"):
    skip("groupsync", "no strace")
    done()

i = Instance("send-groupsync", users=("alice",), control={"locals": "example.org"})
q = os.path.join(i.home, "queue")
proto = i.inject("bob@example.org", ["alice@example.org"], b"Subject: G\n\ngrouped\n")
sec, usec, ino = proto.split(".")
B = int(ino) % 64
protopath = os.path.join(i.home, "proto")
os.rename(os.path.join(q, "todo", str(B), proto), protopath)


def fill(bucket, first, n, stage):
    """n copies of the prototype queue file in queue/todo/bucket, each
    under a queue id of that bucket, moved in by rename (complete)."""
    ids = []
    os.makedirs(stage, exist_ok=True)
    for k in range(n):
        qid = "%s.%s.%d" % (sec, usec, bucket + 64 * (first + k))
        shutil.copy(protopath, os.path.join(stage, qid))
        os.rename(os.path.join(stage, qid), os.path.join(q, "todo", str(bucket), qid))
        ids.append(qid)
    return ids


def calls(path):
    """strace -f -ttt -T -y lines as (tid, start, end, call, text), the
    unfinished/resumed halves joined."""
    out, pending = [], {}
    for l in open(path):
        m = re.match(r"(\d+)\s+([\d.]+)\s+(.*)$", l.rstrip("\n"))
        if not m:
            continue
        tid, t, rest = int(m.group(1)), float(m.group(2)), m.group(3)
        if rest.endswith("<unfinished ...>"):
            pending[tid] = (t, rest)
            continue
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
        if r and tid in pending:
            t0, first = pending.pop(tid)
            rest = first[:-len("<unfinished ...>")] + r.group(2)
        else:
            t0 = t
        d = re.search(r"<([\d.]+)>$", rest)
        end = t0 + float(d.group(1)) if d else t
        c = re.match(r"(\w+)\(", rest)
        if c:
            out.append((tid, t0, end, c.group(1), rest))
    return out


def check_round(name, ids, trace, since):
    """The directory fsyncs of bucket B in the trace after time since, and
    the order of each message's steps."""
    cs = [c for c in calls(trace) if c[1] >= since]
    dirsyncs = {"info": [], "mess": []}
    infosync, rn_info, rn_mess, trunc = {}, {}, {}, {}
    for tid, t0, end, call, text in cs:
        if call == "fsync" and "= 0" in text:
            m = re.search(r"<([^>]*)/queue/(info|mess)/(\d+)>", text)
            if m and int(m.group(3)) == B:
                dirsyncs[m.group(2)].append((t0, end))
            m = re.search(r"/queue/work/info\.(\S+?)>", text)
            if m:
                infosync[m.group(1)] = end
        elif call == "rename" and "= 0" in text:
            m = re.match(r'rename\("queue/work/info\.([^"]+)", "queue/info/', text)
            if m:
                rn_info[m.group(1)] = t0
            m = re.match(r'rename\("queue/todo/\d+/([^"]+)", "queue/mess/', text)
            if m:
                rn_mess[m.group(1)] = t0
        elif call == "ftruncate" and "= 0" in text:
            m = re.search(r"/queue/mess/\d+/([^>]+)>", text)
            if m:
                trunc[m.group(1)] = t0
    ni, nm = len(dirsyncs["info"]), len(dirsyncs["mess"])
    print("# %s: %d messages of queue/todo/%d picked up with %d fsyncs of queue/info/%d and %d of queue/mess/%d"
          % (name, len(ids), B, ni, B, nm, B))
    check(name + "-info-dir-fsyncs-shared", 0 < ni < len(ids), "%d fsyncs for %d messages" % (ni, len(ids)))
    check(name + "-mess-dir-fsyncs-shared", 0 < nm < len(ids), "%d fsyncs for %d messages" % (nm, len(ids)))
    bad = []
    for qid in ids:
        if not (qid in infosync and qid in rn_info and qid in rn_mess and qid in trunc):
            bad.append("%s: a step is missing from the trace" % qid)
            continue
        if not infosync[qid] <= rn_info[qid]:
            bad.append("%s: renamed into info/ before its fsync returned" % qid)
        if not any(rn_info[qid] < s and e <= rn_mess[qid] for s, e in dirsyncs["info"]):
            bad.append("%s: no fsync of info/%d between its rename there and its move to mess/" % (qid, B))
        if not any(rn_mess[qid] < s and e <= trunc[qid] for s, e in dirsyncs["mess"]):
            bad.append("%s: no fsync of mess/%d between its rename there and its truncation" % (qid, B))
    check(name + "-steps-in-order", not bad, "%d: %r" % (len(bad), bad[:3]))


ids1 = fill(B, 100000, N, os.path.join(i.home, "stage"))
trace = os.path.join(i.home, "strace.out")
sp, logf = strace_start(i, "groupsync", trace, ["-ttt", "-T", "-e", "trace=fsync,rename,ftruncate"])
try:
    ok = i.wait(lambda: len(i.mails("alice")) == N and i.queue_empty(), 60)
    check("startup-delivered-once", ok and len(i.mails("alice")) == N, "%d of %d" % (len(i.mails("alice")), N))
    check_round("startup", ids1, trace, 0)

    # in the loop: N files appear in one bucket, one trigger byte names it
    last = calls(trace)
    since = max(c[2] for c in last) if last else 0
    ids2 = fill(B, 200000, N, os.path.join(i.home, "stage"))
    fd = os.open(os.path.join(q, "trigger"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, bytes([0x80 + B]))
    os.close(fd)
    ok = i.wait(lambda: len(i.mails("alice")) == 2 * N and i.queue_empty(), 60)
    check("trigger-delivered-once", ok and len(i.mails("alice")) == 2 * N, "%d of %d" % (len(i.mails("alice")), 2 * N))
    check_round("trigger", ids2, trace, since)
finally:
    strace_stop(sp, logf)
check("sigterm", sp.returncode == 0, "strace exited %r" % sp.returncode)
done()
