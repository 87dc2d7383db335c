#!/usr/bin/python3
"""postie-lspawn unmaps nothing from one delivery to the next
(spawn_loop.c keeps its report blocks): a munmap in a process that has
run on both CPUs is a TLB shootdown, which costs a hypercall on a
virtual machine (doc/bench.md, profile notes). Freed after each report,
they emptied a group of musl's malloc, which unmapped it: 15 to 28
munmap calls over these 40 deliveries (sent ten at a time). Under
strace; a stand-in postie-local prints its result. Not for a glibc
build (make SAN=1), whose malloc is another: skipped there."""

import os, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import open_path, spawner_instance

exe = prog("postie-lspawn")
skip_unless_static_musl("lspawn-munmap", exe)
if not shutil.which("strace"):
    skip("lspawn-munmap", "strace not installed")
    done()

base, inst, home = spawner_instance("lspawn-munmap")
bindir = os.path.join(base, "bin")
os.makedirs(bindir, exist_ok=True)
with open(os.path.join(bindir, "postie-local"), "w") as f:
    f.write("#!/bin/sh\necho delivered to maildir Maildir/new/1796453148.M258728P12542Q1.example.test,S=233,W=242\n")
os.chmod(os.path.join(bindir, "postie-local"), 0o755)
open_path(bindir)
open_path(inst)
trace = os.path.join(base, "strace.out")


def req(k):
    p = b"".join(x + b"\0" for x in (str(k).encode(), b"queue/mess/0/100", b"bob", b"bob", b"", b"example.org", b"a@example.com"))
    return str(len(p)).encode() + b":" + p + b","


def frame(f):
    """One report (LEN:PAYLOAD,) from f, or None."""
    n = b""
    while not n.endswith(b":"):
        c = f.read(1)
        if not c:
            return None
        n += c
    return f.read(int(n[:-1]) + 1)[:-1]


env = env_for(inst)
env["PATH"] = bindir + ":/usr/bin:/bin"
p = subprocess.Popen(["strace", "-qq", "-e", "trace=munmap", "-o", trace, exe, "1000", "10"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=inst, env=env)
reports = []
for b in range(4):  # ten at a time, as postie-send sends them under load
    p.stdin.write(b"".join(req(10 * b + k) for k in range(10)))
    p.stdin.flush()
    reports += [frame(p.stdout) for k in range(10)]
time.sleep(0.5)
with open(trace) as f:  # before fd 0 ends: the loop's end frees what it allocated
    calls = [l for l in f.read().splitlines() if l.startswith("munmap(")]
p.stdin.close()
p.stdout.read()
p.wait(timeout=60)
ok = [r for r in reports if r and r.split(b"\0")[1:2] and r.split(b"\0")[1].startswith(b"K")]
check("lspawn-munmap-delivered", p.returncode == 0 and len(ok) == 40, "exit %r, %d reports with K" % (p.returncode, len(ok)))
print("# postie-lspawn: munmap calls over 40 deliveries: %d" % len(calls))
check("lspawn-munmap-none", not calls, "%d munmap calls: %r" % (len(calls), calls[:3]))
done()
