#!/usr/bin/python3
"""postie-users-hash (doc/postie-users-hash.md): the hash of the password
on stdin is a yescrypt hash that the system's libcrypt verifies, with a
fresh salt each time; a bad password or an argument is exit 100 with a
message, and nothing on stdout. postie-users add and passwd get their
hash from it, and pass its refusal on (its message, its exit code),
changing nothing. With -c it gives libxcrypt's verdict (crypt_checksalt,
in this build) on each hash of stdin, one a line, and refuses a bad line
(too long, empty, a NUL or control character) with its number."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users
from syscrypt import checksalt, lib, mkhash


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

# -c: one verdict a line, libxcrypt's crypt_checksalt in this build (the
# default musl build verifies yescrypt and SHA-512 crypt alone; the glibc
# builds ask the system's libxcrypt, as this test does through ctypes).
MUSL = static_musl(prog("postie-users-hash"))
mine = [mkhash(p, "pw") for p in ("$y$", "$6$", "$2b$", "$1$", "$5$")] + ["abJnggxhB/yWI", "$9$abc", "$6$a;b", "x" * 512]
if MUSL:
    want = ["ok", "ok"] + ["invalid"] * 7
else:
    want = [checksalt(h) for h in mine]
rc, out, err = run(["-c"], "".join(h + "\n" for h in mine).encode())
check("c-verdicts", rc == 0 and out.split("\n") == want + [""] and err == "", "rc=%d %r %r want %r" % (rc, out, err, want))
if not MUSL:
    check("c-glibc-all-methods", all(v in ("ok", "legacy") for v in want[:5]), repr(want))
rc, out, err = run(["-c"], (mine[0] + "\n" + mine[1]).encode())
check("c-last-line-without-newline", rc == 0 and out == "ok\nok\n", "rc=%d %r %s" % (rc, out, err))
rc, out, err = run(["-c"], b"")
check("c-empty-input", rc == 0 and out == "" and err == "", "rc=%d %r %s" % (rc, out, err))
many = (mine[0] + "\n") * 20000
rc, out, err = run(["-c"], many.encode())
check("c-20000-lines", rc == 0 and out == "ok\n" * 20000, "rc=%d %d bytes %s" % (rc, len(out), err))
for name, stdin, line, why in [
    ("c-too-long", mine[0].encode() + b"\n" + b"$6$" + b"x" * 510 + b"\n", 2, "longer than 512 bytes"),
    ("c-too-long-no-newline", b"x" * 513, 1, "longer than 512 bytes"),
    ("c-very-long", b"$y$" + b"y" * 100000 + b"\n", 1, "longer than 512 bytes"),
    ("c-empty-line", mine[0].encode() + b"\n\n" + mine[0].encode() + b"\n", 2, "empty"),
    ("c-nul", mine[0].encode() + b"\n$y$a\0b\n", 2, "NUL or control character"),
    ("c-binary", mine[0].encode() + b"\n" + mine[1].encode() + b"\n" + bytes([1, 2, 27, 31]) + b"abc\n", 3, "NUL or control character"),
    ("c-del", b"$y$\x7f\n", 1, "NUL or control character"),
    ("c-crlf", mine[0].encode() + b"\r\n", 1, "NUL or control character"),
]:
    rc, out, err = run(["-c"], stdin)
    check(name, rc == 100 and out == "ok\n" * (line - 1) and ("postie-users-hash: fatal: line %d of stdin: %s" % (line, why)) in err,
          "rc=%d %r %s" % (rc, out, err))
longest = "$6$rounds=5000$" + "s" * 16 + "$" + "h" * 480
rc, out, err = run(["-c"], longest.encode() + b"\n")
check("c-512-bytes-ok", len(longest) == 512 and rc == 0 and out == "ok\n", "rc=%d %r %s" % (rc, out, err))
rc, out, err = run(["-c", "x"], b"")
check("c-usage", rc == 100 and out == "" and "usage" in err, "rc=%d %s" % (rc, err))

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
