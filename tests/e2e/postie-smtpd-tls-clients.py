#!/usr/bin/python3
"""postie-smtpd's STARTTLS and implicit TLS with the clients postie-smtpd-tls.py
does not cover, each verifying the instance's certificate: s-nail
(OpenSSL) and mutt (GnuTLS) sending through submission with STARTTLS and
through submissions (implicit TLS), and refusing a certificate their CA
file does not vouch for; Postfix as the client (a private instance,
smtp_tls_security_level = may, relayhost [127.0.0.1]:port) delivering to
postie-smtpd on port 25's service, its log showing the TLS connection,
and relaying through postie's submission port as its smarthost (TLS at
the "secure" level, then SMTP AUTH PLAIN);
hostile handshakes after STARTTLS (garbage, a client stopping
mid-handshake, a huge record) end the session with a log line, never a
crash. The clients find the server by name (mx.test.example) in a
private /etc/hosts, in the test's own mount namespace: no DNS."""
import os, shutil, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import queued, clear_queue, file_reply
from poptest import users, public_tmp
from tcp import Server
from tlstest import make_cert, hostile_handshakes
import postfixtest

NAMES = ["s-nail-starttls", "s-nail-smtps", "s-nail-wrong-ca-refused", "mutt-starttls", "mutt-smtps",
         "mutt-wrong-ca-refused", "postfix-client-tls-log", "postfix-client-delivered",
         "postfix-smarthost-verified-tls", "postfix-smarthost-auth-delivered"]
own_mount_namespace(NAMES)

home = mkinstance(tmpdir("smtpd-tls-clients"), {"me": "mx.test.example", "rcpthosts": "local.example",
                                                 "locals": "local.example", "authfaildelay": "0"})
hosts = os.path.join(home, "hosts")
with open(hosts, "w") as f:
    f.write("127.0.0.1 localhost\n127.0.0.1 mx.test.example\n")
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
ca = make_cert(home)
# A certificate for the same name that the server does not have: a
# client given it as its CA file must refuse the server.
other = make_cert(os.path.join(home, "other"))
uhome = os.path.join(home, "alice")
os.makedirs(uhome, exist_ok=True)
rc, _, err = users(home, "add", "alice", "4242", "4242", uhome, password="s3cret pw")
check("users-add", rc == 0, err)
env = {"POSTIE_HOME": home}
SMTPD = [prog("postie-smtpd"), prog("postie-checkpassword"), "-a", "true"]
TLSD = [prog("postie-tlsd"), "-K", "1500"]
mx = Server(["-v"], "127.0.0.1", TLSD + ["-r"] + SMTPD, os.path.join(home, "mx.log"), env=env)
sub = Server(["-v"], "127.0.0.1", TLSD + ["-r"] + SMTPD, os.path.join(home, "sub.log"), env=dict(env, SMTPAUTH="required"))
subs = Server(["-v"], "127.0.0.1", TLSD + SMTPD, os.path.join(home, "subs.log"), env=dict(env, SMTPAUTH="required"))
servers = [mx, sub, subs]
pf = None
pftop = None


def received(msg):
    hdr = msg.split(b"\n\n")[0]
    return hdr.split(b"\nReceived:")[0] if hdr.startswith(b"Received:") else b""


def one_esmtpsa(q, subject):
    return (len(q) == 1 and q[0][3] == ["friend@remote.example"] and b"with ESMTPSA" in received(q[0][1])
            and b"(using TLSv1.2 with cipher ECDHE-ECDSA-" in received(q[0][1]) and subject in q[0][1])


def s_nail(url, extra, cafile):
    """s-nail sends one message through url, verifying the server's
    certificate against cafile only."""
    return subprocess.run(["s-nail", "-n", "-#", "-S", "v15-compat", "-S", "DEAD=" + os.path.join(home, "dead"),
                           "-S", "tls-ca-file=" + cafile, "-S", "tls-ca-no-defaults", "-S", "tls-verify=strict",
                           "-S", "mta=" + url, "-S", "smtp-auth=plain", "-S", "hostname=client.example",
                           "-S", "from=alice@local.example", "-S", "sendwait", "-S", "verbose"] + extra
                          + ["-s", "via s-nail", "friend@remote.example"],
                          input=b"hello from s-nail\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, HOME=home, MAILRC="/dev/null"), timeout=60)


def mutt(url, cafile):
    """mutt (GnuTLS) sends one message through url in batch mode, TLS
    forced, the certificate checked against cafile."""
    mhome = os.path.join(home, "mutt")
    os.makedirs(mhome, exist_ok=True)
    rcf = os.path.join(mhome, "muttrc")
    with open(rcf, "w") as f:
        f.write('set smtp_url="%s"\nset smtp_pass="s3cret pw"\nset smtp_authenticators="plain"\n'
                'set ssl_starttls=yes\nset ssl_force_tls=yes\nset ssl_verify_host=yes\n'
                'set ssl_ca_certificates_file="%s"\nset certificate_file="%s/certificates"\n'
                'set from="alice@local.example"\nset hostname="client.example"\nset record=""\n'
                'set tmpdir="%s"\n' % (url, cafile, mhome, mhome))
    return subprocess.run(["mutt", "-n", "-F", rcf, "-s", "via mutt", "friend@remote.example"],
                          input=b"hello from mutt\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, HOME=mhome), timeout=60)


try:
    # s-nail (OpenSSL): STARTTLS on submission, then submissions.
    for name, url, extra, srv in (("s-nail-starttls", "smtp://alice:s3cret%%20pw@mx.test.example:%d" % sub.port,
                                   ["-S", "smtp-use-starttls"], sub),
                                  ("s-nail-smtps", "smtps://alice:s3cret%%20pw@mx.test.example:%d" % subs.port, [], subs)):
        clear_queue(home)
        p = s_nail(url, extra, ca)
        out = p.stdout.decode(errors="replace")
        q = queued(home)
        check(name, p.returncode == 0 and "TLS certificate ok" in out and one_esmtpsa(q, b"Subject: via s-nail"),
              (p.returncode, out[-1500:], q and received(q[0][1])))
    clear_queue(home)
    p = s_nail("smtp://alice:s3cret%%20pw@mx.test.example:%d" % sub.port, ["-S", "smtp-use-starttls"], other)
    check("s-nail-wrong-ca-refused", p.returncode != 0 and not queued(home), p.stdout.decode(errors="replace")[-800:])

    # mutt (GnuTLS, as Debian builds it): the same two ways.
    for name, url in (("mutt-starttls", "smtp://alice@mx.test.example:%d/" % sub.port),
                      ("mutt-smtps", "smtps://alice@mx.test.example:%d/" % subs.port)):
        clear_queue(home)
        p = mutt(url, ca)
        q = queued(home)
        check(name, p.returncode == 0 and one_esmtpsa(q, b"Subject: via mutt"),
              (p.returncode, p.stdout.decode(errors="replace")[-1500:], q and received(q[0][1])))
    clear_queue(home)
    p = mutt("smtp://alice@mx.test.example:%d/" % sub.port, other)
    check("mutt-wrong-ca-refused", p.returncode != 0 and not queued(home), p.stdout.decode(errors="replace")[-800:])

    # Postfix as the client: a private instance relays everything to
    # [127.0.0.1]:mx.port, opportunistic TLS (may) with the instance's
    # certificate as its CA file, and says so in its log.
    why = postfixtest.available()
    if why:
        skip("postfix-client-tls-log", why)
        skip("postfix-client-delivered", why)
        skip("postfix-smarthost-verified-tls", why)
        skip("postfix-smarthost-auth-delivered", why)
    else:
        clear_queue(home)
        pftop = public_tmp("smtpd-tls-postfix")  # Postfix's own uid goes through it
        pfca = os.path.join(pftop, "ca.pem")
        shutil.copy(ca, pfca)
        # remote.example goes through postie's submission port instead:
        # TLS at Postfix's "secure" level (certificate and name verified),
        # then SMTP AUTH PLAIN as alice, as a Postfix using postie as its
        # smarthost would.
        nexthop = "[mx.test.example]:%d" % sub.port
        pf = postfixtest.Postfix(pftop, {
            "relayhost": "[127.0.0.1]:%d" % mx.port,
            "smtp_tls_security_level": "may",
            "smtp_tls_CAfile": pfca,
            "smtp_tls_loglevel": "1",
            "smtp_helo_name": "client.example",
            "transport_maps": "inline:{ remote.example=smtp:%s }" % nexthop,
            "smtp_tls_policy_maps": "inline:{ %s=secure }" % nexthop,
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "inline:{ { %s = alice:s3cret pw } }" % nexthop,
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
            "smtp_sasl_mechanism_filter": "plain",
        })
        p = pf.sendmail("bob@client.example", ["alice@local.example"], b"Subject: via Postfix\n\nhello from Postfix\n")
        check("postfix-sendmail", p.returncode == 0, p.stdout)
        t = pf.wait_log(lambda t: "status=" in t, timeout=60)
        tls = [l for l in t.splitlines() if "TLS connection established to 127.0.0.1[127.0.0.1]:%d" % mx.port in l]
        check("postfix-client-tls-log", tls and "TLSv1.2 with cipher ECDHE-ECDSA-" in tls[0], t[-1500:])
        q = queued(home)
        check("postfix-client-delivered", "status=sent" in t and len(q) == 1 and q[0][3] == ["alice@local.example"]
              and b"with ESMTPS " in received(q[0][1]) and b"from client.example" in received(q[0][1]),
              (t[-800:], q and received(q[0][1])))
        t = mx.wait_log(lambda t: "tls=TLSv1.2:" in t)
        check("postfix-client-session-log", "tls=TLSv1.2:ECDHE-ECDSA-" in t, t[-500:])

        clear_queue(home)
        # alice's own address: postie refuses a sender the login does not own.
        p = pf.sendmail("alice@local.example", ["friend@remote.example"], b"Subject: via Postfix and AUTH\n\nhello\n")
        check("postfix-sendmail-auth", p.returncode == 0, p.stdout)
        t = pf.wait_log(lambda t: t.count("status=") >= 2, timeout=60)
        tls = [l for l in t.splitlines() if "Verified TLS connection established to mx.test.example[127.0.0.1]:%d" % sub.port in l]
        check("postfix-smarthost-verified-tls", tls and "TLSv1.2 with cipher ECDHE-ECDSA-" in tls[0], t[-1500:])
        q = queued(home)
        check("postfix-smarthost-auth-delivered", t.count("status=sent") == 2 and len(q) == 1 and q[0][3] == ["friend@remote.example"]
              and b"with ESMTPSA" in received(q[0][1]) and b"(authenticated as alice)" in received(q[0][1]),
              (t[-800:], q and received(q[0][1])))

    # Hostile handshakes after STARTTLS, through postie-smtpd: each ends
    # the session with a log line from postie-tlsd, and postie-smtpd ends
    # without a crash (the sanitizer build reports any).
    def after_starttls():
        s = socket.create_connection(("127.0.0.1", mx.port), 10)
        f = s.makefile("rb")
        file_reply(f)
        s.sendall(b"EHLO c.example\r\n")
        file_reply(f)
        s.sendall(b"STARTTLS\r\n")
        return s, file_reply(f)

    before = mx.logtext().count("handshake failed")
    h = hostile_handshakes(after_starttls, b"EHLO garbage instead of a ClientHello\r\n" * 4)
    yes, got, _ = h["garbage"]
    check("starttls-garbage-closed", yes.startswith(b"220") and b"250" not in got, (yes, got))
    _, got, el = h["stalled"]
    check("starttls-stalled-ends", got == b"" and 1.0 < el < 8, "%r after %.1fs" % (got, el))
    _, got, _ = h["huge"]
    check("starttls-huge-record-closed", b"250" not in got, got)
    t = mx.wait_log(lambda t: t.count("handshake failed") >= before + 3 and t.count("end=tlsfailed") >= 3)
    check("starttls-hostile-logged", t.count("handshake failed") >= before + 3 and "handshake failed: handshake timed out" in t
          and "handshake failed: bad record length" in t, t[-1200:])
    check("starttls-hostile-smtpd-ends", t.count("end=tlsfailed") == 3, t[-1200:])
    check("starttls-hostile-no-crash", "signal" not in t and "exit 111" not in t, t[-1200:])
    # The service still works afterwards.
    clear_queue(home)
    p = s_nail("smtp://alice:s3cret%%20pw@mx.test.example:%d" % sub.port, ["-S", "smtp-use-starttls"], ca)
    check("after-hostile-still-serves", p.returncode == 0 and len(queued(home)) == 1, p.stdout.decode(errors="replace")[-800:])
finally:
    if pf:
        pf.stop()
    if pftop:
        shutil.rmtree(pftop, ignore_errors=True)
    for x in servers:
        x.stop()
done()
