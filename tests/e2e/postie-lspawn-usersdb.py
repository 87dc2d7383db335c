#!/usr/bin/python3
"""postie-lspawn keeps users/users.cdb mapped between deliveries
(programs/lib/usersdb.c): over 6 requests, strace counts one open() of
the database and no munmap(), where a map per lookup made 6 of each; one
stat() a lookup stands for them. The database replaced (a rename, as
postie-users does) or rewritten in place between two requests is read
anew at the next one (a user added is found, a user removed is not), and
a database gone is a temporary failure (Z) at once, as before."""

import os, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import UID, GID, spawner_instance, lspawn_deliver, lspawn_standin
from cdbwrite import users_cdb

if not shutil.which("strace"):
    skip("lspawn-usersdb", "strace not installed")
    done()

base, inst, home = spawner_instance("lspawn-usersdb")
bindir = lspawn_standin(base, inst)
trace = os.path.join(base, "strace.out")
dbfile = os.path.join(inst, "users", "users.cdb")


env = env_for(inst)
env["PATH"] = bindir + ":/usr/bin:/bin"
p = subprocess.Popen(["strace", "-qq", "-e", "trace=open,openat,stat,newfstatat,munmap", "-o", trace,
                      prog("postie-lspawn"), "1000", "10"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=inst, env=env)


def deliver(user):
    return lspawn_deliver(p, user)


sizes = {os.path.getsize(dbfile)}
outs = [deliver(b"bob") for _ in range(6)]
ok6 = all(o.startswith(b"K") for o in outs)
# Replaced by a rename: carol added.
carolhome = os.path.join(base, "homes", "carol")
os.makedirs(carolhome, exist_ok=True)
os.chown(carolhome, UID, GID)
tmpinst = os.path.join(base, "tmpinst")
users_cdb(tmpinst, [("bob", "!", UID, GID, home, "./Maildir/"), ("carol", "!", UID, GID, carolhome, "./Maildir/")])
sizes.add(os.path.getsize(os.path.join(tmpinst, "users", "users.cdb")))
os.rename(os.path.join(tmpinst, "users", "users.cdb"), dbfile)
carol = deliver(b"carol")
# Rewritten in place (same inode): carol removed again.
ino = os.stat(dbfile).st_ino
users_cdb(tmpinst, [("bob", "!", UID, GID, home, "./Maildir/")])
with open(os.path.join(tmpinst, "users", "users.cdb"), "rb") as f:
    data = f.read()
with open(dbfile, "r+b") as f:
    f.write(data)
    f.truncate()
sizes.add(len(data))
inplace = os.stat(dbfile).st_ino == ino
carol2 = deliver(b"carol")
bob = deliver(b"bob")
os.rename(dbfile, dbfile + ".away")
gone = deliver(b"bob")
os.rename(dbfile + ".away", dbfile)
back = deliver(b"bob")
p.stdin.close()
p.stdout.read()
p.stderr.read()
p.wait(timeout=60)

calls = open(trace).read().splitlines()
opens = [l for l in calls if "users/users.cdb" in l and ("open(" in l or "openat(" in l)]
stats = [l for l in calls if "users/users.cdb" in l and "stat" in l]
munmaps = [l for l in calls if "munmap(" in l and int(l.split(",")[1].split(")")[0]) in sizes]
check("lspawn-usersdb-delivered", ok6, repr(outs))
# 6 lookups of one database: mapped once; 3 more maps for the rename,
# the rewrite in place and the return after it was gone; 3 unmaps (the
# database replaced twice, then gone).
check("lspawn-usersdb-one-open", len(opens) == 4, "\n".join(opens))
check("lspawn-usersdb-stat-per-lookup", len(stats) >= 11, "\n".join(stats))
check("lspawn-usersdb-no-munmap-per-lookup", len(munmaps) <= 3, "\n".join(munmaps))
check("lspawn-usersdb-renamed-db-read", carol.startswith(b"K"), repr(carol))
check("lspawn-usersdb-inplace-db-read", inplace and carol2.startswith(b"D") and b"no such user" in carol2, repr((inplace, carol2)))
check("lspawn-usersdb-still-delivers", bob.startswith(b"K"), repr(bob))
check("lspawn-usersdb-gone-is-temporary", gone.startswith(b"Z"), repr(gone))
check("lspawn-usersdb-back", back.startswith(b"K"), repr(back))
done()
