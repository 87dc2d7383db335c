#!/usr/bin/python3
"""postie-local's page faults per Maildir delivery (doc/bench.md, profile
notes: ~12 us each on a virtual machine). In the static musl build a
delivery of a 2 KiB message costs at most 12 minor faults (the child's
own: posix_spawn, so that none of the test's pages are copied into it);
it took 19 to 21 while it read the clock through the vDSO and the message
through a 64 KiB stack buffer, 16 while a control file was read into a
block of over 4 KiB (a mapping of its own with musl's malloc), 13 while
its three 64 KiB output buffers sat between .data and the small
variables (now they are POSTIE_LARGE, after them all). A count, not a timing: it does not depend
on the load. Not for a glibc build (make SAN=1): skipped there."""
import os, resource, statistics, subprocess, sys  # resource: os.wait4 needs it, imported before the ids drop
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from localtest import *

exe = prog("postie-local")
skip_unless_static_musl("local-faults", exe)

base, inst, home = spawner_instance("local-faults")
msgfile = os.path.join(base, "msg")
msg = b"Subject: faults\n\n" + (b"x" * 76 + b"\n") * 26
with open(msgfile, "wb") as f:
    f.write(msg)
env = env_for(inst)


def deliveries(n):
    """n deliveries as bob (postie-local runs as the recipient): from a
    child that dropped to bob's ids, each started with posix_spawn; their
    (exit code, minor faults) back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(GID, GID, GID)
            os.setresuid(UID, UID, UID)
            res = []
            for k in range(n):
                out = os.open(os.devnull, os.O_WRONLY)
                c = os.posix_spawn(exe, [exe, "bob", home, "bob", "", "example.org", "alice@example.com", "./Maildir/"],
                                   env, file_actions=[(os.POSIX_SPAWN_OPEN, 0, msgfile, os.O_RDONLY, 0),
                                                      (os.POSIX_SPAWN_DUP2, out, 1)])
                os.close(out)
                _, st, ru = os.wait4(c, 0)
                res.append("%d %d" % (os.waitstatus_to_exitcode(st), ru.ru_minflt))
            os.write(w, "\n".join(res).encode())
        except BaseException as e:
            os.write(2, ("deliveries: %r\n" % e).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.close(r)
    os.waitpid(pid, 0)
    return [tuple(int(x) for x in l.split()) for l in data.decode().splitlines()]


res = deliveries(30)
bad = [rc for rc, f in res if rc != 0]
faults = [f for rc, f in res]
got = maildir_files(os.path.join(home, "Maildir"))
check("local-faults-delivered", len(res) == 30 and not bad and len(got) == 30 and all(read(p).endswith(msg) for p in got),
      "%d delivered, exit codes %r" % (len(got), bad[:3]))
med = statistics.median(faults or [0])
print("# postie-local: minor page faults per delivery: median %s, min %d, max %d" % (med, min(faults), max(faults)))
check("local-faults-at-most-12", med <= 12, "median %s over 30 runs: %r" % (med, faults))
done()
