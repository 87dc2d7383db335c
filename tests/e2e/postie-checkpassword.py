#!/usr/bin/python3
"""postie-checkpassword: good, bad and unknown logins, the uid drop and the
environment (each of USER, HOME, SHELL, MAILDIR once, when the caller's
environment holds them twice), misuse exits, temporary errors, and timing
of an unknown user against a wrong password (loose: the dummy hash must
make them comparable)."""
import atexit, os, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import users, public_tmp
from rawenv import RawEnv, showenv_script, entries, values

home = tmpdir("checkpassword")
os.makedirs(os.path.join(home, "users"), exist_ok=True)
pub = public_tmp("checkpassword")
atexit.register(shutil.rmtree, pub, True)
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
os.makedirs(uhome)
if root:
    os.chown(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="correct horse")
users(home, "add", "bob", str(uid), str(gid), uhome, "/var/mail/bob/", password="bob's pw")
users(home, "add", "-n", "nologin", str(uid), str(gid), uhome)
users(home, "add", "rootish", "0", "0", uhome, password="rootpw")
users(home, "add", "gidroot", str(uid), "0", uhome, password="gidpw")
users(home, "add", "gone", str(uid), str(gid), "/nonexistent/home", password="gonepw")

REPORT = 'echo "$(id -u) $(id -g) $(id -G) $(pwd) $USER $HOME $SHELL $MAILDIR"'


def run(inp, argv=None, fd3=True, env=None):
    """postie-checkpassword with inp on fd 3. Returns (rc, stdout, stderr)."""
    argv = argv if argv is not None else ["sh", "-c", REPORT]
    r, w = os.pipe()
    os.write(w, inp)
    os.close(w)
    def child():
        # Python's own descriptors are close-on-exec: only fd 3 (a dup2
        # copy, inheritable) goes through.
        if fd3:
            os.dup2(r, 3) if r != 3 else os.set_inheritable(3, True)
        else:
            try:
                os.close(3)
            except OSError:
                pass
    p = subprocess.run([prog("postie-checkpassword")] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env or env_for(home), timeout=30, close_fds=False, preexec_fn=child)
    os.close(r)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


rc, out, err = run(b"alice\0correct horse\0<123.456@x>\0")
check("good-exit-0", rc == 0, "rc=%d %s" % (rc, err))
f = out.split()
check("good-env", f[-5:] == [uhome, "alice", uhome, "/bin/sh", "Maildir/"], out)
if root:
    check("good-uid-drop", f[0] == str(uid) and f[1] == str(gid) and f[2:-5] == [str(gid)], out)
else:
    skip("good-uid-drop", "not running as root")
rc, out, err = run(b"ALICE\0correct horse\0")
check("good-any-case", rc == 0 and " alice " in out, out + err)
rc, out, err = run(b"bob\0bob's pw\0")
check("good-maildir-env", rc == 0 and out.split()[-1] == "/var/mail/bob/", out + err)
rc, out, err = run(b"alice\0correct horse\0", argv=["true"])
check("exec-args", rc == 0, err)
rc, out, err = run(b"gone\0gonepw\0", argv=["-a", "sh", "-c", REPORT])
f = out.split()
check("authonly", rc == 0 and f[0] == str(os.geteuid()) and f[-5:] == [os.getcwd(), "gone", "/nonexistent/home", "/bin/sh", "Maildir/"], out + err)
rc, out, err = run(b"gone\0wrong\0", argv=["-a", "true"])
check("authonly-bad", rc == 1, err)
rc, out, err = run(b"rootish\0rootpw\0", argv=["-a", "true"])
check("authonly-uid0-refused", rc == 1, err)
rc, out, err = run(b"gone\0gonepw\0", argv=["-x", "true"])
check("misuse-bad-option", rc == 2, err)

for name, inp in [("wrong-password", b"alice\0correct horsE\0"),
                  ("empty-password", b"alice\0\0"),
                  ("prefix-password", b"alice\0correct\0"),
                  ("unknown-user", b"mallory\0correct horse\0"),
                  ("empty-user", b"\0x\0"),
                  ("no-password-user", b"nologin\0\0"),
                  ("no-password-user-bang", b"nologin\0!\0"),
                  ("uid0-user", b"rootish\0rootpw\0"),
                  ("gid0-user", b"gidroot\0gidpw\0"),
                  ("long-user", b"a" * 300 + b"\0x\0")]:
    rc, out, err = run(inp)
    check(name + "-exit-1", rc == 1 and out == "", "rc=%d out=%r err=%r" % (rc, out, err))
rc, out, err = run(b"mallory\0x\0")
check("log-line", "login failed for mallory" in err and "unknown user" in err, err)
rc, out, err = run(b"al\x01ce\nx\0x\0")
check("log-line-sanitized", "al?ce?x" in err and "\n" not in err.strip(), repr(err))

# The environment prog gets, when the caller's holds USER, HOME, SHELL
# and MAILDIR twice each (nothing makes an environment's names unique):
# each once, the database's value; the duplicate after the first (what a
# first-match replacement leaves, and a reader of the last would take),
# or before; others (HOMEDIR, USERNAME: HOME and USER begin them) unchanged.
show = showenv_script(pub)
base = [(k, v) for k, v in env_for(home).items() if k not in ("HOME", "USER", "SHELL", "MAILDIR", "HOMEDIR", "USERNAME")]
dups = {"after": base + [("HOME", "/evil"), ("USER", "mallory"), ("SHELL", "/bin/evil"), ("MAILDIR", "/evil/md"),
                         ("HOMEDIR", "/keep"), ("USERNAME", "keep"),
                         ("HOME", "/evil2"), ("USER", "mallory2"), ("SHELL", "/bin/evil2"), ("MAILDIR", "/evil2/md")],
        "before": base + [("HOME", "/evil"), ("HOME", "/evil2"), ("USER", "x"), ("USER", "y"),
                          ("HOMEDIR", "/keep"), ("USERNAME", "keep")]}
want = {"HOME": [uhome], "USER": ["bob"], "SHELL": ["/bin/sh"], "MAILDIR": ["/var/mail/bob/"]}
for mode, argv in (("login", [show]), ("authonly", ["-a", show])):
    for name, pairs in dups.items():
        rc, out, err = run(b"bob\0bob's pw\0", argv=argv, env=RawEnv(pairs))
        block = entries(out.encode())
        got = {k: values(block, k) for k in want}
        check("%s-dup-%s-each-once" % (mode, name), rc == 0 and got == want, (rc, got, err, block))
        check("%s-dup-%s-others-kept" % (mode, name), rc == 0 and values(block, "HOMEDIR") == ["/keep"]
              and values(block, "USERNAME") == ["keep"] and values(block, "POSTIE_HOME") == [home], block)
        check("%s-dup-%s-no-stale-value" % (mode, name),
              rc == 0 and block and not [e for e in block if "evil" in e or "mallory" in e or e in ("USER=x", "USER=y")], block)

# Misuse: exit 2.
rc, out, err = run(b"alice\0correct horse\0", argv=[])
check("misuse-no-program", rc == 2, "rc=%d" % rc)
rc, out, err = run(b"alice\0correct horse\0", fd3=False)
check("misuse-no-fd3", rc == 2, "rc=%d %s" % (rc, err))
rc, out, err = run(b"alice")
check("misuse-no-nul", rc == 2, "rc=%d" % rc)
rc, out, err = run(b"alice\0correct horse")
check("misuse-no-second-nul", rc == 2, "rc=%d" % rc)
rc, out, err = run(b"")
check("misuse-empty", rc == 2, "rc=%d" % rc)
rc, out, err = run(b"alice\0" + b"x" * 600)
check("misuse-overlong", rc == 2, "rc=%d" % rc)

# Temporary errors: exit 111.
rc, out, err = run(b"gone\0gonepw\0")
check("temp-no-home", rc == 111, "rc=%d %s" % (rc, err))
rc, out, err = run(b"alice\0correct horse\0", argv=["/nonexistent/program"])
check("temp-exec", rc == 111, "rc=%d %s" % (rc, err))
rc, out, err = run(b"alice\0correct horse\0", env=env_for("/nonexistent/instance"))
check("temp-no-instance", rc == 111, "rc=%d %s" % (rc, err))
db = os.path.join(home, "users", "users.cdb")
os.rename(db, db + ".away")
rc, out, err = run(b"alice\0correct horse\0")
# a missing database is a temporary failure naming the file, never "unknown user"
check("no-database-temporary", rc == 111 and "users/users.cdb" in err, "rc=%d %s" % (rc, err))
with open(db, "wb") as f:
    f.write(b"\xff" * 100)
rc, out, err = run(b"alice\0correct horse\0")
check("broken-database-temp", rc == 111, "rc=%d %s" % (rc, err))
os.rename(db + ".away", db)

# Timing: an unknown user costs a dummy crypt, like a wrong password.
# Loose bound, minimum of several runs; not asserted under sanitizers.
def best(inp, n=7):
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        run(inp, argv=["true"])
        t.append(time.perf_counter() - t0)
    return min(t)
best(b"alice\0x\0", 2)
tw = best(b"alice\0wrong password\0")
tu = best(b"mallory\0wrong password\0")
tn = best(b"nologin\0wrong password\0")
print("timing: wrong password %.1f ms, unknown user %.1f ms, no-password user %.1f ms" % (tw * 1000, tu * 1000, tn * 1000))
if SAN:
    skip("timing-comparable", "timings under sanitizers are meaningless")
else:
    check("timing-comparable", tw / 3 < tu < tw * 3 and tw / 3 < tn < tw * 3, "%.4f %.4f %.4f" % (tw, tu, tn))
done()
