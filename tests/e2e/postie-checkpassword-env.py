#!/usr/bin/python3
"""postie-checkpassword: the environment the next program gets. Started
with USER, HOME, SHELL and MAILDIR each twice in its environment (as an
execve may pass them: nothing makes names unique), the program it runs
(a script here printing its own environment block from /proc) must see
each of them exactly once, with the database's value, whether the
duplicate comes before or after; other variables (HOMEDIR, a name HOME
begins) are passed unchanged, entries without '=' included."""
import atexit, os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users, public_tmp

home = tmpdir("checkpassword-env")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
pub = public_tmp("checkpassword-env")
atexit.register(shutil.rmtree, pub, True)
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
os.makedirs(uhome)
if root:
    os.chown(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, "/var/mail/alice/", password="pw")

# The next program: prints the environment block it was exec'd with
# (/proc/PID/environ is what execve passed, duplicates included).
show = os.path.join(pub, "showenv")
with open(show, "w") as f:
    f.write("#!/bin/sh\nexec cat /proc/$$/environ\n")
os.chmod(show, 0o755)


class RawEnv(dict):
    """An environment given as a list of (name, value) pairs, duplicates
    kept: subprocess builds the block from items()."""
    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = pairs

    def items(self):
        return list(self.pairs)


def run(pairs, argv):
    r, w = os.pipe()
    os.write(w, b"alice\0pw\0<1.2@x>\0")
    os.close(w)
    def child():
        # only fd 3 goes through (Python's own are close-on-exec)
        os.dup2(r, 3) if r != 3 else os.set_inheritable(3, True)
    p = subprocess.run([prog("postie-checkpassword")] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=RawEnv(pairs), timeout=30, close_fds=False, preexec_fn=child)
    os.close(r)
    return p.returncode, [e for e in p.stdout.split(b"\0") if e], p.stderr.decode(errors="replace")


def values(block, name):
    n = name.encode() + b"="
    return [e[len(n):].decode() for e in block if e.startswith(n)]


base = [("POSTIE_HOME", home), ("PATH", os.environ.get("PATH", "/usr/bin:/bin"))]
# The duplicate after (a caller's value that a first-match replacement
# would leave for the reader of the last), and before.
after = base + [("HOME", "/evil"), ("USER", "mallory"), ("SHELL", "/bin/evil"), ("MAILDIR", "/evil/md"),
                ("HOMEDIR", "/keep"), ("USERNAME", "keep"),
                ("HOME", "/evil2"), ("USER", "mallory2"), ("SHELL", "/bin/evil2"), ("MAILDIR", "/evil2/md")]
before = base + [("HOME", "/evil"), ("HOME", "/evil2"), ("USER", "x"), ("USER", "y"), ("HOMEDIR", "/keep")]
want = {"HOME": [uhome], "USER": ["alice"], "SHELL": ["/bin/sh"], "MAILDIR": ["/var/mail/alice/"]}
for mode, argv in (("login", [show]), ("authonly", ["-a", show])):
    for name, pairs in (("after", after), ("before", before)):
        rc, block, err = run(pairs, argv)
        got = {k: values(block, k) for k in want}
        check("%s-dup-%s-each-once" % (mode, name), rc == 0 and got == want, (rc, got, err, block))
        check("%s-dup-%s-others-kept" % (mode, name), rc == 0 and values(block, "HOMEDIR") == ["/keep"]
              and values(block, "POSTIE_HOME") == [home]
              and (name != "after" or values(block, "USERNAME") == ["keep"]), block)
        check("%s-dup-%s-no-stale-value" % (mode, name), rc == 0 and block and not [e for e in block if b"evil" in e or b"mallory" in e], block)
done()
