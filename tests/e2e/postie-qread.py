#!/usr/bin/python3
"""postie-qstat and postie-qread on a live queue (postie-send running):
counts, per-recipient states, next retry; then 100,000 deferred messages
do not slow down a new one, and cost postie-send little memory."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-qread", control={
    "locals": "example.org",
    "retrymin": "300", "retrymax": "3600",
    # a remote domain whose server is down: port 9 on loopback refuses
    "smtproutes": ":127.0.0.1:9\n",
})

def run(p):
    r = subprocess.run([prog(p)], env=i.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()

rc, out, err = run("postie-qstat")
check("qstat-empty", rc == 0 and "messages in queue: 0" in out and "oldest message: none" in out, out + err)

# one message waiting in todo before postie-send runs
qt = i.inject("early@example.org", ["alice@example.org", "far@remote.test"])
rc, out, err = run("postie-qread")
check("qread-todo", rc == 0 and out.startswith(qt + " age ") and "not-yet-picked-up" in out
      and "from <early@example.org>" in out and "pending <far@remote.test>" in out, out + err)
rc, out, err = run("postie-qstat")
check("qstat-todo", "messages in queue: 1" in out and "messages not yet picked up: 1" in out, out)

# bob's Maildir refuses (temporary), alice's works, remote is down
tmpd = os.path.join(i.users["bob"], "Maildir", "tmp")
os.chown(tmpd, 0 if ROOT else os.geteuid(), 0 if ROOT else os.getegid())
os.chmod(tmpd, 0o555)
i.start()
q = i.inject("sender@example.org", ["alice@example.org", "bob@example.org", "far@remote.test"], b"Subject: q\n\n" + b"x" * 1000 + b"\n")
i.wait(lambda: i.logtext().count("deferral") >= 3, 15)
time.sleep(0.3)
rc, out, err = run("postie-qstat")
check("qstat-counts", rc == 0 and "messages in queue: 2" in out and "messages not yet picked up: 0" in out
      and "local recipients pending: 1" in out and "remote recipients pending: 2" in out, out + err)
check("qstat-oldest", ("(%s)" % qt) in out, out)
rc, out, err = run("postie-qread")
lines = {l.split()[0]: l for l in out.splitlines() if l.strip()}
l = lines.get(q, "")
check("qread-line", rc == 0 and ("size %d " % (len(b"Subject: q\n\n") + 1001)) in l and "from <sender@example.org>" in l, out + err)
check("qread-states", "done local <alice@example.org>" in l and "pending local <bob@example.org>" in l
      and "pending remote <far@remote.test>" in l, l)
nr = l.split("next-retry +")[1].split("s")[0] if "next-retry +" in l else ""
check("qread-next-retry", nr.isdigit() and 250 <= int(nr) <= 300, l)
check("qread-todo-picked-up", "done local <alice@example.org>" in lines.get(qt, ""), out)

# 100,000 deferred messages, written as postie-send's own files (next
# retry tomorrow), then a restart and a new message
i.stop()
N = int(os.environ.get("SEND_SCALE_N", "100000"))
t0 = time.time()
start = int(time.time()) - 10
tomorrow = time.time() + 86400
body = b"Subject: deferred\n\nx\n"
info_tmpl = "postie-info-1\n%d\n%%s\nPR\t%%s\t%%s\t\t\t\tremote.test\t\n" % len(body)
for n in range(N):
    ino = 10**12 + n
    qid = "%d.%06d.%d" % (start, n % 1000000, ino)
    b = str(ino % 64)
    p = os.path.join(i.home, "queue", "info", b, qid)
    with open(p, "w") as f:
        f.write(info_tmpl % ("s%d@example.org" % n, "r%d@remote.test" % n, "r%d@remote.test" % n))
    os.utime(p, (tomorrow, tomorrow))
    # no message file: none of these is activated during the test
made = time.time() - t0
i.start()
t1 = time.time()
before = len(i.mails("alice"))
t2 = time.time()
qn = i.inject("sender@example.org", ["alice@example.org"], b"Subject: new among many\n\nx\n")
t3 = time.time()
got = i.wait(lambda: len(i.mails("alice")) == before + 1, 20)
lat = time.time() - t3
check("scale-new-message-delivered", got)
check("scale-new-message-fast", lat < 0.5, "%.3fs" % lat)
rss = 0
try:
    for line in open("/proc/%d/status" % i.proc.pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
except OSError:
    pass
if SAN:
    skip("scale-memory", "memory is meaningless under sanitizers")
else:
    check("scale-memory", 0 < rss < 32 * 1024, "VmRSS %d kB" % rss)
check("scale-deferred-untouched", i.logtext().count("starting delivery") < 20, "deliveries were started for deferred messages")
rc, out, err = run("postie-qstat")
check("scale-qstat", rc == 0 and ("messages in queue: %d" % (N + 2)) in out, out + err)
print("# %d deferred messages (written in %.1fs): new message delivered %.1f ms after postie-queue exited; postie-send VmRSS %d kB"
      % (N, made, lat * 1000, rss))
i.stop()
done()
