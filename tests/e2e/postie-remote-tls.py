#!/usr/bin/python3
"""postie-remote's TLS towards the next server, against a fake server
(tests/lib/smtpfake.py) with Python's ssl on loopback, reached through
control/smtproutes: opportunistic STARTTLS and its fallback, routes that
require TLS (tls=encrypt, tls=verify with a CA file), SMTP AUTH only
inside TLS, and the TLS of every delivery in the message line."""
import base64, os, ssl, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpfake import FakeSMTP, wire
from remotetest import run_remote, letters, well_formed, set_control
from tlstest import make_cert

home = mkinstance(tmpdir("remote-tls"))
ctl = os.path.join(home, "control")


def setctl(name, value):
    set_control(home, name, value)


def server_ctx(kind="ec", name="localhost"):
    d = tmpdir("remote-tls-cert-%s-%s" % (kind, name))
    cert = make_cert(d, name=name, kind=kind)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, os.path.join(d, "tls", "key.pem"))
    return ctx, cert


MSG = b"Subject: tls\n\nhello over TLS\n.dot\n"
R2 = ["a@example.com", "b@example.com"]
setctl("helohost", "client.test\n")
ec, eccert = server_ctx("ec")
rsa, rsacert = server_ctx("rsa")
other, othercert = server_ctx("ec", "other.example")


def deliver(route, **fake):
    s = FakeSMTP(**fake)
    setctl("smtproutes", route.replace("PORT", str(s.port)) + "\n")
    rc, lines, err, _ = run_remote(home, "example.com", "sender@example.org", R2, MSG)
    ss = s.wait_sessions(1, timeout=3)
    s.stop()
    return rc, lines, err, ss


# 1. Opportunistic (no setting: tls=may): STARTTLS when offered, EHLO
# again inside TLS, the message inside TLS; the message line names it.
for kind, ctx in (("ec", ec), ("rsa", rsa)):
    rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT", tls=ctx)
    sess = ss[0] if ss else {"commands": [], "tls": None, "data": None}
    cmds = sess["commands"]
    check("may-%s-delivered" % kind, rc == 0 and well_formed(lines, 2) and letters(lines) == "KKK", repr((rc, lines, err)))
    check("may-%s-tls12-aead" % kind, sess["tls"] and sess["tls"][0] == "TLSv1.2" and sess["tls"][1].startswith("ECDHE-")
          and ("GCM" in sess["tls"][1] or "CHACHA20" in sess["tls"][1]), repr(sess["tls"]))
    check("may-%s-ehlo-again" % kind, cmds[:3] == [b"EHLO client.test", b"STARTTLS", b"EHLO client.test"], repr(cmds))
    check("may-%s-data" % kind, sess["data"] == wire(MSG), repr(sess["data"]))
    check("may-%s-logged" % kind, lines and sess["tls"] and
          ("accepted the message (TLSv1.2 %s): 250 2.0.0 queued" % sess["tls"][1]) in lines[-1], repr(lines))

# 2. No STARTTLS offered, tls=may: clear text, and the line says so.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT")
check("may-clear-delivered", letters(lines) == "KKK" and "accepted the message (no TLS): 250" in lines[-1], repr(lines))
check("may-clear-no-starttls", ss and b"STARTTLS" not in ss[0]["commands"], repr(ss))

# 3. tls=none: never STARTTLS, even when offered.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=none", tls=ec)
check("none-clear", letters(lines) == "KKK" and ss and b"STARTTLS" not in ss[0]["commands"] and ss[0]["tls"] is None, repr((lines, ss)))

# 4. tls=encrypt to a server without STARTTLS: deferred (U: the host took
# no session), with the reason; nothing of the message sent.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=encrypt")
check("encrypt-no-starttls-deferred", rc == 0 and well_formed(lines, 2) and letters(lines) == "UUU", repr(lines))
check("encrypt-no-starttls-reason", lines and "does not offer STARTTLS, which the route requires (tls=encrypt)" in lines[-1], repr(lines))
check("encrypt-no-starttls-no-mail", ss and not any(c.startswith(b"MAIL") for c in ss[0]["commands"]), repr(ss))

# 5. tls=encrypt to a server that offers it: no certificate check.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=encrypt", tls=other)
check("encrypt-delivered", letters(lines) == "KKK" and ss and ss[0]["tls"], repr((lines, err)))

# 6. A failed handshake: with tls=may, the same address again in clear
# text (as Postfix's "may"); with tls=encrypt, deferred.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT", tls=ec, tls_garbage=b"this is not TLS\r\n" * 8)
check("may-fallback-delivered", letters(lines) == "KKK" and len(ss) == 2 and ss[1]["data"] == wire(MSG)
      and b"STARTTLS" not in ss[1]["commands"], repr((lines, ss)))
check("may-fallback-logged", lines and "accepted the message (no TLS: the TLS handshake failed: " in lines[-1], repr(lines))
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=encrypt", tls=ec, tls_garbage=b"this is not TLS\r\n" * 8)
check("encrypt-bad-handshake-deferred", letters(lines) == "UUU" and "TLS handshake failed: " in lines[-1] and len(ss) == 1, repr((lines, ss)))

# 7. STARTTLS refused (454): tls=may goes on in clear, tls=encrypt defers.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT", tls=ec, starttls_reply=b"454 4.7.0 TLS not available")
check("may-refused-clear", letters(lines) == "KKK" and len(ss) == 1 and ss[0]["data"] == wire(MSG), repr((lines, ss)))
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=encrypt", tls=ec, starttls_reply=b"454 4.7.0 TLS not available")
check("encrypt-refused-deferred", letters(lines) == "UUU" and "said after STARTTLS: 454 4.7.0 TLS not available" in lines[-1], repr(lines))

# 7b. A server that sends more behind its 220 to STARTTLS (the command
# injection, the other way round): it is thrown away, never read as the
# answer to the EHLO inside TLS.
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT", tls=ec,
                             starttls_reply=b"220 2.0.0 go ahead\r\n250-injected\r\n250 SIZE 10")
check("starttls-injection-ignored", letters(lines) == "KKK" and ss and ss[0]["tls"] and ss[0]["data"] == wire(MSG)
      and ss[0]["commands"][:4] == [b"EHLO client.test", b"STARTTLS", b"EHLO client.test", b"MAIL FROM:<sender@example.org> SIZE=%d" % (len(wire(MSG)) - 3 - 1)],
      repr((lines, ss)))

# 8. tls=verify against a CA file: the right one (the server's own
# self-signed certificate, named localhost, the relay's name) delivers;
# another one, or the right one under another name, defers.
rc, lines, err, ss = deliver("example.com:localhost:PORT tls=verify ca=%s" % eccert, tls=ec)
check("verify-delivered", letters(lines) == "KKK" and "certificate verified" in lines[-1], repr((lines, err)))
rc, lines, err, ss = deliver("example.com:localhost:PORT tls=verify ca=%s" % othercert, tls=ec)
check("verify-wrong-ca-deferred", letters(lines) == "UUU" and "certificate not trusted" in lines[-1]
      and not any(s["data"] for s in ss), repr((lines, ss)))
rc, lines, err, ss = deliver("example.com:localhost:PORT tls=verify ca=%s" % othercert, tls=other)
check("verify-wrong-name-deferred", letters(lines) == "UUU" and "does not match the server name" in lines[-1], repr(lines))
# the system bundle does not know a self-signed certificate
rc, lines, err, ss = deliver("example.com:localhost:PORT tls=verify", tls=ec)
check("verify-system-bundle-deferred", letters(lines) == "UUU" and "certificate not trusted" in lines[-1], repr(lines))
# an address has no name to check
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT tls=verify ca=%s" % eccert, tls=ec)
check("verify-address-deferred", letters(lines) == "UUU" and "needs a host name" in lines[-1], repr(lines))

# 9. AUTH with the route's credentials (control/smtpauth), inside TLS
# only: PLAIN when offered, else LOGIN.
setctl("smtpauth", "# label:user:password\nrelay:user@example.org:s3cret:with:colons\n")
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay", tls=ec, auth=["LOGIN", "PLAIN"])
a = ss[0]["auth"] if ss else []
check("auth-plain-delivered", letters(lines) == "KKK", repr((lines, err)))
check("auth-plain-in-tls", len(a) == 1 and a[0][1] and a[0][0].startswith(b"AUTH PLAIN ")
      and base64.b64decode(a[0][0][11:]) == b"\0user@example.org\0s3cret:with:colons", repr(a))
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay", tls=ec, auth=["LOGIN"])
a = ss[0]["auth"] if ss else []
check("auth-login-in-tls", letters(lines) == "KKK" and len(a) == 3 and all(t for _, t in a) and a[0][0] == b"AUTH LOGIN"
      and base64.b64decode(a[1][0]) == b"user@example.org" and base64.b64decode(a[2][0]) == b"s3cret:with:colons", repr((lines, a)))
# refused credentials: this host took no session
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay", tls=ec, auth=["PLAIN"], auth_reply=b"535 5.7.8 bad credentials")
check("auth-refused-deferred", letters(lines) == "UUU" and "said after AUTH: 535 5.7.8 bad credentials" in lines[-1]
      and ss and not any(c.startswith(b"MAIL") for c in ss[0]["commands"]), repr((lines, ss)))
# a server that offers AUTH without STARTTLS never gets the credentials
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay", auth=["PLAIN", "LOGIN"])
check("auth-no-tls-deferred", letters(lines) == "UUU" and "does not offer STARTTLS, which the route requires (auth=)" in lines[-1], repr(lines))
check("auth-no-tls-never-sent", ss and not ss[0]["auth"] and not any(b"s3cret" in c or c.startswith(b"AUTH") for c in ss[0]["commands"]), repr(ss))
# nor one whose handshake fails
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay", tls=ec, auth=["PLAIN"], tls_garbage=b"garbage\r\n" * 8)
check("auth-bad-handshake-never-sent", letters(lines) == "UUU" and len(ss) == 1 and not ss[0]["auth"], repr((lines, ss)))
# credentials missing for the label: deferred before any connection
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=nosuch", tls=ec, auth=["PLAIN"])
check("auth-missing-label", letters(lines) == "ZZZ" and "control/smtpauth: no credentials" in lines[-1] and not ss, repr((lines, ss)))
# auth= with tls=may is a syntax error in the route (credentials never in clear)
rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT auth=relay tls=may", tls=ec, auth=["PLAIN"])
check("auth-tls-may-refused", letters(lines) == "ZZZ" and "control/smtproutes: syntax error" in lines[-1] and not ss, repr((lines, ss)))
setctl("smtpauth", None)

# 10. Settings that make no sense: the route is a syntax error (Z).
for bad in ("tls=maybe", "ca=/x", "tls=may tls=none", "frobnicate"):
    rc, lines, err, ss = deliver("example.com:127.0.0.1:PORT " + bad, tls=ec)
    check("bad-setting-%s" % bad.split("=")[0].split()[0], letters(lines) == "ZZZ" and "syntax error" in lines[-1], repr(lines))

done()
