#!/usr/bin/python3
"""postie-setup: what an instance holds, running it twice changes nothing
(byte for byte), -n changes nothing, the admin's changes are kept, bad
arguments are refused; make install into a DESTDIR, and the installed
postie-setup creates an instance."""
import os, re, stat, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

need = missing(["postie-setup", "postie-users"])
if need:
    for n in ("setup-creates", "setup-twice-unchanged", "install"):
        skip(n, "missing programs: " + " ".join(need))
    done()

base = scratch("setup")
home = os.path.join(base, "inst")
ports = (free_port(), free_port(), free_port())

# A dry run on nothing creates nothing and says what it would add.
r = setup(home, ports, extra=["-n"])
out = r.stdout.decode()
check("dry-run-exit-0", r.returncode == 0, r.stderr.decode())
check("dry-run-creates-nothing", not os.path.exists(home), "%s exists" % home)
check("dry-run-lists", "would add directory %s/queue/todo/63" % home in out
      and "would add file %s/service/smtpd/run" % home in out, out[-500:])

# The instance.
r = setup(home, ports)
check("setup-exit-0", r.returncode == 0, r.stderr.decode())
expect = ["control/me", "control/locals", "control/rcpthosts", "control/databytes",
          "control/concurrencylocal", "control/concurrencyremote", "control/queuelifetime",
          "queue/tmp", "queue/todo/0", "queue/todo/63", "queue/defer/63", "users/users", "users/users.cdb",
          "rules/smtpd.cdb", "rules/submission.cdb", "mail", "log/smtpd", "log/submission", "log/pop3d", "log/send"]
for s in ("smtpd", "submission", "pop3d", "send"):
    expect += ["service/%s/run" % s, "service/%s/log/run" % s, "service/%s/env/POSTIE_HOME" % s,
               "service/%s/log/notification-fd" % s]
absent = [e for e in expect if not os.path.exists(os.path.join(home, e))]
check("setup-creates", not absent, "missing: %r" % absent)
check("setup-trigger-fifo", stat.S_ISFIFO(os.stat(os.path.join(home, "queue/trigger")).st_mode))
check("setup-me", open(os.path.join(home, "control/me")).read() == "a.example\n")
check("setup-locals", open(os.path.join(home, "control/locals")).read() == "a.example\nlocalhost\n")
check("setup-ports", open(os.path.join(home, "service/smtpd/env/PORT")).read() == "%d\n" % ports[0]
      and open(os.path.join(home, "service/submission/env/PORT")).read() == "%d\n" % ports[1]
      and open(os.path.join(home, "service/pop3d/env/PORT")).read() == "%d\n" % ports[2]
      and open(os.path.join(home, "service/smtpd/env/IP")).read() == "127.0.0.1\n")
run = open(os.path.join(home, "service/smtpd/run")).read()
check("setup-run-script", run.startswith("#!") and "s6-envdir env" in run and "postie-tcpserver" in run
      and "postie-smtpd" in run and "@" not in run.replace("@U_", ""), run)
check("setup-owner", all(os.lstat(os.path.join(home, e)).st_uid == RUN_UID for e in expect),
      "not all owned by uid %d" % RUN_UID)
check("setup-queue-private", stat.S_IMODE(os.stat(os.path.join(home, "queue")).st_mode) & 0o007 == 0)
check("setup-users-private", stat.S_IMODE(os.stat(os.path.join(home, "users")).st_mode) & 0o007 == 0)
check("setup-smtpauth-private", stat.S_IMODE(os.stat(os.path.join(home, "control", "smtpauth")).st_mode) == 0o600)
lr = open(os.path.join(home, "service/smtpd/log/run")).read()
check("setup-log-run", "s6-log" in lr and " t " in lr and "s1000000" in lr and "n10" in lr
      and os.path.join(home, "log", "smtpd") in lr, lr)
# The access rules: deny nobody, relay nobody (AUTH only); submission requires AUTH.
r2 = subprocess.run(["s6-accessrules-fs-from-cdb", os.path.join(base, "dump"), os.path.join(home, "rules/submission.cdb")],
                    capture_output=True)
check("setup-rules-cdb", r2.returncode == 0 and
      open(os.path.join(base, "dump/ip4/0.0.0.0_0/env/SMTPAUTH")).read() == "required\n", r2.stderr.decode())
check("setup-no-relayclient", "RELAYCLIENT" not in subprocess.run(["find", os.path.join(home, "rules")],
      capture_output=True, text=True).stdout)

# Twice: byte for byte the same (contents, modes, owners, mtimes).
before = tree_snapshot(home)
r = setup(home, ports)
after = tree_snapshot(home)
diff = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
check("setup-twice-unchanged", r.returncode == 0 and not diff, "changed: %r %s" % (diff[:10], r.stderr.decode()))
check("setup-twice-says-nothing", "nothing to add" in r.stdout.decode() and "add " not in
      r.stdout.decode().replace("nothing to add", ""), r.stdout.decode()[-300:])

# The admin's changes are kept; what was removed comes back, and is reported.
write(os.path.join(home, "control/databytes"), "1234\n")
os.unlink(os.path.join(home, "service/pop3d/env/MAXCONN"))
r = setup(home, ports)
check("setup-keeps-admin-change", open(os.path.join(home, "control/databytes")).read() == "1234\n")
check("setup-restores-missing", os.path.exists(os.path.join(home, "service/pop3d/env/MAXCONN"))
      and "add file %s/service/pop3d/env/MAXCONN" % home in r.stdout.decode(), r.stdout.decode())

# Bad arguments: refused before anything is created.
for name, args in (("bad-port", ["-p", "25,x,110"]), ("bad-port-count", ["-p", "25,587"]),
                   ("port-range", ["-p", "25,587,70000"]), ("bad-ip", ["-i", "1.2.3.4;rm"]),
                   ("bad-host", ["-m", "a b"]), ("relative-spool", ["-S", "spool"]),
                   ("extra-arg", ["junk"])):
    d = os.path.join(base, "bad-" + name)
    r = run_as([prog("postie-setup"), "-u", "-d", d] + args)
    check("setup-refuses-" + name, r.returncode == 100 and not os.path.exists(d),
          "rc=%d %s" % (r.returncode, r.stderr.decode()))
if not ROOT:
    r = run_as([prog("postie-setup"), "-s", "-d", os.path.join(base, "sys")])
    check("setup-system-needs-root", r.returncode == 100)
else:
    # The system mode, as a dry run only (a real one adds accounts to the
    # machine): what it would lay out, and that it touches nothing.
    sysd = os.path.join(base, "sys")
    r = subprocess.run([prog("postie-setup"), "-s", "-n", "-d", sysd, "-S", sysd + "-spool", "-L", sysd + "-log",
                        "-m", "sys.example"], capture_output=True, text=True, env=env_for("/nonexistent"))
    o = r.stdout
    check("setup-system-dry-run", r.returncode == 0 and not os.path.exists(sysd)
          and not os.path.exists(sysd + "-spool") and not os.path.exists(sysd + "-log")
          and "would add symbolic link %s/queue -> %s-spool/queue" % (sysd, sysd) in o
          and "would add symbolic link %s/log -> %s-log" % (sysd, sysd) in o
          and "would add directory %s/queue/mess/63" % sysd in o
          and "would add named pipe %s/queue/trigger" % sysd in o
          and "/service/send/bin/" not in o
          and "would add file %s/rules/smtpd/ip4/127.0.0.0_8/env/RELAYCLIENT" % sysd in o, r.stderr + o[-800:])

# make install, into a DESTDIR (a package's staging area) ...
stage = os.path.join(base, "stage")
build = os.path.relpath(BUILD, TOP)
r = subprocess.run(["sh", os.path.join(TOP, "package", "install"), build, stage, "/usr/local"],
                   capture_output=True, cwd=TOP)
check("install-destdir-exit-0", r.returncode == 0, r.stderr.decode())
progs = [p for p in open(os.path.join(TOP, "TARGETS")).read().split() if not p.startswith("#")]
inst = [p for p in progs if not os.access(os.path.join(stage, "usr/local/bin", p), os.X_OK)]
check("install-destdir-programs", not inst, "not installed: %r" % inst)
check("install-destdir-sbin-sendmail", os.readlink(os.path.join(stage, "usr/local/sbin/sendmail")) == "/usr/local/bin/sendmail")
for n in ("lib/sendmail", "bin/mailq", "bin/newaliases"):
    l = os.path.join(stage, "usr/local", n)
    check("install-destdir-" + n.replace("/", "-"), os.path.islink(l) and os.readlink(l) == "/usr/local/bin/sendmail",
          os.readlink(l) if os.path.islink(l) else "missing")
check("install-destdir-docs", os.path.exists(os.path.join(stage, "usr/local/share/doc/postie/queue.md")))
check("install-destdir-templates", os.path.exists(os.path.join(stage, "usr/local/share/postie/templates/service/smtpd/run")))
st = open(os.path.join(stage, "usr/local/bin/postie-setup")).read()
check("install-setup-paths", "BINDIR='/usr/local/bin'" in st and "TEMPLATES='/usr/local/share/postie/templates'" in st
      and stage not in st)
nm = subprocess.run(["nm", os.path.join(stage, "usr/local/bin/postie-queue")], capture_output=True, text=True)
check("install-stripped", "no symbols" in nm.stderr, nm.stdout[:200] + nm.stderr)

# ... and for real under a prefix: the installed postie-setup makes an
# instance whose services name the installed programs.
prefix = os.path.join(base, "prefix")
r = subprocess.run(["sh", os.path.join(TOP, "package", "install"), build, "", prefix], capture_output=True, cwd=TOP)
check("install-prefix-exit-0", r.returncode == 0, r.stderr.decode())
if ROOT:
    subprocess.run(["chmod", "-R", "a+rX", prefix])
ihome = os.path.join(base, "inst2")
env = {"PATH": os.path.join(prefix, "bin") + ":/usr/bin:/bin"}
r = subprocess.run(RUNAS + [os.path.join(prefix, "bin/postie-setup"), "-u", "-d", ihome, "-m", "b.example"],
                   capture_output=True, env=env)
check("install-setup-works", r.returncode == 0 and os.path.exists(os.path.join(ihome, "users/users.cdb"))
      and os.path.exists(os.path.join(ihome, "service/send/run")), r.stderr.decode())
path = open(os.path.join(ihome, "service/smtpd/env/PATH")).read() if r.returncode == 0 else ""
check("install-setup-uses-installed", path.startswith(os.path.join(prefix, "bin") + ":"), path)

# doc/index.md lists every page of doc/.
docdir = os.path.join(TOP, "doc")
index = open(os.path.join(docdir, "index.md")).read()
linked = set(re.findall(r"\]\(([A-Za-z0-9_.-]+\.md)\)", index))
pages = {n for n in os.listdir(docdir) if n.endswith(".md") and n != "index.md"}
check("doc-index-lists-every-page", pages <= linked, "not in doc/index.md: %r" % sorted(pages - linked))
for n in sorted(linked - pages):
    skip("doc-index-" + n, "doc/index.md links %s, which does not exist (yet)" % n)
done()
