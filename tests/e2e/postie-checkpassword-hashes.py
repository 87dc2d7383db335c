#!/usr/bin/python3
"""postie-checkpassword and postie-users, by hash method (doc/users.md):
hashes as /etc/shadow holds them, made by the system's own libcrypt
(Debian's libxcrypt, every method), log in with the right password and
not with a wrong one: yescrypt ($y$, Debian's default) and SHA-512 crypt
($6$, with its default rounds and with rounds=, which libxcrypt formats
with the snprintf of programs/lib/crypt_libc.c). A method this build
does not carry (in the default musl build: SHA-256 crypt, bcrypt, MD5
crypt, scrypt, gost-yescrypt, DES) never fails silently: the login is
refused and `unusable hash` is logged. postie-users makes yescrypt
hashes."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import checkpassword, users, public_tmp
from syscrypt import lib, mkhash
import atexit, shutil


home = tmpdir("checkpassword-hashes")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
pub = public_tmp("checkpassword-hashes")
atexit.register(shutil.rmtree, pub, True)
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "u")
os.makedirs(uhome)
if root:
    os.chown(uhome, uid, gid)

# The methods every build verifies, and those the default build leaves out.
SUPPORTED = {"yescrypt": "$y$", "sha512crypt": "$6$", "sha512crypt_rounds": "$6$"}
OTHERS = {"sha256crypt": "$5$", "bcrypt": "$2b$", "bcrypt_y": "$2y$", "bcrypt_a": "$2a$", "md5crypt": "$1$",
          "scrypt": "$7$", "gost-yescrypt": "$gy$", "descrypt": ""}
lines = []
made = {}
for name, prefix in list(SUPPORTED.items()) + list(OTHERS.items()):
    h = mkhash(prefix, "pw of " + name, 12345 if name.endswith("_rounds") else 0) if prefix or name == "descrypt" else None
    if name.endswith("_rounds") and h is not None and "$rounds=12345$" not in h:
        check("system-hash-" + name, False, "no rounds= in %r" % h)
    if name == "descrypt":
        h = lib.crypt(("pw of " + name).encode(), b"ab").decode()
    if h is None:
        if name in SUPPORTED:
            check("system-hash-" + name, False, "the system's libcrypt made no %s hash" % name)
        continue
    made[name] = h
    lines.append("%s:%s:%d:%d:%s\n" % (name, h, uid, gid, uhome))
with open(os.path.join(home, "users", "users"), "w") as f:
    f.writelines(lines)
rc, out, err = users(home)
check("compile-exit-0", rc == 0, err)


def login(name, pw):
    return checkpassword(home, name, pw)


for name in SUPPORTED:
    if name not in made:
        continue
    rc, err = login(name, "pw of " + name)
    check("good-" + name, rc == 0, "%s (%s): rc=%d %s" % (name, made[name][:8], rc, err))
    rc, err = login(name, "not the pw")
    check("bad-" + name, rc == 1 and "wrong password" in err, "%s: rc=%d %s" % (name, rc, err))

# A method the build does not carry: refused, and said (the glibc builds
# carry Debian's whole libxcrypt, and log in).
for name in OTHERS:
    if name not in made:
        continue
    rc, err = login(name, "pw of " + name)
    check("other-" + name, rc == 0 or (rc == 1 and "unusable hash" in err),
          "%s: rc=%d, neither a login nor 'unusable hash': %s" % (name, rc, err))

# postie-users makes yescrypt hashes (crypt_gensalt's default).
rc, out, err = users(home, "hash", password="secret")
check("users-hash-yescrypt", rc == 0 and out.startswith("$y$") and mkhash("", "x") is not None
      and lib.crypt(b"secret", out.strip().encode()).decode() == out.strip(), "rc=%d %r %s" % (rc, out, err))
done()
