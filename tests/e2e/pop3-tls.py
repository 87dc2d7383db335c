#!/usr/bin/python3
"""postie-popup's STLS (RFC 2595) behind postie-tlsd -r, and POP3S
(implicit TLS) behind postie-tlsd, with real clients verifying the
instance's certificate: poplib.stls() and POP3_SSL, openssl s_client
-starttls pop3, fetchmail with --ssl and with STLS. CAPA lists STLS (and
USER only once TLS is on); USER/PASS before STLS are refused unless
AUTHCLEARTEXT; "STLS\\r\\nNOOP\\r\\n" in one write never gets the NOOP
answered inside TLS; after TLS, postie-pop3d serves the mailbox through
the UCSPI-TLS pipes."""
import os, poplib, shutil, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from tcp import Server, readline
from tlstest import make_cert, client_context, s_client

pub = public_tmp("pop3-tls")
sandir = san_reports_into(pub)
home = pop_instance(pub)
ca = make_cert(home, "pop.test")
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
chown_r(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
POPUP = [prog("postie-popup"), "pop.test", prog("postie-checkpassword"), prog("postie-pop3d")]
env = {"POSTIE_HOME": home}
req = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + POPUP, os.path.join(pub, "req.log"), env=env)
imp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd")] + POPUP, os.path.join(pub, "imp.log"), env=env)
ctx = client_context(ca, "pop.test")


def msg(i):
    return b"From: a@example.org\nTo: alice@example.org\nSubject: message %d\n\nhello\n" % i


try:
    for i in range(1, 3):
        deliver(md, msg(i), uid, gid)

    # Before TLS: CAPA has STLS and no USER; USER and AUTH are refused.
    c = poplib.POP3("127.0.0.1", req.port, timeout=20)
    caps = c.capa()
    check("capa-stls", "STLS" in caps and "USER" not in caps and "SASL" not in caps, caps)
    try:
        c.user("alice")
        check("user-before-stls-refused", False, "accepted")
    except poplib.error_proto as e:
        check("user-before-stls-refused", b"[AUTH] TLS required" in e.args[0], e.args[0])
    try:
        c._shortcmd("PASS alice pw")
        check("pass-before-stls-refused", False, "accepted")
    except poplib.error_proto as e:
        check("pass-before-stls-refused", b"[AUTH]" in e.args[0], e.args[0])
    # poplib.stls() with verification, then login and read.
    c.host = "pop.test"  # the name poplib checks the certificate against
    c.stls(context=ctx)
    caps = c.capa()
    check("capa-after-stls", "USER" in caps and "STLS" not in caps, caps)
    c.user("alice")
    c.pass_("alice pw")
    n, size = c.stat()
    _, lines, _ = c.retr(1)
    check("stls-login-retr", n == 2 and b"Subject: message 1" in lines, (n, lines))
    c.quit()

    # POP3_SSL on the implicit port.
    class P(poplib.POP3_SSL):
        def _create_socket(self, timeout):
            return ctx.wrap_socket(socket.create_connection((self.host, self.port), timeout), server_hostname="pop.test")
    c = P("127.0.0.1", imp.port, timeout=20, context=ctx)
    caps = c.capa()
    check("pop3s-capa", "USER" in caps and "STLS" not in caps, caps)
    c.user("alice")
    c.pass_("alice pw")
    check("pop3s-login-stat", c.stat()[0] == 2)
    c.quit()

    # openssl s_client -starttls pop3.
    rc, out = s_client(req.port, ca, ["-starttls", "pop3", "-ign_eof", "-crlf"],
                       b"USER alice\nPASS alice pw\nSTAT\nQUIT\n", name="pop.test")
    check("s_client-starttls-pop3", "Verify return code: 0 (ok)" in out and "+OK 2 " in out, out[-800:])
    rc, out = s_client(imp.port, ca, ["-ign_eof", "-crlf"], b"USER alice\nPASS alice pw\nSTAT\nQUIT\n", name="pop.test")
    check("s_client-pop3s", "Verify return code: 0 (ok)" in out and "+OK 2 " in out, out[-800:])

    # The STLS command injection: NOOP in the same write as STLS.
    s = socket.create_connection(("127.0.0.1", req.port), 10)
    readline(s)
    s.sendall(b"STLS\r\nNOOP\r\n")
    r = readline(s)
    check("injection-stls-ok", r.startswith(b"+OK Begin TLS"), r)
    try:
        ts = ctx.wrap_socket(s, server_hostname="pop.test")
        ts.settimeout(3)
        ts.sendall(b"CAPA\r\n")
        got = b""
        while not got.endswith(b"\r\n.\r\n"):
            d = ts.recv(4096)
            if not d:
                break
            got += d
        check("injection-stls-noop-not-answered", got.startswith(b"+OK capability"), got)
        ts.close()
    except (ssl.SSLError, OSError) as e:
        # The NOOP reached the TLS engine instead of a ClientHello: the
        # handshake fails, which is the other acceptable outcome.
        check("injection-stls-noop-not-answered", True)
        s.close()

    # fetchmail: --ssl (POP3S) and STLS (sslproto, certificate checked).
    fm = os.path.join(pub, "fetchmail")
    os.makedirs(fm)
    out = os.path.join(fm, "out")
    fenv = dict(os.environ, HOME=fm, FETCHMAILHOME=fm)
    for name, port, extra in (("fetchmail-ssl", imp.port, ["--ssl"]), ("fetchmail-stls", req.port, ["--sslproto", "tls1.2+"])):
        rcf = os.path.join(fm, "rc")
        with open(rcf, "w") as f:
            f.write('poll 127.0.0.1 service %d protocol pop3 auth password user "alice" password "alice pw" '
                    'mda "/bin/sh -c \'cat >> %s\'"\n' % (port, out))
        os.chmod(rcf, 0o600)
        p = subprocess.run(["fetchmail", "-f", rcf, "--nosyslog", "-k", "-a", "-v", "--sslcertck", "--sslcertfile", ca,
                            "--sslcommonname", "pop.test", "--idfile", os.path.join(fm, "ids")] + extra,
                           env=fenv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        o = p.stdout.decode(errors="replace")
        got = open(out, "rb").read() if os.path.exists(out) else b""
        # "TLS" alone would match the STLS of the CAPA listing: ask for
        # the negotiated protocol, and for STLS its upgrade line.
        tls = "SSL/TLS: using protocol TLSv1.2" in o and (name != "fetchmail-stls" or "upgrade to TLS succeeded" in o)
        check(name, p.returncode == 0 and got.count(b"Subject: message") == 2 and tls,
              "rc=%d got=%d %s" % (p.returncode, got.count(b"Subject: message"), o[-3000:]))
        os.path.exists(out) and os.unlink(out)
finally:
    req.stop()
    imp.stop()
    if SAN:
        for n in os.listdir(sandir):
            print("FAIL sanitizer: " + open(os.path.join(sandir, n), errors="replace").read()[:2000])
    shutil.rmtree(pub, ignore_errors=True)
done()
