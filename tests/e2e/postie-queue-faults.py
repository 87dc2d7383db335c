#!/usr/bin/python3
"""postie-queue's page faults per message (doc/bench.md, profile notes:
a page fault costs ~12 us on a virtual machine, about as much as ten
system calls). In the static musl build, queuing a 2 KiB message with
control/databytes set costs at most 9 minor faults (the child's own,
started with posix_spawn so that none of the test's pages are copied
into it): it took 16 while control_readulong set malloc up, the clock
was read through the vDSO and fsync_parent put a PATH_MAX buffer on the
stack, 10 while the 64 KiB message buffer and a 4 KiB envelope block
sat between .data and the C library's variables (now the buffer is
POSTIE_LARGE, after them all, and the block 1 KiB). Not a timing test: the count does not depend on the load. A
glibc build (make SAN=1) has other start-up costs: skipped there."""
import os, re, statistics, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *


exe = prog("postie-queue")
skip_unless_static_musl("queue-faults", exe)

home = mkinstance(tmpdir("queue-faults"), {"databytes": "20000000"})
env = env_for(home)
msg = b"Subject: faults\n\n" + b"x" * 76 + b"\n"
msg = msg * (2048 // len(msg))
faults = []
for k in range(30):
    mr, mw = os.pipe()
    er, ew = os.pipe()
    pid = os.posix_spawn(exe, [exe], env, file_actions=[
        (os.POSIX_SPAWN_DUP2, mr, 0), (os.POSIX_SPAWN_DUP2, er, 1),
        (os.POSIX_SPAWN_CLOSE, mw), (os.POSIX_SPAWN_CLOSE, ew)])
    os.close(mr); os.close(er)
    os.write(mw, msg); os.close(mw)
    os.write(ew, b"Fa@example.org\0Tb@example.org\0\0"); os.close(ew)
    _, st, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(st) != 0:
        check("queue-faults-queued", False, "postie-queue exited %d" % os.waitstatus_to_exitcode(st))
        done()
    faults.append(ru.ru_minflt)
queued = sum(len(os.listdir(os.path.join(home, "queue", "todo", d))) for d in os.listdir(os.path.join(home, "queue", "todo")))
check("queue-faults-queued", queued == 30, "%d queued" % queued)
med = statistics.median(faults)
print("# postie-queue: minor page faults per message: median %s, min %d, max %d" % (med, min(faults), max(faults)))
check("queue-faults-at-most-9", med <= 9, "median %s over 30 runs: %r" % (med, faults))
done()
