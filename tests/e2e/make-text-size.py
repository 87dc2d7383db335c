#!/usr/bin/python3
"""Text size per program (issue 11: every program's text under 64 KiB in
the default build). Every C program in TARGETS has text (`size`) under
65,536 bytes, but those in OVER, each named with why it is still over
(doc/design.md, "Size", has the link maps): the check keeps every other
program from growing past the limit. And a program's cflags
(programs/<prog>/cflags, -Os for the programs whose size matters more than
their own CPU) compile the copy of programs/lib it links too, not only its
own objects; a program without cflags links programs/lib as compiled by
the build's line alone."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

LIMIT = 65536
# Still over the limit (bytes of text on 2026-12-05, and why): see
# doc/design.md, "Size".
OVER = {
    "postie-smtpd": "own code 25 KiB at -Os, musl 26 (malloc 9), programs/lib 14",
    "postie-remote": "musl's resolver and getaddrinfo",
    "postie-send": "own code 45 KiB at -Os, musl 33 (threads 8, malloc 8)",
    "postie-imapd": "own code 69 KiB at -Os",
    "postie-tlsd": "BearSSL 69 KiB (105,552 bytes; the PEM decoder is lib/pem.c since branch tlspem, 528 less)",
    "postie-tlsc": "BearSSL 75 KiB (105,850 bytes; lib/pem.c instead of BearSSL's PEM decoder, 144 less)",
}

cprogs = c_programs()
check("over-list-names-programs", all(p in cprogs for p in OVER), "not in TARGETS: %r" % [p for p in OVER if p not in cprogs])

# What make would run to rebuild one programs/lib object and relink a
# program: a program with cflags compiles programs/lib with them into its
# own copy of the archive. The make of the test's caller must not leak in.
env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
rel = os.path.relpath(BUILD, TOP)
mk = ["make", "-n", "-W", "programs/lib/base64.c"]
if os.path.basename(os.path.normpath(BUILD)) == "build-san":
    mk.append("SAN=1")
elif os.path.basename(os.path.normpath(BUILD)) == "build-glibc":
    mk.append("LIBC=glibc")
for p in cprogs:
    cf = os.path.join(TOP, "programs", p, "cflags")
    if not os.path.exists(cf):
        continue
    flags = open(cf).read().split()
    r = subprocess.run(mk + [os.path.join(rel, "bin", p)], capture_output=True, text=True, cwd=TOP, env=env, timeout=120)
    lines = r.stdout.splitlines()
    comp = [l for l in lines if re.search(r"-c -o \S+/lib/base64\.o programs/lib/base64\.c", l)]
    link = [l for l in lines if (" -o %s " % os.path.join(rel, "bin", p)) in l]
    ok = (r.returncode == 0 and len(comp) == 1 and all(f in comp[0].split() for f in flags)
          and len(link) == 1 and re.search(r"/libpostie%s\.a\b" % re.escape("".join(flags)), link[0]))
    check("lib-with-cflags-%s" % p, ok, "make -n: %r" % (r.stderr[-300:] or comp + link))
    break   # the rule is the same for every program with cflags
r = subprocess.run(mk + [os.path.join(rel, "bin", "postie-queue")], capture_output=True, text=True, cwd=TOP, env=env, timeout=120)
comp = [l for l in r.stdout.splitlines() if "programs/lib/base64.c" in l]
link = [l for l in r.stdout.splitlines() if (" -o %s " % os.path.join(rel, "bin", "postie-queue")) in l]
check("lib-without-cflags-postie-queue", r.returncode == 0 and len(comp) == 1 and "-Os" not in comp[0].split()
      and len(link) == 1 and "/libpostie.a" in link[0], "make -n: %r" % (r.stderr[-300:] or comp + link))

if re.search(r"-(san|glibc)$", os.path.basename(os.path.normpath(BUILD))):
    skip("text-under-64KiB", "a glibc build (%s): dynamically linked, its size is not the target" % BUILD)
    done()

texts = {}
for p in cprogs:
    s = subprocess.run(["size", prog(p)], capture_output=True, text=True)
    if s.returncode == 0 and len(s.stdout.splitlines()) >= 2:
        texts[p] = int(s.stdout.splitlines()[1].split()[0])
    check("size-%s" % p, p in texts, s.stderr[-200:])
for p in sorted(texts, key=texts.get):
    if p in OVER:
        print("note: %s %d bytes of text, over the limit: %s%s" % (p, texts[p], OVER[p],
              "" if texts[p] >= LIMIT else " (now under: take it off OVER)"))
    else:
        check("text-under-64KiB-%s" % p, texts[p] < LIMIT, "%d bytes of text" % texts[p])
done()
