#!/usr/bin/python3
"""kill -9 of postie-send during a stream of 500 messages to 3 local users
and a remote server (smtp-sink): every recipient whose delivery the log
calls a success is marked D in its info file at the kill (or its message
is gone); after a restart every message is delivered to every recipient,
and nothing twice except deliveries that were in flight at the kill
(a "starting delivery" line and no result line after it). Reports that
count."""
import os, re, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

if not os.path.exists("/usr/sbin/smtp-sink"):
    skip("send-crash", "no /usr/sbin/smtp-sink (package postfix)")
    done()
N = int(os.environ.get("SEND_CRASH_N", "500"))
base = tmpdir("send-crash")
sink = Sink(os.path.join(base, "sink"))
i = Instance("send-crash", control={"locals": "example.org", "smtproutes": "ok.test:127.0.0.1:%d\n" % sink.port})
users = ["alice", "bob", "carol"]
rcpts = ["%s@example.org" % u for u in users] + ["far@ok.test"]
i.start()

ids = {}
inject_errors = []
def injector():
    for n in range(N):
        tag = "crash-%04d" % n
        try:
            ids[tag] = i.inject("sender@example.org", rcpts, ("Subject: %s\nX-Tag: %s\n\nbody %d\n" % (tag, tag, n)).encode())
        except Exception as e:
            inject_errors.append(str(e))
th = threading.Thread(target=injector)
th.start()

def successes():
    return i.logtext().count(": success: ")
# kill somewhere in the middle of the stream, while deliveries run
i.wait(lambda: successes() >= N * 4 // 3, 60)
i.kill()
killlog = i.logtext()
# a success in the log is a mark written: kill -9 cannot lose it
unmarked = unmarked_successes(i.home, killlog)
check("kill9-logged-success-marked", not unmarked, "%d: %r" % (len(unmarked), unmarked[:3]))
i.start()
th.join()
check("all-injected", not inject_errors and len(ids) == N, "%d errors: %r" % (len(inject_errors), inject_errors[:3]))
check("queue-drains", i.wait(i.queue_empty, 120), "%d in info" % len(queue_files(i.home, "info")))

# deliveries in flight at the kill: a start, and no result after it
inflight, finished = in_flight(killlog)
got = delivered(i, users, sink, re.compile(rb"X-Tag: (crash-\d+)"), ids)
dups = check_crash_deliveries(got, ids, rcpts, inflight)
check("kill9-no-triple", all(v <= 2 for v in got.values()))
check("kill9-tmp-and-work-clean", not os.listdir(os.path.join(i.home, "queue", "work")))
slots = [(m.group(1), int(m.group(2))) for m in re.finditer(r"starting delivery \S+ ([LR])(\d+):", i.logtext())]
lmax = max([n for k, n in slots if k == "L"] or [-1])
rmax = max([n for k, n in slots if k == "R"] or [-1])
check("concurrency-limits-kept", lmax < 10 and rmax < 20, "L%d R%d" % (lmax, rmax))
check("deliveries-run-in-parallel", lmax >= 1, "L%d" % lmax)
print("# kill -9 after %d of %d deliveries: %d in flight at the kill, %d delivered twice"
      % (len(finished), N * len(rcpts), len(inflight), len(dups)))
check("sigterm", i.stop() == 0)
sink.stop()
done()
