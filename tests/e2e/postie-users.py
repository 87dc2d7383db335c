#!/usr/bin/python3
"""postie-users: the text source and the cdb, add/passwd/del with the
password on stdin, errors reported with line numbers and nothing replaced,
and a kill -9 at random instants of a rebuild of 100,000 users never leaves
a broken database."""
import os, random, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import cdb_read, parse_user, users

home = tmpdir("users")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
src = os.path.join(home, "users", "users")
db = os.path.join(home, "users", "users.cdb")
pwdb = os.path.join(home, "users", "passwords.cdb")


def pwhash(name):
    """The hash of name in passwords.cdb ("hash\0")."""
    v = cdb_read(pwdb).get(name)
    return v[:-1].decode() if v is not None and v.endswith(b"\0") else None

def text():
    return open(src).read()

# add, with the password on stdin; the default maildir; an explicit one.
rc, out, err = users(home, "add", "Alice", "1000", "1001", "/home/alice", password="s3cret pass")
check("add-exit-0", rc == 0, err)
rc, out, err = users(home, "add", "bob", "1002", "1003", "/home/b ob", "/var/mail/bob/", password="pw")
check("add-maildir-exit-0", rc == 0, err)
rc, out, err = users(home, "add", "-n", "lists", "1004", "1004", "/var/lists")
check("add-nopassword", rc == 0, err)
recs = cdb_read(db)
check("db-keys-lowercased", sorted(recs) == [b"alice", b"bob", b"lists"], repr(sorted(recs)))
a = parse_user(recs[b"alice"])
check("db-alice", (a["uid"], a["gid"], a["home"], a["maildir"]) == (1000, 1001, "/home/alice", "Maildir/"), repr(a))
check("db-hash-crypt", pwhash(b"alice").startswith("$y$") or pwhash(b"alice").startswith("$6$"), pwhash(b"alice"))
# The hashes are in passwords.cdb alone: users.cdb, which the SMTP server
# reads, has an empty hash field.
check("db-no-hash-in-users-cdb", a["hash"] == "" and b"$y$" not in open(db, "rb").read()
      and sorted(cdb_read(pwdb)) == [b"alice", b"bob", b"lists"], a["hash"])
check("pwdb-mode-0600", os.stat(pwdb).st_mode & 0o777 == 0o600, oct(os.stat(pwdb).st_mode))
check("db-bob-maildir-space-home", parse_user(recs[b"bob"])["maildir"] == "/var/mail/bob/" and parse_user(recs[b"bob"])["home"] == "/home/b ob")
check("db-nopassword-hash", pwhash(b"lists") == "!")
check("no-plaintext", "s3cret" not in text() and b"s3cret" not in open(db, "rb").read())
check("source-keeps-case", text().startswith("Alice:$"), text()[:20])
check("source-mode-0600", os.stat(src).st_mode & 0o777 == 0o600, oct(os.stat(src).st_mode))
check("db-mode-0640", os.stat(db).st_mode & 0o777 == 0o640, oct(os.stat(db).st_mode))
check("no-tmp-left", sorted(os.listdir(os.path.join(home, "users"))) == ["lock", "passwords.cdb", "users", "users.cdb"],
      repr(os.listdir(os.path.join(home, "users"))))

# Two adds of the same password give different hashes (random salt).
h1 = users(home, "hash", password="same")[1].strip()
h2 = users(home, "hash", password="same")[1].strip()
check("hash-salted", h1 != h2 and h1.startswith("$") and len(h1) > 20, repr((h1, h2)))

# passwd changes only the hash; comments and blank lines survive edits.
with open(src, "a") as f:
    f.write("\n# a comment\n   \n")
old = pwhash(b"alice")
rc, out, err = users(home, "passwd", "ALICE", password="new")
new = parse_user(cdb_read(db)[b"alice"])
check("passwd", rc == 0 and pwhash(b"alice") != old and new["uid"] == 1000, err)
check("comments-kept", "# a comment\n" in text())
rc, out, err = users(home, "passwd", "-n", "alice")
check("passwd-disable", rc == 0 and pwhash(b"alice") == "!", err)
rc, out, err = users(home, "passwd", "nobody", password="x")
check("passwd-unknown-100", rc == 100 and "nobody" in err, err)
rc, out, err = users(home, "del", "Bob")
check("del", rc == 0 and b"bob" not in cdb_read(db) and b"bob" not in cdb_read(pwdb) and "bob:" not in text(), err)
rc, out, err = users(home, "del", "bob")
check("del-unknown-100", rc == 100, err)

# Argument errors: nothing changes.
before_src, before_db = text(), open(db, "rb").read()
for name, args, pw in [
    ("add-exists-any-case", ["add", "ALICE", "1", "1", "/x"], "p"),
    ("add-colon-in-name", ["add", "a:b", "1", "1", "/x"], "p"),
    ("add-colon-in-home", ["add", "c", "1", "1", "/x:y"], "p"),
    ("add-uid-not-number", ["add", "c", "1x", "1", "/x"], "p"),
    ("add-gid-not-number", ["add", "c", "1", "", "/x"], "p"),
    ("add-uid-negative", ["add", "c", "-1", "1", "/x"], "p"),
    ("add-uid-too-big", ["add", "c", "4294967296", "1", "/x"], "p"),
    ("add-relative-home", ["add", "c", "1", "1", "home/c"], "p"),
    ("add-maildir-no-slash", ["add", "c", "1", "1", "/x", "Mailbox"], "p"),
    ("add-space-in-name", ["add", "c d", "1", "1", "/x"], "p"),
    ("add-comment-name", ["add", "#c", "1", "1", "/x"], "p"),
    ("add-newline-in-home", ["add", "c", "1", "1", "/x\ny"], "p"),
    ("add-empty-password", ["add", "c", "1", "1", "/x"], ""),
    ("add-long-password", ["add", "c", "1", "1", "/x"], "x" * 300),
    ("add-too-few-args", ["add", "c", "1", "1"], "p"),
    ("usage", ["frobnicate"], None),
]:
    rc, out, err = users(home, *args, password=pw)
    check(name, rc == 100 and text() == before_src and open(db, "rb").read() == before_db, "rc=%d %s" % (rc, err))

# A password read from a pipe without a final newline.
p = subprocess.run([prog("postie-users"), "add", "eve", "7", "7", "/e"], input=b"nonewline", env=env_for(home),
                   stderr=subprocess.PIPE)
check("password-without-newline", p.returncode == 0 and b"eve" in cdb_read(db), p.stderr)

# A malformed source: every bad line reported with its number, the cdb
# not replaced.
good = text()
before_db = open(db, "rb").read()
with open(src, "w") as f:
    f.write(good)
    f.write("broken line\n")                      # n+1
    f.write("x:$y$h:12:13:relative\n")            # n+2
    f.write("y:$y$h:1a:13:/h\n")                  # n+3
    f.write("ALICE:$y$h:1:1:/dup\n")              # n+4 (duplicate, any case)
    f.write("z:$y$h:1:1:/h:Maildir/:extra\n")     # n+5 (a ':' too many)
    f.write("w:$y$h:1:1:/h\r\n")                  # n+6 (CR)
n = good.count("\n")
rc, out, err = users(home)
check("malformed-exit-100", rc == 100, err)
for k, what in [(1, "too few"), (2, "absolute"), (3, "uid"), (4, "duplicate"), (5, "too many"), (6, "control")]:
    check("malformed-line-%d-reported" % k, ("line %d:" % (n + k)) in err and what in err.split("line %d:" % (n + k))[1].split("\n")[0], err)
check("malformed-db-unchanged", open(db, "rb").read() == before_db)
rc, out, err = users(home, "add", "q", "1", "1", "/q", password="p")
check("malformed-blocks-edits", rc == 100 and "broken line" in text())
with open(src, "w") as f:
    f.write(good)
rc, out, err = users(home)
check("compile-after-fix", rc == 0, err)

# kill -9 at random instants while rebuilding 100,000 users: the cdb is
# always a whole database (old or new), the source always parses.
big = tmpdir("users-big")
os.makedirs(os.path.join(big, "users"), exist_ok=True)
bsrc = os.path.join(big, "users", "users")
bdb = os.path.join(big, "users", "users.cdb")
with open(bsrc, "w") as f:
    for i in range(100000):
        f.write("user%d:$y$j9T$abcdefghijklmnopqrstuv$%043d:%d:%d:/home/user%d\n" % (i, i, 1000 + i, 1000 + i, i))
rc, out, err = users(big)
check("big-compile", rc == 0 and len(cdb_read(bdb)) == 100000, err)
t0 = time.time()
users(big, "add", "timing", "1", "1", "/t", password="p")
span = max(time.time() - t0, 0.05)
users(big, "del", "timing")
random.seed(os.getpid())
broken = 0
counts = set()
kills = 0
iters = 12 if SAN else 25
for it in range(iters):
    args = random.choice([[], ["add", "k%d" % it, "5", "5", "/k"], ["del", "user%d" % it]])
    p = subprocess.Popen([prog("postie-users")] + args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env_for(big))
    p.stdin.write(b"pw\n")
    p.stdin.close()
    time.sleep(random.uniform(0, span * 1.2))
    p.send_signal(signal.SIGKILL)
    if p.wait() == -signal.SIGKILL:
        kills += 1
    try:
        recs = cdb_read(bdb)
        counts.add(len(recs))
        if b"user99999" not in recs or b"user99999" not in cdb_read(os.path.join(big, "users", "passwords.cdb")):
            broken += 1
    except (ValueError, OSError) as e:
        broken += 1
        print("cdb broken after kill %d: %s" % (it, e))
    lines = [l for l in open(bsrc).read().split("\n") if l]
    if any(l.count(":") != 4 for l in lines):
        broken += 1
    # Bring the cdb up to date with the source before the next round, as
    # an administrator would after a crash.
    if it % 5 == 4:
        rc, out, err = users(big)
        if rc != 0 or len(cdb_read(bdb)) != len(lines):
            broken += 1
print("kill -9 rounds: %d, killed while running: %d, record counts seen: %d" % (iters, kills, len(counts)))
check("kill9-never-broken", broken == 0, "%d broken states" % broken)
check("kill9-some-killed", kills > 0, "no kill landed")
rc, out, err = users(big)
check("kill9-recompile", rc == 0, err)
done()
