#!/usr/bin/python3
"""postie-checkpassword reads the hash from users/passwords.cdb, apart
from users.cdb: a users.cdb without hashes and no passwords.cdb is a
temporary failure (111, logged), never a bad login; a database compiled
by an older postie-users (hashes in users.cdb, no passwords.cdb) still
works; with both, the hash in passwords.cdb is the one that counts.
The databases, which usersdb keeps mapped between lookups, are unmapped
once the password is checked: no mapping of passwords.cdb reaches the
next program's exec (strace)."""
import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users, cdb_read
from cdbwrite import cdb_write

home = tmpdir("cpw-split")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
uid = 4242 if os.geteuid() == 0 else os.getuid()
users(home, "add", "alice", str(uid), str(uid), home, password="right")
pwdb = os.path.join(home, "users", "passwords.cdb")
udb = os.path.join(home, "users", "users.cdb")


def login(user, pw):
    r, w = os.pipe()
    os.write(w, user.encode() + b"\0" + pw.encode() + b"\0x\0")
    os.close(w)
    p = subprocess.run([prog("postie-checkpassword"), "-a", "true"], pass_fds=(3,) if r == 3 else (),
                       preexec_fn=(lambda: os.dup2(r, 3)) if r != 3 else None, env=env_for(home),
                       capture_output=True, text=True, timeout=30)
    os.close(r)
    return p.returncode, p.stderr


check("split-good", login("alice", "right")[0] == 0)
check("split-bad", login("alice", "wrong")[0] == 1)
saved = pwdb + ".saved"
os.rename(pwdb, saved)
rc, err = login("alice", "right")
check("split-missing-pwdb-111", rc == 111 and "passwords.cdb" in err, "%d %r" % (rc, err))
rc, err = login("alice", "wrong")
check("split-missing-pwdb-not-bad-login", rc == 111, "%d %r" % (rc, err))
# An older database: the hash in users.cdb, no passwords.cdb.
h = cdb_read(saved)[b"alice"]
rec = cdb_read(udb)[b"alice"]
cdb_write(udb, [(b"alice", h[:-1] + rec)])
check("old-db-good", login("alice", "right")[0] == 0)
check("old-db-bad", login("alice", "wrong")[0] == 1)
# Both: passwords.cdb wins (users.cdb's hash is another password's).
other = subprocess.run([prog("postie-users"), "hash"], input=b"other\n", capture_output=True, env=env_for(home)).stdout.strip()
cdb_write(udb, [(b"alice", other + rec)])
os.rename(saved, pwdb)
check("pwdb-wins", login("alice", "right")[0] == 0 and login("alice", "other")[0] == 1)

if shutil.which("strace"):
    trace = os.path.join(home, "strace.out")
    r, w = os.pipe()
    os.write(w, b"alice\0right\0x\0")
    os.close(w)
    p = subprocess.run(["strace", "-qq", "-o", trace, "-e", "trace=open,openat,mmap,munmap,execve",
                        prog("postie-checkpassword"), "-a", "true"], pass_fds=(3,) if r == 3 else (),
                       preexec_fn=(lambda: os.dup2(r, 3)) if r != 3 else None, env=env_for(home),
                       capture_output=True, text=True, timeout=30)
    os.close(r)
    calls = open(trace).read().splitlines()
    size = os.path.getsize(pwdb)
    opened = [i for i, l in enumerate(calls) if "users/passwords.cdb" in l and "= -1" not in l]
    maps = [i for i, l in enumerate(calls) if "mmap(NULL, %d," % size in l]
    unmaps = [i for i, l in enumerate(calls) if "munmap(" in l and l.split(",")[1].split(")")[0].strip() == str(size)]
    execs = [i for i, l in enumerate(calls) if "execve(" in l][1:]  # the first is postie-checkpassword's own
    check("pwdb-unmapped-before-exec", p.returncode == 0 and opened and maps and execs and unmaps
          and maps[0] < unmaps[-1] < execs[0], "\n".join(calls[-25:]))
else:
    skip("pwdb-unmapped-before-exec", "strace not installed")
done()
