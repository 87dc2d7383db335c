#!/usr/bin/python3
"""postie-tlsd -r, what a clear-text session costs it (doc/postie-tlsd.md,
"What a session costs"): the program gets exactly fds 0, 1, 2 and the
three UCSPI-TLS descriptors (none of postie-tlsd's own ends, nor the
certificate's or key's), with SSLCTLFD, SSLREADFD and SSLWRITEFD naming
them; postie-tlsd itself, before the request, takes no heap memory (no
brk or mmap: first-touched pages are page faults) and makes fewer than
45 system calls in all."""
import os, re, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tlstest import make_cert

if not shutil.which("strace"):
    skip("tlsd-cost", "strace not installed")
    done()

home = tmpdir("tlsd-cost")
make_cert(home)
trace = os.path.join(home, "strace.out")
SHOW = ["/bin/sh", "-c", 'echo "vars $SSLCTLFD $SSLREADFD $SSLWRITEFD"; echo fds; ls /proc/$$/fd']
p = subprocess.run(["strace", "-f", "-qq", "-o", trace, prog("postie-tlsd"), "-r"] + SHOW,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                   env=env_for(home, TCPREMOTEIP="127.0.0.1"))
out = p.stdout.decode()
check("exit-0", p.returncode == 0, p.stderr.decode())
fds = out.split("fds\n", 1)[1].split() if "fds\n" in out else []
vars_ = out.split("vars ", 1)[1].split("\n")[0].split() if "vars " in out else []
check("program-fds", sorted(fds, key=int)[:3] == ["0", "1", "2"] and len(vars_) == 3
      and sorted(fds, key=int)[3:] == sorted(vars_, key=int), out)
lines = open(trace).read().splitlines()
tlsd = lines[0].split()[0] if lines else ""
# postie-tlsd's own calls up to the program's exec (vfork child included:
# it shares the memory), then its own after.
# A call strace had to split ("<unfinished ...>", then "<... resumed>",
# when another process's call came between) is one call; a signal is none.
own = [l for l in lines if l.split()[0] == tlsd and "resumed>" not in l and " --- SIG" not in l]
upto = []
for l in lines:
    if "execve(" in l and "postie-tlsd" not in l:
        break
    upto.append(l)
# The counts are the default build's (static musl): a glibc build (make
# SAN=1, LIBC=glibc) has a dynamic loader, and ASan its own heap.
if re.search(r"-(san|glibc)$", os.path.basename(os.path.normpath(BUILD))):
    for n in ("no-heap-before-request", "few-system-calls"):
        skip(n, "a glibc build (%s)" % BUILD)
else:
    heap = [l for l in upto if "brk(" in l or ("mmap(" in l and "MAP_ANONYMOUS" in l)]
    check("no-heap-before-request", not heap, "\n".join(heap))
    check("few-system-calls", len(own) < 45, "%d calls:\n%s" % (len(own), "\n".join(own)))
done()
