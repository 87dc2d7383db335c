#!/usr/bin/python3
"""Configuration slips never lose mail (issue 15): a missing or unreadable
users/users.cdb, or a missing required control file (me, locals,
rcpthosts, aliases), is a temporary failure everywhere, with one log line
naming the file: postie-send keeps the message and delivers it once the
file is back; RCPT gets 451 4.3.0; AUTH 454 4.7.0; POP3 -ERR [SYS/TEMP];
postie-smtpd, postie-inject and postie-remote refuse to start their work
without control/me rather than call themselves "localhost"."""
import os, shutil, signal, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import Instance, UID, GID
from postietest import *
import smtpdtest
from poptest import users, Pop3Server, Raw as PopRaw, make_maildir, chown_r, public_tmp
from remotetest import run_remote

DB = lambda home: os.path.join(home, "users", "users.cdb")

# ---- postie-send: the users database missing while mail arrives ----
i = Instance("config-slips-send", control={
    "locals": "example.org", "me": "mx.example.org", "scaninterval": "1",
    "aliases": "postmaster: alice\n",
})
i.start()
os.rename(DB(i.home), DB(i.home) + ".away")
qid = i.inject("alice@example.org", ["bob@example.org"], b"Subject: keep me\n\nbody\n")
time.sleep(2.5)
log = i.logtext()
check("send-nodb-not-delivered", not i.mails("bob"))
check("send-nodb-no-bounce", not i.mails("alice"), i.mails("alice")[:1])
check("send-nodb-kept", not i.queue_empty())
check("send-nodb-logged", qid in log and "users/users.cdb" in log and "No such file" in log, log[-600:])
os.rename(DB(i.home) + ".away", DB(i.home))
check("send-nodb-delivered-later", i.wait(lambda: len(i.mails("bob")) == 1, 20), i.logtext()[-600:])
check("send-nodb-still-no-bounce", not i.mails("alice"))
check("send-nodb-queue-empty", i.wait(i.queue_empty, 10))

# control/aliases gone, then SIGHUP: the old settings stay whole (postmaster
# still reaches alice), and the log names the file.
bobs = len(i.mails("bob"))
os.rename(os.path.join(i.home, "control", "aliases"), os.path.join(i.home, "control", "aliases.away"))
i.signal(signal.SIGHUP)
time.sleep(0.5)
i.inject("bob@example.org", ["postmaster@example.org"], b"Subject: to postmaster\n\nx\n")
check("send-hup-missing-aliases-kept", i.wait(lambda: len(i.mails("alice")) == 1, 10), i.logtext()[-600:])
check("send-hup-missing-aliases-logged", "control/aliases" in i.logtext(), i.logtext()[-600:])
check("send-hup-no-bounce", len(i.mails("bob")) == bobs)
i.stop()
# ... and at start-up postie-send refuses to run (s6 restarts it; the
# queue stays as it is) instead of running without aliases.
p = subprocess.Popen([prog("postie-send")], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, env=i.env(), start_new_session=True)
try:
    out = p.communicate(timeout=10)[0].decode(errors="replace")
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    out = "still running: " + p.communicate()[0].decode(errors="replace")[-300:]
check("send-start-missing-aliases", p.returncode == 111 and "control/aliases" in out, "rc=%s %s" % (p.returncode, out))
os.rename(os.path.join(i.home, "control", "aliases.away"), os.path.join(i.home, "control", "aliases"))

# ---- postie-lspawn: the database gone between pick-up and delivery ----
linst = mkinstance(tmpdir("config-slips-lspawn"))
mess = os.path.join(linst, "queue", "mess", "0")
os.makedirs(mess, exist_ok=True)
with open(os.path.join(mess, "100"), "w") as f:
    f.write("Subject: x\n\ny\n")
os.unlink(DB(linst))
payload = b"".join(x + b"\0" for x in (b"0", b"queue/mess/0/100", b"bob", b"bob", b"", b"example.org", b"a@example.com"))
p = subprocess.run([prog("postie-lspawn"), "10", "10"], input=str(len(payload)).encode() + b":" + payload + b",",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=linst, env=env_for(linst), timeout=30)
check("lspawn-nodb-temporary", b"\0Zunable to read users/users.cdb (#4.3.0): No such file" in p.stdout, repr(p.stdout))

# ---- postie-smtpd: RCPT and AUTH ----
home = smtpdtest.smtpd_instance("config-slips-smtpd", {"locals": "local.example", "rcpthosts": "local.example"})
uhome = os.path.join(home, "alice")
os.makedirs(uhome, exist_ok=True)
rc, _, err = users(home, "add", "alice", "4242", "4242", uhome, password="pw")
check("users-add", rc == 0, err)
L = smtpdtest.Launcher(home, [prog("postie-checkpassword"), "-a", "true"])


def rcpt(to):
    c = smtpdtest.Raw(L.port)
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@remote.example>")
    r = c.cmd("RCPT TO:<%s>" % to)
    c.cmd("QUIT")
    c.close()
    return r


def auth():
    import base64
    c = smtpdtest.Raw(L.port)
    c.cmd("EHLO client.example")
    r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0pw").decode())
    c.cmd("QUIT")
    c.close()
    return r


check("rcpt-db-ok", rcpt("alice@local.example")[0] == 250)
check("auth-db-ok", auth()[0] == 235)
os.rename(DB(home), DB(home) + ".away")
r = rcpt("alice@local.example")
check("rcpt-nodb-451", r[0] == 451 and r[1][0].startswith("4.3.0"), r)
check("rcpt-nodb-logged", "unable to read users/users.cdb: No such file" in L.logtext(), L.logtext()[-400:])
r = auth()
check("auth-nodb-454", r[0] == 454 and r[1][0].startswith("4.7.0"), r)
check("auth-nodb-logged", L.logtext().count("users/users.cdb") >= 2, L.logtext()[-400:])
# unreadable: a directory where the database should be (root reads any file)
os.mkdir(DB(home))
before = L.logtext().count("users/users.cdb")
r = rcpt("alice@local.example")
check("rcpt-unreadable-451", r[0] == 451 and r[1][0].startswith("4.3.0"), r)
check("rcpt-unreadable-logged", L.logtext().count("unable to read users/users.cdb") > before, L.logtext()[-400:])
os.rmdir(DB(home))
os.rename(DB(home) + ".away", DB(home))
check("rcpt-db-back", rcpt("alice@local.example")[0] == 250)

# required control files: without one the session starts with 421 and a
# log line naming it (not "relaying denied" or "no such user" for all)
for name in ("rcpthosts", "locals", "aliases", "me"):
    f = os.path.join(home, "control", name)
    os.rename(f, f + ".away")
    c = smtpdtest.Raw(L.port)
    g = c.greeting
    c.close()
    check("smtpd-missing-%s-421" % name, g[0] == 421 and g[1][0].startswith("4.3.0"), g)
    check("smtpd-missing-%s-logged" % name, ("unable to read control/%s: No such file" % name) in L.logtext(), L.logtext()[-300:])
    os.rename(f + ".away", f)
check("smtpd-all-back", rcpt("alice@local.example")[0] == 250)
L.close()

# ---- POP3: -ERR [SYS/TEMP] ----
phome = mkinstance(tmpdir("config-slips-pop"))
pub = public_tmp("config-slips")
try:
    make_maildir(os.path.join(pub, "Maildir"), UID, GID)
    chown_r(pub, UID, GID)
    rc, _, err = users(phome, "add", "carol", str(UID), str(GID), pub, password="pw")
    check("pop-users-add", rc == 0, err)
    srv = Pop3Server(phome)
    try:
        c = PopRaw(srv.port)
        c.line()
        c.cmd(b"USER carol")
        ok = c.cmd(b"PASS pw")
        c.cmd(b"QUIT")
        c.close()
        check("pop-db-ok", ok.startswith(b"+OK"), ok)
        os.rename(DB(phome), DB(phome) + ".away")
        c = PopRaw(srv.port)
        c.line()
        c.cmd(b"USER carol")
        r = c.cmd(b"PASS pw")
        c.close()
        check("pop-nodb-systemp", r.startswith(b"-ERR [SYS/TEMP]"), r)
        time.sleep(0.2)
        check("pop-nodb-logged", "unable to read users/users.cdb: No such file" in srv.stderr(), srv.stderr()[-400:])
    finally:
        srv.stop()
finally:
    shutil.rmtree(pub, ignore_errors=True)

# ---- postie-inject and postie-remote without control/me ----
ihome = mkinstance(tmpdir("config-slips-inject"))
os.unlink(os.path.join(ihome, "control", "me"))
p = subprocess.run([prog("postie-inject"), "root"], input=b"Subject: cron\n\nx\n", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, env=env_for(ihome), timeout=30)
check("inject-no-me-refused", p.returncode != 0 and b"control/me" in p.stderr and not queue_files(ihome),
      "rc=%d %r" % (p.returncode, p.stderr))
rc, lines, err, _ = run_remote(ihome, "remote.example", "a@b.example", ["x@remote.example"], b"Subject: x\n\ny\n")
check("remote-no-me-temporary", lines and all(l.startswith("Z") for l in lines) and "control/me" in lines[-1], lines)
done()
