#!/usr/bin/python3
"""postie-lspawn unmaps nothing from one delivery to the next
(spawn_loop.c keeps its report blocks): a munmap in a process that has
run on both CPUs is a TLB shootdown, which costs a hypercall on a
virtual machine (doc/bench.md, profile notes). Freed after each report,
they emptied a group of musl's malloc, which unmapped it: 15 to 29
munmap calls over these 40 deliveries (sent ten at a time). Under
strace; a stand-in postie-local prints its result. Not for a glibc
build (make SAN=1), whose malloc is another: skipped there."""

import os, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import lspawn_report, lspawn_request, lspawn_standin, spawner_instance

exe = prog("postie-lspawn")
skip_unless_static_musl("lspawn-munmap", exe)
if not shutil.which("strace"):
    skip("lspawn-munmap", "strace not installed")
    done()

base, inst, home = spawner_instance("lspawn-munmap")
# a report of a real delivery's length: the size class that churned
bindir = lspawn_standin(base, inst, "delivered to maildir Maildir/new/1796453148.M258728P12542Q1.example.test,S=233,W=242")
trace = os.path.join(base, "strace.out")
env = env_for(inst)
env["PATH"] = bindir + ":/usr/bin:/bin"
p = subprocess.Popen(["strace", "-qq", "-e", "trace=munmap", "-o", trace, exe, "1000", "10"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=inst, env=env)
reports = []
for b in range(4):  # ten at a time, as postie-send sends them under load
    p.stdin.write(lspawn_request(b"bob") * 10)
    p.stdin.flush()
    reports += [lspawn_report(p) for k in range(10)]
time.sleep(0.5)
with open(trace) as f:  # before fd 0 ends: the loop's end frees what it allocated
    calls = [l for l in f.read().splitlines() if l.startswith("munmap(")]
p.stdin.close()
p.stdout.read()
p.wait(timeout=60)
ok = [r for r in reports if r.startswith(b"K")]
check("lspawn-munmap-delivered", p.returncode == 0 and len(ok) == 40, "exit %r, %d reports with K" % (p.returncode, len(ok)))
print("# postie-lspawn: munmap calls over 40 deliveries: %d" % len(calls))
check("lspawn-munmap-none", not calls, "%d munmap calls: %r" % (len(calls), calls[:3]))
done()
