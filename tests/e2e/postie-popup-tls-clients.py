#!/usr/bin/python3
"""postie-popup's STLS and POP3S with what pop3-tls.py does not cover:
s-nail (OpenSSL) reading the mailbox over STLS and over POP3S, verifying
the instance's certificate, and refusing one its CA file does not vouch
for; hostile handshakes after STLS (garbage, a client stopping
mid-handshake, a huge record) end the session with a log line, never a
crash, and postie-pop3d never runs. s-nail finds the server by name
(pop.test) in a private /etc/hosts, in the test's own mount namespace:
no DNS."""
import os, shutil, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from tcp import Server, readline
from tlstest import make_cert, hostile_handshakes

NAMES = ["s-nail-stls", "s-nail-pop3s", "s-nail-wrong-ca-refused"]
own_mount_namespace(NAMES)

pub = public_tmp("popup-tls-clients")
sandir = san_reports_into(pub)
home = pop_instance(pub)
hosts = os.path.join(pub, "hosts")
with open(hosts, "w") as f:
    f.write("127.0.0.1 localhost\n127.0.0.1 pop.test\n")
os.chmod(hosts, 0o644)
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
ca = make_cert(home, "pop.test")
other = make_cert(os.path.join(pub, "other"), "pop.test")
uid, gid = 4242, 4243
uhome = os.path.join(pub, "alice")
md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
chown_r(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
POPUP = [prog("postie-popup"), "pop.test", prog("postie-checkpassword"), prog("postie-pop3d")]
env = {"POSTIE_HOME": home}
req = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-K", "1500", "-r"] + POPUP, os.path.join(pub, "req.log"), env=env)
imp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-K", "1500"] + POPUP, os.path.join(pub, "imp.log"), env=env)


def s_nail(url, extra, cafile):
    """s-nail opens url, lists the headers, prints message 2, quits."""
    return subprocess.run(["s-nail", "-n", "-#", "-S", "v15-compat", "-S", "DEAD=" + os.path.join(pub, "dead"),
                           "-S", "tls-ca-file=" + cafile, "-S", "tls-ca-no-defaults", "-S", "tls-verify=strict",
                           "-S", "verbose"] + extra + ["-R", "-f", url],
                          input=b"headers\nprint 2\nquit\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, HOME=pub, MAILRC="/dev/null"), timeout=60)


try:
    for i in range(1, 3):
        deliver(md, b"From: a@example.org\nTo: alice@example.org\nSubject: message %d\n\nbody %d\n" % (i, i), uid, gid)

    for name, url, extra in (("s-nail-stls", "pop3://alice:alice%%20pw@pop.test:%d" % req.port, ["-S", "pop3-use-starttls"]),
                             ("s-nail-pop3s", "pop3s://alice:alice%%20pw@pop.test:%d" % imp.port, [])):
        p = s_nail(url, extra, ca)
        out = p.stdout.decode(errors="replace")
        check(name, p.returncode == 0 and "TLS certificate ok" in out and "TLS connection using TLSv1.2" in out
              and "message 1" in out and "Subject: message 2" in out and "body 2" in out, out[-1500:])
    p = s_nail("pop3://alice:alice%%20pw@pop.test:%d" % req.port, ["-S", "pop3-use-starttls"], other)
    out = p.stdout.decode(errors="replace")
    check("s-nail-wrong-ca-refused", "body 2" not in out and "TLS certificate ok" not in out, out[-800:])

    # Hostile handshakes after STLS: postie-tlsd logs each, and the
    # session ends without postie-pop3d.
    def after_stls():
        s = socket.create_connection(("127.0.0.1", req.port), 10)
        readline(s)
        s.sendall(b"STLS\r\n")
        return s, readline(s)

    before = req.logtext().count("handshake failed")
    logins = req.logtext().count("postie-pop3d: login")
    h = hostile_handshakes(after_stls, b"USER alice\r\nPASS alice pw\r\nSTAT\r\n" * 4)
    yes, got, _ = h["garbage"]
    check("stls-garbage-closed", yes.startswith(b"+OK") and b"+OK" not in got, (yes, got))
    _, got, el = h["stalled"]
    check("stls-stalled-ends", got == b"" and 1.0 < el < 8, "%r after %.1fs" % (got, el))
    _, got, _ = h["huge"]
    check("stls-huge-record-closed", b"+OK" not in got, got)
    t = req.wait_log(lambda t: t.count("handshake failed") >= before + 3 and t.count(" end pid ") >= 6)
    check("stls-hostile-logged", t.count("handshake failed") >= before + 3 and "handshake failed: handshake timed out" in t
          and "handshake failed: bad record length" in t, t[-1500:])
    check("stls-hostile-no-crash", "signal" not in t and "exit 111" not in t, t[-1500:])
    check("stls-hostile-no-pop3d", t.count("postie-pop3d: login") == logins, t[-1500:])
    # The mailbox is untouched, and the service still works.
    p = s_nail("pop3://alice:alice%%20pw@pop.test:%d" % req.port, ["-S", "pop3-use-starttls"], ca)
    check("after-hostile-still-serves", p.returncode == 0 and "body 2" in p.stdout.decode(errors="replace"),
          p.stdout.decode(errors="replace")[-800:])
finally:
    req.stop()
    imp.stop()
    if SAN:
        for n in os.listdir(sandir):
            print("FAIL sanitizer: " + open(os.path.join(sandir, n), errors="replace").read()[:2000])
    shutil.rmtree(pub, ignore_errors=True)
done()
