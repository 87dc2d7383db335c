#!/usr/bin/python3
"""postie-users-hash (doc/postie-users-hash.md): the hash of the password
on stdin is a yescrypt hash that the system's libcrypt verifies, with a
fresh salt each time; a bad password or an argument is exit 100 with a
message, and nothing on stdout. postie-users add and passwd get their
hash from it, and pass its refusal on (its message, its exit code),
changing nothing."""
import ctypes, ctypes.util, os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users

lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def run(args, stdin):
    p = subprocess.run([prog("postie-users-hash")] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


rc, out, err = run([], b"s3cret\n")
h = out[:-1]
check("hash-exit-0", rc == 0 and out.endswith("\n") and out.count("\n") == 1, "rc=%d %r %s" % (rc, out, err))
check("hash-yescrypt", h.startswith("$y$"), repr(out))
check("hash-verifies", lib.crypt(b"s3cret", h.encode()) == h.encode(), repr(out))
check("hash-wrong-pw-does-not", lib.crypt(b"s3cret2", h.encode()) != h.encode(), repr(out))
rc2, out2, _ = run([], b"s3cret")
check("no-newline-salted-anew", rc2 == 0 and out2 != out and lib.crypt(b"s3cret", out2[:-1].encode()) == out2[:-1].encode(), repr(out2))
rc, out, _ = run([], b"p\r\n")
check("crlf-stripped", rc == 0 and lib.crypt(b"p", out[:-1].encode()) == out[:-1].encode(), repr(out))
for name, stdin in [("empty", b"\n"), ("too-long", b"x" * 257 + b"\n"), ("nul", b"a\0b\n")]:
    rc, out, err = run([], stdin)
    check("refused-" + name, rc == 100 and out == "" and "postie-users-hash: fatal:" in err, "rc=%d %r %s" % (rc, out, err))
rc, out, err = run(["x"], b"pw\n")
check("usage", rc == 100 and out == "" and "usage" in err, "rc=%d %s" % (rc, err))
rc, out, _ = run([], b"x" * 256 + b"\n")
check("256-bytes-ok", rc == 0 and out.startswith("$y$"), "rc=%d" % rc)

# Through postie-users: the hash it stores is postie-users-hash's, and its
# refusal is passed on with nothing changed.
home = tmpdir("users-hash")
rc, _, err = users(home, "add", "alice", "1000", "1000", "/home/alice", password="pw of alice")
line = open(os.path.join(home, "users", "users")).read() if rc == 0 else ""
stored = line.split(":")[1] if line.count(":") >= 4 else ""
check("add-stores-hash", rc == 0 and stored.startswith("$y$") and lib.crypt(b"pw of alice", stored.encode()) == stored.encode(), "rc=%d %s %r" % (rc, err, line))
rc, _, err = users(home, "passwd", "alice", password="")
check("passwd-empty-refused", rc == 100 and "postie-users-hash: fatal: empty password" in err
      and open(os.path.join(home, "users", "users")).read() == line, "rc=%d %s" % (rc, err))
rc, _, err = users(home, "add", "bob", "1001", "1001", "/home/bob", password="y" * 300)
check("add-too-long-refused", rc == 100 and "too long" in err and "bob" not in open(os.path.join(home, "users", "users")).read(), "rc=%d %s" % (rc, err))
rc, out, err = users(home, "hash", password="pw")
check("users-hash-execs-it", rc == 0 and out.startswith("$y$") and lib.crypt(b"pw", out.strip().encode()) == out.strip().encode(), "rc=%d %r %s" % (rc, out, err))
done()
