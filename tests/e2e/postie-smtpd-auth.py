#!/usr/bin/python3
"""SMTP AUTH through the real chain: postie-smtpd runs postie-checkpassword
against a users database built by postie-users. swaks and msmtp as clients:
a good password relays and the Received line says ESMTPA with the user; a
bad one does not relay; failures are delayed and counted, and the session
ends after control/maxauthfail of them; SMTPAUTH=required (the submission
service) refuses MAIL before AUTH."""
import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import Launcher, queued, clear_queue, file_reply
from poptest import users

home = mkinstance(tmpdir("smtp-auth"), {"me": "mx.test.example", "rcpthosts": "local.example",
                                        "locals": "local.example", "authfaildelay": "1", "maxauthfail": "3"})
uhome = os.path.join(home, "alice")
os.makedirs(uhome, exist_ok=True)
rc, _, err = users(home, "add", "alice", "4242", "4242", uhome, password="s3cret pw")  # uid 0 may never log in
check("users-add", rc == 0, err)
CPW = [prog("postie-checkpassword"), "-a", "true"]
L = Launcher(home, CPW)
Lsub = Launcher(home, CPW, env={"SMTPAUTH": "required"})


def swaks(port, *args):
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--helo", "client.example",
                        "--timeout", "20"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


for mech in ("PLAIN", "LOGIN"):
    clear_queue(home)
    rc, out = swaks(L.port, "--from", "alice@local.example", "--to", "friend@remote.example",
                    "--auth", mech, "--auth-user", "alice", "--auth-password", "s3cret pw")
    q = queued(home)
    check("swaks-%s-good-relays" % mech, rc == 0 and len(q) == 1 and q[0][3] == ["friend@remote.example"], out[-400:])
    if q:
        hdr = q[0][1].split(b"\n\n")[0]
        check("swaks-%s-received-esmtpa" % mech, b"with ESMTPA" in hdr and b"alice" in hdr, hdr[:300])
    clear_queue(home)
    rc, out = swaks(L.port, "--from", "alice@local.example", "--to", "friend@remote.example",
                    "--auth", mech, "--auth-user", "alice", "--auth-password", "wrong")
    check("swaks-%s-bad-no-relay" % mech, rc != 0 and "535" in out and not queued(home), out[-400:])
    rc, out = swaks(L.port, "--from", "x@remote.example", "--to", "friend@remote.example",
                    "--auth", mech, "--auth-user", "nobody-here", "--auth-password", "s3cret pw")
    check("swaks-%s-unknown-user-no-relay" % mech, rc != 0 and "535" in out and not queued(home), out[-400:])

# Without AUTH, relaying is refused; local delivery is not.
rc, out = swaks(L.port, "--from", "x@remote.example", "--to", "friend@remote.example")
check("no-auth-no-relay", rc != 0 and "554 5.7.1" in out and not queued(home), out[-400:])

# msmtp, a different client, with a configuration file of its own.
conf = os.path.join(home, "msmtprc")
def msmtp(password, rcpt):
    with open(conf, "w") as f:
        f.write("account t\nhost 127.0.0.1\nport %d\nfrom alice@local.example\nauth plain\nuser alice\n"
                "password %s\ntls off\ndomain client.example\naccount default : t\n" % (L.port, password))
    os.chmod(conf, 0o600)
    p = subprocess.run(["msmtp", "-C", conf, rcpt], input=b"Subject: via msmtp\n\nhello\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")
clear_queue(home)
rc, out = msmtp("s3cret pw", "friend@remote.example")
q = queued(home)
check("msmtp-good-relays", rc == 0 and len(q) == 1 and q[0][3] == ["friend@remote.example"], out)
clear_queue(home)
rc, out = msmtp("nope", "friend@remote.example")
check("msmtp-bad-no-relay", rc != 0 and not queued(home), out)

# Failed attempts are delayed, counted, and end the session.
s = socket.create_connection(("127.0.0.1", L.port), 10)
f = s.makefile("rb")
def reply():
    return file_reply(f)
reply()
s.sendall(b"EHLO c.example\r\n"); reply()
import base64
bad = b"AUTH PLAIN " + base64.b64encode(b"\0alice\0wrong") + b"\r\n"
t0 = time.time()
s.sendall(bad); r1 = reply()
t1 = time.time()
s.sendall(bad); r2 = reply()
s.sendall(bad); r3 = reply()
rest = f.read()
check("auth-fail-delayed", r1.startswith(b"535") and t1 - t0 >= 0.9, "%r %.2f" % (r1, t1 - t0))
check("auth-fail-counted-then-closed", r2.startswith(b"535") and r3.startswith(b"421") and rest == b"", repr((r2, r3, rest)))
s.close()

# The submission service: AUTH before MAIL.
rc, out = swaks(Lsub.port, "--from", "alice@local.example", "--to", "alice@local.example")
check("submission-requires-auth", rc != 0 and "530" in out and not queued(home), out[-400:])
rc, out = swaks(Lsub.port, "--from", "alice@local.example", "--to", "friend@remote.example",
                "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "s3cret pw")
check("submission-with-auth", rc == 0 and len(queued(home)) == 1, out[-400:])
L.close(); Lsub.close()
done()
