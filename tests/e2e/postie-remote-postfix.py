#!/usr/bin/python3
"""postie-remote's TLS and AUTH against a real Postfix (Debian's
package) as the next server: a private instance on loopback (its own
configuration, queue and log in a scratch directory (tests/lib/postfixtest.py), no DNS,
127.0.0.1 only), started and stopped here.

- STARTTLS offered: postie-remote delivers inside TLS, and Postfix's log
  shows the TLS connection;
- a route that requires TLS (tls=encrypt) to a Postfix without STARTTLS
  defers, saying why;
- tls=verify against the right CA file delivers, against another defers;
- a smarthost route with auth= delivers through a submission port that
  requires AUTH over TLS (cyrus SASL, a sasldb made with saslpasswd2),
  and wrong credentials defer."""
import os, pwd, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from remotetest import run_remote, letters, well_formed, set_control
from tlstest import make_cert
from poptest import public_tmp
import postfixtest

why = postfixtest.available() or (None if shutil.which("saslpasswd2") else "no saslpasswd2 (sasl2-bin): package/deps --test")
if why:
    skip("postfix", why)
    done()

home = mkinstance(tmpdir("remote-postfix"))
ctl = os.path.join(home, "control")
# Postfix's own uid must reach its files: not under the test's private
# directory; removed at the end
pf = public_tmp("remote-postfix")
os.chmod(pf, 0o755)
conf = os.path.join(pf, "etc")
cert = make_cert(os.path.join(pf, "cert"), name="localhost")
othercert = make_cert(os.path.join(pf, "other"), name="localhost")
for d in ("cert", "cert/tls", "other", "other/tls"):
    os.chmod(os.path.join(pf, d), 0o755)
key = os.path.join(pf, "cert", "tls", "key.pem")
os.chown(key, pwd.getpwnam("postfix").pw_uid, -1)
P_TLS, P_CLEAR, P_SUB = free_port(), free_port(), free_port()
while P_CLEAR == P_TLS:
    P_CLEAR = free_port()
while P_SUB in (P_TLS, P_CLEAR):
    P_SUB = free_port()

# cyrus SASL for smtpd: PLAIN and LOGIN against a private sasldb (Debian's
# Postfix reads smtpd.conf from $config_directory/sasl)
sasl = os.path.join(conf, "sasl")
os.makedirs(sasl, exist_ok=True)
sasldb = os.path.join(sasl, "sasldb2")
with open(os.path.join(sasl, "smtpd.conf"), "w") as f:
    f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n" % sasldb)
subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", "example.test", "alice"], input=b"s3cret pw", check=True)
os.chown(sasldb, pwd.getpwnam("postfix").pw_uid, -1)
os.chmod(sasldb, 0o600)
os.chmod(sasl, 0o755)

# three smtpd: STARTTLS offered; none; a submission port that requires
# TLS and AUTH to relay. Whatever is accepted is discarded.
SUBOPTS = ("-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes "
           "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject "
           "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject")
master = ("127.0.0.1:%d inet n - n - - smtpd\n" % P_TLS
          + "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_security_level=none\n" % P_CLEAR
          + "127.0.0.1:%d inet n - n - - smtpd %s\n" % (P_SUB, SUBOPTS))
pfx = None
try:
    pfx = postfixtest.Postfix(pf, {
        "myhostname": "mx.example.test",
        "mydomain": "example.test",
        "mydestination": "example.test",
        "inet_interfaces": "127.0.0.1",
        "mynetworks": "127.0.0.0/8",
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
        "local_recipient_maps": "",
        "local_transport": "discard",
        "default_transport": "discard",
        "relay_transport": "discard",
        "relayhost": "",
        "append_dot_mydomain": "no",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": cert,
        "smtpd_tls_key_file": key,
        "smtpd_tls_loglevel": "1",
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
    }, master)
    started = ""
except RuntimeError as e:
    started = str(e)


def log():
    return pfx.logtext() if pfx else ""


def wait_log(pred, timeout=20):
    return pfx.wait_log(pred, timeout) if pfx else ""


def setctl(name, value):
    set_control(home, name, value)


try:
    check("postfix-started", pfx is not None and all(wait_port(p) for p in (P_TLS, P_CLEAR, P_SUB)) is not False, started)
    setctl("helohost", "client.test\n")
    MSG = b"Subject: to postfix\n\nhello Postfix\n"

    # 1. Opportunistic STARTTLS: delivered inside TLS, Postfix's log says so.
    setctl("smtproutes", "example.test:127.0.0.1:%d\n" % P_TLS)
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("may-delivered", rc == 0 and well_formed(lines, 1) and letters(lines) == "KK", repr((lines, err)))
    check("may-line-names-tls", lines and "accepted the message (TLSv1.2 ECDHE-" in lines[-1], repr(lines))
    qid = lines[-1].rsplit("queued as ", 1)[-1].strip() if lines else "?"
    t = wait_log(lambda t: "%s: to=<bob@example.test>" % qid in t)
    check("may-postfix-log-tls", "TLS connection established from unknown[127.0.0.1]: TLSv1.2 with cipher ECDHE-" in t, t[-1500:])
    check("may-postfix-log-sent", "%s: to=<bob@example.test>" % qid in t and "status=sent" in t, t[-1500:])

    # 2. tls=encrypt to a Postfix that does not offer STARTTLS: deferred.
    setctl("smtproutes", "example.test:127.0.0.1:%d tls=encrypt\n" % P_CLEAR)
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("encrypt-no-starttls-deferred", rc == 0 and letters(lines) == "UU"
          and "does not offer STARTTLS, which the route requires (tls=encrypt)" in lines[-1], repr(lines))

    # 3. tls=verify: the right CA file delivers, another defers.
    setctl("smtproutes", "example.test:localhost:%d tls=verify ca=%s\n" % (P_TLS, cert))
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("verify-delivered", letters(lines) == "KK" and "certificate verified" in lines[-1], repr(lines))
    setctl("smtproutes", "example.test:localhost:%d tls=verify ca=%s\n" % (P_TLS, othercert))
    rc, lines, err, _ = run_remote(home, "example.test", "sender@client.test", ["bob@example.test"], MSG)
    check("verify-wrong-ca-deferred", letters(lines) == "UU" and "certificate not trusted" in lines[-1], repr(lines))

    # 4. A smarthost: AUTH over TLS on a submission port that requires it,
    # relaying to a domain Postfix does not hold.
    setctl("smtpauth", "sub:alice@example.test:s3cret pw\nbad:alice@example.test:wrong\n")
    os.chmod(os.path.join(ctl, "smtpauth"), 0o600)
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s auth=sub\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("auth-delivered", letters(lines) == "KK" and "accepted the message (TLSv1.2 ECDHE-" in lines[-1], repr((lines, err)))
    qid = lines[-1].rsplit("queued as ", 1)[-1].strip() if lines else "?"
    t = wait_log(lambda t: "%s: to=<carol@far.example>" % qid in t)
    check("auth-postfix-log", "sasl_method=PLAIN, sasl_username=alice@example.test" in t and "%s: to=<carol@far.example>" % qid in t, t[-1500:])
    # without credentials, Postfix refuses to relay (so the AUTH above mattered)
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("no-auth-refused", letters(lines) == "DK" and "554 5.7.1" in lines[0] and "accepted no recipient" in lines[-1], repr(lines))
    setctl("smtproutes", ":localhost:%d tls=verify ca=%s auth=bad\n" % (P_SUB, cert))
    rc, lines, err, _ = run_remote(home, "far.example", "sender@client.test", ["carol@far.example"], MSG)
    check("auth-wrong-deferred", letters(lines) == "UU" and "said after AUTH: 535" in lines[-1], repr(lines))
finally:
    if pfx:
        pfx.stop()
    shutil.rmtree(pf, ignore_errors=True)
done()
