#!/usr/bin/python3
"""make run (package/run): creates the demo instance, prints the banner with
the demo user's password, serves SMTP and POP3 under s6-svscan; Ctrl-C
(SIGINT to the foreground process group) brings every service down and
returns; a second run reuses the instance and the password, and finds
every service up (the supervise/control FIFOs the first run left must not
be taken for running supervisors); SIGTERM works the same. Run as the test's uid (nobody when root: the root path only adds
the postie user and runs the same steps as it; that path is run too, as
root with a private copy of /etc, so that the user it adds goes away with
the test)."""
import os, poplib, re, signal, smtplib, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

need = missing()
if need:
    for c in ("makerun-banner", "makerun-mail", "makerun-sigint", "makerun-reuse", "makerun-sigterm",
              "makerun-reuse-all-up", "makerun-pop3-oneliner-empty", "makerun-banner-postie-qstat",
              "makerun-banner-postie-qread", "makerun-pop3-oneliner"):
        skip(c, "missing programs: " + " ".join(need))
    done()

base = scratch("makerun")
inst = os.path.join(base, "run")
ports = (free_port(), free_port(), free_port(), free_port(), free_port())
iports = (free_port(), free_port())
env = dict(os.environ, POSTIE_RUN_DIR=inst, POSTIE_PORTS="%d,%d,%d,%d,%d" % ports, POSTIE_IMAP_PORTS="%d,%d" % iports)
build = os.path.relpath(BUILD, TOP)


def start(argv=None, penv=None):
    """package/run (or argv), until its banner's last line."""
    p = subprocess.Popen(argv or RUNAS + ["sh", os.path.join(TOP, "package", "run"), build], cwd=TOP,
                         env=penv or env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
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
        return rest
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        check(name, False, "still running 30 s after the signal")
        return ""


p, out = start()
m = re.search(r"password: (\S+)", out)
check("makerun-banner", m and ("127.0.0.1:%d" % ports[0]) in out and ("127.0.0.1:%d" % ports[2]) in out
      and "retried" in out, out)
pw = m.group(1) if m else ""
me = open(os.path.join(inst, "control", "me")).read().strip() if os.path.exists(os.path.join(inst, "control", "me")) else "localhost"


def banner_cmd(prefix):
    """The banner's command line that starts with prefix, run by sh."""
    for l in out.splitlines():
        if l.strip().startswith(prefix):
            return subprocess.run(["sh", "-c", l.strip()], capture_output=True, text=True, timeout=30)
    return None


# The banner's POP3 one-liner on the empty mailbox, and its queue commands
# (full paths, POSTIE_HOME given).
r = banner_cmd("python3 -c")
check("makerun-pop3-oneliner-empty", r and r.returncode == 0 and "no mail yet" in r.stdout,
      r and (r.stdout + r.stderr))
for q in ("postie-qstat", "postie-qread"):
    r = banner_cmd("POSTIE_HOME=%s %s" % (inst, os.path.join(BUILD, "bin", q)))
    check("makerun-banner-" + q, r and r.returncode == 0, r and r.stderr)
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
    r = banner_cmd("python3 -c")
    check("makerun-pop3-oneliner", r and r.returncode == 0 and "hello demo" in r.stdout, r and r.stderr)
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
# The banner comes once every service is up: give a warning the time to
# follow it, then stop.
time.sleep(1)
rest = finish(p, signal.SIGTERM, "makerun-sigterm")
check("makerun-reuse-all-up", "not up yet" not in out + rest, out + rest)

# As root (the README's way): package/run adds the user postie and runs
# the instance as it; twice, the second reusing it. In a private mount
# namespace with a copy of /etc (useradd) and an empty /var/log.
if os.getuid() == 0:
    etc, varlog = os.path.join(base, "etc"), os.path.join(base, "varlog")
    cp = subprocess.run(["cp", "-a", "/etc", etc], capture_output=True)
    os.mkdir(varlog)
    rinst = os.path.join(base, "rootrun")
    renv = dict(env, POSTIE_RUN_DIR=rinst)
    ns = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
          'mount --bind "$0" /etc && mount --bind "$1" /var/log && exec sh "$2" "$3"',
          etc, varlog, os.path.join(TOP, "package", "run"), build]

    for n, what in ((1, "created the instance"), (2, "reusing the instance")):
        p, out = start(ns, renv)
        time.sleep(1)
        rest = finish(p, signal.SIGTERM, "makerun-root-%d-stop" % n)
        check("makerun-root-%d-all-up" % n, cp.returncode == 0 and what in out and "running as the user postie" in out
              and "not up yet" not in out + rest, out + rest)
done()
