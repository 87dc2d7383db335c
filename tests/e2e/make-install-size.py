#!/usr/bin/python3
"""make install's footprint (issue 11): in the default build (static musl)
the whole install, as package/install lays it out under PREFIX (stripped
programs, templates, doc, gzipped man pages), is under 2 MiB, and no
program in it is a static glibc executable (~850 KiB each). The text of
each program is printed for the record (tests/bench scenario 6 reports it
against the peers). The programs listed in UNDER_64K have text under
64 KiB (the issue's target for every program; a program joins the list
when it gets there)."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

if re.search(r"-(san|glibc)$", os.path.basename(os.path.normpath(BUILD))):
    skip("install-under-2MiB", "a glibc build (%s): dynamically linked, its size is not the target" % BUILD)
    done()

stage = tmpdir("install-size")
r = subprocess.run(["sh", os.path.join(TOP, "package", "install"), os.path.relpath(BUILD, TOP), stage, "/usr"],
                   capture_output=True, text=True, cwd=TOP, timeout=300)
check("install-exit-0", r.returncode == 0, r.stderr[-500:])
total = 0
for root, _, files in os.walk(stage):
    for f in files:
        p = os.path.join(root, f)
        if not os.path.islink(p):
            total += os.lstat(p).st_size
check("install-under-2MiB", 0 < total < 2 * 1024 * 1024, "%d bytes installed (%.2f MiB)" % (total, total / 1048576))
bindir = os.path.join(stage, "usr", "bin")
texts = {}
for p in sorted(os.listdir(bindir)) if os.path.isdir(bindir) else []:
    s = subprocess.run(["size", os.path.join(bindir, p)], capture_output=True, text=True)
    if s.returncode == 0 and len(s.stdout.splitlines()) >= 2:
        texts[p] = int(s.stdout.splitlines()[1].split()[0])
print("installed: %d bytes; text per program: %s" % (total, ", ".join("%s %d" % kv for kv in sorted(texts.items(), key=lambda kv: kv[1]))))
UNDER_64K = ["postie-checkpassword", "postie-users", "postie-users-hash"]
for p in UNDER_64K:
    check("text-under-64KiB-" + p, p in texts and texts[p] < 65536, "%s: %r bytes of text" % (p, texts.get(p)))
big = [p for p, t in texts.items() if t > 400 * 1024]
check("no-static-glibc-sized-program", texts and not big, "over 400 KiB of text: %r" % big)
done()
