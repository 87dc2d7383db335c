#!/usr/bin/python3
"""Every program finds its instance with postie_home() (programs/lib,
doc/instance.md), here through postie-qstat: POSTIE_HOME is followed by
a program started plainly, and ignored by one that runs set-gid (the
kernel's AT_SECURE), which takes the compiled-in directory. Deciding
costs no system call: strace sees no getuid/geteuid/getgid/getegid (four
a program per exec before, three execs a message)."""

import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *

base = tmpdir("qstat-home")
missing = os.path.join(base, "no-such-instance")


def run(exe, prefix=()):
    env = dict(os.environ, POSTIE_HOME=missing)
    return subprocess.run(list(prefix) + [exe], env=env, capture_output=True, text=True, timeout=60)


r = run(prog("postie-qstat"))
check("home-followed", r.returncode == 111 and "unable to enter the instance directory" in r.stderr, r.stderr)

if shutil.which("strace"):
    trace = os.path.join(base, "strace.out")
    r = run(prog("postie-qstat"), ["strace", "-f", "-qq", "-o", trace, "-e", "trace=getuid,geteuid,getgid,getegid,chdir"])
    calls = open(trace).read().splitlines()
    check("home-no-id-calls", not [l for l in calls if "get" in l], "\n".join(calls))
    check("home-chdir-to-env", any('chdir("%s")' % missing in l for l in calls), "\n".join(calls))
else:
    skip("home-no-id-calls", "strace not installed")
    skip("home-chdir-to-env", "strace not installed")

# A set-gid copy, run by another uid: it must not follow POSTIE_HOME
# (an instance directory that is there), so it goes to the compiled-in
# one, which is not there on a test machine.
homedir = open(os.path.join(BIN, "..", "conf-homedir")).read().strip()
if os.path.exists(homedir):
    skip("home-ignored-set-gid", homedir + " exists here")
    skip("home-followed-without-set-gid", homedir + " exists here")
elif os.geteuid() == 0 and shutil.which("setpriv"):
    sg = os.path.join(base, "postie-qstat-sgid")
    shutil.copy(prog("postie-qstat"), sg)
    os.chown(sg, 0, 65533)
    os.chmod(sg, 0o2755)
    os.chmod(base, 0o755)
    top = os.environ.get("POSTIE_TESTTMP") or "/tmp"
    d = base
    while d != os.path.dirname(d) and os.path.abspath(d) != os.path.abspath(top):
        d = os.path.dirname(d)
        os.chmod(d, os.stat(d).st_mode | 0o011)
    env = dict(os.environ, POSTIE_HOME=base)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sg], env=env,
                       capture_output=True, text=True, timeout=60)
    check("home-ignored-set-gid", r.returncode == 111 and "unable to enter the instance directory" in r.stderr, r.stderr)
    # the same copy without the set-gid bit follows it
    os.chmod(sg, 0o755)
    r2 = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sg], env=env,
                        capture_output=True, text=True, timeout=60)
    check("home-followed-without-set-gid", "unable to enter the instance directory" not in r2.stderr, r2.stderr)
else:
    skip("home-ignored-set-gid", "needs root and setpriv")
    skip("home-followed-without-set-gid", "needs root and setpriv")
done()
