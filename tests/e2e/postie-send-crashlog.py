#!/usr/bin/python3
"""kill -9 of postie-send while it is blocked writing its log: its stderr
is a small pipe read slowly, so postie-send spends most of its time in a
log write, and each kill catches it between two lines. After each kill,
every recipient whose delivery the log calls a success is marked D in
its info file (or its message is gone): the success line is written
after the mark, never before (doc/queue.md, "A recipient's result").
After the last restart every message is delivered to every recipient,
and nothing twice except deliveries in flight at one of the kills (a
"starting delivery" line and no result line after it). Each message has
two remote recipients, delivered in one session: their result lines and
the session's "message:" line follow each other. No ptrace: this is the
window a plain kill -9 finds (postie-send-logorder.py checks the order
itself under strace)."""
import fcntl, os, random, re, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("send-crashlog", "no /usr/sbin/smtp-sink (package postfix)")
    done()
N = int(os.environ.get("SEND_CRASHLOG_N", "300"))
KILLS = 24
F_SETPIPE_SZ = 1031
base = tmpdir("send-crashlog")
sink = Sink(os.path.join(base, "sink"))
i = Instance("send-crashlog", control={"locals": "example.org", "smtproutes": "ok.test:127.0.0.1:%d\n" % sink.port})
users = ["alice", "bob", "carol"]
rcpts = ["%s@example.org" % u for u in users] + ["far@ok.test", "near@ok.test"]
ids = {}
for n in range(N):
    tag = "crashlog-%04d" % n
    ids[tag] = i.inject("sender@example.org", rcpts, ("Subject: %s\nX-Tag: %s\n\nbody %d\n" % (tag, tag, n)).encode())


def run_and_kill():
    """postie-send with its log in a one-page pipe, read 128 bytes every
    2 ms, killed while it delivers; returns what it logged."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    except OSError:
        pass
    out = []
    p = subprocess.Popen([prog("postie-send")], stdin=subprocess.DEVNULL, stdout=w, stderr=w,
                         env=i.env(), start_new_session=True)
    os.close(w)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            b = os.read(r, 128)
            if not b:
                return
            out.append(b)
            time.sleep(0.002)
    t = threading.Thread(target=reader)
    t.start()
    # while deliveries run: once it is ready and has logged a success
    # (a slow build's start-up may take a while), a little later
    def delivering():
        text = b"".join(out)
        return b"status: ready" in text and b": success: " in text.split(b"status: ready", 1)[1]
    end = time.time() + 60
    while time.time() < end and p.poll() is None and not delivering():
        time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.5))
    p.kill()
    p.wait()
    stop.set()
    t.join()
    # everything postie-send wrote before it died is in the pipe
    os.set_blocking(r, False)
    while True:
        try:
            b = os.read(r, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        out.append(b)
    os.close(r)
    return b"".join(out).decode("utf-8", "replace")


unmarked, inflight = [], set()
kills = nsucc = 0
while kills < KILLS and not i.queue_empty():
    log = run_and_kill()
    kills += 1
    inflight |= in_flight(log)[0]
    nsucc += log.count(": success: ")
    unmarked += [(kills,) + u for u in unmarked_successes(i.home, log)]
check("kills-during-deliveries", kills >= 4 and nsucc > 0, "%d kills, %d successes logged" % (kills, nsucc))
check("kill9-logged-success-marked", not unmarked, "%d in %d kills: %r" % (len(unmarked), kills, unmarked[:3]))

i.start()
check("queue-drains", i.wait(i.queue_empty, 180), "%d in info" % len(queue_files(i.home, "info")))
got = delivered(i, users, sink, re.compile(rb"X-Tag: (crashlog-\d+)"), ids)
dups = check_crash_deliveries(got, ids, rcpts, inflight)
print("# %d kills, %d in flight at one of them, %d delivered twice" % (kills, len(inflight), len(dups)))
check("sigterm", i.stop() == 0)
sink.stop()
done()
