#!/usr/bin/python3
"""postie-queue under attack (review): what an injector or a stale file
can do to it. A symlink planted at its tmp/ name is never followed; fd 1
not readable is a clean temporary failure; an envelope with trailing junk
or a missing final NUL, or a message cut short, queues nothing."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

home = mkinstance(tmpdir("review-queue"))
target = os.path.join(home, "target")
ENV = envelope("a@x.example", ["b@y.example"])


def tmp_empty():
    return os.listdir(os.path.join(home, "queue", "tmp")) == []


def run_sh(script, msg, env_bytes):
    """sh -c script (which ends by exec'ing postie-queue, so it keeps the
    shell's pid), message on fd 0, envelope on fd 1."""
    mr, mw = os.pipe()
    er, ew = os.pipe()
    p = subprocess.Popen(["sh", "-c", script], stdin=mr, stdout=er, stderr=subprocess.PIPE,
                         env=env_for(home, Q=prog("postie-queue")), cwd=home)
    os.close(mr)
    os.close(er)
    writeall(mw, msg)
    os.close(mw)
    try:
        writeall(ew, env_bytes)
    except BrokenPipeError:
        pass
    os.close(ew)
    err = p.stderr.read()
    return p.wait(30), err


# --- a symlink (dangling, or to a file) at tmp/PID: removed, never followed.
for kind in ("dangling", "file"):
    for _, p in queue_files(home):
        os.unlink(p)
    if os.path.lexists(target):
        os.unlink(target)
    if kind == "file":
        with open(target, "w") as f:
            f.write("precious\n")
    rc, err = run_sh('ln -s "%s" queue/tmp/$$ && exec "$Q"' % target, b"Subject: s\n\nbody\n", ENV)
    q = queue_files(home)
    ok = rc == 0 and len(q) == 1 and open(q[0][1], "rb").read().startswith(b"Subject: s\n")
    if kind == "file":
        ok = ok and open(target).read() == "precious\n"
    else:
        ok = ok and not os.path.lexists(target)
    check("symlink-at-tmp-name-" + kind, ok and tmp_empty(), "rc %d %r %r" % (rc, err, q))

# --- a stale regular file at tmp/PID (a dead process's): replaced.
for _, p in queue_files(home):
    os.unlink(p)
rc, err = run_sh('echo stale > queue/tmp/$$ && exec "$Q"', b"Subject: t\n\nbody\n", ENV)
q = queue_files(home)
check("stale-tmp-replaced", rc == 0 and len(q) == 1 and b"stale" not in open(q[0][1], "rb").read() and tmp_empty(), "rc %d %r" % (rc, err))

# --- fd 1 not readable (a write-only pipe, closed): 54, nothing left.
for _, p in queue_files(home):
    os.unlink(p)
for name, script in (("write-only", 'printf "x\\n" | "$Q" | cat >/dev/null; echo "rc=${PIPESTATUS[1]}" >&2'),
                     ("closed", 'printf "x\\n" | "$Q" 1>&-; echo "rc=${PIPESTATUS[1]}" >&2')):
    r = subprocess.run(["bash", "-c", script], env=env_for(home, Q=prog("postie-queue")),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check("fd1-" + name, b"rc=54" in r.stderr and not queue_files(home) and tmp_empty(), repr(r.stderr))

# --- envelopes that are not quite right: nothing queued, tmp/ clean.
for name, msg, env, want in (
        ("no-final-nul", b"x\n", b"Fa@x.example\0Tb@y.example\0", 91),
        ("no-recipient", b"x\n", b"Fa@x.example\0\0", 91),
        ("empty-recipient", b"x\n", b"Fa@x.example\0T\0\0", 91),
        ("cr-in-address", b"x\n", b"Fa@x.example\0Tb\r@y.example\0\0", 91),
        ("address-1001", b"x\n", b"Fa@x.example\0T" + b"b" * 1001 + b"\0\0", 11),
        ("no-F", b"x\n", b"Tb@y.example\0\0", 91),
        ("empty", b"x\n", b"", 91)):
    rc, err = queue_inject(home, msg, env)
    check("envelope-" + name, rc == want and not queue_files(home) and tmp_empty(), "rc %d, files %r" % (rc, queue_files(home)))
# Trailing junk after the final NUL is not read: the envelope stored is exact.
rc, err = queue_inject(home, b"x\n", ENV + b"Tjunk@z.example\0\0")
q = queue_files(home)
ok = rc == 0 and len(q) == 1 and parse_queue_file(open(q[0][1], "rb").read())[2] == ["b@y.example"]
check("envelope-trailing-junk-ignored", ok, "rc %d" % rc)

done()
