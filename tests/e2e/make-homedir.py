#!/usr/bin/python3
"""make HOMEDIR=... on a built tree rebuilds what holds the instance
directory (postie_home.o, the scripts such as postie-setup) and nothing
when the value is the same. In a scratch copy of the sources, building
only those two targets (one compile), on glibc: the musl build would first
build its libraries from source (build/ext/), which this test is not about."""
import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

src = os.path.join(tmpdir("make-homedir"), "src")
os.makedirs(src)
for f in ("Makefile", "TARGETS", "conf-cc", "conf-ld", "conf-cc-glibc", "conf-ld-glibc"):
    shutil.copy(os.path.join(TOP, f), src)
shutil.copytree(os.path.join(TOP, "programs"), os.path.join(src, "programs"))
TARGETS = ["build-glibc/bin/postie-setup", "build-glibc/glibc/obj/lib/postie_home.o"]


# Not the settings of the make that runs the tests (make test SAN=1 puts
# SAN=1 into MAKEFLAGS, which would choose build-san).
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "SAN", "LIBC")}


def make(*args):
    return subprocess.run(["make", "LIBC=glibc"] + list(args) + TARGETS, cwd=src, capture_output=True, text=True, timeout=300, env=ENV)


def setup_home():
    for l in open(os.path.join(src, "build-glibc/bin/postie-setup")):
        if l.startswith("HOMEDIR="):
            return l.strip()
    return ""


def obj_has(s):
    return s.encode() in open(os.path.join(src, "build-glibc/glibc/obj/lib/postie_home.o"), "rb").read()


r = make()
check("make-default", r.returncode == 0 and setup_home() == "HOMEDIR='/etc/postie'" and obj_has("/etc/postie"),
      r.stdout[-300:] + r.stderr[-300:])
r = make("HOMEDIR=/srv/other-postie")
check("make-homedir-rebuilds", r.returncode == 0 and setup_home() == "HOMEDIR='/srv/other-postie'"
      and obj_has("/srv/other-postie"), r.stdout[-300:] + r.stderr[-300:])
r = make("HOMEDIR=/srv/other-postie")
check("make-same-homedir-nothing", r.returncode == 0 and "cc " not in r.stdout and "sed " not in r.stdout,
      r.stdout[-300:])
r = make()
check("make-back-to-default", r.returncode == 0 and setup_home() == "HOMEDIR='/etc/postie'"
      and obj_has("/etc/postie"), r.stdout[-300:] + r.stderr[-300:])
done()
