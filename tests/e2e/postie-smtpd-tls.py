#!/usr/bin/python3
"""postie-smtpd's STARTTLS (RFC 3207) behind postie-tlsd -r, and implicit
TLS (submissions, RFC 8314) behind postie-tlsd, with real clients
verifying the instance's certificate: openssl s_client -starttls smtp,
Python's smtplib (starttls + login + send, SMTP_SSL), msmtp with its
defaults (tls on, auth on), swaks --tls and --tls-on-connect, Postfix's TLS
client (posttls-finger). AUTH is not
offered before TLS; "STARTTLS\\r\\nRSET\\r\\n" in one write never gets its
RSET answered inside TLS; EHLO and AUTH are forgotten at the switch; the
Received: line says ESMTPS/ESMTPSA with protocol and cipher; no
certificate gives 454 4.7.0."""
import base64, os, smtplib, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import queued, clear_queue, file_reply
from poptest import users
from tcp import Server, readline
from tlstest import make_cert, client_context, s_client, s_client_after

home = mkinstance(tmpdir("smtpd-tls"), {"me": "mx.test.example", "rcpthosts": "local.example",
                                        "locals": "local.example", "authfaildelay": "0"})
ca = make_cert(home)
uhome = os.path.join(home, "alice")
os.makedirs(uhome, exist_ok=True)
rc, _, err = users(home, "add", "alice", "4242", "4242", uhome, password="s3cret pw")
check("users-add", rc == 0, err)
env = {"POSTIE_HOME": home}
SMTPD = [prog("postie-smtpd"), prog("postie-checkpassword"), "-a", "true"]
mx = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + SMTPD, os.path.join(home, "mx.log"), env=env)
sub = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + SMTPD, os.path.join(home, "sub.log"),
             env=dict(env, SMTPAUTH="required"))
subs = Server(["-v"], "127.0.0.1", [prog("postie-tlsd")] + SMTPD, os.path.join(home, "subs.log"),
              env=dict(env, SMTPAUTH="required"))
servers = [mx, sub, subs]


reply = file_reply


def starttls(c, ctx):
    """smtplib's STARTTLS, verifying the server's name."""
    if sys.version_info >= (3, 12):
        c.starttls(context=ctx, server_hostname="mx.test.example")
        return
    # smtplib before 3.12 has no server_hostname: wrap by hand.
    c.docmd("STARTTLS")
    c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
    c.file = None
    c.helo_resp = c.ehlo_resp = None
    c.esmtp_features = {}
    c.does_esmtp = False


def received(msg):
    hdr = msg.split(b"\n\n")[0]
    return hdr.split(b"\nReceived:")[0] if hdr.startswith(b"Received:") else b""


try:
    ctx = client_context(ca)
    # Before TLS: STARTTLS offered, AUTH not (no AUTHCLEARTEXT), and AUTH
    # is refused with RFC 3207's reply.
    s = socket.create_connection(("127.0.0.1", sub.port), 10)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO c.example\r\n")
    e = reply(f)
    check("ehlo-offers-starttls", b"250-STARTTLS" in e, e)
    check("ehlo-no-auth-before-tls", b"AUTH" not in e, e)
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret pw") + b"\r\n")
    r = reply(f)
    check("auth-before-tls-refused", r.startswith(b"530 5.7.0 Must issue a STARTTLS"), r)
    s.sendall(b"MAIL FROM:<alice@local.example>\r\n")
    r = reply(f)
    check("submission-mail-before-auth-refused", r.startswith(b"530"), r)
    s.close()

    # Python: starttls + login + send on submission.
    clear_queue(home)
    c = smtplib.SMTP("127.0.0.1", sub.port, local_hostname="c.example", timeout=20)
    c.ehlo()
    starttls(c, ctx)
    c.ehlo()
    check("python-tls-auth-offered", c.has_extn("auth") and not c.has_extn("starttls"), c.esmtp_features)
    c.login("alice", "s3cret pw")
    c.sendmail("alice@local.example", ["friend@remote.example"], b"Subject: over TLS\r\n\r\nhello\r\n")
    c.quit()
    q = queued(home)
    check("python-starttls-login-send", len(q) == 1 and q[0][3] == ["friend@remote.example"])
    if q:
        rcv = received(q[0][1])
        check("received-esmtpsa", b"with ESMTPSA" in rcv, rcv)
        check("received-protocol-cipher", b"(using TLSv1.2 with cipher ECDHE-ECDSA-" in rcv, rcv)
    t = sub.wait_log(lambda t: "tls=TLSv1.2:" in t)
    check("session-log-tls", "auth=alice tls=TLSv1.2:ECDHE-ECDSA-" in t, t[-500:])

    # Implicit TLS (submissions): SMTP_SSL.
    clear_queue(home)
    raw = socket.create_connection(("127.0.0.1", subs.port), 20)
    ts = ctx.wrap_socket(raw, server_hostname="mx.test.example")
    c = smtplib.SMTP_SSL(local_hostname="c.example", timeout=20, context=ctx)
    c.sock = ts
    c.file = None
    code, msg = c.getreply()
    check("smtp_ssl-greeting", code == 220, msg)
    c.ehlo()
    check("smtp_ssl-no-starttls", not c.has_extn("starttls") and c.has_extn("auth"), c.esmtp_features)
    c.login("alice", "s3cret pw")
    c.sendmail("alice@local.example", ["friend@remote.example"], b"Subject: implicit\r\n\r\nhello\r\n")
    c.quit()
    q = queued(home)
    check("smtp_ssl-login-send", len(q) == 1 and b"with ESMTPSA" in received(q[0][1]), q and received(q[0][1]))

    # openssl s_client -starttls smtp on port 25's service: certificate
    # verified, then the session works inside TLS.
    clear_queue(home)
    rc, out = s_client(mx.port, ca, ["-starttls", "smtp", "-ign_eof", "-crlf"],
                       b"EHLO c.example\nMAIL FROM:<x@remote.example>\nRCPT TO:<alice@local.example>\nDATA\n"
                       b"Subject: s_client\n\nhi\n.\nQUIT\n")
    check("s_client-starttls-verified", "Verify return code: 0 (ok)" in out and "Protocol  : TLSv1.2" in out, out[-800:])
    check("s_client-session", "250 2.0.0 Ok: queued as" in out and "221 2.0.0" in out, out[-800:])
    q = queued(home)
    check("s_client-received-esmtps", len(q) == 1 and b"with ESMTPS " in received(q[0][1]), q and received(q[0][1]))

    # Plain s_client on the implicit port (submissions).
    rc, out = s_client_after(subs.port, ca, b"220 mx.test.example", b"EHLO c.example\nQUIT\n", ["-ign_eof", "-crlf"])
    check("s_client-implicit-verified", "Verify return code: 0 (ok)" in out and "220 mx.test.example" in out
          and "250-AUTH PLAIN LOGIN" in out and "STARTTLS" not in out.split("220 mx.test.example")[1], out[-800:])

    # Postfix's TLS client (posttls-finger: Postfix's own SMTP TLS code,
    # at its "secure" level: STARTTLS required, certificate and name
    # verified against the instance's CA file).
    pf = os.path.join(home, "postfix-conf")
    os.makedirs(pf, exist_ok=True)
    open(os.path.join(pf, "main.cf"), "w").close()
    p = subprocess.run(["posttls-finger", "-c", "-l", "secure", "-F", ca, "-P", "/nonexistent",
                        "[127.0.0.1]:%d" % mx.port, "mx.test.example"], env=dict(os.environ, MAIL_CONFIG=pf),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    o = p.stdout.decode(errors="replace")
    check("postfix-client-starttls", "Verified TLS connection established" in o and "TLSv1.2 with cipher ECDHE-" in o, o[-600:])

    # The STARTTLS command injection: RSET in the same write as STARTTLS.
    for name, port in (("mx", mx.port), ("submission", sub.port)):
        s = socket.create_connection(("127.0.0.1", port), 10)
        f = s.makefile("rb")
        reply(f)
        s.sendall(b"EHLO c.example\r\n")
        reply(f)
        s.sendall(b"STARTTLS\r\nRSET\r\n")
        r = f.readline()
        check("injection-%s-220" % name, r.startswith(b"220 2.0.0"), r)
        ts = ctx.wrap_socket(s, server_hostname="mx.test.example")
        ts.settimeout(3)
        ts.sendall(b"NOOP\r\n")
        got = b""
        try:
            while not got.endswith(b"\r\n") or got.count(b"\r\n") < 1:
                d = ts.recv(4096)
                if not d:
                    break
                got += d
            time.sleep(0.5)
            ts.settimeout(0.5)
            got += ts.recv(4096)
        except (socket.timeout, ssl.SSLError):
            pass
        # One reply only, to our NOOP: the RSET was thrown away.
        check("injection-%s-rset-not-answered" % name, got == b"250 2.0.0 Ok\r\n", got)
        # EHLO was forgotten: MAIL needs a new one.
        ts.settimeout(5)
        ts.sendall(b"MAIL FROM:<x@remote.example>\r\n")
        r = readline(ts)
        check("injection-%s-ehlo-forgotten" % name, r.startswith(b"503 5.5.1"), r)
        ts.sendall(b"STARTTLS\r\n")
        r = readline(ts)
        check("starttls-twice-%s" % name, r.startswith(b"503"), r)
        ts.close()

    # AUTH before STARTTLS is forgotten too (with AUTHCLEARTEXT, on mx).
    mx2 = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + SMTPD, os.path.join(home, "mx2.log"),
                 env=dict(env, AUTHCLEARTEXT="", SMTPAUTH="required"))
    servers.append(mx2)
    s = socket.create_connection(("127.0.0.1", mx2.port), 10)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO c.example\r\n")
    e = reply(f)
    check("authcleartext-offers-auth", b"AUTH PLAIN LOGIN" in e, e)
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret pw") + b"\r\n")
    r = reply(f)
    check("authcleartext-auth-ok", r.startswith(b"235"), r)
    s.sendall(b"STARTTLS\r\n")
    reply(f)
    ts = ctx.wrap_socket(s, server_hostname="mx.test.example")
    ts.settimeout(5)
    ts.sendall(b"EHLO c.example\r\n")
    e = b""
    while not e.endswith(b"250 SMTPUTF8\r\n"):
        d = ts.recv(4096)
        if not d:
            break
        e += d
    ts.sendall(b"MAIL FROM:<alice@local.example>\r\n")
    r = readline(ts)
    check("auth-forgotten-after-starttls", r.startswith(b"530"), r)
    ts.close()

    # msmtp with "auth on" (it then refuses a method that sends the
    # password in clear without TLS) and its TLS defaults (tls_starttls on,
    # certificate checked): the address, and the certificate's name to
    # check with tls_host_override.
    clear_queue(home)
    conf = os.path.join(home, "msmtprc")
    with open(conf, "w") as fh:
        fh.write("account t\nhost 127.0.0.1\ntls_host_override mx.test.example\nport %d\nfrom alice@local.example\n"
                 "auth on\ntls on\nuser alice\npassword s3cret pw\ntls_trust_file %s\ndomain client.example\n"
                 "account default : t\n" % (sub.port, ca))
    os.chmod(conf, 0o600)
    p = subprocess.run(["msmtp", "-C", conf, "friend@remote.example"], input=b"Subject: via msmtp\n\nhello\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    q = queued(home)
    check("msmtp-defaults", p.returncode == 0 and len(q) == 1 and b"with ESMTPSA" in received(q[0][1]),
          p.stdout.decode(errors="replace"))

    # swaks --tls and --tls-on-connect, verifying the certificate.
    for name, port, flag in (("swaks-tls", sub.port, "--tls"), ("swaks-tls-on-connect", subs.port, "--tls-on-connect")):
        clear_queue(home)
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--helo", "client.example", flag,
                            "--tls-verify", "--tls-ca-path", ca, "--tls-sni", "mx.test.example",
                            "--from", "alice@local.example", "--to", "friend@remote.example",
                            "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "s3cret pw",
                            "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        q = queued(home)
        check(name, p.returncode == 0 and len(q) == 1 and b"with ESMTPSA" in received(q[0][1]), out[-800:])

    # No certificate: STARTTLS is not offered, and asking gets 454 4.7.0.
    os.rename(os.path.join(home, "tls", "cert.pem"), os.path.join(home, "tls", "cert.off"))
    s = socket.create_connection(("127.0.0.1", mx.port), 10)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO c.example\r\n")
    e = reply(f)
    s.sendall(b"STARTTLS\r\n")
    r = reply(f)
    s.sendall(b"QUIT\r\n")
    reply(f)
    s.close()
    check("nocert-not-offered", b"STARTTLS" not in e and e.startswith(b"250"), e)
    check("nocert-454", r.startswith(b"454 4.7.0"), r)
    os.rename(os.path.join(home, "tls", "cert.off"), os.path.join(home, "tls", "cert.pem"))

    # The checkpassword program (and what postie-smtpd runs) gets none of
    # the UCSPI-TLS descriptors: the cleartext writer into the session is
    # postie-smtpd's alone.
    fdlog = os.path.join(home, "cp-fds")
    cp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r", prog("postie-smtpd"),
                                      os.path.join(os.path.dirname(__file__), "..", "lib", "test-checkpassword"), "true"],
                os.path.join(home, "cp.log"), env=dict(env, SMTPAUTH="required", TEST_CHECKPASSWORD_FDS=fdlog))
    servers.append(cp)
    c = smtplib.SMTP("127.0.0.1", cp.port, local_hostname="c.example", timeout=20)
    c.ehlo()
    starttls(c, ctx)
    c.ehlo()
    c.login("alice", "secret")
    c.quit()
    got = open(fdlog).read() if os.path.exists(fdlog) else ""
    check("checkpassword-ran", "SSL* fds:" in got and "\n3 " in got, got)
    check("checkpassword-no-tls-fds", not [l for l in got.splitlines() if l[:1].isdigit() and int(l.split()[0]) > 3], got)
finally:
    for x in servers:
        x.stop()
done()
