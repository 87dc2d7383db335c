#!/usr/bin/python3
"""tests/run ends every process a test started and fails the test that
leaked one: a scratch copy of the runner runs a test that leaves two
processes behind (one in a new session, one double-forked), and must
name both in a FAIL line of that test and leave neither running; a test
that leaves nothing has no such line."""
import os, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

if not os.environ.get("POSTIE_NETNS"):
    skip("runner-leak-named", "tests/run runs each test in a PID namespace only as root")
    done()

top = tmpdir("runner-leaks")
os.makedirs(os.path.join(top, "tests", "e2e"))
os.makedirs(os.path.join(top, "tests", "lib"))
shutil.copy(os.path.join(TOP, "tests", "run"), os.path.join(top, "tests", "run"))
for f in os.listdir(os.path.join(TOP, "tests", "lib")):
    p = os.path.join(TOP, "tests", "lib", f)
    if os.path.isfile(p):
        shutil.copy(p, os.path.join(top, "tests", "lib", f))
os.symlink(BUILD, os.path.join(top, "build"))
mark = "runner-leaks-%d" % os.getpid()
LEAKER = """#!/bin/sh
setsid sh -c 'sleep 300; :' %s-a </dev/null >/dev/null 2>&1 &
( ( exec sh -c 'sleep 301; :' %s-b ) </dev/null >/dev/null 2>&1 & ) &
echo PASS leaker
""" % (mark, mark)
CLEAN = """#!/bin/sh
sleep 1 &
wait
echo PASS clean
"""
for name, text in (("leaker", LEAKER), ("clean", CLEAN)):
    with open(os.path.join(top, "tests", "e2e", name), "w") as f:
        f.write(text)
    os.chmod(os.path.join(top, "tests", "e2e", name), 0o755)


def alive():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                c = open("/proc/%s/cmdline" % d, "rb").read()
                if mark.encode() in c or c.startswith(b"sleep\x0030"):
                    out.append(d)
            except OSError:
                pass
    return out


env = dict(os.environ, TESTS="leaker clean")
r = subprocess.run(["sh", os.path.join(top, "tests", "run"), "build"], env=env, capture_output=True, text=True,
                   timeout=300, stdin=subprocess.DEVNULL)
fails = [l.strip() for l in r.stdout.splitlines() if "FAIL leaked processes" in l]
check("runner-leak-named", len(fails) == 1 and "sleep 300; : " + mark + "-a" in fails[0]
      and "sleep 301; : " + mark + "-b" in fails[0] and "root sleep 300" in fails[0] and "leaker: 1 passed, 1 failed" in r.stdout, r.stdout[-1500:])
check("runner-clean-passes", "clean: 1 passed, 0 failed" in r.stdout, r.stdout[-800:])
check("runner-leak-ended", not alive(), "still running: %r" % alive())
for p in alive():
    os.kill(int(p), 9)
done()
