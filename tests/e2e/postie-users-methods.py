#!/usr/bin/python3
"""postie-users and the hash methods of its build (doc/postie-users.md,
"Hash methods"; doc/users.md): a users/users with a yescrypt ($y$), a
SHA-512 crypt ($6$), a bcrypt ($2b$), an MD5 crypt ($1$) and a no-login
(`!`, `!$2b$...`, `*`, empty) user, hashes as /etc/shadow holds them,
compiles (exit 0, the whole database written) with exactly one warning per
user whose hash this build cannot verify: line number, name, method, and
the repair (postie-users passwd NAME). In the default musl build those
are the bcrypt and MD5 crypt users; the glibc builds verify every method
of the system's libxcrypt and warn of nothing. The warned users are
exactly those postie-checkpassword cannot log in. postie-users-hash -c
is run once per run of postie-users, whatever the number of users, and
not at all when no hash allows a login; when it cannot be made
(postie-users-hash failing, crashing, answering oddly or missing),
postie-users warns once and compiles without it (exit 0): del and
passwd -n still revoke a user."""
import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import cdb_read, checkpassword, users
from syscrypt import checksalt, mkhash

MUSL = static_musl(prog("postie-users-hash"))


def usable(h):
    """Whether this build's libxcrypt verifies h: postie's own (musl) has
    yescrypt and SHA-512 crypt alone; the glibc builds use the system's."""
    if MUSL:
        return h.startswith("$y$") or h.startswith("$6$")
    return checksalt(h) in ("ok", "legacy", "too-cheap")


home = tmpdir("users-methods")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
src = os.path.join(home, "users", "users")
db = os.path.join(home, "users", "users.cdb")
pwdb = os.path.join(home, "users", "passwords.cdb")

METHODS = [("yes", "$y$", "$y$ (yescrypt)"), ("six", "$6$", "$6$ (SHA-512 crypt)"),
           ("bob", "$2b$", "$2b$ (bcrypt)"), ("md", "$1$", "$1$ (MD5 crypt)")]
hashes = {}
for name, prefix, _ in METHODS:
    hashes[name] = mkhash(prefix, "pw of " + name)
    check("system-hash-" + name, hashes[name] is not None and hashes[name].startswith(prefix), repr(hashes[name]))
hashes["locked"] = "!" + hashes["bob"]
hashes["nopw"] = "!"
hashes["star"] = "*"
hashes["empty"] = ""
uid = 4242 if os.geteuid() == 0 else os.getuid()
text = "# name:hash:uid:gid:home\n\n"
lineno = {}
for i, name in enumerate(["yes", "six", "locked", "bob", "nopw", "md", "star", "empty"]):
    if i == 4:
        text += "   # a comment among them\n"
    text += "%s:%s:%d:%d:/home/%s\n" % (name, hashes[name], uid, uid, name)
    lineno[name] = text.count("\n")
with open(src, "w") as f:
    f.write(text)


def warning(name):
    m = [label for n, _, label in METHODS if n == name][0]
    return ("postie-users: warning: users/users line %d: %s: hash method %s is not supported by this build; "
            "%s cannot log in until given a new password (postie-users passwd %s)" % (lineno[name], name, m, name, name))


expected = sorted(warning(n) for n, _, _ in METHODS if not usable(hashes[n]))
if MUSL:
    check("musl-warns-bcrypt-md5", [n for n, _, _ in METHODS if not usable(hashes[n])] == ["bob", "md"])
rc, out, err = users(home)
check("compile-exit-0", rc == 0, "rc=%d %s" % (rc, err))
check("compile-stdout-empty", out == "", repr(out))
check("compile-warnings-exactly", sorted(l for l in err.split("\n") if l) == expected,
      "expected %r, got %r" % (expected, err))
pw = cdb_read(pwdb) if os.path.exists(pwdb) else {}
check("database-built", sorted(cdb_read(db)) == sorted(n.encode() for n in hashes)
      and all(pw.get(n.encode()) == h.encode() + b"\0" for n, h in hashes.items()), repr(pw))


def login(name, password):
    return checkpassword(home, name, password, ("-a", "true"))


# A warned user is one who cannot log in; the others log in.
for name, _, _ in METHODS:
    rc, lerr = login(name, "pw of " + name)
    if usable(hashes[name]):
        check("login-" + name, rc == 0, "rc=%d %s" % (rc, lerr))
        rc, lerr = login(name, "wrong")
        check("login-wrong-" + name, rc == 1 and "wrong password" in lerr, "rc=%d %s" % (rc, lerr))
    else:
        check("warned-cannot-login-" + name, rc == 1 and "unusable hash" in lerr, "rc=%d %s" % (rc, lerr))

# An edit compiles too, and warns the same (the line numbers of the text
# it writes); after passwd, the user's new yescrypt hash is not warned of.
rc, out, err = users(home, "add", "newbie", str(uid), str(uid), "/home/newbie", password="pw of newbie")
check("add-exit-0-warns", rc == 0 and sorted(l for l in err.split("\n") if l) == expected, "rc=%d %s" % (rc, err))
still = [l for l in expected if ": bob:" not in l]
if expected:
    rc, out, err = users(home, "passwd", "bob", password="new pw of bob")
    check("passwd-clears-warning", rc == 0 and sorted(l for l in err.split("\n") if l) == still, "rc=%d %s" % (rc, err))
    rc, lerr = login("bob", "new pw of bob")
    check("passwd-then-login", rc == 0, "rc=%d %s" % (rc, lerr))

# postie-users-hash -c runs once per run, seen through a stand-in next to
# a copy of postie-users (which runs its sibling), that logs its argv.
bindir = tmpdir("users-methods-bin")
shutil.copy(prog("postie-users"), os.path.join(bindir, "postie-users"))
log = os.path.join(bindir, "log")
stand_in = os.path.join(bindir, "postie-users-hash")


def stand(body):
    with open(stand_in, "w") as f:
        f.write("#!/bin/sh\necho \"$*\" >> %s\n%s\n" % (log, body))
    os.chmod(stand_in, 0o755)
    if os.path.exists(log):
        os.unlink(log)


def copy_run(*args, password=None, path=None):
    if os.path.exists(log):
        os.unlink(log)
    p = subprocess.run([os.path.join(bindir, "postie-users")] + list(args),
                       input=(password + "\n").encode() if password is not None else b"",
                       capture_output=True, env=dict(env_for(home), **({"PATH": path} if path else {})), timeout=60)
    calls = open(log).read().split("\n")[:-1] if os.path.exists(log) else []
    return p.returncode, p.stderr.decode(errors="replace"), calls


stand("exec %s \"$@\"" % prog("postie-users-hash"))
more = "".join("many%d:%s:%d:%d:/home/many\n" % (i, hashes["md" if i % 2 else "yes"], uid, uid) for i in range(300))
with open(src, "a") as f:
    f.write(more)
rc, err, calls = copy_run()
check("once-per-compile", rc == 0 and calls == ["-c"], "rc=%d calls=%r %s" % (rc, calls, err[-300:]))
warned = [l for l in err.split("\n") if l]
check("300-more-warned", len(warned) == len(still) + (150 if not usable(hashes["md"]) else 0)
      and all(l in warned for l in still), "%d warnings: %s" % (len(warned), err[-300:]))
rc, err, calls = copy_run("add", "other", "1", "1", "/o", password="pw")
check("once-per-add", rc == 0 and calls == ["", "-c"], "rc=%d calls=%r %s" % (rc, calls, err[-300:]))
rc, err, calls = copy_run("del", "other")
check("once-per-del", rc == 0 and calls == ["-c"], "rc=%d calls=%r %s" % (rc, calls, err[-300:]))

# When -c cannot be made (an older postie-users-hash without it: usage,
# exit 100; too few or odd answers; a crash; no postie-users-hash at
# all), the check is advice: postie-users warns once and compiles
# without it (exit 0), so that a user can still be revoked (del, passwd
# -n) or the database compiled.
WARN = "postie-users: warning: unable to check the hash methods: %s; compiled without the check"


def advisory(name, body, why, *args):
    if body is None:
        if os.path.exists(stand_in):
            os.unlink(stand_in)
    else:
        stand(body)
    # missing: neither beside the copy nor on PATH
    rc, err, calls = copy_run(*args, path=None if body is not None else bindir)
    lines = [l for l in err.split("\n") if l]
    check(name, rc == 0 and (WARN % why) in lines and not any(": hash method " in l for l in lines),
          "rc=%d %s" % (rc, err))
    return rc


advisory("check-fails-compiles", "echo 'postie-users-hash: usage: postie-users-hash < password' >&2; exit 100",
         "postie-users-hash -c failed (exit 100)")
advisory("check-fails-del-done", "exit 100", "postie-users-hash -c failed (exit 100)", "del", "yes")
check("check-fails-del-gone", b"yes" not in cdb_read(db) and b"yes" not in cdb_read(pwdb)
      and not any(l.startswith("yes:") for l in open(src)))
advisory("check-too-few-answers-compiles", "cat >/dev/null; echo ok", "postie-users-hash -c gave too few answers")
advisory("check-odd-answer-compiles", "while read -r h; do echo fine; done", "postie-users-hash -c gave an unexpected answer")
advisory("check-crash-compiles", "kill -SEGV $$", "postie-users-hash -c crashed")
advisory("check-missing-passwd-n", None, "postie-users-hash -c failed (exit 111)", "passwd", "-n", "six")
check("check-missing-passwd-n-done", cdb_read(pwdb).get(b"six", b"!").startswith(b"!"), repr(cdb_read(pwdb).get(b"six")))
advisory("check-missing-del", None, "postie-users-hash -c failed (exit 111)", "del", "six")
check("check-missing-del-gone", b"six" not in cdb_read(db), "")

# No hash that allows a login: nothing to check, no run.
with open(src, "w") as f:
    f.write("a:!:1:1:/a\nb::1:1:/b\nc:*:1:1:/c\n")
stand("exit 100")
rc, err, calls = copy_run()
check("no-login-hashes-no-run", rc == 0 and calls == [] and err == "" and sorted(cdb_read(db)) == [b"a", b"b", b"c"],
      "rc=%d calls=%r %s" % (rc, calls, err))
done()
