#!/usr/bin/python3
"""The trigger's bytes (doc/queue.md, step 7): postie-queue writes 0x80 + the
message's bucket; postie-send then reads that bucket of queue/todo/ only,
and every bucket for any other byte or for PIPE_BUF bytes at once."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *

i = Instance("send-trigger", control={"locals": "example.org", "me": "mx.example.org"})
trigger = os.path.join(i.home, "queue", "trigger")

# postie-queue's byte, with nobody but us listening
tfd = os.open(trigger, os.O_RDONLY | os.O_NONBLOCK)
qid = i.inject("a@example.org", ["alice@example.org"])
files = queue_files(i.home, "todo")
bucket = int(os.path.basename(os.path.dirname(files[0][1]))) if files else -1
got = os.read(tfd, 100)
os.close(tfd)
check("queue-writes-bucket", len(files) == 1 and got == bytes([0x80 + bucket]), "%r, bucket %d" % (got, bucket))
i.start()
check("startup-pickup", i.wait(lambda: len(i.mails("alice")) == 1), i.logtext()[-500:])

# A message that arrives in queue/todo/ without its byte: queued in a second
# queue (nobody listens there), then moved into ours (same inode, same id).
other = mkinstance(tmpdir("send-trigger-other"))
def stray():
    rc, _ = queue_inject(other, b"Subject: stray\n\nx\n", envelope("a@example.org", ["alice@example.org"]))
    (n, p), = queue_files(other, "todo")
    b = int(os.path.basename(os.path.dirname(p)))
    os.rename(p, os.path.join(i.home, "queue", "todo", str(b), n))
    return rc, b

def poke(data):
    fd = os.open(trigger, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, data)
    os.close(fd)

rc, b = stray()
poke(bytes([0x80 + (b + 1) % 64]))  # names another bucket: ours is not read
time.sleep(0.5)
check("other-bucket-not-read", rc == 0 and len(queue_files(i.home, "todo")) == 1 and len(i.mails("alice")) == 1)
poke(bytes([0x80 + b]))
check("bucket-byte-picks-up", i.wait(lambda: len(i.mails("alice")) == 2), i.logtext()[-500:])

rc, b = stray()
poke(b"\n")  # a shell script's echo: every bucket
check("other-byte-reads-all", rc == 0 and i.wait(lambda: len(i.mails("alice")) == 3), i.logtext()[-500:])

rc, b = stray()
poke(bytes([0x80 + (b + 1) % 64]) * 4096)  # as full as a pipe may be: every bucket
check("full-pipe-reads-all", rc == 0 and i.wait(lambda: len(i.mails("alice")) == 4), i.logtext()[-500:])

check("clean-stop", i.stop() == 0)
check("queue-empty", i.queue_empty())
done()
