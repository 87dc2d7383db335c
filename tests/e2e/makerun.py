#!/usr/bin/python3
"""make run (package/run): creates the demo instance, prints the banner with
the demo user's password, serves SMTP and POP3 under s6-svscan; Ctrl-C
(SIGINT to the foreground process group) brings every service down and
returns; a second run reuses the instance and the password; SIGTERM works
the same. Run as the test's uid (nobody when root: the root path only adds
the postie user and runs the same steps as it)."""
import os, poplib, re, signal, smtplib, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

need = missing()
if need:
    for c in ("makerun-banner", "makerun-mail", "makerun-sigint", "makerun-reuse", "makerun-sigterm"):
        skip(c, "missing programs: " + " ".join(need))
    done()

base = scratch("makerun")
inst = os.path.join(base, "run")
ports = (free_port(), free_port(), free_port(), free_port(), free_port())
iports = (free_port(), free_port())
env = dict(os.environ, POSTIE_RUN_DIR=inst, POSTIE_PORTS="%d,%d,%d,%d,%d" % ports, POSTIE_IMAP_PORTS="%d,%d" % iports)
build = os.path.relpath(BUILD, TOP)


def start():
    p = subprocess.Popen(RUNAS + ["sh", os.path.join(TOP, "package", "run"), build], cwd=TOP, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    out = b""
    end = time.time() + 40
    while time.time() < end:
        line = p.stdout.readline()
        if not line:
            break
        out += line
        if b"Ctrl-C stops every service" in line:
            break
    return p, out.decode()


def finish(p, sig, name):
    # Ctrl-C: the terminal sends SIGINT to the whole foreground group.
    if sig == signal.SIGINT:
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    try:
        rest = p.communicate(timeout=30)[0].decode()
        check(name, p.returncode == 0 and "every service is down" in rest and not supervisors_left(inst),
              "rc=%r left=%r out=%r" % (p.returncode, supervisors_left(inst), rest[-300:]))
    except subprocess.TimeoutExpired:
        p.kill()
        check(name, False, "still running 30 s after the signal")


p, out = start()
m = re.search(r"password: (\S+)", out)
check("makerun-banner", m and ("127.0.0.1:%d" % ports[0]) in out and ("127.0.0.1:%d" % ports[2]) in out
      and "retried" in out, out)
pw = m.group(1) if m else ""
me = open(os.path.join(inst, "control", "me")).read().strip() if os.path.exists(os.path.join(inst, "control", "me")) else "localhost"
try:
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=20) as s:
        s.sendmail("me@example.org", ["demo@localhost"], "Subject: demo\r\n\r\nhello demo\r\n")
    time.sleep(0.2)
    lines = []
    for _ in range(100):
        pp = pop3_tls(inst, ports[2], me)
        pp.user("demo")
        pp.pass_(pw)
        n, _ = pp.stat()
        if n:
            lines = pp.retr(n)[1]
            pp.quit()
            break
        pp.quit()
        time.sleep(0.2)
    check("makerun-mail", b"hello demo" in lines, repr(lines))
except Exception as e:
    check("makerun-mail", False, repr(e))
# STARTTLS on submission with AUTH, and implicit TLS on submissions and
# POP3S, each verifying the instance's certificate.
try:
    with smtp_tls(inst, ports[1], me) as s:
        check("makerun-submission-auth-after-starttls", s.has_extn("auth"), repr(s.esmtp_features))
        s.login("demo", pw)
        s.sendmail("demo@localhost", ["demo@localhost"], "Subject: tls demo\r\n\r\nhello over tls\r\n")
    import ssl
    ctx = tls_context(inst)
    raw = socket.create_connection(("127.0.0.1", ports[3]), 20)
    ts = ctx.wrap_socket(raw, server_hostname=me)
    greet = ts.recv(200)
    ts.close()
    check("makerun-submissions-implicit-tls", greet.startswith(b"220 ") and ts.version() is None, greet)
    found = False
    for _ in range(100):
        raw = socket.create_connection(("127.0.0.1", ports[4]), 20)
        ts = ctx.wrap_socket(raw, server_hostname=me)
        f = ts.makefile("rb")
        f.readline()
        ts.sendall(b"USER demo\r\nPASS " + pw.encode() + b"\r\nLIST\r\n")
        f.readline(); f.readline()
        lst = []
        l = f.readline()
        while l and l != b".\r\n":
            lst.append(l)
            l = f.readline()
        ts.sendall(b"QUIT\r\n")
        ts.close()
        if len(lst) >= 3:  # the header line, and two messages
            found = True
            break
        time.sleep(0.2)
    check("makerun-pop3s", found, repr(lst))
except Exception as e:
    check("makerun-tls", False, repr(e))
# IMAP: STARTTLS on the first port, implicit TLS on the second, both
# verifying the certificate; a mail sent by SMTP shows up in IDLE.
try:
    import imaplib, ssl
    ctx = tls_context(inst)
    c = imaplib.IMAP4("127.0.0.1", iports[0], timeout=20)
    c.host = me
    c.starttls(ssl_context=ctx)
    c.login("demo", pw)
    typ, d = c.select("INBOX")
    check("makerun-imap-starttls", typ == "OK" and int(d[0]) >= 2, (typ, d))
    c.logout()

    class S(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            return self.ssl_context.wrap_socket(socket.create_connection((self.host, self.port), timeout), server_hostname=me)
    c = S("127.0.0.1", iports[1], ssl_context=ctx, timeout=30)
    c.login("demo", pw)
    typ, d = c.select("INBOX")
    n = int(d[0])
    c.send(b"i IDLE\r\n")
    c.readline()
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=20) as s:
        s.sendmail("me@example.org", ["demo@localhost"], "Subject: idle\r\n\r\nfor idle\r\n")
    l = c.readline()
    check("makerun-imaps-idle-smtp", l == b"* %d EXISTS\r\n" % (n + 1), (n, l))
    c.send(b"DONE\r\n")
    c.readline()
    c.logout()
except Exception as e:
    check("makerun-imap", False, repr(e))
finish(p, signal.SIGINT, "makerun-sigint")

p, out = start()
check("makerun-reuse", "reusing the instance" in out and ("password: " + pw) in out, out)
finish(p, signal.SIGTERM, "makerun-sigterm")
done()
